"""Lead intake throughput with 1, 2 and 4 trytond web workers on PostgreSQL.

    TRYTOND_DATABASE__URI=postgresql://postgres@127.0.0.1:5432/ \\
        .venv/bin/python bench/workers.py [--workers 1,2,4] [--leads 300]
        [--clients-per-worker 4] [--repeat 3] [--team 3] [--tenant NAME]
        [--proxy]

One tenant with an intake team of --team managers (new leads go to them
in turn, as in a real sales department), the most workers asked for
started once (the layout of deploy/README.md; no reverse proxy unless
--proxy: the load process spreads its requests round robin over the
workers' ports, so a Python proxy on the same cores is not measured).
A run of "N workers" sends its requests to the first N of them only (the
others stay idle); the runs of every N, intake and reference, are
interleaved round after round, so the load of a shared machine weighs on
all of them alike.  The load comes from a separate process with
N x --clients-per-worker threads, each request on a new connection (as
a reverse proxy without keep-alive to the workers):

* intake: `crm.intake.submit` over JSON-RPC, a new client each (match
  queries, the lead, its activity, the submission log, the team's turn);
* reference: a bare `party.party.create` over JSON-RPC (the framework's
  own cost of one small write request through the same workers).

It prints the medians over --repeat rounds, intake against the reference
and each against one worker, and where the CPU went per intake (ms in the
workers, in PostgreSQL's backends of the tenant, in the load process) with
the share of the machine other processes took meanwhile, and the
transactions PostgreSQL rolled back per run (serialization failures
retried, lock conflicts: 0 when nothing in intake serialises the
workers).  The CPU figures bound what the cores allow: N workers cannot
pass N x 1000/worker-ms requests per second, nor all together
cores x 1000/(sum of the three) ("ceiling").  The goal: 2 workers at
least 1.6x one worker; figures taken while other processes hold a good
share of the cores measure that share, not the workers.

Larger machines: the same run with one worker per core and a few more,
e.g. on 8 cores

    bench/workers.py --workers 1,2,4,8,12 --clients-per-worker 4

PostgreSQL's max_connections must exceed the workers' connections (each
trytond keeps [database] max_connections, 50 by default; lower it, e.g.
TRYTOND_DATABASE__MAX_CONNECTIONS=10 in the environment, or raise the
server's).  Beyond the cores, the figures flatten: that is the ceiling of
the machine, not of the workers.  On several hosts, run the load process
on another host than the workers (--proxy then points it at one address).
"""
import argparse
import itertools
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'tests'))

from scale_cluster import (  # noqa: E402
    CLUSTER_CONFIG, Cluster, RpcSession, start_proxy, stop_proxy)
from tenant_server import run_crm, tenant_env  # noqa: E402

PASSWORD = 'bench-workers-pass'
TICK = os.sysconf('SC_CLK_TCK')
# A sales team of the tenant: intake gives each new lead to the next one.
TEAM_SCRIPT = textwrap.dedent('''
    import sys
    from trytond.modules.crm_portal.cli import configure, load_pool
    configure()
    from trytond.transaction import Transaction
    name, size = sys.argv[1], int(sys.argv[2])
    pool = load_pool(name)
    with Transaction().start(name, 0) as transaction:
        admin, = pool.get('res.user').search([('login', '=', 'admin')])
        company = admin.company.id
        Member = pool.get('crm.intake.team.member')
        Employee = pool.get('company.employee')
        Party = pool.get('party.party')
        if not Member.search([('company', '=', company)]):
            parties = Party.create([{'name': f"Manager {i}",
                        'crm_kind': 'person'} for i in range(size)])
            employees = Employee.create([{'party': p.id,
                        'company': company} for p in parties])
            Member.create([{'company': company, 'employee': e.id}
                    for e in employees])
        transaction.commit()
    ''')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--workers', default='1,2,4')
    parser.add_argument('--leads', type=int, default=300,
        help="requests per run (default 300)")
    parser.add_argument('--clients-per-worker', type=int, default=4,
        help="concurrent requests per worker (default 4)")
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--team', type=int, default=3,
        help="managers in the intake team (default 3; 0: none)")
    parser.add_argument('--tenant', help="an existing tenant to use "
        f"(admin password {PASSWORD}); default: a new one")
    parser.add_argument('--proxy', action='store_true',
        help="go through the round-robin proxy of tests/scale_cluster.py")
    return parser.parse_args()


# -- the load process --

