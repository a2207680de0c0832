"What automation rules do: tasks, e-mails, notifications, fields, quotes"
import datetime
from decimal import Decimal
from unittest.mock import patch

from trytond.model.exceptions import ForeignKeyError, ValidationError
from trytond.modules.company.tests import (
    create_company, create_employee, set_company)
from trytond.modules.crm_portal.tests.tools import CrmTestCase, make_service
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction

from trytond.modules.crm_portal.tests.automation_tools import (
    activities_of, default_pipeline, executions_of, make_deal, make_party,
    make_rule, make_user, move_deal, run_tasks, stage_of)


def email_template(name, subject, body):
    "An e-mail template of deals"
    pool = Pool()
    Template = pool.get('ir.email.template')
    IrModel = pool.get('ir.model')
    model, = IrModel.search([('name', '=', 'sale.opportunity')])
    template, = Template.create([{
                'model': model.id,
                'name': name,
                'subject': subject,
                'body': body,
                }])
    return template


class AutomationActionTestCase(CrmTestCase):
    "The actions of rules on the deal"

    @with_transaction()
    def test_email(self):
        "The e-mail rule sends the template and logs it on the timeline"
        pool = Pool()
        Email = pool.get('ir.email')
        company = create_company()
        with set_company(company):
            template = email_template(
                "Welcome", "About ${record.description}",
                "<p>We are on it.</p>")
            pipeline = default_pipeline(company)
            make_rule(pipeline, 'PREPARATION', action='email',
                email_template=template.id)
            contact = make_party("Ann", email='ann@example.com')
            deal = make_deal(pipeline, contact_party=contact.id)
            deal = move_deal(deal, pipeline, 'PREPARATION')
            with patch('trytond.ir.email_.send_message_transactional') \
                    as send:
                run_tasks()

            execution, = executions_of(deal)
            self.assertEqual(execution.state, 'done', execution.error)
            message, = [c.args[0] for c in send.call_args_list]
            self.assertEqual(message['To'], 'ann@example.com')
            self.assertEqual(message['Subject'], "About Roof repair")
            email, = Email.search([
                    ('resource', '=', str(deal))])
            self.assertEqual(email.subject, "About Roof repair")
            self.assertIn('ann@example.com', email.recipients)
            activity, = activities_of(deal, 'email')
            self.assertEqual(activity.direction, 'outgoing')
            self.assertEqual(activity.subject, "About Roof repair")
            self.assertEqual(activity.origin, email)

    @with_transaction()
    def test_email_without_address(self):
        "A recipient without e-mail fails the rule, not the stage change"
        pool = Pool()
        Email = pool.get('ir.email')
        company = create_company()
        with set_company(company):
            template = email_template("Welcome", "Hello", "Hello")
            pipeline = default_pipeline(company)
            make_rule(pipeline, 'PREPARATION', name="Greet", action='email',
                email_template=template.id)
            make_rule(pipeline, 'PREPARATION', name="Task", action='activity',
                subject="Still done", assignee='responsible')
            contact = make_party("No Mail")
            deal = make_deal(pipeline, contact_party=contact.id,
                party=make_party("Client", 'organisation').id,
                employee=create_employee(company).id)
            deal = move_deal(deal, pipeline, 'PREPARATION')
            run_tasks()

            failed, done = executions_of(deal)
            self.assertEqual(failed.state, 'failed')
            self.assertIn("no e-mail address", failed.error)
            self.assertEqual(done.state, 'done')
            self.assertEqual(deal.stage, stage_of(pipeline, 'PREPARATION'))
            self.assertFalse(Email.search([]))
            self.assertFalse(activities_of(deal, 'email'))
            note, = activities_of(deal, 'note')
            self.assertIn("Greet", note.subject)
            self.assertIn("no e-mail address", note.description)
            task, = activities_of(deal, 'task')
            self.assertEqual(task.subject, "Still done")

    @with_transaction()
    def test_template_in_use(self):
        "A template used by a rule cannot be deleted from under it"
        Template = Pool().get('ir.email.template')
        company = create_company()
        with set_company(company):
            template = email_template("Used", None, None)
            pipeline = default_pipeline(company)
            make_rule(pipeline, 'PREPARATION', action='email',
                email_template=template.id)
            with self.assertRaises(ForeignKeyError):
                Template.delete([template])

    @with_transaction()
    def test_notify_user(self):
        "The notify rule notifies the user of the responsible"
        Notification = Pool().get('res.notification')
        company = create_company()
        with set_company(company):
            employee = create_employee(company, "Dwight")
            user = make_user(employee, 'dwight')
            pipeline = default_pipeline(company)
            make_rule(pipeline, 'PREPARATION', action='notify',
                subject="Deal ${record.description} needs you",
                assignee='responsible')
            deal = make_deal(pipeline, employee=employee.id)
            deal = move_deal(deal, pipeline, 'PREPARATION')
            run_tasks()

            execution, = executions_of(deal)
            self.assertEqual(execution.state, 'done', execution.error)
            notification, = Notification.search([('user', '=', user.id)])
            self.assertEqual(
                notification.label, "Deal Roof repair needs you")
            self.assertEqual(notification.model, 'sale.opportunity')
            self.assertEqual(notification.records, '[%d]' % deal.id)
            self.assertTrue(notification.unread)

    @with_transaction()
    def test_set_field(self):
        "The set-field rule writes the value converted to the field type"
        company = create_company()
        with set_company(company):
            pipeline = default_pipeline(company)
            make_rule(pipeline, 'PREPARATION', action='field',
                field_name='start_date', field_value='2026-03-01')
            make_rule(pipeline, 'PREPARATION', action='field',
                field_name='utm_campaign', field_value='spring')
            deal = make_deal(pipeline)
            deal = move_deal(deal, pipeline, 'PREPARATION')
            run_tasks()
            deal = deal.__class__(deal.id)
            self.assertEqual(deal.start_date, datetime.date(2026, 3, 1))
            self.assertEqual(deal.utm_campaign, 'spring')

    @with_transaction()
    def test_set_field_invalid(self):
        "A value that does not fit the field is refused when saving"
        company = create_company()
        with set_company(company):
            pipeline = default_pipeline(company)
            with self.assertRaisesRegex(ValidationError, "not a valid value"):
                make_rule(pipeline, 'PREPARATION', action='field',
                    field_name='start_date', field_value='next week')
            with self.assertRaises(ValidationError):
                make_rule(pipeline, 'PREPARATION', action='field',
                    field_name='state', field_value='won')

    @with_transaction()
    def test_change_responsible(self):
        "The responsible rule hands the deal to an employee or the team"
        TeamMember = Pool().get('crm.intake.team.member')
        company = create_company()
        with set_company(company):
            first = create_employee(company, "First")
            second = create_employee(company, "Second")
            boss = create_employee(company, "Boss")
            TeamMember.create([{
                        'company': company.id, 'employee': e.id,
                        'sequence': i}
                    for i, e in enumerate([first, second])])
            pipeline = default_pipeline(company)
            make_rule(pipeline, 'PREPARATION', action='responsible',
                responsible_mode='round_robin')
            make_rule(pipeline, 'EXECUTING', action='responsible',
                responsible_mode='employee', employee=boss.id)
            deal1 = move_deal(make_deal(pipeline), pipeline, 'PREPARATION')
            deal2 = move_deal(make_deal(pipeline), pipeline, 'PREPARATION')
            run_tasks()
            self.assertEqual(
                {deal1.__class__(deal1.id).employee,
                    deal2.__class__(deal2.id).employee},
                {first, second})

            deal1 = move_deal(deal1, pipeline, 'EXECUTING')
            run_tasks()
            self.assertEqual(deal1.__class__(deal1.id).employee, boss)

    @with_transaction()
    def test_target_stage_other_pipeline(self):
        "A rule cannot move deals to a stage of another pipeline"
        company = create_company()
        with set_company(company):
            pipeline = default_pipeline(company)
            other = default_pipeline(company)
            with self.assertRaises(ValidationError):
                make_rule(pipeline, 'PREPARATION', action='stage',
                    target_stage=stage_of(other, 'EXECUTING').id)

    @with_transaction()
    def test_create_quote(self):
        "The quote rule creates a sale quotation from the deal"
        company = create_company()
        with set_company(company):
            product, unit = make_service()
            pipeline = default_pipeline(company)
            make_rule(pipeline, 'PREPARATION', action='quote')
            deal = make_deal(pipeline,
                party=make_party("Client", 'organisation').id,
                lines=[('create', [{
                                'product': product.id,
                                'quantity': 3,
                                'unit': unit.id,
                                }])])
            deal = move_deal(deal, pipeline, 'PREPARATION')
            run_tasks()
            execution, = executions_of(deal)
            self.assertEqual(execution.state, 'done', execution.error)
            deal = deal.__class__(deal.id)
            sale, = deal.sales
            self.assertEqual(sale.state, 'quotation')
            self.assertEqual(sale.untaxed_amount, Decimal('150.00'))
            self.assertIn(sale.rec_name, execution.result)
