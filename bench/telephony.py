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

from benchtools import phone, populate_contacts  # noqa: E402

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


def bench_lookup(sizes, company, probes=2000):
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
    # The reference of the full caller-ID: the same two look-ups as
    # hand-written statements (the number's party with its kind, employer
    # and responsible; the open lead/deal of the number or party).
    opportunity = pool.get('sale.opportunity').__table__()
    status = pool.get('crm.lead.status').__table__()
    stage = pool.get('crm.pipeline.stage').__table__()
    party_sql, party_constants = tuple(mechanism.join(
            party, condition=mechanism.party == party.id).select(
            party.id, party.crm_kind, party.employer, party.crm_responsible,
            where=(mechanism.value_compact == '?')
            & (mechanism.active == Literal(True))
            & (party.active == Literal(True)), limit=1))
    party_constants = party_constants[1:]
    deal_sql, deal_constants = tuple(opportunity
        .join(status, 'LEFT', condition=opportunity.lead_status == status.id)
        .join(stage, 'LEFT', condition=opportunity.stage == stage.id)
        .select(opportunity.id, opportunity.employee,
            where=(opportunity.company == company.id)
            & (((opportunity.crm_type == 'deal')
                    & (stage.kind == 'in_progress'))
                | ((opportunity.crm_type == 'lead')
                    & (status.kind == 'open')))
            & ((opportunity.contact_phone_e164 == '?')
                | (opportunity.party == -1)),
            order_by=[opportunity.crm_type.desc, opportunity.id.desc],
            limit=1))
    results = {}
    have = 0
    base = 5_000_000
    for size in sizes:
        populate_contacts(size - have, base + have, prefix='T', chunk=10000)
        have = size
        Transaction().commit()
        numbers = [phone(base + (i * 7919) % size) for i in range(probes)]

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
                cursor.execute(party_sql, (number,) + party_constants)
                party_id = cursor.fetchone()[0]
                params = list(deal_constants)
                params[params.index('?')] = number
                params[params.index(-1)] = party_id
                cursor.execute(deal_sql, params)
                cursor.fetchall()
        results[size] = (timed_batches(lookup, probes),
            timed_batches(raw_full, probes),
            timed_batches(match, probes), timed_batches(raw, probes))
    return results


def ms(value):
    return '%.3f' % (value * 1000)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--pairs', type=int, default=10_000)
    parser.add_argument('--numbers', default='10000,1000000')
    args = parser.parse_args()
    sizes = [int(s) for s in args.numbers.split(',')]
    activate_module('crm_telephony')
    backend = os.environ.get('TRYTOND_DATABASE__URI', 'sqlite')
    backend = 'postgresql' if backend.startswith('postgresql') else 'sqlite'
    try:
        # the CRM configuration singleton is created: lock its table
        with Transaction().start(DB_NAME, 0, context={},
                _lock_tables=['crm_configuration']) as transaction:
            company, employee = setup()
            rest_times, bare_times = bench_pairs(args.pairs, company,
                employee)
            transaction.commit()
            with transaction.set_context(company=company.id):
                lookups = bench_lookup(sizes, company)
            transaction.rollback()
    finally:
        if DB_NAME != ':memory:':
            drop_db()
    r_med = statistics.median(rest_times)
    b_med = statistics.median(bare_times)
    print(f"# bench/telephony.py on {backend}, {args.pairs} pairs, "
        f"median of batches of {BATCH}")
    print()
    print("| measure | ms / item | reference (ms) | ratio | goal |")
    print("|---|---|---|---|---|")
    print(f"| register+finish via crm.rest vs bare create/write | "
        f"{ms(r_med)} | {ms(b_med)} | {r_med / b_med:.2f}x | <= 1.5x |")
    first = {}
    for size in sizes:
        lookup, raw_full, match, raw = [
            statistics.median(t) for t in lookups[size]]
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
                f"| <= 2x, flat |")


if __name__ == '__main__':
    main()
