#!/usr/bin/env python3
"""Intake and duplicate lookup speed, as ratios against references.

1. Intake of N submissions (matching, deduplication, assignment, timeline)
   against bare ORM `create` of the same records intake writes (the lead,
   its activity and the submission log entry).
2. Duplicate lookup by phone with 10k and 100k contacts against a raw
   indexed SQL lookup of the same numbers: `crm.duplicate.match_parties`
   (what intake and caller-ID run) and, for information, the full
   `crm.duplicate.find` (leads and party records through the ORM).

Runs on SQLite in memory by default, on PostgreSQL when
TRYTOND_DATABASE__URI is set. Prints medians of batch timings and ratios
(DESIGN.md §10). Usage: bench/intake.py [--submissions N] [--contacts A,B]
"""
import argparse
import datetime
import hashlib
import os
import statistics
import sys
import time

os.environ.setdefault('DB_NAME', ':memory:'
    if not os.environ.get('TRYTOND_DATABASE__URI', '').startswith(
        'postgresql') else 'bench_crm_%d' % os.getpid())

from sql import Literal  # noqa: E402

from trytond.tests.test_tryton import activate_module, drop_db  # noqa: E402
from trytond.pool import Pool  # noqa: E402
from trytond.transaction import Transaction  # noqa: E402
from trytond.tests.test_tryton import DB_NAME  # noqa: E402

from benchtools import phone, populate_contacts  # noqa: E402

BATCH = 500



def setup_company():
    from trytond.modules.company.tests import create_company, create_employee
    pool = Pool()
    User = pool.get('res.user')
    Member = pool.get('crm.intake.team.member')
    company = create_company()
    employees = [create_employee(company, name) for name in ['A', 'B']]
    User.write([User(Transaction().user)], {
            'companies': [('add', [company.id])], 'company': company.id})
    Member.create([{'company': company.id, 'employee': e.id}
            for e in employees])
    return company, employees


def timed_batches(func, total):
    "Run func(start, stop) over batches; return per-record times"
    times = []
    for start in range(0, total, BATCH):
        stop = min(start + BATCH, total)
        began = time.perf_counter()
        func(start, stop)
        times.append((time.perf_counter() - began) / (stop - start))
    return times


def bench_intake(n):
    pool = Pool()
    Intake = pool.get('crm.intake')
    Opportunity = pool.get('sale.opportunity')
    Activity = pool.get('crm.activity')
    Submission = pool.get('crm.intake.submission')
    Source = pool.get('crm.source')
    company, employees = setup_company()
    source = Source.get_by_code('WEBFORM')

    def intake(start, stop):
        for i in range(start, stop):
            Intake.submit('WEBFORM', {
                    'name': 'Client %d' % i,
                    'phone': phone(i),
                    'email': 'client%d@example.com' % i,
                    'title': 'Inquiry %d' % i,
                    'message': 'Please call me back',
                    'utm_source': 'bench',
                    }, company=company.id)

    def bare(start, stop):
        # The same records, written one inquiry at a time as intake does.
        for i in range(n + start, n + stop):
            lead, = Opportunity.create([{
                        'crm_type': 'lead',
                        'company': company.id,
                        'currency': company.currency.id,
                        'description': 'Inquiry %d' % i,
                        'contact_name': 'Client %d' % i,
                        'contact_phone': phone(i),
                        'contact_email': 'client%d@example.com' % i,
                        'source': source.id,
                        'utm_source': 'bench',
                        'employee': employees[i % 2].id,
                        }])
            activity, = Activity.create([{
                        'company': company.id,
                        'type': 'form',
                        'direction': 'incoming',
                        'subject': 'Inquiry %d' % i,
                        'description': 'Please call me back',
                        'opportunity': lead.id,
                        'deadline': datetime.datetime.now(),
                        'responsible': employees[i % 2].id,
                        }])
            Submission.create([{
                        'company': company.id,
                        'channel': 'WEBFORM',
                        'key': hashlib.sha256(b'%d' % i).hexdigest(),
                        'source': source.id,
                        'created': True,
                        'outcome': 'created',
                        'opportunity': lead.id,
                        'activity': activity.id,
                        }])

    # Interleave so that both see the same table sizes.
    intake_times, bare_times = [], []
    for start in range(0, n, BATCH):
        stop = min(start + BATCH, n)
        intake_times += timed_batches(
            lambda a, b: intake(start + a, start + b), stop - start)
        bare_times += timed_batches(
            lambda a, b: bare(start + a, start + b), stop - start)
    return intake_times, bare_times


