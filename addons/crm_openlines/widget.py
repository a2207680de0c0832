# The site widget's side of the public endpoints: who may call (key,
# origin, visitor token) and what each call does. routes.py wraps these in
# transactions; this file holds no HTTP plumbing.
import base64
import binascii
import json
import os
import secrets

from trytond.i18n import gettext
from trytond.transaction import Transaction

from .attachment import AttachmentRefused, check, max_size
from .channel import digest, same_secret
from .message import MAX_TEXT

MAX_BODY = 16 * 1024
POLL_LIMIT = 100
_SCRIPT = os.path.join(os.path.dirname(__file__), 'static', 'widget.js')


class Refused(Exception):
    "A request refused with an HTTP status and a crm_openlines message"

    def __init__(self, code, message, status, **values):
        super().__init__(code)
        self.code = code
        self.message = message
        self.status = status
        self.values = values


def _channel(pool, channel_id):
    Channel = pool.get('crm.openline.channel')
    channel = Channel.find(channel_id, 'widget')
    if channel is None:
        raise Refused('NOT_FOUND', 'msg_not_found', 404)
    return channel


def cors_headers(pool, channel_id, origin):
    """Headers letting the page of origin read the answer; Refused when
    a browser page of another site calls"""
    channel = _channel(pool, channel_id)
    if not origin:
        # Not a browser page: nothing to allow.
        return {}
    if not channel.origin_allowed(origin):
        raise Refused('ORIGIN_NOT_ALLOWED', 'msg_origin_not_allowed', 403)
    return {
        'Access-Control-Allow-Origin': origin,
        'Access-Control-Allow-Methods': 'POST, OPTIONS',
        'Access-Control-Allow-Headers': 'Content-Type',
        'Access-Control-Max-Age': '600',
        'Vary': 'Origin',
        }


def widget_script(pool, channel_id, key, base):
    "The widget's JavaScript for a channel and its key, None if wrong"
    Channel = pool.get('crm.openline.channel')
    channel = Channel.find(channel_id, 'widget')
    if channel is None or not channel.check_key(key):
        return None
    settings = {
        'base': '%s/openlines/widget/%s' % (base, channel.id),
        'key': key,
        'channel': channel.id,
        'title': channel.line.rec_name,
        'labels': {k: gettext('crm_openlines.msg_widget_' + k) for k in [
                'name', 'phone', 'email', 'text', 'send', 'error', 'file']},
        }
    with open(_SCRIPT, encoding='utf-8') as handle:
        script = handle.read()
    # </ cannot end the script element it may be inlined in
    settings = json.dumps(settings).replace('</', '<\\/')
    return script.replace('__OPENLINES_SETTINGS__', settings)


def _checked(pool, channel_id, body):
    "The channel and the visitor token of body, after checking both"
    if not isinstance(body, dict):
        raise Refused('INVALID_REQUEST', 'msg_invalid_request', 400)
    channel = _channel(pool, channel_id)
    if not channel.check_key(str(body.get('key') or '')):
        raise Refused('INVALID_KEY', 'msg_invalid_key', 401)
    visitor = body.get('visitor')
    if visitor is not None and not isinstance(visitor, str):
        raise Refused('INVALID_REQUEST', 'msg_invalid_request', 400)
    return channel, visitor or None


def _last_conversation(pool, channel, chat):
    Conversation = pool.get('crm.openline.conversation')
    conversations = Conversation.search([
            ('channel', '=', channel.id),
            ('external_chat', '=', chat),
            ], order=[('id', 'DESC')], limit=1)
    return conversations[0] if conversations else None


def _visitor_chat(pool, channel, visitor, required=True):
    """The chat id of a visitor token (id.secret) known for channel"""
    chat, _, secret = (visitor or '').partition('.')
    if not chat or not secret:
        if required:
            raise Refused('INVALID_VISITOR', 'msg_invalid_visitor', 403)
        return None, None
    conversation = _last_conversation(pool, channel, chat)
    if conversation is None or not same_secret(
            visitor, conversation.visitor_hash):
        raise Refused('INVALID_VISITOR', 'msg_invalid_visitor', 403)
    return chat, conversation


