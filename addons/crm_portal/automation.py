# Automation rules ("robots"): what happens when a deal enters a stage.
import datetime
import logging
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation

from genshi.template import TextTemplate
from trytond import backend
from trytond.exceptions import TrytonException, UserError
from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, Index, Model, ModelSQL, ModelView, fields,
    sequence_ordered)
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval, If
from trytond.report import html_to_text
from trytond.transaction import (
    Transaction, TransactionError, inactive_records, without_check_access)

from .activity import ACTIVITY_TYPES

logger = logging.getLogger(__name__)

# Chained rules (a rule moving the deal to a stage whose rule moves it
# back...) stop after this many hops.
MAX_DEPTH = 10
DEPTH_KEY = '_crm_automation_depth'

ACTIONS = [
    ('activity', "Create Activity"),
    ('email', "Send E-mail"),
    ('notify', "Notify User"),
    ('responsible', "Change Responsible"),
    ('field', "Set Field"),
    ('quote', "Create Quote"),
    ('stage', "Move to Stage"),
    ]
DELAY_KINDS = [
    ('none', "Immediately"),
    ('after', "After a Delay"),
    ('until', "At a Date of the Deal"),
    ]
DELAY_UNITS = [
    ('minutes', "Minutes"),
    ('hours', "Hours"),
    ('days', "Days"),
    ]
EXECUTION_STATES = [
    ('waiting', "Waiting"),
    ('done', "Done"),
    ('failed', "Failed"),
    ('skipped', "Skipped"),
    ]
# Field types a "set field" rule may write, and those a delay may wait for
_SIMPLE_TYPES = {
    'char', 'text', 'boolean', 'integer', 'float', 'numeric', 'date',
    'datetime', 'selection'}
_DATE_TYPES = {'date', 'datetime', 'timestamp'}
# Fields the workflow or other rules own
_PROTECTED_FIELDS = {
    'id', 'create_uid', 'create_date', 'write_uid', 'write_date',
    'rec_name', 'state', 'stage', 'pipeline', 'crm_type', 'company',
    'currency', 'stage_changed', 'number', 'contact_phone_e164',
    'lead_status', 'employee',
    }
_TRUE = {'1', 'true', 'yes', 'y', 'on'}
_FALSE = {'0', 'false', 'no', 'n', 'off', ''}


@contextmanager
def savepoint(name='crm_automation'):
    """Undo the database work of the block if it raises.

    Tryton has no nested transactions: a failing action must not leave
    half its records behind, nor (on PostgreSQL) abort the transaction
    that records the failure."""
    transaction = Transaction()
    connection = transaction.connection
    cursor = connection.cursor()
    if (backend.name == 'sqlite'
            and not getattr(connection, 'in_transaction', True)):
        # Released, an outermost SAVEPOINT would commit on SQLite.
        cursor.execute('BEGIN')
    cursor.execute('SAVEPOINT %s' % name)
    try:
        yield
    except BaseException:
        cursor.execute('ROLLBACK TO SAVEPOINT %s' % name)
        cursor.execute('RELEASE SAVEPOINT %s' % name)
        # records read inside the block must not be served from the cache
        transaction.counter += 1
        for cache in transaction.cache.values():
            cache.clear()
        raise
    else:
        cursor.execute('RELEASE SAVEPOINT %s' % name)


def error_text(exception):
    "The message a user can read for exception"
    if isinstance(exception, TrytonException):
        message = getattr(exception, 'message', None)
        if message:
            return str(message)
    return str(exception) or exception.__class__.__name__


def render(template, record):
    "Render a Genshi text template with the deal as record"
    if not template:
        return template
    return TextTemplate(template).generate(record=record).render()


def convert_value(field_type, text, selection=None):
    "Convert the text of a set-field rule to a value of field_type"
    text = (text or '').strip()
    if field_type in {'char', 'text'}:
        return text or None
    if field_type == 'boolean':
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError(text)
    if not text:
        return None
    if field_type == 'integer':
        return int(text)
    if field_type == 'float':
        return float(text.replace(',', '.'))
    if field_type == 'numeric':
        try:
            return Decimal(text.replace(',', '.'))
        except InvalidOperation:
            raise ValueError(text)
    if field_type == 'date':
        return datetime.date.fromisoformat(text)
    if field_type == 'datetime':
        return datetime.datetime.fromisoformat(text)
    if field_type == 'selection':
        for key, label in (selection or []):
            if key is not None and text in {str(key), str(label)}:
                return key
        raise ValueError(text)
    raise ValueError(text)


