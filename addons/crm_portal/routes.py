# HTTP side of the Bitrix24-compatible REST API:
#   /<db>/rest/<user_id>/<token>/<method>[.json]   (GET and POST)
#   /<db>/rest/openapi.json
import base64
import datetime
import decimal
import json
import logging
import threading
import time

from sql import Null

from trytond import backend
from trytond import config
from trytond.i18n import gettext
from trytond.protocols.wrappers import (
    Response, exceptions, set_max_request_size)
from trytond.transaction import Transaction, TransactionError
from trytond.wsgi import app

# Absolute imports: the handlers raise the RestError of the package
# trytond loads, even when this file was imported under another name.
from trytond.modules.crm_portal.openapi import build_openapi
from trytond.modules.crm_portal.rest import RestError
from trytond.modules.crm_portal.rest_core import time_block
from trytond.modules.crm_portal.tenant_pool import (
    with_tenant_pool as with_pool)
from trytond.modules.crm_portal.rest_params import (
    ParamsError, merge_params, parse_body, parse_php_params, parse_query)
from trytond.modules.crm_portal.rest_ratelimit import autocommit_cursor

__all__ = ['rest', 'rest_openapi', 'rest_no_auth', 'max_size']

logger = logging.getLogger(__name__)
DEFAULT_MAX_SIZE = 1024 * 1024
# Refresh the token's "last used" time at most this often (seconds).
TOUCH_INTERVAL = 60
_sqlite_writer = threading.Lock()
# The context of a token's user, computed once and not per call: the key
# holds the user's last change, and it is forgotten after a while (a
# change elsewhere, such as a language, is then seen).
PREFERENCES_TTL = 300
PREFERENCES_MAX = 1000
_preferences = {}


def _user_preferences(database_name, user):
    "The context of user (a res.user record), cached"
    key = (database_name, user.id, str(user.write_date or user.create_date))
    now = time.monotonic()
    cached = _preferences.get(key)
    if cached and now - cached[0] < PREFERENCES_TTL:
        return dict(cached[1])
    with Transaction().set_user(user.id):
        preferences = user.__class__.get_preferences(context_only=True)
    if len(_preferences) >= PREFERENCES_MAX:
        _preferences.clear()
    _preferences[key] = (now, preferences)
    return dict(preferences)


def max_size():
    "Largest request body accepted, from [crm_rest] max_size"
    return config.getint('crm_rest', 'max_size', default=DEFAULT_MAX_SIZE)


def _default(value):
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.isoformat(timespec='seconds')
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode('ascii')
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if hasattr(value, 'id') and hasattr(value, '__name__'):
        return value.id
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(data):
    return json.dumps(data, default=_default, ensure_ascii=False)


def json_response(body, status=200):
    if not isinstance(body, (str, bytes)):
        body = dumps(body)
    return Response(body, status,
        content_type='application/json; charset=utf-8')


def error_response(code, description, status):
    body = {'error': code, 'error_description': description}
    return json_response(body, status)


def not_found():
    # The same answer for an unknown database and a database without the
    # CRM portal: it does not tell which databases exist.
    return error_response('NOT_FOUND', "Not found", 404)


def read_params(request):
    """Return the parameters of the request: query string and body merged,
    the body wins. Raise RestError for a body too large or unreadable."""
    limit = max_size()
    length = request.content_length
    if length is not None and length > limit:
        raise RestError('REQUEST_ENTITY_TOO_LARGE', gettext(
                'crm_portal.msg_rest_too_large', limit=limit), 413)
    content_type = request.mimetype or ''
    try:
        query = parse_query(request.query_string)
        if content_type == 'multipart/form-data':
            body = parse_php_params(list(request.form.items(multi=True)))
        else:
            data = request.stream.read(limit + 1)
            if len(data) > limit:
                raise RestError('REQUEST_ENTITY_TOO_LARGE', gettext(
                        'crm_portal.msg_rest_too_large', limit=limit), 413)
            body = parse_body(data, content_type)
    except ParamsError as exception:
        raise RestError('INVALID_REQUEST', gettext(
                'crm_portal.msg_rest_params_invalid',
                error=str(exception)), 400)
    except exceptions.RequestEntityTooLarge:
        raise RestError('REQUEST_ENTITY_TOO_LARGE', gettext(
                'crm_portal.msg_rest_too_large', limit=limit), 413)
    return merge_params(query, body)


def _run(database_name, user, readonly, context, func):
    """Run func() in a transaction, retried as Tryton's own routes do

    func returns (response, commit)."""
    from trytond.worker import run_task
    if backend.name == 'sqlite' and not readonly:
        # SQLite runs in one process and has one writer at a time: queue
        # writers here rather than fail on "database is locked".
        with _sqlite_writer:
            return _run_transaction(database_name, user, readonly, context,
                func, run_task)
    return _run_transaction(database_name, user, readonly, context, func,
        run_task)


def _run_transaction(database_name, user, readonly, context, func, run_task):
    retry = config.getint('database', 'retry')
    count = 0
    extras = {}
    while True:
        if count:
            time.sleep(0.02 * count)
        with Transaction().start(database_name, user, readonly=readonly,
                context=context, **extras) as transaction:
            try:
                response, commit = func()
            except TransactionError as exception:
                transaction.rollback()
                transaction.tasks.clear()
                exception.fix(extras)
                continue
            except (backend.DatabaseOperationalError,
                    backend.DatabaseIntegrityError):
                if count < retry and not readonly:
                    transaction.rollback()
                    transaction.tasks.clear()
                    count += 1
                    continue
                raise
            if commit:
                transaction.commit()
            else:
                transaction.rollback()
                transaction.tasks.clear()
        while transaction.tasks:
            run_task(database_name, transaction.tasks.pop())
        return response


