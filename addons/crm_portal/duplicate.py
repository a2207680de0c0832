# Duplicate control: find look-alike leads, contacts and companies, warn
# while typing, show them, merge leads.
from sql import Literal

from trytond import backend
from trytond.exceptions import UserError
from trytond.i18n import gettext
from trytond.model import Model, ModelView, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.rpc import RPC
from trytond.transaction import Transaction
from trytond.wizard import Button, StateTransition, StateView, Wizard

from .intake import UTM_FIELDS
from .phone import default_regions, normalize_email, normalize_phone

# Most matches a warning or a search returns per model.
LIMIT = 20
# Fields of a kept lead that a merge fills from the merged ones.
MERGE_FIELDS = [
    'description', 'contact_name', 'contact_company_name', 'contact_phone',
    'contact_email', 'party', 'contact_party', 'employee', 'source',
    'comment', 'amount',
    ] + UTM_FIELDS


def _values(value):
    "A list of the non-empty, stripped strings of value (str or list)"
    if not value:
        return []
    if isinstance(value, str):
        value = [value]
    return [v.strip() for v in value if v and v.strip()]


def _name_clauses(field, names):
    "Case-insensitive equality on field for names"
    clauses = []
    for name in names:
        escaped = (name.replace('\\', '\\\\')
            .replace('%', '\\%').replace('_', '\\_'))
        clauses.append((field, 'ilike', escaped))
        # SQLite compares only ASCII without case: add the usual
        # spellings of non-ASCII names.
        clauses.append((field, 'in', sorted({
                        name, name.lower(), name.upper(), name.title(),
                        name.capitalize()})))
    return clauses


def unindexed_order(column):
    """column to ORDER BY ... LIMIT a query filtered on another index. On
    PostgreSQL column + 0: no index gives that order, so the generic plan
    it picks for a prepared statement (psycopg prepares one after 5 runs)
    keeps the filter's index instead of walking column's (the primary
    key) until the limit is met."""
    if backend.name == 'postgresql':
        return column + Literal(0)
    return column