def _stage_key(stage):
    "Order of stages in their pipeline, as the client shows them"
    return (stage.sequence is not None, stage.sequence or 0, stage.id)


class Automation(Model):
    "CRM Automation"
    __name__ = 'crm.automation'

    @classmethod
    def trigger_events(cls):
        """Return the events that triggers can wait for: name -> label.

        Modules extend it with the events of their channels and call
        fire(event, opportunities) when one happens."""
        return {
            'call_incoming': gettext('crm_portal.msg_automation_event_call'),
            'email_incoming': gettext(
                'crm_portal.msg_automation_event_email'),
            'webform': gettext('crm_portal.msg_automation_event_webform'),
            'chat_started': gettext('crm_portal.msg_automation_event_chat'),
            'invoice_paid': gettext(
                'crm_portal.msg_automation_event_invoice_paid'),
            }

    @classmethod
    def fire(cls, event, opportunities):
        """Move the deals to the stage of the first matching trigger.

        Return the deals moved.  A trigger that cannot move a deal (a
        rule of the stage refuses it) leaves a note on its timeline and
        never raises to the channel."""
        pool = Pool()
        Trigger = pool.get('crm.automation.trigger')
        Opportunity = pool.get('sale.opportunity')
        if event not in cls.trigger_events():
            raise ValueError("Unknown automation event: %s" % event)
        opportunities = Opportunity.browse(
            sorted({int(o) for o in opportunities}))
        deals = [o for o in opportunities
            if o.crm_type == 'deal' and o.pipeline and o.stage]
        if not deals:
            return []
        moved = []
        with without_check_access():
            triggers = Trigger.search([
                    ('event', '=', event),
                    ('pipeline', 'in', list({d.pipeline.id for d in deals})),
                    ])
            for deal in deals:
                for trigger in triggers:
                    if trigger.applies_to(deal):
                        if trigger.move(deal):
                            moved.append(deal)
                        break
        return moved

    @classmethod
    def stage_entered(cls, opportunities):
        "Schedule the active rules of the stage each deal has entered"
        pool = Pool()
        Rule = pool.get('crm.automation.rule')
        Execution = pool.get('crm.automation.execution')
        deals = [o for o in opportunities
            if o.crm_type == 'deal' and o.stage]
        if not deals:
            return []
        depth = Transaction().context.get(DEPTH_KEY, 0)
        now = datetime.datetime.now()
        with without_check_access():
            rules = Rule.search([
                    ('stage', 'in', list({d.stage.id for d in deals})),
                    ])
            if not rules:
                return []
            vlist = []
            for deal in deals:
                for rule in rules:
                    if rule.stage != deal.stage:
                        continue
                    values = {
                        'company': deal.company.id,
                        'rule': rule.id,
                        'opportunity': deal.id,
                        'stage': deal.stage.id,
                        'scheduled_at': rule.compute_schedule(deal, now),
                        'state': 'waiting',
                        }
                    if depth >= MAX_DEPTH:
                        values.update({
                                'state': 'skipped',
                                'error': gettext(
                                    'crm_portal.msg_automation_loop',
                                    count=MAX_DEPTH),
                                })
                    vlist.append(values)
            executions = Execution.create(vlist)
            Execution.enqueue(executions)
        return executions


