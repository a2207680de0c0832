# Asterisk Manager Interface: the wire format and the event -> call state
# machine.  Pure Python (no database, no socket) so it is unit-testable;
# ami.py drives it over TCP and writes what it yields into the database.
"""AMI speaks text blocks over TCP: after a banner line
("Asterisk Call Manager/5.0.1"), each message is "Key: Value" lines ended
by CRLF and closed by an empty line.  Actions go from the client
(Action, ActionID...), Responses and Events come from Asterisk.

CallTracker.feed(event) returns operations for the database:

    ('start', {...})     a call appeared (direction, number, line number)
    ('ring', {...})      an extension is being rung (show the call card)
    ('answer', {...})    an extension answered (hide the other cards)
    ('recording', {...}) MixMonitor writes the call to a file
    ('transfer', {...})  an employee passed the call on (BlindTransfer,
                         AttendedTransfer): transfer, transferred_by,
                         transferred_to (extensions)
    ('finish', {...})    the call ended (result, times)

Operations are keyed by the call's Linkedid (the external id of the call),
so a repeated or late event maps to the same call and the database side
stays idempotent.
"""
import datetime

__all__ = ['AmiParser', 'format_action', 'CallTracker', 'channel_peer',
    'HANGUP_RESULTS', 'DIAL_RESULTS']

# Q.850 hangup causes that say more than "nobody answered"
HANGUP_RESULTS = {
    '17': 'busy',  # user busy
    '21': 'declined',  # call rejected
    '1': 'failed',  # unallocated number
    '34': 'failed',  # no circuit available
    '38': 'failed',  # network out of order
    }
DIAL_RESULTS = {
    'BUSY': 'busy',
    'CONGESTION': 'failed',
    'CHANUNAVAIL': 'failed',
    'NOANSWER': 'missed',
    'CANCEL': 'missed',
    }
# Events whose Uniqueid/Linkedid tie them to a call
CALL_EVENTS = {'Newchannel', 'DialBegin', 'DialEnd', 'BridgeEnter',
    'Hangup', 'Cdr', 'VarSet', 'MixMonitorStart', 'NewCallerid'}
# Transfer events name their channels with prefixes (Asterisk 12+)
TRANSFER_EVENTS = {'BlindTransfer', 'AttendedTransfer'}
MAX_LINE = 8192
MAX_BLOCK = 64 * 1024


class ProtocolError(Exception):
    "The peer does not speak AMI"


def format_action(action, **fields):
    "Encode an action block ('Key: Value' CRLF lines and an empty line)"
    lines = ['Action: %s' % action]
    for key, value in fields.items():
        if value is None:
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        for item in values:
            item = str(item)
            if '\r' in item or '\n' in item:
                raise ValueError("AMI values are single lines")
            lines.append('%s: %s' % (key, item))
    return ('\r\n'.join(lines) + '\r\n\r\n').encode('utf-8')


class AmiParser:
    "Split the byte stream of an AMI connection into banner and messages"

    def __init__(self):
        self._buffer = b''
        self.banner = None
        self._block = {}
        self._size = 0

    def feed(self, data):
        "Return the list of complete messages (dicts) in data"
        self._buffer += data
        messages = []
        while True:
            index = self._buffer.find(b'\n')
            if index < 0:
                if len(self._buffer) > MAX_LINE:
                    raise ProtocolError("line too long")
                break
            line = self._buffer[:index].rstrip(b'\r')
            self._buffer = self._buffer[index + 1:]
            text = line.decode('utf-8', 'replace')
            if self.banner is None:
                if not text.startswith('Asterisk Call Manager'):
                    raise ProtocolError("not an AMI banner: %r" % text[:80])
                self.banner = text
                continue
            if not text:
                if self._block:
                    messages.append(self._block)
                self._block, self._size = {}, 0
                continue
            self._size += len(line)
            if self._size > MAX_BLOCK:
                raise ProtocolError("message too long")
            key, sep, value = text.partition(':')
            if not sep:
                # Command output ("--END COMMAND--") has bare lines.
                self._block.setdefault('_output', []).append(text)
                continue
            key, value = key.strip(), value.strip()
            # ChanVariable and friends repeat keys: keep the first.
            self._block.setdefault(key, value)
        return messages


