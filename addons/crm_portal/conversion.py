# Lead conversion: a lead becomes a contact, a company and a deal.
from trytond.exceptions import UserError
from trytond.i18n import gettext
from trytond.model import Model, ModelView, fields
from trytond.model.exceptions import AccessError
from trytond.modules.currency.fields import Monetary
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Bool, Eval, If
from trytond.tools import escape_wildcard
from trytond.wizard import Button, StateAction, StateView, Wizard

# Fields a deal takes over from its lead as they are.
_COPIED_FIELDS = [
    'company', 'currency', 'employee', 'source', 'payment_term', 'comment',
    'utm_source', 'utm_medium', 'utm_campaign', 'utm_content', 'utm_term',
    'contact_name', 'contact_company_name', 'contact_phone', 'contact_email',
    ]


class Opportunity(metaclass=PoolMeta):
    __name__ = 'sale.opportunity'

    lead_status_kind = fields.Function(fields.Selection([
                (None, ""),
                ('open', "Open"),
                ('converted', "Converted"),
                ('junk', "Junk"),
                ], "Lead Status Kind"),
        'on_change_with_lead_status_kind')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._buttons.update({
                'lead_convert': {
                    'invisible': ((Eval('crm_type') != 'lead')
                        | (Eval('lead_status_kind') != 'open')),
                    'depends': ['crm_type', 'lead_status_kind'],
                    },
                })

    @fields.depends('lead_status')
    def on_change_with_lead_status_kind(self, name=None):
        return self.lead_status.kind if self.lead_status else None

    @classmethod
    @ModelView.button_action('crm_portal.wizard_lead_convert')
    def lead_convert(cls, leads):
        pass

    def crm_match_contacts(self):
        """Return the persons matching the lead.

        By normalised phone or e-mail first, else by the exact name
        (case-insensitive)."""
        pool = Pool()
        Party = pool.get('party.party')
        Mechanism = pool.get('party.contact_mechanism')
        values = [v for v in [self.contact_phone_e164, self.contact_email]
            if v]
        parties = []
        if values:
            mechanisms = Mechanism.search([
                    ('value_compact', 'in', values),
                    ('party.crm_kind', '=', 'person'),
                    ], order=[('party', 'ASC')])
            parties = list({m.party: None for m in mechanisms})
        if not parties and (self.contact_name or '').strip():
            parties = Party.search([
                    ('name', 'ilike',
                        escape_wildcard(self.contact_name.strip())),
                    ('crm_kind', '=', 'person'),
                    ], order=[('id', 'ASC')])
        return parties

    def crm_match_companies(self, contacts=None):
        """Return the organisations matching the lead.

        By company name (case-insensitive), else the employers of contacts
        (the matched ones when not given)."""
        Party = Pool().get('party.party')
        parties = []
        if (self.contact_company_name or '').strip():
            parties = Party.search([
                    ('name', 'ilike',
                        escape_wildcard(self.contact_company_name.strip())),
                    ('crm_kind', '=', 'organisation'),
                    ], order=[('id', 'ASC')])
        if not parties:
            if contacts is None:
                contacts = self.crm_match_contacts()
            parties = list({c.employer: None for c in contacts
                    if c.employer and c.employer.active})
        return parties

    def check_lead_convertible(self):
        "Raise UserError unless the lead can be converted"
        if self.crm_type != 'lead':
            raise UserError(gettext(
                    'crm_portal.msg_lead_convert_not_lead',
                    record=self.rec_name))
        kind = self.lead_status.kind if self.lead_status else None
        if kind == 'converted' or (kind != 'junk' and self.deals):
            raise UserError(gettext(
                    'crm_portal.msg_lead_convert_already',
                    lead=self.rec_name))
        if kind != 'open':
            raise UserError(gettext(
                    'crm_portal.msg_lead_convert_not_open',
                    lead=self.rec_name,
                    status=self.lead_status.rec_name
                    if self.lead_status else ''))

    @classmethod
    def convert_lead(cls, lead, pipeline=None, stage=None,
            contact=None, company=None,
            create_contact=None, create_company=None,
            contact_name=None, company_name=None,
            title=None, amount=None):
        """Convert lead into a deal and return the deal.

        contact and company are party.party records to use. create_contact
        and create_company: True creates a new party from the lead, False
        uses only the one given, None (automatic) uses the single matching
        party, creates one when none matches and refuses when several
        match. pipeline defaults to the default pipeline of the company,
        stage to its first in-progress stage."""
        pool = Pool()
        Party = pool.get('party.party')
        Pipeline = pool.get('crm.pipeline')
        Status = pool.get('crm.lead.status')

        cls.lock([lead])
        lead = cls(lead.id)
        lead.check_lead_convertible()
        status = Status.get_first('converted')
        if not status:
            raise UserError(gettext('crm_portal.msg_lead_convert_no_status'))

        if pipeline is None:
            pipeline = Pipeline.get_default(lead.company.id, create=True)
        if pipeline.company != lead.company:
            raise UserError(gettext(
                    'crm_portal.msg_lead_convert_pipeline_company',
                    pipeline=pipeline.rec_name, lead=lead.rec_name))
        if stage is None:
            stage = pipeline.first_stage()

        if company is None and create_company is None:
            company, create_company = cls._convert_lead_auto(
                lead, lead.crm_match_companies(
                    [contact] if contact else None),
                bool((company_name or lead.contact_company_name or '')
                    .strip()),
                'crm_portal.msg_lead_convert_company_ambiguous')
        if create_company:
            company = lead._convert_lead_create_company(company_name)
        if contact is None and create_contact is None:
            contact, create_contact = cls._convert_lead_auto(
                lead, lead.crm_match_contacts(),
                bool(lead._convert_lead_contact_name(contact_name)),
                'crm_portal.msg_lead_convert_contact_ambiguous')
        if create_contact:
            contact = lead._convert_lead_create_contact(contact_name, company)
        if not contact and not company:
            raise UserError(gettext(
                    'crm_portal.msg_lead_convert_no_party',
                    lead=lead.rec_name))

        to_save = []
        for party in filter(None, [contact, company]):
            if not party.crm_responsible and lead.employee:
                party.crm_responsible = lead.employee
                to_save.append(party)
        if contact and company and not contact.employer:
            contact.employer = company
            if contact not in to_save:
                to_save.append(contact)
        if to_save:
            Party.save(to_save)

        values = lead._convert_lead_deal_values()
        values.update({
                'party': (company or contact).id,
                'contact_party': contact.id if contact else None,
                'pipeline': pipeline.id,
                'stage': stage.id if stage else None,
                'description': title if title is not None
                else lead.description,
                'amount': amount if amount is not None else lead.amount,
                })
        deal, = cls.create([values])

        cls.write([lead], {
                'lead_status': status.id,
                'party': (company or contact).id,
                'contact_party': contact.id if contact else None,
                })
        return deal

    @classmethod
    def _convert_lead_auto(cls, lead, matches, can_create, ambiguous):
        "Return the party to use and whether to create one"
        if len(matches) == 1:
            return matches[0], False
        elif len(matches) > 1:
            raise UserError(gettext(ambiguous,
                    lead=lead.rec_name,
                    parties=', '.join(p.rec_name for p in matches)))
        return None, can_create

    def _convert_lead_contact_name(self, name=None):
        return ((name or '').strip() or (self.contact_name or '').strip()
            or self.contact_email or (self.contact_phone or '').strip())

    def _convert_lead_create_contact(self, name=None, company=None):
        Party = Pool().get('party.party')
        name = self._convert_lead_contact_name(name)
        if not name:
            raise UserError(gettext(
                    'crm_portal.msg_lead_convert_contact_name',
                    lead=self.rec_name))
        mechanisms = []
        if self.contact_phone:
            mechanisms.append({'type': 'phone', 'value': self.contact_phone})
        if self.contact_email:
            mechanisms.append({'type': 'email', 'value': self.contact_email})
        contact, = Party.create([{
                    'name': name,
                    'crm_kind': 'person',
                    'employer': company.id if company else None,
                    'crm_source': self.source.id if self.source else None,
                    'crm_responsible': (
                        self.employee.id if self.employee else None),
                    'addresses': [('create', [{}])],
                    'contact_mechanisms': [('create', mechanisms)],
                    }])
        return contact

    def _convert_lead_create_company(self, name=None):
        Party = Pool().get('party.party')
        name = ((name or '').strip()
            or (self.contact_company_name or '').strip())
        if not name:
            raise UserError(gettext(
                    'crm_portal.msg_lead_convert_company_name',
                    lead=self.rec_name))
        company, = Party.create([{
                    'name': name,
                    'crm_kind': 'organisation',
                    'crm_source': self.source.id if self.source else None,
                    'crm_responsible': (
                        self.employee.id if self.employee else None),
                    'addresses': [('create', [{}])],
                    }])
        return company

    def _convert_lead_deal_values(self):
        "Values of the deal created from the lead"
        values = {'crm_type': 'deal', 'origin_lead': self.id}
        for name in _COPIED_FIELDS:
            value = getattr(self, name)
            if isinstance(value, Model):
                value = value.id
            values[name] = value
        if self.lines:
            values['lines'] = [('copy', [l.id for l in self.lines])]
        return values