class Rule(DeactivableMixin, sequence_ordered(), ModelSQL, ModelView):
    "CRM Automation Rule"
    __name__ = 'crm.automation.rule'

    name = fields.Char("Name", required=True, translate=True)
    pipeline = fields.Many2One(
        'crm.pipeline', "Pipeline", required=True, ondelete='CASCADE')
    stage = fields.Many2One(
        'crm.pipeline.stage', "Stage", required=True, ondelete='CASCADE',
        domain=[('pipeline', '=', Eval('pipeline', -1))],
        help="The rule runs when a deal enters this stage.")
    action = fields.Selection(ACTIONS, "Action", required=True)
    delay = fields.Selection(DELAY_KINDS, "When", required=True)
    delay_interval = fields.Integer(
        "Delay", domain=[If(Eval('delay') == 'after',
                ('delay_interval', '>', 0), ())],
        states={
            'invisible': Eval('delay') != 'after',
            'required': Eval('delay') == 'after',
            })
    delay_unit = fields.Selection(
        DELAY_UNITS, "Delay Unit",
        states={
            'invisible': Eval('delay') != 'after',
            'required': Eval('delay') == 'after',
            })
    delay_field = fields.Selection(
        'get_date_fields', "Date Field",
        states={
            'invisible': Eval('delay') != 'until',
            'required': Eval('delay') == 'until',
            },
        help="The rule waits until this date of the deal; "
        "it runs at once when the deal has none.")

    # create an activity, notify a user
    activity_type = fields.Selection(
        ACTIVITY_TYPES, "Activity Type",
        states={
            'invisible': Eval('action') != 'activity',
            'required': Eval('action') == 'activity',
            })
    subject = fields.Char(
        "Subject", translate=True,
        states={
            'invisible': ~Eval('action').in_(['activity', 'notify']),
            'required': Eval('action').in_(['activity', 'notify']),
            },
        help="${record.description} inserts the title of the deal, "
        "${record.party.rec_name} its client...")
    description = fields.Text(
        "Description", translate=True,
        states={
            'invisible': ~Eval('action').in_(['activity', 'notify']),
            })
    deadline_interval = fields.Integer(
        "Deadline In", domain=[('deadline_interval', '>=', 0)],
        states={
            'invisible': Eval('action') != 'activity',
            },
        help="Left empty, the activity has no deadline.")
    deadline_unit = fields.Selection(
        [('hours', "Hours"), ('days', "Days")], "Deadline Unit",
        states={
            'invisible': Eval('action') != 'activity',
            'required': Eval('action') == 'activity',
            })
    assignee = fields.Selection([
            ('responsible', "Deal Responsible"),
            ('supervisor', "Supervisor of the Deal Responsible"),
            ('employee', "Employee"),
            ], "Assignee",
        states={
            'invisible': ~Eval('action').in_(['activity', 'notify']),
            'required': Eval('action').in_(['activity', 'notify']),
            },
        help="Who gets the activity or the notification.")
    # change the responsible
    responsible_mode = fields.Selection([
            ('employee', "Employee"),
            ('round_robin', "Next in the Intake Team"),
            ], "New Responsible",
        states={
            'invisible': Eval('action') != 'responsible',
            'required': Eval('action') == 'responsible',
            })
    employee = fields.Many2One(
        'company.employee', "Employee", ondelete='RESTRICT',
        domain=[('company', '=', Eval('company', -1))],
        states={
            'invisible': ~(
                (Eval('action').in_(['activity', 'notify'])
                    & (Eval('assignee') == 'employee'))
                | ((Eval('action') == 'responsible')
                    & (Eval('responsible_mode') == 'employee'))),
            'required': (
                (Eval('action').in_(['activity', 'notify'])
                    & (Eval('assignee') == 'employee'))
                | ((Eval('action') == 'responsible')
                    & (Eval('responsible_mode') == 'employee'))),
            })
    # send an e-mail
    email_template = fields.Many2One(
        'ir.email.template', "E-mail Template", ondelete='RESTRICT',
        domain=[('model.name', '=', 'sale.opportunity')],
        states={
            'invisible': Eval('action') != 'email',
            'required': Eval('action') == 'email',
            },
        help="Without recipients in the template, the e-mail goes to the "
        "contact of the deal.")
    # set a field
    field_name = fields.Selection(
        'get_simple_fields', "Field",
        states={
            'invisible': Eval('action') != 'field',
            'required': Eval('action') == 'field',
            })
    field_value = fields.Char(
        "Value",
        states={
            'invisible': Eval('action') != 'field',
            },
        help="Dates as 2025-12-31, numbers with a dot, yes or no for "
        "check boxes, the code or label of a choice.")
    # move to a stage
    target_stage = fields.Many2One(
        'crm.pipeline.stage', "Target Stage", ondelete='RESTRICT',
        domain=[
            ('pipeline', '=', Eval('pipeline', -1)),
            ('id', '!=', Eval('stage', -1)),
            ],
        states={
            'invisible': Eval('action') != 'stage',
            'required': Eval('action') == 'stage',
            })
    company = fields.Function(
        fields.Many2One('company.company', "Company"),
        'on_change_with_company')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('pipeline')
        cls._order.insert(0, ('pipeline', 'ASC'))

    @staticmethod
    def default_delay():
        return 'none'

    @staticmethod
    def default_delay_unit():
        return 'hours'

    @staticmethod
    def default_action():
        return 'activity'

    @staticmethod
    def default_activity_type():
        return 'task'

    @staticmethod
    def default_deadline_interval():
        return 1

    @staticmethod
    def default_deadline_unit():
        return 'days'

    @staticmethod
    def default_assignee():
        return 'responsible'

    @staticmethod
    def default_responsible_mode():
        return 'round_robin'

    @fields.depends('pipeline', '_parent_pipeline.company')
    def on_change_with_company(self, name=None):
        return self.pipeline.company if self.pipeline else None

    @classmethod
    def get_simple_fields(cls):
        Opportunity = Pool().get('sale.opportunity')
        result = [(None, '')]
        for name, definition in sorted(Opportunity.fields_get().items(),
                key=lambda i: i[1]['string']):
            field = Opportunity._fields.get(name)
            if (definition['type'] in _SIMPLE_TYPES
                    and name not in _PROTECTED_FIELDS
                    and not definition.get('readonly')
                    and not isinstance(field, fields.Function)):
                result.append((name, definition['string']))
        return result

    @classmethod
    def get_date_fields(cls):
        Opportunity = Pool().get('sale.opportunity')
        result = [(None, '')]
        for name, definition in sorted(Opportunity.fields_get().items(),
                key=lambda i: i[1]['string']):
            if definition['type'] in _DATE_TYPES:
                result.append((name, definition['string']))
        return result

    @classmethod
    def validate_fields(cls, rules, field_names):
        super().validate_fields(rules, field_names)
        cls.check_stage(rules, field_names)
        cls.check_templates(rules, field_names)
        cls.check_field_value(rules, field_names)

    @classmethod
    def check_stage(cls, rules, field_names=None):
        if field_names and not (
                field_names & {'pipeline', 'stage', 'target_stage'}):
            return
        for rule in rules:
            if rule.stage.pipeline != rule.pipeline:
                raise ValidationError(gettext(
                        'crm_portal.msg_stage_pipeline',
                        stage=rule.stage.rec_name,
                        pipeline=rule.pipeline.rec_name))
            if rule.target_stage and (
                    rule.target_stage.pipeline != rule.pipeline
                    or rule.target_stage == rule.stage):
                raise ValidationError(gettext(
                        'crm_portal.msg_automation_target_stage',
                        rule=rule.rec_name,
                        stage=rule.target_stage.rec_name))

    @classmethod
    def check_templates(cls, rules, field_names=None):
        if field_names and not (field_names & {'subject', 'description'}):
            return
        for rule in rules:
            for name in ['subject', 'description']:
                text = getattr(rule, name)
                if not text:
                    continue
                try:
                    TextTemplate(text)
                except Exception as exception:
                    raise ValidationError(gettext(
                            'crm_portal.msg_automation_template_invalid',
                            rule=rule.rec_name,
                            field=cls.__names__(name)['field'],
                            exception=exception)) from exception

    @classmethod
    def check_field_value(cls, rules, field_names=None):
        if field_names and not (
                field_names & {'action', 'field_name', 'field_value'}):
            return
        for rule in rules:
            if rule.action == 'field' and rule.field_name:
                rule.get_field_value()

    def get_field_value(self):
        "The value to write, converted to the type of the field"
        Opportunity = Pool().get('sale.opportunity')
        definition = Opportunity.fields_get([self.field_name]).get(
            self.field_name)
        if not definition or self.field_name not in dict(
                self.get_simple_fields()):
            raise ValidationError(gettext(
                    'crm_portal.msg_automation_field_unknown',
                    rule=self.rec_name, field=self.field_name))
        selection = definition.get('selection')
        if not isinstance(selection, (list, tuple)):
            selection = None
        try:
            return convert_value(
                definition['type'], self.field_value, selection)
        except (TypeError, ValueError) as exception:
            raise ValidationError(gettext(
                    'crm_portal.msg_automation_field_value_invalid',
                    rule=self.rec_name,
                    field=definition['string'],
                    value=self.field_value or '')) from exception

    def compute_schedule(self, deal, now=None):
        "When the rule should run for deal"
        if now is None:
            now = datetime.datetime.now()
        if self.delay == 'after' and self.delay_interval:
            return now + datetime.timedelta(
                **{self.delay_unit or 'hours': self.delay_interval})
        if self.delay == 'until' and self.delay_field:
            value = getattr(deal, self.delay_field, None)
            if isinstance(value, datetime.datetime):
                return max(value, now)
            if isinstance(value, datetime.date):
                return max(datetime.datetime.combine(
                        value, datetime.time()), now)
        return now

    # Actions: each returns the text logged on the execution or raises.

    def execute(self, deal):
        return getattr(self, '_execute_%s' % self.action)(deal)

    def _assignee(self, deal):
        "The employee the rule aims at for deal"
        if self.assignee == 'employee':
            if not self.employee:
                raise UserError(gettext(
                        'crm_portal.msg_automation_employee_missing',
                        rule=self.rec_name))
            return self.employee
        if not deal.employee:
            raise UserError(gettext(
                    'crm_portal.msg_automation_no_responsible',
                    deal=deal.rec_name))
        if self.assignee == 'supervisor':
            if not deal.employee.supervisor:
                raise UserError(gettext(
                        'crm_portal.msg_automation_no_supervisor',
                        employee=deal.employee.rec_name))
            return deal.employee.supervisor
        return deal.employee

    def _execute_activity(self, deal):
        Activity = Pool().get('crm.activity')
        responsible = self._assignee(deal)
        deadline = None
        if self.deadline_interval is not None:
            deadline = datetime.datetime.now() + datetime.timedelta(
                **{self.deadline_unit or 'days': self.deadline_interval})
        activity = Activity(
            company=deal.company,
            type=self.activity_type or 'task',
            subject=render(self.subject, deal) or self.name,
            description=render(self.description, deal),
            deadline=deadline,
            responsible=responsible,
            opportunity=deal,
            party=deal.contact_party or deal.party,
            )
        activity.save()
        return gettext('crm_portal.msg_automation_result_activity',
            activity=activity.rec_name, employee=responsible.rec_name)

    def _execute_email(self, deal):
        pool = Pool()
        Email = pool.get('ir.email')
        Activity = pool.get('crm.activity')
        if not self.email_template:
            raise UserError(gettext(
                    'crm_portal.msg_automation_email_template_missing',
                    rule=self.rec_name))
        values = self.email_template.get(deal)
        to = values.get('to') or []
        if not to:
            address = self._deal_email(deal)
            if address:
                to = [address]
        if not to:
            raise UserError(gettext(
                    'crm_portal.msg_automation_email_no_recipient',
                    deal=deal.rec_name))
        subject = values.get('subject') or deal.rec_name
        body = values.get('body') or ''
        # The activity first: the message leaves only when all is saved.
        activity = Activity(
            company=deal.company,
            type='email',
            direction='outgoing',
            subject=subject,
            description=html_to_text(body) if body else None,
            deadline=datetime.datetime.now(),
            done=True,
            responsible=deal.employee,
            opportunity=deal,
            party=deal.contact_party or deal.party,
            )
        activity.save()
        email = Email.send(
            to=', '.join(to),
            cc=', '.join(values.get('cc') or []),
            bcc=', '.join(values.get('bcc') or []),
            subject=subject, body=body,
            record=[deal.__name__, deal.id],
            reports=values.get('reports'))
        activity.origin = email
        activity.save()
        return gettext('crm_portal.msg_automation_result_email',
            to=', '.join(to), subject=subject)

    @staticmethod
    def _deal_email(deal):
        if deal.contact_email:
            return deal.contact_email
        for party in [deal.contact_party, deal.party]:
            if party and party.email:
                return party.email

    def _execute_notify(self, deal):
        pool = Pool()
        User = pool.get('res.user')
        Notification = pool.get('res.notification')
        employee = self._assignee(deal)
        with inactive_records():
            users = User.search([
                    ('employees', '=', employee.id),
                    ('active', '=', True),
                    ])
        if not users:
            raise UserError(gettext(
                    'crm_portal.msg_automation_no_user',
                    employee=employee.rec_name))
        label = render(self.subject, deal) or self.name
        description = render(self.description, deal) or deal.rec_name
        Notification.save([Notification(
                    user=user,
                    icon='tryton-notification',
                    label=label,
                    description=description,
                    model=deal.__name__,
                    records='[%d]' % deal.id,
                    ) for user in users])
        return gettext('crm_portal.msg_automation_result_notify',
            users=', '.join(u.rec_name for u in users))

    def _execute_responsible(self, deal):
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        TeamMember = pool.get('crm.intake.team.member')
        if self.responsible_mode == 'round_robin':
            employee = TeamMember.next_employee(deal.company.id)
            if not employee:
                raise UserError(gettext(
                        'crm_portal.msg_automation_team_empty',
                        company=deal.company.rec_name))
        else:
            employee = self.employee
            if not employee:
                raise UserError(gettext(
                        'crm_portal.msg_automation_employee_missing',
                        rule=self.rec_name))
        Opportunity.write([deal], {'employee': employee.id})
        return gettext('crm_portal.msg_automation_result_responsible',
            employee=employee.rec_name)

    def _execute_field(self, deal):
        Opportunity = Pool().get('sale.opportunity')
        value = self.get_field_value()
        Opportunity.write([deal], {self.field_name: value})
        return gettext('crm_portal.msg_automation_result_field',
            field=Opportunity.__names__(self.field_name)['field'],
            value='' if value is None else value)

    def _execute_quote(self, deal):
        Opportunity = Pool().get('sale.opportunity')
        before = {s.id for s in deal.sales}
        Opportunity.create_quote([deal])
        deal = Opportunity(deal.id)
        sales = [s for s in deal.sales if s.id not in before]
        return gettext('crm_portal.msg_automation_result_quote',
            sales=', '.join(s.rec_name for s in sales))

    def _execute_stage(self, deal):
        Opportunity = Pool().get('sale.opportunity')
        stage = self.target_stage
        if not stage:
            raise UserError(gettext(
                    'crm_portal.msg_automation_target_stage_missing',
                    rule=self.rec_name))
        if stage.pipeline != deal.pipeline:
            raise UserError(gettext(
                    'crm_portal.msg_stage_pipeline',
                    stage=stage.rec_name, pipeline=deal.pipeline.rec_name))
        Opportunity.write([deal], {'stage': stage.id})
        return gettext('crm_portal.msg_automation_result_stage',
            stage=stage.rec_name)


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