def channel_peer(channel):
    "The peer (usually the extension) of 'PJSIP/101-0000001a' -> '101'"
    if not channel:
        return ''
    name = channel.split('/', 1)[-1]
    if ';' in name:  # Local/101@from-internal-00000001;2
        name = name.split(';', 1)[0]
    name = name.rsplit('-', 1)[0]
    return name.split('@', 1)[0]


def _time(value):
    "Asterisk's 'YYYY-MM-DD HH:MM:SS' (Cdr) or None"
    if not value:
        return None
    try:
        return datetime.datetime.strptime(value[:19], '%Y-%m-%d %H:%M:%S')
    except ValueError:
        return None


class _Call:
    __slots__ = ('linkedid', 'direction', 'number', 'line_number',
        'extension', 'channels', 'hungup', 'answered', 'answered_by',
        'dial_result', 'cause', 'started', 'finished', 'rung', 'internal')

    def __init__(self, linkedid):
        self.linkedid = linkedid
        self.direction = None
        self.number = None
        self.line_number = None
        self.extension = None
        self.channels = set()
        self.hungup = set()
        self.answered = None
        self.answered_by = None
        self.dial_result = None
        self.cause = None
        self.started = False
        self.finished = False
        self.rung = set()
        # between two extensions (an attended transfer's consultation):
        # not a client's call
        self.internal = False


