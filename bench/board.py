#!/usr/bin/env python3
"""Server time of the deal board against the plain list view, as ratios.

A pipeline of 2,000 open deals (spread over its 4 stages in progress, half
of them with an open activity) is loaded by a CRM administrator (record
rules apply):
  * board, first screen: crm.board.load (column totals + the first page
    of cards of every column), what opening the board costs;
  * board, every card: load, then every further page of every column
    (crm.board.column), what scrolling each column to its end costs;
against the reference: the deal list view's search_read of the same deals
with the list's fields (view deal_tree), all of them in one call.

Runs on SQLite in memory by default, on PostgreSQL when
TRYTOND_DATABASE__URI is set. Prints medians and ratios (DESIGN.md §10).
Usage: bench/board.py [--deals N] [--runs N]
"""
import argparse
import datetime
import os
import statistics
import sys

os.environ.setdefault('DB_NAME', ':memory:'
    if not os.environ.get('TRYTOND_DATABASE__URI', '').startswith(
        'postgresql') else 'bench_crm_board_%d' % os.getpid())

from trytond.tests.test_tryton import activate_module, drop_db  # noqa: E402
from trytond.pool import Pool  # noqa: E402
from trytond.tests.test_tryton import DB_NAME  # noqa: E402
from trytond.transaction import Transaction  # noqa: E402

from benchtools import backend_name, timed  # noqa: E402

BATCH = 500
# The fields of view/deal_tree.xml, as the list view reads them.
LIST_FIELDS = [
    'number', 'description', 'party.rec_name', 'contact_party.rec_name',
    'pipeline.rec_name', 'stage.rec_name', 'amount', 'currency.rec_name',
    'employee.rec_name', 'source.rec_name', 'start_date', 'end_date',
    'state', '_timestamp',
    ]


def setup(n_deals):
    from trytond.modules.company.tests import create_company
    pool = Pool()
    User = pool.get('res.user')
    Party = pool.get('party.party')
    Employee = pool.get('company.employee')
    Opportunity = pool.get('sale.opportunity')
    Activity = pool.get('crm.activity')
    Pipeline = pool.get('crm.pipeline')
    ModelData = pool.get('ir.model.data')
    company = create_company()
    User.write([User(Transaction().user)], {
            'companies': [('add', [company.id])], 'company': company.id})
    staff = Party.create([{'name': 'Seller %d' % i} for i in range(20)])
    employees = Employee.create([{'party': p.id, 'company': company.id}
            for p in staff])
    user, = User.create([{
                'name': 'admin', 'login': 'bench_board_admin',
                'companies': [('add', [company.id])],
                'company': company.id,
                'employees': [('add', [employees[0].id])],
                'employee': employees[0].id,
                'groups': [('add', [ModelData.get_id(
                                'crm_portal', 'group_crm_admin')])],
                }])
    clients = Party.create([{'name': 'Client %d' % i,
                'crm_kind': 'organisation'} for i in range(200)])
    with Transaction().set_context(company=company.id):
        pipeline = Pipeline.get_default(company.id, create=True)
        stages = [s for s in pipeline.stages if s.kind == 'in_progress']
        now = datetime.datetime.now()
        for start in range(0, n_deals, BATCH):
            deals = Opportunity.create([{
                        'crm_type': 'deal',
                        'company': company.id,
                        'description': 'Deal %d' % i,
                        'party': clients[i % len(clients)].id,
                        'employee': employees[i % len(employees)].id,
                        'pipeline': pipeline.id,
                        'stage': stages[i % len(stages)].id,
                        'amount': i,
                        } for i in range(
                            start, min(start + BATCH, n_deals))])
            Activity.create([{
                        'company': company.id, 'type': 'call',
                        'subject': 'Call back',
                        'deadline': now + datetime.timedelta(
                            hours=i % 72 - 24),
                        'responsible': d.employee.id,
                        'opportunity': d.id,
                        } for i, d in enumerate(deals) if i % 2])
    return user, pipeline


def as_user(user):
    transaction = Transaction()
    return transaction.set_user(user.id), transaction.set_context(
        company=user.company.id, employee=user.employee.id,
        companies=[c.id for c in user.companies], _check_access=True)


def run_as(user, func):
    user_ctx, context = as_user(user)
    with user_ctx, context:
        return func()


def board_first(pipeline, n_deals):
    Board = Pool().get('crm.board')
    board = Board.load('deal', {'pipeline': pipeline.id})
    assert sum(c['count'] for c in board['columns']) == n_deals
    return board


def board_all(pipeline, n_deals):
    Board = Pool().get('crm.board')
    filters = {'pipeline': pipeline.id}
    board = Board.load('deal', filters)
    cards = 0
    for column in board['columns']:
        loaded = len(column['cards'])
        while loaded < column['count']:
            page = Board.column('deal', filters, column['id'], loaded)
            loaded += len(page)
        cards += loaded
    assert cards == n_deals
    return cards


def list_view(pipeline, n_deals):
    Opportunity = Pool().get('sale.opportunity')
    rows = Opportunity.search_read([
            ('crm_type', '=', 'deal'),
            ('pipeline', '=', pipeline.id),
            ], fields_names=LIST_FIELDS)
    assert len(rows) == n_deals
    return rows


def ms(value):
    return '%.1f' % (value * 1000)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--deals', type=int, default=2000)
    parser.add_argument('--runs', type=int, default=10)
    args = parser.parse_args()

    activate_module('crm_portal')
    backend = backend_name()
    names = ['first', 'all', 'list']
    results = {n: [] for n in names}
    try:
        with Transaction().start(DB_NAME, 0, context={}) as transaction:
            user, pipeline = setup(args.deals)
            transaction.commit()
            funcs = {
                'first': lambda: run_as(
                    user, lambda: board_first(pipeline, args.deals)),
                'all': lambda: run_as(
                    user, lambda: board_all(pipeline, args.deals)),
                'list': lambda: run_as(
                    user, lambda: list_view(pipeline, args.deals)),
                }
            # Interleave the runs so that all see the same conditions.
            rounds = max(1, min(5, args.runs))
            for _ in range(rounds):
                for name in names:
                    results[name] += timed(
                        funcs[name], max(1, args.runs // rounds))
            transaction.rollback()
    finally:
        if DB_NAME != ':memory:':
            drop_db()

    reference = statistics.median(results['list'])
    print(f"# bench/board.py on {backend}: a pipeline of {args.deals} open "
        f"deals, CRM administrator, median of {len(results['list'])} runs")
    print()
    print("| measure | ms | reference: list view search_read (ms) "
        "| ratio | goal |")
    print("|---|---|---|---|---|")
    for name, label, goal in [
            ('first', "board opened (totals + first page per column)",
                '<= 1.5x'),
            ('all', "board with every card paged in", '<= 1.5x')]:
        value = statistics.median(results[name])
        print(f"| {label} | {ms(value)} | {ms(reference)} "
            f"| {value / reference:.2f}x | {goal} |")
    return 0


if __name__ == '__main__':
    sys.exit(main())
