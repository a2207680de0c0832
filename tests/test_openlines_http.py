"""Open lines through a running trytond: the Telegram webhook against a
scripted Bot API peer on loopback, the site widget's endpoints over HTTP
(key, CORS, long polling) and the operator's reply through JSON-RPC; then
in Debian's Chromium a visitor of a plain page writes in the widget, the
operator answers in the web client (sao) and the visitor sees it.

SQLite in a temporary folder by default; with TRYTOND_DATABASE__URI set to
postgresql://... the tenant gets a unique name and is dropped at the end.
"""
import base64
import functools
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect, sync_playwright
from sao_client import (
    ARGS, CHROMIUM, chromium_missing, sao_login, without_database_list)
from tenant_server import (
    create_tenant, drop_tenant, serve, tenant_env, tenant_name)

from trytond.modules.crm_openlines.tests.http_tools import (
    OPERATOR_PASSWORD, RPC, http, setup_tenant)
from trytond.modules.crm_openlines.tests.peers import BotAPI

ORIGIN = 'http://shop.example.test'


@pytest.fixture(scope='module')
def bot_api():
    "The Bot API peer: sendMessage, answerCallbackQuery, getFile, files"
    with BotAPI('123456:TEST-token') as peer:
        yield peer.url, peer.calls, peer


@pytest.fixture(scope='module')
def shop(tmp_path_factory):
    "A plain site on its own loopback server, where the widget goes"
    folder = tmp_path_factory.mktemp('shop')
    handler = functools.partial(SimpleHTTPRequestHandler,
        directory=str(folder))
    handler.log_message = lambda *args: None
    server = ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f'http://127.0.0.1:{server.server_address[1]}'
    server.shutdown()
    server.server_close()


@pytest.fixture(scope='module')
def site(tmp_path_factory, bot_api, shop):
    tmp = tmp_path_factory.mktemp('openlines_http')
    config = """
        [crm_openlines]
        poll_wait = 20
        """
    with tenant_env(tmp, config, password='openlines-test') as (env, port):
        name = tenant_name('openlines')
        bare = tenant_name('noopenlines')
        try:
            create_tenant(env, name, '--features', 'all')
            create_tenant(env, bare)
            info = setup_tenant(env, name, bot_api[0],
                f'{ORIGIN}\n{shop[1]}')
            with serve(without_database_list(env), port, name) as base:
                info.update(base=base, name=name, bare=bare,
                    url=f'{base}/{name}/openlines')
                yield info
        finally:
            drop_tenant(env, name)
            drop_tenant(env, bare)


def update(update_id, text, chat=777):
    return {'update_id': update_id, 'message': {
            'message_id': update_id, 'date': 1700000000,
            'from': {'id': chat, 'is_bot': False, 'first_name': 'Ivan',
                'last_name': 'Petrov', 'language_code': 'ru'},
            'chat': {'id': chat, 'first_name': 'Ivan', 'type': 'private'},
            'text': text}}


def operator(site):
    return RPC(site['base'], site['name'], 'operator', OPERATOR_PASSWORD)


def reply(rpc, conversation, text):
    "What the reply box and the Send button of the form do"
    rpc.model('crm.openline.conversation', 'write', [conversation],
        {'draft': text})
    rpc.model('crm.openline.conversation', 'send', [conversation])


def test_telegram_update_reply_and_replay(site, bot_api):
    _, calls, _ = bot_api
    hook = f"{site['url']}/telegram/{site['telegram']}"
    secret = {'X-Telegram-Bot-Api-Secret-Token': site['secret'],
        'Content-Type': 'application/json'}
    status, _, body = http(hook, update(1001, 'Hello <b>bot</b>'), secret)
    assert (status, body['ok'], body['duplicate']) == (200, True, False)
    # the welcome message goes out through sendMessage
    method, sent = calls.get(timeout=30)
    assert (method, sent['chat_id']) == ('sendMessage', 777)
    assert sent['text'].startswith('Welcome!')

    status, _, body = http(hook, update(1001, 'Hello <b>bot</b>'), secret)
    assert (status, body['duplicate']) == (200, True)

    rpc = operator(site)
    conversation, = rpc.model('crm.openline.conversation', 'search',
        [('external_chat', '=', '777')], 0, None, None)
    record, = rpc.model('crm.openline.conversation', 'read', [conversation],
        ['state', 'operator', 'client_name', 'opportunity'])
    assert record['state'] == 'waiting'
    assert record['operator'] == site['employee']
    assert record['client_name'] == 'Ivan Petrov'
    assert record['opportunity']
    messages = rpc.model('crm.openline.message', 'search_read',
        [('conversation', '=', conversation), ('direction', '=', 'in')],
        0, None, None, ['text'])
    assert [m['text'] for m in messages] == ['Hello bot']

    reply(rpc, conversation, 'Hello Ivan, how can I help?')
    method, sent = calls.get(timeout=30)
    assert sent == {'chat_id': 777, 'text': 'Hello Ivan, how can I help?'}
    delivered, = rpc.model('crm.openline.message', 'search_read',
        [('conversation', '=', conversation), ('author', '!=', None)],
        0, None, None, ['delivery'])
    assert delivered['delivery'] == 'sent'


