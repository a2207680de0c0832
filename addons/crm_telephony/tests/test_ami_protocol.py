"The AMI wire format and the event -> call state machine, no database"
import datetime
import unittest

from trytond.modules.crm_telephony.ami_protocol import (
    AmiParser, CallTracker, ProtocolError, channel_peer, format_action)
from trytond.modules.crm_telephony.tests.ami_peer import (
    BANNER, bridge_enter, cdr, dial_begin, dial_end, encode, hangup,
    inbound_answered, inbound_attended_transfer, inbound_blind_transfer,
    inbound_missed, newchannel, outbound)

NOW = datetime.datetime(2026, 1, 5, 10, 0, 0)


def tracker():
    return CallTracker(is_extension=lambda n: n in {'101', '102', '103'},
        now=lambda: NOW)


def run(events, t=None):
    t = t or tracker()
    ops = []
    for event in events:
        ops.extend(t.feed(event))
    return ops


class AmiWireTestCase(unittest.TestCase):

    def test_parse_split_stream(self):
        "Messages split anywhere across reads are reassembled"
        data = BANNER + encode({'Response': 'Success', 'ActionID': '1',
                'Message': 'Authentication accepted'}) + encode(
            {'Event': 'FullyBooted', 'Status': 'Fully Booted'})
        parser = AmiParser()
        messages = []
        for i in range(0, len(data), 7):
            messages.extend(parser.feed(data[i:i + 7]))
        self.assertEqual(parser.banner, 'Asterisk Call Manager/5.0.1')
        self.assertEqual(messages, [
                {'Response': 'Success', 'ActionID': '1',
                    'Message': 'Authentication accepted'},
                {'Event': 'FullyBooted', 'Status': 'Fully Booted'}])

    def test_parse_value_with_colon(self):
        parser = AmiParser()
        messages = parser.feed(BANNER + b'Event: VarSet\r\n'
            b'Value: /var/spool/asterisk/monitor/a:b.wav\r\n\r\n')
        self.assertEqual(messages[0]['Value'],
            '/var/spool/asterisk/monitor/a:b.wav')

    def test_not_ami(self):
        with self.assertRaises(ProtocolError):
            AmiParser().feed(b'HTTP/1.1 200 OK\r\n')

    def test_format_action(self):
        self.assertEqual(
            format_action('Login', Username='crm', Secret='s', ActionID='1'),
            b'Action: Login\r\nUsername: crm\r\nSecret: s\r\n'
            b'ActionID: 1\r\n\r\n')
        self.assertEqual(
            format_action('Originate', Variable=['A=1', 'B=2']),
            b'Action: Originate\r\nVariable: A=1\r\nVariable: B=2\r\n\r\n')
        with self.assertRaises(ValueError):
            format_action('Login', Username='crm\r\nAction: Logoff')

    def test_channel_peer(self):
        self.assertEqual(channel_peer('PJSIP/101-0000001a'), '101')
        self.assertEqual(channel_peer('SIP/trunk-out-00000002'), 'trunk-out')
        self.assertEqual(
            channel_peer('Local/102@from-internal-00000003;2'), '102')