class Stage(metaclass=PoolMeta):
    __name__ = 'crm.pipeline.stage'

    automation_rules = fields.One2Many(
        'crm.automation.rule', 'stage', "Automation Rules")


class Pipeline(metaclass=PoolMeta):
    __name__ = 'crm.pipeline'

    automation_rules = fields.One2Many(
        'crm.automation.rule', 'pipeline', "Automation Rules")
    automation_triggers = fields.One2Many(
        'crm.automation.trigger', 'pipeline', "Automation Triggers")


class Opportunity(metaclass=PoolMeta):
    __name__ = 'sale.opportunity'

    automation_executions = fields.One2Many(
        'crm.automation.execution', 'opportunity', "Automation",
        readonly=True,
        states={'invisible': Eval('crm_type') != 'deal'})

    @classmethod
    def copy(cls, opportunities, default=None):
        default = default.copy() if default else {}
        default.setdefault('automation_executions')
        return super().copy(opportunities, default=default)

    @classmethod
    def on_write(cls, opportunities, values):
        callbacks = super().on_write(opportunities, values)
        if values.get('stage'):
            entering = [o for o in opportunities
                if not o.stage or o.stage.id != values['stage']]
            if entering:
                ids = [o.id for o in entering]
                callbacks.append(
                    lambda: Pool().get('crm.automation').stage_entered(
                        cls.browse(ids)))
        return callbacks

    @classmethod
    def on_modification(cls, mode, opportunities, field_names=None):
        super().on_modification(mode, opportunities, field_names=field_names)
        if mode == 'create':
            Pool().get('crm.automation').stage_entered(
                [o for o in opportunities if o.stage])


class Activity(metaclass=PoolMeta):
    __name__ = 'crm.activity'

    @classmethod
    def _get_origin(cls):
        return super()._get_origin() + ['ir.email']


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.append(
            ('crm.automation.execution|run_due', "Run Due Automation Rules"))

