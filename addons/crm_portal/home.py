# The CRM start page of each user: activities due, open deals by stage,
# the funnel of the pipeline this month, recent calls and conversations
# when those features are on.  Everything is read as the user.
import datetime

from trytond.model import Model
from trytond.pool import Pool
from trytond.rpc import RPC
from trytond.transaction import Transaction, without_check_access

from . import board_query as query
from .access import current_employee
from .board_labels import labels

__all__ = ['Home']

# Feature sections: name -> (module that provides the channel, activity
# type its records leave on the timeline, direction or None).
FEATURES = {
    'calls': ('crm_telephony', 'call', 'incoming'),
    'conversations': ('crm_openlines', 'chat', None),
    }
RECENT = 10
ACTIVITY_LIMIT = 50


def _activity(row, now):
    return {
        'id': row['id'],
        'subject': row['subject'],
        'type': row['type'],
        'deadline': row['deadline'].isoformat(sep=' ', timespec='minutes')
        if row['deadline'] else '',
        'overdue': bool(row['deadline'] and row['deadline'] < now),
        'opportunity': row['opportunity'],
        'opportunity_name': (row.get('opportunity.') or {}).get(
            'rec_name', ''),
        'opportunity_type': (row.get('opportunity.') or {}).get(
            'crm_type', ''),
        }


class Home(Model):
    "CRM Home"
    __name__ = 'crm.home'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__rpc__.update({'load': RPC()})

    @classmethod
    def features(cls):
        """The feature sections whose module is activated.

        Probed at run time in ir.module (crm_telephony, crm_openlines) so
        that the page works in a tenant without them."""
        Module = Pool().get('ir.module')
        names = {m for m, _, _ in FEATURES.values()}
        with without_check_access():
            activated = {m.name for m in Module.search([
                        ('name', 'in', list(names)),
                        ('state', '=', 'activated'),
                        ])}
        return [f for f, (m, _, _) in FEATURES.items() if m in activated]

    @classmethod
    def load(cls):
        pool = Pool()
        ModelData = pool.get('ir.model.data')
        now = datetime.datetime.now()
        result = {
            'labels': labels(),
            'employee': current_employee(),
            'activities': cls._activities(now),
            'deals_by_stage': cls._deals_by_stage(),
            'funnel': cls._funnel(),
            'features': {},
            'deal_form': ModelData.get_id('crm_portal', 'deal_view_form'),
            'lead_form': ModelData.get_id('crm_portal', 'lead_view_form'),
            'activity_form': ModelData.get_id(
                'crm_portal', 'activity_view_form'),
            }
        for feature in cls.features():
            result['features'][feature] = cls._recent(feature, now)
        return result

    @classmethod
    def _activities(cls, now):
        "My open activities due before tomorrow, oldest first"
        Activity = Pool().get('crm.activity')
        tomorrow = datetime.datetime.combine(
            now.date() + datetime.timedelta(days=1), datetime.time())
        rows = Activity.search_read([
                ('responsible', '=', current_employee() or -1),
                ('done', '=', False),
                ('deadline', '<', tomorrow),
                ], limit=ACTIVITY_LIMIT,
            order=[('deadline', 'ASC'), ('id', 'ASC')],
            fields_names=['subject', 'type', 'deadline', 'opportunity',
                'opportunity.rec_name', 'opportunity.crm_type'])
        return [_activity(r, now) for r in rows]

    @classmethod
    def _deals_by_stage(cls):
        "My deals in progress: one row per pipeline and stage"
        pool = Pool()
        Pipeline = pool.get('crm.pipeline')
        company = Transaction().context.get('company', -1)
        employee = current_employee() or -1
        result = []
        for pipeline in Pipeline.search([('company', '=', company)]):
            filters = query.clean_filters(
                'deal', {'pipeline': pipeline.id, 'scope': 'mine'})
            domain = query.board_domain('deal', filters) + [
                ('employee', '=', employee)]
            totals = query.column_totals('deal', domain)
            for stage in pipeline.stages:
                if stage.kind != 'in_progress':
                    continue
                count, amount = totals.get(stage.id, (0, 0))
                result.append({
                        'pipeline': pipeline.rec_name,
                        'pipeline_id': pipeline.id,
                        'stage': stage.rec_name,
                        'stage_id': stage.id,
                        'color': stage.color or '',
                        'count': count,
                        'amount': str(amount),
                        })
        return result

    @classmethod
    def _funnel(cls):
        """The deals of the default pipeline started this month that reached
        each stage: a deal now in a later stage (or won) went through the
        earlier ones; lost deals are counted apart."""
        pool = Pool()
        Pipeline = pool.get('crm.pipeline')
        pipeline = Pipeline.get_default()
        if not pipeline:
            return None
        filters = query.clean_filters(
            'deal', {'pipeline': pipeline.id, 'period': 'month'})
        totals = query.column_totals(
            'deal', query.board_domain('deal', filters))
        stages = [s for s in pipeline.stages if s.kind != 'lost']
        counts = [totals.get(s.id, (0, 0))[0] for s in stages]
        steps = []
        for index, stage in enumerate(stages):
            steps.append({
                    'stage': stage.rec_name,
                    'color': stage.color or '',
                    'count': sum(counts[index:]),
                    })
        lost = sum(totals.get(s.id, (0, 0))[0]
            for s in pipeline.stages if s.kind == 'lost')
        return {'pipeline': pipeline.rec_name, 'steps': steps, 'lost': lost}

    @classmethod
    def _recent(cls, feature, now):
        "The latest activities a channel left on the timeline"
        Activity = Pool().get('crm.activity')
        _, type_, direction = FEATURES[feature]
        domain = [('type', '=', type_)]
        if direction:
            domain.append(('direction', '=', direction))
        rows = Activity.search_read(domain, limit=RECENT,
            order=[('deadline', 'DESC NULLS LAST'), ('id', 'DESC')],
            fields_names=['subject', 'type', 'deadline', 'opportunity',
                'opportunity.rec_name', 'opportunity.crm_type'])
        return [_activity(r, now) for r in rows]
