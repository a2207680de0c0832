# Sales funnel per pipeline stage, from the deal stage history.
#
# A deal "reached" an in-progress stage when its history (or its current
# stage) holds that stage or a later in-progress stage of its pipeline;
# a won deal reached every in-progress stage; a lost deal reached the
# stages up to the one it was lost from. The won and lost rows count the
# deals that are in them now. Stages are ordered by sequence (empty first),
# then by id.
from sql import Literal, Null, Window
from sql.aggregate import Avg, Max, Sum
from sql.conditionals import Case, Coalesce, Greatest
from sql.functions import Extract, RowNumber

from trytond.i18n import lazy_gettext
from trytond.model import ModelSQL, ModelView, fields
from trytond.modules.currency.fields import Monetary
from trytond.pool import Pool

from .analytics import ReportMixin, period_where, report_filters
from .pipeline import STAGE_KINDS


def _stages(company, pipeline=None):
    "Stages of the company's pipelines with their position in the funnel"
    pool = Pool()
    Stage = pool.get('crm.pipeline.stage')
    Pipeline = pool.get('crm.pipeline')
    stage = Stage.__table__()
    pipeline_t = Pipeline.__table__()
    kind_rank = Case(
        (stage.kind == 'in_progress', 0), (stage.kind == 'won', 1), else_=2)
    where = pipeline_t.company == company
    if pipeline:
        where &= pipeline_t.id == pipeline
    return (stage
        .join(pipeline_t, condition=stage.pipeline == pipeline_t.id)
        .select(
            stage.id.as_('id'),
            stage.pipeline.as_('pipeline'),
            stage.kind.as_('kind'),
            pipeline_t.company.as_('company'),
            RowNumber(window=Window([stage.pipeline], order_by=[
                        kind_rank,
                        Case((stage.sequence == Null, 0), else_=1),
                        stage.sequence, stage.id])).as_('position'),
            where=where))


def _deals(company, pipeline=None):
    "The deals of the report period"
    pool = Pool()
    Opportunity = pool.get('sale.opportunity')
    opportunity = Opportunity.__table__()
    where = ((opportunity.crm_type == 'deal')
        & (opportunity.company == company)
        & (opportunity.stage != Null))
    if pipeline:
        where &= opportunity.pipeline == pipeline
    period = period_where(opportunity)
    if period is not None:
        where &= period
    return opportunity.select(
        opportunity.id.as_('id'),
        opportunity.pipeline.as_('pipeline'),
        opportunity.stage.as_('stage'),
        Coalesce(opportunity.amount, 0).as_('amount'),
        where=where)