PDF = b'%PDF-1.4\n' + bytes(range(256)) * 8 + b'\n%%EOF\n'


def test_telegram_file_then_rating_buttons(site, bot_api):
    "A document is fetched with getFile; the client rates with a button"
    _, calls, peer = bot_api
    hook = f"{site['url']}/telegram/{site['telegram']}"
    secret = {'X-Telegram-Bot-Api-Secret-Token': site['secret'],
        'Content-Type': 'application/json'}
    peer.add_file('doc-1', 'documents/file_7.pdf', PDF)
    document = update(3001, None, chat=888)
    del document['message']['text']
    document['message'].update(caption='My contract', document={
            'file_id': 'doc-1', 'file_unique_id': 'u1',
            'file_name': 'contract.pdf', 'mime_type': 'application/pdf',
            'file_size': len(PDF)})
    status, _, body = http(hook, document, secret)
    assert (status, body['duplicate']) == (200, False)
    assert calls.get(timeout=30)[1]['text'].startswith('Welcome!')

    rpc = operator(site)
    conversation, = rpc.model('crm.openline.conversation', 'search',
        [('external_chat', '=', '888')], 0, None, None)
    # what the operator downloads in the web client
    message, = rpc.model('crm.openline.message', 'search_read',
        [('conversation', '=', conversation), ('direction', '=', 'in')],
        0, None, None, ['text', 'attachment', 'attachment_name',
            'attachment_type', 'attachment_size'])
    assert (message['text'], message['attachment_name'],
        message['attachment_type'], message['attachment_size']) == (
        'My contract', 'contract.pdf', 'application/pdf', len(PDF))
    assert base64.b64decode(message['attachment']['base64']) == PDF

    reply(rpc, conversation, 'Got it, thank you.')
    assert calls.get(timeout=30)[1]['text'] == 'Got it, thank you.'
    rpc.model('crm.openline.conversation', 'close', [conversation])
    method, sent = calls.get(timeout=30)
    assert (method, sent['text']) == ('sendMessage', 'Please rate our answer.')
    buttons = sent['reply_markup']['inline_keyboard'][0]
    assert [b['text'] for b in buttons] == ['1', '2', '3', '4', '5']

    press = {'update_id': 3002, 'callback_query': {
            'id': 'cb-42', 'chat_instance': '1',
            'from': {'id': 888, 'is_bot': False, 'first_name': 'Ivan'},
            'message': {'message_id': 2, 'date': 1700000000,
                'chat': {'id': 888, 'type': 'private'},
                'text': sent['text']},
            'data': buttons[3]['callback_data']}}
    status, _, body = http(hook, press, secret)
    assert (status, body['rated']) == (200, True)
    method, answered = calls.get(timeout=30)
    assert (method, answered['callback_query_id']) == (
        'answerCallbackQuery', 'cb-42')
    record, = rpc.model('crm.openline.conversation', 'read', [conversation],
        ['rating', 'state'])
    assert (record['state'], record['rating']) == ('closed', '4')
    # a button of another chat's conversation rates nothing
    press['update_id'] = 3003
    press['callback_query']['message']['chat']['id'] = 999
    status, _, body = http(hook, press, secret)
    assert (status, body['rated']) == (200, False)


