#!/usr/bin/env python3
"""Sales funnel report speed, as a ratio against a hand-written aggregate.

Populates N deals of one pipeline (standard stages) with their stage
history through SQL inserts (not measured), then times reading the funnel
report model (`crm.analytics.funnel`, search_read over one pipeline and
one period, as the web client does) against the equivalent single SQL
aggregate written by hand and run on the same cursor. Both must give the
same figures; the script checks it.

Runs on SQLite in memory by default, on PostgreSQL when
TRYTOND_DATABASE__URI is set. Prints medians and the ratio (DESIGN.md §10).
Usage: bench/funnel.py [--deals N] [--runs R]
"""
import argparse
import datetime
import os
import statistics
import sys
import time
from decimal import Decimal

os.environ.setdefault('DB_NAME', ':memory:'
    if not os.environ.get('TRYTOND_DATABASE__URI', '').startswith(
        'postgresql') else 'bench_funnel_%d' % os.getpid())

from trytond.tests.test_tryton import activate_module, drop_db  # noqa: E402
from trytond.pool import Pool  # noqa: E402
from trytond.transaction import Transaction  # noqa: E402
from trytond.tests.test_tryton import DB_NAME  # noqa: E402
from trytond import backend  # noqa: E402

BATCH = 2000  # PostgreSQL takes at most 65535 parameters a query
FROM_DATE = datetime.date(2024, 1, 1)
TO_DATE = datetime.date(2024, 12, 31)
FIELDS = ['stage', 'number', 'amount', 'next_number', 'current_number',
    'current_amount', 'average_days']


def setup():
    from trytond.modules.company.tests import create_company
    pool = Pool()
    User = pool.get('res.user')
    Pipeline = pool.get('crm.pipeline')
    Party = pool.get('party.party')
    company = create_company()
    User.write([User(Transaction().user)], {
            'companies': [('add', [company.id])], 'company': company.id})
    pipeline = Pipeline.create_standard(company.id)
    party, = Party.create([{'name': "Client"}])
    return company, pipeline, party


def deal_path(i, stages):
    "Stages deal i went through: furthest in-progress stage and outcome"
    in_progress = [s for s in stages if s.kind == 'in_progress']
    won = [s for s in stages if s.kind == 'won'][0]
    lost = [s for s in stages if s.kind == 'lost'][0]
    furthest = (i * 7) % len(in_progress)
    path = in_progress[:furthest + 1]
    outcome = i % 5
    if outcome == 0:
        path = path + [won]
    elif outcome == 1:
        path = path + [lost]
    return path


def populate(count, company, pipeline, party):
    "Insert deals and their stage history through SQL"
    pool = Pool()
    Opportunity = pool.get('sale.opportunity')
    History = pool.get('crm.deal.stage.history')
    cursor = Transaction().connection.cursor()
    opportunity = Opportunity.__table__()
    history = History.__table__()
    stages = list(pipeline.stages)
    now = datetime.datetime.now()
    state = {'in_progress': 'opportunity', 'won': 'won', 'lost': 'lost'}
    for start in range(0, count, BATCH):
        stop = min(start + BATCH, count)
        paths = {i: deal_path(i, stages) for i in range(start, stop)}
        cursor.execute(*opportunity.insert(
                [opportunity.number, opportunity.company,
                    opportunity.currency, opportunity.party,
                    opportunity.start_date, opportunity.state,
                    opportunity.crm_type, opportunity.pipeline,
                    opportunity.stage, opportunity.amount,
                    opportunity.conversion_probability,
                    opportunity.description, opportunity.lost_reason,
                    opportunity.create_uid, opportunity.create_date],
                [['B%d' % i, company.id, company.currency.id, party.id,
                        FROM_DATE + datetime.timedelta(days=i % 400),
                        state[paths[i][-1].kind], 'deal', pipeline.id,
                        paths[i][-1].id, Decimal(100 + i % 1000),
                        paths[i][-1].probability, 'Deal %d' % i,
                        'Price' if paths[i][-1].kind == 'lost' else None,
                        0, now]
                    for i in range(start, stop)]))
        cursor.execute(*opportunity.select(
                opportunity.id, opportunity.number,
                where=opportunity.number.in_(
                    ['B%d' % i for i in range(start, stop)])))
        ids = {number: id_ for id_, number in cursor}
        rows = []
        for i in range(start, stop):
            entered = datetime.datetime(2024, 1, 1) + datetime.timedelta(
                minutes=i)
            path = paths[i]
            for n, stage in enumerate(path):
                left = None
                if n < len(path) - 1:
                    left = entered + datetime.timedelta(hours=1 + (i + n) % 72)
                rows.append([ids['B%d' % i], stage.id, entered, left, 0, now])
                entered = left
        cursor.execute(*history.insert(
                [history.deal, history.stage, history.entered, history.left,
                    history.create_uid, history.create_date], rows))