class Duplicate(Model):
    "Duplicate finder for leads, contacts and companies"
    __name__ = 'crm.duplicate'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__rpc__.update({
                'find_ids': RPC(),
                })

    # SQL of match_parties by number of values: it runs for every call
    # and inquiry, and building it costs more than the indexed lookup.
    _match_sql = {}

    @classmethod
    def match_parties(cls, values):
        """Ids of the active parties with one of the normalised values
        (E.164 phone or lower-case e-mail), in the order of values.

        The caller-ID and intake lookup: one indexed SQL query."""
        values = [v for v in values if v]
        if not values:
            return []
        key = (backend.name, len(values))
        query = cls._match_sql.get(key)
        if query is None:
            pool = Pool()
            mechanism = pool.get('party.contact_mechanism').__table__()
            party = pool.get('party.party').__table__()
            order = unindexed_order(mechanism.id)
            query = tuple(mechanism.join(
                    party, condition=mechanism.party == party.id
                    ).select(
                    mechanism.party, mechanism.value_compact,
                    where=mechanism.value_compact.in_(values)
                    & (mechanism.active == Literal(True))
                    & (party.active == Literal(True)),
                    order_by=[order.asc], limit=LIMIT))
            sql, params = query
            # Only the values vary; the other parameters are constants.
            query = (sql, params[len(values):])
            cls._match_sql[key] = query
        sql, constants = query
        cursor = Transaction().connection.cursor()
        cursor.execute(sql, tuple(values) + tuple(constants))
        rows = cursor.fetchall()
        ids = []
        for value in values:
            for party_id, value_compact in rows:
                if value_compact == value and party_id not in ids:
                    ids.append(party_id)
        return ids

    @classmethod
    def find(cls, phone=None, email=None, name=None, company=None,
            exclude=None):
        """Return leads and parties matching phone, email or name.

        phone and e-mail match exactly once normalised; name matches
        case-insensitively the party name and the contact or company name
        of leads.  Each argument may be a string or a list of strings.
        Junk leads are ignored; leads are limited to company (default:
        the context company).  exclude is a list of records or
        "model,id" strings to leave out."""
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Party = pool.get('party.party')
        if company is None:
            company = Transaction().context.get('company')
        if company is not None:
            company = int(company)
        phones = _values(phone)
        emails = _values(email)
        names = _values(name)
        excluded = {'sale.opportunity': set(), 'party.party': set()}
        for record in exclude or []:
            if isinstance(record, str):
                model, id_ = record.split(',', 1)
                id_ = int(id_)
            else:
                model, id_ = record.__name__, record.id
            if id_ is not None and id_ >= 0 and model in excluded:
                excluded[model].add(id_)

        regions = default_regions(company) if phones else []
        compact = set()
        lead_phones, raw_phones = set(), set()
        for value in phones:
            e164 = normalize_phone(value, regions)
            if e164:
                lead_phones.add(e164)
                compact.add(e164)
            else:
                raw_phones.add(value)
                compact.add(value)
        lead_emails = set()
        for value in emails:
            value = normalize_email(value) or value.lower()
            lead_emails.add(value)
            compact.add(value)

        lead_clauses, party_clauses = [], []
        if lead_phones:
            lead_clauses.append(
                ('contact_phone_e164', 'in', sorted(lead_phones)))
        if raw_phones:
            lead_clauses.append(('contact_phone', 'in', sorted(raw_phones)))
        if lead_emails:
            lead_clauses.append(('contact_email', 'in', sorted(lead_emails)))
        party_ids = [i for i in cls.match_parties(sorted(compact))
            if i not in excluded['party.party']]
        if names:
            lead_clauses.extend(_name_clauses('contact_name', names))
            lead_clauses.extend(
                _name_clauses('contact_company_name', names))
            party_clauses.extend(_name_clauses('name', names))

        records = []
        if lead_clauses:
            domain = [
                ('crm_type', '=', 'lead'),
                ('lead_status.kind', '!=', 'junk'),
                ('id', 'not in', sorted(excluded['sale.opportunity'])),
                ['OR'] + lead_clauses,
                ]
            if company is not None:
                domain.append(('company', '=', company))
            records.extend(Opportunity.search(
                    domain, order=[('id', 'DESC')], limit=LIMIT))
        if party_clauses:
            party_ids += [p.id for p in Party.search([
                        ('id', 'not in',
                            sorted(excluded['party.party']) + party_ids),
                        ['OR'] + party_clauses,
                        ], order=[('id', 'ASC')], limit=LIMIT)]
        # Browse through search so that record rules apply.
        if party_ids:
            records.extend(Party.search([('id', 'in', party_ids)],
                    order=[('id', 'ASC')]))
        return records

    @classmethod
    def find_ids(cls, phone=None, email=None, name=None, company=None,
            exclude=None):
        "find() for RPC: a list of 'model,id' strings"
        return [str(r) for r in cls.find(
                phone=phone, email=email, name=name, company=company,
                exclude=exclude)]

    @classmethod
    def find_for(cls, record):
        "Return the duplicates of a lead or a party"
        if record.__name__ == 'sale.opportunity':
            exclude = [record]
            for party in [record.party, record.contact_party]:
                if party:
                    exclude.append(party)
            return cls.find(
                phone=record.contact_phone, email=record.contact_email,
                name=[record.contact_name, record.contact_company_name],
                company=record.company.id if record.company else None,
                exclude=exclude)
        elif record.__name__ == 'party.party':
            phones, emails = [], []
            for mechanism in record.contact_mechanisms:
                if mechanism.type in {'phone', 'mobile'}:
                    phones.append(mechanism.value)
                elif mechanism.type == 'email':
                    emails.append(mechanism.value)
            exclude = [record]
            exclude.extend(getattr(record, 'contacts', None) or [])
            if getattr(record, 'employer', None):
                exclude.append(record.employer)
            return cls.find(
                phone=phones, email=emails, name=record.name,
                exclude=exclude)
        return []

    @classmethod
    def notify(cls, records):
        "Return the warnings of on_change_notify for records"
        if not records:
            return []
        return [('warning', gettext('crm_portal.msg_duplicate_found',
                    records=', '.join(r.rec_name for r in records)))]