class CallTrackerTestCase(unittest.TestCase):

    def test_inbound_answered(self):
        ops = run(inbound_answered('+79161234567', '74951112233', '101',
                '1700.1', talk_file='/rec/1700.1.wav'))
        kinds = [k for k, _ in ops]
        self.assertEqual(kinds,
            ['start', 'ring', 'answer', 'recording', 'finish'])
        start = ops[0][1]
        self.assertEqual(start['direction'], 'incoming')
        self.assertEqual(start['number'], '+79161234567')
        self.assertEqual(start['line_number'], '74951112233')
        self.assertEqual(ops[1][1]['ringing'], '101')
        self.assertEqual(ops[2][1]['answered_by'], '101')
        self.assertEqual(ops[3][1]['recording'], '/rec/1700.1.wav')
        self.assertEqual(ops[-1][1]['result'], 'answered')
        self.assertEqual(ops[-1][1]['extension'], '101')

    def test_inbound_missed_rings_everyone(self):
        ops = run(inbound_missed('+79161234567', '74951112233',
                ['101', '102'], '1700.2'))
        self.assertEqual([k for k, _ in ops],
            ['start', 'ring', 'ring', 'finish'])
        self.assertEqual(ops[-1][1]['result'], 'missed')

    def test_outbound(self):
        ops = run(outbound('102', '84951234567', '1700.3'))
        self.assertEqual([k for k, _ in ops], ['start', 'answer', 'finish'])
        self.assertEqual(ops[0][1]['direction'], 'outgoing')
        self.assertEqual(ops[0][1]['number'], '84951234567')
        self.assertEqual(ops[0][1]['extension'], '102')
        self.assertEqual(ops[-1][1]['result'], 'answered')

    def test_outbound_busy(self):
        ops = run(outbound('102', '84951234567', '1700.4', status='BUSY'))
        self.assertEqual(ops[-1][1]['result'], 'busy')

    def test_duplicates_are_ignored(self):
        "Every event twice gives the same operations as once"
        events = inbound_answered('+79161234567', '749511', '101', '1700.5')
        doubled = [e for event in events for e in (event, dict(event))]
        self.assertEqual(run(doubled), run(events))

    def test_out_of_order_hangup(self):
        "A Hangup before the DialEnd still finishes once, answered by CDR"
        uid = '1700.6'
        trunk = ('PJSIP/trunk-x', uid, uid, '+79161234567', '')
        phone = ('PJSIP/101-x', uid + '.1', uid, '101', '')
        t = tracker()
        ops = run([
                newchannel(trunk[0], uid, uid, '+79161234567', '749511'),
                dial_begin(trunk, phone, '101'),
                hangup(phone[0], phone[1], uid, '101'),
                hangup(trunk[0], uid, uid, '+79161234567'),
                dial_end(trunk, phone, 'ANSWER'),  # late: ignored
                cdr(uid, '+79161234567', '101', trunk[0], phone[0],
                    '2026-01-05 09:59:00', '2026-01-05 09:59:10',
                    '2026-01-05 10:00:00', 60, 50, 'ANSWERED'),
                ], t)
        finishes = [d for k, d in ops if k == 'finish']
        self.assertEqual(len(finishes), 2)
        self.assertEqual(finishes[0]['result'], 'missed')
        self.assertTrue(finishes[1]['cdr'])
        self.assertEqual(finishes[1]['result'], 'answered')
        self.assertEqual(finishes[1]['billsec'], 50)
        self.assertEqual(finishes[1]['answer'],
            datetime.datetime(2026, 1, 5, 9, 59, 10))

    def test_reconnect_mid_call(self):
        "The tracker outlives the connection: later events finish it"
        t = tracker()
        events = inbound_answered('+79161234567', '749511', '101', '1700.7')
        first, second = events[:4], events[4:]
        ops = run(first, t)
        ops += run(second, t)
        self.assertEqual([k for k, _ in ops],
            ['start', 'ring', 'answer', 'finish'])

    def test_unknown_call_only_hangup(self):
        "A call seen only by its Hangup (process restarted) is finished"
        ops = run([hangup('PJSIP/trunk-y', '1700.8', '1700.8',
                    '+79161234567')])
        self.assertEqual([k for k, _ in ops], ['finish'])
        self.assertEqual(ops[0][1]['external_id'], '1700.8')

    def test_queue_bridge_answer(self):
        "A queue member answering is seen through BridgeEnter"
        uid = '1700.9'
        ops = run([
                newchannel('PJSIP/trunk-q', uid, uid, '+79161234567',
                    '749511'),
                bridge_enter('PJSIP/trunk-q', uid, uid, '+79161234567', 1),
                bridge_enter('PJSIP/103-q', uid + '.1', uid, '103', 2),
                hangup('PJSIP/103-q', uid + '.1', uid, '103'),
                hangup('PJSIP/trunk-q', uid, uid, '+79161234567'),
                ])
        self.assertEqual([k for k, _ in ops], ['start', 'answer', 'finish'])
        self.assertEqual(ops[1][1]['answered_by'], '103')

    def test_transfer(self):
        "An answered call transferred to another extension follows it"
        uid = '1700.10'
        trunk = ('PJSIP/trunk-t', uid, uid, '+79161234567', '')
        first = ('PJSIP/101-t', uid + '.1', uid, '101', '')
        second = ('PJSIP/102-t', uid + '.2', uid, '102', '')
        ops = run([
                newchannel(trunk[0], uid, uid, '+79161234567', '749511'),
                dial_begin(trunk, first, '101'),
                dial_end(trunk, first, 'ANSWER'),
                dial_begin(first, second, '102'),
                dial_end(first, second, 'ANSWER'),
                hangup(first[0], first[1], uid, '101'),
                hangup(second[0], second[1], uid, '102'),
                hangup(trunk[0], uid, uid, '+79161234567'),
                ])
        answers = [d for k, d in ops if k == 'answer']
        self.assertEqual([a['answered_by'] for a in answers], ['101', '102'])
        self.assertEqual(ops[-1][1]['extension'], '102')
        self.assertEqual(ops[-1][1]['result'], 'answered')

    def test_blind_and_attended_transfer_events(self):
        """BlindTransfer and AttendedTransfer move the call to the target;
        the consultation call between two extensions is no client call"""
        for build, kind in [(inbound_blind_transfer, 'blind'),
                (inbound_attended_transfer, 'attended')]:
            ops = run(build('+79161234567', '749511', '101', '102',
                    '1700.2'))
            transfers = [d for k, d in ops if k == 'transfer']
            self.assertEqual(len(transfers), 1, ops)
            self.assertEqual(transfers[0]['transfer'], kind)
            self.assertEqual(transfers[0]['transferred_by'], '101')
            self.assertEqual(transfers[0]['transferred_to'], '102')
            self.assertEqual({d['external_id'] for _, d in ops}, {'1700.2'})
            self.assertEqual([k for k, _ in ops].count('start'), 1)
            self.assertEqual(ops[-1][0], 'finish')
            self.assertEqual(ops[-1][1]['extension'], '102')
            self.assertEqual(ops[-1][1]['result'], 'answered')

    def test_failed_transfer_changes_nothing(self):
        events = inbound_blind_transfer('+79161234567', '749511', '101',
            '102', '1700.3')
        transfer = next(e for e in events if e['Event'] == 'BlindTransfer')
        transfer['Result'] = 'Fail'
        t = tracker()
        ops = run(events[:events.index(transfer) + 1], t)
        self.assertNotIn('transfer', [k for k, _ in ops])
        self.assertEqual(t.calls['1700.3'].extension, '101')
