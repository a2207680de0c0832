# Delivery of an operator's reply through the conversation's channel:
# Telegram's sendMessage, an e-mail in the same thread, or an event the
# integrator's connector receives by webhook. The widget fetches its own.
import smtplib
from email.message import EmailMessage
from email.utils import make_msgid

from trytond.config import config
from trytond.i18n import gettext
from trytond.model import Model
from trytond.pool import Pool
from trytond.sendmail import send_message

from .telegram_api import DeliveryError, rating_keyboard, telegram_call

CONNECTOR_EVENT = 'ONIMOPENLINESMESSAGEADD'
__all__ = ['DeliveryError', 'Delivery', 'CONNECTOR_EVENT']


class Delivery(Model):
    "Open Line Delivery"
    __name__ = 'crm.openline.delivery'

    @classmethod
    def send(cls, message):
        """Send message through its channel or raise DeliveryError; return
        the webhook delivery that carries it for a connector"""
        conversation = message.conversation
        channel = conversation.channel
        return getattr(cls, '_send_%s' % channel.type)(
            message, conversation, channel)

    @classmethod
    def _send_widget(cls, message, conversation, channel):
        "The visitor's page polls for it"

    @classmethod
    def _send_telegram(cls, message, conversation, channel):
        if not channel.bot_token:
            raise DeliveryError(gettext(
                    'crm_openlines.msg_channel_no_bot_token',
                    channel=channel.rec_name), final=True)
        chat_id = conversation.external_chat
        # chats are numbers in the Bot API ("@channel" names are strings)
        if str(chat_id).lstrip('-').isdigit():
            chat_id = int(chat_id)
        body = {'chat_id': chat_id, 'text': message.text}
        if message.markup == 'rating':
            body['reply_markup'] = rating_keyboard(conversation.id)
        telegram_call(channel.api_url or 'https://api.telegram.org',
            channel.bot_token, 'sendMessage', body)

    @classmethod
    def _send_email(cls, message, conversation, channel):
        sender = channel.from_address or config.get(
            'email', 'from', default='')
        if not conversation.client_email or not sender:
            raise DeliveryError(gettext(
                    'crm_openlines.msg_email_no_address',
                    conversation=conversation.rec_name), final=True)
        msg = EmailMessage()
        msg['From'] = sender
        msg['To'] = conversation.client_email
        subject = conversation.email_subject or conversation.line.rec_name
        if not subject.lower().startswith('re:'):
            subject = 'Re: ' + subject
        msg['Subject'] = subject
        msg['Message-ID'] = make_msgid()
        thread = cls._email_thread(conversation)
        if thread:
            # The client's mail program shows it in the same thread.
            msg['In-Reply-To'] = thread[-1]
            msg['References'] = ' '.join(thread)
        msg.set_content(message.text or '')
        # Sent now, not at commit, so that a failure is known and retried
        try:
            send_message(msg, strict=True)
        except (smtplib.SMTPException, OSError) as exception:
            raise DeliveryError(str(exception)
                or exception.__class__.__name__)

    @classmethod
    def _email_thread(cls, conversation):
        "Message-IDs of the client's first and last mail"
        Message = Pool().get('crm.openline.message')
        last = Message.search([
                ('conversation', '=', conversation.id),
                ('direction', '=', 'in'),
                ('external_id', 'like', '<%'),
                ], order=[('id', 'DESC')], limit=1)
        thread = [conversation.email_thread] if conversation.email_thread \
            else []
        # a mail's further attachments are <id>#n
        last = last[0].external_id.split('#')[0] if last else None
        if last and last not in thread:
            thread.append(last)
        return thread

    @classmethod
    def _send_connector(cls, message, conversation, channel):
        Event = Pool().get('crm.event')
        deliveries = Event.emit(CONNECTOR_EVENT, {
                'CONNECTOR': channel.connector,
                'LINE': conversation.line.id,
                'CHAT_ID': conversation.external_chat,
                'DIALOG_ID': conversation.id,
                'MESSAGE_ID': message.id,
                'TEXT': message.text,
                'OPERATOR': message.author.rec_name if message.author else '',
                }, conversation.company.id)
        if not deliveries:
            raise DeliveryError(gettext(
                    'crm_openlines.msg_connector_no_handler',
                    event=CONNECTOR_EVENT), final=True)
        return deliveries[0]
