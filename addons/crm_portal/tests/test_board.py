"Deal and lead boards and the CRM home, as the web page calls them"
import datetime
from contextlib import contextmanager
from decimal import Decimal
from urllib.parse import quote

from trytond.exceptions import UserError
from trytond.modules.company.tests import create_employee
from trytond.modules.crm_portal.tests.tools import CrmTestCase, crm_company
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction


def run_tasks():
    "Run the queued tasks as trytond does after an RPC call"
    Queue = Pool().get('ir.queue')
    transaction = Transaction()
    while transaction.tasks:
        Queue(transaction.tasks.pop(0)).run()


class BoardTestCase(CrmTestCase):
    "Test the boards and the home page"

    def world(self):
        """A pipeline, a manager > seller hierarchy with CRM users, and
        deals of both plus one of an outsider"""
        pool = Pool()
        User = pool.get('res.user')
        Employee = pool.get('company.employee')
        ModelData = pool.get('ir.model.data')
        Pipeline = pool.get('crm.pipeline')
        company = Transaction().context['company']
        company = pool.get('company.company')(company)
        pipeline = Pipeline.get_default(company.id, create=True)
        self.client, = pool.get('party.party').create([{
                    'name': "Client", 'crm_kind': 'organisation'}])
        staff = {n: create_employee(company, n.title())
            for n in ['manager', 'seller', 'outsider']}
        Employee.write([staff['seller']], {
                'supervisor': staff['manager'].id})
        users = {}
        for name, group in [('manager', 'group_crm_manager'),
                ('seller', 'group_crm')]:
            users[name], = User.create([{
                        'name': name.title(),
                        'login': 'board_' + name,
                        'companies': [('add', [company.id])],
                        'company': company.id,
                        'employees': [('add', [staff[name].id])],
                        'employee': staff[name].id,
                        'groups': [('add', [
                                    ModelData.get_id('crm_portal', group)])],
                        }])
        return company, pipeline, staff, users

    def deal(self, pipeline, employee, title, code='NEW', amount=100):
        Opportunity = Pool().get('sale.opportunity')
        stage, = [s for s in pipeline.stages if s.code == code]
        with Transaction().set_context(crm_type='deal'):
            deal, = Opportunity.create([{
                        'description': title,
                        'pipeline': pipeline.id,
                        'stage': stage.id,
                        'amount': Decimal(amount),
                        'employee': employee.id,
                        'party': self.client.id,
                        'contact_company_name': "Acme " + title,
                        }])
        return deal

    @staticmethod
    def stage(pipeline, code):
        stage, = [s for s in pipeline.stages if s.code == code]
        return stage

    @contextmanager
    def as_user(self, user):
        transaction = Transaction()
        with transaction.set_user(user.id), transaction.set_context(
                company=user.company.id, employee=user.employee.id,
                _check_access=True):
            yield

    @staticmethod
    def column(board, code_or_name):
        column, = [c for c in board['columns']
            if c['name'] == code_or_name]
        return column

    @with_transaction()
    def test_load_columns_totals_cards(self):
        "The board has a column per stage with totals and cards"
        Board = Pool().get('crm.board')
        with crm_company():
            _, pipeline, staff, users = self.world()
            for i in range(3):
                self.deal(pipeline, staff['seller'], f"Deal {i}", amount=10)
            self.deal(pipeline, staff['manager'], "Big", 'PREPARATION', 500)
            self.deal(pipeline, staff['outsider'], "Other", amount=7)

            # The manager sees their team, not the outsider's deal.
            with self.as_user(users['manager']):
                board = Board.load('deal', {'pipeline': pipeline.id})
            names = [c['name'] for c in board['columns']]
            self.assertEqual(names, [s.name for s in pipeline.stages])
            new = board['columns'][0]
            self.assertEqual(new['count'], 3)
            self.assertEqual(Decimal(new['amount']), Decimal(30))
            self.assertEqual(
                [c['title'] for c in new['cards']],
                ["Deal 2", "Deal 1", "Deal 0"])
            card = new['cards'][1]
            self.assertEqual(card['client'], "Client")
            self.assertEqual(card['responsible'], "Seller")
            self.assertEqual(board['columns'][1]['count'], 1)

            # The seller sees only their own deals (record rules).
            with self.as_user(users['seller']):
                board = Board.load('deal', {'pipeline': pipeline.id})
            self.assertEqual(board['columns'][0]['count'], 3)
            self.assertEqual(board['columns'][1]['count'], 0)

            # Mine / team / responsible / search narrow the board.
            with self.as_user(users['manager']):
                mine = Board.load('deal', {
                        'pipeline': pipeline.id, 'scope': 'mine'})
                team = Board.load('deal', {
                        'pipeline': pipeline.id, 'scope': 'team'})
                seller = Board.load('deal', {'pipeline': pipeline.id,
                        'responsible': staff['seller'].id})
                search = Board.load('deal', {
                        'pipeline': pipeline.id, 'search': 'acme deal 1'})
            self.assertEqual(
                [c['count'] for c in mine['columns'][:2]], [0, 1])
            self.assertEqual(
                [c['count'] for c in team['columns'][:2]], [3, 1])
            self.assertEqual(seller['columns'][0]['count'], 3)
            self.assertEqual(
                [c['title'] for c in search['columns'][0]['cards']],
                ["Deal 1"])

    @with_transaction()
    def test_columns_are_paged(self):
        "A column loads a page of cards and the next ones on demand"
        Board = Pool().get('crm.board')
        with crm_company():
            _, pipeline, staff, users = self.world()
            for i in range(7):
                self.deal(pipeline, staff['seller'], f"Deal {i}")
            filters = {'pipeline': pipeline.id}
            new = self.stage(pipeline, 'NEW')
            with self.as_user(users['manager']):
                first = Board.column('deal', filters, new.id, 0, 5)
                rest = Board.column('deal', filters, new.id, 5, 5)
                board = Board.load('deal', filters)
            self.assertEqual(len(first), 5)
            self.assertEqual(
                [c['title'] for c in rest], ["Deal 1", "Deal 0"])
            self.assertEqual(board['columns'][0]['count'], 7)

    @with_transaction()
    def test_move_runs_automation(self):
        "Moving a card saves the stage and runs the stage's rules"
        pool = Pool()
        Board = pool.get('crm.board')
        Rule = pool.get('crm.automation.rule')
        Activity = pool.get('crm.activity')
        Opportunity = pool.get('sale.opportunity')
        with crm_company():
            _, pipeline, staff, users = self.world()
            deal = self.deal(pipeline, staff['seller'], "Roof")
            target = self.stage(pipeline, 'PREPARATION')
            Rule.create([{
                        'name': "Call back", 'pipeline': pipeline.id,
                        'stage': target.id, 'action': 'activity',
                        'activity_type': 'call', 'subject': "Call the client",
                        'assignee': 'responsible',
                        }])
            with self.as_user(users['seller']):
                card, = Board.load('deal', {'pipeline': pipeline.id}
                    )['columns'][0]['cards']
                moved = Board.move(
                    'deal', deal.id, target.id, card['timestamp'])
            run_tasks()
            self.assertEqual(moved['column'], target.id)
            self.assertEqual(Opportunity(deal.id).stage, target)
            activity, = Activity.search([('opportunity', '=', deal.id)])
            self.assertEqual(activity.subject, "Call the client")
            self.assertEqual(activity.responsible, staff['seller'])

    @with_transaction()
    def test_move_lost_needs_reason(self):
        "A lost stage asks for the reason and keeps it"
        pool = Pool()
        Board = pool.get('crm.board')
        Opportunity = pool.get('sale.opportunity')
        with crm_company():
            _, pipeline, staff, users = self.world()
            deal = self.deal(pipeline, staff['seller'], "Roof")
            lose = self.stage(pipeline, 'LOSE')
            with self.as_user(users['seller']):
                card, = Board.load('deal', {'pipeline': pipeline.id}
                    )['columns'][0]['cards']
                with self.assertRaisesRegex(UserError, 'reason'):
                    Board.move('deal', deal.id, lose.id, card['timestamp'])
                Board.move('deal', deal.id, lose.id, card['timestamp'],
                    "Too expensive")
            deal = Opportunity(deal.id)
            self.assertEqual(deal.stage, lose)
            self.assertEqual(deal.state, 'lost')
            self.assertEqual(deal.lost_reason, "Too expensive")

    @with_transaction()
    def test_move_stale_is_refused(self):
        "A card changed since it was loaded does not move"
        pool = Pool()
        Board = pool.get('crm.board')
        Opportunity = pool.get('sale.opportunity')
        with crm_company():
            _, pipeline, staff, users = self.world()
            deal = self.deal(pipeline, staff['seller'], "Roof")
            target = self.stage(pipeline, 'PREPARATION')
            with self.as_user(users['seller']):
                card, = Board.load('deal', {'pipeline': pipeline.id}
                    )['columns'][0]['cards']
            # Another session changed it meanwhile; inside this one
            # transaction the clock stands still, so date the change.
            table = Opportunity.__table__()
            Transaction().connection.cursor().execute(*table.update(
                    [table.description, table.write_date],
                    ["Roof (changed)",
                        datetime.datetime.now() + datetime.timedelta(
                            seconds=1)],
                    where=table.id == deal.id))
            with self.as_user(users['seller']):
                with self.assertRaisesRegex(UserError, 'meantime'):
                    Board.move('deal', deal.id, target.id, card['timestamp'])
            self.assertEqual(
                Opportunity(deal.id).stage, self.stage(pipeline, 'NEW'))

    @with_transaction()
    def test_move_refused_by_rules(self):
        "A deal the user only observes cannot be moved"
        pool = Pool()
        Board = pool.get('crm.board')
        Opportunity = pool.get('sale.opportunity')
        with crm_company():
            _, pipeline, staff, users = self.world()
            deal = self.deal(pipeline, staff['outsider'], "Watched")
            Opportunity.write([deal], {
                    'observers': [('add', [staff['seller'].id])]})
            target = self.stage(pipeline, 'PREPARATION')
            with self.as_user(users['seller']):
                card, = Board.load('deal', {'pipeline': pipeline.id}
                    )['columns'][0]['cards']
                with self.assertRaisesRegex(UserError, 'not allowed'):
                    Board.move('deal', deal.id, target.id, card['timestamp'])
                with self.assertRaisesRegex(UserError, 'no longer exists'):
                    Board.move('deal', -5, target.id, card['timestamp'])
            self.assertEqual(
                Opportunity(deal.id).stage, self.stage(pipeline, 'NEW'))

    @with_transaction()
    def test_quick_create_and_remember(self):
        "Quick-create puts a deal in the column; filters are remembered"
        pool = Pool()
        Board = pool.get('crm.board')
        Opportunity = pool.get('sale.opportunity')
        with crm_company():
            _, pipeline, staff, users = self.world()
            target = self.stage(pipeline, 'PREPARATION')
            with self.as_user(users['seller']):
                card = Board.quick_create('deal', target.id, {
                        'title': "Windows", 'amount': '250.50',
                        'client': "Ivan"})
                with self.assertRaisesRegex(UserError, 'title'):
                    Board.quick_create('deal', target.id, {'title': ' '})
                Board.remember('deal', {'pipeline': pipeline.id,
                        'scope': 'mine', 'search': 'win', 'bogus': 1})
                setup = Board.setup('deal')
            deal = Opportunity(card['id'])
            self.assertEqual(deal.stage, target)
            self.assertEqual(deal.amount, Decimal('250.50'))
            self.assertEqual(deal.employee, staff['seller'])
            self.assertEqual(card['client'], "Ivan")
            self.assertEqual(deal.party.crm_kind, 'organisation')
            self.assertEqual(setup['filters']['scope'], 'mine')
            self.assertEqual(setup['filters']['search'], 'win')
            self.assertNotIn('bogus', setup['filters'])
            self.assertEqual(setup['labels']['pipeline'], "Pipeline")
            with self.as_user(users['manager']):
                self.assertEqual(
                    Board.setup('deal')['filters']['scope'], 'all')

    @with_transaction()
    def test_lead_board(self):
        "Leads have a board by status; conversion stays in the form"
        pool = Pool()
        Board = pool.get('crm.board')
        Opportunity = pool.get('sale.opportunity')
        Status = pool.get('crm.lead.status')
        with crm_company():
            _, _, staff, users = self.world()
            with Transaction().set_context(crm_type='lead'):
                lead, = Opportunity.create([{
                            'description': "Call me",
                            'employee': staff['seller'].id}])
            in_process, = Status.search([('code', '=', 'IN_PROCESS')])
            converted, = Status.search([('code', '=', 'CONVERTED')])
            with self.as_user(users['seller']):
                board = Board.load('lead', {})
                card, = [c for col in board['columns'] for c in col['cards']]
                with self.assertRaisesRegex(UserError, 'Convert'):
                    Board.move('lead', lead.id, converted.id,
                        card['timestamp'])
                Board.move('lead', lead.id, in_process.id, card['timestamp'])
            self.assertEqual(Opportunity(lead.id).lead_status, in_process)

    @with_transaction()
    def test_home(self):
        "The home page shows what is due, my deals and the funnel"
        pool = Pool()
        Home = pool.get('crm.home')
        Activity = pool.get('crm.activity')
        with crm_company() as company:
            _, pipeline, staff, users = self.world()
            deal = self.deal(pipeline, staff['seller'], "Mine")
            self.deal(pipeline, staff['seller'], "Won", 'WON')
            now = datetime.datetime.now()
            Activity.create([{
                        'company': company.id, 'type': 'call',
                        'subject': subject, 'deadline': deadline,
                        'responsible': staff['seller'].id,
                        'opportunity': deal.id,
                        } for subject, deadline in [
                        ("Late", now - datetime.timedelta(days=2)),
                        ("Later", now + datetime.timedelta(days=3)),
                        ]])
            with self.as_user(users['seller']):
                home = Home.load()
            self.assertEqual(
                [(a['subject'], a['overdue']) for a in home['activities']],
                [("Late", True)])
            new, = [r for r in home['deals_by_stage'] if r['count']]
            self.assertEqual((new['stage'], new['count']), ("New", 1))
            steps = {s['stage']: s['count'] for s in home['funnel']['steps']}
            self.assertEqual(steps["New"], 2)
            self.assertEqual(steps["Won"], 1)
            # Telephony and open lines are not activated here.
            self.assertEqual(home['features'], {})

    @with_transaction()
    def test_url_action_gets_database(self):
        "The menu opens the board under the database's path"
        pool = Pool()
        Action = pool.get('ir.action')
        ModelData = pool.get('ir.model.data')
        action_id = ModelData.get_id('crm_portal', 'act_board_deal')
        values, = Action.get_action_values('ir.action.url', [action_id])
        database = quote(Transaction().database.name, safe='')
        self.assertEqual(values['url'], f'/{database}/crm/board?kind=deal')
