# One contact and one open lead per phone or e-mail when several workers
# take inquiries from the same client at once (PostgreSQL).
"""Intake matches the client, then creates what is missing. Two
transactions of two workers that both started before either committed
see no client and would both create one. Before creating, intake claims
the client's phone and e-mail (a row each in crm_intake_claim):

* the second transaction waits on the first one's row;
* when the first commits, PostgreSQL refuses the second's claim with a
  serialization failure (Tryton runs PostgreSQL transactions in
  REPEATABLE READ), which Tryton, the REST gateway and the queue worker
  all retry: the retry starts with a snapshot that sees the first
  client, matches it and attaches the inquiry instead of creating.

Only inquiries that create something take a claim; the usual case, an
inquiry from a known client with an open lead, claims nothing. SQLite has
one writer at a time and needs no claim.
"""
from sql.functions import CurrentTimestamp

from trytond import backend
from trytond.model import ModelSQL, Unique, fields
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction


class Claim(ModelSQL):
    "Intake Claim on a phone or an e-mail"
    __name__ = 'crm.intake.claim'

    company = fields.Many2One(
        'company.company', "Company", required=True, ondelete='CASCADE')
    key = fields.Char("Key", required=True)
    counter = fields.Integer("Counter", required=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('company_key_unique', Unique(t, t.company, t.key),
                'crm_portal.msg_intake_submission_unique'),
            ]

    @classmethod
    def claim(cls, company, keys):
        "Claim keys of company until the transaction ends"
        if backend.name != 'postgresql':
            return
        transaction = Transaction()
        cursor = transaction.connection.cursor()
        table = cls.__table__()
        for key in sorted(set(filter(None, keys))):
            # A sorted order: two claims of the same keys cannot deadlock.
            query = table.insert(
                [table.create_uid, table.create_date, table.company,
                    table.key, table.counter],
                [[transaction.user, CurrentTimestamp(), company, key, 1]])
            sql, params = tuple(query)
            cursor.execute(sql + (
                    ' ON CONFLICT ("company", "key") DO UPDATE SET '
                    '"counter" = "crm_intake_claim"."counter" + 1, '
                    '"write_date" = CURRENT_TIMESTAMP'), params)


class Intake(metaclass=PoolMeta):
    __name__ = 'crm.intake'

    @classmethod
    def _claim(cls, inquiry):
        Pool().get('crm.intake.claim').claim(inquiry.company, [
                'phone:' + inquiry.phone_e164 if inquiry.phone_e164 else '',
                'email:' + inquiry.email_normalized
                if inquiry.email_normalized else '',
                ])

    @classmethod
    def _create_client(cls, inquiry, source, responsible):
        cls._claim(inquiry)
        return super()._create_client(inquiry, source, responsible)

    @classmethod
    def _create_opportunity(
            cls, inquiry, crm_type, source, contact, client, responsible):
        cls._claim(inquiry)
        return super()._create_opportunity(
            inquiry, crm_type, source, contact, client, responsible)
