"""Scale-out on PostgreSQL: two trytond web workers behind a round-robin
proxy, one trytond-cron and one trytond-worker, two tenants with the
sites and 1C exchange features.

* 200 concurrent posts of a crm_sites web form (the JSON its embed script
  sends, each visitor from an address of its own) from the same client,
  and REST lead additions with the same phone number, spread over both
  workers: exactly one contact, every post logged by the form and on the
  timeline, every REST lead created; new clients posting meanwhile get
  their deals from the intake team in turn.
* The queue worker killed (SIGKILL) in the middle of a 1C catalog import:
  the database holds whole batches only, the import completes after the
  worker is started again, every good exists once.
* A feature (telephony) switched off in one tenant while the other tenant
  takes form posts: every worker stops serving it in that tenant, the
  other tenant does not notice, and switching it on again brings its
  records back.
* The cron process runs the jobs of both tenants.

It is about PostgreSQL (several processes on one database); on SQLite it
is skipped with that reason and CI runs it on PostgreSQL.
"""
import json
import subprocess
import textwrap
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from scale_cluster import CLUSTER_CONFIG, Cluster, post_json
from scale_tenant import (
    copy_database, counts, drop_database, rows, setup_tenant)
from tenant_server import (
    CRM, POSTGRESQL, create_tenant, tenant_env, tenant_name)
from test_exchange_1c_http import Client1C, _goods_package

pytestmark = pytest.mark.skipif(not POSTGRESQL, reason=(
        "needs PostgreSQL: several processes on one database "
        "(set TRYTOND_DATABASE__URI=postgresql://...)"))

PASSWORD = 'scale-test-pass'
PHONE_E164 = '+79123456789'
PHONES = ['+7 912 345-67-89', '8 (912) 345-67-89', '+79123456789',
    '8-912-345-6789']
FORMS = 200
REST_LEADS = 50
# New clients posting among them: their deals go to the intake team.
NEW_CLIENTS = 40
NEW_PHONE = '+7 922 000-00-%02d'
FEATURE = 'telephony'
# The form's minimum fill time, lowered by the set-up as an admin may.
MIN_FILL = 1
# 1C's catalog: goods, and goods per batch (each batch one transaction).
GOODS = 400
BATCH = 20


def until(check, timeout=90, interval=0.2):
    "Poll check() until it is true (the awaited event is in another process)"
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def get_json(url):
    with urllib.request.urlopen(url, timeout=60) as response:
        return json.loads(response.read())


