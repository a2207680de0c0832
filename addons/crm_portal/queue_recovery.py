# Tasks of a queue worker that died in the middle go back to the queue.
"""trytond-worker marks a task taken (dequeued_at) in a committed
statement, then runs it in a transaction of its own that also marks it
finished. A worker killed in between leaves its work rolled back by
PostgreSQL, but the task taken for ever: nothing would run it again.

Here a running task holds a lock on its row for the whole run, and a cron
job gives back to the queue the tasks taken, unfinished and unlocked for
longer than [queue] crm_abandoned_after seconds (default 60): their worker
is gone. The task then runs again from the start, once.
"""
import datetime

from sql import Literal, Null
from sql.functions import CurrentTimestamp

from trytond import backend, config
from trytond.pool import PoolMeta
from trytond.transaction import Transaction


def abandoned_after():
    return datetime.timedelta(seconds=config.getint(
            'queue', 'crm_abandoned_after', default=60))


class Queue(metaclass=PoolMeta):
    __name__ = 'ir.queue'

    def run(self):
        if backend.name == 'postgresql':
            table = self.__table__()
            cursor = Transaction().connection.cursor()
            cursor.execute(*table.select(Literal(1),
                    where=table.id == self.id, for_=_for_update()))
        return super().run()

    @classmethod
    def crm_requeue_abandoned(cls):
        "Put back the tasks whose worker died while running them"
        if backend.name != 'postgresql':
            # SQLite runs tasks in the web process (no worker to lose).
            return
        table = cls.__table__()
        taken = cls.__table__()
        cursor = Transaction().connection.cursor()
        abandoned = taken.select(taken.id,
            where=(taken.dequeued_at != Null)
            & (taken.finished_at == Null)
            & (taken.dequeued_at
                < CurrentTimestamp() - abandoned_after()),
            for_=_for_update(skip_locked=True))
        cursor.execute(*table.update(
                [table.dequeued_at], [Null],
                where=table.id.in_(abandoned)))
        if cursor.rowcount:
            # Wake the workers waiting for tasks.
            Transaction().database.notify(
                Transaction().connection, cls.__name__, '')


def _for_update(skip_locked=False):
    if skip_locked:
        return Transaction().database.get_select_for_skip_locked()('UPDATE')
    from sql import For
    return For('UPDATE')


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.append(
            ('ir.queue|crm_requeue_abandoned', "Requeue Abandoned Tasks"))
