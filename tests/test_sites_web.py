"""Published sites and web forms through a running trytond, over plain
HTTP and in Debian's Chromium.

One tenant with the sites feature, one without (every route answers 404
there), one server for the module.  The HostMiddleware maps the domain
shop.test to the tenant, as a site's own domain would be.
"""
import base64
import http.server
import json
import re
import threading
import time
import uuid
import urllib.error
import urllib.parse
import urllib.request
from functools import partial

import pytest
from playwright.sync_api import expect
from sao_client import (
    browser, chromium_missing, sao_login, without_database_list)
from tenant_server import (
    create_tenant, drop_tenant, serve, tenant_env, tenant_name)

PASSWORD = 'sites-web-test'
XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=1</script>'


class Rpc:
    "A JSON-RPC session of a Tryton user (what the web client speaks)"

    def __init__(self, base, database, login='admin', password=PASSWORD):
        self.url = f'{base}/{database}/rpc/'
        user_id, session = self._post({'id': 0, 'method': 'common.db.login',
                'params': [login, {'password': password}, 'en']})[:2]
        token = base64.b64encode(
            f'{login}:{user_id}:{session}'.encode()).decode()
        self.headers = {'Authorization': f'Session {token}'}
        self.context = self('model.res.user.get_preferences', True)

    def _post(self, payload, headers=None):
        request = urllib.request.Request(self.url,
            data=json.dumps(payload).encode(),
            headers={'Content-Type': 'application/json', **(headers or {})})
        with urllib.request.urlopen(request, timeout=120) as response:
            body = json.loads(response.read())
        assert 'error' not in body, body
        return body['result']

    def __call__(self, method, *params):
        context = getattr(self, 'context', {})
        return self._post({'id': 1, 'method': method,
                'params': [*params, context]}, self.headers)

    def create_site(self, template, name, slug):
        "Run the 'Create Site from Template' wizard; return the site"
        session, _, _ = self('wizard.crm.site.create.create')
        self('wizard.crm.site.create.execute', session, {'start': {
                    'template': template, 'name': name, 'slug': slug,
                    'language': 'en', 'company': self.context['company']}},
            'create_')
        self('wizard.crm.site.create.delete', session)
        return self.site(slug)

    def site(self, slug):
        site, = self('model.crm.site.search_read', [('slug', '=', slug)],
            0, None, None, ['id', 'home', 'pages'])
        return site

    def form_of(self, site):
        blocks = self('model.crm.site.block.search_read', [
                ('page.site', '=', site['id']), ('type', '=', 'form')],
            0, 1, None, ['form'])
        return blocks[0]['form']

    def leads(self, domain):
        return self('model.sale.opportunity.search_read', domain, 0, None,
            None, ['contact_name', 'utm_source', 'utm_campaign', 'crm_type',
                'source.code'])


class Http:
    "Plain HTTP with a cookie jar and no redirect following"

    def __init__(self):
        self.cookies = {}

    def __call__(self, url, data=None, headers=None, method=None):
        headers = dict(headers or {})
        if self.cookies:
            headers['Cookie'] = '; '.join(
                f'{k}={v}' for k, v in self.cookies.items())
        if isinstance(data, dict):
            data = urllib.parse.urlencode(data).encode()
            headers.setdefault(
                'Content-Type', 'application/x-www-form-urlencoded')
        request = urllib.request.Request(url, data=data, headers=headers,
            method=method)
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            response = opener.open(request, timeout=120)
        except urllib.error.HTTPError as error:
            response = error
        with response:
            body = response.read().decode('utf-8', 'replace')
        for value in response.headers.get_all('Set-Cookie') or []:
            name, _, rest = value.partition('=')
            self.cookies[name] = rest.split(';')[0]
        return response.status, response.headers, body


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def token_of(html):
    return re.search(r'name="_t" value="([^"]+)"', html).group(1)


