# CRM analytics: deal stage history, the reporting context, sales plans.
#
# The reports themselves are in analytics_funnel.py, analytics_activity.py,
# analytics_source.py and analytics_forecast.py.
import datetime
from collections import namedtuple

from dateutil.relativedelta import relativedelta
from sql import Cast, Literal, Null
from sql.conditionals import Coalesce
from sql.functions import CurrentTimestamp, Function
from sql.operators import Concat

from trytond import backend
from trytond.i18n import gettext, lazy_gettext
from trytond.model import Index, ModelSQL, ModelView, Unique, fields
from trytond.model.exceptions import ValidationError
from trytond.modules.currency.fields import Monetary
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval, If
from trytond.transaction import Transaction, without_check_access


class _SQLiteDate(Function):
    __slots__ = ()
    _function = 'DATE'


def add_days(date, days):
    "SQL expression: date plus an integer number of days (portable)"
    if backend.name == 'sqlite':
        return _SQLiteDate(
            date, Concat(Concat('+', Cast(days, 'INTEGER')), ' days'))
    return date + Cast(days, 'INTEGER')


def date_range_where(column, from_date, to_date, timestamp=False):
    "SQL condition: column within [from_date, to_date] (days inclusive)"
    where = None

    def and_(a, b):
        return b if a is None else a & b
    if from_date:
        start = from_date
        if timestamp:
            start = datetime.datetime.combine(from_date, datetime.time())
        where = and_(where, column >= start)
    if to_date:
        if timestamp:
            stop = datetime.datetime.combine(
                to_date + datetime.timedelta(days=1), datetime.time())
            where = and_(where, column < stop)
        else:
            where = and_(where, column <= to_date)
    return where


