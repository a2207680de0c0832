#!/usr/bin/env python3
"""Open lines speed, as ratios against references (DESIGN.md §10).

1. Incoming widget messages per second through two trytond web workers
   (separate processes on one PostgreSQL database, started as
   tests/scale_cluster.py does, clients spread round robin over them):
   HTTP, key and visitor check, rate limit, dedupe, conversation look-up,
   the message stored. Reference: JSON-RPC `create` of the same message
   records through the same two workers by the same number of clients.
   Rounds of both are interleaved.
2. The routing decision for a line of 100 operators with 10,000 open
   conversations (crm.openline.router: one SQL query for the operators'
   load, the choice in Python) against one raw SQL query making the same
   choice.

PostgreSQL only (the point is several processes on one database):

    TRYTOND_DATABASE__URI=postgresql://postgres@127.0.0.1:5432/ \
        .venv/bin/python bench/openlines.py [--messages N] [--clients C]
        [--rounds R] [--operators O] [--conversations N] [--runs R]
"""
import argparse
import datetime
import itertools
import os
import random
import statistics
import sys
import tempfile
import textwrap
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'tests'))

PASSWORD = 'bench-openlines-pass'


def ms(value):
    return '%.3f ms' % (value * 1000)


# --- 1. widget messages through two server workers ----------------------

