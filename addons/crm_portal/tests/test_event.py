"Outbound webhooks: what an integration receives when CRM records change"
import datetime
import hashlib
import hmac
import http.server
import threading
import unittest
import urllib.parse

from trytond.model.exceptions import ValidationError
from trytond.modules.company.tests import create_company, set_company
from trytond.modules.crm_portal.rest import RestError
from trytond.pool import Pool
from trytond.tests.test_tryton import (
    activate_module, drop_db, with_transaction)
from trytond.transaction import Transaction


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(length)
        self.server.received.append({
                'path': self.path,
                'headers': dict(self.headers),
                'body': body,
                'form': dict(urllib.parse.parse_qsl(body.decode('ascii'))),
                })
        status = self.server.status
        answer = b'ok' if status < 300 else b'boom'
        self.send_response(status)
        self.send_header('Content-Length', str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format, *args):
        pass


class Receiver:
    "An HTTP endpoint on 127.0.0.1 that records what it is sent"

    def __init__(self):
        self.server = http.server.ThreadingHTTPServer(
            ('127.0.0.1', 0), _Handler)
        self.server.received = []
        self.server.status = 200
        self.thread = threading.Thread(
            target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path='/hook'):
        host, port = self.server.server_address
        return f'http://{host}:{port}{path}'

    @property
    def received(self):
        return self.server.received

    def answer(self, status):
        self.server.status = status

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def run_tasks():
    "Run the queued tasks in process, as trytond does without a worker"
    Queue = Pool().get('ir.queue')
    transaction = Transaction()
    while transaction.tasks:
        Queue(transaction.tasks.pop()).run()


def _subscribe(event, url, **values):
    Subscription = Pool().get('crm.event.subscription')
    subscription, = Subscription.create([dict(event=event, url=url, **values)])
    return subscription


def _deliveries(company):
    "The delivery log of company (other tests may commit theirs)"
    Delivery = Pool().get('crm.event.delivery')
    return Delivery.search(
        [('company', '=', company.id)], order=[('id', 'ASC')])


def _create_lead(**values):
    Opportunity = Pool().get('sale.opportunity')
    values.setdefault('description', "Lead")
    with Transaction().set_context(crm_type='lead'):
        lead, = Opportunity.create([values])
    return lead