class StageHistory(ModelSQL, ModelView):
    "When a deal entered and left each stage; feeds the funnel report"
    __name__ = 'crm.deal.stage.history'

    deal = fields.Many2One(
        'sale.opportunity', "Deal", required=True, ondelete='CASCADE',
        domain=[('crm_type', '=', 'deal')])
    stage = fields.Many2One(
        'crm.pipeline.stage', "Stage", required=True, ondelete='CASCADE')
    entered = fields.DateTime("Entered", required=True)
    left = fields.DateTime(
        "Left", domain=[If(Eval('left'),
                ('left', '>=', Eval('entered')), ())],
        help="Empty while the deal is still in the stage.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('deal')
        t = cls.__table__()
        cls._order = [('entered', 'ASC'), ('id', 'ASC')]
        cls._sql_indexes.update({
                Index(t, (t.deal, Index.Range())),
                Index(t, (t.stage, Index.Range())),
                })

    @classmethod
    def __register__(cls, module):
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        exists = backend.TableHandler.table_exist(cls._table)
        super().__register__(module)
        if exists:
            return
        # Deals created before the history existed start in their stage.
        cursor = Transaction().connection.cursor()
        table = cls.__table__()
        opportunity = Opportunity.__table__()
        opportunity_h = Opportunity.__table_handler__(module)
        if not (opportunity_h.column_exist('stage')
                and opportunity_h.column_exist('crm_type')):
            return
        cursor.execute(*table.insert(
                [table.deal, table.stage, table.entered,
                    table.create_uid, table.create_date],
                opportunity.select(
                    opportunity.id, opportunity.stage,
                    Coalesce(opportunity.stage_changed,
                        opportunity.create_date),
                    Literal(0), CurrentTimestamp(),
                    where=(opportunity.crm_type == 'deal')
                    & (opportunity.stage != Null))))

    @classmethod
    def record(cls, deals, now=None):
        """Close the open row and open one for the new stage of deals.

        One search, one update and one insert per call, whatever the
        number of deals; deals whose stage did not change are left alone."""
        deals = [d for d in deals if d.crm_type == 'deal' and d.stage]
        if not deals:
            return
        if now is None:
            now = datetime.datetime.now()
        with without_check_access():
            opened = {h.deal.id: h for h in cls.search([
                        ('deal', 'in', [d.id for d in deals]),
                        ('left', '=', None),
                        ])}
            to_close, to_create = [], []
            for deal in deals:
                row = opened.get(deal.id)
                if row and row.stage == deal.stage:
                    continue
                if row:
                    to_close.append(row)
                to_create.append({
                        'deal': deal.id,
                        'stage': deal.stage.id,
                        'entered': now,
                        })
            if to_close:
                cls.write(to_close, {'left': now})
            if to_create:
                cls.create(to_create)

    def get_rec_name(self, name):
        return '%s @ %s' % (self.deal.rec_name, self.stage.rec_name)


class Opportunity(metaclass=PoolMeta):
    __name__ = 'sale.opportunity'

    stage_history = fields.One2Many(
        'crm.deal.stage.history', 'deal', "Stage History", readonly=True,
        states={'invisible': Eval('crm_type') != 'deal'})

    @classmethod
    def on_modification(cls, mode, opportunities, field_names=None):
        super().on_modification(mode, opportunities, field_names=field_names)
        if mode in {'create', 'write'} and (
                field_names is None or 'stage' in field_names):
            Pool().get('crm.deal.stage.history').record(opportunities)

    @classmethod
    def copy(cls, opportunities, default=None):
        default = default.copy() if default else {}
        default.setdefault('stage_history')
        return super().copy(opportunities, default=default)


class Context(ModelView):
    "Filters of the CRM reports"
    __name__ = 'crm.analytics.context'

    company = fields.Many2One('company.company', "Company", required=True)
    pipeline = fields.Many2One(
        'crm.pipeline', "Pipeline",
        domain=[('company', '=', Eval('company', -1))],
        help="Leave empty for all pipelines.")
    # Not "employee": that context key is the user's own employee.
    employee_filter = fields.Many2One(
        'company.employee', "Employee",
        domain=[('company', '=', Eval('company', -1))],
        help="Leave empty for all employees.")
    from_date = fields.Date("From Date",
        domain=[
            If(Eval('to_date') & Eval('from_date'),
                ('from_date', '<=', Eval('to_date')),
                ()),
            ])
    to_date = fields.Date("To Date",
        domain=[
            If(Eval('from_date') & Eval('to_date'),
                ('to_date', '>=', Eval('from_date')),
                ()),
            ])
    date_field = fields.Selection([
            ('start_date', "Start Date"),
            ('create_date', "Creation Date"),
            ], "Period On", required=True,
        help="Which date of leads and deals the period applies to.")

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def default_pipeline(cls):
        return Transaction().context.get('pipeline')

    @classmethod
    def default_employee_filter(cls):
        return Transaction().context.get('employee_filter')

    @classmethod
    def default_from_date(cls):
        pool = Pool()
        Date = pool.get('ir.date')
        context = Transaction().context
        if 'from_date' in context:
            return context['from_date']
        return Date.today() - relativedelta(years=1)

    @classmethod
    def default_to_date(cls):
        pool = Pool()
        Date = pool.get('ir.date')
        context = Transaction().context
        if 'to_date' in context:
            return context['to_date']
        return Date.today()

    @classmethod
    def default_date_field(cls):
        return Transaction().context.get('date_field', 'start_date')


ReportFilters = namedtuple('ReportFilters', [
        'company', 'pipeline', 'employee', 'from_date', 'to_date'])


def report_filters():
    "The filters of the reporting context (crm.analytics.context)"
    context = Transaction().context
    return ReportFilters(
        company=context.get('company'),
        pipeline=context.get('pipeline'),
        employee=context.get('employee_filter'),
        from_date=context.get('from_date'),
        to_date=context.get('to_date'))


class ReportMixin:
    "A report row of a company, with amounts in the company's currency"
    __slots__ = ()

    company = fields.Many2One(
        'company.company', lazy_gettext('crm_portal.msg_analytics_company'))
    currency = fields.Function(fields.Many2One(
            'currency.currency',
            lazy_gettext('crm_portal.msg_analytics_currency')),
        'get_currency')

    def get_currency(self, name):
        return self.company.currency.id if self.company else None


def period_where(opportunity):
    """The condition of the report period on leads and deals, or None"""
    filters = report_filters()
    column, timestamp = context_date_column(opportunity)
    return date_range_where(
        column, filters.from_date, filters.to_date, timestamp=timestamp)


def context_date_column(opportunity):
    "The column of sale.opportunity the report period applies to"
    date_field = Transaction().context.get('date_field') or 'start_date'
    if date_field == 'create_date':
        return opportunity.create_date, True
    return opportunity.start_date, False


class SalesPlan(ModelSQL, ModelView):
    "Amount an employee is expected to win in a month"
    __name__ = 'crm.sales.plan'

    company = fields.Many2One('company.company', "Company", required=True)
    employee = fields.Many2One(
        'company.employee', "Employee", required=True, ondelete='CASCADE',
        domain=[('company', '=', Eval('company', -1))])
    month = fields.Date(
        "Month", required=True,
        help="Any day of the month; the first day is stored.")
    amount = Monetary(
        "Amount", currency='currency', digits='currency', required=True,
        domain=[('amount', '>=', 0)])
    currency = fields.Function(
        fields.Many2One('currency.currency', "Currency"),
        'on_change_with_currency')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('employee_month_unique',
                Unique(t, t.company, t.employee, t.month),
                'crm_portal.msg_sales_plan_unique'),
            ]
        cls._order = [
            ('month', 'DESC'), ('employee', 'ASC'), ('id', 'ASC')]

    @staticmethod
    def default_company():
        return Transaction().context.get('company')

    @fields.depends('company')
    def on_change_with_currency(self, name=None):
        return self.company.currency if self.company else None

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        if values.get('month'):
            values['month'] = values['month'].replace(day=1)
        return values

    @classmethod
    def validate_fields(cls, plans, field_names):
        super().validate_fields(plans, field_names)
        for plan in plans:
            if plan.employee.company != plan.company:
                raise ValidationError(gettext(
                        'crm_portal.msg_sales_plan_employee_company',
                        employee=plan.employee.rec_name,
                        company=plan.company.rec_name))

    def get_rec_name(self, name):
        return '%s %s' % (
            self.employee.rec_name, self.month.strftime('%Y-%m'))
