"""Scale-out on PostgreSQL: two trytond web workers behind a round-robin
proxy, one trytond-cron and one trytond-worker, two tenants.

* 200 concurrent inquiries from the same client (the intake RPC, as the
  web forms use it) and REST lead additions with the same phone number,
  spread over both workers: exactly one contact, every inquiry logged and
  on the timeline, every REST lead created.
* A feature (telephony) switched off in one tenant while the other tenant
  is under load: every worker stops serving it in that tenant, the other
  tenant does not notice, and switching it on again brings its records
  back.
* The cron process runs the jobs of both tenants.

It is about PostgreSQL (several processes on one database); on SQLite it
is skipped with that reason and CI runs it on PostgreSQL.
"""
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from scale_cluster import CLUSTER_CONFIG, Cluster, RpcSession, post_json
from tenant_server import (
    CRM, POSTGRESQL, drop_tenant, run_crm, tenant_env, tenant_name)

pytestmark = pytest.mark.skipif(not POSTGRESQL, reason=(
        "needs PostgreSQL: several processes on one database "
        "(set TRYTOND_DATABASE__URI=postgresql://...)"))

PASSWORD = 'scale-test-pass'
PHONE_E164 = '+79123456789'
PHONES = ['+7 912 345-67-89', '8 (912) 345-67-89', '+79123456789',
    '8-912-345-6789']
FORMS = 200
REST_LEADS = 50
FEATURE = 'telephony'
# A tenant with portal and telephony (admin password PASSWORD) to copy
# instead of creating one: saves minutes on a busy machine.
TEMPLATE = os.environ.get('CRM_SCALE_TEMPLATE')

SCRIPT = textwrap.dedent('''
    import datetime, json, sys
    from trytond.modules.crm_portal.cli import configure, load_pool
    configure()
    from trytond.transaction import Transaction
    action, name = sys.argv[1], sys.argv[2]
    if action == 'copy':
        # PostgreSQL copies a database fast, without creating it anew.
        from trytond import backend
        database = backend.Database()
        database.connect()
        connection = database.get_connection(autocommit=True)
        with connection.cursor() as cursor:
            cursor.execute('CREATE DATABASE "%s" TEMPLATE "%s"'
                % (sys.argv[3], name))
        database.put_connection(connection)
        print(json.dumps(True))
        sys.exit()
    from trytond.transaction import TransactionError
    pool = load_pool(name)
    extras = {}
    while action == 'setup':
        with Transaction().start(name, 0, **extras) as transaction:
            User = pool.get('res.user')
            admin, = User.search([('login', '=', 'admin')])
            company = admin.company.id
            Country = pool.get('country.country')
            Configuration = pool.get('crm.configuration')
            Cron = pool.get('ir.cron')
            try:
                russia = (Country.search([('code', '=', 'RU')])
                    or Country.create([{'name': 'Russia', 'code': 'RU'}]))
                with transaction.set_context(company=company):
                    configuration = Configuration(1)
                    configuration.simple_mode = True
                    configuration.phone_region = russia[0]
                    configuration.save()
                # Due now: the cron process runs them when it starts.
                Cron.write(Cron.search([]), {'next_call':
                        datetime.datetime.now() - datetime.timedelta(hours=1)})
            except TransactionError as exception:
                transaction.rollback()
                exception.fix(extras)
                continue
            transaction.commit()
            print(json.dumps({'company': company}))
            sys.exit()
    with Transaction().start(name, 0) as transaction:
        cursor = transaction.connection.cursor()
        if action == 'count':
            phone = sys.argv[3]
            result = {}
            cursor.execute('SELECT COUNT(DISTINCT m.party) FROM '
                'party_contact_mechanism m JOIN party_party p '
                'ON p.id = m.party WHERE m.value_compact = %s '
                'AND m.active AND p.active', (phone,))
            result['contacts'], = cursor.fetchone()
            cursor.execute('SELECT crm_type, COUNT(*) FROM sale_opportunity '
                'WHERE contact_phone_e164 = %s GROUP BY crm_type', (phone,))
            result['opportunities'] = dict(cursor.fetchall())
            cursor.execute('SELECT outcome, COUNT(*) FROM '
                'crm_intake_submission WHERE channel = %s GROUP BY outcome',
                ('WEBFORM',))
            result['submissions'] = dict(cursor.fetchall())
            cursor.execute("SELECT COUNT(*) FROM crm_activity "
                "WHERE type = 'form'")
            result['form_activities'], = cursor.fetchone()
            cursor.execute('SELECT COUNT(*) FROM ir_cron_log')
            result['cron_logs'], = cursor.fetchone()
            print(json.dumps(result))
    ''')