@pytest.fixture(scope='module')
def cluster(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('crm_scale')
    # The REST and 1C clients of this test are not the ones the limits
    # are for; a task left by a dead worker is taken again after 2 s.
    limits = '''
        [crm_rest]
        rate = 1000
        burst = 100000

        [crm_1c]
        rate = 1000
        burst = 1000
        '''
    config = textwrap.dedent(CLUSTER_CONFIG).replace(
        'worker = True', 'worker = True\ncrm_abandoned_after = 2'
        ) + textwrap.dedent(limits)
    with tenant_env(tmp, config, password=PASSWORD) as (env, port):
        names = [tenant_name('scale_a'), tenant_name('scale_b')]
        try:
            # every feature: the tenant the other tests copy
            create_tenant(env, names[0], '--features', 'all')
            made = setup_tenant(env, names[0], MIN_FILL, BATCH)
            copy_database(names[0], names[1])
            with Cluster(env, names) as running:
                rest = {n: f'{running.base}/{n}/{made["rest"]}'
                    for n in names}
                form = (f'{running.base}/{names[0]}/sites/_form/'
                    + made['form'])
                yield {'cluster': running, 'env': env, 'a': names[0],
                    'b': names[1], 'company': made['company'],
                    'form': form, 'rest': rest[names[0]],
                    'rest_b': rest[names[1]]}
        finally:
            for name in names:
                drop_database(name)


def visitors(form):
    """What the embed script does: read the form's token, let the visitor
    fill the form in, post it. Return post(i, values) -> (status, body)
    posting as visitor i, each from an address of its own (the form
    limits the posts per address)."""
    token = get_json(form + '.json')['token']
    time.sleep(max(0, int(token.split('.')[0]) + MIN_FILL + 1 - time.time()))

    def post(i, values):
        return post_json(form, {**values, '_t': token, '_consent': '1'},
            {'Accept': 'application/json'},
            source=f'127.0.{1 + i // 250}.{1 + i % 250}')
    return post


def test_same_phone_from_many_workers_makes_one_contact(cluster):
    name = cluster['a']
    post = visitors(cluster['form'])

    def form(i):
        return post(i, {
                'name': f"Visitor {i}",
                'phone': PHONES[i % len(PHONES)],
                'message': f"Request {i}",
                })

    def rest(i):
        return post_json(cluster['rest'] + 'crm.lead.add.json', {'fields': {
                    'TITLE': f"Call back {i}",
                    'PHONE': [{'VALUE': PHONES[i % len(PHONES)],
                            'VALUE_TYPE': 'WORK'}],
                    }})

    def new_client(i):
        return post(FORMS + i, {'name': f"New {i}",
                'phone': NEW_PHONE % i, 'message': "Hello"})

    with ThreadPoolExecutor(max_workers=12) as executor:
        forms = [executor.submit(form, i) for i in range(FORMS)]
        leads = [executor.submit(rest, i) for i in range(REST_LEADS)]
        forms += [executor.submit(new_client, i)
            for i in range(NEW_CLIENTS)]
        form_results = [f.result() for f in forms]
        lead_results = [f.result() for f in leads]

    failed = [r for r in form_results if r != (200, {'ok': True,
                'message': r[1].get('message'), 'redirect': None})]
    failed += [r for r in lead_results if r[0] != 200 or 'error' in r[1]]
    assert not failed, failed[:3]
    assert all(isinstance(body['result'], int) for _, body in lead_results)
    # Both workers took their share.
    assert all(cluster['cluster'].proxy.counts.values())

    held = counts(name, PHONE_E164)
    assert held['contacts'] == 1
    assert held['opportunities'] == {'deal': 1, 'lead': REST_LEADS}
    posts = FORMS + NEW_CLIENTS
    assert held['submissions'] == {
        'created': 1 + NEW_CLIENTS, 'attached': FORMS - 1}
    assert held['form_activities'] == posts
    # Each post is in the form's log, linked to its contact and deal.
    assert held['form_posts'] == {'posts': posts,
        'parties': 1 + NEW_CLIENTS, 'opportunities': 1 + NEW_CLIENTS,
        'activities': posts}
    # Every new client's deal went to a member of the team, both had a
    # share (concurrent turns neither wait for each other nor fail).
    shares = [count for member, count in held['new_clients']]
    assert 0 not in [m for m, _ in held['new_clients']]
    assert len(shares) == 2 and sum(shares) == NEW_CLIENTS, shares

    # The same post again (a double click) is logged by the form but adds
    # nothing to the timeline.
    assert form(7)[0] == 200
    held = counts(name, PHONE_E164)
    assert held['form_activities'] == posts
    assert held['form_posts']['posts'] == posts + 1


def test_cron_process_runs_jobs_of_both_tenants(cluster):
    for name in [cluster['a'], cluster['b']]:
        assert until(lambda: counts(name, PHONE_E164)[
                'cron_logs'] > 0), cluster['cluster'].log('cron')
    assert cluster['cluster'].processes['cron'].poll() is None


def import_state(name):
    "(state, phase, committed position) of the last catalog, goods there"
    files = rows(name, 'SELECT state, phase, position FROM '
        "crm_exchange_1c_file WHERE name = 'import.xml' "
        'ORDER BY id DESC LIMIT 1')
    goods, distinct = rows(name, 'SELECT COUNT(*), '
        'COUNT(DISTINCT exchange_1c_id) FROM product_template '
        "WHERE exchange_1c_id LIKE 'scale-%%'")[0]
    assert goods == distinct
    return (files[0] if files else None), goods


def test_queue_worker_killed_in_1c_import(cluster):
    "The batches committed stay whole; the import resumes and completes"
    running, name = cluster['cluster'], cluster['a']
    client = Client1C(f'{running.base}/{name}/crm_1c/exchange')
    client.checkauth('catalog')
    client.upload('catalog', 'import.xml', _goods_package('scale', GOODS))
    status, lines = client.lines(type='catalog', mode='import',
        filename='import.xml')
    assert (status, lines) == (200, ['progress'])

    def batch_committed():
        file = import_state(name)[0]
        return file and (file[0] == 'failed' or file[2] >= BATCH)

    # The queue worker dies (SIGKILL) once a batch is committed.
    assert until(batch_committed, timeout=120, interval=0.02), \
        running.log('queue')
    running.kill('queue')
    (state, phase, position), goods = import_state(name)
    assert (state, phase) == ('importing', 'goods'), running.log('queue')
    assert BATCH <= position < GOODS
    # Only whole batches: the goods are those of the committed position.
    assert position % BATCH == 0 and goods == position

    running.start_queue_worker()
    status, answers, lines = client.import_('import.xml')
    assert answers[-1] == 'success', lines
    # Every good exists once, each counted once by the session.
    (state, _, _), goods = import_state(name)
    assert (state, goods) == ('done', GOODS)
    created, = rows(name, 'SELECT s.created FROM crm_exchange_1c_session s '
        'JOIN crm_exchange_1c_file f ON f.session = s.id '
        "WHERE f.name = 'import.xml' ORDER BY f.id DESC LIMIT 1")[0]
    assert created == GOODS


def test_feature_off_in_one_tenant_under_load_of_the_other(cluster):
    b, env = cluster['b'], cluster['env']
    rest_a, rest_b = cluster['rest'], cluster['rest_b']
    post = visitors(cluster['form'])
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
        # Tenant A works on while B changes: web forms and telephony.
        while not stop.is_set() and len(results) < 300:
            results.append((post(len(results), {'name': "Load",
                            'phone': '+79990001122',
                            'message': f"Load {len(results)}"}),
                    lines(rest_a) is not None))

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
    assert all(status == 200 and body.get('ok') and telephony
        for (status, body), telephony in results), results[:3]
    assert every_worker(lambda: lines(rest_a) is not None)

    result = subprocess.run([CRM, 'tenant', 'features', b, '--enable',
            FEATURE], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert until(lambda: every_worker(lambda: lines(rest_b) == kept))