class LeadConvertStart(ModelView):
    __name__ = 'crm.lead.convert.start'

    lead = fields.Many2One('sale.opportunity', "Lead", readonly=True)
    lead_company = fields.Many2One(
        'company.company', "Lead Company", readonly=True)
    pipeline = fields.Many2One(
        'crm.pipeline', "Pipeline", required=True,
        domain=[('company', '=', Eval('lead_company', -1))])
    stage = fields.Many2One(
        'crm.pipeline.stage', "Stage", required=True,
        domain=[
            ('pipeline', '=', Eval('pipeline', -1)),
            ('kind', '=', 'in_progress'),
            ])
    title = fields.Char("Title")
    amount = Monetary("Amount", currency='currency', digits='currency')
    currency = fields.Many2One('currency.currency', "Currency", readonly=True)

    create_contact = fields.Boolean(
        "Create Contact",
        help="Create a new contact from the lead instead of using "
        "an existing one.")
    contact_candidates = fields.Many2Many(
        'party.party', None, None, "Matching Contacts", readonly=True,
        context={
            'company': Eval('lead_company', -1),
            },
        depends={'lead_company'},
        states={
            'invisible': ~Bool(Eval('contact_candidates')),
            },
        help="Several contacts match the lead: choose one of them "
        "or create a new one.")
    contact = fields.Many2One(
        'party.party', "Contact",
        context={
            'company': Eval('lead_company', -1),
            },
        depends={'lead_company'},
        domain=[
            ('crm_kind', '=', 'person'),
            If(Bool(Eval('contact_candidates')),
                ('id', 'in', Eval('contact_candidates', [])),
                ()),
            ],
        states={
            'invisible': Bool(Eval('create_contact')),
            'required': (Bool(Eval('contact_candidates'))
                & ~Eval('create_contact')),
            },
        help="The existing contact the deal is for.")
    contact_name = fields.Char(
        "Contact Name",
        states={
            'invisible': ~Eval('create_contact'),
            'required': Bool(Eval('create_contact')),
            })

    create_company = fields.Boolean(
        "Create Company",
        help="Create a new company from the lead instead of using "
        "an existing one.")
    company_candidates = fields.Many2Many(
        'party.party', None, None, "Matching Companies", readonly=True,
        context={
            'company': Eval('lead_company', -1),
            },
        depends={'lead_company'},
        states={
            'invisible': ~Bool(Eval('company_candidates')),
            },
        help="Several companies match the lead: choose one of them "
        "or create a new one.")
    company = fields.Many2One(
        'party.party', "Company",
        context={
            'company': Eval('lead_company', -1),
            },
        depends={'lead_company'},
        domain=[
            ('crm_kind', '=', 'organisation'),
            If(Bool(Eval('company_candidates')),
                ('id', 'in', Eval('company_candidates', [])),
                ()),
            ],
        states={
            'invisible': Bool(Eval('create_company')),
            'required': (Bool(Eval('company_candidates'))
                & ~Eval('create_company')),
            },
        help="The existing company the deal is for.")
    company_name = fields.Char(
        "Company Name",
        states={
            'invisible': ~Eval('create_company'),
            'required': Bool(Eval('create_company')),
            })

    @fields.depends('pipeline', 'stage')
    def on_change_pipeline(self):
        if self.pipeline and (
                not self.stage or self.stage.pipeline != self.pipeline):
            self.stage = self.pipeline.first_stage()

    @fields.depends(
        'contact', 'company', 'create_company', 'company_candidates')
    def on_change_contact(self):
        if (self.contact and self.contact.employer
                and not self.company and not self.create_company
                and (not self.company_candidates
                    or self.contact.employer in self.company_candidates)):
            self.company = self.contact.employer


