"Automation triggers move deals when something happens on them"
from decimal import Decimal

from trytond.modules.company.tests import (
    create_company, create_employee, set_company)
from trytond.modules.crm_portal.tests.tools import CrmTestCase
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction

from trytond.modules.crm_portal.tests.automation_tools import (
    activities_of, default_pipeline, make_deal, make_party, make_rule,
    move_deal, run_tasks, stage_of)


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
            pipeline = default_pipeline(company)
            Trigger.create([{
                        'name': "Called back",
                        'pipeline': pipeline.id,
                        'event': 'call_incoming',
                        'stage': stage_of(pipeline, 'PREPARATION').id,
                        }, {
                        'name': "Wrote",
                        'pipeline': pipeline.id,
                        'event': 'email_incoming',
                        'stage': stage_of(pipeline, 'EXECUTING').id,
                        }])
            make_rule(pipeline, 'PREPARATION', action='activity',
                subject="Prepare the offer", assignee='responsible')
            deal = make_deal(pipeline, contact_email='ann@example.com',
                employee=create_employee(company).id)

            result = Intake.submit('CALL', {
                    'name': "Ann", 'email': 'ann@example.com'})

            self.assertEqual(result['opportunity'], deal.id)
            deal = deal.__class__(deal.id)
            self.assertEqual(deal.stage, stage_of(pipeline, 'PREPARATION'))
            run_tasks()
            task, = activities_of(deal, 'task')
            self.assertEqual(task.subject, "Prepare the offer")

    @with_transaction()
    def test_trigger_moves_forward_only(self):
        "A trigger does not move a deal back unless told to"
        pool = Pool()
        Automation = pool.get('crm.automation')
        Trigger = pool.get('crm.automation.trigger')
        company = create_company()
        with set_company(company):
            pipeline = default_pipeline(company)
            trigger, = Trigger.create([{
                        'name': "Web form",
                        'pipeline': pipeline.id,
                        'event': 'webform',
                        'stage': stage_of(pipeline, 'PREPARATION').id,
                        }])
            deal = move_deal(make_deal(pipeline), pipeline, 'EXECUTING')
            won = move_deal(make_deal(pipeline), pipeline, 'WON')

            self.assertEqual(Automation.fire('webform', [deal, won]), [])
            self.assertEqual(deal.__class__(deal.id).stage,
                stage_of(pipeline, 'EXECUTING'))

            Trigger.write([trigger], {'allow_backward': True})
            self.assertEqual(Automation.fire('webform', [deal, won]), [deal])
            self.assertEqual(deal.__class__(deal.id).stage,
                stage_of(pipeline, 'PREPARATION'))
            self.assertEqual(won.__class__(won.id).stage,
                stage_of(pipeline, 'WON'))

    @with_transaction()
    def test_trigger_from_stages(self):
        "A trigger may apply only to deals in some stages"
        pool = Pool()
        Automation = pool.get('crm.automation')
        Trigger = pool.get('crm.automation.trigger')
        company = create_company()
        with set_company(company):
            pipeline = default_pipeline(company)
            Trigger.create([{
                        'name': "Chat",
                        'pipeline': pipeline.id,
                        'event': 'chat_started',
                        'stage': stage_of(pipeline, 'EXECUTING').id,
                        'from_stages': [('add', [
                                    stage_of(pipeline, 'PREPARATION').id])],
                        }])
            new = make_deal(pipeline)
            prepared = move_deal(make_deal(pipeline), pipeline, 'PREPARATION')
            moved = Automation.fire('chat_started', [new, prepared])
            self.assertEqual(moved, [prepared])
            self.assertEqual(new.__class__(new.id).stage,
                stage_of(pipeline, 'NEW'))

    @with_transaction()
    def test_trigger_refused_is_noted(self):
        "A move the stage refuses is noted on the deal, not raised"
        pool = Pool()
        Automation = pool.get('crm.automation')
        Trigger = pool.get('crm.automation.trigger')
        company = create_company()
        with set_company(company):
            pipeline = default_pipeline(company)
            Trigger.create([{
                        'name': "Lost on chat",
                        'pipeline': pipeline.id,
                        'event': 'chat_started',
                        'stage': stage_of(pipeline, 'LOSE').id,
                        }])
            deal = make_deal(pipeline)
            self.assertEqual(Automation.fire('chat_started', [deal]), [])
            deal = deal.__class__(deal.id)
            self.assertEqual(deal.stage, stage_of(pipeline, 'NEW'))
            note, = activities_of(deal, 'note')
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
            pipeline = default_pipeline(company)
            Trigger.create([{
                        'name': "Prepayment received",
                        'pipeline': pipeline.id,
                        'event': 'invoice_paid',
                        'stage': stage_of(pipeline, 'EXECUTING').id,
                        }])
            client = make_party("Client", 'organisation')
            deal = make_deal(pipeline, party=client.id, lines=[('create', [{
                                'product': product.id,
                                'quantity': 1,
                                'unit': unit.id,
                                }])])
            deal = move_deal(deal, pipeline, 'PREPAYMENT_INVOICE')
            # the prepayment and the balance are two quotes of the deal
            Opportunity.create_quote([deal])
            Opportunity.create_quote([deal])
            prepayment, balance = deal.__class__(deal.id).sales
            Sale.confirm([prepayment])
            Sale.process([prepayment])
            invoice, = prepayment.invoices
            Invoice.post([invoice])
            self.assertEqual(deal.__class__(deal.id).stage,
                stage_of(pipeline, 'PREPAYMENT_INVOICE'))

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
            self.assertEqual(deal.stage, stage_of(pipeline, 'EXECUTING'))
