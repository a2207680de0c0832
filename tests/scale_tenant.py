"""The tenants of tests/test_scale.py: what an admin sets up once, a copy
of it for the second tenant, and what the test reads of their databases.

PostgreSQL only. The set-up runs in a process of its own (it loads the
tenant's pool); the copy and the reads are plain SQL from the test's
process, which is much faster than loading a pool for each.
"""
import json
import os
import subprocess
import sys
import textwrap

import psycopg

SETUP = textwrap.dedent('''
    import datetime, json, sys
    from trytond.modules.crm_portal.cli import configure, load_pool
    configure()
    from trytond.transaction import Transaction, TransactionError
    name, min_fill = sys.argv[1], int(sys.argv[2])
    pool = load_pool(name)
    extras = {}
    while True:
        with Transaction().start(name, 0, **extras) as transaction:
            User = pool.get('res.user')
            admin, = User.search([('login', '=', 'admin')])
            company = admin.company.id
            try:
                russia = (pool.get('country.country').search(
                        [('code', '=', 'RU')])
                    or pool.get('country.country').create(
                        [{'name': 'Russia', 'code': 'RU'}]))
                with transaction.set_context(company=company):
                    configuration = pool.get('crm.configuration')(1)
                    configuration.simple_mode = True
                    configuration.phone_region = russia[0]
                    configuration.save()
                # Due now: the cron process runs them when it starts.
                Cron = pool.get('ir.cron')
                Cron.write(Cron.search([]), {'next_call':
                        datetime.datetime.now() - datetime.timedelta(hours=1)})
                form, = pool.get('crm.site.form').create([{
                            'company': company,
                            'name': 'Call back',
                            'consent_text': 'I agree to be called.',
                            'min_fill_seconds': min_fill,
                            'form_fields': [('create', [
                                        {'label': 'Name', 'key': 'name',
                                            'type': 'name', 'mapping': 'name',
                                            'required': True},
                                        {'label': 'Phone', 'key': 'phone',
                                            'type': 'phone',
                                            'mapping': 'phone',
                                            'required': True},
                                        {'label': 'Message',
                                            'key': 'message',
                                            'mapping': 'message'},
                                        ])],
                            }])
                token = pool.get('crm.webhook.token').create_token(
                    admin, 'scale test', ['crm', 'telephony'])
                # A sales team of two takes the new clients in turn.
                parties = pool.get('party.party').create([
                        {'name': f'Manager {i}', 'crm_kind': 'person'}
                        for i in range(2)])
                employees = pool.get('company.employee').create([
                        {'company': company, 'party': p.id}
                        for p in parties])
                pool.get('crm.intake.team.member').create([
                        {'company': company, 'employee': e.id}
                        for e in employees])
                # 1C's account, and batches small enough to be several.
                group = pool.get('ir.model.data').get_id(
                    'crm_1c_exchange', 'group_exchange_1c')
                User.create([{'name': 'exchange', 'login': 'exchange',
                            'password': 'Exchange-pass-1',
                            'company': company,
                            'companies': [('add', [company])],
                            'groups': [('add', [group])]}])
                profile = pool.get('crm.exchange_1c.profile').get(company)
                profile.batch_size = int(sys.argv[3])
                profile.time_budget = 1
                profile.responsible = admin
                profile.save()
            except TransactionError as exception:
                transaction.rollback()
                exception.fix(extras)
                continue
            transaction.commit()
            print(json.dumps({'company': company, 'form': form.uuid,
                        'rest': f'rest/{admin.id}/{token}/'}))
            break
    ''')


def setup_tenant(env, name, min_fill, batch_size):
    """Set tenant name up as its admin would; return its company, form
    (uuid) and REST webhook path"""
    result = subprocess.run(
        [sys.executable, '-c', SETUP, name, str(min_fill), str(batch_size)],
        env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def connect(name, autocommit=False):
    uri = os.environ['TRYTOND_DATABASE__URI'].rstrip('/')
    return psycopg.connect(f'{uri}/{name}', autocommit=autocommit)


def copy_database(source, target):
    "PostgreSQL copies a database fast, without creating it anew"
    with connect('postgres', autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{target}" TEMPLATE "{source}"')


def drop_database(name):
    "Drop the tenant, closing what is left connected to it"
    with connect('postgres', autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def rows(name, query, params=()):
    with connect(name) as connection:
        return connection.execute(query, params).fetchall()


def counts(name, phone):
    "What the tenant holds of the client of phone, its forms and its cron"
    one = {}
    with connect(name) as connection:
        def fetch(query, *params):
            return connection.execute(query, params).fetchall()
        one['contacts'], = fetch('SELECT COUNT(DISTINCT m.party) FROM '
            'party_contact_mechanism m JOIN party_party p ON p.id = m.party '
            'WHERE m.value_compact = %s AND m.active AND p.active',
            phone)[0]
        one['opportunities'] = dict(fetch('SELECT crm_type, COUNT(*) '
                'FROM sale_opportunity WHERE contact_phone_e164 = %s '
                'GROUP BY crm_type', phone))
        one['submissions'] = dict(fetch('SELECT outcome, COUNT(*) FROM '
                'crm_intake_submission WHERE channel = %s GROUP BY outcome',
                'WEBFORM'))
        one['form_activities'], = fetch('SELECT COUNT(*) FROM crm_activity '
            "WHERE type = 'form'")[0]
        one['form_posts'] = dict(zip(
                ['posts', 'parties', 'opportunities', 'activities'],
                fetch('SELECT COUNT(*), COUNT(DISTINCT party), '
                    'COUNT(DISTINCT opportunity), COUNT(activity) '
                    'FROM crm_site_form_submission')[0]))
        # The deals of the new clients (+7 922...) by team member (0: none)
        one['new_clients'] = sorted(fetch('SELECT COALESCE(m.id, 0), '
                'COUNT(*) FROM sale_opportunity o LEFT JOIN '
                'crm_intake_team_member m ON m.employee = o.employee '
                'WHERE o.contact_phone_e164 LIKE %s GROUP BY m.id',
                '+7922%'))
        one['cron_logs'], = fetch('SELECT COUNT(*) FROM ir_cron_log')[0]
    return one
