"""The `crm` console script, run as integrators run it: a subprocess.

SQLite in a temporary folder by default; with TRYTOND_DATABASE__URI set to
postgresql://... the tenants get unique names and are dropped at the end.
"""
import json
import os
import re
import subprocess
import sys
import textwrap
import uuid
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from trytond.modules.crm_portal.features import installed_features

BIN = Path(sys.executable).parent
CRM = str(BIN / 'crm')
POSTGRESQL = os.environ.get(
    'TRYTOND_DATABASE__URI', '').startswith('postgresql')
LISTEN = '127.0.0.1:8765'

# Opens a tenant in a fresh process (the test process keeps its own
# trytond configuration) and prints what the tests look at as JSON.
PEEK = textwrap.dedent('''
    import datetime, json, sys
    from trytond.modules.crm_portal.cli import configure, load_pool
    configure()
    from trytond.transaction import Transaction
    name, user_id, token = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    pool = load_pool(name)
    result = {}
    with Transaction().start(name, 0, readonly=True) as transaction:
        User = pool.get('res.user')
        Opportunity = pool.get('sale.opportunity')
        Activity = pool.get('crm.activity')
        Pipeline = pool.get('crm.pipeline')
        Party = pool.get('party.party')
        Token = pool.get('crm.webhook.token')
        admin, = User.search([('login', '=', 'admin')])
        with transaction.set_context(company=admin.company.id):
            deals = Opportunity.search([('crm_type', '=', 'deal')])
            activities = Activity.search([])
            result.update({
                'company': admin.company.rec_name,
                'currency': admin.company.currency.code,
                'admin_employee': bool(admin.employee),
                'leads': Opportunity.search_count([('crm_type', '=', 'lead')]),
                'lead_statuses': sorted({l.lead_status.code
                        for l in Opportunity.search(
                            [('crm_type', '=', 'lead')])}),
                'utm_leads': Opportunity.search_count([
                        ('crm_type', '=', 'lead'),
                        ('utm_source', '!=', None)]),
                'deals': len(deals),
                'pipelines': sorted({d.pipeline.name for d in deals}),
                'won': sum(d.state == 'won' for d in deals),
                'lost': sum(d.state == 'lost' for d in deals),
                'lost_without_reason': sum(d.state == 'lost'
                    and not d.lost_reason for d in deals),
                'deal_lines': sum(len(d.lines) for d in deals),
                'activities': len(activities),
                'statuses': sorted({a.status for a in activities}),
                'today_for_admin': sum(a.status == 'today'
                    and a.responsible == admin.employee
                    for a in activities),
                'companies': Party.search_count(
                    [('crm_kind', '=', 'organisation')]),
                'contacts': Party.search_count([('employer', '!=', None)]),
                'crm_users': User.search_count([
                        ('login', '!=', 'admin'),
                        ('groups.name', '=', 'CRM User')]),
                })
        if user_id:
            tokens = Token.search([('user', '=', user_id)])
            found = Token.check(user_id, token)
            result.update({
                'hashes': [t.token_hash for t in tokens],
                'prefixes': [t.prefix for t in tokens],
                'check': found.id if found else None,
                'check_wrong': bool(Token.check(user_id, token[:-1] + (
                            'A' if token[-1] != 'A' else 'B'))),
                'check_other_user': bool(Token.check(user_id + 1, token)),
                })
        # What each user sees through the access rules, as in the client.
        from trytond.transaction import check_access
        result['visible'] = {}
        for login in ['admin', 'd.kuznetsov', 'o.novikova']:
            user, = User.search([('login', '=', login)])
            with transaction.set_user(user.id), check_access():
                result['visible'][login] = sorted(
                    t.user.login for t in Token.search([]))
    print(json.dumps(result))
    ''')


def run(env, *args):
    return subprocess.run(
        [CRM, *args], env=env, capture_output=True, text=True, timeout=600)


