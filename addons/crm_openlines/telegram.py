# Telegram Bot API updates (https://core.telegram.org/bots/api#update) read
# into what Conversation.receive() needs. Pure functions: no database.
from collections import namedtuple

MAX_UPDATE = 256 * 1024

Incoming = namedtuple('Incoming', [
        'update_id', 'chat', 'text', 'client', 'attachment'])


class UpdateError(ValueError):
    "An update that does not follow the Bot API format"


def _name(user):
    return ' '.join(filter(None, [
                str(user.get('first_name') or '').strip(),
                str(user.get('last_name') or '').strip()])) or (
        str(user.get('username') or '').strip())


def read_update(update):
    """Return an Incoming for a message update, None for an update we do
    not handle (edits, callbacks...), raise UpdateError when malformed"""
    if not isinstance(update, dict):
        raise UpdateError("update is not an object")
    update_id = update.get('update_id')
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        raise UpdateError("update_id is missing")
    message = update.get('message')
    if message is None:
        return None
    if not isinstance(message, dict):
        raise UpdateError("message is not an object")
    chat = message.get('chat')
    if not isinstance(chat, dict) or not isinstance(chat.get('id'), int):
        raise UpdateError("message.chat.id is missing")
    sender = message.get('from') or {}
    if not isinstance(sender, dict):
        raise UpdateError("message.from is not an object")
    text = message.get('text')
    if text is None:
        text = message.get('caption')
    if text is not None and not isinstance(text, str):
        raise UpdateError("message.text is not a string")
    client = {'name': _name(sender) or _name(chat)}
    contact = message.get('contact')
    if isinstance(contact, dict):
        client['phone'] = str(contact.get('phone_number') or '')
        if not client['name']:
            client['name'] = _name(contact)
    attachment = None
    document = message.get('document')
    photos = message.get('photo')
    if isinstance(document, dict):
        attachment = str(document.get('file_name')
            or document.get('file_id') or 'document')
    elif isinstance(photos, list) and photos:
        attachment = 'photo %s' % (photos[-1] or {}).get('file_id', '')
    if not text and not attachment and not contact:
        return None
    return Incoming(update_id, chat['id'], text or '', client, attachment)
