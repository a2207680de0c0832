# What every public HTTP endpoint of the CRM modules shares: 404 where the
# module is not activated, transactions with retries, a rate limit kept in
# the database, the client's address.
"""Usage in an integration module (routes.py):

    from trytond.wsgi import app
    from trytond.modules.crm_portal.public import (
        public_route, run, json_response, error_response, take_rate)

    @app.route('/<database_name>/crm_1c/exchange', methods=['GET', 'POST'])
    @public_route('crm.exchange_1c.session')
    def exchange(request, pool):
        ...
        def work():
            if not take_rate('1c:' + request.remote_addr, rate=5, burst=20):
                return error_response('QUERY_LIMIT_EXCEEDED', '...', 429), True
            return Response('success'), True   # (response, commit)
        return run(pool.database_name, 0, False, {}, work)

public_route(model) answers 404 for an unknown database and for a database
where the model (so its module) is not activated, without telling which.
"""
import functools

from trytond.pool import Pool
from trytond.protocols.wrappers import Response, exceptions
from trytond.transaction import Transaction

# routes.py holds the REST gateway's versions of these; one implementation.
from trytond.modules.crm_portal.tenant_pool import (
    with_tenant_pool as with_pool)
from trytond.modules.crm_portal.routes import (
    _run as run, error_response, json_response, not_found)

__all__ = ['public_route', 'run', 'json_response', 'error_response',
    'not_found', 'html_not_found', 'take_rate', 'client_address',
    'module_activated']


def html_not_found():
    return Response('Not Found', 404, content_type='text/plain; charset=utf-8')


def module_activated(pool, model_name):
    "Whether model_name (so the module that defines it) is in pool"
    try:
        pool.get(model_name)
    except KeyError:
        return False
    return True


def _synced_pool(pool):
    """The pool of pool's database once this process has caught up with
    module changes made by another (trytond syncs at a transaction's start:
    Cache.sync drops a pool whose modules changed)."""
    name = pool.database_name
    with Transaction().start(name, 0, readonly=True):
        pass
    if name in Pool.database_list():
        return pool
    pool = Pool(name)
    with Transaction().start(name, 0, readonly=True):
        pool.init()
    return pool


def public_route(model_name, not_found_response=not_found):
    """Decorate func(request, pool, *args) of a route whose first URL
    argument is database_name."""
    def decorator(func):
        def inner(request, pool, *args, **kwargs):
            if not module_activated(pool, model_name):
                pool = _synced_pool(pool)
                if not module_activated(pool, model_name):
                    return not_found_response()
            return func(request, pool, *args, **kwargs)
        pooled = with_pool(inner)

        @functools.wraps(func)
        def wrapper(request, database_name, *args, **kwargs):
            try:
                return pooled(request, database_name, *args, **kwargs)
            except exceptions.NotFound:
                return not_found_response()
        return wrapper
    return decorator


def take_rate(key, rate, burst):
    """Take a request slot of key (e.g. 'sites.form:1.2.3.4') inside the
    current transaction; False when over the limit of `rate` requests per
    second after a `burst`."""
    from trytond.pool import Pool
    return Pool().get('crm.public.rate').take(key, rate, burst)


def client_address(request):
    "The client's address (trytond's [web] num_proxies applies ProxyFix)"
    return request.remote_addr or ''
