#!/usr/bin/env python3
"""REST API speed over HTTP on PostgreSQL, as ratios against references.

1. `crm.lead.add` against Tryton's JSON-RPC `model.sale.opportunity.create`
   of the same lead (title, name, phone, source), both over HTTP to the
   same two trytond processes serving one PostgreSQL database (trytond's
   HTTP server is one threaded process, its `-n` is for workers and cron:
   two processes on two ports stand for two server workers), sent by the
   same client threads in round robin, in alternating blocks.
2. `crm.lead.list` with a filter (amount range and status, ordered, one
   page of 50 and the total) on 100,000 leads over HTTP, against the same
   filter, page and count as raw SQL on a direct connection.

The 100,000 leads are written by one `INSERT ... SELECT` from
`generate_series` that copies a lead made through the API (every column,
with the title, contact, phone, amount, status and creation time varied),
then `ANALYZE`: seconds instead of the ORM's minutes.

PostgreSQL only: TRYTOND_DATABASE__URI (default
postgresql://postgres@127.0.0.1:5432/). The tenant is created with the
`crm` command in a temporary folder and dropped at the end. Prints medians
and ratios (DESIGN.md §10).
Usage: bench/rest.py [--leads N] [--adds N] [--threads N] [--runs N]
"""
import argparse
import base64
import concurrent.futures
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

os.environ.setdefault('TRYTOND_DATABASE__URI',
    'postgresql://postgres@127.0.0.1:5432/')
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / 'tests'))

from tenant_server import (  # noqa: E402
    TRYTOND, drop_tenant, free_port, run_crm, tenant_env, tenant_name,
    wait_for)

PASSWORD = 'bench-rest-pass'
BLOCK = 25
CONFIG = """
    [crm_rest]
    rate = 1000000
    burst = 1000000
    """


@contextlib.contextmanager
def serve(env, port, name, log):
    "Run trytond for tenant name, its log in file log; yield its base URL"
    with open(log, 'w') as stderr:
        process = subprocess.Popen(
            [TRYTOND, '-c', env['TRYTOND_CONFIG'], '-d', name], env=env,
            stdout=subprocess.DEVNULL, stderr=stderr)
        base = f'http://127.0.0.1:{port}'
        try:
            wait_for(base + '/', process)
            yield base
        finally:
            process.terminate()
            process.wait(timeout=30)


def post(url, data, headers=None):
    request = urllib.request.Request(url, data=json.dumps(data).encode(),
        headers=dict(headers or {}, **{'Content-Type': 'application/json'}))
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as error:
        raise RuntimeError(f'{url}: {error.code} {error.read()[:2000]}')
    if 'error' in body and body['error']:
        raise RuntimeError(body)
    return body


class RPC:
    "Tryton's JSON-RPC as the web client speaks it (session header)"

    def __init__(self, base, database, login):
        self.url = f'{base}/{database}/rpc/'
        user_id, session, _ = post(self.url, {'id': 0,
                'method': 'common.db.login',
                'params': [login, {'password': PASSWORD}, 'en']})['result']
        token = base64.b64encode(
            f'{login}:{user_id}:{session}'.encode()).decode()
        self.headers = {'Authorization': 'Session ' + token}
        self.context = self('model.res.user.get_preferences', True, {})

    def __call__(self, method, *args):
        return post(self.url, {'id': 0, 'method': method,
                'params': list(args)}, self.headers)['result']


def lead_fields(i):
    return {'TITLE': f'Bench lead {i}', 'NAME': f'Client {i}',
        'PHONE': [{'VALUE': '+7916%07d' % i, 'VALUE_TYPE': 'WORK'}],
        'SOURCE_ID': 'WEB'}


def lead_values(i, source):
    "What crm.lead.add writes for lead_fields(i)"
    return {'crm_type': 'lead', 'description': f'Bench lead {i}',
        'contact_name': f'Client {i}', 'contact_phone': '+7916%07d' % i,
        'source': source}


def run_block(pool, calls):
    "Run the calls on the pool; return the wall time per call"
    began = time.perf_counter()
    for future in [pool.submit(c) for c in calls]:
        future.result()
    return (time.perf_counter() - began) / len(calls)