def load_process(connection, bases, name):
    "Serve ('intake' | 'create', bases used, count, clients, serial) runs"
    sessions = {b: RpcSession(b, name, 'admin', PASSWORD) for b in bases}
    status, body = sessions[bases[0]].call(
        'model.res.user.get_preferences', False)
    assert status == 200, body
    company = body['result']['company']
    context = {'company': company}
    run_id = uuid.uuid4().hex[:6]
    # Phones of this run: +7 495 xxx xx xx, new clients only.
    offset = int(run_id, 16) % 900 * 10000

    def intake(session, n):
        return session.call('model.crm.intake.submit', 'WEBFORM', {
                'name': f"Bench {run_id} {n}",
                'phone': f'+7495{offset + n:07d}',
                'email': f'bench{run_id}.{n}@example.com',
                'external_id': f'bench-{run_id}-{n}',
                }, company, context=context)

    def create(session, n):
        return session.call('model.party.party.create',
            [{'name': f"Reference {run_id} {n}"}], context=context)

    calls = {'intake': intake, 'create': create}
    while True:
        task = connection.recv()
        if task is None:
            return
        kind, used, count, clients, serial = task
        errors = []

        def one(i):
            status, body = calls[kind](sessions[used[i % len(used)]],
                serial + i)
            if status != 200 or 'error' in body:
                errors.append(body)

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=clients) as executor:
            list(executor.map(one, range(count)))
        connection.send((time.perf_counter() - started, errors[:2],
                len(errors)))


# -- CPU accounting (Linux /proc) --