class FillClock:
    """When a visitor was shown a form: wait() lets the form's minimum fill
    time pass, as a person takes at least that long to fill it in (the
    anti-spam settings stay the defaults)"""

    def __init__(self, rpc, form):
        record, = rpc('model.crm.site.form.read', [form], ['min_fill_seconds'])
        self.seconds = record['min_fill_seconds']
        assert self.seconds > 0
        self.shown = time.monotonic()

    def wait(self):
        time.sleep(max(0.0, self.shown + self.seconds - time.monotonic()))


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('crm_sites_web')
    name = tenant_name('sitesweb')
    other = tenant_name('nosites')
    config = f"""
        [wsgi middleware]
        crm_sites = trytond.modules.crm_sites.host.HostMiddleware
        [crm_sites]
        hosts = shop.test={name}
        """
    with tenant_env(tmp, config, password=PASSWORD) as (env, port):
        try:
            create_tenant(env, name, '--features', 'all')
            create_tenant(env, other)
            # sao's login types the database (listing off, as in
            # production)
            with serve(without_database_list(env), port, name) as base:
                rpc = Rpc(base, name)
                site = rpc.create_site('services', 'Acme', 'acme')
                form = rpc.form_of(site)
                rpc('model.crm.site.page.publish', [site['home']])
                yield {'base': base, 'name': name, 'other': other,
                    'rpc': rpc, 'site': site, 'form': form,
                    'url': f'{base}/{name}/sites/acme/'}
        finally:
            drop_tenant(env, name)
            drop_tenant(env, other)


def test_published_page_and_its_headers(server):
    http = Http()
    status, headers, body = http(server['url'])
    assert status == 200
    assert '<form class="crm-form"' in body and '<h1>Acme</h1>' in body
    assert "script-src 'self'" in headers['Content-Security-Policy']
    assert headers['X-Content-Type-Options'] == 'nosniff'
    assert 'crm_v' in http.cookies
    assert '__CRM_FORM_TOKEN' not in body
    # the page's own assets
    status, headers, css = http(
        f"{server['base']}/{server['name']}/sites/_static/site.css")
    assert status == 200 and '.crm-form' in css
    # the site without its trailing slash
    status, headers, _ = http(server['url'].rstrip('/'))
    assert status == 301 and headers['Location'].endswith('/sites/acme/')


def test_drafts_and_unknown_answer_404(server):
    http = Http()
    base, name = server['base'], server['name']
    assert http(server['url'] + 'privacy')[0] == 404  # draft
    assert http(f'{base}/{name}/sites/nosuch/')[0] == 404
    assert http(shared(server, '_form/' + '0' * 32), {'a': 1})[0] == 404
    # a tenant without the sites feature: nothing there
    other = server['other']
    for path in ['sites/acme/', 'sites/_static/site.css',
            'sites/_form/%s.json' % ('0' * 32), 'sites-host/']:
        assert http(f'{base}/{other}/{path}')[0] == 404, path


def test_sitemap_and_robots(server):
    http = Http()
    status, headers, body = http(server['url'] + 'sitemap.xml')
    assert status == 200 and headers['Content-Type'].startswith(
        'application/xml')
    assert f"<loc>{server['url']}</loc>" in body
    assert 'privacy' not in body  # a draft is not listed
    status, _, body = http(server['url'] + 'robots.txt')
    assert status == 200 and f"Sitemap: {server['url']}sitemap.xml" in body


def test_site_on_its_own_domain(server):
    rpc, http = server['rpc'], Http()
    rpc('model.crm.site.write', [server['site']['id']],
        {'domains': 'shop.test'})
    status, _, body = http(server['base'] + '/', headers={'Host': 'shop.test'})
    assert status == 200 and '<h1>Acme</h1>' in body
    status, _, body = http(server['base'] + '/sitemap.xml',
        headers={'Host': 'shop.test'})
    assert '<loc>http://shop.test/</loc>' in body
    status, _, css = http(server['base'] + '/_static/site.css',
        headers={'Host': 'shop.test'})
    assert status == 200 and '.crm-form' in css
    # the web client stays at / for any other host
    status, _, body = http(server['base'] + '/')
    assert status == 200 and 'sao' in body.lower()