def test_telegram_refuses_bad_requests(site):
    hook = f"{site['url']}/telegram/{site['telegram']}"
    good = {'X-Telegram-Bot-Api-Secret-Token': site['secret'],
        'Content-Type': 'application/json'}
    status, _, body = http(hook, update(2001, 'hi'),
        dict(good, **{'X-Telegram-Bot-Api-Secret-Token': 'wrong'}))
    assert (status, body['error']) == (401, 'INVALID_SECRET')
    status, _, body = http(hook, update(2002, 'hi'),
        {'Content-Type': 'application/json'})
    assert status == 401
    status, _, body = http(hook, b'{not json', good)
    assert (status, body['error']) == (400, 'INVALID_JSON')
    status, _, body = http(hook, {'message': {'text': 'no update id'}}, good)
    assert (status, body['error']) == (400, 'INVALID_UPDATE')
    status, _, body = http(hook, update(2003, 'x' * 300_000), good)
    assert (status, body['error']) == (413, 'TOO_LARGE')
    status, _, body = http(hook, {'update_id': 2004,
            'edited_message': {'text': 'edited'}}, good)
    assert (status, body['ignored']) == (200, True)
    # a widget channel is not a Telegram webhook
    status, _, _ = http(f"{site['url']}/telegram/{site['widget']}",
        update(2005, 'hi'), good)
    assert status == 404


def test_widget_endpoints(site):
    url = f"{site['url']}/widget/{site['widget']}"
    status, head, script = http(
        f"{url}.js?key={site['widget_key']}", raw=True)
    assert status == 200
    assert head['Content-Type'].startswith('text/javascript')
    assert f'/openlines/widget/{site["widget"]}'.encode() in script
    status, _, _ = http(f"{url}.js?key=wrong", raw=True)
    assert status == 404

    plain = {'Content-Type': 'text/plain;charset=UTF-8', 'Origin': ORIGIN}
    status, head, body = http(url + '/message', {
            'key': site['widget_key'], 'text': 'Hi from the site',
            'name': 'Maria', 'email': 'maria@example.com'}, plain)
    assert status == 200, body
    assert head['Access-Control-Allow-Origin'] == ORIGIN
    visitor = body['visitor']

    status, _, body = http(url + '/message', {
            'key': site['widget_key'], 'text': 'Hi'},
        dict(plain, Origin='http://evil.example.test'))
    assert (status, body['error']) == (403, 'ORIGIN_NOT_ALLOWED')
    status, head, _ = http(url + '/message', method='OPTIONS',
        headers={'Origin': ORIGIN,
            'Access-Control-Request-Method': 'POST'}, raw=True)
    assert status == 204
    assert head['Access-Control-Allow-Origin'] == ORIGIN
    status, _, body = http(url + '/message', '{"key": ', plain)
    assert (status, body['error']) == (400, 'INVALID_JSON')
    status, _, body = http(url + '/message', {
            'key': site['widget_key'], 'text': 'x' * 20000}, plain)
    assert status == 413

    # the poll answers at once with what is there...
    status, _, body = http(url + '/poll', {'key': site['widget_key'],
            'visitor': visitor}, plain)
    assert status == 200
    texts = [m['text'] for m in body['messages']]
    assert texts[0] == 'Hi from the site'
    after = body['messages'][-1]['id']

    # ...and waits for the operator's reply when there is nothing new
    answers = []
    poller = threading.Thread(target=lambda: answers.append(http(
                url + '/poll', {'key': site['widget_key'],
                    'visitor': visitor, 'after': after}, plain)))
    poller.start()
    rpc = operator(site)
    conversation, = rpc.model('crm.openline.conversation', 'search',
        [('client_email', '=', 'maria@example.com')], 0, None, None)
    reply(rpc, conversation, 'Hello Maria')
    poller.join(timeout=60)
    status, _, body = answers[0]
    assert status == 200
    assert [(m['direction'], m['text']) for m in body['messages']] == [
        ('out', 'Hello Maria')]


def test_one_visitor_writing_fast_loses_nothing(site):
    "Messages of one chat arriving at the same moment are all stored"
    url = f"{site['url']}/widget/{site['widget']}"
    plain = {'Content-Type': 'text/plain;charset=UTF-8', 'Origin': ORIGIN}
    status, _, body = http(url + '/message', {
            'key': site['widget_key'], 'text': 'First'}, plain)
    assert status == 200, body
    visitor = body['visitor']
    texts = [f'Quick {i}' for i in range(8)]
    with ThreadPoolExecutor(len(texts)) as pool:
        answers = list(pool.map(lambda text: http(url + '/message', {
                        'key': site['widget_key'], 'visitor': visitor,
                        'text': text}, plain), texts))
    assert [a[0] for a in answers] == [200] * len(texts), answers
    assert {a[2]['conversation'] for a in answers} == {
        body['conversation']}
    status, _, body = http(url + '/poll', {'key': site['widget_key'],
            'visitor': visitor}, plain)
    assert sorted(m['text'] for m in body['messages']
        if m['direction'] == 'in') == sorted(['First'] + texts)


