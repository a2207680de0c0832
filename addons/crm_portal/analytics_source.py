# Sources: leads, deals and won amount per source and UTM campaign.
from sql import Null
from sql.aggregate import Count, Min, Sum
from sql.conditionals import Case, Coalesce

from trytond.i18n import lazy_gettext
from trytond.model import ModelSQL, ModelView, fields
from trytond.modules.currency.fields import Monetary
from trytond.pool import Pool

from .analytics import ReportMixin, period_where, report_filters


class SourceReport(ReportMixin, ModelSQL, ModelView):
    "Sources"
    __name__ = 'crm.analytics.source'

    source = fields.Many2One(
        'crm.source', lazy_gettext('crm_portal.msg_analytics_source'))
    utm_campaign = fields.Char(
        lazy_gettext('crm_portal.msg_analytics_utm_campaign'))
    leads = fields.Integer(lazy_gettext('crm_portal.msg_analytics_leads'))
    converted_leads = fields.Integer(
        lazy_gettext('crm_portal.msg_analytics_converted_leads'),
        help=lazy_gettext('crm_portal.msg_analytics_converted_leads_help'))
    conversion = fields.Function(fields.Float(
            lazy_gettext('crm_portal.msg_analytics_lead_conversion'),
            digits=(1, 4),
            help=lazy_gettext(
                'crm_portal.msg_analytics_lead_conversion_help')),
        'get_conversion')
    deals = fields.Integer(lazy_gettext('crm_portal.msg_analytics_deals'))
    deals_from_leads = fields.Integer(
        lazy_gettext('crm_portal.msg_analytics_deals_from_leads'))
    won = fields.Integer(lazy_gettext('crm_portal.msg_analytics_won'))
    won_amount = Monetary(
        lazy_gettext('crm_portal.msg_analytics_won_amount'),
        currency='currency', digits='currency')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [
            ('won_amount', 'DESC'), ('leads', 'DESC'), ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        company, pipeline, employee, _, _ = report_filters()

        record = Opportunity.__table__()
        origin = Opportunity.__table__()
        where = ((record.company == company)
            & record.crm_type.in_(['lead', 'deal']))
        period = period_where(record)
        if period is not None:
            where &= period
        if pipeline:
            where &= ((record.crm_type == 'lead')
                | (record.pipeline == pipeline))
        if employee:
            where &= record.employee == employee

        is_lead = record.crm_type == 'lead'
        is_deal = record.crm_type == 'deal'
        converted = is_lead & record.id.in_(origin.select(
                origin.origin_lead,
                where=(origin.origin_lead != Null)
                & (origin.crm_type == 'deal')))
        won = is_deal & (record.state == 'won')
        return record.select(
            Min(record.id).as_('id'),
            record.company.as_('company'),
            record.source.as_('source'),
            record.utm_campaign.as_('utm_campaign'),
            Sum(Case((is_lead, 1), else_=0)).as_('leads'),
            Sum(Case((converted, 1), else_=0)).as_('converted_leads'),
            Sum(Case((is_deal, 1), else_=0)).as_('deals'),
            Sum(Case((is_deal & (record.origin_lead != Null), 1),
                    else_=0)).as_('deals_from_leads'),
            Count(Case((won, record.id))).as_('won'),
            cls.won_amount.sql_cast(Sum(Case(
                        (won, Coalesce(record.amount, 0)),
                        else_=0))).as_('won_amount'),
            where=where,
            group_by=[record.company, record.source, record.utm_campaign])

    def get_conversion(self, name):
        if self.leads:
            return round(self.converted_leads / self.leads, 4)
        return 0.0

    def get_rec_name(self, name):
        names = [self.source.rec_name if self.source else '']
        if self.utm_campaign:
            names.append(self.utm_campaign)
        return ' / '.join(filter(None, names))
