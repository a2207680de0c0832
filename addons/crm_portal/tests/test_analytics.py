"CRM reports: funnel, manager activity, sources, forecast and sales plan"
import datetime
import functools
import unittest
from decimal import Decimal

from trytond.model.exceptions import AccessError
from trytond.modules.company.tests import (
    create_company, create_employee, set_company)
from trytond.pool import Pool
from trytond.tests.test_tryton import (
    activate_module, drop_db, with_transaction)
from trytond.transaction import Transaction

D = datetime.date
DT = datetime.datetime
PERIOD = {'from_date': D(2024, 1, 1), 'to_date': D(2024, 12, 31)}

# Deal number: (amount, employee, stages it goes through, days spent in
# each stage it left). The last stage is where the deal stays.
DEALS = {
    1: (100, 'A', ['S1'], []),
    2: (200, 'A', ['S1', 'S2'], [2]),
    3: (300, 'A', ['S1', 'S2', 'S3'], [3, 4]),
    4: (400, 'A', ['S1', 'S2', 'S3', 'S4'], [4, 4, 0.5]),
    5: (500, 'A', ['S1', 'S2', 'S3', 'S4', 'WON'], [5, 4, 0.5, 3]),
    6: (600, 'B', ['S1', 'S2', 'WON'], [6, 4]),
    7: (700, 'B', ['S1', 'S2', 'LOST'], [7, 4]),
    8: (800, 'B', ['S1', 'S3', 'LOST'], [8, 0.5]),
    9: (900, 'B', ['S3'], []),
    10: (1000, 'B', ['S1', 'S2', 'S3', 'S2'], [10, 4, 0.5]),
    }


def in_company(func):
    "Run the test in a new company, the current one"
    @functools.wraps(func)
    def wrapper(self):
        company = create_company()
        with set_company(company):
            return func(self, company)
    return wrapper


