# Public HTTP side of the sites:
#   /<db>/sites/<site>/[<slug>]          published pages (404 for drafts)
#   /<db>/sites/<site>/sitemap.xml, robots.txt
#   /<db>/sites/_static/<file>           CSS, page script, embed script
#   /<db>/sites/_form/<uuid>[.json]      form post (HTML or JSON, CORS)
#   /<db>/sites/_hit                     page view beacon
#   /<db>/sites/_preview/<token>         draft preview for the editor
#   /<db>/sites-host/<path>              a site on its own domain (Host)
import hashlib
import json
import time
from hmac import compare_digest
from urllib.parse import parse_qs, urlsplit

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.utils import redirect

from trytond.i18n import gettext
from trytond.protocols.wrappers import Response, set_max_request_size
from trytond.transaction import Transaction
from trytond.wsgi import app

from trytond.modules.crm_portal.public import (
    client_address, public_route, run, take_rate)
from trytond.modules.crm_sites import pagecache, serve
from trytond.modules.crm_sites.host import ORIGIN_KEY, FormOrigin
from trytond.modules.crm_sites.page import preview_signature
from trytond.modules.crm_sites.render import render_form_page, token_marker
from trytond.modules.crm_sites.submission import (
    UTM, FormError, OriginRefused, fill_token, visitor_of)
from trytond.modules.crm_sites.web import (
    cors, html_response, not_found, own_origins, secure, set_visitor,
    static_response, visitor_cookie)

MAX_FORM_SIZE = 64 * 1024
MODEL = 'crm.site'
LANGUAGES = ['ru', 'en']


app.wsgi_app = FormOrigin(app.wsgi_app)


def _counters(site):
    return [k for k in ['yandex_metrika', 'google_analytics']
        if getattr(site, k, None)]


def _as_public(request, func):
    "Run func() as the public user, in the visitor's language"
    transaction = Transaction()
    language = 'ru'
    if request is not None:
        language = request.accept_languages.best_match(
            LANGUAGES, default=LANGUAGES[0])
    with transaction.set_user(serve.public_user()), \
            transaction.set_context(language=language):
        return func()


# Pages ---------------------------------------------------------------

def _page(site_of, slug):
    "Load the published page: plain data a worker may keep a moment"
    def load():
        site = site_of()
        if not site:
            return None
        found = serve.published_page(site, slug)
        if not found or found[1] is None:
            return None
        html = found[1]
        return ('page', html, _counters(site),
            serve.form_secrets(serve.token_uuids(html)))
    return load


def _sitemap(site_of, base):
    def load():
        site = site_of()
        if not site:
            return None
        urls = ''.join(
            '<url><loc>%s%s</loc><lastmod>%s</lastmod></url>' % (
                base, '' if slug == 'index' else slug,
                date.date().isoformat() if date else '')
            for slug, date in serve.published_pages(site))
        return ('application/xml', '<?xml version="1.0" encoding="UTF-8"?>'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            '%s</urlset>' % urls)
    return load


def _robots(site_of, base):
    def load():
        if not site_of():
            return None
        return ('text/plain',
            'User-agent: *\nAllow: /\nSitemap: %ssitemap.xml\n' % base)
    return load


def _site_path(request, pool, site_key, site_of, path, base):
    "Answer path (what follows the site's root) of the site"
    database = pool.database_name
    if path == 'sitemap.xml':
        load = _sitemap(site_of, base)
    elif path == 'robots.txt':
        load = _robots(site_of, base)
    elif '/' in path or path.startswith('_'):
        return not_found()
    else:
        load = _page(site_of, path)

    # Read-only: a few parametrised SELECTs on the sites' own tables, no
    # ORM access, so no user's rights to apply (the public user is for
    # the writes of forms and views).
    content = pagecache.cached(database, (site_key, path, base),
        lambda: run(database, 0, True, {}, lambda: (load(), False)))
    if content is None:
        return not_found()
    if content[0] == 'page':
        _, html, counters, secrets = content
        now = time.time()
        response = html_response(serve.fill_tokens(html, secrets, now),
            counters=counters, request=request,
            etag=serve.page_etag(html, now))
        return set_visitor(response, request)
    content_type, body = content
    return secure(Response(body, 200,
            content_type=content_type + '; charset=utf-8'))


@app.route('/<database_name>/sites/<site_slug>', methods=['GET'])
@public_route(MODEL, not_found_response=not_found)
def site_root(request, pool, site_slug):
    return redirect(request.path + '/', 301)


@app.route('/<database_name>/sites/<site_slug>/', methods=['GET'])
@app.route('/<database_name>/sites/<site_slug>/<path:path>',
    methods=['GET'])
@public_route(MODEL, not_found_response=not_found)
def site_page(request, pool, site_slug, path=''):
    base = '%s%s/sites/%s/' % (
        request.host_url, pool.database_name, site_slug)
    return _site_path(request, pool, 'slug:' + site_slug,
        lambda: serve.site_by_slug(site_slug), path, base)