def bench_add(urls, rpcs, adds, threads):
    source = rpcs[0]('model.crm.source.search',
        [('code', '=', 'WEB')], 0, 1, None, rpcs[0].context)[0]
    counter = iter(range(10_000_000))

    def rest(server):
        def call():
            post(urls[server] + 'crm.lead.add.json',
                {'fields': lead_fields(next(counter))})
        return call

    def rpc(server):
        def call():
            client = rpcs[server]
            context = dict(client.context, crm_type='lead')
            client('model.sale.opportunity.create',
                [lead_values(next(counter), source)], context)
        return call
    rest_times, rpc_times = [], []
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        # warm both servers' caches on both paths
        run_block(pool, [rest(i % 2) for i in range(2 * threads)]
            + [rpc(i % 2) for i in range(2 * threads)])
        for _ in range(max(adds // BLOCK, 1)):
            rest_times.append(run_block(pool,
                    [rest(i % 2) for i in range(BLOCK)]))
            rpc_times.append(run_block(pool,
                    [rpc(i % 2) for i in range(BLOCK)]))
    return rest_times, rpc_times


# 2. crm.lead.list on 100,000 leads

def connect(database):
    import psycopg
    uri = os.environ['TRYTOND_DATABASE__URI'].rstrip('/')
    return psycopg.connect(f'{uri}/{database}', autocommit=True)


def populate(database, template, count):
    "Copy the template lead count times with one INSERT ... SELECT"
    varied = {
        'description': "'Lead ' || g.i",
        'contact_name': "'Client ' || g.i",
        'contact_phone': "'+7915' || lpad(g.i::text, 7, '0')",
        'contact_phone_e164': "'+7915' || lpad(g.i::text, 7, '0')",
        'amount': '(g.i %% 10000)::numeric',
        'lead_status': '(SELECT id FROM crm_lead_status ORDER BY sequence, '
        'id OFFSET g.i %% 3 LIMIT 1)',
        'create_date': "t.create_date - g.i * interval '1 minute'",
        'number': "'B' || g.i",
        }
    with connect(database) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'sale_opportunity' AND column_name != 'id'")
        columns = [c for c, in cursor.fetchall()]
        select = ', '.join(varied.get(c, f't.{c}') for c in columns)
        # The leads of an earlier run on a reused tenant (--tenant)
        cursor.execute("DELETE FROM sale_opportunity WHERE number LIKE 'B%%'"
            " AND crm_type = 'lead' AND id != %s", (template,))
        began = time.perf_counter()
        cursor.execute(
            f"INSERT INTO sale_opportunity ({', '.join(columns)}) "
            f"SELECT {select} FROM sale_opportunity AS t, "
            "generate_series(1, %s) AS g(i) WHERE t.id = %s",
            (count, template))
        cursor.execute('ANALYZE sale_opportunity')
        return time.perf_counter() - began


LIST_PARAMS = {
    'filter': {'>=OPPORTUNITY': 2000, '<OPPORTUNITY': 2500,
        'STATUS_ID': 'IN_PROCESS'},
    'select': ['ID', 'TITLE', 'OPPORTUNITY', 'STATUS_ID', 'DATE_CREATE'],
    'order': {'ID': 'DESC'},
    'start': 50,
    }
RAW_PAGE = """
    SELECT o.id, o.description, o.amount, s.code, o.create_date
    FROM sale_opportunity AS o
    LEFT JOIN crm_lead_status AS s ON s.id = o.lead_status
    WHERE o.crm_type = 'lead' AND o.amount >= 2000 AND o.amount < 2500
        AND s.code = 'IN_PROCESS'
    ORDER BY o.id DESC LIMIT 50 OFFSET 50"""
RAW_COUNT = """
    SELECT COUNT(*) FROM sale_opportunity AS o
    LEFT JOIN crm_lead_status AS s ON s.id = o.lead_status
    WHERE o.crm_type = 'lead' AND o.amount >= 2000 AND o.amount < 2500
        AND s.code = 'IN_PROCESS'"""


def bench_list(url, database, runs):
    rest_times, raw_times = [], []
    with connect(database) as connection, connection.cursor() as cursor:
        def raw():
            cursor.execute(RAW_PAGE)
            page = cursor.fetchall()
            cursor.execute(RAW_COUNT)
            return page, cursor.fetchone()[0]
        answer = post(url + 'crm.lead.list.json', LIST_PARAMS)
        page, total = raw()
        assert answer['total'] == total, (answer['total'], total)
        assert [int(r['ID']) for r in answer['result']] == [
            r[0] for r in page]
        for _ in range(runs):
            began = time.perf_counter()
            post(url + 'crm.lead.list.json', LIST_PARAMS)
            rest_times.append(time.perf_counter() - began)
            began = time.perf_counter()
            raw()
            raw_times.append(time.perf_counter() - began)
    return rest_times, raw_times, total


def ms(value):
    return '%.2f' % (value * 1000)


def row(name, times, reference, goal):
    value, ref = statistics.median(times), statistics.median(reference)
    print(f'| {name} | {ms(value)} | {ms(ref)} | {value / ref:.2f}x '
        f'| {goal} |')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--leads', type=int, default=100_000)
    parser.add_argument('--adds', type=int, default=500,
        help="crm.lead.add calls (and as many JSON-RPC creates)")
    parser.add_argument('--threads', type=int, default=4,
        help="concurrent client threads")
    parser.add_argument('--runs', type=int, default=30,
        help="crm.lead.list calls (and as many raw queries)")
    parser.add_argument('--tenant', metavar='NAME',
        help="reuse this tenant (made with the same admin password) and "
        "keep it")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, \
            tenant_env(Path(tmp), CONFIG, password=PASSWORD) as (env, port):
        name = options.tenant or tenant_name('benchrest')
        try:
            if not options.tenant:
                run_crm(env, 'tenant', 'create', name)
            url = run_crm(env, 'webhook', 'create', name, '--user', 'admin',
                '--scope', 'crm')
            # A second server process on another port, same database.
            port2 = free_port()
            config2 = Path(tmp) / 'trytond2.conf'
            config2.write_text(Path(env['TRYTOND_CONFIG']).read_text()
                .replace(f':{port}\n', f':{port2}\n'))
            env2 = dict(env, TRYTOND_CONFIG=str(config2))
            with contextlib.ExitStack() as stack:
                bases = [
                    stack.enter_context(serve(e, p, name, Path(tmp) / log))
                    for e, p, log in [(env, port, 'server1.log'),
                        (env2, port2, 'server2.log')]]
                path = url.split(str(port), 1)[1]
                urls = [bases[0] + path, bases[1] + path]
                rpcs = [RPC(b, name, 'admin') for b in bases]
                rest_add, rpc_add = bench_add(
                    urls, rpcs, options.adds, options.threads)

                template = post(urls[0] + 'crm.lead.add.json', {'fields': {
                            'TITLE': 'Template', 'NAME': 'Client',
                            'PHONE': '+79150000000', 'SOURCE_ID': 'WEB',
                            'STATUS_ID': 'NEW', 'OPPORTUNITY': 1}})['result']
                seconds = populate(name, template, options.leads)
                rest_list, raw_list, total = bench_list(
                    urls[0], name, options.runs)
        finally:
            for log in ['server1.log', 'server2.log']:
                path = Path(tmp) / log
                text = path.read_text() if path.exists() else ''
                if 'Traceback' in text:
                    start = text.index('Traceback')
                    print(f'--- {log}\n{text[start:start + 5000]}',
                        file=sys.stderr)
            if not options.tenant:
                drop_tenant(env, name)

    print(f'bench/rest.py on PostgreSQL, 2 trytond processes, '
        f'{options.threads} client threads; {options.leads:,} leads '
        f'inserted by SQL in {seconds:.1f} s')
    print()
    print('| measure | ms | reference (ms) | ratio | goal |')
    print('|---|---|---|---|---|')
    row(f'crm.lead.add over HTTP ({options.adds} calls, wall time per '
        'call) vs JSON-RPC model.sale.opportunity.create', rest_add,
        rpc_add, '<= 1.3x')
    row(f'crm.lead.list, filter + page 2 + total ({total} matching of '
        f'{options.leads:,}) over HTTP vs the same raw SQL', rest_list,
        raw_list, '<= 2x')


if __name__ == '__main__':
    main()