def rate(count, clients, call):
    """Calls per second of count calls of call(client), each of clients
    threads calling in turn, as one visitor writes one message after the
    other"""
    errors = []

    def client(c):
        for _ in range(count // clients):
            status, body = call(c)
            if status != 200 or (isinstance(body, dict) and 'error' in body):
                errors.append(body)
    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as executor:
        list(executor.map(client, range(clients)))
    elapsed = time.perf_counter() - began
    if errors:
        raise SystemExit('%s failed requests: %s' % (len(errors),
                errors[:2]))
    return count // clients * clients / elapsed


def rpc_datetime(value):
    return {'__class__': 'datetime', 'year': value.year,
        'month': value.month, 'day': value.day, 'hour': value.hour,
        'minute': value.minute, 'second': value.second,
        'microsecond': value.microsecond}


def bench_widget(messages, clients, rounds):
    from scale_cluster import CLUSTER_CONFIG, Cluster, RpcSession, post_json
    from tenant_server import drop_tenant, run_crm, tenant_env, tenant_name
    from trytond.modules.crm_openlines.tests.http_tools import setup_tenant
    tmp = Path(tempfile.mkdtemp(prefix='bench_openlines_'))
    # the public rate limit is per client address: the bench is one client
    config = textwrap.dedent(CLUSTER_CONFIG) + textwrap.dedent("""
        [crm_openlines]
        widget_rate = 100000
        widget_burst = 100000
        """)
    run_id = uuid.uuid4().hex[:6]
    serial = itertools.count()
    with tenant_env(tmp, config, password=PASSWORD) as (env, _):
        name = tenant_name('benchol')
        try:
            run_crm(env, 'tenant', 'create', name, '--features',
                'portal,openlines')
            info = setup_tenant(env, name, 'http://127.0.0.1:9', '')
            with Cluster(env, [name], web_workers=2, cron=False,
                    queue=False) as cluster:
                bases = ['http://127.0.0.1:%s' % p
                    for p in cluster.proxy.ports]
                sessions = [RpcSession(b, name, 'admin', PASSWORD)
                    for b in bases]
                url = '/%s/openlines/widget/%s/message' % (
                    name, info['widget'])
                key = info['widget_key']
                # each visitor's first message opens its conversation
                # (lead, activity, routing): done before the timing
                visitors = []
                for v in range(clients):
                    status, answer = post_json(bases[v % 2] + url, {
                            'key': key, 'text': 'hello %s' % v,
                            'name': 'Visitor %s' % v})
                    assert status == 200, answer
                    visitors.append((answer['visitor'],
                            answer['conversation']))
                status, body = sessions[0].call(
                    'model.res.user.get_preferences', False)
                context = {'company': body['result']['company']}

                def widget(c):
                    n = next(serial)
                    token, _ = visitors[c]
                    return post_json(bases[n % 2] + url, {'key': key,
                            'visitor': token, 'text': 'message %s' % n,
                            'id': '%s-%s' % (run_id, n)})

                def bare(c):
                    n = next(serial)
                    _, conversation = visitors[c]
                    return sessions[n % 2].call(
                        'model.crm.openline.message.create', [{
                                'conversation': conversation,
                                'channel': info['widget'],
                                'direction': 'in',
                                'date': rpc_datetime(
                                    datetime.datetime.utcnow()),
                                'text': 'message %s' % n,
                                'external_id': 'bare-%s-%s' % (run_id, n),
                                }], context=context)
                # warm up both workers (pools, caches, connections)
                rate(10 * clients, clients, widget)
                rate(10 * clients, clients, bare)
                measured, reference = [], []
                for _ in range(rounds):
                    measured.append(rate(messages, clients, widget))
                    reference.append(rate(messages, clients, bare))
        finally:
            drop_tenant(env, name)
    return statistics.median(measured), statistics.median(reference)


# --- 2. routing decision ------------------------------------------------

def bench_routing(operators, conversations, runs):
    os.environ.setdefault('DB_NAME', 'bench_ol_%d' % os.getpid())
    from trytond.tests.test_tryton import activate_module, drop_db
    from trytond.tests.test_tryton import DB_NAME
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    drop_db()
    activate_module(['crm_openlines'])
    try:
        with Transaction().start(DB_NAME, 0) as transaction:
            return _routing(Pool(), operators, conversations, runs,
                transaction)
    finally:
        drop_db()


def _routing(pool, operators, conversations, runs, transaction):
    from sql import Null
    from sql.aggregate import Count
    from sql.conditionals import Coalesce
    from trytond.modules.company.tests import create_company
    Employee = pool.get('company.employee')
    Party = pool.get('party.party')
    Line = pool.get('crm.openline')
    Operator = pool.get('crm.openline.operator')
    Conversation = pool.get('crm.openline.conversation')
    Router = pool.get('crm.openline.router')
    rng = random.Random(42)
    company = create_company()
    parties = Party.create([{'name': 'Operator %s' % i}
            for i in range(operators)])
    employees = Employee.create([{'party': p.id, 'company': company.id,
                'openline_status': 'away' if i % 10 == 0 else 'available'}
            for i, p in enumerate(parties)])
    line, = Line.create([{'name': 'Bench', 'company': company.id}])
    now = datetime.datetime(2026, 3, 2, 10)
    Operator.create([{'line': line.id, 'employee': e.id, 'sequence': i,
                'last_offered': now - datetime.timedelta(
                    seconds=rng.randrange(3600))}
            for i, e in enumerate(employees)])
    table = Conversation.__table__()
    cursor = transaction.connection.cursor()
    states = ['waiting', 'work', 'work', 'work']
    rows = [[line.id, company.id, 'c%s' % i, rng.choice(states),
            rng.choice(employees).id, now, 0, now]
        for i in range(conversations)]
    for start in range(0, len(rows), 1000):
        cursor.execute(*table.insert(
                [table.line, table.company, table.external_chat,
                    table.state, table.operator, table.started,
                    table.create_uid, table.create_date],
                rows[start:start + 1000]))
    line = Line(line.id)

    operator = Operator.__table__()
    employee = Employee.__table__()
    conversation = Conversation.__table__()
    load = conversation.select(
        conversation.operator, Count(conversation.id).as_('load'),
        where=(conversation.state != 'closed')
        & (conversation.operator != Null),
        group_by=[conversation.operator])
    raw = operator.join(employee,
        condition=operator.employee == employee.id).join(load, 'LEFT',
        condition=load.operator == operator.employee).select(
        operator.employee,
        where=(operator.line == line.id)
        & (employee.openline_status == 'available'),
        order_by=[Coalesce(load.load, 0).asc,
            operator.last_offered.asc.nulls_first,
            operator.sequence.asc, operator.employee.asc],
        limit=1)

    def raw_choice():
        cursor.execute(*raw)
        return cursor.fetchone()[0]

    def router_choice():
        return Router.choose(line)[0]

    assert raw_choice() == router_choice(), "both must choose the same"
    result = {}
    for label, func in [('router', router_choice), ('raw', raw_choice)]:
        times = []
        for _ in range(runs):
            began = time.perf_counter()
            func()
            times.append(time.perf_counter() - began)
        result[label] = statistics.median(times)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('--messages', type=int, default=400,
        help="widget messages per round")
    parser.add_argument('--clients', type=int, default=8,
        help="concurrent clients (one visitor each)")
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--operators', type=int, default=100)
    parser.add_argument('--conversations', type=int, default=10_000)
    parser.add_argument('--runs', type=int, default=200)
    parser.add_argument('--skip-widget', action='store_true')
    args = parser.parse_args()
    if not os.environ.get('TRYTOND_DATABASE__URI', '').startswith(
            'postgresql'):
        raise SystemExit("set TRYTOND_DATABASE__URI=postgresql://... "
            "(two server workers share one PostgreSQL database)")

    rows = []
    if not args.skip_widget:
        widget, bare = bench_widget(args.messages, args.clients,
            args.rounds)
        # a time ratio: how much longer a widget message takes
        rows.append(('widget messages, 2 workers (ref: RPC create)',
                '%.0f msg/s' % widget, '%.0f msg/s' % bare, bare / widget))
    routing = bench_routing(args.operators, args.conversations, args.runs)
    rows.append(('routing, %s operators/%s open (ref: raw SQL)' % (
                args.operators, args.conversations),
            ms(routing['router']), ms(routing['raw']),
            routing['router'] / routing['raw']))
    print('%-52s %14s %14s %8s' % ('measure', 'figure', 'reference',
            'ratio'))
    for row in rows:
        print('%-52s %14s %14s %8.2f' % row)
    print('PostgreSQL, %s cores; goal: widget within 1.5x, routing within '
        '3x; medians of %s rounds / %s runs' % (os.cpu_count(), args.rounds,
            args.runs))


if __name__ == '__main__':
    main()
