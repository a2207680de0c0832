"""Telephony through a running trytond: the Bitrix24-compatible REST
methods (plain HTTP and fast-bitrix24), the signed JSON webhook, the
routing endpoint, and the AMI connector process against a scripted
Asterisk peer on loopback.

SQLite in a temporary folder by default; PostgreSQL when
TRYTOND_DATABASE__URI is set (the tenant is dropped at the end).
"""
import json
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import fast_bitrix24
import pytest
from playwright.sync_api import expect
from sao_client import (
    browser, chromium_missing, sao_login, without_database_list)
from tenant_server import (
    create_tenant, drop_tenant, run_crm, serve, tenant_env, tenant_name)

from trytond.modules.crm_telephony.routes import signature
from trytond.modules.crm_telephony.tests.ami_peer import (
    AmiPeer, cdr, inbound_answered, inbound_missed)

PASSWORD = 'telephony-test'
CLIENT = '+79161234567'
UNKNOWN = '+79035550177'
AMI_LINE = '74951112234'


def ami_scripts():
    "A first connection that drops mid-call, a second that completes it"
    answered = inbound_answered(UNKNOWN, AMI_LINE, '102', '1800.2')
    return [
        [('expect_login', 'crm', 'pass'),
            ('events', inbound_missed(CLIENT, AMI_LINE, ['101'], '1800.1')),
            ('events', answered[:4]),
            ('close',)],
        [('expect_login', 'crm', 'pass'),
            ('events', answered[4:]),
            ('events', [cdr('1800.2', UNKNOWN, '102', 'PJSIP/trunk-1800.2',
                        'PJSIP/102-1800.2', '2026-01-05 10:00:00',
                        '2026-01-05 10:00:04', '2026-01-05 10:00:46', 46,
                        42, 'ANSWERED')]),
            ('wait',)],
        ]


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('crm_telephony_http')
    peer = AmiPeer(ami_scripts())
    with tenant_env(tmp, password=PASSWORD) as (env, port):
        name = tenant_name('telhttp')
        try:
            create_tenant(env, name, '--features', 'all')
            url = run_crm(env, 'webhook', 'create', name, '--user', 'admin',
                '--scope', 'telephony,crm')
            setup = subprocess.run(
                [sys.executable, '-m',
                    'trytond.modules.crm_telephony.tests.http_setup', name,
                    str(peer.port)],
                env=env, capture_output=True, text=True, timeout=300)
            assert setup.returncode == 0, setup.stderr
            ids = json.loads(setup.stdout.strip().splitlines()[-1])
            # the web client logs in with the database typed
            with serve(without_database_list(env), port, name,
                    f'/{name}/rest/openapi.json') as base:
                yield dict(ids, url=url, base=base, name=name, env=env,
                    peer=peer)
        finally:
            peer.close()
            drop_tenant(env, name)


