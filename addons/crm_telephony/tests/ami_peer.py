"""A scripted Asterisk Manager Interface peer on 127.0.0.1.

It speaks the AMI wire format as Asterisk documents it: the banner line
"Asterisk Call Manager/<version>", then "Key: Value" lines separated by
CRLF, each message ended by an empty line; actions carry an ActionID that
the Response repeats.  A script is a list of steps for each accepted
connection:

    ('expect_login', username, secret)   answer Success or Error
    ('events', [dict, ...])              send these events
    ('expect', action)                   wait for that action, answer it
    ('close',)                           drop the connection
"""
import socket
import threading

BANNER = b'Asterisk Call Manager/5.0.1\r\n'


def encode(message):
    return ''.join('%s: %s\r\n' % (k, v) for k, v in message.items()
        ).encode('utf-8') + b'\r\n'


def decode_blocks(data):
    "Split bytes into (messages, rest)"
    messages = []
    while b'\r\n\r\n' in data:
        block, data = data.split(b'\r\n\r\n', 1)
        message = {}
        for line in block.decode('utf-8').split('\r\n'):
            key, _, value = line.partition(':')
            message.setdefault(key.strip(), []).append(value.strip())
        messages.append({k: v[0] if len(v) == 1 else v
                for k, v in message.items()})
    return messages, data


class AmiPeer:
    "Serve one script per connection, in order, on a free loopback port"

    def __init__(self, scripts):
        self.scripts = list(scripts)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]
        self.received = []  # actions received, in order
        self.connections = 0
        self.done = threading.Event()  # every script has run
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            for script in self.scripts:
                conn, _ = self.sock.accept()
                self.connections += 1
                with conn:
                    self._run(conn, script)
        except OSError:
            pass
        finally:
            self.done.set()

    def _read_action(self, conn, state):
        while True:
            messages, state['rest'] = decode_blocks(state['rest'])
            state['queue'].extend(messages)
            if state['queue']:
                action = state['queue'].pop(0)
                self.received.append(action)
                return action
            data = conn.recv(65536)
            if not data:
                raise OSError("client closed")
            state['rest'] += data

    def _run(self, conn, script):
        state = {'rest': b'', 'queue': []}
        conn.sendall(BANNER)
        for step in script:
            kind = step[0]
            if kind == 'expect_login':
                action = self._read_action(conn, state)
                assert action.get('Action') == 'Login', action
                ok = (action.get('Username'), action.get('Secret')) == (
                    step[1], step[2])
                conn.sendall(encode({
                            'Response': 'Success' if ok else 'Error',
                            'ActionID': action.get('ActionID', ''),
                            'Message': 'Authentication accepted' if ok
                            else 'Authentication failed',
                            }))
                if ok:
                    conn.sendall(encode({'Event': 'FullyBooted',
                                'Privilege': 'system,all',
                                'Status': 'Fully Booted'}))
            elif kind == 'events':
                conn.sendall(b''.join(encode(e) for e in step[1]))
            elif kind == 'expect':
                action = self._read_action(conn, state)
                assert action.get('Action') == step[1], action
                conn.sendall(encode({
                            'Response': 'Success',
                            'ActionID': action.get('ActionID', ''),
                            'Message': 'Originate successfully queued'
                            if step[1] == 'Originate' else 'OK',
                            }))
            elif kind == 'close':
                return
            elif kind == 'wait':
                # keep the connection open until the client closes it
                try:
                    while True:
                        data = conn.recv(65536)
                        if not data:
                            break
                        messages, state['rest'] = decode_blocks(
                            state['rest'] + data)
                        self.received.extend(messages)
                except OSError:
                    pass
                return

    def close(self):
        self.sock.close()


# -- event builders (fields as Asterisk 16+ sends them)

def _channel(prefix, channel, uniqueid, linkedid, num, name='', exten='',
        context='from-internal', state='4', state_desc='Ring'):
    return {
        prefix + 'Channel': channel,
        prefix + 'ChannelState': state,
        prefix + 'ChannelStateDesc': state_desc,
        prefix + 'CallerIDNum': num,
        prefix + 'CallerIDName': name or '<unknown>',
        prefix + 'ConnectedLineNum': '<unknown>',
        prefix + 'ConnectedLineName': '<unknown>',
        prefix + 'Language': 'en',
        prefix + 'AccountCode': '',
        prefix + 'Context': context,
        prefix + 'Exten': exten,
        prefix + 'Priority': '1',
        prefix + 'Uniqueid': uniqueid,
        prefix + 'Linkedid': linkedid,
        }


def newchannel(channel, uniqueid, linkedid, num, exten, context='from-trunk'):
    event = {'Event': 'Newchannel', 'Privilege': 'call,all'}
    event.update(_channel('', channel, uniqueid, linkedid, num, exten=exten,
            context=context, state='0', state_desc='Down'))
    return event