def bench_lookup(sizes, probes=2000):
    pool = Pool()
    Duplicate = pool.get('crm.duplicate')
    Mechanism = pool.get('party.contact_mechanism')
    mechanism = Mechanism.__table__()
    results = {}
    have = 0
    for size in sizes:
        populate_contacts(size - have, 10_000_000 + have)
        have = size
        Transaction().commit()
        numbers = [phone(10_000_000 + (i * 7919) % size)
            for i in range(probes)]

        def orm(a, b):
            for number in numbers[a:b]:
                assert Duplicate.match_parties([number])

        def search(a, b):
            for number in numbers[a:b]:
                assert Duplicate.find(phone=number)

        # The reference: the same lookup (an active phone of an active
        # party, on the indexed column) as one hand-written statement.
        party = pool.get('party.party').__table__()
        sql, constants = tuple(mechanism.join(
                party, condition=mechanism.party == party.id).select(
                mechanism.party, mechanism.value_compact,
                where=(mechanism.value_compact == '?')
                & (mechanism.active == Literal(True))
                & (party.active == Literal(True))))
        constants = constants[1:]

        def raw(a, b):
            for number in numbers[a:b]:
                cursor = Transaction().connection.cursor()
                cursor.execute(sql, (number,) + constants)
                assert cursor.fetchall()
        orm_times = timed_batches(orm, probes)
        raw_times = timed_batches(raw, probes)
        search_times = timed_batches(search, probes)
        results[size] = (orm_times, raw_times, search_times)
    return results


def ms(value):
    return '%.3f' % (value * 1000)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--submissions', type=int, default=10_000)
    parser.add_argument('--contacts', default='10000,100000')
    args = parser.parse_args()
    sizes = [int(s) for s in args.contacts.split(',')]

    activate_module('crm_portal')
    backend = os.environ.get('TRYTOND_DATABASE__URI', 'sqlite')
    backend = 'postgresql' if backend.startswith('postgresql') else 'sqlite'
    try:
        with Transaction().start(DB_NAME, 0, context={}) as transaction:
            intake_times, bare_times = bench_intake(args.submissions)
            transaction.commit()
            lookups = bench_lookup(sizes)
            transaction.rollback()
    finally:
        if DB_NAME != ':memory:':
            drop_db()

    i_med = statistics.median(intake_times)
    b_med = statistics.median(bare_times)
    print(f"# bench/intake.py on {backend}, {args.submissions} submissions,"
        f" median of batches of {BATCH}")
    print()
    print("| measure | ms / record | reference (ms) | ratio | goal |")
    print("|---|---|---|---|---|")
    print(f"| intake with matching vs bare create | {ms(i_med)} "
        f"| {ms(b_med)} | {i_med / b_med:.2f}x | <= 1.5x |")
    first = first_search = None
    for size in sizes:
        orm_times, raw_times, search_times = lookups[size]
        o_med = statistics.median(orm_times)
        r_med = statistics.median(raw_times)
        s_med = statistics.median(search_times)
        growth = search_growth = ''
        if first is None:
            first, first_search = o_med, s_med
        else:
            growth = f" (x{o_med / first:.2f} vs {sizes[0]})"
            search_growth = f" (x{s_med / first_search:.2f} vs {sizes[0]})"
        print(f"| caller-ID/intake phone lookup (match_parties), {size} "
            f"contacts vs raw SQL | {ms(o_med)}{growth} | {ms(r_med)} "
            f"| {o_med / r_med:.2f}x | <= 3x, growth <= 1.5x |")
        print(f"| full duplicate search (find: leads + party records), "
            f"{size} contacts vs raw SQL | {ms(s_med)}{search_growth} "
            f"| {ms(r_med)} | {s_med / r_med:.2f}x | (information) |")
    return 0


if __name__ == '__main__':
    sys.exit(main())
