"Automation: rules run when a deal enters a stage, triggers move deals"
import datetime
from decimal import Decimal
from unittest.mock import patch

from trytond.model.exceptions import ForeignKeyError, ValidationError
from trytond.modules.company.tests import (
    create_company, create_employee, set_company)
from trytond.modules.crm_portal.tests.tools import CrmTestCase
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction


def run_tasks(limit=100):
    "Run the queued tasks as the worker would after the commit"
    Queue = Pool().get('ir.queue')
    transaction = Transaction()
    count = 0
    while transaction.tasks:
        count += 1
        assert count <= limit, "tasks keep coming"
        Queue(transaction.tasks.pop(0)).run()
    return count


def _pipeline(company):
    return Pool().get('crm.pipeline').create_standard(company.id)


def _stage(pipeline, code):
    stage, = [s for s in pipeline.stages if s.code == code]
    return stage


def _party(name, kind='person', email=None):
    Party = Pool().get('party.party')
    values = {'name': name, 'crm_kind': kind,
        'addresses': [('create', [{}])]}
    if email:
        values['contact_mechanisms'] = [
            ('create', [{'type': 'email', 'value': email}])]
    party, = Party.create([values])
    return party


def _deal(pipeline, **values):
    Opportunity = Pool().get('sale.opportunity')
    values.setdefault('description', "Roof repair")
    values.setdefault('pipeline', pipeline.id)
    values.setdefault('stage', _stage(pipeline, 'NEW').id)
    if 'party' not in values:
        values['party'] = _party("Client", 'organisation').id
    with Transaction().set_context(crm_type='deal'):
        deal, = Opportunity.create([values])
    return deal


def _rule(pipeline, code, **values):
    Rule = Pool().get('crm.automation.rule')
    values.setdefault('name', "Rule")
    values['pipeline'] = pipeline.id
    values['stage'] = _stage(pipeline, code).id
    rule, = Rule.create([values])
    return rule


def _move(deal, pipeline, code, **values):
    Opportunity = Pool().get('sale.opportunity')
    values['stage'] = _stage(pipeline, code).id
    Opportunity.write([deal], values)
    return Opportunity(deal.id)


def _executions(deal):
    Execution = Pool().get('crm.automation.execution')
    return Execution.search(
        [('opportunity', '=', deal.id)], order=[('id', 'ASC')])


def _activities(deal, type_=None):
    Activity = Pool().get('crm.activity')
    domain = [('opportunity', '=', deal.id)]
    if type_:
        domain.append(('type', '=', type_))
    return Activity.search(domain, order=[('id', 'ASC')])


def _user(employee, login):
    User = Pool().get('res.user')
    user, = User.create([{
                'name': employee.rec_name,
                'login': login,
                'companies': [('add', [employee.company.id])],
                'company': employee.company.id,
                'employees': [('add', [employee.id])],
                'employee': employee.id,
                }])
    return user


