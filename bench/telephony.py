#!/usr/bin/env python3
"""Telephony speed, as ratios against references (DESIGN.md §10).

1. N telephony.externalcall.register + .finish pairs through the REST
   registry (`crm.rest` call, the handler path of every HTTP request)
   against bare ORM `create`/`write` of the same records (the call, its
   finished state, its timeline activity).
2. Caller-ID lookup (`crm.telephony.call.lookup`: contact, company, open
   lead/deal, responsible) with 10k and 1M stored numbers against a raw
   indexed SQL lookup of the same numbers; and the phone match alone
   (`crm.duplicate.match_parties`).

SQLite in memory by default, PostgreSQL when TRYTOND_DATABASE__URI is set.
Usage: bench/telephony.py [--pairs N] [--numbers A,B]
"""
import argparse
import datetime
import os
import statistics
import time

os.environ.setdefault('DB_NAME', ':memory:'
    if not os.environ.get('TRYTOND_DATABASE__URI', '').startswith(
        'postgresql') else 'bench_tel_%d' % os.getpid())

from sql import Literal  # noqa: E402

from trytond.pool import Pool  # noqa: E402
from trytond.tests.test_tryton import (  # noqa: E402
    DB_NAME, activate_module, drop_db)
from trytond.transaction import Transaction  # noqa: E402

from benchtools import (  # noqa: E402
    backend_name, phone, populate_contacts)

BATCH = 500


def timed_batches(func, total):
    times = []
    for start in range(0, total, BATCH):
        stop = min(start + BATCH, total)
        began = time.perf_counter()
        func(start, stop)
        times.append((time.perf_counter() - began) / (stop - start))
    return times


def setup():
    from trytond.modules.company.tests import create_company, create_employee
    pool = Pool()
    User = pool.get('res.user')
    Extension = pool.get('crm.telephony.extension')
    Country = pool.get('country.country')
    Configuration = pool.get('crm.configuration')
    Pipeline = pool.get('crm.pipeline')
    company = create_company()
    User.write([User(Transaction().user)], {
            'companies': [('add', [company.id])], 'company': company.id})
    with Transaction().set_context(company=company.id):
        russia, = Country.create([{'name': "Russia", 'code': 'RU'}])
        configuration = Configuration(1)
        configuration.phone_region = russia
        # unknown numbers would create leads: measured by bench/intake.py
        configuration.call_create_leads = False
        configuration.call_missed_tasks = False
        configuration.save()
        employee = create_employee(company, 'A')
        Pipeline.create_standard(company)
        Extension.create([{'company': company.id, 'extension': '101',
                    'employee': employee.id}])
    return company, employee


def bench_pairs(n, company, employee):
    pool = Pool()
    Rest = pool.get('crm.rest')
    Call = pool.get('crm.telephony.call')
    Activity = pool.get('crm.activity')

    def rest(start, stop):
        for i in range(start, stop):
            result, _ = Rest.call('telephony.externalcall.register', {
                    'USER_PHONE_INNER': '101', 'PHONE_NUMBER': phone(i),
                    'TYPE': 2, 'SHOW': 0})
            Rest.call('telephony.externalcall.finish', {
                    'CALL_ID': result['CALL_ID'], 'USER_PHONE_INNER': '101',
                    'DURATION': 30, 'STATUS_CODE': '200'})

    def bare(start, stop):
        for i in range(n + start, n + stop):
            now = datetime.datetime.now()
            call, = Call.create([{
                        'company': company.id, 'call_id': 'bare.%d' % i,
                        'connector': 'rest', 'direction': 'incoming',
                        'phone': phone(i), 'phone_e164': phone(i),
                        'extension': '101', 'employee': employee.id,
                        'state': 'ringing', 'start': now}])
            activity, = Activity.create([{
                        'company': company.id, 'type': 'call',
                        'direction': 'incoming',
                        'subject': 'Incoming call from %s' % phone(i),
                        'description': 'Result: Answered.',
                        'deadline': now, 'done': True,
                        'responsible': employee.id,
                        'origin': str(call)}])
            Call.write([call], {'state': 'finished', 'result': 'answered',
                    'answer_date': now, 'end': now, 'duration': 30,
                    'wait': 0, 'status_code': '200',
                    'activity': activity.id})

    rest_times, bare_times = [], []
    with Transaction().set_context(company=company.id,
            employee=employee.id):
        for start in range(0, n, BATCH):
            stop = min(start + BATCH, n)
            rest_times += timed_batches(
                lambda a, b: rest(start + a, start + b), stop - start)
            bare_times += timed_batches(
                lambda a, b: bare(start + a, start + b), stop - start)
    return rest_times, bare_times


