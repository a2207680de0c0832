# The log of inquiries received by the intake: one row per channel and
# key, so that the same inquiry received twice is handled once.
import json

from sql.functions import CurrentTimestamp

from trytond import backend
from trytond.model import ModelSQL, ModelView, Unique, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.transaction import Transaction

OUTCOMES = [
    ('created', "Created"),
    ('attached', "Attached"),
    ('ignored', "Ignored"),
    ]


class Submission(ModelSQL, ModelView):
    "Inquiry received by the intake, one per channel and key"
    __name__ = 'crm.intake.submission'

    company = fields.Many2One(
        'company.company', "Company", required=True, readonly=True)
    channel = fields.Char("Channel", required=True, readonly=True)
    key = fields.Char(
        "Key", required=True, readonly=True,
        help="The identifier given by the channel, or a fingerprint of "
        "the inquiry: the same inquiry received twice is handled once.")
    source = fields.Many2One(
        'crm.source', "Source", readonly=True, ondelete='SET NULL')
    opportunity = fields.Many2One(
        'sale.opportunity', "Lead or Deal", readonly=True,
        ondelete='SET NULL')
    party = fields.Many2One(
        'party.party', "Contact or Company", readonly=True,
        ondelete='SET NULL',
        context={'company': Eval('company', -1)}, depends={'company'})
    activity = fields.Many2One(
        'crm.activity', "Activity", readonly=True, ondelete='SET NULL')
    created = fields.Boolean(
        "Created", readonly=True,
        help="The lead or deal was created by this inquiry.")
    outcome = fields.Selection(
        [(None, "")] + OUTCOMES, "Outcome", readonly=True)
    payload = fields.Dict(None, "Data", readonly=True)
    payload_text = fields.Function(fields.Text("Data"), 'get_payload_text')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('channel_key_unique', Unique(t, t.company, t.channel, t.key),
                'crm_portal.msg_intake_submission_unique'),
            ]
        cls._order = [('create_date', 'DESC'), ('id', 'DESC')]

    @staticmethod
    def default_company():
        return Transaction().context.get('company')

    @staticmethod
    def default_created():
        return False

    def get_rec_name(self, name):
        return '%s: %s' % (self.channel, self.key)

    def get_payload_text(self, name):
        if self.payload is not None:
            return json.dumps(
                self.payload, ensure_ascii=False, indent=2, sort_keys=True)

    # The log has no business rule and sits on every channel's hot path:
    # it is written in plain SQL, one INSERT and one UPDATE per inquiry.

    @classmethod
    def reserve(cls, company, channel, key, source=None, payload=None):
        """Insert the submission before doing the work and return it.

        The unique key makes a concurrent worker with the same inquiry
        wait here; once the first one commits, this returns the first
        result (a dict) instead of a submission."""
        transaction = Transaction()
        database = transaction.database
        cursor = transaction.connection.cursor()
        table = cls.__table__()
        columns = [
            table.create_uid, table.create_date, table.company,
            table.channel, table.key, table.source, table.payload,
            table.created]
        values = [
            transaction.user, CurrentTimestamp(), company, channel, key,
            source, cls.payload.sql_format(payload), False]
        # PostgreSQL aborts the transaction on a violated constraint
        # unless it happens inside a savepoint.
        savepoint = backend.name == 'postgresql'
        if savepoint:
            cursor.execute('SAVEPOINT crm_intake_submission')
        try:
            if database.has_returning():
                cursor.execute(*table.insert(
                        columns, [values], returning=[table.id]))
                id_, = cursor.fetchone()
            else:
                cursor.execute(*table.insert(columns, [values]))
                id_ = database.lastid(cursor)
        except backend.DatabaseIntegrityError:
            if savepoint:
                cursor.execute('ROLLBACK TO SAVEPOINT crm_intake_submission')
            domain = [
                ('company', '=', company),
                ('channel', '=', channel),
                ('key', '=', key),
                ]
            others = cls.search(domain, limit=1)
            if others:
                return others[0].get_result(duplicate=True)
            # The other submission is committed but invisible to this
            # transaction's snapshot.
            with transaction.new_transaction(readonly=True):
                others = cls.search(domain, limit=1)
                if not others:
                    raise
                return others[0].get_result(duplicate=True)
        if savepoint:
            cursor.execute('RELEASE SAVEPOINT crm_intake_submission')
        transaction.counter += 1
        return cls(id_)

    def record_result(
            self, opportunity=None, party=None, activity=None,
            created=False, outcome=None):
        "Store what the inquiry became"
        transaction = Transaction()
        cursor = transaction.connection.cursor()
        table = self.__table__()
        cursor.execute(*table.update(
                [table.write_uid, table.write_date, table.opportunity,
                    table.party, table.activity, table.created,
                    table.outcome],
                [transaction.user, CurrentTimestamp(),
                    opportunity.id if opportunity else None,
                    party.id if party else None,
                    activity.id if activity else None,
                    created, outcome],
                where=table.id == self.id))
        # records read before must not be served from the cache
        transaction.counter += 1

    def get_result(self, duplicate=False):
        return {
            'opportunity': self.opportunity.id if self.opportunity else None,
            'party': self.party.id if self.party else None,
            'activity': self.activity.id if self.activity else None,
            'created': False if duplicate else bool(self.created),
            'duplicate_submission': duplicate,
            }


class PartyReplace(metaclass=PoolMeta):
    __name__ = 'party.replace'

    @classmethod
    def fields_to_replace(cls):
        return super().fields_to_replace() + [
            ('crm.intake.submission', 'party'),
            ]


class PartyErase(metaclass=PoolMeta):
    __name__ = 'party.erase'

    def to_erase(self, party_id):
        Submission = Pool().get('crm.intake.submission')
        return super().to_erase(party_id) + [
            (Submission, [('party', '=', party_id)], True,
                ['payload'], [None]),
            ]
