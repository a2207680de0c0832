# Leads and deals on sale.opportunity: pipelines, stages, sources, UTM.
import datetime

from sql import Null

from trytond.i18n import gettext
from trytond.model import Index, ModelView, fields
from trytond.model.exceptions import ValidationError
from trytond.modules.currency.fields import Monetary
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.transaction import Transaction, without_check_access

from .phone import default_regions, normalize_email, normalize_phone
from .pipeline import STAGE_KINDS

CRM_TYPES = [
    ('lead', "Lead"),
    ('deal', "Deal"),
    ]
_QUOTE_STATES = {'draft', 'quotation'}
_ORDER_STATES = {'confirmed', 'processing', 'done'}


class Opportunity(metaclass=PoolMeta):
    __name__ = 'sale.opportunity'

    crm_type = fields.Selection(CRM_TYPES, "Type", required=True, readonly=True)
    lead_status = fields.Many2One(
        'crm.lead.status', "Status", ondelete='RESTRICT',
        states={
            'invisible': Eval('crm_type') != 'lead',
            'required': Eval('crm_type') == 'lead',
            })
    pipeline = fields.Many2One(
        'crm.pipeline', "Pipeline", ondelete='RESTRICT',
        domain=[('company', '=', Eval('company', -1))],
        states={
            'invisible': Eval('crm_type') != 'deal',
            'required': Eval('crm_type') == 'deal',
            })
    stage = fields.Many2One(
        'crm.pipeline.stage', "Stage", ondelete='RESTRICT',
        domain=[('pipeline', '=', Eval('pipeline', -1))],
        states={
            'invisible': Eval('crm_type') != 'deal',
            'required': Eval('crm_type') == 'deal',
            })
    stage_kind = fields.Function(
        fields.Selection([(None, "")] + STAGE_KINDS, "Stage Kind"),
        'on_change_with_stage_kind', searcher='search_stage_kind')
    stage_changed = fields.DateTime("Stage Changed", readonly=True)
    source = fields.Many2One('crm.source', "Source", ondelete='RESTRICT')
    utm_source = fields.Char("UTM Source")
    utm_medium = fields.Char("UTM Medium")
    utm_campaign = fields.Char("UTM Campaign")
    utm_content = fields.Char("UTM Content")
    utm_term = fields.Char("UTM Term")
    contact_name = fields.Char(
        "Contact Name", help="The name the client gave, before a contact "
        "is linked.")
    contact_company_name = fields.Char("Company Name")
    contact_phone = fields.Char("Phone")
    contact_phone_e164 = fields.Char("Phone (E.164)", readonly=True)
    contact_email = fields.Char("E-mail")
    phone_invalid = fields.Function(
        fields.Boolean("Unrecognised Phone"), 'get_phone_invalid')
    contact_party = fields.Many2One(
        'party.party', "Contact", ondelete='RESTRICT',
        domain=[('crm_kind', '=', 'person')],
        context={'crm_kind': 'person', 'company': Eval('company', -1)},
        depends={'company'},
        help="The person to talk to; the party is the client.")
    origin_lead = fields.Many2One(
        'sale.opportunity', "Lead", readonly=True, ondelete='SET NULL',
        domain=[('crm_type', '=', 'lead')],
        states={'invisible': Eval('crm_type') != 'deal'},
        help="The lead this deal was converted from.")
    deals = fields.One2Many(
        'sale.opportunity', 'origin_lead', "Deals", readonly=True,
        states={'invisible': Eval('crm_type') != 'lead'})
    activities = fields.One2Many(
        'crm.activity', 'opportunity', "Activities")
    invoices = fields.Function(
        fields.Many2Many('account.invoice', None, None, "Invoices"),
        'get_invoices')
    quoted_amount = fields.Function(Monetary(
            "Quoted", currency='currency', digits='currency'),
        'get_sale_amounts')
    ordered_amount = fields.Function(Monetary(
            "Ordered", currency='currency', digits='currency'),
        'get_sale_amounts')
    invoiced_amount = fields.Function(Monetary(
            "Invoiced", currency='currency', digits='currency'),
        'get_sale_amounts')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.description.string = "Title"
        cls.employee.string = "Responsible"
        # A deal may wait unassigned in a pipeline (intake without a team).
        cls.employee.states = cls.employee.states.copy()
        cls.employee.states.pop('required', None)
        cls.lost_reason.states = {
            'invisible': ((Eval('state') != 'lost')
                & (Eval('stage_kind') != 'lost')),
            'required': Eval('stage_kind') == 'lost',
            }
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.contact_phone_e164, Index.Equality()),
                    where=t.contact_phone_e164 != Null),
                Index(t, (t.contact_email, Index.Equality()),
                    where=t.contact_email != Null),
                Index(t, (t.crm_type, Index.Equality(cardinality='low')),
                    (t.stage, Index.Equality())),
                })
        # Won and lost follow the stage, with or without a sale.
        cls._transitions |= {
            ('opportunity', 'won'),
            ('won', 'opportunity'),
            ('lost', 'opportunity'),
            ('converted', 'opportunity'),
            }
        cls._buttons.update({
                'create_quote': {
                    'invisible': ((Eval('crm_type') != 'deal')
                        | Eval('state').in_(['lost', 'cancelled'])),
                    'depends': ['crm_type', 'state'],
                    },
                })

    @staticmethod
    def default_crm_type():
        return Transaction().context.get('crm_type', 'deal')

    @classmethod
    def default_state(cls):
        if cls.default_crm_type() == 'deal':
            return 'opportunity'
        return 'lead'

    @classmethod
    def default_lead_status(cls):
        Status = Pool().get('crm.lead.status')
        if cls.default_crm_type() == 'lead':
            status = Status.get_first('open')
            return status.id if status else None

    @classmethod
    def default_pipeline(cls):
        Pipeline = Pool().get('crm.pipeline')
        if cls.default_crm_type() == 'deal':
            pipeline = Pipeline.get_default()
            return pipeline.id if pipeline else None

    @classmethod
    def default_stage(cls):
        Pipeline = Pool().get('crm.pipeline')
        if cls.default_crm_type() == 'deal':
            pipeline = Pipeline.get_default()
            stage = pipeline.first_stage() if pipeline else None
            return stage.id if stage else None

    @fields.depends('pipeline', 'stage')
    def on_change_pipeline(self):
        if self.pipeline and (
                not self.stage or self.stage.pipeline != self.pipeline):
            self.stage = self.pipeline.first_stage()

    @fields.depends('stage')
    def on_change_with_stage_kind(self, name=None):
        return self.stage.kind if self.stage else None

    @classmethod
    def search_stage_kind(cls, name, clause):
        return [('stage.kind',) + tuple(clause[1:])]

    @fields.depends('stage', 'conversion_probability')
    def on_change_stage(self):
        if self.stage:
            self.conversion_probability = self.stage.probability

    @fields.depends('contact_phone', 'company')
    def on_change_contact_phone(self):
        self.contact_phone_e164 = self._normalize_phone(
            self.contact_phone, self.company)

    @staticmethod
    def _normalize_phone(value, company=None):
        return normalize_phone(
            value, default_regions(company.id if company else None))

    def get_phone_invalid(self, name):
        return bool(self.contact_phone and not self.contact_phone_e164)

    @classmethod
    def preprocess_values(cls, mode, values):
        pool = Pool()
        Pipeline = pool.get('crm.pipeline')
        Stage = pool.get('crm.pipeline.stage')
        Status = pool.get('crm.lead.status')
        values = super().preprocess_values(mode, values)
        if 'contact_phone' in values:
            company = values.get('company', cls.default_company())
            values['contact_phone_e164'] = normalize_phone(
                values['contact_phone'], default_regions(company))
        if values.get('contact_email'):
            values['contact_email'] = (
                normalize_email(values['contact_email'])
                or values['contact_email'].strip())
        if mode == 'create':
            crm_type = values.setdefault('crm_type', cls.default_crm_type())
            if crm_type == 'deal':
                values.setdefault('state', 'opportunity')
                if not values.get('pipeline'):
                    # The standard pipeline is set up for whoever makes the
                    # company's first deal, not only for administrators.
                    with without_check_access():
                        pipeline = Pipeline.get_default(
                            values.get('company', cls.default_company()),
                            create=True)
                    values['pipeline'] = pipeline.id if pipeline else None
                if not values.get('stage') and values.get('pipeline'):
                    stage = Pipeline(values['pipeline']).first_stage()
                    values['stage'] = stage.id if stage else None
                if values.get('stage'):
                    stage = Stage(values['stage'])
                    values.setdefault(
                        'conversion_probability', stage.probability)
            elif crm_type == 'lead':
                values.setdefault('state', 'lead')
                if not values.get('lead_status'):
                    status = Status.get_first('open')
                    values['lead_status'] = status.id if status else None
        if 'stage' in values:
            values.setdefault('stage_changed', datetime.datetime.now())
        return values

    @classmethod
    def on_modification(cls, mode, opportunities, field_names=None):
        super().on_modification(mode, opportunities, field_names=field_names)
        if mode in {'create', 'write'} and (
                field_names is None or field_names & {'stage', 'lead_status'}):
            cls._sync_state(opportunities)

    @classmethod
    def _sync_state(cls, opportunities):
        "Move the workflow state to follow the stage or the lead status"
        Date = Pool().get('ir.date')
        to_write = []
        for opportunity in opportunities:
            state = opportunity._state_for_crm()
            if state and state != opportunity.state:
                values = {'state': state}
                if state in {'won', 'lost'} and not opportunity.end_date:
                    values['end_date'] = Date.today()
                elif state in {'opportunity', 'converted', 'lead'}:
                    values['end_date'] = None
                to_write.extend(([opportunity], values))
        if to_write:
            cls.write(*to_write)

    def _state_for_crm(self):
        if self.crm_type == 'deal' and self.stage:
            if self.stage.kind in {'won', 'lost'}:
                return self.stage.kind
            if self.state in {'won', 'lost', 'lead', 'cancelled'}:
                return 'converted' if self.sales else 'opportunity'
        elif self.crm_type == 'lead' and self.lead_status:
            if self.lead_status.kind == 'junk':
                return 'lost'
            if self.state == 'lost':
                return 'lead'

    @classmethod
    def validate_fields(cls, opportunities, field_names):
        super().validate_fields(opportunities, field_names)
        if field_names and not (
                field_names & {'stage', 'pipeline', 'lost_reason'}):
            return
        for opportunity in opportunities:
            if opportunity.crm_type != 'deal':
                continue
            if (opportunity.stage and opportunity.pipeline
                    and opportunity.stage.pipeline != opportunity.pipeline):
                raise ValidationError(gettext(
                        'crm_portal.msg_stage_pipeline',
                        stage=opportunity.stage.rec_name,
                        pipeline=opportunity.pipeline.rec_name))
            if (opportunity.stage and opportunity.stage.kind == 'lost'
                    and not (opportunity.lost_reason or '').strip()):
                raise ValidationError(gettext(
                        'crm_portal.msg_lost_reason_required',
                        deal=opportunity.rec_name))

    @classmethod
    def _move_to_stage_kind(cls, opportunities, kind):
        "Put deals on the first stage of kind of their pipeline"
        to_write = []
        for opportunity in opportunities:
            if (opportunity.crm_type == 'deal' and opportunity.pipeline
                    and opportunity.stage_kind != kind):
                stage = opportunity.pipeline.first_stage(kind)
                if stage:
                    to_write.extend(([opportunity], {'stage': stage.id}))
        if to_write:
            cls.write(*to_write)

    @classmethod
    def won(cls, opportunities):
        super().won(opportunities)
        cls._move_to_stage_kind(opportunities, 'won')

    @classmethod
    def lost(cls, opportunities):
        # A sale cancelled by the client loses the deal: say why.
        for opportunity in opportunities:
            if opportunity.crm_type == 'deal' and not opportunity.lost_reason:
                opportunity.lost_reason = gettext(
                    'crm_portal.msg_lost_reason_sales_cancelled')
        cls.save(opportunities)
        super().lost(opportunities)
        cls._move_to_stage_kind(opportunities, 'lost')

    def get_rec_name(self, name):
        name = super().get_rec_name(name)
        if self.description:
            name += ' ' + self.description
        return name

    @classmethod
    def search_rec_name(cls, name, clause):
        domain = super().search_rec_name(name, clause)
        return domain + [('description',) + tuple(clause[1:])]

    def get_invoices(self, name):
        return sorted({i.id for s in self.sales for i in s.invoices})

    @classmethod
    def get_sale_amounts(cls, opportunities, names):
        pool = Pool()
        Currency = pool.get('currency.currency')
        result = {n: {o.id: None for o in opportunities} for n in names}
        for opportunity in opportunities:
            quoted = ordered = invoiced = 0
            for sale in opportunity.sales:
                amount = Currency.compute(
                    sale.currency, sale.untaxed_amount or 0,
                    opportunity.currency, round=False)
                if sale.state in _QUOTE_STATES:
                    quoted += amount
                elif sale.state in _ORDER_STATES:
                    ordered += amount
                for invoice in sale.invoices:
                    if invoice.state in {'posted', 'paid'}:
                        invoiced += Currency.compute(
                            invoice.currency, invoice.untaxed_amount,
                            opportunity.currency, round=False)
            values = {
                'quoted_amount': quoted,
                'ordered_amount': ordered,
                'invoiced_amount': invoiced,
                }
            for name in names:
                result[name][opportunity.id] = opportunity.currency.round(
                    values[name])
        return result

    @classmethod
    @ModelView.button_action('sale.act_sale_form')
    def create_quote(cls, opportunities):
        "Create a sale quotation from the deal and its lines"
        pool = Pool()
        Sale = pool.get('sale.sale')
        sales = []
        for opportunity in opportunities:
            if not opportunity.party:
                raise ValidationError(gettext(
                        'crm_portal.msg_quote_party_required',
                        deal=opportunity.rec_name))
            sale = opportunity.create_sale()
            if opportunity.contact_party and not sale.contact:
                mechanism = opportunity.contact_party.contact_mechanism_get(
                    {'email', 'phone', 'mobile'})
                sale.contact = mechanism
            sales.append(sale)
        Sale.save(sales)
        for sale in sales:
            sale.origin.copy_resources_to(sale)
        Sale.quote([s for s in sales if s.lines])
        return {'res_id': [s.id for s in sales]}

    def _get_sale_opportunity(self):
        sale = super()._get_sale_opportunity()
        if not sale.description:
            sale.description = self.description
        return sale