@pytest.fixture(scope='module')
def view(server):
    "A visitor's view of the home page: cookies, the form's token, when"
    http = Http()
    url = server['url'] + '?utm_source=yandex&utm_campaign=plainpost'
    _, _, html = http(url)
    return {'http': http, 'url': url, 'token': token_of(html),
        'clock': FillClock(server['rpc'], server['form'])}


def test_form_post_creates_lead_with_utm(server, view):
    rpc, http = server['rpc'], view['http']
    values = {'name': 'Plain Poster', 'phone': '+7 916 000-11-22',
        'email': 'plain@example.com', 'message': 'Hello', '_consent': '1',
        '_t': view['token'], '_page': server['site']['home']}
    url = shared(server, '_form/' + _uuid(server))
    headers = {'Referer': view['url'], 'Origin': server['base']}
    # at once: refused, the page comes back with what was typed and the
    # same token (the fill time counts from when the form was shown)
    status, _, body = http(url, values, headers=headers)
    assert status == 400 and 'sent too fast' in body
    assert 'value="Plain Poster"' in body and token_of(body) == view['token']
    view['clock'].wait()
    status, _, body = http(url, values, headers=headers)
    assert status == 200, body
    assert 'Thank you' in body
    lead, = rpc.leads([('contact_name', '=', 'Plain Poster')])
    assert (lead['utm_source'], lead['utm_campaign']) == (
        'yandex', 'plainpost')
    assert lead['source.']['code'] == 'WEBFORM'
    submission, = rpc('model.crm.site.form.submission.search_read',
        [('opportunity', '=', lead['id'])], 0, None, None,
        ['page', 'visitor', 'first_visit'])
    assert submission['page'] == server['site']['home']
    assert submission['visitor'] and submission['first_visit']


def shared(server, path):
    "The address of what all sites of the tenant share (forms, assets)"
    return f"{server['base']}/{server['name']}/sites/{path}"


def _uuid(server):
    if 'form_uuid' not in server:
        form, = server['rpc']('model.crm.site.form.read', [server['form']],
            ['uuid'])
        server['form_uuid'] = form['uuid']
    return server['form_uuid']


def test_invalid_post_keeps_what_was_typed(server, view):
    http = Http()
    view['clock'].wait()
    status, _, body = http(shared(server, '_form/' + _uuid(server)), {
            'name': '<b>Ann</b>', 'phone': '12', 'email': 'ann@example.com',
            'message': 'My long question', '_t': view['token'],
            '_page': server['site']['home']})
    assert status == 400
    assert 'value="&lt;b&gt;Ann&lt;/b&gt;"' in body
    assert 'My long question</textarea>' in body
    assert 'not a valid phone number' in body
    assert 'consent is required' in body
    assert 'blk-hero' in body  # the page itself, with the form


