# The Asterisk AMI connector: a long-running process per tenant that logs
# in to each AMI line, follows channel events and writes calls.
#
#   crm telephony ami TENANT            (through the crm command)
#   python -m trytond.modules.crm_telephony.ami -c trytond.conf TENANT
#
# The protocol and the call state machine are in ami_protocol.py; here is
# the socket, the reconnection with backoff and one small transaction per
# operation.
import argparse
import itertools
import logging
import os
import signal
import socket
import sys
import threading
import time

from .ami_protocol import AmiParser, CallTracker, ProtocolError, format_action

logger = logging.getLogger(__name__)
DEFAULT_TIMEOUT = 10


class AmiError(Exception):
    "The AMI server refused an action"


class AmiConnection:
    "A client connection: banner, actions with ActionID, events"

    def __init__(self, host, port, timeout=DEFAULT_TIMEOUT):
        self.host, self.port, self.timeout = host, int(port or 5038), timeout
        self.sock = None
        self.parser = AmiParser()
        self.pending = []  # messages read while waiting for a response
        self._ids = itertools.count(1)

    def connect(self):
        self.sock = socket.create_connection(
            (self.host, self.port), timeout=self.timeout)
        while self.parser.banner is None:
            self.pending.extend(self._recv())

    def close(self):
        # the line's thread and a stopping one may close at the same time
        sock, self.sock = self.sock, None
        if sock is None:
            return
        try:
            # a close alone does not wake a read blocked in another thread
            # (the line's); a shutdown ends it at once
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # the peer has gone already
        sock.close()

    def _recv(self):
        sock = self.sock
        if sock is None:
            raise ConnectionError("AMI connection closed")
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("AMI connection closed")
        return self.parser.feed(data)

    def send(self, action, **fields):
        action_id = 'crm-%d' % next(self._ids)
        self.sock.sendall(format_action(action, ActionID=action_id, **fields))
        return action_id

    def request(self, action, **fields):
        "Send action and return its response (events are kept for later)"
        action_id = self.send(action, **fields)
        while True:
            for index, message in enumerate(self.pending):
                if ('Response' in message
                        and message.get('ActionID') == action_id):
                    del self.pending[index]
                    if message['Response'].lower() == 'error':
                        raise AmiError(message.get('Message') or action)
                    return message
            self.pending.extend(self._recv())

    def login(self, username, secret):
        return self.request('Login', Username=username, Secret=secret,
            Events='call,cdr,dialplan,agent')

    def events(self):
        "Yield the events as they arrive (blocks; raises on disconnect)"
        self.sock.settimeout(None)
        while True:
            while self.pending:
                message = self.pending.pop(0)
                if 'Event' in message:
                    yield message
            self.pending.extend(self._recv())


def originate(line, extension, number, call_id=None,
        timeout=DEFAULT_TIMEOUT):
    """Ask the PBX of line to ring extension and then dial number.

    Return the response of Originate or raise AmiError/OSError."""
    connection = AmiConnection(line.ami_host, line.ami_port, timeout)
    connection.connect()
    try:
        connection.login(line.ami_username, line.ami_secret or '')
        context = line.ami_context or 'from-internal'
        return connection.request('Originate',
            Channel='Local/%s@%s' % (extension, context),
            Exten=number, Context=context, Priority=1,
            CallerID='"%s" <%s>' % (number, extension),
            Timeout=30000, Async='true',
            Variable=['CRM_CALL_ID=%s' % call_id] if call_id else None)
    finally:
        try:
            connection.send('Logoff')
        except OSError:
            pass
        connection.close()