class CallTracker:
    """Turn AMI events into call operations.

    is_extension(number) tells an internal extension from an outside
    number; now() gives the time of events without their own."""

    # Finished calls are remembered so that duplicates stay no-ops.
    KEEP_FINISHED = 10000

    def __init__(self, is_extension=None, now=None):
        self.is_extension = is_extension or (
            lambda n: bool(n) and n.isdigit() and len(n) <= 5)
        self.now = now or datetime.datetime.utcnow
        self.calls = {}
        self.channels = {}  # Uniqueid -> Linkedid (Cdr has no Linkedid)
        self.finished = []

    def _call(self, event):
        uniqueid = event.get('Uniqueid') or event.get('UniqueID')
        linkedid = (event.get('Linkedid') or event.get('LinkedID')
            or self.channels.get(uniqueid) or uniqueid)
        if not linkedid:
            return None
        for channel in [uniqueid, event.get('DestUniqueid')]:
            if channel and channel not in self.channels:
                self.channels[channel] = linkedid
        call = self.calls.get(linkedid)
        if call is None:
            call = self.calls[linkedid] = _Call(linkedid)
        return call

    def feed(self, event):
        "Return the operations caused by event (a dict)"
        name = event.get('Event')
        if name in TRANSFER_EVENTS:
            if (event.get('Result') or 'Success') != 'Success':
                return []
            return getattr(self, '_on_' + name)(event)
        if name not in CALL_EVENTS:
            return []
        call = self._call(event)
        if call is None or call.internal or (
                call.finished and name != 'Cdr'):
            return []
        handler = getattr(self, '_on_' + name)
        return handler(call, event)

    # A call starts on its first channel: from an extension it is an
    # outgoing call to the dialled number, else an incoming one.
    def _start(self, call, event):
        if call.started:
            return []
        caller = event.get('CallerIDNum') or ''
        if caller == '<unknown>':
            caller = ''
        peer = channel_peer(event.get('Channel'))
        exten = event.get('Exten') or ''
        if self.is_extension(caller) or self.is_extension(peer):
            call.direction = 'outgoing'
            call.extension = caller if self.is_extension(caller) else peer
            call.number = exten if exten not in ('', 's') else None
            call.line_number = None
        else:
            call.direction = 'incoming'
            call.number = caller or None
            call.line_number = exten if exten not in ('', 's') else None
        if call.direction == 'outgoing' and self.is_extension(call.number):
            call.internal = True
            return []
        if call.direction == 'outgoing' and not call.number:
            # The number comes with DialBegin (DestCallerIDNum/DialString).
            return []
        call.started = True
        return [('start', self._data(call, start=self.now()))]

    def _data(self, call, **values):
        data = {
            'external_id': call.linkedid,
            'direction': call.direction,
            'number': call.number,
            'line_number': call.line_number,
            'extension': call.extension,
            }
        data.update(values)
        return data

    def _on_Newchannel(self, call, event):
        call.channels.add(event.get('Uniqueid'))
        if event.get('Uniqueid') == call.linkedid or not call.started:
            return self._start(call, event)
        return []

    def _on_NewCallerid(self, call, event):
        return []

    def _on_DialBegin(self, call, event):
        ops = []
        dest = event.get('DestUniqueid')
        if dest:
            call.channels.add(dest)
        target = (event.get('DestCallerIDNum') or '').replace('<unknown>', '')
        peer = channel_peer(event.get('DestChannel'))
        if not call.started:
            if call.direction is None:
                ops += self._start(call, event)
            if call.direction == 'outgoing' and not call.started:
                dialled = (event.get('DestExten') or event.get('DialString')
                    or target or '')
                dialled = dialled.rsplit('/', 1)[-1]
                if self.is_extension(dialled):
                    call.internal = True
                    return []
                call.number = dialled or None
                call.started = True
                ops.append(('start', self._data(call, start=self.now())))
        if call.direction == 'incoming':
            extension = target if self.is_extension(target) else (
                peer if self.is_extension(peer) else None)
            if extension and extension not in call.rung:
                call.rung.add(extension)
                ops.append(('ring', self._data(call, ringing=extension)))
        return ops

    def _on_DialEnd(self, call, event):
        status = (event.get('DialStatus') or '').upper()
        target = (event.get('DestCallerIDNum') or '').replace('<unknown>', '')
        peer = channel_peer(event.get('DestChannel'))
        extension = target if self.is_extension(target) else (
            peer if self.is_extension(peer) else None)
        if status == 'ANSWER':
            return self._answer(call, extension)
        if status in DIAL_RESULTS and not call.answered:
            call.dial_result = DIAL_RESULTS[status]
        return []

    def _answer(self, call, extension):
        if call.direction == 'outgoing':
            extension = call.extension
        if call.answered and extension in (None, call.answered_by):
            return []
        if not call.answered:
            call.answered = self.now()
        # a second answer by another extension is a transfer
        if extension:
            call.answered_by = extension
            call.extension = extension
        if not call.started:
            return []
        return [('answer', self._data(call, answer=call.answered,
                    answered_by=extension))]

    def _on_BridgeEnter(self, call, event):
        # Queues and pickups may bridge without a DialEnd ANSWER.
        if int(event.get('BridgeNumChannels') or 0) < 2 or call.answered:
            return []
        if call.direction == 'incoming':
            caller = event.get('CallerIDNum') or ''
            peer = channel_peer(event.get('Channel'))
            extension = caller if self.is_extension(caller) else (
                peer if self.is_extension(peer) else None)
        else:
            extension = call.extension
        return self._answer(call, extension)

    def _on_VarSet(self, call, event):
        if event.get('Variable') != 'MIXMONITOR_FILENAME':
            return []
        return self._recording(call, event.get('Value'))

    def _on_MixMonitorStart(self, call, event):
        return self._recording(call, event.get('Filename'))

    def _recording(self, call, filename):
        if not filename:
            return []
        return [('recording', self._data(call, recording=filename))]

    def _on_Hangup(self, call, event):
        uniqueid = event.get('Uniqueid')
        call.channels.add(uniqueid)
        call.hungup.add(uniqueid)
        cause = str(event.get('Cause') or '')
        if uniqueid == call.linkedid or call.cause is None:
            call.cause = cause
        if call.hungup < call.channels:
            return []
        return self._finish(call, end=self.now())

    def _result(self, call):
        if call.answered:
            return 'answered'
        if call.dial_result in {'busy', 'failed'}:
            return call.dial_result
        return HANGUP_RESULTS.get(call.cause) or 'missed'

    def _finish(self, call, **values):
        call.finished = True
        self.finished.append(call.linkedid)
        while len(self.finished) > self.KEEP_FINISHED:
            old = self.calls.pop(self.finished.pop(0), None)
            for channel in (old.channels if old else ()):
                self.channels.pop(channel, None)
        if not call.started:
            # A call whose start was lost (connection down) still ends:
            # the database finds it by its Linkedid.
            call.started = True
        return [('finish', self._data(call, result=self._result(call),
                    answer=call.answered, **values))]

    def _on_Cdr(self, call, event):
        """The call detail record has the authoritative times; after a
        reconnection it may be all that is left of a call."""
        disposition = (event.get('Disposition') or '').upper()
        start = _time(event.get('StartTime'))
        answer = _time(event.get('AnswerTime'))
        end = _time(event.get('EndTime'))
        if disposition == 'ANSWERED':
            result = 'answered'
        elif disposition == 'BUSY':
            result = 'busy'
        elif disposition == 'FAILED':
            result = 'failed'
        else:
            result = None
        if call.direction is None:
            source = event.get('Source') or ''
            destination = event.get('Destination') or ''
            if self.is_extension(source) and self.is_extension(destination):
                call.internal = True
                return []
            if self.is_extension(source):
                call.direction = 'outgoing'
                call.extension = source
                call.number = destination or None
            else:
                call.direction = 'incoming'
                call.number = source or None
                if self.is_extension(destination):
                    call.extension = destination
        if result == 'answered' and call.extension is None:
            peer = channel_peer(event.get('DestinationChannel'))
            if self.is_extension(peer):
                call.extension = peer
        data = self._data(call, cdr=True, start=start, answer=answer,
            end=end, result=result or self._result(call),
            billsec=_int(event.get('BillableSeconds')))
        if not call.finished:
            call.finished = True
            self.finished.append(call.linkedid)
        return [('finish', data)]

    # Transfers: the call is the client's call among the linked ids the
    # event names; the extension it goes to takes the call over.
    def _extension(self, event, prefix):
        number = (event.get(prefix + 'CallerIDNum') or '').replace(
            '<unknown>', '')
        if self.is_extension(number):
            return number
        peer = channel_peer(event.get(prefix + 'Channel'))
        return peer if self.is_extension(peer) else None

    def _transferred(self, event, prefixes):
        "The tracked client call of the first prefix's Linkedid/Uniqueid"
        for prefix in prefixes:
            for key in ['Linkedid', 'Uniqueid']:
                value = event.get(prefix + key)
                linkedid = self.channels.get(value, value)
                call = self.calls.get(linkedid)
                if call is not None and call.started and not call.internal:
                    return call
        return None

    def _transfer(self, call, kind, by, to):
        if call is None or call.finished or not to:
            return []
        call.extension = to
        call.rung.add(to)
        return [('transfer', self._data(call, transfer=kind,
                    transferred_by=by, transferred_to=to))]

    def _on_BlindTransfer(self, event):
        """The transferer sent the call to Extension@Context: the
        transferee (the client's side) now rings there"""
        call = self._transferred(event, ['Transferee', 'Transferer'])
        to = (event.get('Extension') or '').strip()
        return self._transfer(call, 'blind',
            self._extension(event, 'Transferer'),
            to if self.is_extension(to) else None)

    def _on_AttendedTransfer(self, event):
        """The transferer talked to the target first (a consultation
        call), then joined the client to the target"""
        call = self._transferred(event,
            ['Transferee', 'OrigTransferer', 'SecondTransferer'])
        by = (self._extension(event, 'OrigTransferer')
            or self._extension(event, 'SecondTransferer'))
        to = self._extension(event, 'TransferTarget')
        if to == by:
            to = None
        if call is not None and to:
            call.answered_by = to
        return self._transfer(call, 'attended', by, to)


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