def shape_clients(company, employee, numbers):
    """Give the probed numbers what a CRM has: every second contact works
    for a company, every third has a responsible, every fourth company
    has one too, every eighth number an open lead (population, not
    measured)."""
    pool = Pool()
    Intake = pool.get('crm.intake')
    party = pool.get('party.party').__table__()
    mechanism = pool.get('party.contact_mechanism').__table__()
    cursor = Transaction().connection.cursor()
    cursor.execute(*mechanism.select(mechanism.party,
            where=mechanism.value_compact.in_(numbers[:1000])))
    contacts = sorted({r[0] for r in cursor})
    for i, contact in enumerate(contacts):
        values = {}
        if i % 2 == 0:
            cursor.execute(*party.insert(
                    [party.name, party.code, party.crm_kind, party.active,
                        party.crm_responsible, party.create_uid],
                    [['Company %d' % contact, 'E%d' % contact,
                            'organisation', True,
                            employee.id if i % 8 == 0 else None, 0]]))
            cursor.execute(*party.select(party.id,
                    where=party.name == 'Company %d' % contact))
            values[party.employer] = cursor.fetchone()[0]
        if i % 3 == 0:
            values[party.crm_responsible] = employee.id
        if values:
            cursor.execute(*party.update(list(values), list(values.values()),
                    where=party.id == contact))
    for number in numbers[:1000:8]:
        Intake.submit('CALL', {'phone': number}, company=company.id)


def reference_statements(company):
    """The raw caller-ID: the same question (contact, company, open
    lead/deal, responsible) as two hand-written indexed statements"""
    pool = Pool()
    mechanism = pool.get('party.contact_mechanism').__table__()
    party = pool.get('party.party').__table__()
    employer = pool.get('party.party').__table__()
    employee = pool.get('company.employee').__table__()
    employer_employee = pool.get('company.employee').__table__()
    opportunity = pool.get('sale.opportunity').__table__()
    status = pool.get('crm.lead.status').__table__()
    stage = pool.get('crm.pipeline.stage').__table__()
    party_sql, party_params = tuple(mechanism
        .join(party, condition=mechanism.party == party.id)
        .join(employer, 'LEFT', condition=party.employer == employer.id)
        .join(employee, 'LEFT',
            condition=(party.crm_responsible == employee.id)
            & (employee.company == company.id))
        .join(employer_employee, 'LEFT',
            condition=(employer.crm_responsible == employer_employee.id)
            & (employer_employee.company == company.id))
        .select(party.id, party.crm_kind, party.employer, employee.id,
            employer_employee.id,
            where=(mechanism.value_compact == '?')
            & (mechanism.active == Literal(True))
            & (party.active == Literal(True)),
            # (id + 0 on PostgreSQL: the phone index, whatever the plan
            # of the prepared statement, as the caller-ID does)
            order_by=[(mechanism.id + Literal(0)).asc
                if backend_name() == 'postgresql' else mechanism.id.asc],
            limit=1))
    # (the company is not in simple mode: no configuration look-up)
    deal_sql, deal_params = tuple(opportunity
        .join(status, 'LEFT', condition=opportunity.lead_status == status.id)
        .join(stage, 'LEFT', condition=opportunity.stage == stage.id)
        .select(opportunity.id, opportunity.employee,
            where=(opportunity.company == company.id)
            & (((opportunity.crm_type == 'deal')
                    & (stage.kind == 'in_progress'))
                | ((opportunity.crm_type == 'lead')
                    & (status.kind == 'open')))
            & ((opportunity.contact_phone_e164 == '?')
                | opportunity.party.in_([-1, -2])
                | (opportunity.contact_party == -3)),
            order_by=[opportunity.crm_type.desc, opportunity.id.desc],
            limit=1))
    party_params = list(party_params)
    deal_params = list(deal_params)
    party_slot = party_params.index('?')
    slots = [deal_params.index(v) for v in ['?', -1, -2, -3]]

    def run(cursor, number):
        params = party_params[:]
        params[party_slot] = number
        cursor.execute(party_sql, params)
        row = cursor.fetchone()
        party_id, kind, employer_id, responsible, employer_responsible = row
        client = employer_id or party_id
        params = deal_params[:]
        for slot, value in zip(slots,
                [number, party_id, client, party_id]):
            params[slot] = value
        cursor.execute(deal_sql, params)
        deal = cursor.fetchone()
        return (party_id, client, deal[0] if deal else None,
            responsible or employer_responsible or (deal and deal[1]))
    return run


