# What a conversation becomes in the CRM: through the intake a lead, a deal
# or only a link to a known client, an activity on the client's timeline
# that gets the transcript when the conversation is closed.
import datetime
import logging

from trytond.exceptions import UserError
from trytond.i18n import gettext
from trytond.model import Model
from trytond.modules.crm_portal.automation import savepoint
from trytond.modules.crm_portal.phone import (
    default_regions, normalize_email, normalize_phone)
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction, without_check_access

logger = logging.getLogger(__name__)
CHANNEL = 'CHAT'


class Binding(Model):
    "Open Line CRM Binding"
    __name__ = 'crm.openline.binding'

    @classmethod
    def bind(cls, conversation, message):
        "Bind a new conversation to the CRM and fire chat_started"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Automation = pool.get('crm.automation')
        line = conversation.line
        company = conversation.company.id
        with Transaction().set_context(company=company), \
                without_check_access():
            if line.crm_mode == 'bind':
                result = cls._bind_existing(conversation, message)
            else:
                result = cls._intake(conversation, message)
            opportunity = (Opportunity(result['opportunity'])
                if result.get('opportunity') else None)
            if (line.crm_mode == 'deal' and opportunity
                    and opportunity.crm_type == 'lead'
                    and result.get('created')):
                opportunity = cls._to_deal(opportunity)
            conversation.opportunity = opportunity
            conversation.party = result.get('party')
            conversation.activity = result.get('activity')
            conversation.save()
            if opportunity:
                Automation.fire('chat_started', [opportunity])

    @classmethod
    def assign(cls, conversations, previous=None):
        """Make the operator responsible for the lead or deal that has
        nobody in charge, or that was in charge of the previous operator
        who handed the conversation over, so they can open it (record
        rules). A lead of someone else keeps its responsible."""
        Opportunity = Pool().get('sale.opportunity')
        previous = int(previous) if previous else None
        with without_check_access():
            to_save = []
            for conversation in conversations:
                opportunity = conversation.opportunity
                if (conversation.operator and opportunity
                        and (not opportunity.employee
                            or opportunity.employee.id == previous)):
                    opportunity.employee = conversation.operator
                    to_save.append(opportunity)
            if to_save:
                Opportunity.save(to_save)

    @classmethod
    def _data(cls, conversation, message):
        return {
            'name': conversation.client_name or gettext(
                'crm_openlines.msg_client_unnamed',
                channel=conversation.channel.rec_name
                if conversation.channel else '',
                chat=conversation.external_chat or conversation.id),
            'phone': conversation.client_phone,
            'email': conversation.client_email,
            'title': gettext('crm_openlines.msg_lead_title',
                line=conversation.line.rec_name,
                client=conversation.client_label),
            'message': message.text,
            'external_id': 'openline:%s' % conversation.id,
            'origin': str(conversation),
            }

    @classmethod
    def _intake(cls, conversation, message):
        Intake = Pool().get('crm.intake')
        return Intake.submit(CHANNEL, cls._data(conversation, message),
            conversation.company.id)

    @classmethod
    def _to_deal(cls, lead):
        Opportunity = Pool().get('sale.opportunity')
        try:
            with savepoint('crm_openlines_deal'):
                return Opportunity.convert_lead(lead)
        except UserError as exception:
            # Two matching clients, for example: the lead stays for a
            # person to convert.
            logger.info("lead %s kept: %s", lead.id, exception)
            return lead

    @classmethod
    def _bind_existing(cls, conversation, message):
        "Link to the client matched by phone or e-mail, create nothing"
        pool = Pool()
        Duplicate = pool.get('crm.duplicate')
        Party = pool.get('party.party')
        Activity = pool.get('crm.activity')
        company = conversation.company.id
        regions = default_regions(company)
        values = [
            normalize_phone(conversation.client_phone, regions)
            if conversation.client_phone else None,
            normalize_email(conversation.client_email)
            if conversation.client_email else None,
            ]
        parties = Duplicate.match_parties(values)
        if not parties:
            return {}
        party = Party(parties[0])
        data = cls._data(conversation, message)
        activity, = Activity.create([{
                    'company': company,
                    'type': 'chat',
                    'direction': 'incoming',
                    'subject': data['title'],
                    'description': message.text,
                    'deadline': datetime.datetime.now(),
                    'party': party.id,
                    'responsible': party.crm_responsible.id
                    if party.crm_responsible else None,
                    'origin': str(conversation),
                    }])
        return {'party': party.id, 'activity': activity.id}

    @classmethod
    def transcript(cls, conversations):
        "Put the transcript of closed conversations on their activity"
        pool = Pool()
        Activity = pool.get('crm.activity')
        Lang = pool.get('ir.lang')
        lang = Lang.get()

        def format_date(value):
            return lang.strftime(value, '%Y-%m-%d %H:%M:%S')
        to_save = []
        for conversation in conversations:
            if not conversation.activity:
                continue
            activity = conversation.activity
            activity.description = '\n'.join(
                m.transcript_line(format_date)
                for m in conversation.messages)
            activity.done = True
            if conversation.operator:
                activity.responsible = conversation.operator
            to_save.append(activity)
        with without_check_access():
            Activity.save(to_save)


class Activity(metaclass=PoolMeta):
    __name__ = 'crm.activity'

    @classmethod
    def _get_origin(cls):
        return super()._get_origin() + ['crm.openline.conversation']