# A site on its own domain: the reverse proxy (or HostMiddleware) sends
# https://shop.example.com/<path> here with the Host header kept.
@app.route('/<database_name>/sites-host/', methods=['GET', 'POST', 'OPTIONS'])
@app.route('/<database_name>/sites-host/<path:path>',
    methods=['GET', 'POST', 'OPTIONS'])
@set_max_request_size(MAX_FORM_SIZE)
@public_route(MODEL, not_found_response=not_found)
def site_host(request, pool, path=''):
    host = request.host
    if path.startswith('_static/'):
        return static_response(path[len('_static/'):], request)
    if path.startswith('_form/'):
        return _form_dispatch(request, pool, path[len('_form/'):])
    if path == '_hit':
        return _hit(request, pool)
    if request.method != 'GET':
        return not_found()
    return _site_path(request, pool, 'host:' + host,
        lambda: serve.site_by_host(host), path, request.host_url)


# Static files, preview ----------------------------------------------

@app.route('/<database_name>/sites/_static/<name>', methods=['GET'])
@public_route(MODEL, not_found_response=not_found)
def site_static(request, pool, name):
    return static_response(name, request)


@app.route('/<database_name>/sites/_preview/<token>', methods=['GET'])
@public_route(MODEL, not_found_response=not_found)
def site_preview(request, pool, token):
    "The draft of a page, for whoever the editor gave the link"
    try:
        page_id, expires, signature = token.split('-')
        page_id, expires = int(page_id), int(expires)
    except ValueError:
        return not_found()
    if expires < time.time():
        return not_found()

    def work():
        Page = pool.get('crm.site.page')
        pages = Page.search([('id', '=', page_id)], limit=1)
        if not pages:
            return not_found(), False
        page, = pages
        expected = preview_signature(page.site.secret, page.id, expires)
        if not compare_digest(expected, signature):
            return not_found(), False
        html = serve.fill_tokens(
            Page.render(page.id, page.snapshot(), page.site))
        response = html_response(html, request=request, cache=False)
        response.headers['X-Robots-Tag'] = 'noindex'
        return response, False
    return run(pool.database_name, 0, True, {},
        lambda: _as_public(request, work))


# Page views --------------------------------------------------------

@app.route('/<database_name>/sites/_hit', methods=['POST'])
@set_max_request_size(4096)
@public_route(MODEL, not_found_response=not_found)
def site_hit(request, pool):
    return _hit(request, pool)


def _hit(request, pool):
    if request.method != 'POST':
        return not_found()
    try:
        page_id = int(request.form.get('page', ''))
    except ValueError:
        return not_found()
    visitor, _ = visitor_of(visitor_cookie(request))
    address = client_address(request)

    def work():
        Hit = pool.get('crm.site.hit')
        if not take_rate('sites.hit:' + address, rate=2, burst=60):
            return Response(status=429), True
        if not Hit.record(page_id, visitor or address_key(address),
                request.form.get('utm_source'),
                request.form.get('utm_campaign')):
            return not_found(), False
        return Response(status=204), True
    return run(pool.database_name, 0, False, {},
        lambda: _as_public(request, work))


def address_key(address):
    "A visitor without cookie counted by a hash of the address"
    return hashlib.sha256(address.encode('utf-8')).hexdigest()[:32]


# Forms -------------------------------------------------------------

@app.route('/<database_name>/sites/_form/<path:name>',
    methods=['GET', 'POST', 'OPTIONS'])
@set_max_request_size(MAX_FORM_SIZE)
@public_route(MODEL, not_found_response=not_found)
def site_form(request, pool, name):
    return _form_dispatch(request, pool, name)


def _form_dispatch(request, pool, name):
    origin = (request.environ.get(ORIGIN_KEY)
        or request.headers.get('Origin'))
    if name.endswith('.json') and request.method == 'GET':
        return _form_definition(request, pool, name[:-len('.json')], origin)
    if request.method == 'OPTIONS':
        return _form_preflight(request, pool, name, origin)
    if request.method == 'POST':
        return _form_post(request, pool, name, origin)
    return not_found()


def _load_form(pool, uuid):
    "The FormSpec of the active form uuid, or None"
    form = pool.get('crm.site.form').spec(uuid)
    return form if form and form.active else None


def _json(body, status=200, origin=None):
    response = Response(json.dumps(body, ensure_ascii=False), status,
        content_type='application/json; charset=utf-8')
    response.headers['Cache-Control'] = 'no-store'
    return secure(cors(response, origin))


def _form_definition(request, pool, uuid, origin):
    def work():
        form = _load_form(pool, uuid)
        if not form:
            return not_found(), False
        if not form.origin_allowed(origin, own_origins(request)):
            return _json({'error': 'ORIGIN_NOT_ALLOWED'}, 403), False
        data = form.definition()
        data.pop('id')
        for field in data['fields']:
            field.pop('mapping')
        data['token'] = fill_token(form)
        # the embed script's own words, in the visitor's language
        data['close_label'] = gettext('crm_sites.msg_embed_close')
        data['error_message'] = gettext('crm_sites.msg_embed_error')
        return _json(data, origin=origin), False
    return run(pool.database_name, 0, True, {},
        lambda: _as_public(request, work))