def bench_lookup(sizes, company, employee, report, probes=2000):
    pool = Pool()
    Call = pool.get('crm.telephony.call')
    Duplicate = pool.get('crm.duplicate')
    mechanism = pool.get('party.contact_mechanism').__table__()
    party = pool.get('party.party').__table__()
    sql, constants = tuple(mechanism.join(
            party, condition=mechanism.party == party.id).select(
            mechanism.party, mechanism.value_compact,
            where=(mechanism.value_compact == '?')
            & (mechanism.active == Literal(True))
            & (party.active == Literal(True))))
    constants = constants[1:]
    raw_lookup = reference_statements(company)
    results = {}
    have = 0
    base = 5_000_000
    for size in sizes:
        # (PostgreSQL takes at most 65535 parameters a statement)
        populate_contacts(size - have, base + have, prefix='T', chunk=5000)
        numbers = [phone(base + (i * 7919) % size) for i in range(probes)]
        if not have:
            shape_clients(company, employee, numbers)
        have = size
        Transaction().commit()

        def lookup(a, b):
            for number in numbers[a:b]:
                assert Call.lookup(company.id, number)['contact']

        def match(a, b):
            for number in numbers[a:b]:
                assert Duplicate.match_parties([number])

        def raw(a, b):
            cursor = Transaction().connection.cursor()
            for number in numbers[a:b]:
                cursor.execute(sql, (number,) + constants)
                assert cursor.fetchall()

        def raw_full(a, b):
            cursor = Transaction().connection.cursor()
            for number in numbers[a:b]:
                raw_lookup(cursor, number)
        # both answer the same: checked once, not timed
        for number in numbers[:200]:
            found = Call.lookup(company.id, number)
            expected = raw_lookup(Transaction().connection.cursor(), number)
            got = tuple(r.id if r else None for r in [found['contact'],
                    found['client'], found['opportunity'],
                    found['responsible']])
            assert got == expected, (number, got, expected)
        lookups, fulls, matches, raws = [], [], [], []
        # interleaved batches: the shared machine's load hits both sides
        for start in range(0, probes, BATCH):
            stop = min(start + BATCH, probes)
            for times, func in [(lookups, lookup), (fulls, raw_full),
                    (matches, match), (raws, raw)]:
                times += timed_batches(
                    lambda a, b: func(start + a, start + b), stop - start)
        results[size] = (lookups, fulls, matches, raws)
        report(size, results[size])
    return results


def ms(value):
    return '%.3f' % (value * 1000)


def report_lookup(sizes, first):
    "Print the rows of one size of stored numbers (a slow run shows them)"
    def report(size, times):
        lookup, raw_full, match, raw = [statistics.median(t) for t in times]
        for label, med, ref, what in [
                ('caller-ID lookup (contact, company, lead/deal, '
                    'responsible)', lookup, raw_full,
                    'the same 2 raw indexed SQL'),
                ('phone match alone (match_parties)', match, raw,
                    'raw indexed SQL')]:
            growth = ''
            if label in first:
                growth = f" (x{med / first[label]:.2f} vs {sizes[0]})"
            else:
                first[label] = med
            print(f"| {label}, {size} numbers vs {what} | "
                f"{ms(med)}{growth} | {ms(ref)} | {med / ref:.2f}x "
                f"| <= 2x, flat |", flush=True)
    return report


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--pairs', type=int, default=10_000)
    parser.add_argument('--numbers', default='10000,1000000')
    args = parser.parse_args()
    # (--numbers '' measures the pairs only)
    sizes = [int(s) for s in args.numbers.split(',') if s.strip()]
    activate_module('crm_telephony')
    backend = os.environ.get('TRYTOND_DATABASE__URI', 'sqlite')
    backend = 'postgresql' if backend.startswith('postgresql') else 'sqlite'
    print(f"# bench/telephony.py on {backend}, {args.pairs} pairs, "
        f"median of batches of {BATCH}")
    print()
    print("| measure | ms / item | reference (ms) | ratio | goal |")
    print("|---|---|---|---|---|", flush=True)
    try:
        # the CRM configuration singleton is created: lock its table
        with Transaction().start(DB_NAME, 0, context={},
                _lock_tables=['crm_configuration']) as transaction:
            company, employee = setup()
            if args.pairs:
                rest_times, bare_times = bench_pairs(args.pairs, company,
                    employee)
                r_med = statistics.median(rest_times)
                b_med = statistics.median(bare_times)
                print(f"| register+finish via crm.rest vs bare "
                    f"create/write | {ms(r_med)} | {ms(b_med)} | "
                    f"{r_med / b_med:.2f}x | <= 1.5x |", flush=True)
            transaction.commit()
            if sizes:
                with transaction.set_context(company=company.id):
                    bench_lookup(sizes, company, employee,
                        report_lookup(sizes, {}))
            transaction.rollback()
    finally:
        if DB_NAME != ':memory:':
            drop_db()


if __name__ == '__main__':
    main()
