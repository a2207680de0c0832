# Automation rules: what a rule does, when, and its checks.
import datetime

from genshi.template import TextTemplate
from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, ModelSQL, ModelView, fields, sequence_ordered)
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool
from trytond.pyson import Eval, If

from .activity import ACTIVITY_TYPES
from .automation import (
    ACTIONS, DELAY_KINDS, DELAY_UNITS, _DATE_TYPES, _PROTECTED_FIELDS,
    _SIMPLE_TYPES, convert_value)
from .automation_action import RuleActions


class Rule(
        RuleActions, DeactivableMixin, sequence_ordered(), ModelSQL,
        ModelView):
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