def error_line(result):
    "The one line the command wrote to stderr"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def peek(env, name, user_id=0, token=''):
    result = subprocess.run(
        [sys.executable, '-c', PEEK, name, str(user_id), token], env=env,
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def tenant_name(base):
    return f'{base}_{uuid.uuid4().hex[:8]}' if POSTGRESQL else base


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('crm_cli')
    path = tmp / 'db'
    config = tmp / 'trytond.conf'
    uri = os.environ.get('TRYTOND_DATABASE__URI') or 'sqlite://'
    config.write_text(textwrap.dedent(f'''\
        [database]
        uri = {uri}
        path = {path}
        language = en

        [web]
        listen = {LISTEN}

        [password]
        length = 8
        '''))
    env = dict(os.environ, TRYTOND_CONFIG=str(config),
        TRYTOND_DATABASE__PATH=str(path))
    env.pop('TRYTOND_ADMIN_PASSWORD', None)
    env.pop('TRYTONPASSFILE', None)
    created = []
    yield env, created
    if POSTGRESQL:
        for name in created:
            subprocess.run([sys.executable, '-c',
                    'import sys\n'
                    'from trytond.modules.crm_portal.cli import (\n'
                    '    configure, database_state, drop_database)\n'
                    'configure()\n'
                    'if database_state(sys.argv[1]):\n'
                    '    drop_database(sys.argv[1])\n', name],
                env=env, timeout=120)


@pytest.fixture(scope='module')
def demo(env):
    env, created = env
    name = tenant_name('demo')
    created.append(name)
    result = run(env, 'tenant', 'create', name, '--features', 'all',
        '--demo', '--company', 'Demo LLC')
    assert result.returncode == 0, result.stderr
    assert 'demo data loaded' in result.stdout
    return env, name


def test_list_shows_tenant_with_portal(demo):
    env, name = demo
    result = run(env, 'tenant', 'list')
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split()[1].split(',')
        for line in result.stdout.splitlines() if line.strip()}
    assert 'portal' in rows[name]


def test_demo_tenant_has_crm_data(demo):
    env, name = demo
    data = peek(env, name)
    assert data['company'] == 'Demo LLC'
    assert data['currency'] == 'RUB'
    assert data['admin_employee']
    assert data['leads'] >= 40
    assert set(data['lead_statuses']) >= {'NEW', 'IN_PROCESS', 'JUNK'}
    assert data['utm_leads'] > 0
    assert data['deals'] >= 25
    assert len(data['pipelines']) == 2
    assert data['won'] > 0 and data['lost'] > 0
    assert data['lost_without_reason'] == 0
    assert data['deal_lines'] > 0
    assert data['activities'] >= 60
    assert {'done', 'overdue', 'planned'} <= set(data['statuses'])
    assert data['today_for_admin'] > 0
    assert data['companies'] >= 20
    assert data['contacts'] >= 40
    assert data['crm_users'] == 5


def test_create_existing_tenant_refused(demo):
    env, name = demo
    result = run(env, 'tenant', 'create', name, '--demo')
    assert result.returncode == 2
    assert 'already exists' in error_line(result)


def test_create_exist_ok_upgrades_without_duplicating(demo):
    env, name = demo
    before = peek(env, name)
    result = run(env, 'tenant', 'create', name, '--features', 'all',
        '--demo', '--exist-ok')
    assert result.returncode == 0, result.stderr
    assert 'upgraded' in result.stdout
    after = peek(env, name)
    assert (after['leads'], after['deals'], after['activities']) == (
        before['leads'], before['deals'], before['activities'])


def test_create_without_password_leaves_nothing(env):
    env, created = env
    name = tenant_name('nopassword')
    created.append(name)
    result = run(env, 'tenant', 'create', name)
    assert result.returncode == 2
    assert 'admin password' in error_line(result)
    listed = run(env, 'tenant', 'list').stdout.split()
    assert name not in listed


def test_create_unknown_currency(env):
    env, _ = env
    result = run(env, 'tenant', 'create', 'other', '--demo',
        '--currency', 'XYZ')
    assert result.returncode == 2
    assert 'XYZ' in error_line(result)


