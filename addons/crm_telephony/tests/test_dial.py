"Click-to-call from forms and the webhook connector, in one process"
import json

from trytond.exceptions import UserError
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from .test_call import _TelephonyTestCase
from .tools import CLIENT_PHONE, telephony_company


def run_dial(record, number, line):
    Dial = Pool().get('crm.telephony.dial', type='wizard')
    with Transaction().set_context(active_model=record.__name__,
            active_id=record.id, active_ids=[record.id]):
        session_id, _, _ = Dial.create()
        result = Dial.execute(session_id, {}, 'start')
        defaults = result['view']['defaults']
        Dial.execute(session_id, {'start': {
                    'number': number, 'line': line.id,
                    'numbers': defaults['numbers'],
                    'company': defaults['company']}}, 'dial')
        Dial.delete(session_id)
        return defaults


class DialTestCase(_TelephonyTestCase):

    @with_transaction()
    def test_rest_line_emits_call_start(self):
        "A REST-connected PBX gets OnExternalCallStart for the click"
        pool = Pool()
        Subscription = pool.get('crm.event.subscription')
        Delivery = pool.get('crm.event.delivery')
        Call = pool.get('crm.telephony.call')
        with telephony_company() as env:
            Subscription.create([{
                        'company': env['company'].id,
                        'event': 'ONEXTERNALCALLSTART',
                        'url': 'http://127.0.0.1:9/pbx',
                        'user': env['user'].id}])
            number = env['client'].contact_mechanisms[0].value
            defaults = run_dial(env['client'], number, env['line'])
            self.assertEqual(defaults['numbers'], number)
            call, = Call.search([])
            self.assertEqual(call.direction, 'outgoing')
            self.assertEqual(call.contact, env['client'])
            self.assertEqual(call.employee, env['alice'])
            self.assertEqual(call.phone_e164, CLIENT_PHONE)
            delivery, = Delivery.search([])
            self.assertEqual(delivery.event, 'ONEXTERNALCALLSTART')
            data = json.loads(delivery.payload)['data']
            self.assertEqual(data['CALL_ID'], call.call_id)
            self.assertEqual(data['PHONE_NUMBER'], number)
            self.assertEqual(data['PHONE_NUMBER_INTERNATIONAL'],
                CLIENT_PHONE)
            self.assertEqual(data['USER_ID'], env['user'].id)
            self.assertEqual(data['CRM_ENTITY_TYPE'], 'CONTACT')
            self.assertEqual(data['LINE_NUMBER'], env['line'].number)

    @with_transaction()
    def test_ami_line_queues_originate(self):
        "An AMI line: the queue rings the employee's phone (Originate)"
        pool = Pool()
        Line = pool.get('crm.telephony.line')
        Call = pool.get('crm.telephony.call')
        Queue = pool.get('ir.queue')
        Opportunity = pool.get('sale.opportunity')
        with telephony_company() as env:
            line, = Line.create([{'company': env['company'].id,
                        'number': '74951112299', 'connector': 'ami',
                        'ami_host': '127.0.0.1', 'ami_username': 'crm'}])
            with Transaction().set_context(crm_type='lead'):
                lead, = Opportunity.create([{
                            'company': env['company'].id,
                            'crm_type': 'lead',
                            'contact_phone': '+7 903 555 0199'}])
            run_dial(lead, '+7 903 555 0199', line)
            call, = Call.search([])
            self.assertEqual(call.connector, 'click')
            self.assertEqual(call.opportunity, lead)
            task, = Queue.search([('name', '=', 'crm_telephony')])
            self.assertEqual(task.data['method'], 'originate')

            # the PBX then reports the call: the same record, not another
            Call.ami_apply(line.id, 'start', {
                    'external_id': '1900.1', 'direction': 'outgoing',
                    'number': '89035550199', 'extension': '101'})
            Call.ami_apply(line.id, 'finish', {
                    'external_id': '1900.1', 'direction': 'outgoing',
                    'number': '89035550199', 'extension': '101',
                    'result': 'answered'})
            call, = Call.search([])
            self.assertEqual(call.external_id, '1900.1')
            self.assertEqual(call.state, 'finished')

    @with_transaction()
    def test_no_extension_no_number(self):
        pool = Pool()
        Party = pool.get('party.party')
        with telephony_company() as env:
            nobody, = Party.create([{'name': "No phone"}])
            with self.assertRaises(UserError):
                run_dial(nobody, None, env['line'])
            with Transaction().set_context(employee=None):
                with self.assertRaises(UserError):
                    run_dial(env['client'],
                        env['client'].contact_mechanisms[0].value,
                        env['line'])


class WebhookApplyTestCase(_TelephonyTestCase):

    @with_transaction()
    def test_events_idempotent(self):
        "started/answered/ended with repeats give one call, one activity"
        pool = Pool()
        Call = pool.get('crm.telephony.call')
        Line = pool.get('crm.telephony.line')
        Activity = pool.get('crm.activity')
        with telephony_company() as env:
            line, = Line.create([{'company': env['company'].id,
                        'number': '74951112298', 'connector': 'webhook'}])
            events = [
                {'event': 'call.started', 'call_id': 'c1',
                    'direction': 'incoming', 'from': CLIENT_PHONE},
                {'event': 'call.answered', 'call_id': 'c1',
                    'extension': '102'},
                {'event': 'call.ended', 'call_id': 'c1', 'duration': 20},
                ]
            for event in events + events:
                Call.webhook_apply(line, event)
            call, = Call.search([])
            self.assertEqual(call.result, 'answered')
            self.assertEqual(call.employee, env['bob'])
            self.assertEqual(call.duration, 20)
            self.assertEqual(
                Activity.search_count([('type', '=', 'call')]), 1)
            # ended before started (out of order): still one call
            Call.webhook_apply(line, {'event': 'call.ended',
                    'call_id': 'c2', 'from': CLIENT_PHONE,
                    'result': 'missed'})
            self.assertEqual(Call.search_count([]), 2)
            for bad in [{'event': 'call.started'},
                    {'event': 'x', 'call_id': 'c3'},
                    {'event': 'call.ended', 'call_id': 'c4',
                        'result': 'exploded'},
                    {'event': 'call.ended', 'call_id': 'c5',
                        'duration': 'long'},
                    {'event': 'call.started', 'call_id': 'c6',
                        'direction': 'sideways'}]:
                with self.assertRaises(UserError):
                    Call.webhook_apply(line, bad)
