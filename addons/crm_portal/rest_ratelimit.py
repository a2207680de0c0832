# Per-token rate limit of the REST API, shared by every server worker.
"""A leaky bucket as Bitrix24 has: `burst` requests at once, then `rate`
requests per second. Set in trytond.conf:

    [crm_rest]
    rate = 2
    burst = 50

The state is one row per token in the database (no worker memory): the
row keeps the "theoretical arrival time" of the generic cell rate
algorithm, and one conditional UPDATE both tests and takes a slot.

On PostgreSQL the token's UPDATE runs on its own autocommit connection in
READ COMMITTED: concurrent calls of one token then wait for the row and each
counts, where the transaction's REPEATABLE READ would fail all but one
("could not serialize access") until the retries ran out. A slot taken
stays taken when the call fails, as in Bitrix24.
"""
import contextlib
import time

from sql.conditionals import Case
from sql.functions import CurrentTimestamp

from trytond import backend, config
from trytond.model import ModelSQL, Unique, fields
from trytond.pool import PoolMeta
from trytond.transaction import Transaction

__all__ = ['RestRate', 'PublicRate', 'Cron', 'rate_settings', 'take_slot',
    'autocommit_cursor']


def rate_settings():
    "Return (rate per second, burst) from the [crm_rest] section"
    rate = config.getfloat('crm_rest', 'rate', default=2.0)
    burst = config.getint('crm_rest', 'burst', default=50)
    return max(rate, 1e-6), max(burst, 1)


class RestRate(ModelSQL):
    "CRM REST Rate"
    __name__ = 'crm.rest.rate'

    token = fields.Many2One(
        'crm.webhook.token', "Token", required=True, ondelete='CASCADE')
    tat = fields.Float("Theoretical Arrival Time", required=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints = [
            ('token_unique', Unique(t, t.token),
                'crm_portal.msg_rest_rate_token_unique'),
            ]

    @classmethod
    def take(cls, token_id, now=None):
        """Take one request slot of the token; return False when the
        bucket is full (the request must be refused)."""
        rate, burst = rate_settings()
        table = cls.__table__()
        return take_slot(table, table.token, token_id, rate, burst, now,
            autocommit=True)


@contextlib.contextmanager
def autocommit_cursor(autocommit=True):
    """A cursor whose statements commit at once, in READ COMMITTED, on a
    connection of its own (PostgreSQL); the transaction's cursor else."""
    transaction = Transaction()
    if backend.name != 'postgresql' or not autocommit:
        yield transaction.connection.cursor()
        return
    from psycopg import IsolationLevel
    database = transaction.database
    connection = database.get_connection(autocommit=True)
    try:
        connection.isolation_level = IsolationLevel.READ_COMMITTED
        with connection.cursor() as cursor:
            yield cursor
    finally:
        database.put_connection(connection)


def take_slot(table, key_column, key, rate, burst, now=None,
        autocommit=False):
    """One conditional UPDATE both tests and takes a slot of the row of
    key; the row is inserted on the first request. With autocommit, on
    PostgreSQL, on a connection of its own (see above)."""
    if now is None:
        now = time.time()
    interval = 1.0 / max(rate, 1e-6)
    tolerance = (max(burst, 1) - 1) * interval
    concurrent = autocommit and backend.name == 'postgresql'
    with autocommit_cursor(autocommit) as cursor:
        for _ in range(3):
            cursor.execute(*table.update(
                    [table.tat],
                    [Case((table.tat > now, table.tat), else_=now)
                        + interval],
                    where=(key_column == key)
                    & (table.tat - now <= tolerance)))
            if cursor.rowcount:
                return True
            cursor.execute(*table.select(table.tat,
                    where=key_column == key))
            row = cursor.fetchone()
            if row:
                if row[0] - now > tolerance or not concurrent:
                    return False
                # Inserted by another worker since the UPDATE: take again.
                continue
            # First request of the key. If another worker inserts the row
            # at the same time, the unique constraint fails the INSERT and
            # the UPDATE is tried again (on SQLite, in the transaction, the
            # caller retries the transaction).
            try:
                cursor.execute(*table.insert(
                        [key_column, table.tat, table.create_uid,
                            table.create_date],
                        [[key, now + interval, 0, CurrentTimestamp()]]))
            except backend.DatabaseIntegrityError:
                if not concurrent:
                    raise
                continue
            return True
    return False


class PublicRate(ModelSQL):
    "CRM Public Endpoint Rate"
    __name__ = 'crm.public.rate'

    key = fields.Char("Key", required=True, strip=False)
    tat = fields.Float("Theoretical Arrival Time", required=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints = [
            ('key_unique', Unique(t, t.key),
                'crm_portal.msg_public_rate_key_unique'),
            ]

    @classmethod
    def take(cls, key, rate, burst, now=None):
        "Take one slot of key; False when over rate per second after burst"
        table = cls.__table__()
        return take_slot(
            table, table.key, key[:200], rate, burst, now, autocommit=True)

    @classmethod
    def clean(cls, older_than=3600):
        "Forget keys idle for older_than seconds (run by cron)"
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.delete(
                where=table.tat < time.time() - older_than))


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.append(
            ('crm.public.rate|clean', "Forget Idle Rate Limits"))