def read_file(value):
    """The attachment of a widget upload ({name, type, data: base64}),
    checked against the limits (Refused 413/415), or None"""
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(
            value.get('data'), str):
        raise Refused('INVALID_REQUEST', 'msg_invalid_request', 400)
    if len(value['data']) > max_size() * 4 // 3 + 4:
        raise Refused('TOO_LARGE', 'msg_too_large', 413, limit=max_size())
    try:
        data = base64.b64decode(value['data'], validate=True)
    except (binascii.Error, ValueError):
        raise Refused('INVALID_REQUEST', 'msg_invalid_request', 400)
    try:
        name, type_, data = check(value.get('name'), data,
            value.get('type'))
    except AttachmentRefused as refused:
        status = 413 if refused.message == 'msg_attachment_too_large' \
            else 415
        raise Refused('ATTACHMENT_REFUSED', refused.message, status,
            **refused.values)
    return {'name': name, 'type': type_, 'data': data}


def upload_limit():
    "Largest body of an upload: the file in base64 and the message"
    return max_size() * 4 // 3 + MAX_BODY


def post_message(pool, channel_id, body):
    Conversation = pool.get('crm.openline.conversation')
    channel, visitor = _checked(pool, channel_id, body)
    text = body.get('text') or ''
    attachment = read_file(body.get('file'))
    if not isinstance(text, str) or (not text.strip() and not attachment):
        raise Refused('EMPTY_MESSAGE', 'msg_empty_message', 400)
    if len(text) > MAX_TEXT:
        raise Refused('TOO_LARGE', 'msg_too_large', 413, limit=MAX_TEXT)
    client = {k: body.get(k) for k in ['name', 'phone', 'email']
        if isinstance(body.get(k), str)}
    if visitor:
        chat, _ = _visitor_chat(pool, channel, visitor)
    else:
        chat = secrets.token_hex(8)
        visitor = '%s.%s' % (chat, secrets.token_urlsafe(24))
    external_id = body.get('id')
    if external_id is not None:
        external_id = 'w:%s:%s' % (chat, str(external_id)[:64])
    with Transaction().set_context(company=channel.line.company.id):
        conversation, message, duplicate = Conversation.receive(
            channel, chat, text, client=client, external_id=external_id,
            visitor_hash=digest(visitor), attachment=attachment)
    if conversation.visitor_hash != digest(visitor):
        # a new conversation of a known visitor
        conversation.visitor_hash = digest(visitor)
        conversation.save()
    return {
        'visitor': visitor,
        'conversation': conversation.id,
        'message': message.id,
        'duplicate': duplicate,
        }


def poll_messages(pool, channel_id, body):
    "The visitor's messages after body['after'] (notes excluded)"
    Message = pool.get('crm.openline.message')
    channel, visitor = _checked(pool, channel_id, body)
    chat, conversation = _visitor_chat(pool, channel, visitor)
    try:
        after = int(body.get('after') or 0)
    except (TypeError, ValueError):
        raise Refused('INVALID_REQUEST', 'msg_invalid_request', 400)
    messages = Message.search([
            ('conversation.channel', '=', channel.id),
            ('conversation.external_chat', '=', chat),
            ('direction', 'in', ['in', 'out']),
            ('id', '>', after),
            ], order=[('id', 'ASC')], limit=POLL_LIMIT)
    return {
        'state': conversation.state,
        'rating': bool(conversation.line.rating_request)
        and conversation.state == 'closed' and not conversation.rating,
        'messages': [{
                'id': m.id,
                'direction': m.direction,
                'text': m.text or '',
                'attachment': m.attachment_name or '',
                'author': m.author.rec_name if m.author else '',
                'date': m.date.isoformat() + 'Z',
                } for m in messages],
        }


def rate_conversation(pool, channel_id, body):
    channel, visitor = _checked(pool, channel_id, body)
    _, conversation = _visitor_chat(pool, channel, visitor)
    if conversation.state != 'closed':
        raise Refused('NOT_CLOSED', 'msg_rate_not_closed', 400)
    if str(body.get('rating')) not in {'1', '2', '3', '4', '5'}:
        raise Refused('INVALID_RATING', 'msg_rating_invalid', 400)
    conversation.rate(body.get('rating'))
    return {'rating': conversation.rating}