def script(env, *args):
    result = subprocess.run([sys.executable, '-c', SCRIPT, *map(str, args)],
        env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def until(check, timeout=90):
    "Poll check() until it is true (the awaited event is in another process)"
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


@pytest.fixture(scope='module')
def cluster(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('crm_scale')
    # The REST clients of this test are not the ones the limit is for.
    limits = '''
        [crm_rest]
        rate = 1000
        burst = 100000
        '''
    config = textwrap.dedent(CLUSTER_CONFIG) + textwrap.dedent(limits)
    with tenant_env(tmp, config, password=PASSWORD) as (env, port):
        names = [tenant_name('scale_a'), tenant_name('scale_b')]
        try:
            if TEMPLATE:
                script(env, 'copy', TEMPLATE, names[0])
            else:
                run_crm(env, 'tenant', 'create', names[0], '--features',
                    f'portal,{FEATURE}')
            script(env, 'copy', names[0], names[1])
            company = script(env, 'setup', names[0])['company']
            script(env, 'setup', names[1])
            rest = {name: run_crm(env, 'webhook', 'create', name,
                    '--user', 'admin', '--scope', 'crm,telephony')
                for name in names}
            with Cluster(env, names) as running:
                # The webhook URLs name [web] listen: go through the proxy.
                rest = {n: running.base + u.split(str(port), 1)[1]
                    for n, u in rest.items()}
                yield {'cluster': running, 'env': env, 'a': names[0],
                    'b': names[1], 'company': company,
                    'rest': rest[names[0]], 'rest_b': rest[names[1]]}
        finally:
            for name in names:
                drop_tenant(env, name)


def test_same_phone_from_many_workers_makes_one_contact(cluster):
    base, name = cluster['cluster'].base, cluster['a']
    session = RpcSession(base, name, 'admin', PASSWORD)

    def form(i):
        return session.call('model.crm.intake.submit', 'WEBFORM', {
                'name': f"Visitor {i}",
                'phone': PHONES[i % len(PHONES)],
                'message': f"Request {i}",
                'external_id': f'form-{i}',
                }, cluster['company'])

    def rest(i):
        return post_json(cluster['rest'] + 'crm.lead.add.json', {'fields': {
                    'TITLE': f"Call back {i}",
                    'PHONE': [{'VALUE': PHONES[i % len(PHONES)],
                            'VALUE_TYPE': 'WORK'}],
                    }})

    with ThreadPoolExecutor(max_workers=12) as executor:
        forms = [executor.submit(form, i) for i in range(FORMS)]
        leads = [executor.submit(rest, i) for i in range(REST_LEADS)]
        form_results = [f.result() for f in forms]
        lead_results = [f.result() for f in leads]

    failed = [r for r in form_results + lead_results
        if r[0] != 200 or 'error' in r[1]]
    assert not failed, failed[:3]
    created = [body['result'] for _, body in form_results
        if body['result']['created']]
    assert len(created) == 1
    assert len({body['result']['party'] for _, body in form_results}) == 1
    assert all(isinstance(body['result'], int) for _, body in lead_results)
    # Both workers took their share.
    assert all(cluster['cluster'].proxy.counts.values())

    counts = script(cluster['env'], 'count', name, PHONE_E164)
    assert counts['contacts'] == 1
    assert counts['opportunities'] == {'deal': 1, 'lead': REST_LEADS}
    assert counts['submissions'] == {'created': 1, 'attached': FORMS - 1}
    assert counts['form_activities'] == FORMS

    # A retried form (same external id) changes nothing.
    status, body = form(7)
    assert status == 200 and body['result']['duplicate_submission']
    assert script(cluster['env'], 'count', name, PHONE_E164)[
        'form_activities'] == FORMS


def test_cron_process_runs_jobs_of_both_tenants(cluster):
    env = cluster['env']
    for name in [cluster['a'], cluster['b']]:
        assert until(lambda: script(env, 'count', name, PHONE_E164)[
                'cron_logs'] > 0), cluster['cluster'].log('cron')
    assert cluster['cluster'].processes['cron'].poll() is None


def test_feature_off_in_one_tenant_under_load_of_the_other(cluster):
    base, a, b = cluster['cluster'].base, cluster['a'], cluster['b']
    rest_a, rest_b = cluster['rest'], cluster['rest_b']
    env = cluster['env']
    session_a = RpcSession(base, a, 'admin', PASSWORD)
    status, body = post_json(rest_b + 'telephony.externalline.add.json',
        {'NUMBER': '74950001122', 'NAME': "Kept line"})
    assert status == 200, body

    def lines(url):
        "The tenant's lines, None when telephony is absent there"
        status, body = post_json(url + 'telephony.externalline.get.json', {})
        if body.get('error') == 'ERROR_METHOD_NOT_FOUND':
            return None
        assert status == 200, body
        return sorted((l['NUMBER'], l['NAME']) for l in body['result'])

    def every_worker(check):
        # Round robin: consecutive calls reach each worker in turn.
        return all(check() for _ in range(2 * cluster['cluster'].web_workers))

    kept = lines(rest_b)
    assert ('74950001122', "Kept line") in kept
    results, stop = [], threading.Event()

    def load():
        # Tenant A works on while B changes: inquiries and telephony.
        while not stop.is_set() and len(results) < 300:
            results.append((session_a.call('model.crm.intake.submit',
                        'WEBFORM', {'name': "Load", 'phone': '+79990001122',
                            'external_id': f'load-{len(results)}'},
                        cluster['company']), lines(rest_a) is not None))

    thread = threading.Thread(target=load)
    thread.start()
    try:
        result = subprocess.run([CRM, 'tenant', 'features', b, '--disable',
                FEATURE], env=env, capture_output=True, text=True,
            timeout=600)
        assert result.returncode == 0, result.stderr
        assert until(lambda: every_worker(lambda: lines(rest_b) is None))
    finally:
        stop.set()
        thread.join()
    assert results
    assert all(status == 200 and 'result' in body and telephony
        for (status, body), telephony in results), results[:3]
    assert every_worker(lambda: lines(rest_a) is not None)

    result = subprocess.run([CRM, 'tenant', 'features', b, '--enable',
            FEATURE], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert until(lambda: every_worker(lambda: lines(rest_b) == kept))