def http(url, data=None, headers=None, method=None):
    "Return (status, body: JSON or text)"
    headers = dict(headers or {})
    if isinstance(data, dict):
        data = json.dumps(data).encode()
        headers.setdefault('Content-Type', 'application/json')
    request = urllib.request.Request(url, data=data, headers=headers,
        method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body.decode()


def test_register_finish_over_http(server):
    url = server['url']
    status, body = http(url + 'telephony.externalcall.register.json', {
            'USER_PHONE_INNER': '101', 'PHONE_NUMBER': '89161234567',
            'TYPE': 2, 'CRM_CREATE': 1})
    assert status == 200, body
    call_id = body['result']['CALL_ID']
    assert body['result']['CRM_ENTITY_TYPE'] == 'CONTACT'
    assert body['result']['CRM_ENTITY_ID'] == server['client']
    # PHP-style form fields, as PBX modules send them
    status, again = http(url + 'telephony.externalcall.register.json',
        urllib.parse.urlencode({'USER_PHONE_INNER': '101',
                'PHONE_NUMBER': '+79161234567', 'TYPE': '2'}).encode(),
        {'Content-Type': 'application/x-www-form-urlencoded'})
    assert status == 200, again
    assert again['result']['CALL_ID'] == call_id

    status, body = http(url + 'telephony.externalcall.finish.json', {
            'CALL_ID': call_id, 'USER_PHONE_INNER': '101',
            'DURATION': 61, 'STATUS_CODE': '200'})
    assert status == 200, body
    assert body['result']['CALL_DURATION'] == 61
    assert body['result']['CRM_ACTIVITY_ID']

    status, body = http(url + 'telephony.externalcall.finish.json', {
            'CALL_ID': call_id, 'USER_PHONE_INNER': '101', 'DURATION': 1})
    assert status == 400 and body['error'] == 'ERROR_CORE', body
    status, body = http(url + 'telephony.externalcall.finish.json', {
            'CALL_ID': 'externalCall.unknown', 'USER_PHONE_INNER': '101',
            'DURATION': 1})
    assert status == 404, body
    status, body = http(url + 'telephony.externalcall.register.json', {
            'USER_PHONE_INNER': '101', 'PHONE_NUMBER': 'abc'})
    assert status == 400 and 'abc' in body['error_description'], body
    status, body = http(url + 'voximplant.statistic.get.json',
        {'FILTER': {'CALL_ID': call_id}})
    assert body['total'] == 1, body


def single(result):
    "fast-bitrix24 sends a single call as a batch and may return it keyed"
    if isinstance(result, dict) and len(result) == 1:
        (value,) = result.values()
        if isinstance(value, (dict, list)):
            return value
    return result


def test_fast_bitrix24(server):
    bitrix = fast_bitrix24.Bitrix(server['url'], verbose=False)
    result = single(bitrix.call('telephony.externalcall.register', {
            'USER_PHONE_INNER': '102', 'PHONE_NUMBER': UNKNOWN,
            'TYPE': 2, 'CRM_CREATE': 1, 'SHOW': 0}))
    assert result['CRM_CREATED_LEAD'], result
    assert result['CRM_ENTITY_TYPE'] == 'LEAD'
    finished = single(bitrix.call('telephony.externalcall.finish', {
            'CALL_ID': result['CALL_ID'], 'USER_PHONE_INNER': '102',
            'DURATION': 0, 'STATUS_CODE': '304'}))
    assert finished['CALL_FAILED_CODE'] == '304'
    found = single(bitrix.call('telephony.externalCall.searchCrmEntities',
        {'PHONE_NUMBER': UNKNOWN}))
    if isinstance(found, dict):
        found = [found]
    assert [f['CRM_ENTITY_TYPE'] for f in found] == ['LEAD']
    # {"ID": n}: fast-bitrix24 unwraps a one-key answer to its value
    line = single(bitrix.call('telephony.externalLine.add',
            {'NUMBER': '74957770001', 'NAME': "Fast"}))
    line = line['ID'] if isinstance(line, dict) else line
    assert isinstance(line, int) and line > 0


def signed(server, body, secret=None, ts=None):
    ts = str(ts or int(time.time()))
    body = json.dumps(body).encode()
    return body, {'Content-Type': 'application/json',
        'X-Crm-Timestamp': ts,
        'X-Crm-Signature': signature(
            secret or server['webhook_secret'], ts, body)}


def test_webhook(server):
    url = '%s/%s/telephony/webhook/%d' % (
        server['base'], server['name'], server['webhook_line'])
    events = [
        {'event': 'call.started', 'call_id': 'cloud-1',
            'direction': 'incoming', 'from': '8 916 123 45 67',
            'to': '+74951112233'},
        {'event': 'call.answered', 'call_id': 'cloud-1', 'extension': '101'},
        {'event': 'call.ended', 'call_id': 'cloud-1', 'duration': 33,
            'result': 'answered'},
        ]
    for event in events:
        status, body = http(url, *signed(server, event))
        assert status == 200, body
    call_id = body['result']['CALL_ID']
    assert body['result']['RESULT'] == 'answered'
    # a repeated end changes nothing
    status, again = http(url, *signed(server, events[-1]))
    assert status == 200 and again['result']['CALL_ID'] == call_id

    status, body = http(url, *signed(server, events[0], secret='wrong'))
    assert status == 401, body
    status, body = http(url, *signed(server, events[0],
            ts=int(time.time()) - 3600))
    assert status == 401, body
    status, body = http(url, *signed(server, {'event': 'call.exploded',
                'call_id': 'cloud-2'}))
    assert status == 400, body
    status, body = http(url, b'x' * (70 * 1024),
        {'Content-Type': 'application/json'})
    assert status == 413, body
    status, stats = http(server['url'] + 'voximplant.statistic.get.json',
        {'FILTER': {'EXTERNAL_ID': 'cloud-1'}})
    assert stats['total'] == 1, stats
    assert stats['result'][0]['CALL_DURATION'] == 33


def test_route(server):
    "The dial plan asks which extension to ring first"
    base = '%s/%s/telephony/route/%d' % (
        server['base'], server['name'], server['ami_line'])

    def ask(number, secret=None):
        ts = str(int(time.time()))
        sig = signature(secret or server['route_secret'], ts, number)
        return http(base + '?' + urllib.parse.urlencode(
                {'number': number, 'ts': ts, 'sig': sig}))
    assert ask('89161234567') == (200, 101)  # the responsible, Alice
    status, body = ask('+79990001122')
    assert (status, body) == (200, 102)  # the line's default employee
    assert ask('89161234567', secret='wrong')[0] == 401


def test_ami_connector_process(server):
    "The connector process follows the PBX across a dropped connection"
    process = subprocess.Popen([sys.executable, '-m',
            'trytond.modules.crm_telephony.ami',
            '-c', server['env']['TRYTOND_CONFIG'], server['name'],
            '--line', str(server['ami_line']), '--max-backoff', '1'],
        env=server['env'], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        found = {}
        while time.monotonic() < deadline and len(found) < 2:
            for external_id in ['1800.1', '1800.2']:
                status, body = http(
                    server['url'] + 'voximplant.statistic.get.json',
                    {'FILTER': {'EXTERNAL_ID': external_id}})
                if body.get('total'):
                    row = body['result'][0]
                    if external_id == '1800.1' or row['CALL_DURATION'] == 42:
                        found[external_id] = row
            if process.poll() is not None:
                break
            time.sleep(0.2)  # polling a condition, with a deadline
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert len(found) == 2, stderr[-3000:]
    assert found['1800.1']['CALL_RESULT'] == 'missed'
    assert found['1800.1']['CRM_ENTITY_TYPE'] == 'CONTACT'
    # answered before the drop, finished after it, times from the CDR
    assert found['1800.2']['CALL_RESULT'] == 'answered'
    assert found['1800.2']['CALL_DURATION'] == 42
    assert server['peer'].connections == 2


def test_pbx_user_not_root(server):
    "What a PBX sends is written by the Telephony (PBX) user, not root"
    url = '%s/%s/telephony/webhook/%d' % (
        server['base'], server['name'], server['webhook_line'])
    for event in [
            {'event': 'call.started', 'call_id': 'cloud-pbx',
                'direction': 'incoming', 'from': '+79035550188'},
            {'event': 'call.ended', 'call_id': 'cloud-pbx',
                'result': 'missed'}]:
        status, body = http(url, *signed(server, event))
        assert status == 200, body
    status, stats = http(server['url'] + 'voximplant.statistic.get.json',
        {'FILTER': {'EXTERNAL_ID': 'cloud-pbx'}})
    row, = stats['result']
    # the unknown number's lead came through the intake as that user too
    assert row['CRM_ENTITY_TYPE'] == 'LEAD', row
    status, activity = http(server['url'] + 'crm.activity.get.json',
        {'id': row['CRM_ACTIVITY_ID']})
    assert status == 200, activity
    assert activity['result']['AUTHOR_ID'] == str(server['pbx_user'])
    status, lead = http(server['url'] + 'crm.lead.get.json',
        {'id': row['CRM_ENTITY_ID']})
    assert lead['result']['CREATED_BY_ID'] == str(server['pbx_user'])


def notifications(page):
    "The texts of the bell's menu, freshly read from the server"
    toggle = page.locator('#user-preferences > a.dropdown-toggle')
    menu = page.locator('#user-preferences .notification-menu')
    # what the last opening showed must not be read as the answer
    page.evaluate("() => jQuery('#user-preferences .notification-menu')"
        ".empty()")
    toggle.click()
    expect(menu.get_by_text('Logout')).to_be_visible()
    expect(menu.locator('.notification-label, .dropdown-header').first
        ).to_be_visible()
    texts = menu.locator('.notification-label, .notification-description,'
        ' .dropdown-header').all_inner_texts()
    toggle.click()
    return texts


@pytest.mark.skipif(chromium_missing(),
    reason="Debian's chromium is not installed")
def test_call_card_in_web_client(server, tmp_path):
    """An incoming call shows its card to the employee in sao: who calls,
    the open deal, a link to the record; the card goes when the call ends
    (REST) or is answered by a colleague (webhook)"""
    expect.set_options(timeout=60_000)
    number = '+79167654321'
    status, body = http(server['url'] + 'crm.contact.add.json', {'fields': {
                'NAME': 'Olga', 'LAST_NAME': 'Smirnova',
                'ASSIGNED_BY_ID': server['admin'],
                'PHONE': [{'VALUE': number, 'VALUE_TYPE': 'MOBILE'}]}})
    assert status == 200, body
    contact = body['result']
    status, body = http(server['url'] + 'crm.deal.add.json', {'fields': {
                'TITLE': 'Server upgrade', 'CONTACT_ID': contact}})
    assert status == 200, body
    try:
        with browser() as context:
            context.set_default_timeout(60_000)
            page = context.new_page()
            sao_login(page, server['base'], server['name'], 'admin',
                PASSWORD)
            status, body = http(
                server['url'] + 'telephony.externalcall.register.json', {
                    'USER_PHONE_INNER': '101', 'PHONE_NUMBER': number,
                    'TYPE': 2})
            assert status == 200, body
            call_id = body['result']['CALL_ID']
            card = notifications(page)
            assert any('Olga Smirnova' in t and number in t
                for t in card), card
            assert any('Server upgrade' in t for t in card), card
            # the card's link opens the deal
            page.locator('#user-preferences > a.dropdown-toggle').click()
            page.locator('.notification-menu .notification-label'
                ).get_by_text('Olga Smirnova').first.click()
            expect(page.get_by_role('textbox', name='Title:', exact=True)
                ).to_have_value('Server upgrade')
            expect(page.get_by_role('textbox', name='Party:', exact=True)
                ).to_have_value('Olga Smirnova')
            http(server['url'] + 'telephony.externalcall.finish.json', {
                    'CALL_ID': call_id, 'USER_PHONE_INNER': '101',
                    'DURATION': 20, 'STATUS_CODE': '200'})
            assert not [t for t in notifications(page) if 'Olga' in t]

            # a cloud PBX: ringing shows the card to the responsible
            # (Alice: the admin), Bob answering hides it
            url = '%s/%s/telephony/webhook/%d' % (
                server['base'], server['name'], server['webhook_line'])
            status, body = http(url, *signed(server, {
                        'event': 'call.started', 'call_id': 'cloud-card',
                        'direction': 'incoming', 'from': number}))
            assert status == 200, body
            assert [t for t in notifications(page) if 'Olga' in t]
            status, body = http(url, *signed(server, {
                        'event': 'call.answered', 'call_id': 'cloud-card',
                        'extension': '102'}))
            assert status == 200, body
            assert not [t for t in notifications(page) if 'Olga' in t]
    finally:
        expect.set_options(timeout=5_000)