class LineConnector:
    "Follow one AMI line until stop is set; reconnect with backoff"

    def __init__(self, database, line_id, stop, max_backoff=30,
            min_backoff=1, on_apply=None, settings=None, applier=None):
        self.database = database
        self.line_id = line_id
        self.stop = stop
        self.max_backoff = max_backoff
        self.min_backoff = min_backoff
        # called with (kind, data) once an operation is committed
        self.on_apply = on_apply
        # settings (a dict as _settings returns) and applier(kind, data)
        # replace the database side, e.g. to apply in another thread
        self.settings = settings
        self.applier = applier
        self.tracker = None
        self.connection = None

    def run(self):
        delay = self.min_backoff
        while not self.stop.is_set():
            try:
                settings = self.settings or self._settings()
                if settings is None:
                    logger.warning("line %s is gone", self.line_id)
                    return
                if self.tracker is None:
                    # Kept across reconnections: a call that started before
                    # a drop completes with the events that come after.
                    self.tracker = CallTracker(
                        is_extension=settings['is_extension'])
                else:
                    self.tracker.is_extension = settings['is_extension']
                self.connection = AmiConnection(
                    settings['host'], settings['port'])
                self.connection.connect()
                self.connection.login(
                    settings['username'], settings['secret'])
                logger.info("line %s: logged in to %s:%s", self.line_id,
                    settings['host'], settings['port'])
                delay = self.min_backoff
                for event in self.connection.events():
                    self.handle(event)
                    if self.stop.is_set():
                        break
            except (OSError, ConnectionError, ProtocolError,
                    AmiError) as exception:
                logger.warning("line %s: %s; reconnecting in %ss",
                    self.line_id, exception, delay)
            finally:
                if self.connection:
                    self.connection.close()
            if self.stop.wait(delay):
                break
            delay = min(delay * 2, self.max_backoff)

    def handle(self, event):
        for kind, data in self.tracker.feed(event):
            (self.applier or self.apply)(kind, data)

    def _settings(self):
        from trytond.pool import Pool
        from trytond.transaction import Transaction
        with Transaction().start(self.database, 0, readonly=True):
            pool = Pool()
            Line = pool.get('crm.telephony.line')
            Extension = pool.get('crm.telephony.extension')
            lines = Line.search([('id', '=', self.line_id)])
            if not lines:
                return None
            line, = lines
            extensions = {e.extension for e in Extension.search([
                        ('company', '=', line.company.id)])}
            return {
                'host': line.ami_host, 'port': line.ami_port,
                'username': line.ami_username,
                'secret': line.ami_secret or '',
                'is_extension': lambda n: bool(n) and (n in extensions or (
                        n.isdigit() and len(n) <= 5)),
                }

    def apply(self, kind, data):
        "Write one operation in its own transaction (retried)"
        from trytond import backend
        from trytond.pool import Pool
        from trytond.transaction import Transaction, TransactionError
        extras = {}
        for attempt in range(5):
            try:
                with Transaction().start(
                        self.database, 0, **extras) as transaction:
                    Call = Pool().get('crm.telephony.call')
                    try:
                        Call.ami_apply(self.line_id, kind, data)
                    except TransactionError as exception:
                        # a table to lock: start again with it locked
                        transaction.rollback()
                        exception.fix(extras)
                        continue
                    transaction.commit()
                self._run_tasks(transaction)
                if self.on_apply:
                    self.on_apply(kind, data)
                return
            except backend.DatabaseOperationalError:
                time.sleep(0.1 * (attempt + 1))
            except Exception:
                # One bad event must not stop the line: log and go on.
                logger.exception("line %s: %s %s failed", self.line_id,
                    kind, data.get('external_id'))
                if self.on_apply:
                    self.on_apply('error', data)
                return

    def _run_tasks(self, transaction):
        from trytond.worker import run_task
        while transaction.tasks:
            run_task(self.database, transaction.tasks.pop())


def ami_lines(database):
    "Ids of the active AMI lines of database"
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    with Transaction().start(database, 0, readonly=True):
        Line = Pool().get('crm.telephony.line')
        return [l.id for l in Line.search([('connector', '=', 'ami')])]


def run(database, lines=None, stop=None, max_backoff=30):
    "Follow the AMI lines of database until stop is set"
    from trytond.pool import Pool
    Pool(database).init()
    stop = stop or threading.Event()
    try:
        lines = lines or ami_lines(database)
    except KeyError:
        logger.error("the telephony feature is not enabled in %s", database)
        return 2
    if not lines:
        logger.error("no AMI line in %s", database)
        return 1
    connectors = [LineConnector(database, line, stop, max_backoff)
        for line in lines]
    threads = [threading.Thread(target=c.run, name='ami-line-%s' % c.line_id,
            daemon=True) for c in connectors]
    for thread in threads:
        thread.start()
    while not stop.is_set() and any(t.is_alive() for t in threads):
        stop.wait(0.5)
    # closing the sockets ends the reads the threads are blocked in
    for connector in connectors:
        if connector.connection:
            connector.connection.close()
    for thread in threads:
        thread.join(5)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog='crm telephony ami',
        description="Follow the Asterisk AMI lines of a tenant")
    parser.add_argument('-c', '--config', dest='config',
        help="trytond configuration file")
    parser.add_argument('tenant', help="the tenant (database) name")
    parser.add_argument('--line', type=int, action='append',
        help="only this line id (repeatable)")
    parser.add_argument('--max-backoff', type=float, default=30,
        help="longest wait between reconnections (seconds)")
    parser.add_argument('-v', '--verbose', action='store_true')
    options = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if options.verbose
        else logging.WARNING)
    from trytond import config
    config.update_etc(options.config or os.environ.get('TRYTOND_CONFIG'))
    stop = threading.Event()

    def terminate(signum, frame):
        stop.set()
    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, terminate)
    return run(options.tenant, options.line, stop, options.max_backoff)


if __name__ == '__main__':
    sys.exit(main())


__all__ = ['AmiConnection', 'AmiError', 'originate', 'LineConnector',
    'run', 'main']
