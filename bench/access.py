#!/usr/bin/env python3
"""Record-rule overhead of the CRM access scopes, as a ratio.

Lists 50 deals (search_read of the deal list fields, as the client does)
as a CRM manager on top of a 3-level hierarchy of 200 employees (rules
"own and subordinates") against the same list with record rules bypassed,
and as a CRM administrator (rules "all").

Runs on SQLite in memory by default, on PostgreSQL when
TRYTOND_DATABASE__URI is set. Prints medians and ratios (DESIGN.md §10).
Usage: bench/access.py [--deals N] [--runs N]
"""
import argparse
import os
import statistics
import sys

os.environ.setdefault('DB_NAME', ':memory:'
    if not os.environ.get('TRYTOND_DATABASE__URI', '').startswith(
        'postgresql') else 'bench_crm_access_%d' % os.getpid())

from trytond.tests.test_tryton import activate_module, drop_db  # noqa: E402
from trytond.pool import Pool  # noqa: E402
from trytond.transaction import Transaction, check_access  # noqa: E402
from trytond.tests.test_tryton import DB_NAME  # noqa: E402

from benchtools import backend_name, timed  # noqa: E402

EMPLOYEES = 200
OUTSIDE = 50
BATCH = 500
LIST_FIELDS = [
    'number', 'description', 'party.rec_name', 'contact_party.rec_name',
    'pipeline.rec_name', 'stage.rec_name', 'amount', 'currency.rec_name',
    'employee.rec_name', 'source.rec_name', 'start_date', 'end_date',
    'state',
    ]


def setup(n_deals):
    """A company, a hierarchy of EMPLOYEES employees on 3 levels under the
    manager, OUTSIDE employees outside it, n_deals deals spread over all"""
    from trytond.modules.company.tests import create_company
    pool = Pool()
    User = pool.get('res.user')
    Party = pool.get('party.party')
    Employee = pool.get('company.employee')
    Opportunity = pool.get('sale.opportunity')
    ModelData = pool.get('ir.model.data')
    company = create_company()
    User.write([User(Transaction().user)], {
            'companies': [('add', [company.id])], 'company': company.id})
    parties = Party.create([{'name': 'Employee %d' % i}
            for i in range(EMPLOYEES + OUTSIDE)])
    employees = Employee.create([{'party': p.id, 'company': company.id}
            for p in parties])
    manager, inside, _outside = (
        employees[0], employees[1:EMPLOYEES], employees[EMPLOYEES:])
    # level 2: 14 heads under the manager; level 3: the rest under them
    heads, staff = inside[:14], inside[14:]
    Employee.write(heads, {'supervisor': manager.id})
    for i, employee in enumerate(staff):
        Employee.write([employee], {'supervisor': heads[i % 14].id})
    users = {}
    for role, group, employee in [
            ('manager', 'group_crm_manager', manager),
            ('admin', 'group_crm_admin', employees[-1])]:
        users[role], = User.create([{
                    'name': role, 'login': 'bench_' + role,
                    'companies': [('add', [company.id])],
                    'company': company.id,
                    'employees': [('add', [employee.id])],
                    'employee': employee.id,
                    'groups': [('add', [
                                ModelData.get_id('crm_portal', group)])],
                    }])
    clients = Party.create([{'name': 'Client %d' % i, 'crm_kind':
                'organisation'} for i in range(100)])
    for start in range(0, n_deals, BATCH):
        with Transaction().set_context(company=company.id):
            Opportunity.create([{
                        'crm_type': 'deal',
                        'company': company.id,
                        'description': 'Deal %d' % i,
                        'party': clients[i % len(clients)].id,
                        'employee': employees[i % len(employees)].id,
                        'amount': i,
                        } for i in range(
                            start, min(start + BATCH, n_deals))])
    return company, users


def list_deals(user, rules=True):
    Opportunity = Pool().get('sale.opportunity')
    transaction = Transaction()
    with transaction.set_user(user.id), transaction.set_context(
            company=user.company.id, employee=user.employee.id,
            companies=[c.id for c in user.companies]), \
            check_access(_access=rules):
        rows = Opportunity.search_read(
            [('crm_type', '=', 'deal')], limit=50, fields_names=LIST_FIELDS)
    assert len(rows) == 50
    return rows


def ms(value):
    return '%.3f' % (value * 1000)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--deals', type=int, default=5000)
    parser.add_argument('--runs', type=int, default=200)
    args = parser.parse_args()

    activate_module('crm_portal')
    backend = backend_name()
    results = {}
    try:
        with Transaction().start(DB_NAME, 0, context={}) as transaction:
            company, users = setup(args.deals)
            transaction.commit()
            manager, admin = users['manager'], users['admin']
            # Interleave the runs so that all see the same conditions.
            names = ['manager', 'admin', 'bypass']
            funcs = {
                'manager': lambda: list_deals(manager),
                'admin': lambda: list_deals(admin),
                'bypass': lambda: list_deals(manager, rules=False),
                }
            results = {n: [] for n in names}
            per_round = max(1, args.runs // 10)
            for _ in range(10):
                for name in names:
                    results[name] += timed(funcs[name], per_round)
            transaction.rollback()
    finally:
        if DB_NAME != ':memory:':
            drop_db()

    bypass = statistics.median(results['bypass'])
    print(f"# bench/access.py on {backend}, {args.deals} deals, "
        f"{EMPLOYEES} employees in the manager's 3-level hierarchy "
        f"+ {OUTSIDE} outside, median of {args.runs} lists of 50 deals")
    print()
    print("| measure | ms / list | reference (ms) | ratio | goal |")
    print("|---|---|---|---|---|")
    for name, label in [
            ('manager', "manager (own and subordinates) vs rules bypassed"),
            ('admin', "administrator (all) vs rules bypassed")]:
        value = statistics.median(results[name])
        goal = '< 1.5x' if name == 'manager' else ''
        print(f"| {label} | {ms(value)} | {ms(bypass)} "
            f"| {value / bypass:.2f}x | {goal} |")
    return 0


if __name__ == '__main__':
    sys.exit(main())
