# What the Telegram webhook does with a read update (telegram.py), inside
# the request's transaction: store a client's message with the file it
# sent (downloaded from the channel's Bot API) or store the rating chosen
# with the buttons of the rating request.
import logging

from trytond.i18n import gettext
from trytond.transaction import Transaction

from .attachment import max_size
from .telegram import Callback
from .telegram_api import DeliveryError, telegram_call, telegram_file

logger = logging.getLogger(__name__)
MODEL = 'crm.openline.conversation'


def _api(channel):
    return channel.api_url or 'https://api.telegram.org'


def fetch_attachment(channel, file):
    "The attachment dict of a file of an update, its data downloaded"
    attachment = {'name': file['name'], 'type': file['type'], 'data': None}
    limit = max_size()
    if file.get('size') and file['size'] > limit:
        attachment['error'] = gettext(
            'crm_openlines.msg_attachment_too_large', name=file['name'],
            limit=limit)
        return attachment
    if not channel.bot_token:
        return attachment
    try:
        attachment['data'] = telegram_file(_api(channel), channel.bot_token,
            file['file_id'], limit)
    except DeliveryError as exception:
        logger.warning("file %s of channel %s not received: %s",
            file['file_id'], channel.id, exception)
        return attachment
    if attachment['data'] is None:
        attachment['error'] = gettext(
            'crm_openlines.msg_attachment_too_large', name=file['name'],
            limit=limit)
    return attachment


def rate(pool, channel, callback):
    "Store the rating of a button pressed and tell the client it is taken"
    Conversation = pool.get(MODEL)
    conversation = Conversation.rate_callback(channel, callback.chat,
        callback.data)
    if channel.bot_token:
        body = {'callback_query_id': callback.id}
        if conversation:
            body['text'] = gettext('crm_openlines.msg_rating_thanks')
        try:
            # stops the spinner on the button; nothing to retry if lost
            telegram_call(_api(channel), channel.bot_token,
                'answerCallbackQuery', body)
        except DeliveryError as exception:
            logger.info("answerCallbackQuery failed: %s", exception)
    return {'ok': True, 'rated': bool(conversation)}


def handle(pool, channel, update):
    "Return the JSON answer of the webhook for an Incoming or a Callback"
    Conversation = pool.get(MODEL)
    Message = pool.get('crm.openline.message')
    if isinstance(update, Callback):
        return rate(pool, channel, update)
    external_id = 'tg:%s' % update.update_id
    if Message.received(channel, external_id):
        return {'ok': True, 'duplicate': True}
    attachment = None
    if update.attachment:
        attachment = fetch_attachment(channel, update.attachment)
    with Transaction().set_context(company=channel.line.company.id):
        _, _, duplicate = Conversation.receive(
            channel, update.chat, update.text, client=update.client,
            external_id=external_id, attachment=attachment)
    return {'ok': True, 'duplicate': duplicate}