def test_features_of_unknown_tenant(env):
    env, _ = env
    result = run(env, 'tenant', 'features', 'unknown_db',
        '--enable', 'telephony')
    assert result.returncode == 2
    line = error_line(result)
    assert 'unknown_db' in line


def test_features_typo_lists_valid_names(demo):
    env, name = demo
    result = run(env, 'tenant', 'features', name, '--enable', 'telephonyy')
    assert result.returncode == 2
    line = error_line(result)
    assert 'telephonyy' in line
    for feature in ['portal', 'telephony', 'openlines', 'exchange_1c',
            'sites']:
        assert feature in line


@pytest.mark.skipif(
    bool(entry_points(group='trytond.modules').select(name='crm_telephony')),
    reason="crm_telephony is installed")
def test_feature_not_installed(demo):
    env, name = demo
    result = run(env, 'tenant', 'features', name, '--enable', 'telephony')
    assert result.returncode == 2
    line = error_line(result)
    assert 'telephony' in line
    assert 'crm_telephony' in line


def test_portal_cannot_be_disabled(demo):
    env, name = demo
    result = run(env, 'tenant', 'features', name, '--disable', 'portal')
    assert result.returncode == 2
    assert 'portal' in error_line(result)
    result = run(env, 'tenant', 'features', name)
    assert result.returncode == 0, result.stderr
    tenant, features = result.stdout.split()
    assert tenant == name
    # --features all: every installed feature, portal first
    assert features.split(',') == installed_features()


def test_refused_module_removal_changes_nothing(demo):
    "A module whose records the tenant uses stays, with all the data"
    env, name = demo
    before = peek(env, name)
    result = subprocess.run([sys.executable, '-c',
            'import sys\n'
            'from trytond.modules.crm_portal.cli import (\n'
            '    CliError, activated_modules, change_modules, configure)\n'
            'configure()\n'
            'try:\n'
            '    change_modules(sys.argv[1], [], ["crm_portal"])\n'
            'except CliError as exception:\n'
            '    print(exception)\n'
            'print("crm_portal" in activated_modules(sys.argv[1]))\n',
            name], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    message, active = result.stdout.strip().splitlines()[-2:]
    assert 'nothing was changed' in message
    assert active == 'True'
    after = peek(env, name)
    assert (after['leads'], after['deals'], after['activities']) == (
        before['leads'], before['deals'], before['activities'])


def test_webhook_create(demo):
    env, name = demo
    result = run(env, 'webhook', 'create', name, '--user', 'admin',
        '--scope', 'crm,telephony')
    assert result.returncode == 0, result.stderr
    url = result.stdout.strip()
    match = re.fullmatch(
        rf'http://{re.escape(LISTEN)}/{name}/rest/(\d+)/([A-Za-z0-9_-]+)/',
        url)
    assert match, url
    user_id, token = int(match.group(1)), match.group(2)
    assert len(token) >= 32

    data = peek(env, name, user_id, token)
    assert data['hashes'] and token not in data['hashes']
    assert token[:6] in data['prefixes']
    assert data['check']
    assert not data['check_wrong']
    assert not data['check_other_user']


def test_webhook_tokens_visible_to_their_user_and_crm_admins(demo):
    env, name = demo
    result = run(env, 'webhook', 'create', name, '--user', 'd.kuznetsov',
        '--label', 'PBX')
    assert result.returncode == 0, result.stderr

    visible = peek(env, name)['visible']
    assert visible['d.kuznetsov'] == ['d.kuznetsov']
    assert visible['o.novikova'] == []
    assert 'd.kuznetsov' in visible['admin']


def test_webhook_unknown_user(demo):
    env, name = demo
    result = run(env, 'webhook', 'create', name, '--user', 'nobody')
    assert result.returncode == 2
    assert 'nobody' in error_line(result)


def test_webhook_unknown_scope(demo):
    env, name = demo
    result = run(env, 'webhook', 'create', name, '--user', 'admin',
        '--scope', 'crm,bogus')
    assert result.returncode == 2
    assert 'bogus' in error_line(result)
