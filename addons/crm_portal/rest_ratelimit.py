# Per-token rate limit of the REST API, shared by every server worker.
"""A leaky bucket as Bitrix24 has: `burst` requests at once, then `rate`
requests per second. Set in trytond.conf:

    [crm_rest]
    rate = 2
    burst = 50

The state is one row per token in the database (no worker memory): the
row keeps the "theoretical arrival time" of the generic cell rate
algorithm, and one conditional UPDATE both tests and takes a slot.
"""
import time

from sql.conditionals import Case
from sql.functions import CurrentTimestamp

from trytond import config
from trytond.model import ModelSQL, Unique, fields
from trytond.pool import PoolMeta
from trytond.transaction import Transaction

__all__ = ['RestRate', 'PublicRate', 'Cron', 'rate_settings', 'take_slot']


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
        return take_slot(table, table.token, token_id, rate, burst, now)


def take_slot(table, key_column, key, rate, burst, now=None):
    """One conditional UPDATE both tests and takes a slot of the row of
    key; the row is inserted on the first request."""
    interval = 1.0 / max(rate, 1e-6)
    tolerance = (max(burst, 1) - 1) * interval
    if now is None:
        now = time.time()
    cursor = Transaction().connection.cursor()
    cursor.execute(*table.update(
            [table.tat],
            [Case((table.tat > now, table.tat), else_=now) + interval],
            where=(key_column == key) & (table.tat - now <= tolerance)))
    if cursor.rowcount:
        return True
    cursor.execute(*table.select(table.id, where=key_column == key))
    if cursor.fetchone():
        return False
    # First request of the key. If another worker inserts the row at the
    # same time, the unique constraint fails this transaction and the
    # caller retries it (the UPDATE then finds the row).
    cursor.execute(*table.insert(
            [key_column, table.tat, table.create_uid, table.create_date],
            [[key, now + interval, 0, CurrentTimestamp()]]))
    return True


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
        return take_slot(table, table.key, key[:200], rate, burst, now)

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
