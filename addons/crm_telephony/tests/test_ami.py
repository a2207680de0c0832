"The AMI connector against a scripted Asterisk peer on loopback"
import queue
import threading
import unittest

from trytond.modules.crm_telephony.ami import LineConnector, originate
from trytond.pool import Pool
from trytond.tests.test_tryton import (
    DB_NAME, activate_module, drop_db, with_transaction)

from .ami_peer import (
    AmiPeer, bridge_enter, cdr, dial_begin, dial_end, hangup,
    inbound_answered, inbound_attended_transfer, inbound_blind_transfer,
    inbound_missed, newchannel, outbound)
from .tools import CLIENT_PHONE, UNKNOWN_PHONE, telephony_company

LINE = '74951112233'


def transferred(caller, uid):
    trunk = ('PJSIP/trunk-t', uid, uid, caller, '')
    first = ('PJSIP/101-t', uid + '.1', uid, '101', '')
    second = ('PJSIP/102-t', uid + '.2', uid, '102', '')
    return [
        newchannel(trunk[0], uid, uid, caller, LINE),
        dial_begin(trunk, first, '101'),
        dial_end(trunk, first, 'ANSWER'),
        dial_begin(first, second, '102'),
        dial_end(first, second, 'ANSWER'),
        hangup(first[0], first[1], uid, '101'),
        hangup(second[0], second[1], uid, '102'),
        hangup(trunk[0], uid, uid, caller),
        ]


def queued(caller, uid):
    return [
        newchannel('PJSIP/trunk-q', uid, uid, caller, LINE),
        bridge_enter('PJSIP/trunk-q', uid, uid, caller, 1),
        bridge_enter('PJSIP/102-q', uid + '.1', uid, '102', 2),
        hangup('PJSIP/102-q', uid + '.1', uid, '102'),
        hangup('PJSIP/trunk-q', uid, uid, caller),
        ]


