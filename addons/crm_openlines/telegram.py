# Telegram Bot API updates (https://core.telegram.org/bots/api#update) read
# into what Conversation.receive() needs. Pure functions: no database.
from collections import namedtuple

MAX_UPDATE = 256 * 1024

Incoming = namedtuple('Incoming', [
        'update_id', 'chat', 'text', 'client', 'attachment'])
# A button of an inline keyboard pressed (the rating request's 1 to 5)
Callback = namedtuple('Callback', ['update_id', 'id', 'chat', 'data'])


class UpdateError(ValueError):
    "An update that does not follow the Bot API format"


def _name(user):
    return ' '.join(filter(None, [
                str(user.get('first_name') or '').strip(),
                str(user.get('last_name') or '').strip()])) or (
        str(user.get('username') or '').strip())


def read_update(update):
    """Return an Incoming for a message update, a Callback for a button
    pressed, None for an update we do not handle (edits...), raise
    UpdateError when malformed"""
    if not isinstance(update, dict):
        raise UpdateError("update is not an object")
    update_id = update.get('update_id')
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        raise UpdateError("update_id is missing")
    if update.get('callback_query') is not None:
        return _callback(update_id, update['callback_query'])
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
        attachment = _file(document, document.get('file_name') or 'document')
    elif isinstance(photos, list) and photos:
        # the last size is the largest
        attachment = _file(photos[-1], 'photo.jpg', 'image/jpeg')
    if not text and not attachment and not contact:
        return None
    return Incoming(update_id, chat['id'], text or '', client, attachment)


def _file(value, name, type_=None):
    "A Document or PhotoSize as the file to fetch with getFile"
    if not isinstance(value, dict) or not isinstance(
            value.get('file_id'), str):
        raise UpdateError("file_id is missing")
    size = value.get('file_size')
    return {
        'file_id': value['file_id'][:200],
        'name': str(name)[:200],
        'type': str(value.get('mime_type') or type_ or '')[:100],
        'size': size if isinstance(size, int) else None,
        }


def _callback(update_id, query):
    if not isinstance(query, dict) or not isinstance(query.get('id'), str):
        raise UpdateError("callback_query.id is missing")
    message = query.get('message') or {}
    chat = message.get('chat') if isinstance(message, dict) else None
    if not isinstance(chat, dict) or not isinstance(chat.get('id'), int):
        # the chat of the button's message; a private chat is the user's
        sender = query.get('from') or {}
        chat = {'id': sender.get('id')} if isinstance(sender, dict) else {}
        if not isinstance(chat.get('id'), int):
            raise UpdateError("callback_query has no chat")
    return Callback(update_id, query['id'], chat['id'],
        str(query.get('data') or '')[:64])
