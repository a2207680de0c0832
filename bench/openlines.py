#!/usr/bin/env python3
"""Open lines speed, as ratios against references (DESIGN.md §10).

1. Incoming widget messages per second through two trytond server
   processes (HTTP, key check, rate limit, dedupe, conversation look-up)
   against bare ORM `create` of the same message records, one per
   transaction, in this process.
2. The routing decision for a line of 100 operators with 10,000 open
   conversations (crm.openline.router: one SQL query for the operators'
   load, the choice in Python) against one raw SQL query making the same
   choice.

SQLite in a temporary folder by default, PostgreSQL when
TRYTOND_DATABASE__URI is set. Usage: bench/openlines.py [--messages N]
[--visitors V] [--operators O] [--conversations C] [--runs R]
"""
import argparse
import datetime
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'tests'))


def ms(value):
    return '%.3f ms' % (value * 1000)


# --- 1. widget messages through two server workers ----------------------

def post(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(),
        headers={'Content-Type': 'text/plain'})
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


def bench_widget(messages, visitors, rounds):
    from tenant_server import (
        drop_tenant, free_port, run_crm, serve, tenant_env, tenant_name)
    from trytond.modules.crm_openlines.tests.http_tools import setup_tenant
    tmp = Path(tempfile.mkdtemp(prefix='bench_openlines_'))
    # the public rate limit is per client address: the bench is one client
    config = """
        [crm_openlines]
        widget_rate = 100000
        widget_burst = 100000
        """
    with tenant_env(tmp, config) as (env, port):
        name = tenant_name('benchol')
        try:
            run_crm(env, 'tenant', 'create', name, '--features',
                'portal,openlines')
            info = setup_tenant(env, name, 'http://127.0.0.1:9', '')
            second = free_port()
            env2 = dict(env)
            with serve(env, port, name) as base1, \
                    _second(env2, second, name) as base2:
                bases = [base1, base2]
                url = '/%s/openlines/widget/%s/message' % (
                    name, info['widget'])
                key = info['widget_key']
                # each visitor's first message opens its conversation
                # (lead, activity, routing): done before the timing
                tokens = []
                for v in range(visitors):
                    answer = post(bases[v % 2] + url, {'key': key,
                            'text': 'hello %s' % v,
                            'name': 'Visitor %s' % v})
                    tokens.append(answer['visitor'])
                times = []
                for r in range(rounds):
                    per_visitor = max(messages // visitors, 1)

                    def talk(v):
                        for i in range(per_visitor):
                            post(bases[(v + i) % 2] + url, {'key': key,
                                    'visitor': tokens[v],
                                    'text': 'message %s %s %s' % (r, v, i),
                                    'id': '%s-%s-%s' % (r, v, i)})
                    threads = [threading.Thread(target=talk, args=(v,))
                        for v in range(visitors)]
                    began = time.perf_counter()
                    for thread in threads:
                        thread.start()
                    for thread in threads:
                        thread.join()
                    times.append((time.perf_counter() - began)
                        / (per_visitor * visitors))
            bare = bare_creates(env, name, messages, rounds)
        finally:
            drop_tenant(env, name)
    return statistics.median(times), statistics.median(bare)


class _second:
    "A second trytond process on the same database"

    def __init__(self, env, port, name):
        config = Path(env['TRYTOND_CONFIG'])
        text = config.read_text()
        other = config.with_name('trytond2.conf')
        other.write_text(text.replace(
                'listen = 127.0.0.1:', 'listen = 127.0.0.1:%s\n#' % port, 1))
        self.env = dict(env, TRYTOND_CONFIG=str(other))
        self.port, self.name = port, name

    def __enter__(self):
        from tenant_server import serve
        self.context = serve(self.env, self.port, self.name)
        return self.context.__enter__()

    def __exit__(self, *args):
        return self.context.__exit__(*args)


def bare_creates(env, name, messages, rounds):
    "Per-message time of bare ORM creates, in a child process"
    code = r'''
import datetime, json, sys, time
from trytond.modules.crm_portal.cli import configure, load_pool
from trytond.transaction import Transaction
configure()
name, messages, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
pool = load_pool(name)
Message = pool.get('crm.openline.message')
with Transaction().start(name, 0, readonly=True):
    Conversation = pool.get('crm.openline.conversation')
    conversation = Conversation.search([], limit=1)[0]
    cid, chid = conversation.id, conversation.channel.id
times = []
for r in range(rounds):
    began = time.perf_counter()
    for i in range(messages):
        with Transaction().start(name, 0) as transaction:
            Message.create([{'conversation': cid, 'channel': chid,
                'direction': 'in', 'date': datetime.datetime.utcnow(),
                'text': 'message %s %s' % (r, i),
                'external_id': 'bare-%s-%s' % (r, i)}])
            transaction.commit()
    times.append((time.perf_counter() - began) / messages)
print(json.dumps(times))
'''
    result = subprocess.run([sys.executable, '-c', code, name,
            str(messages), str(rounds)], env=env, capture_output=True,
        text=True, timeout=3600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- 2. routing decision ------------------------------------------------

def bench_routing(operators, conversations, runs):
    os.environ.setdefault('DB_NAME', ':memory:'
        if not os.environ.get('TRYTOND_DATABASE__URI', '').startswith(
            'postgresql') else 'bench_ol_%d' % os.getpid())
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--messages', type=int, default=400,
        help="widget messages per round")
    parser.add_argument('--visitors', type=int, default=8)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--operators', type=int, default=100)
    parser.add_argument('--conversations', type=int, default=10_000)
    parser.add_argument('--runs', type=int, default=200)
    parser.add_argument('--skip-widget', action='store_true')
    args = parser.parse_args()

    print('%-52s %14s %14s %8s' % ('measure', 'figure', 'reference',
            'ratio'))
    if not args.skip_widget:
        widget, bare = bench_widget(args.messages, args.visitors,
            args.rounds)
        print('%-52s %14s %14s %8.2f' % (
                'widget message, 2 workers (ref: bare create)',
                '%.0f msg/s' % (1 / widget), '%.0f msg/s' % (1 / bare),
                widget / bare))
    routing = bench_routing(args.operators, args.conversations, args.runs)
    print('%-52s %14s %14s %8.2f' % (
            'routing, %s operators/%s open (ref: raw SQL)' % (
                args.operators, args.conversations),
            ms(routing['router']), ms(routing['raw']),
            routing['router'] / routing['raw']))
    print('goal: widget within 1.5x, routing within 3x; medians of '
        '%s rounds / %s runs' % (args.rounds, args.runs))


if __name__ == '__main__':
    main()
