# Optional WSGI middleware: serve sites on their own domains without a
# rewriting proxy.  Requests whose Host is listed go to
# /<database>/sites-host/<path>; every other request (the web client at /,
# the APIs) passes untouched.  Enable it in trytond.conf:
#
#   [wsgi middleware]
#   crm_sites = trytond.modules.crm_sites.host.HostMiddleware
#   [crm_sites]
#   hosts = shop.example.com=tenant1 www.shop.example.com=tenant1
#
# (trytond 8.0 cannot pass arguments from a [wsgi crm_sites] section: it
# calls a config.has_option that does not exist, hence our own section.)
import importlib
import re
import sys
from urllib.parse import quote

from trytond import config


def parse_hosts(text):
    "'host=database' pairs separated by spaces, commas or lines"
    hosts = {}
    for pair in re.split(r'[\s,]+', text or ''):
        host, _, database = pair.partition('=')
        if host and database:
            hosts[host.strip()] = database.strip()
    return hosts


FORM_PATH = re.compile(r'^/[^/]+/sites(-host)?/_form/')
ORIGIN_KEY = 'HTTP_X_CRM_SITES_ORIGIN'


def keep_origin(environ):
    """Keep trytond's global [web] cors check away from the form
    endpoints: each form lists the origins it allows and its endpoints
    check them (routes._form_dispatch)."""
    if 'HTTP_ORIGIN' in environ and FORM_PATH.match(
            environ.get('PATH_INFO', '')):
        environ[ORIGIN_KEY] = environ.pop('HTTP_ORIGIN')


class FormOrigin:
    "Installed by routes.py around trytond's application"

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        keep_origin(environ)
        return self.wsgi_app(environ, start_response)


def wsgi_loading():
    "Whether trytond.wsgi is being imported right now"
    module = sys.modules.get('trytond.wsgi')
    spec = getattr(module, '__spec__', None)
    return bool(module is not None and getattr(spec, '_initializing', False))


class HostMiddleware:

    def __init__(self, app, hosts=None):
        self.app = app
        self.routes = None
        if hosts is None:
            hosts = parse_hosts(config.get('crm_sites', 'hosts', default=''))
        self.hosts = {h.lower().rstrip('.'): db for h, db in hosts.items()}

    def __call__(self, environ, start_response):
        if self.routes is None:
            self.routes = importlib.import_module(
                'trytond.modules.crm_sites.routes')
        host = (environ.get('HTTP_HOST') or '').split(':')[0].lower()
        database = self.hosts.get(host.rstrip('.'))
        if database:
            path = environ.get('PATH_INFO') or '/'
            environ['PATH_INFO'] = '/%s/sites-host%s' % (
                quote(database), path if path.startswith('/') else '/' + path)
            keep_origin(environ)
        return self.app(environ, start_response)