def test_json_post_cors_and_size(server, view):
    http = Http()
    url = shared(server, '_form/' + _uuid(server))
    evil = {'Origin': 'http://evil.test'}
    assert http(url, method='OPTIONS', headers=evil)[0] == 403
    assert http(url + '.json', headers=evil)[0] == 403
    status, _, body = http(url, json.dumps({'name': 'Evil'}).encode(),
        headers=dict(evil, **{'Content-Type': 'application/json'}))
    assert status == 403
    server['rpc']('model.crm.site.form.write', [server['form']],
        {'allowed_origins': 'http://friend.test'})
    status, headers, _ = http(url, method='OPTIONS',
        headers={'Origin': 'http://friend.test'})
    assert status == 204
    assert headers['Access-Control-Allow-Origin'] == 'http://friend.test'
    status, headers, body = http(url + '.json',
        headers={'Origin': 'http://friend.test'})
    definition = json.loads(body)
    assert [f['key'] for f in definition['fields']] == [
        'name', 'phone', 'email', 'message']
    assert 'mapping' not in definition['fields'][0]
    assert definition['token'] and definition['close_label']
    # a token the visitor has had for the minimum fill time
    view['clock'].wait()
    status, _, body = http(url, json.dumps({'name': '', '_t':
                view['token']}).encode(), headers={
            'Origin': 'http://friend.test',
            'Content-Type': 'application/json'})
    assert status == 400
    assert set(json.loads(body)['errors']) >= {'name', 'phone', '_consent'}
    status, _, body = http(url, json.dumps({'message': 'x' * 70000}).encode(),
        headers={'Content-Type': 'application/json'})
    assert status == 413


def test_publish_replaces_cached_page(server):
    rpc, http = server['rpc'], Http()
    hero, = rpc('model.crm.site.block.search', [
            ('page', '=', server['site']['home']), ('type', '=', 'hero')])
    rpc('model.crm.site.block.write', [hero], {'heading': XSS})
    assert '<h1>Acme</h1>' in http(server['url'])[2]  # still published
    rpc('model.crm.site.page.publish', [server['site']['home']])
    body = http(server['url'])[2]
    assert '&lt;script&gt;window.__xss=1&lt;/script&gt;' in body
    assert '<script>window.__xss' not in body


def test_preview_of_a_draft(server):
    rpc, http = server['rpc'], Http()
    privacy, = rpc('model.crm.site.page.search', [
            ('site', '=', server['site']['id']), ('slug', '=', 'privacy')])
    action = rpc('model.crm.site.page.preview', [privacy])
    url = server['base'] + action['url']
    status, headers, body = http(url)
    assert status == 200 and 'Privacy policy' in body
    assert headers['X-Robots-Tag'] == 'noindex'
    assert http(url[:-1] + ('0' if url[-1] != '0' else '1'))[0] == 404


def test_page_views_counted(server):
    http = Http()
    http(server['url'])
    status, _, _ = http(shared(server, '_hit'), {
            'page': server['site']['home'], 'utm_campaign': 'views'})
    assert status == 204
    rows = server['rpc']('model.crm.site.analytics.campaign.search_read',
        [('utm_campaign', '=', 'views')], 0, None, None,
        ['views', 'visitors'])
    assert [(r['views'], r['visitors']) for r in rows] == [(1, 1)]


# In the browser ------------------------------------------------------

browser_only = pytest.mark.skipif(
    chromium_missing(), reason="Debian's chromium is not installed")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class StaticSite:
    "Another origin: a static page embedding the form"

    def __init__(self, folder):
        handler = partial(_QuietHandler, directory=str(folder))
        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0),
            handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever,
            daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *args):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope='module')
def chromium(tmp_path_factory):
    with browser() as context:
        yield context