def _form_preflight(request, pool, uuid, origin):
    def work():
        form = _load_form(pool, uuid)
        if not form:
            return not_found(), False
        if not origin or not form.origin_allowed(
                origin, own_origins(request)):
            return _json({'error': 'ORIGIN_NOT_ALLOWED'}, 403), False
        return cors(Response(status=204), origin), False
    return run(pool.database_name, 0, True, {},
        lambda: _as_public(request, work))


def _read_post(request):
    "The posted values (JSON object or form fields); raise ValueError"
    length = request.content_length
    if length is not None and length > MAX_FORM_SIZE:
        raise OverflowError
    if request.mimetype == 'application/json':
        data = request.stream.read(MAX_FORM_SIZE + 1)
        if len(data) > MAX_FORM_SIZE:
            raise OverflowError
        values = json.loads(data.decode('utf-8') or '{}')
        if not isinstance(values, dict):
            raise ValueError
        return {str(k): v for k, v in values.items()
            if isinstance(v, (str, int, float, bool)) or v is None}, True
    if request.files:
        raise ValueError
    return {k: v for k, v in request.form.items()}, False


def _utm_of_referrer(request):
    "UTM parameters of the page the visitor posted from (no script)"
    query = parse_qs(urlsplit(request.referrer or '').query)
    return {k: query[k][0] for k in UTM if query.get(k)}


def _form_post(request, pool, uuid, origin):
    wants_json = 'application/json' in (request.mimetype or '') or (
        request.accept_mimetypes.best == 'application/json')
    try:
        values, wants_json = _read_post(request)
    except (OverflowError, RequestEntityTooLarge):
        return _json({'error': 'REQUEST_ENTITY_TOO_LARGE'}, 413, origin)
    except (ValueError, UnicodeDecodeError):
        return _json({'error': 'INVALID_REQUEST'}, 400, origin)
    address = client_address(request)
    visitor, first_visit = visitor_of(visitor_cookie(request))
    meta = dict(_utm_of_referrer(request), visitor=visitor,
        first_visit=first_visit, referrer=request.referrer,
        page=values.get('_page') if str(values.get('_page', '')).isdigit()
        else None)

    def work():
        Submission = pool.get('crm.site.form.submission')
        try:
            form = Submission.post(uuid, values, meta, origin,
                own_origins(request), address)
        except OriginRefused:
            return _json({'error': 'ORIGIN_NOT_ALLOWED'}, 403), False
        except FormError as error:
            # the rate slot taken stays taken
            return _answer_error(request, pool, _load_form(pool, uuid),
                values, error, wants_json, origin, meta), True
        if form is None:
            return not_found(), False
        return _answer_success(request, pool, form, wants_json, origin,
            meta), True
    return run(pool.database_name, 0, False, {},
        lambda: _as_public(request, work))


def _page_state(pool, page_id, form, state):
    "The published page page_id re-rendered with the form's state, or None"
    Page = pool.get('crm.site.page')
    pages = Page.search([
            ('id', '=', int(page_id)),
            ('state', '=', 'published'),
            ('site.company', '=', form.company),
            ], limit=1)
    if not pages or not pages[0].published_version:
        return None
    page, = pages
    snapshot = json.loads(page.published_version.snapshot)
    if not any(b.get('form') == form.id for b in snapshot['blocks']):
        return None
    html = Page.render(page.id, snapshot, page.site,
        form_state={form.uuid: state})
    return html, _counters(page.site)


def _form_html(pool, form, state, meta, status, token=None):
    """The page of the form (or the form alone) with state; token: the
    visitor's own fill-time token, kept so that the fill time still counts
    from when the form was first shown (a fresh one for any other form)"""
    found = None
    if meta.get('page'):
        found = _page_state(pool, meta['page'], form, state)
    if found:
        html, counters = found
    else:
        site = {'name': form.name, 'language': Transaction().language}
        definition = form.definition()
        if status == 200:
            definition['fields'] = None
        html, counters = render_form_page(site, definition, state), []
    if token:
        html = html.replace(token_marker(form.uuid), token)
    return html_response(serve.fill_tokens(html), status,
        counters=counters, cache=False)


def _answer_error(request, pool, form, values, error, wants_json, origin,
        meta):
    if wants_json:
        return _json({'error': 'INVALID_FORM', 'message': error.message,
                'errors': error.errors}, error.status, origin)
    kept = {k: str(v) for k, v in values.items()
        if not k.startswith('_') or k in {'_consent', '_referrer'}}
    state = {'values': kept, 'errors': error.errors,
        'message': error.message, 'refused': True}
    Submission = pool.get('crm.site.form.submission')
    token = values.get('_t')
    if Submission.token_age(form, token) is None:
        token = None
    return _form_html(pool, form, state, meta, error.status,
        token and str(token))


def _answer_success(request, pool, form, wants_json, origin, meta):
    if wants_json:
        return _json({'ok': True, 'message': form.success_message,
                'redirect': form.redirect_url or None}, 200, origin)
    if form.redirect_url:
        return secure(redirect(form.redirect_url, 303))
    return _form_html(pool, form, {'message': form.success_message}, meta,
        200)
