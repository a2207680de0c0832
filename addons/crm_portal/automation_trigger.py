# Automation triggers: move a deal to a stage when something happens on it.
import datetime

from trytond import backend
from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, ModelSQL, ModelView, fields, sequence_ordered)
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.transaction import TransactionError, without_check_access

from .automation import _stage_key, error_text, savepoint


class Trigger(DeactivableMixin, sequence_ordered(), ModelSQL, ModelView):
    "CRM Automation Trigger"
    __name__ = 'crm.automation.trigger'

    name = fields.Char("Name", required=True, translate=True)
    pipeline = fields.Many2One(
        'crm.pipeline', "Pipeline", required=True, ondelete='CASCADE')
    stage = fields.Many2One(
        'crm.pipeline.stage', "Stage", required=True, ondelete='CASCADE',
        domain=[('pipeline', '=', Eval('pipeline', -1))],
        help="The stage the deal moves to.")
    event = fields.Selection('get_events', "Event", required=True)
    from_stages = fields.Many2Many(
        'crm.automation.trigger-from_stage', 'trigger', 'stage',
        "Only from Stages",
        domain=[
            ('pipeline', '=', Eval('pipeline', -1)),
            ('id', '!=', Eval('stage', -1)),
            ],
        help="Leave empty to move deals from any open stage.")
    allow_backward = fields.Boolean(
        "Allow Moving Back",
        help="Move deals that are at a later stage back to this one.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('pipeline')
        cls._order.insert(0, ('pipeline', 'ASC'))

    @staticmethod
    def default_allow_backward():
        return False

    @classmethod
    def get_events(cls):
        Automation = Pool().get('crm.automation')
        return [(None, '')] + sorted(
            Automation.trigger_events().items(), key=lambda i: i[1])

    @classmethod
    def validate_fields(cls, triggers, field_names):
        super().validate_fields(triggers, field_names)
        if field_names and not (field_names & {'pipeline', 'stage'}):
            return
        for trigger in triggers:
            if trigger.stage.pipeline != trigger.pipeline:
                raise ValidationError(gettext(
                        'crm_portal.msg_stage_pipeline',
                        stage=trigger.stage.rec_name,
                        pipeline=trigger.pipeline.rec_name))

    def applies_to(self, deal):
        "Whether the trigger moves deal"
        if deal.pipeline != self.pipeline or not deal.stage:
            return False
        if deal.stage == self.stage:
            return False
        if self.from_stages:
            if deal.stage not in self.from_stages:
                return False
        elif deal.stage.kind != 'in_progress':
            # closed deals stay closed unless a stage says otherwise
            return False
        if (not self.allow_backward
                and _stage_key(deal.stage) > _stage_key(self.stage)):
            return False
        return True

    def move(self, deal):
        """Move deal to the stage; a refusal is noted on its timeline.

        The channel that reported the event must not fail because of a
        rule of the CRM (a lost stage asking for a reason...)."""
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Activity = pool.get('crm.activity')
        try:
            with savepoint('crm_automation_trigger'):
                Opportunity.write([deal], {'stage': self.stage.id})
        except (TransactionError, backend.DatabaseOperationalError):
            raise
        except Exception as exception:
            party = deal.contact_party or deal.party
            Activity.create([{
                        'company': deal.company.id,
                        'type': 'note',
                        'subject': gettext(
                            'crm_portal.msg_automation_trigger_failed',
                            trigger=self.rec_name,
                            stage=self.stage.rec_name),
                        'description': error_text(exception),
                        'deadline': datetime.datetime.now(),
                        'done': True,
                        'opportunity': deal.id,
                        'party': party.id if party else None,
                        }])
            return False
        return True


class TriggerFromStage(ModelSQL):
    "CRM Automation Trigger - From Stage"
    __name__ = 'crm.automation.trigger-from_stage'

    trigger = fields.Many2One(
        'crm.automation.trigger', "Trigger", required=True,
        ondelete='CASCADE')
    stage = fields.Many2One(
        'crm.pipeline.stage', "Stage", required=True, ondelete='CASCADE')


class Intake(metaclass=PoolMeta):
    __name__ = 'crm.intake'

    @classmethod
    def _automation_events(cls):
        "Channel code -> automation event fired on the lead or deal"
        return {
            'CALL': 'call_incoming',
            'EMAIL': 'email_incoming',
            'WEBFORM': 'webform',
            'CHAT': 'chat_started',
            }

    @classmethod
    def _process(cls, inquiry, config):
        result = super()._process(inquiry, config)
        event = cls._automation_events().get(inquiry.channel)
        if (event and result.get('opportunity')
                and not result.get('duplicate_submission')):
            Automation = Pool().get('crm.automation')
            with without_check_access():
                Automation.fire(event, [result['opportunity']])
        return result


class Invoice(metaclass=PoolMeta):
    __name__ = 'account.invoice'

    @classmethod
    def paid(cls, invoices):
        unpaid = [i for i in invoices if i.state != 'paid']
        super().paid(invoices)
        cls._automation_fire_paid(
            [i for i in cls.browse(unpaid) if i.state == 'paid'])

    @classmethod
    def _automation_fire_paid(cls, invoices):
        pool = Pool()
        Automation = pool.get('crm.automation')
        Opportunity = pool.get('sale.opportunity')
        deals = set()
        for invoice in invoices:
            if invoice.type != 'out':
                continue
            for sale in invoice.sales:
                if isinstance(sale.origin, Opportunity):
                    deals.add(sale.origin.id)
        if deals:
            with without_check_access():
                Automation.fire('invoice_paid', sorted(deals))
