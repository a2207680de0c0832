#!/usr/bin/env python3
"""Published pages and web forms, as ratios against references.

1. Cached page render: GET of a published page (template "services", HTML
   read from the published version, form tokens filled, headers) against
   GET of a static file of the same size from the same trytond (its [web]
   root).  Goal: within 2x.  A real trytond on a free loopback port, one
   new connection a request for both, requests interleaved in rounds.
2. Form submission: what the form route does in its transaction,
   `crm.site.form.submission.post` (form look-up, origin, rate slot per
   address, field validation, spam checks, submission record, intake,
   links back) against a bare `crm.intake.submit` handed the same data
   the form hands it.  Goal: within 1.3x.  In process, each call in its
   own committed transaction as the public user, as the route runs it,
   one call of each in turn (--rounds is for the pages).

SQLite by default (PostgreSQL when TRYTOND_DATABASE__URI is set).  Prints
medians and ratios (DESIGN.md §10).
Usage: bench/sites.py [--only pages|forms] [--requests N]
       [--submissions N] [--rounds R]
"""
import argparse
import contextlib
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'tests'))

os.environ.setdefault('DB_NAME', ':memory:'
    if not os.environ.get('TRYTOND_DATABASE__URI', '').startswith(
        'postgresql') else 'bench_sites_%d' % os.getpid())


def get(port, path):
    connection = http.client.HTTPConnection('127.0.0.1', port, timeout=60)
    connection.request('GET', path)
    response = connection.getresponse()
    body = response.read()
    connection.close()
    assert response.status == 200, (path, response.status)
    return body