def raw_query(company, pipeline):
    "The funnel as one SQL statement written by hand"
    if backend.name == 'sqlite':
        param = '?'

        def epoch(column):
            return "EXTRACT('EPOCH', %s)" % column
    else:
        param = '%s'

        def epoch(column):
            return 'EXTRACT(EPOCH FROM %s)' % column
    deals = ('d.crm_type = \'deal\' AND d.company = {p} AND d.pipeline = {p} '
        'AND d.start_date >= {p} AND d.start_date <= {p}').format(p=param)
    sql = f'''
WITH st AS (
    SELECT s.id, s.kind, ROW_NUMBER() OVER (ORDER BY
        CASE s.kind WHEN 'in_progress' THEN 0 WHEN 'won' THEN 1 ELSE 2 END,
        CASE WHEN s.sequence IS NULL THEN 0 ELSE 1 END, s.sequence, s.id
        ) AS pos
    FROM crm_pipeline_stage s WHERE s.pipeline = {param}),
reach AS (
    SELECT d.id, d.stage, COALESCE(d.amount, 0) AS amount, cur.kind,
        GREATEST(MAX(hs.pos), MAX(CASE WHEN cur.kind = 'in_progress'
            THEN cur.pos END)) AS reached
    FROM sale_opportunity d
    JOIN st cur ON cur.id = d.stage
    LEFT JOIN crm_deal_stage_history h ON h.deal = d.id
    LEFT JOIN st hs ON hs.id = h.stage AND hs.kind = 'in_progress'
    WHERE {deals}
    GROUP BY d.id, d.stage, d.amount, cur.kind),
stays AS (
    SELECT h.stage,
        AVG({epoch('h."left"')} - {epoch('h.entered')}) AS seconds
    FROM crm_deal_stage_history h JOIN sale_opportunity d ON d.id = h.deal
    WHERE h."left" IS NOT NULL AND {deals}
    GROUP BY h.stage)
SELECT st.id,
    SUM(CASE WHEN (st.kind = 'in_progress'
            AND (r.kind = 'won' OR r.reached >= st.pos))
        OR (st.kind != 'in_progress' AND r.stage = st.id)
        THEN 1 ELSE 0 END),
    SUM(CASE WHEN (st.kind = 'in_progress'
            AND (r.kind = 'won' OR r.reached >= st.pos))
        OR (st.kind != 'in_progress' AND r.stage = st.id)
        THEN r.amount ELSE 0 END),
    SUM(CASE WHEN st.kind = 'in_progress'
            AND (r.kind = 'won' OR r.reached > st.pos) THEN 1 ELSE 0 END),
    SUM(CASE WHEN r.stage = st.id THEN 1 ELSE 0 END),
    SUM(CASE WHEN r.stage = st.id THEN r.amount ELSE 0 END),
    MAX(stays.seconds) / 86400.0
FROM st
LEFT JOIN reach r ON TRUE
LEFT JOIN stays ON stays.stage = st.id
GROUP BY st.id, st.kind, st.pos
ORDER BY st.pos'''
    filters = [company, pipeline, FROM_DATE, TO_DATE]
    return sql, [pipeline] + filters + filters


def bench(count, runs):
    pool = Pool()
    Funnel = pool.get('crm.analytics.funnel')
    transaction = Transaction()
    company, pipeline, party = setup()
    began = time.perf_counter()
    populate(count, company, pipeline, party)
    transaction.commit()
    populated = time.perf_counter() - began
    cursor = transaction.connection.cursor()
    sql, params = raw_query(company.id, pipeline.id)
    context = {'company': company.id, 'pipeline': pipeline.id,
        'from_date': FROM_DATE, 'to_date': TO_DATE}

    def orm():
        with transaction.set_context(context):
            return Funnel.search_read([], fields_names=FIELDS)

    def raw():
        cursor.execute(sql, params)
        return cursor.fetchall()

    # Same figures both ways.
    rows, expected = orm(), raw()
    got = [(r['stage'], r['number'], r['amount'], r['next_number'],
            r['current_number'], r['current_amount'],
            round(r['average_days'], 6) if r['average_days'] else None)
        for r in rows]
    want = [(e[0], e[1], Decimal(str(e[2])), e[3], e[4],
            Decimal(str(e[5])), round(float(e[6]), 6) if e[6] else None)
        for e in expected]
    if got != want:
        raise SystemExit('funnel and raw SQL differ:\n%s\n%s' % (got, want))

    orm_times, raw_times = [], []
    for _ in range(runs):
        for func, times in [(orm, orm_times), (raw, raw_times)]:
            start = time.perf_counter()
            func()
            times.append(time.perf_counter() - start)
    names = {s.id: s.code for s in pipeline.stages}
    for row in rows:
        row['stage'] = names[row['stage']]
    return rows, populated, orm_times, raw_times


def ms(value):
    return '%.1f' % (value * 1000)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--deals', type=int, default=100_000)
    parser.add_argument('--runs', type=int, default=11)
    args = parser.parse_args()

    activate_module('crm_portal')
    name = 'postgresql' if os.environ.get(
        'TRYTOND_DATABASE__URI', '').startswith('postgresql') else 'sqlite'
    try:
        with Transaction().start(DB_NAME, 0, context={}) as transaction:
            rows, populated, orm_times, raw_times = bench(
                args.deals, args.runs)
            transaction.rollback()
    finally:
        if DB_NAME != ':memory:':
            drop_db()

    o_med = statistics.median(orm_times)
    r_med = statistics.median(raw_times)
    print(f"# bench/funnel.py on {name}, {args.deals} deals "
        f"(populated in {populated:.1f} s), median of {args.runs} runs")
    print()
    print("| stage | deals reached | amount | went further | avg days |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['stage']} | {row['number']} | {row['amount']} "
            f"| {row['next_number']} | {row['average_days'] or 0:.2f} |")
    print()
    print("| measure | ms | reference (ms) | ratio | goal |")
    print("|---|---|---|---|---|")
    print(f"| funnel report (search_read) vs hand-written SQL aggregate "
        f"| {ms(o_med)} | {ms(r_med)} | {o_med / r_med:.2f}x | <= 3x |")
    return 0


if __name__ == '__main__':
    sys.exit(main())
