# Contacts and companies on party.party; normalised contact mechanisms.
from sql import Null

from trytond.model import Index, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.transaction import Transaction

from .phone import default_regions, normalize_email

PHONE_TYPES = {'phone', 'mobile', 'fax'}


class Party(metaclass=PoolMeta):
    __name__ = 'party.party'

    crm_kind = fields.Selection([
            ('person', "Contact"),
            ('organisation', "Company"),
            ], "CRM Kind", required=True,
        help="A contact is a person, a company is an organisation.")
    employer = fields.Many2One(
        'party.party', "Company", ondelete='SET NULL',
        domain=[('crm_kind', '=', 'organisation')],
        states={'invisible': Eval('crm_kind') != 'person'},
        help="The company this contact works for.")
    contacts = fields.One2Many(
        'party.party', 'employer', "Contacts",
        states={'invisible': Eval('crm_kind') != 'organisation'})
    job_title = fields.Char(
        "Job Title", states={'invisible': Eval('crm_kind') != 'person'})
    crm_responsible = fields.Many2One(
        'company.employee', "Responsible",
        help="The employee in charge of this client.")
    crm_source = fields.Many2One('crm.source', "Source")
    activities = fields.One2Many(
        'crm.activity', 'party', "Activities", readonly=True)
    timeline = fields.Function(fields.Many2Many(
            'crm.activity', None, None, "Timeline",
            help="Activities of the client, its contacts and its deals."),
        'get_timeline')
    deals = fields.One2Many(
        'sale.opportunity', 'party', "Deals", readonly=True,
        filter=[('crm_type', '=', 'deal')])
    phone_invalid = fields.Function(
        fields.Boolean("Unrecognised Phone",
            help="A phone number could not be read; "
            "it is kept as written."),
        'get_phone_invalid', searcher='search_phone_invalid')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(
            Index(t, (t.employer, Index.Range()), where=t.employer != Null))

    @staticmethod
    def default_crm_kind():
        return Transaction().context.get('crm_kind', 'person')

    @classmethod
    def get_timeline(cls, parties, name):
        Activity = Pool().get('crm.activity')
        result = {}
        for party in parties:
            ids = [party.id] + [c.id for c in party.contacts]
            result[party.id] = [a.id for a in Activity.search(['OR',
                        ('party', 'in', ids),
                        ('opportunity.party', 'in', ids),
                        ('opportunity.contact_party', 'in', ids),
                        ])]
        return result

    def get_phone_invalid(self, name):
        return any(m.phone_invalid for m in self.contact_mechanisms)

    @classmethod
    def search_phone_invalid(cls, name, clause):
        _, operator, value = clause
        if (operator == '=') == bool(value):
            return [('contact_mechanisms.phone_invalid', '=', True)]
        return [('contact_mechanisms.phone_invalid', '!=', True)]


class ContactMechanism(metaclass=PoolMeta):
    __name__ = 'party.contact_mechanism'

    phone_invalid = fields.Boolean(
        "Unrecognised", readonly=True,
        help="The number could not be read as a phone number "
        "and is kept as written.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        # Exact match on the normalised value is the duplicate and
        # caller-ID lookup; the similarity index of party is for search.
        cls._sql_indexes.add(Index(t, (t.value_compact, Index.Equality())))

    def _phone_country_codes(self):
        yield from super()._phone_country_codes()
        yield from default_regions()

    def format_value_compact(self, value=None, type_=None):
        value = super().format_value_compact(value=value, type_=type_)
        if type_ == 'email':
            value = normalize_email(value) or value
        return value

    def compute_fields(self, field_names=None):
        values = super().compute_fields(field_names=field_names)
        if field_names is None or {'value', 'type'} & field_names:
            type_ = getattr(self, 'type', None)
            value = values.get('value', getattr(self, 'value', None))
            invalid = bool(
                type_ in PHONE_TYPES and value
                and not self._parse_phonenumber(value))
            if getattr(self, 'phone_invalid', None) != invalid:
                values['phone_invalid'] = invalid
        return values

    @classmethod
    def check_valid_phonenumber(cls, mechanisms, field_names=None):
        # An unreadable number is kept raw and flagged (phone_invalid)
        # instead of refusing the record: no inquiry is lost on a typo.
        pass


class PartyReplace(metaclass=PoolMeta):
    __name__ = 'party.replace'

    @classmethod
    def fields_to_replace(cls):
        return super().fields_to_replace() + [
            ('party.party', 'employer'),
            ('sale.opportunity', 'contact_party'),
            ('crm.activity', 'party'),
            ]
