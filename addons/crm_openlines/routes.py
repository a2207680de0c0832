# Public HTTP endpoints of the open lines (404 where the module is off):
#   GET  /<db>/openlines/widget/<channel>.js?key=...   the widget script
#   POST /<db>/openlines/widget/<channel>/message      a visitor writes
#   POST /<db>/openlines/widget/<channel>/poll         replies (long poll)
#   POST /<db>/openlines/widget/<channel>/attach       a visitor's file
#   POST /<db>/openlines/widget/<channel>/rate         rating on close
#   POST /<db>/openlines/telegram/<channel>            Bot API webhook
# They run as root because the visitor is anonymous: each one checks the
# channel's key or secret first and only calls Conversation.receive().
import json
import re
import time

from trytond.config import config
from trytond.i18n import gettext
from trytond.protocols.wrappers import (
    Response, exceptions, set_max_request_size)
from trytond.transaction import Transaction
from trytond.wsgi import app

from trytond.modules.crm_portal.public import (
    client_address, error_response, json_response, public_route, run,
    take_rate)
from trytond.modules.crm_openlines.telegram import (
    MAX_UPDATE, UpdateError, read_update)
from trytond.modules.crm_openlines.telegram_receive import (
    handle as handle_update)
from trytond.modules.crm_openlines.widget import (
    MAX_BODY, Refused, cors_headers, poll_messages, post_message,
    rate_conversation, upload_limit, widget_script)

MODEL = 'crm.openline.conversation'
POLL_STEP = 0.5
WIDGET_PATH = re.compile(r'^/[^/]+/openlines/widget/')
ORIGIN_KEY = 'HTTP_X_OPENLINES_ORIGIN'


