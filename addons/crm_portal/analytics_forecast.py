# Forecast of open deals by expected close month; sales plan against won.
#
# The expected close date of an open deal is its end date; without one,
# its start date plus the average cycle (start to end date, in whole days)
# of the deals won in its pipeline; without won deals, its start date.
# The forecast weighs each deal amount by the probability of its stage.
from sql import Literal, Null, Union
from sql.aggregate import Avg, Count, Min, Sum
from sql.conditionals import Coalesce
from sql.functions import DateTrunc, Extract, Round

from trytond.i18n import lazy_gettext
from trytond.model import ModelSQL, ModelView, fields
from trytond.modules.currency.fields import Monetary
from trytond.pool import Pool

from .analytics import (
    ReportMixin, add_days, date_range_where, report_filters)


def _month_start(date):
    return date.replace(day=1) if date else None


class Forecast(ReportMixin, ModelSQL, ModelView):
    "Forecast"
    __name__ = 'crm.analytics.forecast'

    month = fields.Date(lazy_gettext('crm_portal.msg_analytics_month'))
    number = fields.Integer(
        lazy_gettext('crm_portal.msg_analytics_open_deals'))
    amount = Monetary(
        lazy_gettext('crm_portal.msg_analytics_open_amount'),
        currency='currency', digits='currency')
    weighted_amount = Monetary(
        lazy_gettext('crm_portal.msg_analytics_weighted_amount'),
        currency='currency', digits='currency',
        help=lazy_gettext('crm_portal.msg_analytics_weighted_amount_help'))

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('month', 'ASC'), ('id', 'ASC')]

    @classmethod
    def _cycles(cls, company):
        "Average won cycle in days per pipeline"
        Opportunity = Pool().get('sale.opportunity')
        won = Opportunity.__table__()
        days = Avg(Extract('EPOCH', won.end_date)
            - Extract('EPOCH', won.start_date)) / Literal(86400)
        return won.select(
            won.pipeline.as_('pipeline'),
            Round(days).as_('days'),
            where=(won.company == company)
            & (won.crm_type == 'deal')
            & (won.state == 'won')
            & (won.end_date != Null) & (won.start_date != Null),
            group_by=[won.pipeline])

    @classmethod
    def table_query(cls):
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Stage = pool.get('crm.pipeline.stage')
        Company = pool.get('company.company')
        Currency = pool.get('currency.currency')
        filters = report_filters()
        company_id, pipeline, employee = (
            filters.company, filters.pipeline, filters.employee)

        deal = Opportunity.__table__()
        stage = Stage.__table__()
        company = Company.__table__()
        currency = Currency.__table__()
        cycle = cls._cycles(company_id)

        expected = Coalesce(
            deal.end_date,
            add_days(deal.start_date, cycle.days),
            deal.start_date)
        month = cls.month.sql_cast(DateTrunc('month', expected))
        where = ((deal.company == company_id)
            & (deal.crm_type == 'deal')
            & (stage.kind == 'in_progress'))
        if pipeline:
            where &= deal.pipeline == pipeline
        if employee:
            where &= deal.employee == employee
        period = date_range_where(
            month, _month_start(filters.from_date), filters.to_date)
        if period is not None:
            where &= period
        amount = Coalesce(deal.amount, 0)
        # Per deal first: a month computed with parameters cannot be
        # grouped by on PostgreSQL.
        deals = (deal
            .join(stage, condition=deal.stage == stage.id)
            .join(cycle, 'LEFT', condition=cycle.pipeline == deal.pipeline)
            .select(
                deal.id.as_('id'),
                deal.company.as_('company'),
                month.as_('month'),
                amount.as_('amount'),
                (amount * Coalesce(stage.probability, 0)).as_('weighted'),
                where=where))
        weighted = Round(
            cls.weighted_amount.sql_cast(Sum(deals.weighted)),
            currency.digits)
        return (deals
            .join(company, condition=deals.company == company.id)
            .join(currency, condition=company.currency == currency.id)
            .select(
                Min(deals.id).as_('id'),
                deals.company.as_('company'),
                deals.month.as_('month'),
                Count(deals.id).as_('number'),
                cls.amount.sql_cast(Sum(deals.amount)).as_('amount'),
                weighted.as_('weighted_amount'),
                group_by=[deals.company, deals.month, currency.digits]))

    def get_rec_name(self, name):
        return self.month.strftime('%Y-%m') if self.month else ''


class PlanActual(ReportMixin, ModelSQL, ModelView):
    "Sales Plan against Won"
    __name__ = 'crm.analytics.sales_plan'

    employee = fields.Many2One(
        'company.employee', lazy_gettext('crm_portal.msg_analytics_employee'))
    month = fields.Date(lazy_gettext('crm_portal.msg_analytics_month'))
    plan = Monetary(
        lazy_gettext('crm_portal.msg_analytics_plan'),
        currency='currency', digits='currency')
    won = fields.Integer(lazy_gettext('crm_portal.msg_analytics_won'))
    won_amount = Monetary(
        lazy_gettext('crm_portal.msg_analytics_won_amount'),
        currency='currency', digits='currency')
    achievement = fields.Function(fields.Float(
            lazy_gettext('crm_portal.msg_analytics_achievement'),
            digits=(1, 4),
            help=lazy_gettext('crm_portal.msg_analytics_achievement_help')),
        'get_achievement')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [
            ('month', 'ASC'), ('employee', 'ASC'), ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        pool = Pool()
        Plan = pool.get('crm.sales.plan')
        Opportunity = pool.get('sale.opportunity')
        company, _, employee, from_date, to_date = report_filters()
        from_month = _month_start(from_date)

        plan = Plan.__table__()
        where = plan.company == company
        period = date_range_where(plan.month, from_month, to_date)
        if period is not None:
            where &= period
        if employee:
            where &= plan.employee == employee
        plans = plan.select(
            (plan.id * 2).as_('id'),
            plan.company.as_('company'),
            plan.employee.as_('employee'),
            plan.month.as_('month'),
            plan.amount.as_('plan'),
            Literal(0).as_('won'),
            Literal(0).as_('won_amount'),
            where=where)

        deal = Opportunity.__table__()
        month = cls.month.sql_cast(DateTrunc('month', deal.end_date))
        where = ((deal.company == company)
            & (deal.crm_type == 'deal')
            & (deal.state == 'won')
            & (deal.employee != Null)
            & (deal.end_date != Null))
        period = date_range_where(deal.end_date, from_month, to_date)
        if period is not None:
            where &= period
        if employee:
            where &= deal.employee == employee
        deals = deal.select(
            (deal.id * 2 + 1).as_('id'),
            deal.company.as_('company'),
            deal.employee.as_('employee'),
            month.as_('month'),
            Literal(0).as_('plan'),
            Literal(1).as_('won'),
            Coalesce(deal.amount, 0).as_('won_amount'),
            where=where)

        union = Union(plans, deals, all_=True)
        return union.select(
            Min(union.id).as_('id'),
            union.company.as_('company'),
            union.employee.as_('employee'),
            union.month.as_('month'),
            cls.plan.sql_cast(Sum(union.plan)).as_('plan'),
            Sum(union.won).as_('won'),
            cls.won_amount.sql_cast(Sum(union.won_amount)).as_('won_amount'),
            group_by=[union.company, union.employee, union.month])

    def get_achievement(self, name):
        if self.plan:
            return round(float(self.won_amount or 0) / float(self.plan), 4)

    def get_rec_name(self, name):
        return '%s %s' % (
            self.employee.rec_name if self.employee else '',
            self.month.strftime('%Y-%m') if self.month else '')