class Opportunity(metaclass=PoolMeta):
    __name__ = 'sale.opportunity'

    @fields.depends(methods=['_notify_crm_duplicates'])
    def on_change_notify(self):
        notifications = super().on_change_notify()
        notifications.extend(self._notify_crm_duplicates())
        return notifications

    @fields.depends(
        'crm_type', 'company', 'contact_phone', 'contact_email',
        'contact_name', 'contact_company_name', 'party', 'contact_party')
    def _notify_crm_duplicates(self):
        Duplicate = Pool().get('crm.duplicate')
        if self.crm_type != 'lead' or not (
                self.contact_phone or self.contact_email
                or self.contact_name or self.contact_company_name):
            return []
        return Duplicate.notify(Duplicate.find_for(self))

    @classmethod
    def merge_leads(cls, target, leads):
        """Merge leads into target: fill its empty fields from them, move
        their activities, inquiries and lines to it, mark them junk."""
        pool = Pool()
        Activity = pool.get('crm.activity')
        Submission = pool.get('crm.intake.submission')
        Line = pool.get('sale.opportunity.line')
        Status = pool.get('crm.lead.status')
        leads = [l for l in leads if l != target]
        for lead in [target] + leads:
            if lead.crm_type != 'lead':
                raise UserError(gettext(
                        'crm_portal.msg_lead_merge_not_lead',
                        record=lead.rec_name))
            if lead.lead_status and lead.lead_status.kind == 'converted':
                raise UserError(gettext(
                        'crm_portal.msg_lead_merge_converted',
                        lead=lead.rec_name))
            if lead.company != target.company:
                raise UserError(gettext(
                        'crm_portal.msg_lead_merge_company',
                        lead=lead.rec_name))
        if not leads:
            raise UserError(gettext('crm_portal.msg_lead_merge_few'))
        junk = Status.get_first('junk')
        if not junk:
            raise UserError(gettext('crm_portal.msg_lead_merge_no_junk'))

        values = {}
        for name in MERGE_FIELDS:
            if getattr(target, name, None):
                continue
            for lead in leads:
                value = getattr(lead, name, None)
                if value:
                    values[name] = getattr(value, 'id', value)
                    break
        if values:
            cls.write([target], values)

        lead_ids = [l.id for l in leads]
        activities = Activity.search([('opportunity', 'in', lead_ids)])
        if activities:
            Activity.write(activities, {'opportunity': target.id})
        submissions = Submission.search([('opportunity', 'in', lead_ids)])
        if submissions:
            Submission.write(submissions, {'opportunity': target.id})
        lines = Line.search([('opportunity', 'in', lead_ids)])
        if lines:
            Line.write(lines, {'opportunity': target.id})

        note = gettext('crm_portal.msg_lead_merged_into',
            lead=target.rec_name)
        to_write = []
        for lead in leads:
            to_write.extend(([lead], {
                        'lead_status': junk.id,
                        'comment': '\n'.join(
                            filter(None, [lead.comment, note])),
                        'lost_reason': note,
                        }))
        cls.write(*to_write)
        Activity.create([{
                    'company': target.company.id,
                    'type': 'note',
                    'subject': gettext('crm_portal.msg_lead_merge_note',
                        leads=', '.join(l.rec_name for l in leads)),
                    'opportunity': target.id,
                    'party': (target.contact_party or target.party).id
                    if (target.contact_party or target.party) else None,
                    'done': True,
                    }])


class Party(metaclass=PoolMeta):
    __name__ = 'party.party'

    @fields.depends(methods=['_notify_crm_duplicates'])
    def on_change_notify(self):
        notifications = super().on_change_notify()
        notifications.extend(self._notify_crm_duplicates())
        return notifications

    @fields.depends('name', 'employer', 'contacts')
    def _notify_crm_duplicates(self):
        Duplicate = Pool().get('crm.duplicate')
        if not self.name:
            return []
        exclude = [self] + list(getattr(self, 'contacts', None) or [])
        if getattr(self, 'employer', None):
            exclude.append(self.employer)
        return Duplicate.notify(Duplicate.find(
                name=self.name, exclude=exclude))


class ShowStart(ModelView):
    "Duplicates"
    __name__ = 'crm.duplicate.show.start'

    leads = fields.Many2Many(
        'sale.opportunity', None, None, "Leads", readonly=True)
    parties = fields.Many2Many(
        'party.party', None, None, "Contacts and Companies", readonly=True)


class Show(Wizard):
    "Show Duplicates"
    __name__ = 'crm.duplicate.show'

    start = StateView(
        'crm.duplicate.show.start',
        'crm_portal.duplicate_show_start_view_form', [
            Button("Close", 'end', 'tryton-close', default=True),
            ])

    def default_start(self, fields):
        Duplicate = Pool().get('crm.duplicate')
        leads, parties = [], []
        selected = {str(r) for r in self.records}
        for record in self.records:
            for duplicate in Duplicate.find_for(record):
                if str(duplicate) in selected:
                    continue
                if duplicate.__name__ == 'sale.opportunity':
                    if duplicate.id not in leads:
                        leads.append(duplicate.id)
                elif duplicate.id not in parties:
                    parties.append(duplicate.id)
        return {
            'leads': leads,
            'parties': parties,
            }


class LeadMergeStart(ModelView):
    "Merge Leads"
    __name__ = 'crm.lead.merge.start'

    leads = fields.Many2Many(
        'sale.opportunity', None, None, "Leads", readonly=True)
    target = fields.Many2One(
        'sale.opportunity', "Keep", required=True,
        domain=[('id', 'in', Eval('leads', []))],
        help="The lead that stays; the others are merged into it "
        "and marked as junk.")


class LeadMerge(Wizard):
    "Merge Leads"
    __name__ = 'crm.lead.merge'

    start = StateView(
        'crm.lead.merge.start',
        'crm_portal.lead_merge_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Merge", 'merge', 'tryton-ok', default=True),
            ])
    merge = StateTransition()

    def default_start(self, fields):
        leads = [r for r in self.records]
        if len(leads) < 2:
            raise UserError(gettext('crm_portal.msg_lead_merge_few'))
        for lead in leads:
            if lead.crm_type != 'lead':
                raise UserError(gettext(
                        'crm_portal.msg_lead_merge_not_lead',
                        record=lead.rec_name))
        return {
            'leads': [l.id for l in leads],
            'target': min(l.id for l in leads),
            }

    def transition_merge(self):
        Opportunity = Pool().get('sale.opportunity')
        Opportunity.merge_leads(self.start.target, list(self.start.leads))
        return 'end'
