# Executions of automation rules: scheduled, run through the queue,
# retried by the administrator.
import datetime

from trytond import backend
from trytond.exceptions import TrytonException
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval, If
from trytond.transaction import (
    Transaction, TransactionError, inactive_records, without_check_access)

from .automation import (
    DEPTH_KEY, EXECUTION_STATES, error_text, logger, savepoint)


class Execution(ModelSQL, ModelView):
    "CRM Automation Execution"
    __name__ = 'crm.automation.execution'

    company = fields.Many2One(
        'company.company', "Company", required=True, readonly=True)
    rule = fields.Many2One(
        'crm.automation.rule', "Rule", required=True, readonly=True,
        ondelete='CASCADE')
    opportunity = fields.Many2One(
        'sale.opportunity', "Deal", required=True, readonly=True,
        ondelete='CASCADE')
    stage = fields.Many2One(
        'crm.pipeline.stage', "Stage", required=True, readonly=True,
        ondelete='CASCADE',
        help="The stage the deal entered; the rule is skipped if the deal "
        "has left it when the rule is due.")
    state = fields.Selection(
        EXECUTION_STATES, "State", required=True, readonly=True, sort=False)
    scheduled_at = fields.DateTime("Scheduled at", readonly=True)
    executed_at = fields.DateTime("Executed at", readonly=True)
    attempts = fields.Integer("Attempts", readonly=True)
    result = fields.Text("Result", readonly=True)
    error = fields.Text("Error", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('opportunity')
        t = cls.__table__()
        cls._order = [('scheduled_at', 'DESC NULLS FIRST'), ('id', 'DESC')]
        cls._sql_indexes.update({
                Index(t, (t.scheduled_at, Index.Range()),
                    where=t.state == 'waiting'),
                Index(t, (t.opportunity, Index.Range())),
                })
        cls._buttons.update({
                'retry': {
                    'invisible': ~Eval('state').in_(['failed', 'skipped']),
                    'depends': ['state'],
                    },
                })

    @staticmethod
    def default_state():
        return 'waiting'

    @staticmethod
    def default_attempts():
        return 0

    @staticmethod
    def default_company():
        return Transaction().context.get('company')

    def get_rec_name(self, name):
        return '%s @ %s' % (self.rule.rec_name, self.opportunity.rec_name)

    @classmethod
    def view_attributes(cls):
        return super().view_attributes() + [
            ('/tree', 'visual', If(Eval('state') == 'failed', 'danger',
                    If(Eval('state') == 'skipped', 'muted', ''))),
            ]

    @classmethod
    def enqueue(cls, executions):
        "Push the waiting executions to the queue, at their time"
        transaction = Transaction()
        now = datetime.datetime.now()
        by_delay = {}
        for execution in executions:
            if execution.state != 'waiting':
                continue
            delay = max(
                (execution.scheduled_at or now) - now, datetime.timedelta())
            by_delay.setdefault(delay, []).append(execution)
        for delay, records in by_delay.items():
            context = {}
            if delay:
                context['queue_scheduled_at'] = delay
            with transaction.set_context(**context):
                cls.__queue__.run(records)

    @classmethod
    def run(cls, executions):
        """Run the waiting executions whose time has come.

        A task delivered twice, or the cron and a worker at once, run an
        execution once: its state is checked under lock."""
        executions = [e for e in executions if e.state == 'waiting']
        if not executions:
            return
        cls.lock(executions)
        now = datetime.datetime.now()
        for execution in cls.browse([e.id for e in executions]):
            if execution.state != 'waiting':
                continue
            if execution.scheduled_at and execution.scheduled_at > now:
                # delivered early (no worker): the cron runs it later
                continue
            execution._run()

    def _run(self):
        pool = Pool()
        Rule = pool.get('crm.automation.rule')
        transaction = Transaction()
        with inactive_records():
            rule = Rule(self.rule.id)
            active = rule.active
        deal = self.opportunity
        self.attempts = (self.attempts or 0) + 1
        self.executed_at = datetime.datetime.now()
        self.error = None
        if not active:
            self.state = 'skipped'
            self.result = gettext('crm_portal.msg_automation_rule_inactive')
        elif deal.stage != self.stage:
            self.state = 'skipped'
            self.result = gettext(
                'crm_portal.msg_automation_stage_left',
                stage=self.stage.rec_name)
        else:
            depth = transaction.context.get(DEPTH_KEY, 0) + 1
            try:
                with savepoint(), \
                        transaction.set_context(
                            company=deal.company.id, **{DEPTH_KEY: depth}), \
                        without_check_access():
                    self.result = rule.execute(deal)
                self.state = 'done'
            except (TransactionError, backend.DatabaseOperationalError):
                raise
            except Exception as exception:
                if not isinstance(exception, TrytonException):
                    logger.exception(
                        "automation rule %s failed on deal %s",
                        rule.id, deal.id)
                self.state = 'failed'
                self.result = None
                self.error = error_text(exception)
                self._log_failure()
        self.save()

    def _log_failure(self):
        "Leave a note on the deal's timeline"
        Activity = Pool().get('crm.activity')
        deal = self.opportunity
        with without_check_access():
            Activity.create([{
                        'company': deal.company.id,
                        'type': 'note',
                        'subject': gettext(
                            'crm_portal.msg_automation_failed_subject',
                            rule=self.rule.rec_name),
                        'description': self.error,
                        'deadline': datetime.datetime.now(),
                        'done': True,
                        'responsible': (
                            deal.employee.id if deal.employee else None),
                        'opportunity': deal.id,
                        'party': (deal.contact_party or deal.party).id
                        if (deal.contact_party or deal.party) else None,
                        }])

    @classmethod
    def run_due(cls):
        "Cron: run the waiting executions whose time has come"
        executions = cls.search([
                ('state', '=', 'waiting'),
                ['OR',
                    ('scheduled_at', '=', None),
                    ('scheduled_at', '<=', datetime.datetime.now()),
                    ],
                ], order=[('scheduled_at', 'ASC'), ('id', 'ASC')], limit=500)
        if executions:
            cls.run(executions)

    @classmethod
    @ModelView.button
    def retry(cls, executions):
        executions = [e for e in executions
            if e.state in {'failed', 'skipped'}]
        cls.write(executions, {
                'state': 'waiting',
                'scheduled_at': datetime.datetime.now(),
                'error': None,
                })
        cls.enqueue(executions)


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.append(
            ('crm.automation.execution|run_due', "Run Due Automation Rules"))
