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
from trytond.transaction import Transaction

__all__ = ['RestRate', 'rate_settings']


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
        interval = 1.0 / rate
        tolerance = (burst - 1) * interval
        if now is None:
            now = time.time()
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.update(
                [table.tat],
                [Case((table.tat > now, table.tat), else_=now) + interval],
                where=(table.token == token_id)
                & (table.tat - now <= tolerance)))
        if cursor.rowcount:
            return True
        cursor.execute(*table.select(
                table.id, where=table.token == token_id))
        if cursor.fetchone():
            return False
        # First request of the token. If another worker inserts the row at
        # the same time, the unique constraint fails this transaction and
        # the caller retries it (the UPDATE then finds the row).
        cursor.execute(*table.insert(
                [table.token, table.tat, table.create_uid,
                    table.create_date],
                [[token_id, now + interval, 0, CurrentTimestamp()]]))
        return True