class LeadConvert(Wizard):
    __name__ = 'crm.lead.convert'

    start = StateView(
        'crm.lead.convert.start',
        'crm_portal.lead_convert_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Convert", 'convert', 'tryton-ok', default=True),
            ])
    convert = StateAction('crm_portal.act_deal')

    def default_start(self, fields):
        Pipeline = Pool().get('crm.pipeline')
        if self.model.__name__ != 'sale.opportunity' or not self.record:
            raise AccessError(gettext('crm_portal.msg_lead_convert_no_lead'))
        lead = self.record
        lead.check_lead_convertible()
        pipeline = Pipeline.get_default(lead.company.id, create=True)
        stage = pipeline.first_stage() if pipeline else None
        defaults = {
            'lead': lead.id,
            'lead_company': lead.company.id,
            'pipeline': pipeline.id if pipeline else None,
            'stage': stage.id if stage else None,
            'title': lead.description,
            'amount': lead.amount,
            'currency': lead.currency.id,
            'contact_name': lead._convert_lead_contact_name(),
            'company_name': (lead.contact_company_name or '').strip() or None,
            'contact_candidates': [],
            'company_candidates': [],
            }
        contacts = lead.crm_match_contacts()
        if len(contacts) == 1:
            defaults['contact'], = [c.id for c in contacts]
        elif contacts:
            defaults['contact_candidates'] = [c.id for c in contacts]
        defaults['create_contact'] = (
            not contacts and bool(defaults['contact_name']))

        companies = lead.crm_match_companies(contacts)
        if len(companies) == 1:
            defaults['company'], = [c.id for c in companies]
        elif companies:
            defaults['company_candidates'] = [c.id for c in companies]
        defaults['create_company'] = (
            not companies and bool(defaults['company_name']))
        return defaults

    def do_convert(self, action):
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        start = self.start
        deal = Opportunity.convert_lead(
            self.record, pipeline=start.pipeline, stage=start.stage,
            contact=None if start.create_contact else start.contact,
            company=None if start.create_company else start.company,
            create_contact=bool(start.create_contact),
            create_company=bool(start.create_company),
            contact_name=start.contact_name,
            company_name=start.company_name,
            title=start.title, amount=start.amount)
        action['views'].reverse()
        return action, {'res_id': [deal.id]}