class WidgetOrigin:
    """Keep trytond's global [web] cors check away from the widget's
    endpoints: each line lists the sites its widget may serve and the
    endpoints check the origin against it (widget.cors_headers)."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        if ('HTTP_ORIGIN' in environ
                and WIDGET_PATH.match(environ.get('PATH_INFO', ''))):
            environ[ORIGIN_KEY] = environ.pop('HTTP_ORIGIN')
        return self.wsgi_app(environ, start_response)


app.wsgi_app = WidgetOrigin(app.wsgi_app)


def request_origin(request):
    return request.environ.get(ORIGIN_KEY) or request.headers.get('Origin')


def poll_wait():
    "Longest time a poll waits for a reply ([crm_openlines] poll_wait)"
    return config.getfloat('crm_openlines', 'poll_wait', default=25)


def widget_limits():
    "Requests per second and burst of one address ([crm_openlines])"
    return (config.getfloat('crm_openlines', 'widget_rate', default=5),
        config.getint('crm_openlines', 'widget_burst', default=60))


def js_not_found():
    return Response('/* not found */', 404,
        content_type='text/javascript; charset=utf-8')


def read_json(request, limit):
    """The JSON body of request, or raise Refused (413 too large, 400
    not JSON)"""
    length = request.content_length
    if length is not None and length > limit:
        raise Refused('TOO_LARGE', 'msg_too_large', 413, limit=limit)
    try:
        data = request.get_data(cache=True)
    except exceptions.RequestEntityTooLarge:
        raise Refused('TOO_LARGE', 'msg_too_large', 413, limit=limit)
    if len(data) > limit:
        raise Refused('TOO_LARGE', 'msg_too_large', 413, limit=limit)
    try:
        return json.loads(data.decode('utf-8'))
    except (UnicodeDecodeError, ValueError):
        raise Refused('INVALID_JSON', 'msg_invalid_json', 400)


def refused(exception, headers=None):
    response = error_response(exception.code, gettext(
            'crm_openlines.' + exception.message, **exception.values),
        exception.status)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


@app.route('/<database_name>/openlines/widget/<int:channel_id>.js',
    methods=['GET'])
@set_max_request_size(0)
@public_route(MODEL, not_found_response=js_not_found)
def widget_js(request, pool, channel_id):
    base = request.host_url.rstrip('/') + '/' + pool.database_name

    def work():
        Lang = pool.get('ir.lang')
        codes = [l.code for l in Lang.search([('translatable', '=', True)])]
        # the visitor's language: ?lang= of the script tag or the browser's
        language = request.args.get('lang')
        if language not in codes:
            language = request.accept_languages.best_match(codes)
        with Transaction().set_context(language=language or 'en'):
            script = widget_script(pool, channel_id,
                request.args.get('key'), base)
        if script is None:
            return js_not_found(), False
        return Response(script, 200, headers={'Cache-Control': 'no-cache'},
            content_type='text/javascript; charset=utf-8'), False
    return run(pool.database_name, 0, True, {}, work)


def _widget_call(request, pool, channel_id, action, readonly=False,
        limit=MAX_BODY):
    headers = {}

    def work():
        nonlocal headers
        try:
            headers = cors_headers(pool, channel_id, request_origin(request))
            if request.method == 'OPTIONS':
                return Response('', 204, headers=headers), False
            if not take_rate('openlines.widget:' + client_address(request),
                    *widget_limits()):
                raise Refused('QUERY_LIMIT_EXCEEDED', 'msg_rate_limit', 429)
            body = read_json(request, limit)
            result = action(pool, channel_id, body)
        except Refused as exception:
            return refused(exception, headers), True
        response = json_response(result)
        for key, value in headers.items():
            response.headers[key] = value
        return response, True
    return run(pool.database_name, 0, readonly, {}, work)


@app.route('/<database_name>/openlines/widget/<int:channel_id>/message',
    methods=['POST', 'OPTIONS'])
@set_max_request_size(MAX_BODY * 4)
@public_route(MODEL)
def widget_message(request, pool, channel_id):
    return _widget_call(request, pool, channel_id, post_message)


@app.route('/<database_name>/openlines/widget/<int:channel_id>/attach',
    methods=['POST', 'OPTIONS'])
@set_max_request_size(None)
@public_route(MODEL)
def widget_attach(request, pool, channel_id):
    "A visitor sends a file: {key, visitor, text, file: {name, type, data}}"
    # the body limit follows [crm_openlines] attachment_max
    request.max_content_length = upload_limit()
    return _widget_call(request, pool, channel_id, post_message,
        limit=upload_limit())


@app.route('/<database_name>/openlines/widget/<int:channel_id>/rate',
    methods=['POST', 'OPTIONS'])
@set_max_request_size(MAX_BODY * 4)
@public_route(MODEL)
def widget_rate(request, pool, channel_id):
    return _widget_call(request, pool, channel_id, rate_conversation)


@app.route('/<database_name>/openlines/widget/<int:channel_id>/poll',
    methods=['POST', 'OPTIONS'])
@set_max_request_size(MAX_BODY * 4)
@public_route(MODEL)
def widget_poll(request, pool, channel_id):
    """Answer as soon as there is a message after `after`, or empty after
    poll_wait seconds. Each look is its own short read-only transaction:
    no transaction and no worker memory is held while waiting."""
    first = {}

    def check(pool_, channel_id_, body):
        first['body'] = body
        return poll_messages(pool_, channel_id_, body)
    response = _widget_call(request, pool, channel_id, check)
    if response.status_code != 200 or request.method == 'OPTIONS':
        return response
    if json.loads(response.get_data())['messages']:
        return response
    wait = min(max(float(first['body'].get('wait') or poll_wait()), 0),
        poll_wait())
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        time.sleep(POLL_STEP)

        def look():
            result = poll_messages(pool, channel_id, first['body'])
            return result, False
        result = run(pool.database_name, 0, True, {}, look)
        if result['messages']:
            break
    answer = json_response(result if wait else json.loads(
            response.get_data()))
    for key in ['Access-Control-Allow-Origin', 'Vary']:
        if key in response.headers:
            answer.headers[key] = response.headers[key]
    return answer


@app.route('/<database_name>/openlines/telegram/<int:channel_id>',
    methods=['POST'])
@set_max_request_size(MAX_UPDATE * 4)
@public_route(MODEL)
def telegram_webhook(request, pool, channel_id):
    Channel = pool.get('crm.openline.channel')

    def work():
        channel = Channel.find(channel_id, 'telegram')
        if channel is None:
            return error_response('NOT_FOUND', "Not found", 404), False
        secret = request.headers.get('X-Telegram-Bot-Api-Secret-Token')
        try:
            if not channel.check_key(secret):
                raise Refused('INVALID_SECRET', 'msg_invalid_secret', 401)
            if not take_rate('openlines.telegram:%s' % channel.id,
                    rate=30, burst=300):
                raise Refused('QUERY_LIMIT_EXCEEDED', 'msg_rate_limit', 429)
            try:
                incoming = read_update(read_json(request, MAX_UPDATE))
            except UpdateError as exception:
                raise Refused('INVALID_UPDATE', 'msg_invalid_update', 400,
                    error=str(exception))
        except Refused as exception:
            return refused(exception), True
        if incoming is None:
            return json_response({'ok': True, 'ignored': True}), True
        return json_response(handle_update(pool, channel, incoming)), True
    return run(pool.database_name, 0, False, {}, work)