class EventTestCase(unittest.TestCase):
    "Outbound webhooks"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        drop_db()
        activate_module('crm_portal')

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        drop_db()

    def setUp(self):
        super().setUp()
        self.receiver = Receiver()
        self.addCleanup(self.receiver.close)

    def assertSigned(self, request, subscription):
        expected = hmac.new(
            subscription.secret.encode(), request['body'],
            hashlib.sha256).hexdigest()
        self.assertEqual(
            request['headers'].get('X-CRM-Signature'), f'sha256={expected}')

    @with_transaction()
    def test_lead_add_update_delete(self):
        "A subscriber gets ADD, UPDATE and DELETE of leads, signed"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Delivery = pool.get('crm.event.delivery')
        transaction = Transaction()
        company = create_company()
        with set_company(company):
            subscriptions = {
                e: _subscribe(e, self.receiver.url(f'/{e}'))
                for e in ['ONCRMLEADADD', 'ONCRMLEADUPDATE',
                    'ONCRMLEADDELETE']}
            transaction.commit()

            lead = _create_lead(description="Website order")
            transaction.commit()
            run_tasks()

            request, = self.receiver.received
            form = request['form']
            self.assertEqual(request['path'], '/ONCRMLEADADD')
            self.assertEqual(form['event'], 'ONCRMLEADADD')
            self.assertEqual(form['data[FIELDS][ID]'], str(lead.id))
            self.assertEqual(
                form['auth[application_token]'],
                subscriptions['ONCRMLEADADD'].application_token)
            self.assertEqual(
                form['auth[member_id]'], transaction.database.name)
            self.assertTrue(form['auth[domain]'])
            self.assertTrue(form['ts'].isdigit())
            self.assertEqual(
                request['headers']['Content-Type'],
                'application/x-www-form-urlencoded')
            self.assertSigned(request, subscriptions['ONCRMLEADADD'])
            delivery, = Delivery.search([
                    ('subscription', '=', subscriptions['ONCRMLEADADD'].id),
                    ])
            self.assertEqual(delivery.state, 'done')
            self.assertEqual(delivery.attempts, 1)
            self.assertEqual(delivery.last_status, 200)
            self.assertTrue(delivery.done_date)

            self.receiver.received.clear()
            Opportunity.write([lead], {'description': "Website order #2"})
            transaction.commit()
            run_tasks()

            request, = self.receiver.received
            self.assertEqual(request['form']['event'], 'ONCRMLEADUPDATE')
            self.assertEqual(
                request['form']['data[FIELDS][ID]'], str(lead.id))
            self.assertSigned(request, subscriptions['ONCRMLEADUPDATE'])

            self.receiver.received.clear()
            Opportunity.cancel([lead])
            transaction.commit()
            run_tasks()
            self.receiver.received.clear()
            lead_id = lead.id
            Opportunity.delete([lead])
            transaction.commit()
            run_tasks()

            request, = self.receiver.received
            self.assertEqual(request['form']['event'], 'ONCRMLEADDELETE')
            self.assertEqual(
                request['form']['data[FIELDS][ID]'], str(lead_id))
            self.assertSigned(request, subscriptions['ONCRMLEADDELETE'])

    @with_transaction()
    def test_add_then_edit_in_same_save(self):
        "Edits in the transaction that created a record send only ADD"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        company = create_company()
        with set_company(company):
            _subscribe('ONCRMLEADADD', self.receiver.url())
            _subscribe('ONCRMLEADUPDATE', self.receiver.url())
            lead = _create_lead()
            Opportunity.write([lead], {'description': "Renamed"})
            run_tasks()

        self.assertEqual(
            [r['form']['event'] for r in self.receiver.received],
            ['ONCRMLEADADD'])

    @with_transaction()
    def test_entities(self):
        "Deals, contacts, companies and activities emit their events"
        pool = Pool()
        Party = pool.get('party.party')
        Activity = pool.get('crm.activity')
        Opportunity = pool.get('sale.opportunity')
        company = create_company()
        with set_company(company):
            for event in ['ONCRMDEALADD', 'ONCRMCONTACTADD',
                    'ONCRMCOMPANYADD', 'ONCRMACTIVITYADD']:
                _subscribe(event, self.receiver.url())
            client, = Party.create([{
                        'name': "Acme", 'crm_kind': 'organisation'}])
            person, = Party.create([{
                        'name': "Jane", 'crm_kind': 'person'}])
            with Transaction().set_context(crm_type='deal'):
                deal, = Opportunity.create([{
                            'description': "Deal", 'party': client.id}])
            activity, = Activity.create([{
                        'type': 'call', 'subject': "Call Jane",
                        'party': person.id}])
            run_tasks()

        received = {
            (r['form']['event'], r['form']['data[FIELDS][ID]'])
            for r in self.receiver.received}
        self.assertEqual(received, {
                ('ONCRMCOMPANYADD', str(client.id)),
                ('ONCRMCONTACTADD', str(person.id)),
                ('ONCRMDEALADD', str(deal.id)),
                ('ONCRMACTIVITYADD', str(activity.id)),
                })

    @with_transaction()
    def test_failure_retried_with_backoff(self):
        "A failing handler is retried later by a scheduled task, then done"
        pool = Pool()
        Delivery = pool.get('crm.event.delivery')
        Queue = pool.get('ir.queue')
        company = create_company()
        with set_company(company):
            _subscribe('ONCRMLEADADD', self.receiver.url())
            self.receiver.answer(500)
            before = datetime.datetime.now()
            lead = _create_lead()
            run_tasks()

            delivery, = _deliveries(company)
            self.assertEqual(delivery.state, 'pending')
            self.assertEqual(delivery.attempts, 1)
            self.assertEqual(delivery.last_status, 500)
            self.assertIn('500', delivery.last_error)
            self.assertGreater(
                delivery.next_attempt,
                before + datetime.timedelta(seconds=50))
            # The retry is a queue task that may only start then
            task = Queue.search([], order=[('id', 'DESC')], limit=1)[0]
            self.assertEqual(task.data['method'], 'deliver')
            self.assertEqual(list(task.data['instances']), [delivery.id])
            self.assertGreater(task.scheduled_at, before)
            # Running it early sends nothing
            self.assertEqual(len(self.receiver.received), 1)

            # Time passes; the cron re-queues the due delivery
            self.receiver.answer(200)
            Delivery.write([delivery], {
                    'next_attempt': (
                        datetime.datetime.now()
                        - datetime.timedelta(seconds=1)),
                    })
            Delivery.retry_due()
            run_tasks()

            delivery = Delivery(delivery.id)
            self.assertEqual(delivery.state, 'done')
            self.assertEqual(delivery.attempts, 2)
            self.assertEqual(delivery.last_status, 200)
            self.assertFalse(delivery.last_error)
            self.assertEqual(len(self.receiver.received), 2)
            self.assertEqual(
                self.receiver.received[-1]['form']['data[FIELDS][ID]'],
                str(lead.id))

            # A late duplicate task for a done delivery does nothing
            Delivery.deliver([delivery])
            self.assertEqual(len(self.receiver.received), 2)

    @with_transaction()
    def test_gives_up_then_manual_retry(self):
        "After the maximum attempts the delivery fails; Retry sends it again"
        pool = Pool()
        Delivery = pool.get('crm.event.delivery')
        company = create_company()
        with set_company(company):
            _subscribe(
                'ONCRMLEADADD', self.receiver.url(), max_attempts=2)
            self.receiver.answer(503)
            _create_lead()
            run_tasks()
            delivery, = _deliveries(company)
            Delivery.write([delivery], {
                    'next_attempt': datetime.datetime(2000, 1, 1)})
            Delivery.retry_due()
            run_tasks()

            delivery = Delivery(delivery.id)
            self.assertEqual(delivery.state, 'failed')
            self.assertEqual(delivery.attempts, 2)
            self.assertFalse(delivery.next_attempt)
            Delivery.retry_due()
            run_tasks()
            self.assertEqual(len(self.receiver.received), 2)

            self.receiver.answer(204)
            Delivery.retry([delivery])
            run_tasks()
            delivery = Delivery(delivery.id)
            self.assertEqual(delivery.state, 'done')
            self.assertEqual(delivery.attempts, 3)
            self.assertEqual(len(self.receiver.received), 3)

    @with_transaction()
    def test_unreachable_handler(self):
        "A handler that does not answer is an error, not a crash"
        company = create_company()
        url = self.receiver.url()
        self.receiver.close()
        with set_company(company):
            _subscribe('ONCRMLEADADD', url)
            _create_lead()
            run_tasks()
            delivery, = _deliveries(company)
            self.assertEqual(delivery.state, 'pending')
            self.assertEqual(delivery.attempts, 1)
            self.assertFalse(delivery.last_status)
            self.assertTrue(delivery.last_error)

    @with_transaction()
    def test_redirect_not_followed(self):
        "A redirect is not followed: the delivery is retried"
        company = create_company()
        with set_company(company):
            _subscribe('ONCRMLEADADD', self.receiver.url())
            self.receiver.answer(302)
            _create_lead()
            run_tasks()
            delivery, = _deliveries(company)
            self.assertEqual(delivery.state, 'pending')
            self.assertEqual(delivery.last_status, 302)
            self.assertEqual(len(self.receiver.received), 1)

    @with_transaction()
    def test_other_company(self):
        "The subscription of another company receives nothing"
        company = create_company()
        other = create_company("Other", currency=company.currency)
        with set_company(other):
            _subscribe('ONCRMLEADADD', self.receiver.url('/other'))
        with set_company(company):
            _subscribe('ONCRMLEADADD', self.receiver.url('/mine'))
            _create_lead()
            run_tasks()

        self.assertEqual(
            [r['path'] for r in self.receiver.received], ['/mine'])
        self.assertEqual(len(_deliveries(company)), 1)

    @with_transaction()
    def test_no_subscription_no_task(self):
        "Without a subscriber a save creates no delivery and no task"
        pool = Pool()
        Queue = pool.get('ir.queue')
        company = create_company()
        with set_company(company):
            _subscribe('ONCRMDEALADD', self.receiver.url())
            tasks = Queue.search([], count=True)
            _create_lead()

            self.assertEqual(Transaction().tasks, [])
            self.assertEqual(Queue.search([], count=True), tasks)
            self.assertEqual(_deliveries(company), [])

    @with_transaction()
    def test_inactive_subscription(self):
        "A deactivated subscription receives nothing"
        pool = Pool()
        Subscription = pool.get('crm.event.subscription')
        company = create_company()
        with set_company(company):
            subscription = _subscribe('ONCRMLEADADD', self.receiver.url())
            Subscription.write([subscription], {'active': False})
            _create_lead()

            self.assertEqual(Transaction().tasks, [])

    @with_transaction()
    def test_rollback_sends_nothing(self):
        "A change that is rolled back sends nothing"
        pool = Pool()
        Delivery = pool.get('crm.event.delivery')
        Queue = pool.get('ir.queue')
        transaction = Transaction()
        company = create_company()
        with set_company(company):
            subscription = _subscribe('ONCRMLEADADD', self.receiver.url())
            transaction.commit()

            lead = _create_lead()
            task_ids = list(transaction.tasks)
            self.assertEqual(len(task_ids), 1)
            transaction.rollback()
            transaction.tasks.clear()
            if pool.get('sale.opportunity').search([('id', '=', lead.id)]):
                # SQLite in memory shares one connection between nested
                # transactions: one of them committed the change.
                self.skipTest("the database did not roll back the change")

            # The worker finds no task to run and no delivery to send
            self.assertEqual(Queue.search([('id', 'in', task_ids)]), [])
            self.assertEqual(
                Delivery.search([('subscription', '=', subscription.id)]),
                [])
            self.assertEqual(self.receiver.received, [])

    @with_transaction()
    def test_subscription_credentials_and_url(self):
        "Each subscription gets its own token and secret; URLs are checked"
        pool = Pool()
        Subscription = pool.get('crm.event.subscription')
        company = create_company()
        with set_company(company):
            first = _subscribe('ONCRMLEADADD', 'https://example.com/a')
            second = _subscribe('ONCRMLEADADD', ' http://example.com/b ')
            self.assertEqual(second.url, 'http://example.com/b')
            self.assertEqual(first.user.id, Transaction().user)
            self.assertTrue(first.application_token)
            self.assertGreaterEqual(len(first.secret), 64)
            self.assertNotEqual(
                first.application_token, second.application_token)
            self.assertNotEqual(first.secret, second.secret)
            copy, = Subscription.copy([first])
            self.assertNotEqual(copy.secret, first.secret)
            self.assertNotEqual(
                copy.application_token, first.application_token)

            for url in ['ftp://example.com/', 'example.com/hook',
                    'http:///path', 'javascript:alert(1)',
                    'http://exa mple.com/']:
                with self.subTest(url=url):
                    with self.assertRaises(ValidationError) as cm:
                        _subscribe('ONCRMLEADADD', url)
                    self.assertIn('http', cm.exception.message)

    @with_transaction()
    def test_events_registry(self):
        "The events list the CRM events with a description"
        pool = Pool()
        Event = pool.get('crm.event')
        Subscription = pool.get('crm.event.subscription')
        events = Event.events()
        for entity in ['LEAD', 'DEAL', 'CONTACT', 'COMPANY', 'ACTIVITY']:
            for action in ['ADD', 'UPDATE', 'DELETE']:
                self.assertTrue(events[f'ONCRM{entity}{action}'])
        self.assertIn(
            ('ONCRMLEADADD', events['ONCRMLEADADD']),
            Subscription.get_events())

    @with_transaction()
    def test_emit_custom_data(self):
        "Other modules emit their events with their own fields"
        pool = Pool()
        Event = pool.get('crm.event')
        company = create_company()
        with set_company(company):
            _subscribe('ONCRMLEADADD', self.receiver.url())
            Event.emit('ONCRMLEADADD', {'ID': 7, 'EXTRA': ['a', 'b']})
            run_tasks()

        request, = self.receiver.received
        self.assertEqual(request['form']['data[FIELDS][ID]'], '7')
        self.assertEqual(request['form']['data[FIELDS][EXTRA][1]'], 'b')


