# The actions of automation rules on a deal: each returns the text
# logged on the execution or raises UserError.
import datetime

from trytond.exceptions import UserError
from trytond.i18n import gettext
from trytond.pool import Pool
from trytond.report import html_to_text
from trytond.transaction import inactive_records

from .automation import render


class RuleActions:
    "The actions of crm.automation.rule"
    __slots__ = ()

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
