# What every answer of the public site carries: security headers (CSP),
# the visitor cookie, static assets, CORS for the forms' allowed origins.
import functools
import hashlib
import mimetypes
import os
import secrets
import time

from trytond.protocols.wrappers import Response

from .sanitize import video_frame_hosts

STATIC = os.path.join(os.path.dirname(__file__), 'static')
STATIC_FILES = {'site.css', 'site.js', 'embed.js', 'placeholder.svg'}
VISITOR_COOKIE = 'crm_v'
COUNTER_HOSTS = {
    'yandex_metrika': ['https://mc.yandex.ru'],
    'google_analytics': ['https://www.googletagmanager.com',
        'https://www.google-analytics.com'],
    }
_static_cache = {}


@functools.lru_cache(maxsize=16)
def _csp(counters):
    return csp(counters)


def csp(counters=()):
    "The Content-Security-Policy of a page (no inline script or style)"
    extra = []
    for counter in counters:
        extra.extend(COUNTER_HOSTS.get(counter, []))
    scripts = ' '.join(["'self'"] + extra)
    return '; '.join([
            "default-src 'self'",
            "script-src %s" % scripts,
            "style-src 'self'",
            "img-src 'self' https: data:",
            "connect-src %s" % scripts,
            "frame-src %s" % ' '.join(video_frame_hosts()),
            "form-action 'self' https:",
            "frame-ancestors 'self'",
            "base-uri 'none'",
            "object-src 'none'",
            ])


def secure(response, counters=()):
    "Add the security headers to response"
    headers = response.headers
    headers['Content-Security-Policy'] = _csp(tuple(counters))
    headers['X-Content-Type-Options'] = 'nosniff'
    headers['Referrer-Policy'] = 'strict-origin-when-cross-origin'
    headers['X-Frame-Options'] = 'SAMEORIGIN'
    headers['Permissions-Policy'] = 'camera=(), microphone=(), geolocation=()'
    return response


def html_response(html, status=200, counters=(), request=None, cache=True,
        etag=None):
    response = Response(html, status,
        content_type='text/html; charset=utf-8')
    if cache and request is not None and status == 200:
        if etag is None:
            etag = hashlib.sha256(html.encode('utf-8')).hexdigest()[:32]
        response.set_etag(etag)
        response.headers['Cache-Control'] = 'no-cache'
        response.make_conditional(request)
    else:
        response.headers['Cache-Control'] = 'no-store'
    return secure(response, counters)


def not_found():
    response = Response('Not Found', 404,
        content_type='text/plain; charset=utf-8')
    return secure(response)


def static_response(name, request):
    "A file of the static folder (read once per worker: it never changes)"
    if name not in STATIC_FILES:
        return not_found()
    if name not in _static_cache:
        with open(os.path.join(STATIC, name), 'rb') as file:
            _static_cache[name] = file.read()
    data = _static_cache[name]
    mimetype = mimetypes.guess_type(name)[0] or 'application/octet-stream'
    if mimetype.startswith('text/') or mimetype.endswith('javascript'):
        mimetype += '; charset=utf-8'
    response = Response(data, 200, content_type=mimetype)
    response.set_etag(hashlib.sha256(data).hexdigest()[:32])
    response.headers['Cache-Control'] = 'public, max-age=3600'
    if name == 'embed.js':
        # loaded by <script> on other sites
        response.headers['Cross-Origin-Resource-Policy'] = 'cross-origin'
    response.make_conditional(request)
    return secure(response)


def visitor_cookie(request):
    "The visitor cookie's value, or None"
    return request.cookies.get(VISITOR_COOKIE)


def set_visitor(response, request):
    "Give a new visitor an id and the time of the first visit"
    if not request.cookies.get(VISITOR_COOKIE):
        value = '%s.%d' % (secrets.token_hex(16), int(time.time()))
        response.set_cookie(VISITOR_COOKIE, value,
            max_age=2 * 365 * 24 * 3600, path='/', httponly=True,
            samesite='Lax', secure=request.scheme == 'https')
    return response


def own_origins(request):
    "This server's origin as the browser sees it (proxy applied)"
    return [request.host_url.rstrip('/')]


def cors(response, origin):
    "Let the page of origin read the answer"
    if origin:
        response.headers['Access-Control-Allow-Origin'] = origin
        response.headers['Vary'] = 'Origin'
        response.headers['Access-Control-Allow-Methods'] = 'GET, POST'
        response.headers['Access-Control-Allow-Headers'] = 'Content-Type'
        response.headers['Access-Control-Max-Age'] = '600'
    return response