@browser_only
def test_browser_template_publish_submit(server, chromium):
    "Create a site from a template in sao, publish, submit with UTM"
    base, name, rpc = server['base'], server['name'], server['rpc']
    page = chromium.new_page()
    page.set_default_timeout(60_000)
    sao_login(page, base, name, 'admin', PASSWORD)
    for item in ['CRM', 'Sites', 'Create Site from Template']:
        page.locator('#menu').get_by_text(item, exact=True).first.click()
    dialog = page.locator('.modal-dialog:visible').last
    dialog.locator('input[name="name"]').first.fill('Browser Co')
    dialog.locator('input[name="name"]').first.press('Tab')
    # the name's on_change proposes an address name; ours replaces it
    slug_input = dialog.locator('input[name="slug"]').first
    expect(slug_input).to_have_value('browser-co')
    slug = 'browser-' + uuid.uuid4().hex[:6]
    slug_input.fill(slug)
    slug_input.press('Tab')
    dialog.locator('select[name="template"]').first.select_option(
        label='Event')
    dialog.locator('select[name="language"]').first.select_option(
        label='English')
    dialog.get_by_role('button', name=re.compile('Create')).click()
    # the wizard opens the new site
    expect(page.locator('.tab-content .tab-pane.active').get_by_text(
            slug).first).to_be_visible()
    # publish its home page from the page form
    for item in ['Pages']:
        page.locator('#menu').get_by_text(item, exact=True).first.click()
    tab = page.locator('.tab-content .tab-pane.active')
    tab.locator('table tbody tr').filter(
        has_text=f'/sites/{slug}/').first.dblclick()
    # the page form is loaded before its button is used
    expect(tab.locator('input[name="slug"]').first).to_have_value('index')
    tab.get_by_role('button', name=re.compile('^Publish')).click()
    tab.get_by_role('button', name=re.compile('Unpublish')).wait_for()
    site = rpc.site(slug)
    home, = rpc('model.crm.site.page.read', [site['home']], ['state'])
    assert home['state'] == 'published'
    # the visitor, under the form's default anti-spam settings
    visitor = chromium.new_page()
    visitor.goto(f'{base}/{name}/sites/{slug}/'
        '?utm_source=google&utm_campaign=browser')
    clock = FillClock(rpc, rpc.form_of(site))
    visitor.get_by_role('heading', name='Browser Co').first.wait_for()
    fields = [(visitor.get_by_label(re.compile('Your name')),
            'Browser Visitor'),
        (visitor.get_by_label(re.compile('Phone')), '+7 916 555-44-33')]
    for field, value in fields:
        field.fill(value)
    visitor.get_by_label(re.compile('personal data')).check()
    visitor.get_by_role('button', name='Send').click()
    # faster than a person: refused with a message, nothing typed is lost
    visitor.get_by_text('The form was sent too fast').wait_for()
    for field, value in fields:
        expect(field).to_have_value(value)
    expect(visitor.get_by_label(re.compile('personal data'))).to_be_checked()

    # meanwhile the editor previews the site's draft page from sao
    page.locator('#menu').get_by_text('Pages', exact=True).first.click()
    tab = page.locator('.tab-content .tab-pane.active')
    tab.locator('table tbody tr').filter(
        has_text=f'/sites/{slug}/privacy').first.dblclick()
    expect(tab.locator('input[name="slug"]').first).to_have_value('privacy')
    with chromium.expect_page() as opened:
        tab.get_by_role('button', name=re.compile('Preview')).click()
    preview = opened.value
    preview.get_by_role('heading', name='Privacy policy').first.wait_for()
    assert f'/{name}/sites/_preview/' in preview.url
    # the draft itself is not public
    assert preview.goto(f'{base}/{name}/sites/{slug}/privacy').status == 404

    clock.wait()
    visitor.get_by_role('button', name='Send').click()
    visitor.get_by_text('Thank you').wait_for()
    lead, = rpc.leads([('contact_name', '=', 'Browser Visitor')])
    assert (lead['utm_source'], lead['utm_campaign']) == (
        'google', 'browser')
    # and the sales user finds it among the leads
    page.locator('#menu').get_by_text('Leads', exact=True).first.click()
    tab = page.locator('.tab-content .tab-pane.active')
    tab.get_by_text('All', exact=True).first.click()
    expect(tab.locator('table tbody tr').filter(
            has_text='Browser Visitor').first).to_be_visible()