@contextlib.contextmanager
def serve(env, port, name, ready_path):
    "trytond for name, its log discarded (a full pipe would stall it)"
    from tenant_server import TRYTOND, wait_for
    process = subprocess.Popen(
        [TRYTOND, '-c', env['TRYTOND_CONFIG'], '-d', name], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f'http://127.0.0.1:{port}'
    try:
        wait_for(base + ready_path, process)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def bench_pages(requests, rounds):
    from tenant_server import (
        drop_tenant, run_crm, tenant_env, tenant_name)
    from test_sites_web import PASSWORD, Rpc
    tmp = Path(tempfile.mkdtemp(prefix='bench_sites_'))
    static = tmp / 'static'
    static.mkdir()
    (static / 'static.html').write_text('x')
    with tenant_env(tmp, password=PASSWORD) as (env, port):
        # the [web] root of this server is the static folder
        conf = Path(env['TRYTOND_CONFIG'])
        conf.write_text(conf.read_text().replace(
                f"root = {ROOT / 'sao'}", f"root = {static}"))
        name = tenant_name('benchsites')
        try:
            run_crm(env, 'tenant', 'create', name, '--features',
                'portal,sites')
            with serve(env, port, name, '/static.html') as base:
                rpc = Rpc(base, name)
                site = rpc.create_site('services', 'Bench', 'bench')
                rpc('model.crm.site.page.publish', [site['home']])
                page_path = f'/{name}/sites/bench/'
                html = get(port, page_path)
                (static / 'static.html').write_bytes(b'x' * len(html))
                get(port, '/static.html')
                times = {'page': [], 'static': []}
                per_round = max(requests // rounds, 1)
                for _ in range(rounds):
                    for key, path in [('page', page_path),
                            ('static', '/static.html')]:
                        start = time.perf_counter()
                        for _ in range(per_round):
                            get(port, path)
                        times[key].append(
                            (time.perf_counter() - start) / per_round)
                return len(html), per_round * rounds, times
        finally:
            drop_tenant(env, name)


def bench_forms(submissions):
    from benchtools import phone
    from trytond.modules.company.tests import create_company, set_company
    from trytond.modules.crm_sites.serve import public_user
    from trytond.modules.crm_sites.submission import fill_token
    from trytond.pool import Pool
    from trytond.tests.test_tryton import DB_NAME, activate_module, drop_db
    from trytond.transaction import Transaction

    drop_db()
    activate_module(['crm_sites'])
    with Transaction().start(DB_NAME, 0) as transaction:
        pool = Pool()
        company = create_company()
        with set_company(company):
            Create = pool.get('crm.site.create', type='wizard')
            site = Create.build('services', 'Bench', 'bench', 'en',
                company.id)
            # the template's form as it is: consent, 3 s fill time,
            # 20 posts an hour per address (each post has its own)
            form, = [b.form for b in site.home.blocks if b.form]
            ids = company.id, form.uuid, site.home.id
            user = public_user()
        transaction.commit()
    company_id, uuid, page_id = ids
    counter = iter(range(10 ** 7))

    @contextlib.contextmanager
    def public(context):
        "A committed transaction as the routes run it: the public user"
        with Transaction().start(DB_NAME, 0) as transaction, \
                transaction.set_user(user), \
                transaction.set_context(language='en', **context):
            yield Pool()
            transaction.commit()

    def visitor(kind):
        n = next(counter)
        return n, {'name': f'{kind} {n}', 'phone': phone(n),
            'email': f'{kind.lower()}{n}@example.com', 'message': 'Hello',
            'utm_source': 'bench', 'utm_campaign': 'spring'}

    def post():
        "What the form route does in its transaction (HTTP aside)"
        n, values = visitor('Form')
        with public({}) as pool:
            Form = pool.get('crm.site.form')
            values.update(_consent='1', _page=str(page_id),
                _t=fill_token(Form.spec(uuid), time.time() - 60))
            pool.get('crm.site.form.submission').post(uuid, values,
                {'page': page_id, 'visitor': '%032x' % n,
                    'first_visit': '2026-01-01T00:00:00Z',
                    'referrer': 'https://ya.ru/'},
                address='10.%d.%d.%d' % (n >> 16, (n >> 8) & 255, n & 255))

    # The reference is handed what the form hands intake (the same extra
    # lines for the timeline, the same origin): the same intake work.
    handed = {}
    Intake = Pool(DB_NAME).get('crm.intake')
    submit = Intake.submit

    def spy(channel, data, company=None):
        handed.update(data)
        return submit(channel, data, company)
    Intake.submit = spy
    try:
        post()
    finally:
        del Intake.submit
    assert handed and Intake.submit == submit

    def intake():
        _, values = visitor('Intake')
        with public({'company': company_id}) as pool:
            pool.get('crm.intake').submit('WEBFORM', dict(handed, **values),
                company_id)

    post(), intake()  # warm the caches
    # one call of each in turn: on a shared machine the load changes
    # within seconds, the median of single calls stays put
    times = {'form': [], 'intake': []}
    for _ in range(submissions):
        for key, func in [('form', post), ('intake', intake)]:
            start = time.perf_counter()
            func()
            times[key].append(time.perf_counter() - start)
    with public({}) as pool:
        # every post made its lead (none refused as spam or rate limited)
        Submission = pool.get('crm.site.form.submission')
        made = Submission.search_count([('opportunity', '!=', None)])
        assert made == submissions + 2, made
    drop_db()
    return submissions, times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--requests', type=int, default=2000)
    parser.add_argument('--submissions', type=int, default=500)
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--only', choices=['pages', 'forms'])
    args = parser.parse_args()
    if args.only != 'forms':
        print_pages(args)
    if args.only != 'pages':
        print_forms(args)


def print_pages(args):
    size, count, pages = bench_pages(args.requests, args.rounds)
    page = statistics.median(pages['page'])
    static = statistics.median(pages['static'])
    print(f"Page of {size} bytes, {count} requests each, "
        f"{args.rounds} rounds (median of rounds)")
    print(f"{'what':<40}{'ms/request':>12}{'req/s':>10}")
    print(f"{'static file, same size (reference)':<40}"
        f"{static * 1000:>12.2f}{1 / static:>10.0f}")
    print(f"{'cached published page':<40}"
        f"{page * 1000:>12.2f}{1 / page:>10.0f}")
    print(f"{'ratio page / static (goal <= 2.0)':<40}{page / static:>12.2f}")
    print()


def print_forms(args):
    count, forms = bench_forms(args.submissions)
    form = statistics.median(forms['form'])
    intake = statistics.median(forms['intake'])
    print(f"{count} submissions each, one of each in turn "
        "(median of calls)")
    print(f"{'what':<40}{'ms/submission':>14}")
    print(f"{'bare crm.intake.submit (reference)':<40}{intake * 1000:>14.2f}")
    print(f"{'web form submission':<40}{form * 1000:>14.2f}")
    print(f"{'ratio form / intake (goal <= 1.3)':<40}{form / intake:>14.2f}")


if __name__ == '__main__':
    main()
