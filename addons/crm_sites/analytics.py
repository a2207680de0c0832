# Visits of published pages and what they convert to: views and unique
# visitors per page, submissions and conversion per page and UTM campaign.
import datetime

from sql import Literal, Null, Union
from sql.aggregate import Count, Min, Sum
from sql.conditionals import Coalesce
from sql.functions import CurrentTimestamp

from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.modules.crm_portal.analytics import date_range_where
from trytond.pool import Pool
from trytond.pyson import Eval, If
from trytond.transaction import Transaction


class Hit(ModelSQL):
    "Site Page View"
    __name__ = 'crm.site.hit'

    site = fields.Many2One(
        'crm.site', "Site", required=True, ondelete='CASCADE')
    page = fields.Many2One(
        'crm.site.page', "Page", required=True, ondelete='CASCADE')
    date = fields.Date("Date", required=True)
    visitor = fields.Char("Visitor")
    utm_source = fields.Char("UTM Source")
    utm_campaign = fields.Char("UTM Campaign")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.page, Index.Equality()), (t.date, Index.Range())),
                })

    @classmethod
    def record(cls, page_id, visitor, utm_source=None, utm_campaign=None):
        "Count one view of a published page; False for an unknown page"
        pool = Pool()
        Page = pool.get('crm.site.page')
        page = Page.__table__()
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*page.select(page.site,
                where=(page.id == page_id) & (page.state == 'published')))
        row = cursor.fetchone()
        if not row:
            return False
        cursor.execute(*table.insert(
                [table.site, table.page, table.date, table.visitor,
                    table.utm_source, table.utm_campaign,
                    table.create_uid, table.create_date],
                [[row[0], page_id, datetime.date.today(), visitor,
                        (utm_source or '')[:200] or None,
                        (utm_campaign or '')[:200] or None,
                        Transaction().user, CurrentTimestamp()]]))
        return True


class Context(ModelView):
    "Site Analytics Filters"
    __name__ = 'crm.site.analytics.context'

    company = fields.Many2One('company.company', "Company", required=True)
    site = fields.Many2One('crm.site', "Site",
        domain=[('company', '=', Eval('company', -1))])
    from_date = fields.Date("From Date",
        domain=[If(Eval('to_date') & Eval('from_date'),
                ('from_date', '<=', Eval('to_date')), ())])
    to_date = fields.Date("To Date",
        domain=[If(Eval('from_date') & Eval('to_date'),
                ('to_date', '>=', Eval('from_date')), ())])

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def default_from_date(cls):
        return datetime.date.today() - datetime.timedelta(days=30)


def _hits(context):
    Hit = Pool().get('crm.site.hit')
    Site = Pool().get('crm.site')
    hit = Hit.__table__()
    site = Site.__table__()
    where = site.company == context.get('company')
    if context.get('site'):
        where &= hit.site == context['site']
    period = date_range_where(
        hit.date, context.get('from_date'), context.get('to_date'))
    if period is not None:
        where &= period
    return hit.join(site, condition=hit.site == site.id), hit, where


def _submissions(context):
    pool = Pool()
    Submission = pool.get('crm.site.form.submission')
    Page = pool.get('crm.site.page')
    submission = Submission.__table__()
    page = Page.__table__()
    where = submission.company == context.get('company')
    if context.get('site'):
        where &= page.site == context['site']
    period = date_range_where(submission.create_date,
        context.get('from_date'), context.get('to_date'), timestamp=True)
    if period is not None:
        where &= period
    return (submission.join(page, 'LEFT',
            condition=submission.page == page.id),
        submission, page, where)


class _Report(ModelSQL, ModelView):
    views = fields.Integer("Views")
    visitors = fields.Integer("Unique Visitors")
    submissions = fields.Integer("Submissions")
    conversion = fields.Function(fields.Float(
            "Conversion", digits=(1, 4),
            help="Submissions per unique visitor."), 'get_conversion')

    def get_conversion(self, name):
        if self.visitors:
            return round((self.submissions or 0) / self.visitors, 4)
        return 0.0


class PageReport(_Report):
    "Site Analytics per Page"
    __name__ = 'crm.site.analytics.page'

    site = fields.Many2One('crm.site', "Site")
    page = fields.Many2One('crm.site.page', "Page")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('views', 'DESC'), ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        context = Transaction().context
        hits_from, hit, hits_where = _hits(context)
        subs_from, submission, page, subs_where = _submissions(context)
        subs_where &= submission.page != Null
        rows = Union(
            hits_from.select(hit.page.as_('page'), hit.site.as_('site'),
                Literal(1).as_('view'), hit.visitor.as_('visitor'),
                Literal(0).as_('submission'), where=hits_where),
            subs_from.select(submission.page.as_('page'),
                page.site.as_('site'), Literal(0).as_('view'),
                Literal(None).as_('visitor'), Literal(1).as_('submission'),
                where=subs_where),
            all_=True)
        return rows.select(
            rows.page.as_('id'), rows.page.as_('page'),
            Min(rows.site).as_('site'),
            Sum(rows.view).as_('views'),
            Count(rows.visitor, distinct=True).as_('visitors'),
            Sum(rows.submission).as_('submissions'),
            Literal(0).as_('create_uid'),
            CurrentTimestamp().as_('create_date'),
            Literal(None).as_('write_uid'), Literal(None).as_('write_date'),
            group_by=[rows.page])


class CampaignReport(_Report):
    "Site Analytics per Campaign"
    __name__ = 'crm.site.analytics.campaign'

    utm_campaign = fields.Char("UTM Campaign")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('submissions', 'DESC'), ('views', 'DESC'),
            ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        context = Transaction().context
        hits_from, hit, hits_where = _hits(context)
        subs_from, submission, page, subs_where = _submissions(context)
        # ids of both tables stay apart: hits even, submissions odd
        rows = Union(
            hits_from.select((hit.id * 2).as_('key'),
                Coalesce(hit.utm_campaign, '').as_('campaign'),
                Literal(1).as_('view'), hit.visitor.as_('visitor'),
                Literal(0).as_('submission'), where=hits_where),
            subs_from.select((submission.id * 2 + 1).as_('key'),
                Coalesce(submission.utm_campaign, '').as_('campaign'),
                Literal(0).as_('view'), Literal(None).as_('visitor'),
                Literal(1).as_('submission'), where=subs_where),
            all_=True)
        return rows.select(
            Min(rows.key).as_('id'), rows.campaign.as_('utm_campaign'),
            Sum(rows.view).as_('views'),
            Count(rows.visitor, distinct=True).as_('visitors'),
            Sum(rows.submission).as_('submissions'),
            Literal(0).as_('create_uid'),
            CurrentTimestamp().as_('create_date'),
            Literal(None).as_('write_uid'), Literal(None).as_('write_date'),
            group_by=[rows.campaign])
