"Calls through the REST methods and the connector API, in one process"
import base64
import http.server
import threading
import unittest

from trytond.modules.crm_portal.rest import RestError
from trytond.pool import Pool
from trytond.tests.test_tryton import (
    activate_module, drop_db, with_transaction)

from .tools import (
    CLIENT_PHONE, LINE_NUMBER, MP3, UNKNOWN_PHONE, rest, telephony_company)


class _TelephonyTestCase(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        drop_db()
        activate_module('crm_telephony')

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        drop_db()

    def assertRestError(self, status, name, **params):
        with self.assertRaises(RestError) as cm:
            rest(name, **params)
        self.assertEqual(cm.exception.status, status)
        return cm.exception


class CallTestCase(_TelephonyTestCase):
    "Register, finish, caller-ID, cards, tasks, recordings"

    @with_transaction()
    def test_register_known_client_and_finish(self):
        "A known number finds the contact; finish logs it on the timeline"
        Call = Pool().get('crm.telephony.call')
        with telephony_company() as env:
            result = rest('telephony.externalcall.register',
                USER_PHONE_INNER='101', PHONE_NUMBER='8 (916) 123-45-67',
                TYPE=2, LINE_NUMBER=LINE_NUMBER)
            self.assertTrue(result['CALL_ID'].startswith('externalCall.'))
            self.assertEqual(result['CRM_ENTITY_TYPE'], 'CONTACT')
            self.assertEqual(result['CRM_ENTITY_ID'], env['client'].id)
            self.assertIsNone(result['CRM_CREATED_LEAD'])

            # the same unfinished call registered again: same CALL_ID
            again = rest('telephony.externalcall.register',
                USER_PHONE_INNER='101', PHONE_NUMBER='+7 916 123 45 67',
                TYPE='2', LINE_NUMBER=LINE_NUMBER)
            self.assertEqual(again['CALL_ID'], result['CALL_ID'])
            self.assertEqual(Call.search_count([]), 1)

            finished = rest('telephony.externalcall.finish',
                CALL_ID=result['CALL_ID'], USER_ID=env['user'].id,
                DURATION=95, STATUS_CODE='200', COST='1.50',
                COST_CURRENCY='RUB')
            self.assertEqual(finished['CALL_DURATION'], 95)
            self.assertEqual(finished['CALL_FAILED_CODE'], '200')
            self.assertEqual(finished['PORTAL_USER_ID'], env['user'].id)
            call, = Call.search([])
            self.assertEqual(call.result, 'answered')
            self.assertEqual(call.employee, env['alice'])
            activity = call.activity
            self.assertEqual(activity.type, 'call')
            self.assertEqual(activity.direction, 'incoming')
            self.assertEqual(activity.party, env['client'])
            self.assertTrue(activity.done)
            self.assertEqual(str(activity.origin), str(call))
            self.assertIn(activity, env['client'].timeline)

            # a second finish is refused and changes nothing
            error = self.assertRestError(400,
                'telephony.externalcall.finish', CALL_ID=call.call_id,
                USER_ID=env['user'].id, DURATION=5, STATUS_CODE='304')
            self.assertIn(call.call_id, error.description)
            self.assertEqual(Call(call.id).result, 'answered')

    @with_transaction()
    def test_bad_input(self):
        "Malformed numbers, unknown CALL_IDs, missing users: clear errors"
        Call = Pool().get('crm.telephony.call')
        with telephony_company():
            error = self.assertRestError(400,
                'telephony.externalcall.register', USER_PHONE_INNER='101',
                PHONE_NUMBER='12ab', TYPE=2)
            self.assertIn('12ab', error.description)
            self.assertRestError(400, 'telephony.externalcall.register',
                USER_PHONE_INNER='999', PHONE_NUMBER=CLIENT_PHONE)
            self.assertRestError(400, 'telephony.externalcall.register',
                USER_PHONE_INNER='101', PHONE_NUMBER=CLIENT_PHONE, TYPE=9)
            self.assertRestError(400, 'telephony.externalcall.register',
                USER_PHONE_INNER='101', PHONE_NUMBER=CLIENT_PHONE,
                LINE_NUMBER='+74950000000')
            # finish before register
            self.assertRestError(404, 'telephony.externalcall.finish',
                CALL_ID='externalCall.nope', USER_PHONE_INNER='101',
                DURATION=10)
            self.assertRestError(400, 'telephony.externalcall.finish',
                USER_PHONE_INNER='101', DURATION=10)
            self.assertEqual(Call.search_count([]), 0)

    @with_transaction()
    def test_unknown_number_creates_lead(self):
        "CRM_CREATE makes a lead through intake; finish reassigns it"
        pool = Pool()
        Call = pool.get('crm.telephony.call')
        Submission = pool.get('crm.intake.submission')
        with telephony_company() as env:
            result = rest('telephony.externalcall.register',
                USER_PHONE_INNER='101', PHONE_NUMBER=UNKNOWN_PHONE,
                TYPE=2, CRM_CREATE=1)
            lead_id = result['CRM_CREATED_LEAD']
            self.assertTrue(lead_id)
            self.assertEqual(result['CRM_ENTITY_TYPE'], 'LEAD')
            self.assertEqual(result['CRM_CREATED_ENTITIES'],
                [{'ENTITY_TYPE': 'LEAD', 'ENTITY_ID': lead_id}])
            submission, = Submission.search([('channel', '=', 'CALL')])
            self.assertEqual(submission.opportunity.id, lead_id)
            call, = Call.search([])
            self.assertEqual(call.opportunity.contact_phone_e164,
                UNKNOWN_PHONE)
            rest('telephony.externalcall.finish', CALL_ID=call.call_id,
                USER_ID=env['other'].id, DURATION=30)
            call = Call(call.id)
            self.assertEqual(call.opportunity.employee, env['bob'])
            # the intake's timeline entry is the call's activity
            self.assertEqual(call.activity, submission.activity)
            self.assertEqual(call.activity.type, 'call')

            # the company switch off: no lead without CRM_CREATE
            found = rest('telephony.externalCall.searchCrmEntities',
                PHONE_NUMBER=UNKNOWN_PHONE)
            self.assertEqual([f['CRM_ENTITY_TYPE'] for f in found],
                ['LEAD'])

    @with_transaction()
    def test_switch_off_no_lead(self):
        Call = Pool().get('crm.telephony.call')
        with telephony_company(call_create_leads=False):
            result = rest('telephony.externalcall.register',
                USER_PHONE_INNER='101', PHONE_NUMBER=UNKNOWN_PHONE)
            self.assertIsNone(result['CRM_ENTITY_TYPE'])
            call, = Call.search([])
            self.assertIsNone(call.opportunity)

    @with_transaction()
    def test_missed_calls_one_task(self):
        "Missed calls from one number: one call-back task while it is open"
        pool = Pool()
        Call = pool.get('crm.telephony.call')
        Activity = pool.get('crm.activity')
        with telephony_company() as env:
            def missed():
                result = rest('telephony.externalcall.register',
                    USER_PHONE_INNER='102', PHONE_NUMBER=CLIENT_PHONE)
                rest('telephony.externalcall.finish',
                    CALL_ID=result['CALL_ID'], USER_PHONE_INNER='102',
                    DURATION=0, STATUS_CODE='304')
                return Call.search([('call_id', '=', result['CALL_ID'])])[0]
            first, second = missed(), missed()
            self.assertEqual(first.result, 'missed')
            tasks = Activity.search([('type', '=', 'task')])
            self.assertEqual(len(tasks), 1)
            task, = tasks
            # the client's responsible calls back, not whoever was rung
            self.assertEqual(task.responsible, env['alice'])
            self.assertEqual(task.party, env['client'])
            self.assertEqual(second.callback_task, task)
            Activity.mark_done([task])
            third = missed()
            self.assertEqual(
                Activity.search_count([('type', '=', 'task')]), 2)
            self.assertNotEqual(third.callback_task, task)

    @with_transaction()
    def test_busy_declined_no_task(self):
        Call = Pool().get('crm.telephony.call')
        Activity = Pool().get('crm.activity')
        with telephony_company():
            for code, result in [('486', 'busy'), ('603', 'declined'),
                    ('503', 'failed')]:
                call_id = rest('telephony.externalcall.register',
                    USER_PHONE_INNER='101',
                    PHONE_NUMBER=CLIENT_PHONE)['CALL_ID']
                rest('telephony.externalcall.finish', CALL_ID=call_id,
                    USER_PHONE_INNER='101', DURATION=0, STATUS_CODE=code)
                call, = Call.search([('call_id', '=', call_id)])
                self.assertEqual(call.result, result)
            self.assertEqual(
                Activity.search_count([('type', '=', 'task')]), 0)

    @with_transaction()
    def test_pbx_user(self):
        "A webhook's call is written by the PBX user, who cannot go further"
        from trytond.model.exceptions import AccessError
        from trytond.modules.crm_telephony.pbx_user import as_pbx, pbx_user
        pool = Pool()
        Call = pool.get('crm.telephony.call')
        Line = pool.get('crm.telephony.line')
        with telephony_company() as env:
            line, = Line.create([{'company': env['company'].id,
                        'number': '+74951119999', 'connector': 'webhook'}])
            with as_pbx(env['company'].id):
                call = Call.webhook_apply(Line(line.id), {
                        'event': 'call.started', 'call_id': 'x-1',
                        'from': CLIENT_PHONE})
                self.assertEqual(call.contact.id, env['client'].id)
                # its own line's secret is out of its reach
                with self.assertRaises(AccessError):
                    Line.write([Line(line.id)], {'webhook_secret': 'mine'})
            self.assertNotEqual(pbx_user(), 0)
            self.assertEqual(Call(call.id).create_uid.id, pbx_user())

    @with_transaction()
    def test_call_card(self):
        "The card shows while ringing, leaves when answered elsewhere"
        pool = Pool()
        Call = pool.get('crm.telephony.call')
        Notification = pool.get('res.notification')
        with telephony_company() as env:
            call_id = rest('telephony.externalcall.register',
                USER_PHONE_INNER='101', PHONE_NUMBER=CLIENT_PHONE,
                SHOW=1)['CALL_ID']
            rest('telephony.externalcall.show', CALL_ID=call_id,
                USER_ID=[env['other'].id])
            cards = Notification.search([])
            self.assertEqual({n.user for n in cards},
                {env['user'], env['other']})
            card = [n for n in cards if n.user == env['user']][0]
            self.assertIn(CLIENT_PHONE, card.label)
            self.assertIn("Ivan Petrov", card.label)
            self.assertEqual(card.model, 'party.party')
            self.assertEqual(card.records, '[%d]' % env['client'].id)

            call, = Call.search([])
            Call.answer([call], extension='102')
            self.assertEqual([n.user for n in Notification.search([])],
                [env['other']])
            rest('telephony.externalcall.finish', CALL_ID=call_id,
                USER_PHONE_INNER='102', DURATION=12)
            self.assertEqual(Notification.search([]), [])

            call_id = rest('telephony.externalcall.register',
                USER_PHONE_INNER='101', PHONE_NUMBER=CLIENT_PHONE,
                SHOW=1)['CALL_ID']
            rest('telephony.externalcall.hide', CALL_ID=call_id,
                USER_ID=env['user'].id)
            self.assertEqual(Notification.search([]), [])

    @with_transaction()
    def test_recording_upload(self):
        Call = Pool().get('crm.telephony.call')
        with telephony_company(call_recording_max_size=1):
            call_id = rest('telephony.externalcall.register',
                USER_PHONE_INNER='101', PHONE_NUMBER=CLIENT_PHONE)['CALL_ID']
            self.assertRestError(400, 'telephony.externalCall.attachRecord',
                CALL_ID=call_id, FILENAME='x.mp3',
                FILE_CONTENT=base64.b64encode(b'<html>hi</html>').decode())
            self.assertRestError(400, 'telephony.externalCall.attachRecord',
                CALL_ID=call_id, FILENAME='x.mp3',
                FILE_CONTENT=base64.b64encode(
                    MP3 + b'\0' * (1024 * 1024)).decode())
            self.assertRestError(400, 'telephony.externalCall.attachRecord',
                CALL_ID=call_id, FILE_CONTENT='not base64!')
            self.assertRestError(400, 'telephony.externalCall.attachRecord',
                CALL_ID=call_id, RECORD_URL='file:///etc/passwd')
            call, = Call.search([])
            self.assertIsNone(call.recording_id)
            result = rest('telephony.externalCall.attachRecord',
                CALL_ID=call_id, FILENAME='talk.mp3',
                FILE_CONTENT=base64.b64encode(MP3).decode())
            self.assertEqual(result['FILE_ID'], call.id)
            call = Call(call.id)
            self.assertEqual(call.recording, MP3)
            self.assertEqual(call.recording_name, 'talk.mp3')

    @with_transaction()
    def test_recording_fetch_and_retention(self):
        """The queue task downloads the URL, from an internal host only
        when the line allows it (SSRF); old recordings are purged"""
        import datetime
        Call = Pool().get('crm.telephony.call')
        bodies = {'/rec/a.mp3': MP3, '/rec/page.html': b'<html></html>'}

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == '/rec/moved.mp3':
                    # a public PBX sending us to the cloud metadata host
                    self.send_response(302)
                    self.send_header('Location',
                        'http://169.254.169.254/latest/meta-data')
                    self.end_headers()
                    return
                body = bodies.get(self.path)
                self.send_response(200 if body else 404)
                self.send_header('Content-Type', 'audio/mpeg'
                    if self.path.endswith('.mp3') else 'text/html')
                self.send_header('Content-Length', str(len(body or b'')))
                self.end_headers()
                self.wfile.write(body or b'')

            def log_message(self, *args):
                pass
        server = http.server.HTTPServer(('127.0.0.1', 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        base = 'http://127.0.0.1:%d' % server.server_address[1]
        try:
            with telephony_company(call_recording_retention=30):
                rest('telephony.externalcall.register',
                    USER_PHONE_INNER='101', PHONE_NUMBER=CLIENT_PHONE,
                    LINE_NUMBER=LINE_NUMBER)
                call, = Call.search([])

                def fetched(url):
                    Call.fetch_recording([call], url)
                    return Call(call.id)
                # loopback and private addresses are refused, with the
                # reason on the call (no connection to 10.x is made)
                for url, address in [
                        (base + '/rec/a.mp3', '127.0.0.1'),
                        ('http://10.1.2.3/rec/a.mp3', '10.1.2.3'),
                        ('http://[::1]:1/rec/a.mp3', '::1')]:
                    refused = fetched(url)
                    self.assertIsNone(refused.recording_id)
                    self.assertIn('internal address %s' % address,
                        refused.recording_error)
                self.assertIn('http and https', fetched(
                        'file:///etc/passwd').recording_error)
                # the administrator lists the PBX as an internal host
                line = call.line
                line.internal_hosts = 'pbx.lan, 127.0.0.1'
                line.save()
                self.assertIn('"text/html", not audio', fetched(
                        base + '/rec/page.html').recording_error)
                # a redirect is checked like the first address
                self.assertIn('internal address 169.254.169.254', fetched(
                        base + '/rec/moved.mp3').recording_error)
                call = fetched(base + '/rec/a.mp3')
                self.assertIsNone(call.recording_error)
                self.assertEqual(call.recording, MP3)
                self.assertEqual(call.recording_source, base + '/rec/a.mp3')

                Call.purge_recordings()
                self.assertTrue(Call(call.id).recording_id)
                Call.write([call], {'start': datetime.datetime.now()
                        - datetime.timedelta(days=31)})
                Call.purge_recordings()
                self.assertIsNone(Call(call.id).recording)
        finally:
            server.shutdown()
            server.server_close()

    @with_transaction()
    def test_external_lines(self):
        with telephony_company():
            line = rest('telephony.externalLine.add', NUMBER='74957770000',
                NAME="Sales")
            self.assertTrue(line['ID'])
            self.assertRestError(400, 'telephony.externalLine.add',
                NUMBER='74957770000')
            rest('telephony.externalLine.update', NUMBER='74957770000',
                NAME="Sales desk")
            lines = rest('telephony.externalLine.get')
            self.assertIn({'NUMBER': '74957770000', 'NAME': "Sales desk"},
                lines)
            self.assertTrue(rest('telephony.externalLine.delete',
                    NUMBER='74957770000'))
            self.assertRestError(404, 'telephony.externalLine.delete',
                NUMBER='74957770000')

    @with_transaction()
    def test_search_entities_and_statistic(self):
        with telephony_company() as env:
            found = rest('telephony.externalCall.searchCrmEntities',
                PHONE_NUMBER='89161234567')
            self.assertEqual(found[0]['CRM_ENTITY_TYPE'], 'CONTACT')
            self.assertEqual(found[0]['ASSIGNED_BY']['USER_PHONE_INNER'],
                '101')
            self.assertEqual(found[0]['ASSIGNED_BY_ID'], env['user'].id)
            call_id = rest('telephony.externalcall.register',
                USER_PHONE_INNER='101', PHONE_NUMBER=CLIENT_PHONE)['CALL_ID']
            rest('telephony.externalcall.finish', CALL_ID=call_id,
                USER_PHONE_INNER='101', DURATION=7)
            items, extra = rest('voximplant.statistic.get',
                FILTER={'CALL_ID': call_id})
            self.assertEqual(extra['total'], 1)
            self.assertEqual(items[0]['CALL_DURATION'], 7)

    @with_transaction()
    def test_report(self):
        "Calls per employee and day with missed share and averages"
        pool = Pool()
        Call = pool.get('crm.telephony.call')
        Report = pool.get('crm.telephony.call.report')
        with telephony_company() as env:
            for inner, duration, status in [('101', 60, '200'),
                    ('101', 0, '304'), ('101', 30, '200'),
                    ('102', 0, '304')]:
                call_id = rest('telephony.externalcall.register',
                    USER_PHONE_INNER=inner,
                    PHONE_NUMBER=CLIENT_PHONE)['CALL_ID']
                rest('telephony.externalcall.finish', CALL_ID=call_id,
                    USER_PHONE_INNER=inner, DURATION=duration,
                    STATUS_CODE=status)
            del Call
            rows = {r.employee: r for r in Report.search([])}
            alice = rows[env['alice']]
            self.assertEqual((alice.calls, alice.answered, alice.missed),
                (3, 2, 1))
            self.assertAlmostEqual(alice.missed_share, 0.3333, places=3)
            self.assertAlmostEqual(alice.talk_average, 45.0)
            self.assertEqual(rows[env['bob']].missed_share, 1.0)
