# Automation rules ("robots"): what happens when a deal enters a stage.
import datetime
import logging
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation

from genshi.template import TextTemplate
from trytond import backend
from trytond.exceptions import TrytonException
from trytond.i18n import gettext
from trytond.model import Model, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.transaction import Transaction, without_check_access


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