class EventRestTestCase(unittest.TestCase):
    "event.bind, event.unbind and event.get through the REST registry"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        drop_db()
        activate_module('crm_portal')

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        drop_db()

    @with_transaction()
    def test_bind_get_unbind(self):
        "An integration binds a handler, lists it and unbinds it"
        pool = Pool()
        Rest = pool.get('crm.rest')
        Subscription = pool.get('crm.event.subscription')
        company = create_company()
        with set_company(company):
            result, _ = Rest.call('event.bind', {
                    'event': 'onCrmLeadAdd',
                    'handler': 'https://example.com/hook',
                    })
            self.assertIs(result, True)
            subscription, = Subscription.search([])
            self.assertEqual(subscription.event, 'ONCRMLEADADD')
            self.assertEqual(subscription.company, company)
            self.assertEqual(subscription.user.id, Transaction().user)

            result, _ = Rest.call('event.get', {})
            self.assertEqual(result, [{
                        'event': 'ONCRMLEADADD',
                        'handler': 'https://example.com/hook',
                        'auth_type': str(Transaction().user),
                        'offline': 0,
                        'application_token': subscription.application_token,
                        }])

            self.assertIn('ONCRMDEALUPDATE', Rest.call('events', {})[0])

            result, _ = Rest.call('event.unbind', {
                    'event': 'ONCRMLEADADD',
                    'handler': 'https://example.com/hook',
                    })
            self.assertEqual(result, {'count': 1})
            self.assertEqual(Subscription.search([]), [])
            self.assertEqual(Rest.call('event.get', {})[0], [])

    @with_transaction()
    def test_bind_bad_input(self):
        "Bad binds are refused with the parameter named; nothing is saved"
        pool = Pool()
        Rest = pool.get('crm.rest')
        Subscription = pool.get('crm.event.subscription')
        company = create_company()
        with set_company(company):
            cases = [
                ({'handler': 'https://example.com/'}, 'event'),
                ({'event': 'ONCRMLEADADD'}, 'handler'),
                ({'event': 'ONNOTHING', 'handler': 'https://example.com/'},
                    'ONNOTHING'),
                ({'event': 'ONCRMLEADADD', 'handler': 'ftp://example.com/'},
                    'ftp://example.com/'),
                ({'event': 'ONCRMLEADADD', 'handler': 'https://example.com/',
                        'auth_type': 999999}, '999999'),
                ({'event': 'ONCRMLEADADD', 'handler': 'https://example.com/',
                        'event_type': 'offline'}, 'online'),
                ]
            for params, named in cases:
                with self.subTest(params=params):
                    with self.assertRaises(RestError) as cm:
                        Rest.call('event.bind', params)
                    self.assertEqual(cm.exception.status, 400)
                    self.assertIn(named, cm.exception.description)
            self.assertEqual(Subscription.search([]), [])

            Rest.call('event.bind', {
                    'event': 'ONCRMLEADADD',
                    'handler': 'https://example.com/'})
            with self.assertRaises(RestError):
                Rest.call('event.bind', {
                        'event': 'ONCRMLEADADD',
                        'handler': 'https://example.com/'})

            with Transaction().set_context(rest_scopes=['telephony']):
                with self.assertRaises(RestError) as cm:
                    Rest.call('event.bind', {
                            'event': 'ONCRMDEALADD',
                            'handler': 'https://example.com/'})
            self.assertEqual(cm.exception.status, 403)