def _authenticate(pool, database_name, request, user_id, token, method_name):
    """Check the token, take a rate slot, find the method, read the
    parameters: return (error response or None, token info)"""
    Token = pool.get('crm.webhook.token')
    Rate = pool.get('crm.rest.rate')
    Rest = pool.get('crm.rest')
    info = {}

    def check():
        transaction = Transaction()
        record = Token.check(user_id, token)
        if record is None:
            return error_response('INVALID_CREDENTIALS', gettext(
                    'crm_portal.msg_rest_invalid_credentials'), 401), False
        preferences = _user_preferences(database_name, record.user)
        scopes = list(record.scopes or [])
        info.update(token=record.id, user=record.user.id,
            preferences=preferences, scopes=scopes)
        with transaction.set_context(
                language=preferences.get('language'), rest_scopes=scopes):
            if not Rate.take(record.id):
                return error_response('QUERY_LIMIT_EXCEEDED', gettext(
                        'crm_portal.msg_rest_rate_limit'), 503), True
            try:
                method = Rest.get_method(method_name)
                Rest.check_scope(method)
                info['method'] = method
                info['params'] = read_params(request)
            except RestError as exception:
                return error_response(
                    exception.code, exception.description,
                    exception.status), True
        now = datetime.datetime.now()
        if (not record.last_used or (now - record.last_used)
                > datetime.timedelta(seconds=TOUCH_INTERVAL)):
            if readonly:
                _touch(Token, record.id, now)
            else:
                record.touch()
        return None, True
    # On PostgreSQL the rate slot and the "last used" time are written on
    # a connection of their own: the check reads only.
    readonly = backend.name == 'postgresql'
    response = _run(database_name, 0, readonly, {}, check)
    return response, info


def _touch(Token, token_id, now):
    "Set the last use of the token, once for concurrent calls"
    table = Token.__table__()
    with autocommit_cursor() as cursor:
        cursor.execute(*table.update([table.last_used], [now],
                where=(table.id == token_id)
                & ((table.last_used == Null) | (table.last_used < now
                        - datetime.timedelta(seconds=TOUCH_INTERVAL)))))


def _rest(request, pool, user_id, token, method_name, started):
    try:
        pool.get('crm.rest')
    except KeyError:
        return not_found()
    try:
        return _rest_call(request, pool, user_id, token, method_name, started)
    except exceptions.HTTPException:
        raise
    except Exception:
        logger.exception("REST call %s failed", method_name)
        return error_response('INTERNAL_SERVER_ERROR',
            "Internal server error", 500)


def _rest_call(request, pool, user_id, token, method_name, started):
    database_name = pool.database_name
    response, info = _authenticate(
        pool, database_name, request, user_id, token, method_name)
    if response is not None:
        return response
    Rest = pool.get('crm.rest')
    method = info['method']
    context = dict(info['preferences'])
    context.update({
            '_check_access': True,
            '_request': request.context,
            'rest_scopes': info['scopes'],
            'rest_token': info['token'],
            })

    def call():
        begin = time.time()
        try:
            result, extra = Rest.call(method.name, info['params'])
            answer = {'result': result}
            answer.update(extra)
            answer['time'] = time_block(started, time.time(),
                time.time() - begin)
            return json_response(dumps(answer)), True
        except RestError as exception:
            return error_response(exception.code, exception.description,
                exception.status), False
        except (TransactionError, backend.DatabaseOperationalError,
                backend.DatabaseIntegrityError):
            raise
        except Exception:
            logger.exception("REST method %s failed", method.name)
            return error_response('INTERNAL_SERVER_ERROR', gettext(
                    'crm_portal.msg_rest_internal_error'), 500), False
    return _run(database_name, info['user'], method.readonly, context, call)


_rest_with_pool = with_pool(_rest)


@app.route('/<database_name>/rest/<int:user_id>/<token>/<path:method>',
    methods=['GET', 'POST'])
@set_max_request_size(64 * 1024 * 1024)
def rest(request, database_name, user_id, token, method):
    started = time.time()
    try:
        return _rest_with_pool(
            request, database_name, user_id, token, method, started)
    except exceptions.NotFound:
        return not_found()


def _no_auth(request, pool):
    try:
        pool.get('crm.rest')
    except KeyError:
        return not_found()
    with Transaction().start(pool.database_name, 0, readonly=True):
        description = gettext('crm_portal.msg_rest_no_auth')
    return error_response('NO_AUTH_FOUND', description, 401)


_no_auth_with_pool = with_pool(_no_auth)


@app.route('/<database_name>/rest/<path:path>', methods=['GET', 'POST'])
@app.route('/<database_name>/rest/', methods=['GET', 'POST'])
@set_max_request_size(64 * 1024 * 1024)
def rest_no_auth(request, database_name, path=None):
    "A REST URL without user id or token"
    if path and path.split('/', 1)[0] in {'model', 'report'}:
        # Tryton's own REST routes (with other HTTP methods).
        raise exceptions.MethodNotAllowed()
    try:
        return _no_auth_with_pool(request, database_name)
    except exceptions.NotFound:
        return not_found()


def _openapi(request, pool):
    try:
        Rest = pool.get('crm.rest')
    except KeyError:
        return not_found()
    with Transaction().start(pool.database_name, 0, readonly=True):
        document = build_openapi(Rest, pool.database_name)
    return json_response(document)


_openapi_with_pool = with_pool(_openapi)


@app.route('/<database_name>/rest/openapi.json', methods=['GET'])
@set_max_request_size(0)
def rest_openapi(request, database_name):
    try:
        return _openapi_with_pool(request, database_name)
    except exceptions.NotFound:
        return not_found()