def dial_begin(src, dest, dial_string):
    event = {'Event': 'DialBegin', 'Privilege': 'call,all'}
    event.update(_channel('', *src))
    event.update(_channel('Dest', *dest))
    event['DialString'] = dial_string
    return event


def dial_end(src, dest, status):
    event = {'Event': 'DialEnd', 'Privilege': 'call,all'}
    event.update(_channel('', *src))
    event.update(_channel('Dest', *dest))
    event['DialStatus'] = status
    return event


def bridge_enter(channel, uniqueid, linkedid, num, count):
    event = {'Event': 'BridgeEnter', 'Privilege': 'call,all',
        'BridgeUniqueid': 'b-' + linkedid, 'BridgeType': 'basic',
        'BridgeTechnology': 'simple_bridge', 'BridgeCreator': '<unknown>',
        'BridgeName': '<unknown>', 'BridgeNumChannels': str(count)}
    event.update(_channel('', channel, uniqueid, linkedid, num,
            state='6', state_desc='Up'))
    return event


def hangup(channel, uniqueid, linkedid, num, cause='16',
        cause_txt='Normal Clearing'):
    event = {'Event': 'Hangup', 'Privilege': 'call,all'}
    event.update(_channel('', channel, uniqueid, linkedid, num))
    event.update({'Cause': cause, 'Cause-txt': cause_txt})
    return event


def mixmonitor(channel, uniqueid, linkedid, num, filename):
    event = {'Event': 'VarSet', 'Privilege': 'dialplan,all'}
    event.update(_channel('', channel, uniqueid, linkedid, num))
    event.update({'Variable': 'MIXMONITOR_FILENAME', 'Value': filename})
    return event


def cdr(uniqueid, source, destination, channel, dest_channel, start, answer,
        end, duration, billsec, disposition):
    return {
        'Event': 'Cdr', 'Privilege': 'cdr,all', 'AccountCode': '',
        'Source': source, 'Destination': destination,
        'DestinationContext': 'from-internal',
        'CallerID': '"" <%s>' % source, 'Channel': channel,
        'DestinationChannel': dest_channel, 'LastApplication': 'Dial',
        'LastData': dest_channel, 'StartTime': start, 'AnswerTime': answer,
        'EndTime': end, 'Duration': str(duration),
        'BillableSeconds': str(billsec), 'Disposition': disposition,
        'AMAFlags': 'DOCUMENTATION', 'UniqueID': uniqueid, 'UserField': '',
        }


def blind_transfer(transferer, transferee, extension,
        context='from-internal'):
    "transferer and transferee: (channel, uniqueid, linkedid, num)"
    event = {'Event': 'BlindTransfer', 'Privilege': 'call,all',
        'Result': 'Success'}
    event.update(_channel('Transferer', *transferer, state='6',
            state_desc='Up'))
    event.update(_channel('Transferee', *transferee, state='6',
            state_desc='Up'))
    event.update({'BridgeUniqueid': 'b-' + transferee[2],
            'BridgeType': 'basic', 'IsExternal': 'No',
            'Context': context, 'Extension': extension})
    return event


def attended_transfer(orig, second, target, transferee):
    """orig: the transferer's channel talking to the client, second: its
    consultation channel, target: the colleague it consulted"""
    event = {'Event': 'AttendedTransfer', 'Privilege': 'call,all',
        'Result': 'Success'}
    for prefix, channel in [('OrigTransferer', orig),
            ('SecondTransferer', second), ('TransferTarget', target),
            ('Transferee', transferee)]:
        event.update(_channel(prefix, *channel, state='6',
                state_desc='Up'))
    event.update({'OrigBridgeUniqueid': 'b-' + orig[2],
            'SecondBridgeUniqueid': 'b-' + second[2],
            'DestType': 'Bridge', 'DestBridgeUniqueid': 'b-' + orig[2]})
    return event


# -- whole calls

def inbound_answered(caller, did, ext, uid, talk_file=None):
    "A trunk call to did, ringing extension ext, answered, hung up"
    trunk = ('PJSIP/trunk-%s' % uid, uid, uid, caller, '', did,
        'from-trunk')
    phone = ('PJSIP/%s-%s' % (ext, uid), uid + '.1', uid, ext, '', '',
        'from-internal')
    events = [
        newchannel(trunk[0], uid, uid, caller, did),
        newchannel(phone[0], uid + '.1', uid, ext, '', 'from-internal'),
        dial_begin(trunk[:5], phone[:5], ext),
        dial_end(trunk[:5], phone[:5], 'ANSWER'),
        bridge_enter(trunk[0], uid, uid, caller, 1),
        bridge_enter(phone[0], uid + '.1', uid, ext, 2),
        ]
    if talk_file:
        events.append(mixmonitor(trunk[0], uid, uid, caller, talk_file))
    events += [
        hangup(phone[0], uid + '.1', uid, ext),
        hangup(trunk[0], uid, uid, caller),
        ]
    return events


