# HTTP endpoints for PBXs: the signed JSON webhook of cloud PBXs and the
# routing answer of smart dial plans.
#   POST /<db>/telephony/webhook/<line>   JSON call events, HMAC-signed
#   GET  /<db>/telephony/route/<line>?number=...   the extension to ring
import hashlib
import hmac
import json
import time

from trytond.exceptions import UserError
from trytond.i18n import gettext
from trytond.protocols.wrappers import Response
from trytond.wsgi import app

from trytond.modules.crm_portal.public import (
    error_response, json_response, public_route, run, take_rate)

from .pbx_user import as_pbx

MAX_BODY = 64 * 1024
# A signed request is valid this long (seconds): no replay later.
MAX_SKEW = 300
RATE, BURST = 20, 200


def signature(secret, timestamp, body):
    "Hex HMAC-SHA256 of 'timestamp.body' with the line's secret"
    if isinstance(body, str):
        body = body.encode('utf-8')
    return hmac.new(secret.encode('utf-8'),
        str(timestamp).encode('ascii') + b'.' + body,
        hashlib.sha256).hexdigest()


def _line(pool, line_id, connectors):
    Line = pool.get('crm.telephony.line')
    lines = Line.search([('id', '=', line_id),
            ('connector', 'in', connectors)], limit=1)
    return lines[0] if lines else None


def _verify(line, timestamp, body, given):
    if not line or not line.webhook_secret or not given or not timestamp:
        return False
    try:
        skew = abs(time.time() - int(timestamp))
    except ValueError:
        return False
    if skew > MAX_SKEW:
        return False
    expected = signature(line.webhook_secret, timestamp, body)
    return hmac.compare_digest(expected, str(given).lower())


def _denied():
    return error_response('INVALID_SIGNATURE',
        gettext('crm_telephony.msg_webhook_signature'), 401)


def _too_large():
    return error_response('REQUEST_ENTITY_TOO_LARGE',
        gettext('crm_telephony.msg_webhook_too_large', limit=MAX_BODY), 413)


@app.route('/<database_name>/telephony/webhook/<int:line_id>',
    methods=['POST'])
@public_route('crm.telephony.call')
def webhook(request, pool, line_id):
    too_large = (request.content_length or 0) > MAX_BODY
    body = b'' if too_large else request.stream.read(MAX_BODY + 1)
    too_large |= len(body) > MAX_BODY
    timestamp = request.headers.get('X-Crm-Timestamp', '')
    given = request.headers.get('X-Crm-Signature', '')

    def work():
        Call = pool.get('crm.telephony.call')
        if too_large:
            return _too_large(), False
        if not take_rate('telephony.webhook:%s' % line_id, RATE, BURST):
            return error_response('QUERY_LIMIT_EXCEEDED',
                gettext('crm_telephony.msg_webhook_rate'), 429), True
        line = _line(pool, line_id, ['webhook'])
        # an unknown line and a bad signature get the same answer
        if not _verify(line, timestamp, body, given):
            return _denied(), True
        try:
            payload = json.loads(body.decode('utf-8'))
        except (UnicodeDecodeError, ValueError):
            return error_response('INVALID_REQUEST',
                gettext('crm_telephony.msg_webhook_invalid',
                    reason='JSON'), 400), False
        try:
            with as_pbx(line.company.id):
                call = Call.webhook_apply(line, payload)
        except UserError as exception:
            return error_response('INVALID_REQUEST', exception.message,
                400), False
        return json_response({'result': {
                    'CALL_ID': call.call_id,
                    'STATE': call.state,
                    'RESULT': call.result,
                    }}), True
    # The PBX is not a user: the rate, the line and its signature are
    # checked as root, the call is written as the PBX user (pbx_user.py).
    return run(pool.database_name, 0, False, {}, work)


@app.route('/<database_name>/telephony/route/<int:line_id>',
    methods=['GET'])
@public_route('crm.telephony.call',
    not_found_response=lambda: Response('', 404))
def route(request, pool, line_id):
    number = request.args.get('number', '')[:50]
    timestamp = request.args.get('ts', '')
    given = request.args.get('sig', '')

    def work():
        pool_ = pool
        Call = pool_.get('crm.telephony.call')
        Extension = pool_.get('crm.telephony.extension')
        from trytond.modules.crm_portal.phone import (
            default_regions, normalize_phone)
        if not take_rate('telephony.route:%s' % line_id, RATE * 5, BURST):
            return Response('', 429), True
        line = _line(pool_, line_id, ['ami', 'webhook', 'rest'])
        if not _verify(line, timestamp, number, given):
            return Response('', 401), True
        company = line.company.id
        default = line.default_employee
        with as_pbx(company):
            e164 = normalize_phone(number, default_regions(company))
            found = Call.lookup_ids(company, e164)
            employee = found['responsible'] or (
                default.id if default else None)
            extension = Extension.extension_of(employee)
        if request.args.get('format') == 'json':
            return json_response({'result': {
                        'EXTENSION': extension,
                        'CRM_ENTITY_TYPE': 'CONTACT' if found['contact']
                        else ('COMPANY' if found['client'] else None),
                        }}), True
        return Response(extension or '', 200,
            content_type='text/plain; charset=utf-8'), True
    # the rate limit is written: a read-write transaction
    return run(pool.database_name, 0, False, {}, work)