class Funnel(ReportMixin, ModelSQL, ModelView):
    "Sales Funnel"
    __name__ = 'crm.analytics.funnel'

    pipeline = fields.Many2One(
        'crm.pipeline', lazy_gettext('crm_portal.msg_analytics_pipeline'))
    stage = fields.Many2One(
        'crm.pipeline.stage', lazy_gettext('crm_portal.msg_analytics_stage'))
    kind = fields.Selection(
        STAGE_KINDS, lazy_gettext('crm_portal.msg_analytics_stage_kind'))
    position = fields.Integer(
        lazy_gettext('crm_portal.msg_analytics_position'))
    number = fields.Integer(
        lazy_gettext('crm_portal.msg_analytics_funnel_number'),
        help=lazy_gettext('crm_portal.msg_analytics_funnel_number_help'))
    amount = Monetary(
        lazy_gettext('crm_portal.msg_analytics_funnel_amount'),
        currency='currency', digits='currency')
    current_number = fields.Integer(
        lazy_gettext('crm_portal.msg_analytics_funnel_current_number'))
    current_amount = Monetary(
        lazy_gettext('crm_portal.msg_analytics_funnel_current_amount'),
        currency='currency', digits='currency')
    next_number = fields.Integer(
        lazy_gettext('crm_portal.msg_analytics_funnel_next_number'),
        help=lazy_gettext('crm_portal.msg_analytics_funnel_next_number_help'))
    conversion = fields.Function(fields.Float(
            lazy_gettext('crm_portal.msg_analytics_funnel_conversion'),
            digits=(1, 4),
            help=lazy_gettext(
                'crm_portal.msg_analytics_funnel_conversion_help')),
        'get_conversion')
    average_days = fields.Float(
        lazy_gettext('crm_portal.msg_analytics_funnel_average_days'),
        digits=(16, 2),
        help=lazy_gettext('crm_portal.msg_analytics_funnel_average_days_help'))

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [
            ('pipeline', 'ASC'), ('position', 'ASC'), ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        pool = Pool()
        History = pool.get('crm.deal.stage.history')
        filters = report_filters()
        company, pipeline = filters.company, filters.pipeline

        # Per deal: the furthest in-progress stage position it reached.
        deal = _deals(company, pipeline)
        current = _stages(company, pipeline)
        reached_stage = _stages(company, pipeline)
        history = History.__table__()
        reach = (deal
            .join(current, condition=deal.stage == current.id)
            .join(history, 'LEFT', condition=history.deal == deal.id)
            .join(reached_stage, 'LEFT',
                condition=(history.stage == reached_stage.id)
                & (reached_stage.kind == 'in_progress'))
            .select(
                deal.id.as_('deal'),
                deal.pipeline.as_('pipeline'),
                deal.stage.as_('stage'),
                deal.amount.as_('amount'),
                current.kind.as_('kind'),
                Greatest(
                    Max(reached_stage.position),
                    Max(Case((current.kind == 'in_progress',
                                current.position)))).as_('reached'),
                group_by=[deal.id, deal.pipeline, deal.stage, deal.amount,
                    current.kind]))

        # Per stage: the average time closed stays lasted.
        stay_deal = _deals(company, pipeline)
        stay = History.__table__()
        stays = (stay
            .join(stay_deal, condition=stay.deal == stay_deal.id)
            .select(
                stay.stage.as_('stage'),
                Avg(Extract('EPOCH', stay.left)
                    - Extract('EPOCH', stay.entered)).as_('seconds'),
                where=stay.left != Null,
                group_by=[stay.stage]))

        stage = _stages(company, pipeline)
        in_progress = stage.kind == 'in_progress'
        reached = ((in_progress
                & ((reach.kind == 'won') | (reach.reached >= stage.position)))
            | (~in_progress & (reach.stage == stage.id)))
        next_ = in_progress & (
            (reach.kind == 'won') | (reach.reached > stage.position))
        in_stage = reach.stage == stage.id
        return (stage
            .join(reach, 'LEFT', condition=reach.pipeline == stage.pipeline)
            .join(stays, 'LEFT', condition=stays.stage == stage.id)
            .select(
                stage.id.as_('id'),
                stage.company.as_('company'),
                stage.pipeline.as_('pipeline'),
                stage.id.as_('stage'),
                stage.kind.as_('kind'),
                stage.position.as_('position'),
                Sum(Case((reached, 1), else_=0)).as_('number'),
                cls.amount.sql_cast(
                    Sum(Case((reached, reach.amount), else_=0))).as_('amount'),
                Sum(Case((in_stage, 1), else_=0)).as_('current_number'),
                cls.current_amount.sql_cast(
                    Sum(Case((in_stage, reach.amount), else_=0))
                    ).as_('current_amount'),
                Sum(Case((next_, 1), else_=0)).as_('next_number'),
                cls.average_days.sql_cast(
                    Max(stays.seconds) / Literal(86400.0)
                    ).as_('average_days'),
                group_by=[stage.id, stage.company, stage.pipeline,
                    stage.kind, stage.position]))

    def get_conversion(self, name):
        if self.kind == 'in_progress' and self.number:
            return round(self.next_number / self.number, 4)

    def get_rec_name(self, name):
        return self.stage.rec_name if self.stage else ''
