# Delivery of an operator's reply through the conversation's channel:
# Telegram's sendMessage, an e-mail in the same thread, or an event the
# integrator's connector receives by webhook. The widget fetches its own.
import json
import urllib.request
from email.message import EmailMessage
from email.utils import make_msgid

from trytond.config import config
from trytond.i18n import gettext
from trytond.model import Model
from trytond.pool import Pool
from trytond.sendmail import send_message_transactional

TIMEOUT = 20
CONNECTOR_EVENT = 'ONIMOPENLINESMESSAGEADD'


class DeliveryError(Exception):
    pass


def telegram_send(api_url, bot_token, chat_id, text):
    """Call the Bot API's sendMessage; return its result or raise
    DeliveryError with the API's description"""
    url = '%s/bot%s/sendMessage' % (api_url.rstrip('/'), bot_token)
    # chats are numbers in the Bot API ("@channel" names are strings)
    if str(chat_id).lstrip('-').isdigit():
        chat_id = int(chat_id)
    body = json.dumps({'chat_id': chat_id, 'text': text}).encode('utf-8')
    request = urllib.request.Request(url, data=body, method='POST',
        headers={'Content-Type': 'application/json'})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            answer = json.loads(response.read(1024 * 1024) or b'{}')
    except urllib.error.HTTPError as error:
        try:
            answer = json.loads(error.read(64 * 1024) or b'{}')
        except ValueError:
            answer = {}
        raise DeliveryError(answer.get('description') or str(error))
    except (OSError, ValueError) as error:
        raise DeliveryError(str(error))
    if not answer.get('ok'):
        raise DeliveryError(answer.get('description') or 'not ok')
    return answer.get('result')


class Delivery(Model):
    "Open Line Delivery"
    __name__ = 'crm.openline.delivery'

    @classmethod
    def send(cls, message):
        conversation = message.conversation
        channel = conversation.channel
        getattr(cls, '_send_%s' % channel.type)(message, conversation,
            channel)

    @classmethod
    def _send_widget(cls, message, conversation, channel):
        "The visitor's page polls for it"

    @classmethod
    def _send_telegram(cls, message, conversation, channel):
        if not channel.bot_token:
            raise DeliveryError(gettext(
                    'crm_openlines.msg_channel_no_bot_token',
                    channel=channel.rec_name))
        telegram_send(channel.api_url or 'https://api.telegram.org',
            channel.bot_token, conversation.external_chat, message.text)

    @classmethod
    def _send_email(cls, message, conversation, channel):
        sender = channel.from_address or config.get(
            'email', 'from', default='')
        if not conversation.client_email or not sender:
            raise DeliveryError(gettext(
                    'crm_openlines.msg_email_no_address',
                    conversation=conversation.rec_name))
        msg = EmailMessage()
        msg['From'] = sender
        msg['To'] = conversation.client_email
        subject = conversation.email_subject or conversation.line.rec_name
        if not subject.lower().startswith('re:'):
            subject = 'Re: ' + subject
        msg['Subject'] = subject
        msg['Message-ID'] = make_msgid()
        if conversation.email_thread:
            # The client's mail program shows it in the same thread.
            msg['In-Reply-To'] = conversation.email_thread
            msg['References'] = conversation.email_thread
        msg.set_content(message.text or '')
        send_message_transactional(msg, strict=True)

    @classmethod
    def _send_connector(cls, message, conversation, channel):
        Event = Pool().get('crm.event')
        Event.emit(CONNECTOR_EVENT, {
                'CONNECTOR': channel.connector,
                'LINE': conversation.line.id,
                'CHAT_ID': conversation.external_chat,
                'DIALOG_ID': conversation.id,
                'MESSAGE_ID': message.id,
                'TEXT': message.text,
                'OPERATOR': message.author.rec_name if message.author else '',
                }, conversation.company.id)
