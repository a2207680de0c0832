"""Lead intake throughput with 1, 2 and 4 trytond web workers on PostgreSQL.

    TRYTOND_DATABASE__URI=postgresql://postgres@127.0.0.1:5432/ \\
        .venv/bin/python bench/workers.py [--workers 1,2,4] [--leads 300]
        [--clients 8] [--repeat 3] [--tenant NAME] [--proxy]

Each run starts N `trytond` web workers on one tenant (the layout of
deploy/README.md, without the reverse proxy unless --proxy: the clients
spread their requests round robin over the workers' ports, so a Python
proxy on the same cores is not what is measured), then sends, from
--clients threads:

* intake: `crm.intake.submit` over JSON-RPC, a new client each (a lead,
  its activity, the submission log, the match queries);
* reference: a bare `party.party.create` over JSON-RPC (the framework's
  own cost of one small write request through the same workers).

It prints the medians over --repeat runs, intake against the reference,
and each against one worker. The goal: 2 workers at least 1.6x one.
On a machine with more cores, run the same with --workers 1,2,4,8
--clients 32 (clients about 4 per worker; PostgreSQL max_connections must
exceed workers x threads).
"""
import argparse
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'tests'))

from scale_cluster import (  # noqa: E402
    CLUSTER_CONFIG, Cluster, RpcSession)
from tenant_server import run_crm, tenant_env  # noqa: E402

PASSWORD = 'bench-workers-pass'


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--workers', default='1,2,4')
    parser.add_argument('--leads', type=int, default=300,
        help="inquiries per run (default 300)")
    parser.add_argument('--clients', type=int, default=8,
        help="concurrent client threads (default 8)")
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--tenant', help="an existing tenant to use "
        f"(admin password {PASSWORD}); default: a new one")
    parser.add_argument('--proxy', action='store_true',
        help="go through the round-robin proxy of tests/scale_cluster.py")
    return parser.parse_args()


class Balancer:
    "Client-side round robin over the workers, one session per worker"

    def __init__(self, cluster, name, proxy):
        if proxy:
            bases = [cluster.base]
        else:
            bases = [f'http://127.0.0.1:{p}' for p in cluster.proxy.ports]
        self.sessions = [RpcSession(b, name, 'admin', PASSWORD)
            for b in bases]
        self._cycle = itertools.cycle(self.sessions)
        self._lock = threading.Lock()

    def session(self):
        with self._lock:
            return next(self._cycle)


def company_of(session):
    status, body = session.call('model.res.user.get_preferences', False)
    assert status == 200, body
    return body['result']['company']


def measure(balancer, count, clients, call):
    "Requests per second for count calls of call(session, i)"
    errors = []

    def one(i):
        status, body = call(balancer.session(), i)
        if status != 200 or 'error' in body:
            errors.append(body)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as executor:
        list(executor.map(one, range(count)))
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"{len(errors)} failed requests: {errors[:2]}")
    return count / elapsed


def main():
    args = parse_args()
    if not os.environ.get('TRYTOND_DATABASE__URI', '').startswith(
            'postgresql'):
        raise SystemExit("set TRYTOND_DATABASE__URI=postgresql://... "
            "(the bench is about several processes on PostgreSQL)")
    counts = [int(n) for n in args.workers.split(',')]
    with tempfile.TemporaryDirectory() as tmp, \
            tenant_env(Path(tmp), CLUSTER_CONFIG, password=PASSWORD) as (
                env, _):
        name = args.tenant or f'bench_workers_{uuid.uuid4().hex[:6]}'
        if not args.tenant:
            print(f"creating tenant {name}...", file=sys.stderr)
            run_crm(env, 'tenant', 'create', name)
        try:
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
    rows = {}
    run_id = uuid.uuid4().hex[:6]
    serial = itertools.count()
    # Phones of this run: +7 495 xxx xx xx, new clients only.
    offset = int(run_id, 16) % 900 * 10000
    for workers in counts:
        intake, bare = [], []
        with Cluster(env, [name], web_workers=workers, cron=False,
                queue=False) as cluster:
            balancer = Balancer(cluster, name, args.proxy)
            company = company_of(balancer.sessions[0])

            def submit(session, i):
                n = next(serial)
                return session.call('model.crm.intake.submit', 'WEBFORM', {
                        'name': f"Bench {run_id} {n}",
                        'phone': f'+7495{offset + n:07d}',
                        'email': f'bench{run_id}.{n}@example.com',
                        'external_id': f'bench-{run_id}-{n}',
                        }, company, context={'company': company})

            def create(session, i):
                n = next(serial)
                return session.call('model.party.party.create',
                    [{'name': f"Reference {run_id} {n}"}],
                    context={'company': company})

            # Warm up every worker (pools, caches, connections).
            measure(balancer, 10 * workers, args.clients, submit)
            measure(balancer, 10 * workers, args.clients, create)
            for _ in range(args.repeat):
                intake.append(measure(
                        balancer, args.leads, args.clients, submit))
                bare.append(measure(
                        balancer, args.leads, args.clients, create))
        rows[workers] = (statistics.median(intake), statistics.median(bare))
        print(f"{workers} workers: intake {rows[workers][0]:.1f}/s, "
            f"reference {rows[workers][1]:.1f}/s", file=sys.stderr)
    return rows


def report(args, rows):
    base = min(rows)
    intake_1, bare_1 = rows[base]
    print(f"Lead intake throughput on PostgreSQL, {os.cpu_count()} cores, "
        f"{args.leads} inquiries x {args.repeat} runs (medians), "
        f"{args.clients} clients, "
        + ("through the proxy" if args.proxy else "client-side round robin"))
    print()
    header = ("workers", "intake/s", "bare create/s", "intake/bare",
        f"intake vs {base}w", f"bare vs {base}w")
    print(' | '.join(header))
    print(' | '.join('-' * len(h) for h in header))
    for workers, (intake, bare) in sorted(rows.items()):
        print(' | '.join([
                    f"{workers}".rjust(len(header[0])),
                    f"{intake:.1f}".rjust(len(header[1])),
                    f"{bare:.1f}".rjust(len(header[2])),
                    f"{intake / bare:.2f}".rjust(len(header[3])),
                    f"{intake / intake_1:.2f}x".rjust(len(header[4])),
                    f"{bare / bare_1:.2f}x".rjust(len(header[5])),
                    ]))
    if 2 in rows and base == 1:
        ratio = rows[2][0] / rows[1][0]
        print()
        print(f"goal: 2 workers >= 1.6x one worker: {ratio:.2f}x "
            + ("(met)" if ratio >= 1.6 else "(not met)"))


if __name__ == '__main__':
    main()
