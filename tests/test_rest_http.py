"""The REST API through a running trytond, as integrations call it.

A tenant is created with the `crm` command, a token with `crm webhook
create`, a real server is started on a free loopback port, then the API is
driven with plain HTTP and with the PyPI client fast-bitrix24.

SQLite in a temporary folder by default; with TRYTOND_DATABASE__URI set to
postgresql://... the tenant gets a unique name and is dropped at the end.
"""
import json
import urllib.error
import urllib.parse
import urllib.request
import uuid

import fast_bitrix24
import pytest
from tenant_server import (
    create_tenant, drop_tenant, run_crm, serve, tenant_env,
    tenant_name)



@pytest.fixture(scope='module')
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('crm_rest_http')
    config = """
        [crm_rest]
        rate = 2
        burst = 100
        """
    with tenant_env(tmp, config, password='rest-http-test') as (env, port):
        name = tenant_name('resthttp')
        try:
            create_tenant(env, name)
            url = run_crm(env, 'webhook', 'create', name, '--user', 'admin',
                '--scope', 'crm,user')
            narrow = run_crm(env, 'webhook', 'create', name,
                '--user', 'admin', '--scope', 'telephony',
                '--label', 'narrow')
            with serve(env, port, name, f'/{name}/rest/openapi.json') as base:
                yield {'url': url, 'narrow': narrow, 'name': name,
                    'base': base}
        finally:
            drop_tenant(env, name)


