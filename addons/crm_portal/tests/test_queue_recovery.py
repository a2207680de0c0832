"Tasks whose queue worker died go back to the queue, running ones stay"
import datetime
import unittest

from trytond import backend
from trytond.modules.crm_portal.tests.tools import CrmTestCase
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction


@unittest.skipIf(backend.name != 'postgresql',
    "needs PostgreSQL: SQLite runs tasks in the web process")
class QueueRecoveryTestCase(CrmTestCase):

    def _task(self, taken_ago, finished=False):
        Queue = Pool().get('ir.queue')
        now = datetime.datetime.now()
        task, = Queue.create([{
                    'name': 'crm_test',
                    'data': {'model': 'res.user', 'method': 'read',
                        'instances': [], 'args': [], 'kwargs': {},
                        'user': 0, 'context': {}},
                    'dequeued_at': now - taken_ago,
                    'finished_at': now if finished else None,
                    }])
        return task.id

    @with_transaction()
    def test_abandoned_task_is_requeued_running_one_is_not(self):
        pool = Pool()
        Queue = pool.get('ir.queue')
        transaction = Transaction()
        with transaction.new_transaction() as other:
            abandoned = self._task(datetime.timedelta(minutes=5))
            running = self._task(datetime.timedelta(minutes=5))
            recent = self._task(datetime.timedelta(seconds=1))
            done = self._task(datetime.timedelta(minutes=5), finished=True)
            other.commit()
        try:
            with transaction.new_transaction() as worker:
                # The worker running `running` holds its row, as
                # ir.queue.run does for the whole run.
                cursor = worker.connection.cursor()
                cursor.execute(
                    'SELECT 1 FROM ir_queue WHERE id = %s FOR UPDATE',
                    (running,))
                with transaction.new_transaction() as cron:
                    Queue.crm_requeue_abandoned()
                    cron.commit()
                worker.rollback()
            with transaction.new_transaction():
                taken = {t.id: t.dequeued_at for t in Queue.browse(
                        [abandoned, running, recent, done])}
            self.assertIsNone(taken[abandoned])
            self.assertIsNotNone(taken[running])
            self.assertIsNotNone(taken[recent])
            self.assertIsNotNone(taken[done])
        finally:
            with transaction.new_transaction() as other:
                Queue.delete(Queue.browse([abandoned, running, recent, done]))
                other.commit()