def inbound_missed(caller, did, exts, uid):
    "A trunk call ringing extensions exts, nobody answers"
    trunk = ('PJSIP/trunk-%s' % uid, uid, uid, caller, '')
    events = [newchannel(trunk[0], uid, uid, caller, did)]
    phones = []
    for index, ext in enumerate(exts):
        phone = ('PJSIP/%s-%s' % (ext, uid), '%s.%d' % (uid, index + 1),
            uid, ext, '')
        phones.append(phone)
        events.append(newchannel(phone[0], phone[1], uid, ext, '',
                'from-internal'))
        events.append(dial_begin(trunk, phone, ext))
    for phone in phones:
        events.append(dial_end(trunk, phone, 'CANCEL'))
        events.append(hangup(phone[0], phone[1], uid, phone[3], '26',
                'Answered elsewhere'))
    events.append(hangup(trunk[0], uid, uid, caller))
    return events


def outbound(ext, number, uid, status='ANSWER'):
    "Extension ext dials number through the trunk"
    phone = ('PJSIP/%s-%s' % (ext, uid), uid, uid, ext, '')
    trunk = ('PJSIP/trunk-%s' % uid, uid + '.1', uid, number, '')
    events = [
        newchannel(phone[0], uid, uid, ext, number, 'from-internal'),
        newchannel(trunk[0], uid + '.1', uid, number, '', 'from-trunk'),
        dial_begin(phone, trunk, 'trunk/' + number),
        dial_end(phone, trunk, status),
        ]
    if status == 'ANSWER':
        events += [
            bridge_enter(phone[0], uid, uid, ext, 1),
            bridge_enter(trunk[0], uid + '.1', uid, number, 2),
            ]
    events += [
        hangup(trunk[0], uid + '.1', uid, number,
            '17' if status == 'BUSY' else '16'),
        hangup(phone[0], uid, uid, ext,
            '17' if status == 'BUSY' else '16'),
        ]
    return events


def _answered_leg(trunk, phone):
    return [
        newchannel(phone[0], phone[1], phone[2], phone[3], '',
            'from-internal'),
        dial_begin(trunk, phone, phone[3]),
        dial_end(trunk, phone, 'ANSWER'),
        bridge_enter(phone[0], phone[1], phone[2], phone[3], 2),
        ]


def inbound_blind_transfer(caller, did, first, second, uid):
    "first answers, sends the call to second blind; second answers"
    trunk = ('PJSIP/trunk-%s' % uid, uid, uid, caller, '')
    one = ('PJSIP/%s-%s' % (first, uid), uid + '.1', uid, first, '')
    two = ('PJSIP/%s-%s' % (second, uid), uid + '.2', uid, second, '')
    return ([newchannel(trunk[0], uid, uid, caller, did),
            bridge_enter(trunk[0], uid, uid, caller, 1)]
        + _answered_leg(trunk, one)
        + [blind_transfer(one[:4], trunk[:4], second),
            hangup(one[0], one[1], uid, first)]
        + _answered_leg(trunk, two)
        + [hangup(two[0], two[1], uid, second),
            hangup(trunk[0], uid, uid, caller)])


def inbound_attended_transfer(caller, did, first, second, uid):
    """first answers, calls second (a consultation call of its own
    Linkedid), then joins the client to second"""
    consult = uid + '9'
    trunk = ('PJSIP/trunk-%s' % uid, uid, uid, caller, '')
    one = ('PJSIP/%s-%s' % (first, uid), uid + '.1', uid, first, '')
    out = ('PJSIP/%s-%s' % (first, consult), consult, consult, first, '')
    two = ('PJSIP/%s-%s' % (second, consult), consult + '.1', consult,
        second, '')
    return ([newchannel(trunk[0], uid, uid, caller, did),
            bridge_enter(trunk[0], uid, uid, caller, 1)]
        + _answered_leg(trunk, one)
        + [newchannel(out[0], consult, consult, first, second,
                'from-internal'),
            bridge_enter(out[0], consult, consult, first, 1)]
        + _answered_leg(out, two)
        + [attended_transfer(one[:4], out[:4], two[:4], trunk[:4]),
            hangup(one[0], one[1], uid, first),
            hangup(out[0], consult, consult, first),
            hangup(two[0], two[1], consult, second),
            hangup(trunk[0], uid, uid, caller)])
