# The import of an uploaded file runs as a queue task (ir.queue), not inside
# 1C's HTTP request: `import` requests start the task and report its state.
# The task applies one batch per transaction, committed together with the
# file's position (crm_exchange_1c_file.phase/position), so a worker killed
# in the middle leaves no half-applied batch and the task run again
# continues from the last committed position.
#
# Without a queue worker ([queue] worker off: tests, `make demo`) Tryton
# runs the task in the web process right after the request's commit; the
# task then stops after the request's time budget and the next `import`
# request starts it again, as 1C calls import until `success`.
import datetime
import logging
import time
import uuid

from sql import Literal

from trytond import backend
from trytond.config import config
from trytond.i18n import gettext
from trytond.pool import Pool
from trytond.transaction import Transaction, TransactionError

from trytond.modules.crm_portal.queue_recovery import abandoned_after

from .importer import ImportFailure, Reader, prepare, step

logger = logging.getLogger(__name__)
QUEUE_NAME = 'crm_1c'


def has_worker():
    return config.getboolean('queue', 'worker', default=False)


def enqueue(file, budget=None):
    """Start (again) the import task of file; it owns the file through a new
    token, so an older task of the file, run late, stops at once.
    budget: seconds the task works when run in the web process."""
    File = Pool().get('crm.exchange_1c.file')
    token = uuid.uuid4().hex
    if has_worker():
        budget = None
    context = {'queue_name': QUEUE_NAME, '_request': None}
    with Transaction().set_context(**context):
        task_id, = File.__queue__.run_import([file], token, budget)
    File.write([file], {'task': task_id, 'task_token': token,
            'state': 'importing'})
    return task_id


def task_running(file):
    "Whether the import task of file waits for a worker or runs"
    if not file.task:
        return False
    Queue = Pool().get('ir.queue')
    table = Queue.__table__()
    cursor = Transaction().connection.cursor()
    cursor.execute(*table.select(table.dequeued_at, table.finished_at,
            where=table.id == file.task))
    row = cursor.fetchone()
    if not row or row[1]:
        return False
    dequeued_at = row[0]
    if dequeued_at is None and has_worker():
        return True
    if backend.name == 'postgresql':
        # A running task holds the lock of its row (crm_portal's
        # queue_recovery): an unlocked row taken is a dead worker's.
        database = Transaction().database
        cursor.execute(*table.select(Literal(1), where=table.id == file.task,
                for_=database.get_select_for_skip_locked()('UPDATE')))
        if cursor.fetchone() is None:
            return True
    if dequeued_at is None:
        # no worker: the task ran in a web process that stopped
        return False
    # taken by a worker that no longer holds it; give it the grace period
    # of crm_portal's requeue job (between taking and locking a task)
    return dequeued_at > datetime.datetime.now() - abandoned_after()


def run_import(file_id, token, budget=None):
    """Apply the batches of file, each in its own transaction, until it is
    done or failed (or budget seconds have passed)"""
    deadline = None if budget is None else time.monotonic() + budget
    reader = Reader()
    retry = config.getint('database', 'retry')
    count, extras = 0, {}
    try:
        while True:
            transaction = Transaction().new_transaction(**extras)
            try:
                with transaction:
                    outcome = _batch(file_id, token, reader)
                    transaction.commit()
            except TransactionError as exception:
                reader.close()
                exception.fix(extras)
                continue
            except backend.DatabaseOperationalError:
                # a conflict: the batch is rolled back with its position
                reader.close()
                if count >= retry:
                    raise
                count += 1
                time.sleep(0.02 * count)
                continue
            except Exception as exception:
                logger.exception("1C import of file %s failed", file_id)
                with Transaction().new_transaction() as transaction:
                    _failed(file_id, token, str(exception))
                    transaction.commit()
                return
            count, extras = 0, {}
            if outcome != 'progress':
                return
            if deadline is not None and time.monotonic() >= deadline:
                return
    finally:
        reader.close()


def _current(file_id, token):
    "The file when this task still owns it and has work to do"
    File = Pool().get('crm.exchange_1c.file')
    files = File.search([('id', '=', file_id)])
    if not files or files[0].task_token != token:
        return None
    if files[0].state in {'done', 'failed'}:
        return None
    return files[0]


def _batch(file_id, token, reader):
    pool = Pool()
    Session = pool.get('crm.exchange_1c.session')
    Profile = pool.get('crm.exchange_1c.profile')
    file = _current(file_id, token)
    if file is None:
        return 'stopped'
    session = Session(file.session.id)
    with Transaction().set_context(company=session.company.id):
        profile = Profile.get(session.company)
        try:
            return step(session, profile, file, reader)
        except ImportFailure as exception:
            fail(session, file, str(exception.args[0]))
            return 'failure'


def fail(session, file, reason):
    "Mark file failed and its session (the responsible is notified)"
    pool = Pool()
    File = pool.get('crm.exchange_1c.file')
    Session = pool.get('crm.exchange_1c.session')
    File.write([file], {'state': 'failed', 'error': reason})
    session.note('failed', reason, file)
    Session.fail([session], reason)


def _failed(file_id, token, error):
    "A batch that broke: rolled back; the file is failed with the reason"
    Session = Pool().get('crm.exchange_1c.session')
    file = _current(file_id, token)
    if file is None:
        return
    fail(Session(file.session.id), file, gettext(
            'crm_1c_exchange.msg_import_error', filename=file.name,
            error=error[:200]))


def check(file):
    """Read what kind of package file is, before a task is started: a file
    that cannot be imported is answered `failure` at once.
    Return the reason of the failure or None."""
    Session = Pool().get('crm.exchange_1c.session')
    if file.kind:
        return None
    try:
        prepare(file)
    except ImportFailure as exception:
        reason = str(exception.args[0])
        fail(Session(file.session.id), file, reason)
        return reason
    return None