def cpu_seconds(pid):
    try:
        with open(f'/proc/{pid}/stat') as file:
            fields = file.read().rsplit(')', 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def machine_seconds():
    "(busy, total) CPU seconds of the machine so far"
    with open('/proc/stat') as file:
        values = [int(v) for v in file.readline().split()[1:8]]
    idle = values[3] + values[4]
    return (sum(values) - idle) / TICK, sum(values) / TICK


def _server(query, name):
    import psycopg
    uri = os.environ['TRYTOND_DATABASE__URI'].rstrip('/') + '/postgres'
    with psycopg.connect(uri, autocommit=True) as connection:
        return connection.execute(query, (name,)).fetchall()


def backends(name):
    "The PostgreSQL backends serving database name"
    return [r[0] for r in _server(
            'SELECT pid FROM pg_stat_activity WHERE datname = %s', name)]


def rollbacks(name):
    "Transactions of database name rolled back so far (retries, errors)"
    # The statistics reach the view within a moment: let them settle.
    time.sleep(0.7)
    return _server('SELECT xact_rollback FROM pg_stat_database '
        'WHERE datname = %s', name)[0][0]


class Sample:
    "CPU seconds of the workers, the backends, the load, the machine"

    def __init__(self, workers, load, name):
        self.groups = {'workers': workers, 'load': [load],
            'postgresql': backends(name)}
        self.rollbacks = rollbacks(name)
        self.values = self._read()

    def _read(self):
        values = {k: sum(cpu_seconds(p) for p in pids)
            for k, pids in self.groups.items()}
        values['busy'], values['total'] = machine_seconds()
        return values

    def since(self, name):
        now = self._read()
        values = {k: now[k] - v for k, v in self.values.items()}
        values['rollbacks'] = rollbacks(name) - self.rollbacks
        return values


# -- the runs --

def main():
    args = parse_args()
    if not os.environ.get('TRYTOND_DATABASE__URI', '').startswith(
            'postgresql'):
        raise SystemExit("set TRYTOND_DATABASE__URI=postgresql://... "
            "(the bench is about several processes on PostgreSQL)")
    counts = sorted({int(n) for n in args.workers.split(',')})
    with tempfile.TemporaryDirectory() as tmp, \
            tenant_env(Path(tmp), CLUSTER_CONFIG, password=PASSWORD) as (
                env, _):
        name = args.tenant or f'bench_workers_{uuid.uuid4().hex[:6]}'
        if not args.tenant:
            print(f"creating tenant {name}...", file=sys.stderr)
            run_crm(env, 'tenant', 'create', name)
        try:
            if args.team:
                subprocess.run([sys.executable, '-c', TEAM_SCRIPT, name,
                        str(args.team)], env=env, check=True, timeout=600)
            rows = run(args, env, name, counts)
        finally:
            if not args.tenant:
                subprocess.run([sys.executable, '-c',
                        'import sys\n'
                        'from trytond.modules.crm_portal.cli import '
                        'configure, drop_database\n'
                        'configure()\ndrop_database(sys.argv[1])\n', name],
                    env=env, timeout=120)
    report(args, rows)


def run(args, env, name, counts):
    results = {(n, k): [] for n in counts for k in ['intake', 'create']}
    cpu = {n: [] for n in counts}
    serial = itertools.count(step=max(args.leads, 10 * max(counts)))
    with Cluster(env, [name], web_workers=max(counts), cron=False,
            queue=False) as cluster:
        ports = cluster.proxy.ports
        proxies = {}
        if args.proxy:
            proxies = {n: start_proxy(ports[:n]) for n in counts}
            bases = {n: [proxies[n][1]] for n in counts}
        else:
            bases = {n: [f'http://127.0.0.1:{p}' for p in ports[:n]]
                for n in counts}
        workers = [p.pid for k, p in cluster.processes.items()
            if k.startswith('web')]
        parent, child = multiprocessing.get_context('spawn').Pipe()
        load = multiprocessing.get_context('spawn').Process(
            target=load_process,
            args=(child, sorted({b for v in bases.values() for b in v}),
                name))
        load.start()
        try:
            def measure(n, kind, count):
                clients = n * args.clients_per_worker
                parent.send((kind, bases[n], count, clients, next(serial)))
                elapsed, errors, failed = parent.recv()
                if failed:
                    raise SystemExit(f"{failed} failed requests: {errors}")
                return count / elapsed

            for n in counts:
                # Warm every worker up (pools, caches, connections).
                measure(n, 'intake', 10 * n)
                measure(n, 'create', 10 * n)
            for round_ in range(args.repeat):
                for n in counts:
                    sample = Sample(workers[:n], load.pid, name)
                    rate = measure(n, 'intake', args.leads)
                    cpu[n].append(sample.since(name))
                    results[n, 'intake'].append(rate)
                    results[n, 'create'].append(
                        measure(n, 'create', args.leads))
                    print(f"round {round_ + 1}, {n} workers: intake "
                        f"{rate:.1f}/s, reference "
                        f"{results[n, 'create'][-1]:.1f}/s",
                        file=sys.stderr)
        finally:
            parent.send(None)
            load.join(timeout=30)
            for proxy, _ in proxies.values():
                stop_proxy(proxy)
    return {n: (statistics.median(results[n, 'intake']),
            statistics.median(results[n, 'create']),
            _cpu_per_intake(cpu[n], args.leads)) for n in counts}


def _cpu_per_intake(samples, leads):
    "ms per intake of each group (medians) and the others' machine share"
    per = {k: statistics.median(s[k] for s in samples) * 1000 / leads
        for k in ['workers', 'postgresql', 'load']}
    ours = [s['workers'] + s['postgresql'] + s['load'] for s in samples]
    per['rollbacks'] = statistics.median(s['rollbacks'] for s in samples)
    per['others'] = statistics.median(
        max(0.0, s['busy'] - o) / s['total'] for s, o in zip(samples, ours))
    return per


def report(args, rows):
    base = min(rows)
    intake_1, bare_1, _ = rows[base]
    cores = os.cpu_count()
    print(f"Lead intake throughput on PostgreSQL, {cores} cores, "
        f"{args.leads} requests x {args.repeat} rounds (medians), "
        f"{args.clients_per_worker} clients per worker, intake team of "
        f"{args.team}, "
        + ("through the proxy" if args.proxy else "client-side round robin"))
    print()
    header = ("workers", "intake/s", "bare create/s", "intake/bare",
        f"intake vs {base}w", f"bare vs {base}w",
        "CPU ms/intake: workers+pg+load", "ceiling/s", "rollbacks",
        "others' CPU")
    print(' | '.join(header))
    print(' | '.join('-' * len(h) for h in header))
    for workers, (intake, bare, cpu) in sorted(rows.items()):
        total = cpu['workers'] + cpu['postgresql'] + cpu['load']
        ceiling = min(workers * 1000 / cpu['workers'],
            cores * 1000 / total) if total else 0
        cells = [f"{workers}", f"{intake:.1f}", f"{bare:.1f}",
            f"{intake / bare:.2f}", f"{intake / intake_1:.2f}x",
            f"{bare / bare_1:.2f}x",
            f"{cpu['workers']:.1f}+{cpu['postgresql']:.1f}"
            f"+{cpu['load']:.1f}", f"{ceiling:.0f}",
            f"{cpu['rollbacks']:.0f}", f"{cpu['others']:.0%}"]
        print(' | '.join(c.rjust(len(h)) for c, h in zip(cells, header)))
    if 2 in rows and base == 1:
        ratio = rows[2][0] / rows[1][0]
        print()
        print(f"goal: 2 workers >= 1.6x one worker: {ratio:.2f}x "
            + ("(met)" if ratio >= 1.6 else "(not met)"))


if __name__ == '__main__':
    main()
