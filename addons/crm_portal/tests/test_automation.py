"Automation rules run when a deal enters a stage, once, on time"
import datetime

from trytond.modules.company.tests import (
    create_company, create_employee, set_company)
from trytond.modules.crm_portal.tests.tools import CrmTestCase
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction

from trytond.modules.crm_portal.tests.automation_tools import (
    activities_of, default_pipeline, executions_of, make_deal, make_rule,
    move_deal, run_tasks, stage_of)


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
            pipeline = default_pipeline(company)
            make_rule(pipeline, 'PREPARATION', action='activity',
                activity_type='call',
                subject="Call about ${record.description}",
                description="Ask for the budget",
                deadline_interval=2, deadline_unit='days',
                assignee='responsible')
            make_rule(pipeline, 'PREPARATION', action='activity',
                subject="Check the call", deadline_interval=4,
                deadline_unit='hours', assignee='supervisor')
            deal = make_deal(pipeline, employee=employee.id)
            self.assertEqual(executions_of(deal), [])

            before = datetime.datetime.now().replace(microsecond=0)
            deal = move_deal(deal, pipeline, 'PREPARATION')
            waiting = executions_of(deal)
            self.assertEqual([e.state for e in waiting], ['waiting'] * 2)
            self.assertEqual(activities_of(deal), [])

            run_tasks()
            after = datetime.datetime.now()

            self.assertEqual(
                [e.state for e in executions_of(deal)], ['done', 'done'])
            call, check = activities_of(deal)
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
            self.assertIn("Jim Halpert", executions_of(deal)[0].result)

    @with_transaction()
    def test_new_deal_in_stage(self):
        "A deal created in a stage runs the rules of that stage"
        company = create_company()
        with set_company(company):
            employee = create_employee(company)
            pipeline = default_pipeline(company)
            make_rule(pipeline, 'NEW', action='activity', subject="Welcome",
                assignee='employee', employee=employee.id)
            deal = make_deal(pipeline)
            run_tasks()
            task, = activities_of(deal)
            self.assertEqual(task.subject, "Welcome")
            self.assertEqual(task.responsible, employee)

    @with_transaction()
    def test_same_stage_not_entered(self):
        "Writing the stage a deal is already in runs nothing"
        company = create_company()
        with set_company(company):
            pipeline = default_pipeline(company)
            make_rule(pipeline, 'PREPARATION', action='activity',
                subject="Once", assignee='responsible')
            deal = make_deal(pipeline, employee=create_employee(company).id)
            deal = move_deal(deal, pipeline, 'PREPARATION')
            deal = move_deal(deal, pipeline, 'PREPARATION')
            self.assertEqual(len(executions_of(deal)), 1)

    @with_transaction()
    def test_delayed_rule(self):
        "A delayed rule waits and runs once its time has come"
        Execution = Pool().get('crm.automation.execution')
        company = create_company()
        with set_company(company):
            pipeline = default_pipeline(company)
            make_rule(pipeline, 'PREPARATION', action='activity',
                subject="Follow up", assignee='responsible',
                delay='after', delay_interval=3, delay_unit='hours')
            deal = make_deal(pipeline, employee=create_employee(company).id)
            now = datetime.datetime.now().replace(microsecond=0)
            deal = move_deal(deal, pipeline, 'PREPARATION')

            execution, = executions_of(deal)
            self.assertEqual(execution.state, 'waiting')
            self.assertGreaterEqual(
                execution.scheduled_at, now + datetime.timedelta(hours=3))

            # delivered early (no worker) or checked by the cron too soon
            run_tasks()
            Execution.run_due()
            execution, = executions_of(deal)
            self.assertEqual(execution.state, 'waiting')
            self.assertEqual(activities_of(deal), [])

            # three hours later
            Execution.write([execution], {
                    'scheduled_at': now - datetime.timedelta(minutes=1)})
            Execution.run_due()

            execution, = executions_of(deal)
            self.assertEqual(execution.state, 'done')
            self.assertEqual(execution.attempts, 1)
            task, = activities_of(deal)
            self.assertEqual(task.subject, "Follow up")

    @with_transaction()
    def test_until_date_field(self):
        "A rule may wait for a date of the deal"
        company = create_company()
        with set_company(company):
            pipeline = default_pipeline(company)
            rule = make_rule(pipeline, 'PREPARATION', action='activity',
                subject="Start", assignee='responsible',
                delay='until', delay_field='end_date')
            self.assertIn('end_date', dict(rule.get_date_fields()))
            day = datetime.date.today() + datetime.timedelta(days=10)
            deal = make_deal(pipeline, employee=create_employee(company).id,
                end_date=day)
            deal = move_deal(deal, pipeline, 'PREPARATION')
            execution, = executions_of(deal)
            self.assertEqual(execution.scheduled_at,
                datetime.datetime.combine(day, datetime.time()))

    @with_transaction()
    def test_run_twice_acts_once(self):
        "An execution run again (retried task, cron and worker) acts once"
        Execution = Pool().get('crm.automation.execution')
        company = create_company()
        with set_company(company):
            pipeline = default_pipeline(company)
            make_rule(pipeline, 'PREPARATION', action='activity',
                subject="Only once", assignee='responsible')
            deal = make_deal(pipeline, employee=create_employee(company).id)
            deal = move_deal(deal, pipeline, 'PREPARATION')
            execution, = executions_of(deal)
            # the task is delivered twice
            Execution.enqueue([execution])

            run_tasks()
            Execution.run([Execution(execution.id)])
            Execution.run_due()

            execution, = executions_of(deal)
            self.assertEqual(execution.state, 'done')
            self.assertEqual(execution.attempts, 1)
            self.assertEqual(len(activities_of(deal)), 1)

    @with_transaction()
    def test_deal_left_stage(self):
        "A delayed rule is skipped when the deal has left the stage"
        Execution = Pool().get('crm.automation.execution')
        company = create_company()
        with set_company(company):
            pipeline = default_pipeline(company)
            make_rule(pipeline, 'PREPARATION', action='activity',
                subject="Too late", assignee='responsible',
                delay='after', delay_interval=1, delay_unit='days')
            deal = make_deal(pipeline, employee=create_employee(company).id)
            deal = move_deal(deal, pipeline, 'PREPARATION')
            deal = move_deal(deal, pipeline, 'EXECUTING')
            execution, = executions_of(deal)
            Execution.write([execution], {
                    'scheduled_at': (
                        datetime.datetime.now()
                        - datetime.timedelta(minutes=1))})
            Execution.run_due()

            execution, = executions_of(deal)
            self.assertEqual(execution.state, 'skipped')
            self.assertIn("left stage", execution.result)
            self.assertEqual(activities_of(deal), [])

    @with_transaction()
    def test_inactive_rule_skipped(self):
        "A rule deactivated before it is due does nothing"
        Rule = Pool().get('crm.automation.rule')
        company = create_company()
        with set_company(company):
            pipeline = default_pipeline(company)
            rule = make_rule(pipeline, 'PREPARATION', action='activity',
                subject="Nope", assignee='responsible')
            deal = make_deal(pipeline, employee=create_employee(company).id)
            deal = move_deal(deal, pipeline, 'PREPARATION')
            Rule.write([rule], {'active': False})
            run_tasks()
            execution, = executions_of(deal)
            self.assertEqual(execution.state, 'skipped')
            self.assertEqual(activities_of(deal), [])

    @with_transaction()
    def test_failed_rule_rolled_back_and_retried(self):
        "A failing action leaves nothing behind and can be retried"
        pool = Pool()
        Execution = pool.get('crm.automation.execution')
        Rule = pool.get('crm.automation.rule')
        company = create_company()
        with set_company(company):
            pipeline = default_pipeline(company)
            rule = make_rule(pipeline, 'PREPARATION', action='activity',
                subject="For the supervisor", assignee='supervisor')
            employee = create_employee(company)
            deal = make_deal(pipeline, employee=employee.id)
            deal = move_deal(deal, pipeline, 'PREPARATION')
            run_tasks()
            execution, = executions_of(deal)
            self.assertEqual(execution.state, 'failed')
            self.assertIn("has no supervisor", execution.error)
            self.assertEqual(activities_of(deal, 'task'), [])

            Rule.write([rule], {'assignee': 'responsible'})
            Execution.retry([execution])
            run_tasks()
            execution, = executions_of(deal)
            self.assertEqual(execution.state, 'done')
            self.assertEqual(execution.attempts, 2)
            self.assertEqual(len(activities_of(deal, 'task')), 1)

    @with_transaction()
    def test_move_stage_chains(self):
        "A rule moving the deal runs the rules of the next stage"
        company = create_company()
        with set_company(company):
            pipeline = default_pipeline(company)
            make_rule(pipeline, 'PREPARATION', action='stage',
                target_stage=stage_of(pipeline, 'PREPAYMENT_INVOICE').id)
            make_rule(pipeline, 'PREPAYMENT_INVOICE', action='activity',
                subject="Send the invoice", assignee='responsible')
            deal = make_deal(pipeline, employee=create_employee(company).id)
            deal = move_deal(deal, pipeline, 'PREPARATION')
            run_tasks()
            deal = deal.__class__(deal.id)
            self.assertEqual(
                deal.stage, stage_of(pipeline, 'PREPAYMENT_INVOICE'))
            self.assertEqual(
                [e.state for e in executions_of(deal)], ['done', 'done'])
            task, = activities_of(deal, 'task')
            self.assertEqual(task.subject, "Send the invoice")

    @with_transaction()
    def test_rules_in_a_circle_stop(self):
        "Rules moving a deal back and forth stop after a number of hops"
        company = create_company()
        with set_company(company):
            pipeline = default_pipeline(company)
            make_rule(pipeline, 'PREPARATION', action='stage',
                target_stage=stage_of(pipeline, 'EXECUTING').id)
            make_rule(pipeline, 'EXECUTING', action='stage',
                target_stage=stage_of(pipeline, 'PREPARATION').id)
            deal = make_deal(pipeline)
            move_deal(deal, pipeline, 'PREPARATION')
            run_tasks()
            executions = executions_of(deal)
            self.assertEqual(executions[-1].state, 'skipped')
            self.assertIn("in a circle", executions[-1].error)
            self.assertLessEqual(len(executions), 12)