def http(url, data=None, content_type=None, method=None):
    "Return (status, JSON body)"
    headers = {}
    if isinstance(data, dict):
        data = json.dumps(data).encode()
        content_type = content_type or 'application/json'
    elif isinstance(data, str):
        data = data.encode()
    if content_type:
        headers['Content-Type'] = content_type
    request = urllib.request.Request(url, data=data, headers=headers,
        method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_core_methods_over_http(server):
    url = server['url']
    status, body = http(url + 'server.time.json')
    assert status == 200, body
    assert {'start', 'finish', 'duration', 'processing', 'date_start',
        'date_finish'} <= set(body['time'])
    status, body = http(url + 'profile', {})
    assert status == 200, body
    assert body['result']['ADMIN'] is True
    status, body = http(url + 'methods')
    assert 'batch' in body['result'] and 'user.current' in body['result']


def test_errors_over_http(server):
    url, base, name = server['url'], server['base'], server['name']
    status, body = http(url + 'no.such.method.json', {})
    assert (status, body['error']) == (404, 'ERROR_METHOD_NOT_FOUND')
    wrong = url.rstrip('/').rsplit('/', 1)[0] + '/' + 'x' * 43 + '/'
    status, body = http(wrong + 'profile', {})
    assert (status, body['error']) == (401, 'INVALID_CREDENTIALS')
    status, body = http(f'{base}/{name}/rest/profile', {})
    assert (status, body['error']) == (401, 'NO_AUTH_FOUND')
    status, body = http(server['narrow'] + 'user.current', {})
    assert (status, body['error']) == (403, 'insufficient_scope')
    status, body = http(f'{base}/nodb_{uuid.uuid4().hex[:6]}/rest/1/x/'
        'profile', {})
    assert status == 404
    status, body = http(url + 'profile', 'x=' + 'a' * (1024 * 1024 + 10),
        'application/x-www-form-urlencoded')
    assert (status, body['error']) == (413, 'REQUEST_ENTITY_TOO_LARGE')


def test_openapi_over_http(server):
    status, body = http(f"{server['base']}/{server['name']}"
        '/rest/openapi.json')
    assert status == 200
    assert '/{user_id}/{token}/batch.json' in body['paths']


def test_batch_over_http_form_encoded(server):
    url = server['url']
    status, body = http(url + 'batch.json',
        urllib.parse.urlencode({
                'halt': '0',
                'cmd[me]': 'profile',
                'cmd[again]': 'methods?scope=$result[me][ADMIN]',
                'cmd[bad]': 'no.such.method',
                }),
        'application/x-www-form-urlencoded')
    assert status == 200, body
    batch = body['result']
    assert batch['result']['me']['ADMIN'] is True
    assert 'again' in batch['result']
    assert batch['result_error']['bad']['error'] == 'ERROR_METHOD_NOT_FOUND'


def lead_methods(server):
    status, body = http(server['url'] + 'methods')
    return {'crm.lead.add', 'crm.lead.list', 'crm.lead.get'} <= set(
        body['result'])


def test_fast_bitrix24_leads(server):
    assert lead_methods(server), "crm.lead.* methods are not registered"
    bitrix = fast_bitrix24.Bitrix(server['url'], verbose=False)
    marker = uuid.uuid4().hex[:8]
    items = [{'fields': {'TITLE': f'{marker} lead {i}',
                'NAME': f'Client {i}',
                'PHONE': [{'VALUE': f'+7900{i:07d}', 'VALUE_TYPE': 'WORK'}],
                }} for i in range(120)]
    ids = bitrix.call('crm.lead.add', items)
    assert len(ids) == 120
    ids = [int(i) for i in ids]
    assert len(set(ids)) == 120

    leads = bitrix.get_all('crm.lead.list', params={
            'filter': {'%TITLE': marker}, 'select': ['ID', 'TITLE']})
    assert len(leads) == 120
    assert {int(lead['ID']) for lead in leads} == set(ids)

    titles = {int(lead['ID']): lead['TITLE'] for lead in leads}
    some = bitrix.get_by_ID('crm.lead.get', ids[:3])
    assert {int(k): v['TITLE'] for k, v in some.items()} == {
        i: titles[i] for i in ids[:3]}

    # Plain HTTP sees the same pages.
    status, body = http(server['url'] + 'crm.lead.list.json',
        {'filter': {'%TITLE': marker}, 'start': 100})
    assert status == 200, body
    assert body['total'] == 120
    assert len(body['result']) == 20
    assert 'next' not in body


def test_fast_bitrix24_status_and_comments(server):
    "Lists, text fields and timeline comments through a Bitrix24 client"
    bitrix = fast_bitrix24.Bitrix(server['url'], verbose=False)
    code = 'BOT_' + uuid.uuid4().hex[:8].upper()
    status_id = int(bitrix.call('crm.status.add', {'fields': {
                    'ENTITY_ID': 'SOURCE', 'STATUS_ID': code,
                    'NAME': 'Telegram bot', 'SORT': 15}}))
    # fast-bitrix24 answers the record itself for a single ID
    item = bitrix.get_by_ID('crm.status.get', [status_id])
    assert (item['ENTITY_ID'], item['STATUS_ID'], item['SORT']) == (
        'SOURCE', code, '15')
    sources = bitrix.call('crm.status.entity.items', {'entityId': 'SOURCE'},
        raw=True)['result']
    assert code in [s['STATUS_ID'] for s in sources]

    lead_id = int(bitrix.call('crm.lead.add', {'fields': {
                    'TITLE': 'From the bot', 'SOURCE_ID': code,
                    'SOURCE_DESCRIPTION': 'Channel post of 24 November'}}))
    lead = bitrix.get_by_ID('crm.lead.get', [lead_id])
    assert (lead['SOURCE_ID'], lead['SOURCE_DESCRIPTION']) == (
        code, 'Channel post of 24 November')
    ids = bitrix.call('crm.timeline.comment.add', [{'fields': {
                    'ENTITY_TYPE': 'lead', 'ENTITY_ID': lead_id,
                    'COMMENT': f'Note {i}'}} for i in range(60)])
    assert len({int(i) for i in ids}) == 60
    comments = bitrix.get_all('crm.timeline.comment.list', params={
            'filter': {'ENTITY_TYPE': 'lead', 'ENTITY_ID': lead_id}})
    assert sorted(c['COMMENT'] for c in comments) == sorted(
        f'Note {i}' for i in range(60))

    # Plain HTTP: the errors name the field, nothing is added
    url = server['url']
    status, body = http(url + 'crm.status.add.json', {'fields': {
                'ENTITY_ID': 'SOURCE', 'STATUS_ID': code, 'NAME': 'Again'}})
    assert status == 400 and 'STATUS_ID' in body['error_description'], body
    status, body = http(url + 'crm.status.list.json', {
            'filter': {'ENTITY_ID': 'SOURCE', 'STATUS_ID': code}})
    assert [s['NAME'] for s in body['result']] == ['Telegram bot']
    status, body = http(url + 'crm.timeline.comment.list.json', {
            'filter': {'ENTITY_TYPE': 'lead', 'ENTITY_ID': lead_id},
            'start': 50})
    assert (status, body['total'], len(body['result'])) == (200, 60, 10)
    status, body = http(url + 'crm.status.delete.json', {'id': status_id})
    assert status == 400 and body['error'] == 'ERROR_CORE', body