@browser_only
def test_browser_embedded_form_other_origin(server, chromium, tmp_path):
    "The form inline and as a pop-up on a page of another origin"
    rpc, base, name = server['rpc'], server['base'], server['name']
    endpoint = shared(server, '_form/' + _uuid(server))
    for file, mode in [('index.html', 'inline'), ('popup.html', 'popup')]:
        (tmp_path / file).write_text(
            '<!DOCTYPE html><html><body><h1>Partner shop</h1>'
            f'<script src="{base}/{name}/sites/_static/embed.js" '
            f'data-form="{_uuid(server)}" data-mode="{mode}" '
            'data-label="Call me back"></script></body></html>')
    with StaticSite(tmp_path) as other:
        origin = f'http://127.0.0.1:{other.port}'
        rpc('model.crm.site.form.write', [server['form']],
            {'allowed_origins': origin})
        page = chromium.new_page()
        page.goto(origin + '/index.html?utm_campaign=embedded')
        your_name = page.get_by_label(re.compile('Your name'))
        your_name.wait_for()
        clock = FillClock(rpc, server['form'])
        your_name.fill('Embedded Visitor')
        page.get_by_label(re.compile('Phone')).fill('+7 916 777-66-55')
        page.get_by_role('button', name='Send').click()
        # faster than a person: refused with a message, input kept
        page.get_by_text('The form was sent too fast').wait_for()
        expect(your_name).to_have_value('Embedded Visitor')

        # the pop-up: its button, no form shown until it is clicked
        popup = chromium.new_page()
        popup.goto(origin + '/popup.html?utm_campaign=popup')
        opener = popup.get_by_role('button', name='Call me back')
        opener.wait_for()
        popup_clock = FillClock(rpc, server['form'])
        expect(popup.locator('dialog')).to_be_hidden()

        # the same pages from an origin the form does not allow: no form,
        # and a post of its own is refused before it is sent
        refused = chromium.new_page()
        for file in ['index.html', 'popup.html']:
            refused.goto(f'http://localhost:{other.port}/{file}')
            refused.get_by_text('Partner shop').wait_for()
            refused.wait_for_load_state('networkidle')
            assert refused.locator('form, button').count() == 0, file
        assert refused.evaluate('''url => fetch(url, {method: 'POST',
                headers: {'Content-Type': 'application/json'},
                body: JSON.stringify({name: 'Refused Visitor',
                    phone: '+79160000001', _consent: '1'})})
            .then(response => response.status, () => 'refused')''',
            endpoint) == 'refused'

        clock.wait()
        page.get_by_role('button', name='Send').click()
        # server-side validation comes back next to the field, input kept
        page.get_by_text('Your consent is required').wait_for()
        expect(your_name).to_have_value('Embedded Visitor')
        page.get_by_label(re.compile('personal data')).check()
        page.get_by_role('button', name='Send').click()
        page.get_by_text('Thank you').wait_for()
        lead, = rpc.leads([('contact_name', '=', 'Embedded Visitor')])
        assert lead['utm_campaign'] == 'embedded'

        opener.click()
        dialog = popup.get_by_role('dialog')
        expect(dialog).to_be_visible()
        dialog.get_by_label(re.compile('Your name')).fill('Popup Visitor')
        dialog.get_by_label(re.compile('Phone')).fill('+7 916 888-77-66')
        dialog.get_by_label(re.compile('personal data')).check()
        popup_clock.wait()
        dialog.get_by_role('button', name='Send').click()
        dialog.get_by_text('Thank you').wait_for()
        lead, = rpc.leads([('contact_name', '=', 'Popup Visitor')])
        assert lead['utm_campaign'] == 'popup'
        assert rpc.leads([('contact_name', '=', 'Refused Visitor')]) == []


@browser_only
def test_browser_xss_shows_as_text(server, chromium):
    rpc = server['rpc']
    hero, = rpc('model.crm.site.block.search', [
            ('page', '=', server['site']['home']), ('type', '=', 'hero')])
    rpc('model.crm.site.block.write', [hero], {'heading': XSS})
    rpc('model.crm.site.page.publish', [server['site']['home']])
    page = chromium.new_page()
    page.goto(server['url'])
    page.get_by_role('heading', name=XSS).wait_for()
    assert page.evaluate('window.__xss') is None