class AmiConnectorTestCase(unittest.TestCase):
    "Inbound, outbound, missed, transferred, queue calls; a dropped link"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        drop_db()
        activate_module('crm_telephony')

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        drop_db()

    @with_transaction()
    def test_calls_and_reconnection(self):
        """The connector's socket side runs in its thread; what it yields is
        applied here, in the test's transaction (SQLite in memory is not
        shared between threads; tests/test_telephony_ami.py runs the whole
        connector process against a server's database)."""
        a, b, c, d, e, f, g, h = ['17%02d.1' % i for i in range(8)]
        call_d = inbound_answered(UNKNOWN_PHONE, LINE, '102', d)
        peer = AmiPeer([
                [('expect_login', 'crm', 'pass'),
                    ('events', inbound_answered(CLIENT_PHONE, LINE, '101', a,
                            talk_file='/var/spool/asterisk/monitor/a.wav')),
                    ('events', inbound_missed(CLIENT_PHONE, LINE,
                            ['101', '102'], b)),
                    ('events', outbound('101', '84951234567', c)),
                    # D is answered, then the link drops mid-call
                    ('events', call_d[:4]),
                    ('close',)],
                [('expect_login', 'crm', 'pass'),
                    # a repeated Hangup of A after reconnecting
                    ('events', [inbound_answered(
                                CLIENT_PHONE, LINE, '101', a)[-1]]),
                    ('events', call_d[4:]),
                    ('events', [cdr(d, UNKNOWN_PHONE, '102',
                                'PJSIP/trunk-%s' % d, 'PJSIP/102-%s' % d,
                                '2026-01-05 10:00:00', '2026-01-05 10:00:05',
                                '2026-01-05 10:01:05', 65, 60, 'ANSWERED')]),
                    ('events', queued(CLIENT_PHONE, e)),
                    ('events', inbound_blind_transfer(
                                CLIENT_PHONE, LINE, '101', '102', g)),
                    ('events', inbound_attended_transfer(
                                CLIENT_PHONE, LINE, '101', '102', h)),
                    ('events', transferred(CLIENT_PHONE, f)),
                    ('wait',)],
                ])
        pool = Pool()
        Line = pool.get('crm.telephony.line')
        Call = pool.get('crm.telephony.call')
        Activity = pool.get('crm.activity')
        with telephony_company() as env:
            line, = Line.create([{
                        'company': env['company'].id, 'number': LINE,
                        'connector': 'ami', 'ami_host': '127.0.0.1',
                        'ami_port': peer.port, 'ami_username': 'crm',
                        'ami_secret': 'pass',
                        'default_employee': env['bob'].id}])
            ids = {k: v.id for k, v in env.items()}
            operations = queue.Queue()
            stop = threading.Event()
            connector = LineConnector(DB_NAME, line.id, stop,
                min_backoff=0.05, settings={
                    'host': '127.0.0.1', 'port': peer.port,
                    'username': 'crm', 'secret': 'pass',
                    'is_extension': lambda n: n in {'101', '102'}},
                applier=lambda kind, data: operations.put((kind, data)))
            thread = threading.Thread(target=connector.run, daemon=True)
            thread.start()
            try:
                while True:
                    kind, data = operations.get(timeout=120)
                    Call.ami_apply(line.id, kind, data)
                    if (kind, data['external_id']) == ('finish', f):
                        break
            finally:
                stop.set()
                peer.close()
                if connector.connection:
                    connector.connection.close()
                thread.join(30)
            self.assertEqual(peer.connections, 2)
            calls = {c.external_id: c for c in Call.search([])}
            # the consultation call of the attended transfer is internal
            self.assertEqual(sorted(calls),
                sorted([a, b, c, d, e, f, g, h]))
            self.assertEqual(calls[a].result, 'answered')
            self.assertEqual(calls[a].direction, 'incoming')
            self.assertEqual(calls[a].contact.id, ids['client'])
            self.assertEqual(calls[a].employee.id, ids['alice'])
            self.assertEqual(calls[a].recording_source,
                '/var/spool/asterisk/monitor/a.wav')
            self.assertEqual(calls[b].result, 'missed')
            self.assertEqual(calls[c].direction, 'outgoing')
            self.assertEqual(calls[c].phone_e164, '+74951234567')
            self.assertEqual(calls[c].employee.id, ids['alice'])
            # D completed after the reconnection, times from the CDR
            self.assertEqual(calls[d].result, 'answered')
            self.assertEqual(calls[d].employee.id, ids['bob'])
            self.assertEqual(calls[d].duration, 60)
            self.assertTrue(calls[d].opportunity)  # unknown: a lead
            self.assertEqual(calls[e].employee.id, ids['bob'])
            self.assertEqual(calls[e].result, 'answered')
            self.assertEqual(calls[f].employee.id, ids['bob'])
            self.assertEqual(calls[f].extension, '102')
            # blind and attended transfers: Bob ends up with the call,
            # Alice passed it on, the timeline says so
            for uid, kind in [(g, 'blind'), (h, 'attended')]:
                call = calls[uid]
                self.assertEqual(call.transfer, kind)
                self.assertEqual(call.transferred_by.id, ids['alice'])
                self.assertEqual(call.transferred_from, '101')
                self.assertEqual(call.employee.id, ids['bob'])
                self.assertEqual(call.extension, '102')
                self.assertEqual(call.result, 'answered')
                self.assertEqual(call.activity.responsible.id, ids['bob'])
                self.assertIn('transfer from Alice to Bob',
                    call.activity.description)
            for call in calls.values():
                self.assertEqual(call.state, 'finished')
                self.assertEqual(call.activity.type, 'call')
            # one activity per call, one task for the missed one
            self.assertEqual(Activity.search_count([('type', '=', 'call')]),
                8)
            task, = Activity.search([('type', '=', 'task')])
            self.assertEqual(task.responsible.id, ids['alice'])

    def test_originate(self):
        "Click-to-call logs in and sends Originate to ring the extension"
        peer = AmiPeer([[('expect_login', 'crm', 'pass'),
                    ('expect', 'Originate'), ('wait',)]])

        class Line:
            ami_host, ami_port = '127.0.0.1', peer.port
            ami_username, ami_secret = 'crm', 'pass'
            ami_context = 'from-internal'
        try:
            response = originate(Line, '101', '+79161234567',
                call_id='externalCall.x')
        finally:
            peer.done.wait(30)
            peer.close()
        self.assertEqual(response['Response'], 'Success')
        action = [a for a in peer.received
            if a.get('Action') == 'Originate'][0]
        self.assertEqual(action['Channel'], 'Local/101@from-internal')
        self.assertEqual(action['Exten'], '+79161234567')
        self.assertEqual(action['Variable'], 'CRM_CALL_ID=externalCall.x')
        self.assertEqual(peer.received[-1]['Action'], 'Logoff')

    def test_login_refused(self):
        "A wrong secret: the connector retries, nothing is written"
        from trytond.modules.crm_telephony.ami import AmiConnection, AmiError
        peer = AmiPeer([[('expect_login', 'crm', 'right'), ('wait',)]])
        connection = AmiConnection('127.0.0.1', peer.port)
        try:
            connection.connect()
            with self.assertRaises(AmiError):
                connection.login('crm', 'wrong')
        finally:
            connection.close()
            peer.done.wait(30)
            peer.close()