class AnalyticsTestCase(unittest.TestCase):
    "Figures of the CRM reports on a known data set"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        drop_db()
        activate_module('crm_portal')

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        drop_db()

    def _setup(self, company):
        "Build the data set in company (the current company)"
        pool = Pool()
        Pipeline = pool.get('crm.pipeline')
        Opportunity = pool.get('sale.opportunity')
        Party = pool.get('party.party')
        History = pool.get('crm.deal.stage.history')
        Source = pool.get('crm.source')
        Activity = pool.get('crm.activity')
        Plan = pool.get('crm.sales.plan')

        employees = {
            'A': create_employee(company, "Anna"),
            'B': create_employee(company, "Boris"),
            }
        pipeline, = Pipeline.create([{
                    'name': "Sales",
                    'company': company.id,
                    'stages': [('create', [
                                {'name': n, 'code': n, 'sequence': i,
                                    'kind': k, 'probability': p}
                                for i, (n, k, p) in enumerate([
                                        ('S1', 'in_progress', 0.1),
                                        ('S2', 'in_progress', 0.3),
                                        ('S3', 'in_progress', 0.6),
                                        ('S4', 'in_progress', 0.8),
                                        ('WON', 'won', 1),
                                        ('LOST', 'lost', 0),
                                        ], 1)])],
                    }])
        stages = {s.code: s for s in pipeline.stages}
        party, = Party.create([{'name': "Client"}])

        web, call = Source.get_by_code('WEBFORM'), Source.get_by_code('CALL')
        with Transaction().set_context(crm_type='lead'):
            leads = Opportunity.create([{
                        'description': 'Lead %d' % i, 'party': party.id,
                        'start_date': D(2024, 1, 10), 'source': s.id,
                        'utm_campaign': c,
                        } for i, (s, c) in enumerate([
                                (web, 'spring'), (web, 'spring'),
                                (web, 'autumn'), (call, None)])])

        deals = {}
        for n, (amount, employee, path, _) in DEALS.items():
            deal, = Opportunity.create([{
                        'crm_type': 'deal',
                        'description': 'Deal %d' % n,
                        'party': party.id,
                        'pipeline': pipeline.id,
                        'stage': stages[path[0]].id,
                        'amount': Decimal(amount),
                        'employee': employees[employee].id,
                        'start_date': D(2024, 1, 10),
                        }])
            for code in path[1:]:
                values = {'stage': stages[code].id}
                if code == 'LOST':
                    values['lost_reason'] = "Too expensive"
                Opportunity.write([deal], values)
            deals[n] = deal
        # Explicit stage timestamps: each deal starts on its own day.
        for n, (_, _, path, days) in DEALS.items():
            rows = History.search(
                [('deal', '=', deals[n].id)], order=[('id', 'ASC')])
            self.assertEqual([r.stage.code for r in rows], path)
            entered = DT(2024, 1, n, 9)
            for row, spent in zip(rows, days + [None]):
                left = (entered + datetime.timedelta(days=spent)
                    if spent is not None else None)
                History.write([row], {'entered': entered, 'left': left})
                entered = left

        Opportunity.write(
            [deals[5]], {'end_date': D(2024, 3, 15), 'origin_lead': leads[1]},
            [deals[6]], {'end_date': D(2024, 4, 20)},
            [deals[2]], {'end_date': D(2024, 5, 20), 'origin_lead': leads[0]},
            [deals[1]], {'end_date': D(2024, 5, 10)},
            [deals[3]], {'end_date': D(2024, 6, 5)})
        Opportunity.write([deals[5], deals[2]], {
                'source': web.id, 'utm_campaign': 'spring'})

        # Outside the period; and a pipeline without won deals.
        Opportunity.create([{
                    'crm_type': 'deal', 'description': 'Old',
                    'party': party.id,
                    'pipeline': pipeline.id, 'stage': stages['S1'].id,
                    'amount': Decimal(50), 'start_date': D(2023, 6, 1),
                    }])
        other, = Pipeline.create([{
                    'name': "Other", 'company': company.id,
                    'stages': [('create', [{
                                    'name': 'O1', 'code': 'O1',
                                    'probability': 0.5}])],
                    }])
        Opportunity.create([{
                    'crm_type': 'deal', 'description': 'Other',
                    'party': party.id, 'pipeline': other.id,
                    'amount': Decimal(10), 'start_date': D(2024, 7, 15),
                    }])

        done = DT(2024, 2, 1, 12)
        activities = []
        for employee, kinds in [
                ('A', ['call'] * 3 + ['meeting'] + ['email'] * 2 + ['task']),
                ('B', ['call'] + ['meeting'] * 2 + ['task'] * 2)]:
            for kind in kinds:
                activities.append({'type': kind, 'done': True,
                        'responsible': employees[employee].id})
        activities += [
            # Not counted: not done, a note, done before the period.
            {'type': 'task', 'done': False,
                'responsible': employees['A'].id},
            {'type': 'note', 'done': True, 'responsible': employees['A'].id},
            {'type': 'call', 'done': True, 'responsible': employees['A'].id},
            ]
        for values in activities:
            values.setdefault('subject', values['type'])
        records = Activity.create(activities)
        Activity.write([a for a in records if a.done], {'done_date': done})
        Activity.write([records[-1]], {'done_date': DT(2023, 12, 31, 23)})

        Plan.create([
                {'employee': employees['A'].id, 'month': D(2024, 3, 17),
                    'amount': Decimal(1000)},
                {'employee': employees['A'].id, 'month': D(2024, 4, 1),
                    'amount': Decimal(500)},
                {'employee': employees['B'].id, 'month': D(2024, 4, 1),
                    'amount': Decimal(800)},
                ])
        return company, pipeline, stages, employees, deals

    @with_transaction()
    def test_stage_history_recorded(self):
        "Moving a deal records one row per stage with entry and exit"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        History = pool.get('crm.deal.stage.history')
        Pipeline = pool.get('crm.pipeline')
        Party = pool.get('party.party')
        company = create_company()
        with set_company(company):
            pipeline = Pipeline.create_standard(company.id)
            first, second = pipeline.stages[:2]
            party, = Party.create([{'name': "Client"}])
            deal, = Opportunity.create([{
                        'crm_type': 'deal', 'party': party.id,
                        'pipeline': pipeline.id, 'stage': first.id}])
            row, = deal.stage_history
            self.assertEqual((row.stage, row.left), (first, None))

            Opportunity.write([deal], {'stage': second.id})
            Opportunity.write([deal], {'stage': second.id})  # no change

            rows = History.search(
                [('deal', '=', deal.id)], order=[('id', 'ASC')])
            self.assertEqual([r.stage for r in rows], [first, second])
            self.assertTrue(rows[0].left)
            self.assertEqual(rows[0].left, rows[1].entered)
            self.assertIsNone(rows[1].left)

    @with_transaction()
    @in_company
    def test_funnel(self, company):
        "Counts, amounts, conversions and time per stage of the funnel"
        pool = Pool()
        Funnel = pool.get('crm.analytics.funnel')
        company, pipeline, stages, _, _ = self._setup(company)
        with Transaction().set_context(pipeline=pipeline.id, **PERIOD):
            rows = Funnel.search([])
            figures = [(
                    r.stage.code, r.number, r.amount, r.next_number,
                    r.conversion, r.current_number, r.current_amount,
                    r.average_days) for r in rows]
        self.assertEqual(figures, [
                ('S1', 10, 5500, 9, 0.9, 1, 100, 5.625),
                ('S2', 9, 5400, 7, 0.7778, 2, 1200, 4.0),
                ('S3', 7, 4500, 3, 0.4286, 2, 1200, 0.5),
                ('S4', 3, 1500, 2, 0.6667, 1, 400, 3.0),
                ('WON', 2, 1100, 0, None, 2, 1100, None),
                ('LOST', 2, 1500, 0, None, 2, 1500, None),
                ])
        self.assertEqual(rows[0].currency, company.currency)

        # The period: the deal of 2023 counts when the period includes it.
        with Transaction().set_context(
                pipeline=pipeline.id, from_date=D(2023, 1, 1)):
            first = Funnel.search([], limit=1)[0]
            self.assertEqual((first.number, first.amount), (11, 5550))
        # Creation date instead of start date: everything was created today.
        with Transaction().set_context(pipeline=pipeline.id,
                date_field='create_date', **PERIOD):
            self.assertEqual(Funnel.search([], limit=1)[0].number, 0)

    @with_transaction()
    @in_company
    def test_manager_activity(self, company):
        "Activities done by type and deals won per employee"
        Report = Pool().get('crm.analytics.activity')
        _, _, _, employees, _ = self._setup(company)
        with Transaction().set_context(**PERIOD):
            rows = Report.search([])
            figures = {r.employee.id: (r.calls, r.meetings, r.emails,
                    r.tasks, r.activities, r.won, r.won_amount)
                for r in rows}
        self.assertEqual(figures, {
                employees['A'].id: (3, 1, 2, 1, 7, 1, 500),
                employees['B'].id: (1, 2, 0, 2, 5, 1, 600),
                })
        with Transaction().set_context(
                employee_filter=employees['B'].id, **PERIOD):
            row, = Report.search([])
            self.assertEqual(row.employee, employees['B'])

    @with_transaction()
    @in_company
    def test_sources(self, company):
        "Leads, conversion, deals and won amount per source and campaign"
        pool = Pool()
        Report = pool.get('crm.analytics.source')
        Source = pool.get('crm.source')
        self._setup(company)
        web, call = Source.get_by_code('WEBFORM'), Source.get_by_code('CALL')
        with Transaction().set_context(**PERIOD):
            rows = Report.search([])
            figures = {(r.source, r.utm_campaign): (r.leads,
                    r.converted_leads, r.conversion, r.deals,
                    r.deals_from_leads, r.won, r.won_amount)
                for r in rows}
        self.assertEqual(figures, {
                (web, 'spring'): (2, 2, 1.0, 2, 2, 1, 500),
                (web, 'autumn'): (1, 0, 0.0, 0, 0, 0, 0),
                (call, None): (1, 0, 0.0, 0, 0, 0, 0),
                (None, None): (0, 0, 0.0, 9, 0, 1, 600),
                })

    @with_transaction()
    @in_company
    def test_forecast(self, company):
        "Open amount weighted by stage probability per expected month"
        Forecast = Pool().get('crm.analytics.forecast')
        self._setup(company)
        # Deals 4, 9 and 10 have no end date: start (10 January) plus the
        # average won cycle (65 and 101 days: 83) falls in April. The other
        # pipeline has no won deal: its deal falls in its start month.
        with Transaction().set_context(**PERIOD):
            figures = [(r.month, r.number, r.amount, r.weighted_amount)
                for r in Forecast.search([])]
        self.assertEqual(figures, [
                (D(2024, 4, 1), 3, 2300, 1160),
                (D(2024, 5, 1), 2, 300, 70),
                (D(2024, 6, 1), 1, 300, 180),
                (D(2024, 7, 1), 1, 10, 5),
                ])

    @with_transaction()
    @in_company
    def test_plan_against_won(self, company):
        "The sales plan per employee and month against won amounts"
        pool = Pool()
        Report = pool.get('crm.analytics.sales_plan')
        Plan = pool.get('crm.sales.plan')
        _, _, _, employees, _ = self._setup(company)
        self.assertEqual(
            sorted(p.month for p in Plan.search([])),
            [D(2024, 3, 1), D(2024, 4, 1), D(2024, 4, 1)])
        A, B = employees['A'].id, employees['B'].id
        with Transaction().set_context(**PERIOD):
            figures = [(r.month, r.employee.id, r.plan, r.won_amount,
                    r.achievement) for r in Report.search([])]
        self.assertEqual(figures, [
                (D(2024, 3, 1), A, 1000, 500, 0.5),
                (D(2024, 4, 1), A, 500, 0, 0.0),
                (D(2024, 4, 1), B, 800, 600, 0.75),
                ])

    @with_transaction()
    @in_company
    def test_plan_access(self, company):
        "CRM users read reports and plans; only administrators edit plans"
        pool = Pool()
        User = pool.get('res.user')
        Group = pool.get('res.group')
        ModelData = pool.get('ir.model.data')
        Plan = pool.get('crm.sales.plan')
        Funnel = pool.get('crm.analytics.funnel')
        company, pipeline, _, employees, _ = self._setup(company)
        group = Group(ModelData.get_id('crm_portal', 'group_crm'))
        user, = User.create([{
                    'name': "CRM User", 'login': 'crm_user',
                    'groups': [('add', [group.id])],
                    'companies': [('add', [company.id])],
                    'company': company.id,
                    }])
        plan = Plan.search([], limit=1)[0]
        with Transaction().set_user(user.id), \
                Transaction().set_context(
                    _check_access=True, pipeline=pipeline.id, **PERIOD):
            self.assertEqual(len(Funnel.search([])), 6)
            self.assertEqual(Plan.read([plan.id], ['amount'])[0]['amount'],
                plan.amount)
            with self.assertRaises(AccessError):
                Plan.write([Plan(plan.id)], {'amount': Decimal(1)})
