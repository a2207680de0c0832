# Manager activity: activities done and deals won per employee and period.
from sql import Literal, Null, Union
from sql.aggregate import Sum
from sql.conditionals import Case, Coalesce

from trytond.i18n import lazy_gettext
from trytond.model import ModelSQL, ModelView, fields
from trytond.modules.currency.fields import Monetary
from trytond.pool import Pool

from .analytics import ReportMixin, date_range_where, report_filters

_TYPES = ['call', 'meeting', 'email', 'task']


class ManagerActivity(ReportMixin, ModelSQL, ModelView):
    "Manager Activity"
    __name__ = 'crm.analytics.activity'

    employee = fields.Many2One(
        'company.employee', lazy_gettext('crm_portal.msg_analytics_employee'))
    calls = fields.Integer(lazy_gettext('crm_portal.msg_analytics_calls'))
    meetings = fields.Integer(
        lazy_gettext('crm_portal.msg_analytics_meetings'))
    emails = fields.Integer(lazy_gettext('crm_portal.msg_analytics_emails'))
    tasks = fields.Integer(lazy_gettext('crm_portal.msg_analytics_tasks'))
    activities = fields.Integer(
        lazy_gettext('crm_portal.msg_analytics_activities'),
        help=lazy_gettext('crm_portal.msg_analytics_activities_help'))
    won = fields.Integer(lazy_gettext('crm_portal.msg_analytics_won'))
    won_amount = Monetary(
        lazy_gettext('crm_portal.msg_analytics_won_amount'),
        currency='currency', digits='currency')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('employee', 'ASC'), ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        pool = Pool()
        Activity = pool.get('crm.activity')
        Opportunity = pool.get('sale.opportunity')
        company, _, employee, from_date, to_date = report_filters()

        activity = Activity.__table__()
        where = ((activity.company == company)
            & (activity.done == Literal(True))
            & (activity.responsible != Null)
            & activity.type.in_(_TYPES))
        period = date_range_where(
            activity.done_date, from_date, to_date, timestamp=True)
        if period is not None:
            where &= period
        if employee:
            where &= activity.responsible == employee
        activities = activity.select(
            activity.company.as_('company'),
            activity.responsible.as_('employee'),
            *[Case((activity.type == t, 1), else_=0).as_(t)
                for t in _TYPES],
            Literal(1).as_('done'),
            Literal(0).as_('won'),
            Literal(0).as_('won_amount'),
            where=where)

        deal = Opportunity.__table__()
        where = ((deal.company == company)
            & (deal.crm_type == 'deal')
            & (deal.state == 'won')
            & (deal.employee != Null))
        period = date_range_where(deal.end_date, from_date, to_date)
        if period is not None:
            where &= period
        if employee:
            where &= deal.employee == employee
        deals = deal.select(
            deal.company.as_('company'),
            deal.employee.as_('employee'),
            *[Literal(0).as_(t) for t in _TYPES],
            Literal(0).as_('done'),
            Literal(1).as_('won'),
            Coalesce(deal.amount, 0).as_('won_amount'),
            where=where)

        union = Union(activities, deals, all_=True)
        return union.select(
            union.employee.as_('id'),
            union.company.as_('company'),
            union.employee.as_('employee'),
            Sum(union.call).as_('calls'),
            Sum(union.meeting).as_('meetings'),
            Sum(union.email).as_('emails'),
            Sum(union.task).as_('tasks'),
            Sum(union.done).as_('activities'),
            Sum(union.won).as_('won'),
            cls.won_amount.sql_cast(Sum(union.won_amount)).as_('won_amount'),
            group_by=[union.company, union.employee])

    def get_rec_name(self, name):
        return self.employee.rec_name if self.employee else ''

    @classmethod
    def search_rec_name(cls, name, clause):
        return [('employee.rec_name',) + tuple(clause[1:])]