def test_routes_absent_where_module_is_off(site):
    bare = f"{site['base']}/{site['bare']}/openlines"
    # the first request to that database loads its modules: give it time
    status, _, _ = http(f"{bare}/widget/{site['widget']}.js?key="
        f"{site['widget_key']}", raw=True, timeout=600)
    assert status == 404
    status, _, _ = http(f"{bare}/telegram/{site['telegram']}",
        update(1, 'hi'), {'Content-Type': 'application/json'}, raw=True)
    assert status == 404
    status, _, _ = http(f"{bare}/widget/{site['widget']}/message",
        {'text': 'hi'}, raw=True)
    assert status == 404


@pytest.mark.skipif(
    chromium_missing(), reason="Debian's chromium is not installed")
def test_widget_visitor_and_operator_in_browsers(site, shop,
        tmp_path_factory):
    "A visitor writes on a plain page, the operator answers in sao"
    folder, shop_url = shop
    script = (f"{site['url']}/widget/{site['widget']}.js"
        f"?key={site['widget_key']}")
    (folder / 'index.html').write_text(
        '<!doctype html><html><head><title>Shop</title></head><body>'
        '<h1>Our shop</h1>'
        f'<script src="{script}" async></script></body></html>')
    shots = tmp_path_factory.getbasetemp()
    profile = tmp_path_factory.mktemp('chromium-openlines')
    errors = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True,
            args=ARGS, viewport={'width': 1400, 'height': 900})
        try:
            visitor = browser.new_page()
            visitor.set_default_timeout(30_000)
            visitor.on('pageerror', lambda error: errors.append(str(error)))
            visitor.goto(shop_url + '/index.html')
            widget = visitor.locator('#openlines-widget')
            expect(widget).to_be_visible()
            widget.locator('input[name=name]').fill('Vera Visitor')
            widget.locator('input[name=email]').fill('vera@example.com')
            widget.locator('textarea[name=text]').fill(
                'Do you deliver to Kazan?')
            widget.get_by_role('button', name='Send').click()
            messages = widget.locator('.openlines-messages')
            expect(messages).to_contain_text('Do you deliver to Kazan?')
            expect(messages).to_contain_text('Welcome!')

            operator = browser.new_page()
            operator.set_default_timeout(30_000)
            operator.on('pageerror', lambda error: errors.append(str(error)))
            sao_login(operator, site['base'], site['name'], 'operator',
                OPERATOR_PASSWORD)
            menu = operator.locator('#menu')
            for name in ['CRM', 'Open Lines', 'Conversations']:
                menu.get_by_text(name, exact=True).first.click()
            tab = operator.locator('.tab-content .tab-pane.active')
            row = tab.locator('table tbody tr').filter(
                has_text='Vera Visitor')
            expect(row).to_be_visible()
            row.first.dblclick()
            expect(tab.locator('td').filter(
                    has_text='Do you deliver to Kazan?').first
                ).to_be_visible()
            reply_box = tab.locator('textarea:visible').last
            reply_box.fill('Yes, in two days.')
            tab.get_by_role('button', name=re.compile('^Send$')).click()

            # the visitor's page gets it by long polling
            expect(messages).to_contain_text('Yes, in two days.',
                timeout=60_000)
            visitor.screenshot(path=str(shots / 'openlines-visitor.png'))

            tab.get_by_role('button', name=re.compile('^Close$')).click()
            operator.locator('.modal-dialog:visible').get_by_role(
                'button', name=re.compile('OK')).click()
            # a closed conversation has no reply box buttons any more
            expect(tab.get_by_role('button', name=re.compile('^Send$'))
                ).to_be_hidden()
            operator.screenshot(path=str(shots / 'openlines-operator.png'))
        finally:
            browser.close()
    assert errors == []

    rpc = RPC(site['base'], site['name'], 'operator', OPERATOR_PASSWORD)
    conversation, = rpc.model('crm.openline.conversation', 'search_read',
        [('client_email', '=', 'vera@example.com')], 0, None, None,
        ['state', 'opportunity', 'activity'])
    assert conversation['state'] == 'closed'
    lead, = rpc.model('sale.opportunity', 'read',
        [conversation['opportunity']], ['crm_type', 'contact_email'])
    assert (lead['crm_type'], lead['contact_email']) == (
        'lead', 'vera@example.com')
    activity, = rpc.model('crm.activity', 'read', [conversation['activity']],
        ['description', 'opportunity', 'type'])
    assert activity['opportunity'] == lead['id']
    assert activity['type'] == 'chat'
    for text in ['Do you deliver to Kazan?', 'Yes, in two days.']:
        assert text in activity['description']