class AutomationRuleTestCase(CrmTestCase):
    "Rules (robots) act on deals entering their stage"

    @with_transaction()
    def test_task_rule(self):
        "Entering a stage creates the task of its rule for the responsible"
        company = create_company()
        with set_company(company):
            manager = create_employee(company, "Michael Scott")
            employee = create_employee(company, "Jim Halpert")
            employee.supervisor = manager
            employee.save()
            pipeline = _pipeline(company)
            _rule(pipeline, 'PREPARATION', action='activity',
                activity_type='call',
                subject="Call about ${record.description}",
                description="Ask for the budget",
                deadline_interval=2, deadline_unit='days',
                assignee='responsible')
            _rule(pipeline, 'PREPARATION', action='activity',
                subject="Check the call", deadline_interval=4,
                deadline_unit='hours', assignee='supervisor')
            deal = _deal(pipeline, employee=employee.id)
            self.assertEqual(_executions(deal), [])

            before = datetime.datetime.now().replace(microsecond=0)
            deal = _move(deal, pipeline, 'PREPARATION')
            waiting = _executions(deal)
            self.assertEqual([e.state for e in waiting], ['waiting'] * 2)
            self.assertEqual(_activities(deal), [])

            run_tasks()
            after = datetime.datetime.now()

            self.assertEqual(
                [e.state for e in _executions(deal)], ['done', 'done'])
            call, check = _activities(deal)
            self.assertEqual(call.type, 'call')
            self.assertEqual(call.subject, "Call about Roof repair")
            self.assertEqual(call.description, "Ask for the budget")
            self.assertEqual(call.responsible, employee)
            self.assertFalse(call.done)
            self.assertTrue(
                before + datetime.timedelta(days=2) <= call.deadline
                <= after + datetime.timedelta(days=2))
            self.assertEqual(check.type, 'task')
            self.assertEqual(check.responsible, manager)
            self.assertTrue(
                before + datetime.timedelta(hours=4) <= check.deadline
                <= after + datetime.timedelta(hours=4))
            self.assertIn("Jim Halpert", _executions(deal)[0].result)

    @with_transaction()
    def test_new_deal_in_stage(self):
        "A deal created in a stage runs the rules of that stage"
        company = create_company()
        with set_company(company):
            employee = create_employee(company)
            pipeline = _pipeline(company)
            _rule(pipeline, 'NEW', action='activity', subject="Welcome",
                assignee='employee', employee=employee.id)
            deal = _deal(pipeline)
            run_tasks()
            task, = _activities(deal)
            self.assertEqual(task.subject, "Welcome")
            self.assertEqual(task.responsible, employee)

    @with_transaction()
    def test_same_stage_not_entered(self):
        "Writing the stage a deal is already in runs nothing"
        company = create_company()
        with set_company(company):
            pipeline = _pipeline(company)
            _rule(pipeline, 'PREPARATION', action='activity',
                subject="Once", assignee='responsible')
            deal = _deal(pipeline, employee=create_employee(company).id)
            deal = _move(deal, pipeline, 'PREPARATION')
            deal = _move(deal, pipeline, 'PREPARATION')
            self.assertEqual(len(_executions(deal)), 1)

    @with_transaction()
    def test_delayed_rule(self):
        "A delayed rule waits and runs once its time has come"
        Execution = Pool().get('crm.automation.execution')
        company = create_company()
        with set_company(company):
            pipeline = _pipeline(company)
            _rule(pipeline, 'PREPARATION', action='activity',
                subject="Follow up", assignee='responsible',
                delay='after', delay_interval=3, delay_unit='hours')
            deal = _deal(pipeline, employee=create_employee(company).id)
            now = datetime.datetime.now().replace(microsecond=0)
            deal = _move(deal, pipeline, 'PREPARATION')

            execution, = _executions(deal)
            self.assertEqual(execution.state, 'waiting')
            self.assertGreaterEqual(
                execution.scheduled_at, now + datetime.timedelta(hours=3))

            # delivered early (no worker) or checked by the cron too soon
            run_tasks()
            Execution.run_due()
            execution, = _executions(deal)
            self.assertEqual(execution.state, 'waiting')
            self.assertEqual(_activities(deal), [])

            # three hours later
            Execution.write([execution], {
                    'scheduled_at': now - datetime.timedelta(minutes=1)})
            Execution.run_due()

            execution, = _executions(deal)
            self.assertEqual(execution.state, 'done')
            self.assertEqual(execution.attempts, 1)
            task, = _activities(deal)
            self.assertEqual(task.subject, "Follow up")

    @with_transaction()
    def test_until_date_field(self):
        "A rule may wait for a date of the deal"
        company = create_company()
        with set_company(company):
            pipeline = _pipeline(company)
            rule = _rule(pipeline, 'PREPARATION', action='activity',
                subject="Start", assignee='responsible',
                delay='until', delay_field='end_date')
            self.assertIn('end_date', dict(rule.get_date_fields()))
            day = datetime.date.today() + datetime.timedelta(days=10)
            deal = _deal(pipeline, employee=create_employee(company).id,
                end_date=day)
            deal = _move(deal, pipeline, 'PREPARATION')
            execution, = _executions(deal)
            self.assertEqual(execution.scheduled_at,
                datetime.datetime.combine(day, datetime.time()))

    @with_transaction()
    def test_run_twice_acts_once(self):
        "An execution run again (retried task, cron and worker) acts once"
        Execution = Pool().get('crm.automation.execution')
        company = create_company()
        with set_company(company):
            pipeline = _pipeline(company)
            _rule(pipeline, 'PREPARATION', action='activity',
                subject="Only once", assignee='responsible')
            deal = _deal(pipeline, employee=create_employee(company).id)
            deal = _move(deal, pipeline, 'PREPARATION')
            execution, = _executions(deal)
            # the task is delivered twice
            Execution.enqueue([execution])

            run_tasks()
            Execution.run([Execution(execution.id)])
            Execution.run_due()

            execution, = _executions(deal)
            self.assertEqual(execution.state, 'done')
            self.assertEqual(execution.attempts, 1)
            self.assertEqual(len(_activities(deal)), 1)

    @with_transaction()
    def test_deal_left_stage(self):
        "A delayed rule is skipped when the deal has left the stage"
        Execution = Pool().get('crm.automation.execution')
        company = create_company()
        with set_company(company):
            pipeline = _pipeline(company)
            _rule(pipeline, 'PREPARATION', action='activity',
                subject="Too late", assignee='responsible',
                delay='after', delay_interval=1, delay_unit='days')
            deal = _deal(pipeline, employee=create_employee(company).id)
            deal = _move(deal, pipeline, 'PREPARATION')
            deal = _move(deal, pipeline, 'EXECUTING')
            execution, = _executions(deal)
            Execution.write([execution], {
                    'scheduled_at': (
                        datetime.datetime.now()
                        - datetime.timedelta(minutes=1))})
            Execution.run_due()

            execution, = _executions(deal)
            self.assertEqual(execution.state, 'skipped')
            self.assertIn("left stage", execution.result)
            self.assertEqual(_activities(deal), [])

    @with_transaction()
    def test_inactive_rule_skipped(self):
        "A rule deactivated before it is due does nothing"
        Rule = Pool().get('crm.automation.rule')
        company = create_company()
        with set_company(company):
            pipeline = _pipeline(company)
            rule = _rule(pipeline, 'PREPARATION', action='activity',
                subject="Nope", assignee='responsible')
            deal = _deal(pipeline, employee=create_employee(company).id)
            deal = _move(deal, pipeline, 'PREPARATION')
            Rule.write([rule], {'active': False})
            run_tasks()
            execution, = _executions(deal)
            self.assertEqual(execution.state, 'skipped')
            self.assertEqual(_activities(deal), [])

    @with_transaction()
    def test_email(self):
        "The e-mail rule sends the template and logs it on the timeline"
        pool = Pool()
        Template = pool.get('ir.email.template')
        IrModel = pool.get('ir.model')
        Email = pool.get('ir.email')
        company = create_company()
        with set_company(company):
            model, = IrModel.search([('name', '=', 'sale.opportunity')])
            template, = Template.create([{
                        'model': model.id,
                        'name': "Welcome",
                        'subject': "About ${record.description}",
                        'body': "<p>We are on it.</p>",
                        }])
            pipeline = _pipeline(company)
            _rule(pipeline, 'PREPARATION', action='email',
                email_template=template.id)
            contact = _party("Ann", email='ann@example.com')
            deal = _deal(pipeline, contact_party=contact.id)
            deal = _move(deal, pipeline, 'PREPARATION')
            with patch('trytond.ir.email_.send_message_transactional') \
                    as send:
                run_tasks()

            execution, = _executions(deal)
            self.assertEqual(execution.state, 'done', execution.error)
            message, = [c.args[0] for c in send.call_args_list]
            self.assertEqual(message['To'], 'ann@example.com')
            self.assertEqual(message['Subject'], "About Roof repair")
            email, = Email.search([
                    ('resource', '=', str(deal))])
            self.assertEqual(email.subject, "About Roof repair")
            self.assertIn('ann@example.com', email.recipients)
            activity, = _activities(deal, 'email')
            self.assertEqual(activity.direction, 'outgoing')
            self.assertEqual(activity.subject, "About Roof repair")
            self.assertEqual(activity.origin, email)

    @with_transaction()
    def test_email_without_address(self):
        "A recipient without e-mail fails the rule, not the stage change"
        pool = Pool()
        Template = pool.get('ir.email.template')
        IrModel = pool.get('ir.model')
        Email = pool.get('ir.email')
        company = create_company()
        with set_company(company):
            model, = IrModel.search([('name', '=', 'sale.opportunity')])
            template, = Template.create([{
                        'model': model.id,
                        'name': "Welcome",
                        'subject': "Hello",
                        'body': "Hello",
                        }])
            pipeline = _pipeline(company)
            _rule(pipeline, 'PREPARATION', name="Greet", action='email',
                email_template=template.id)
            _rule(pipeline, 'PREPARATION', name="Task", action='activity',
                subject="Still done", assignee='responsible')
            contact = _party("No Mail")
            deal = _deal(pipeline, contact_party=contact.id,
                party=_party("Client", 'organisation').id,
                employee=create_employee(company).id)
            deal = _move(deal, pipeline, 'PREPARATION')
            run_tasks()

            failed, done = _executions(deal)
            self.assertEqual(failed.state, 'failed')
            self.assertIn("no e-mail address", failed.error)
            self.assertEqual(done.state, 'done')
            self.assertEqual(deal.stage, _stage(pipeline, 'PREPARATION'))
            self.assertFalse(Email.search([]))
            self.assertFalse(_activities(deal, 'email'))
            note, = _activities(deal, 'note')
            self.assertIn("Greet", note.subject)
            self.assertIn("no e-mail address", note.description)
            task, = _activities(deal, 'task')
            self.assertEqual(task.subject, "Still done")

    @with_transaction()
    def test_template_in_use(self):
        "A template used by a rule cannot be deleted from under it"
        pool = Pool()
        Template = pool.get('ir.email.template')
        IrModel = pool.get('ir.model')
        company = create_company()
        with set_company(company):
            model, = IrModel.search([('name', '=', 'sale.opportunity')])
            template, = Template.create([{
                        'model': model.id, 'name': "Used"}])
            pipeline = _pipeline(company)
            _rule(pipeline, 'PREPARATION', action='email',
                email_template=template.id)
            with self.assertRaises(ForeignKeyError):
                Template.delete([template])

    @with_transaction()
    def test_failed_rule_rolled_back_and_retried(self):
        "A failing action leaves nothing behind and can be retried"
        pool = Pool()
        Execution = pool.get('crm.automation.execution')
        Rule = pool.get('crm.automation.rule')
        company = create_company()
        with set_company(company):
            pipeline = _pipeline(company)
            rule = _rule(pipeline, 'PREPARATION', action='activity',
                subject="For the supervisor", assignee='supervisor')
            employee = create_employee(company)
            deal = _deal(pipeline, employee=employee.id)
            deal = _move(deal, pipeline, 'PREPARATION')
            run_tasks()
            execution, = _executions(deal)
            self.assertEqual(execution.state, 'failed')
            self.assertIn("has no supervisor", execution.error)
            self.assertEqual(_activities(deal, 'task'), [])

            Rule.write([rule], {'assignee': 'responsible'})
            Execution.retry([execution])
            run_tasks()
            execution, = _executions(deal)
            self.assertEqual(execution.state, 'done')
            self.assertEqual(execution.attempts, 2)
            self.assertEqual(len(_activities(deal, 'task')), 1)

    @with_transaction()
    def test_notify_user(self):
        "The notify rule notifies the user of the responsible"
        Notification = Pool().get('res.notification')
        company = create_company()
        with set_company(company):
            employee = create_employee(company, "Dwight")
            user = _user(employee, 'dwight')
            pipeline = _pipeline(company)
            _rule(pipeline, 'PREPARATION', action='notify',
                subject="Deal ${record.description} needs you",
                assignee='responsible')
            deal = _deal(pipeline, employee=employee.id)
            deal = _move(deal, pipeline, 'PREPARATION')
            run_tasks()

            execution, = _executions(deal)
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
            pipeline = _pipeline(company)
            _rule(pipeline, 'PREPARATION', action='field',
                field_name='start_date', field_value='2026-03-01')
            _rule(pipeline, 'PREPARATION', action='field',
                field_name='utm_campaign', field_value='spring')
            deal = _deal(pipeline)
            deal = _move(deal, pipeline, 'PREPARATION')
            run_tasks()
            deal = deal.__class__(deal.id)
            self.assertEqual(deal.start_date, datetime.date(2026, 3, 1))
            self.assertEqual(deal.utm_campaign, 'spring')

    @with_transaction()
    def test_set_field_invalid(self):
        "A value that does not fit the field is refused when saving"
        company = create_company()
        with set_company(company):
            pipeline = _pipeline(company)
            with self.assertRaisesRegex(ValidationError, "not a valid value"):
                _rule(pipeline, 'PREPARATION', action='field',
                    field_name='start_date', field_value='next week')
            with self.assertRaises(ValidationError):
                _rule(pipeline, 'PREPARATION', action='field',
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
            pipeline = _pipeline(company)
            _rule(pipeline, 'PREPARATION', action='responsible',
                responsible_mode='round_robin')
            _rule(pipeline, 'EXECUTING', action='responsible',
                responsible_mode='employee', employee=boss.id)
            deal1 = _move(_deal(pipeline), pipeline, 'PREPARATION')
            deal2 = _move(_deal(pipeline), pipeline, 'PREPARATION')
            run_tasks()
            self.assertEqual(
                {deal1.__class__(deal1.id).employee,
                    deal2.__class__(deal2.id).employee},
                {first, second})

            deal1 = _move(deal1, pipeline, 'EXECUTING')
            run_tasks()
            self.assertEqual(deal1.__class__(deal1.id).employee, boss)

    @with_transaction()
    def test_move_stage_chains(self):
        "A rule moving the deal runs the rules of the next stage"
        company = create_company()
        with set_company(company):
            pipeline = _pipeline(company)
            _rule(pipeline, 'PREPARATION', action='stage',
                target_stage=_stage(pipeline, 'PREPAYMENT_INVOICE').id)
            _rule(pipeline, 'PREPAYMENT_INVOICE', action='activity',
                subject="Send the invoice", assignee='responsible')
            deal = _deal(pipeline, employee=create_employee(company).id)
            deal = _move(deal, pipeline, 'PREPARATION')
            run_tasks()
            deal = deal.__class__(deal.id)
            self.assertEqual(
                deal.stage, _stage(pipeline, 'PREPAYMENT_INVOICE'))
            self.assertEqual(
                [e.state for e in _executions(deal)], ['done', 'done'])
            task, = _activities(deal, 'task')
            self.assertEqual(task.subject, "Send the invoice")

    @with_transaction()
    def test_rules_in_a_circle_stop(self):
        "Rules moving a deal back and forth stop after a number of hops"
        company = create_company()
        with set_company(company):
            pipeline = _pipeline(company)
            _rule(pipeline, 'PREPARATION', action='stage',
                target_stage=_stage(pipeline, 'EXECUTING').id)
            _rule(pipeline, 'EXECUTING', action='stage',
                target_stage=_stage(pipeline, 'PREPARATION').id)
            deal = _deal(pipeline)
            _move(deal, pipeline, 'PREPARATION')
            run_tasks()
            executions = _executions(deal)
            self.assertEqual(executions[-1].state, 'skipped')
            self.assertIn("in a circle", executions[-1].error)
            self.assertLessEqual(len(executions), 12)

    @with_transaction()
    def test_target_stage_other_pipeline(self):
        "A rule cannot move deals to a stage of another pipeline"
        company = create_company()
        with set_company(company):
            pipeline = _pipeline(company)
            other = _pipeline(company)
            with self.assertRaises(ValidationError):
                _rule(pipeline, 'PREPARATION', action='stage',
                    target_stage=_stage(other, 'EXECUTING').id)

    @with_transaction()
    def test_create_quote(self):
        "The quote rule creates a sale quotation from the deal"
        pool = Pool()
        Template = pool.get('product.template')
        Uom = pool.get('product.uom')
        Category = pool.get('product.category')
        company = create_company()
        with set_company(company):
            unit, = Uom.search([('name', '=', 'Unit')])
            category, = Category.create([{
                        'name': "Services", 'accounting': True}])
            template, = Template.create([{
                        'name': "Service",
                        'type': 'service',
                        'salable': True,
                        'default_uom': unit.id,
                        'sale_uom': unit.id,
                        'list_price': Decimal(50),
                        'account_category': category.id,
                        'products': [('create', [{}])],
                        }])
            product, = template.products
            pipeline = _pipeline(company)
            _rule(pipeline, 'PREPARATION', action='quote')
            deal = _deal(pipeline,
                party=_party("Client", 'organisation').id,
                lines=[('create', [{
                                'product': product.id,
                                'quantity': 3,
                                'unit': unit.id,
                                }])])
            deal = _move(deal, pipeline, 'PREPARATION')
            run_tasks()
            execution, = _executions(deal)
            self.assertEqual(execution.state, 'done', execution.error)
            deal = deal.__class__(deal.id)
            sale, = deal.sales
            self.assertEqual(sale.state, 'quotation')
            self.assertEqual(sale.untaxed_amount, Decimal('150.00'))
            self.assertIn(sale.rec_name, execution.result)


class AutomationTriggerTestCase(CrmTestCase):
    "Triggers move deals when something happens on them"

    @with_transaction()
    def test_intake_call_moves_deal(self):
        "An incoming call on a deal moves it to the trigger's stage"
        pool = Pool()
        Intake = pool.get('crm.intake')
        Trigger = pool.get('crm.automation.trigger')
        company = create_company()
        with set_company(company):
            pipeline = _pipeline(company)
            Trigger.create([{
                        'name': "Called back",
                        'pipeline': pipeline.id,
                        'event': 'call_incoming',
                        'stage': _stage(pipeline, 'PREPARATION').id,
                        }, {
                        'name': "Wrote",
                        'pipeline': pipeline.id,
                        'event': 'email_incoming',
                        'stage': _stage(pipeline, 'EXECUTING').id,
                        }])
            _rule(pipeline, 'PREPARATION', action='activity',
                subject="Prepare the offer", assignee='responsible')
            deal = _deal(pipeline, contact_email='ann@example.com',
                employee=create_employee(company).id)

            result = Intake.submit('CALL', {
                    'name': "Ann", 'email': 'ann@example.com'})

            self.assertEqual(result['opportunity'], deal.id)
            deal = deal.__class__(deal.id)
            self.assertEqual(deal.stage, _stage(pipeline, 'PREPARATION'))
            run_tasks()
            task, = _activities(deal, 'task')
            self.assertEqual(task.subject, "Prepare the offer")

    @with_transaction()
    def test_trigger_moves_forward_only(self):
        "A trigger does not move a deal back unless told to"
        pool = Pool()
        Automation = pool.get('crm.automation')
        Trigger = pool.get('crm.automation.trigger')
        company = create_company()
        with set_company(company):
            pipeline = _pipeline(company)
            trigger, = Trigger.create([{
                        'name': "Web form",
                        'pipeline': pipeline.id,
                        'event': 'webform',
                        'stage': _stage(pipeline, 'PREPARATION').id,
                        }])
            deal = _move(_deal(pipeline), pipeline, 'EXECUTING')
            won = _move(_deal(pipeline), pipeline, 'WON')

            self.assertEqual(Automation.fire('webform', [deal, won]), [])
            self.assertEqual(deal.__class__(deal.id).stage,
                _stage(pipeline, 'EXECUTING'))

            Trigger.write([trigger], {'allow_backward': True})
            self.assertEqual(Automation.fire('webform', [deal, won]), [deal])
            self.assertEqual(deal.__class__(deal.id).stage,
                _stage(pipeline, 'PREPARATION'))
            self.assertEqual(won.__class__(won.id).stage,
                _stage(pipeline, 'WON'))

    @with_transaction()
    def test_trigger_from_stages(self):
        "A trigger may apply only to deals in some stages"
        pool = Pool()
        Automation = pool.get('crm.automation')
        Trigger = pool.get('crm.automation.trigger')
        company = create_company()
        with set_company(company):
            pipeline = _pipeline(company)
            Trigger.create([{
                        'name': "Chat",
                        'pipeline': pipeline.id,
                        'event': 'chat_started',
                        'stage': _stage(pipeline, 'EXECUTING').id,
                        'from_stages': [('add', [
                                    _stage(pipeline, 'PREPARATION').id])],
                        }])
            new = _deal(pipeline)
            prepared = _move(_deal(pipeline), pipeline, 'PREPARATION')
            moved = Automation.fire('chat_started', [new, prepared])
            self.assertEqual(moved, [prepared])
            self.assertEqual(new.__class__(new.id).stage,
                _stage(pipeline, 'NEW'))

    @with_transaction()
    def test_trigger_refused_is_noted(self):
        "A move the stage refuses is noted on the deal, not raised"
        pool = Pool()
        Automation = pool.get('crm.automation')
        Trigger = pool.get('crm.automation.trigger')
        company = create_company()
        with set_company(company):
            pipeline = _pipeline(company)
            Trigger.create([{
                        'name': "Lost on chat",
                        'pipeline': pipeline.id,
                        'event': 'chat_started',
                        'stage': _stage(pipeline, 'LOSE').id,
                        }])
            deal = _deal(pipeline)
            self.assertEqual(Automation.fire('chat_started', [deal]), [])
            deal = deal.__class__(deal.id)
            self.assertEqual(deal.stage, _stage(pipeline, 'NEW'))
            note, = _activities(deal, 'note')
            self.assertIn("Lost on chat", note.subject)

    @with_transaction()
    def test_unknown_event(self):
        "Firing an event nobody registered is a programming error"
        Automation = Pool().get('crm.automation')
        with self.assertRaises(ValueError):
            Automation.fire('no_such_event', [])

    @with_transaction()
    def test_invoice_paid_moves_deal(self):
        "Paying the invoice of a deal's sale moves the deal"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Sale = pool.get('sale.sale')
        Invoice = pool.get('account.invoice')
        Trigger = pool.get('crm.automation.trigger')
        Journal = pool.get('account.journal')
        PaymentMethod = pool.get('account.invoice.payment.method')
        Account = pool.get('account.account')
        Template = pool.get('product.template')
        Category = pool.get('product.category')
        Uom = pool.get('product.uom')
        Date = pool.get('ir.date')
        from trytond.modules.account.tests import (
            create_chart, get_fiscalyear)
        from trytond.modules.account_invoice.tests import (
            set_invoice_sequences)

        company = create_company()
        with set_company(company):
            create_chart(company)
            fiscalyear = set_invoice_sequences(get_fiscalyear(company))
            fiscalyear.save()
            fiscalyear.create_period([fiscalyear])
            revenue, = Account.search([
                    ('type.revenue', '=', True),
                    ('closed', '!=', True),
                    ('company', '=', company.id),
                    ], limit=1)
            cash, = Account.search([
                    ('code', '=', '1.1.1'),
                    ('company', '=', company.id)])
            journal, = Journal.search([('code', '=', 'CASH')])
            method, = PaymentMethod.create([{
                        'name': "Cash",
                        'journal': journal.id,
                        'credit_account': cash.id,
                        'debit_account': cash.id,
                        }])
            unit, = Uom.search([('name', '=', 'Unit')])
            category, = Category.create([{
                        'name': "Services", 'accounting': True,
                        'account_revenue': revenue.id}])
            template, = Template.create([{
                        'name': "Service",
                        'type': 'service',
                        'salable': True,
                        'default_uom': unit.id,
                        'sale_uom': unit.id,
                        'list_price': Decimal(100),
                        'account_category': category.id,
                        'products': [('create', [{}])],
                        }])
            product, = template.products
            pipeline = _pipeline(company)
            Trigger.create([{
                        'name': "Prepayment received",
                        'pipeline': pipeline.id,
                        'event': 'invoice_paid',
                        'stage': _stage(pipeline, 'EXECUTING').id,
                        }])
            client = _party("Client", 'organisation')
            deal = _deal(pipeline, party=client.id, lines=[('create', [{
                                'product': product.id,
                                'quantity': 1,
                                'unit': unit.id,
                                }])])
            deal = _move(deal, pipeline, 'PREPAYMENT_INVOICE')
            # the prepayment and the balance are two quotes of the deal
            Opportunity.create_quote([deal])
            Opportunity.create_quote([deal])
            prepayment, balance = deal.__class__(deal.id).sales
            Sale.confirm([prepayment])
            Sale.process([prepayment])
            invoice, = prepayment.invoices
            Invoice.post([invoice])
            self.assertEqual(deal.__class__(deal.id).stage,
                _stage(pipeline, 'PREPAYMENT_INVOICE'))

            lines = invoice.pay_invoice(
                invoice.total_amount, method, Date.today())
            Line = pool.get('account.move.line')
            to_reconcile = [l for l in invoice.lines_to_pay + tuple(lines)
                if l.account == invoice.account]
            Line.reconcile(to_reconcile)
            run_tasks()

            invoice = Invoice(invoice.id)
            self.assertEqual(invoice.state, 'paid')
            deal = deal.__class__(deal.id)
            self.assertEqual(deal.stage, _stage(pipeline, 'EXECUTING'))
