# Messages of a conversation: the client's, the operators' replies, notes
# the client never sees. Outgoing ones are delivered through the queue,
# retried with backoff until [crm_openlines] delivery_attempts.
import datetime
import html
import logging

import nh3

from trytond.config import config
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Unique, fields
from trytond.modules.crm_portal.event_delivery import retry_due_before
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.transaction import Transaction

from .attachment import AttachmentRefused, check, clean_name

logger = logging.getLogger(__name__)

DIRECTIONS = [
    ('in', "From Client"),
    ('out', "To Client"),
    ('note', "Internal Note"),
    ]
DELIVERY_STATES = [
    (None, ""),
    ('pending', "Pending"),
    ('sent', "Sent"),
    ('failed', "Failed"),
    ]
MARKUPS = [
    (None, ""),
    ('rating', "Rating Request"),
    ]
MAX_TEXT = 4096
QUEUE_NAME = 'crm_openlines'
ERROR_LENGTH = 500


def delivery_attempts():
    "Attempts before a delivery is given up ([crm_openlines])"
    return max(config.getint('crm_openlines', 'delivery_attempts',
            default=5), 1)


def backoff(attempts):
    """Delay before the attempt after attempts failures: [crm_openlines]
    delivery_backoff seconds (30) times 4 for each failure, at most 1 h"""
    base = config.getfloat('crm_openlines', 'delivery_backoff', default=30)
    return datetime.timedelta(seconds=min(
            base * 4 ** (max(attempts, 1) - 1), 3600))


def clean_text(value, limit=MAX_TEXT):
    """Message text without any HTML: tags and scripts removed.

    Messages are plain text everywhere they are shown (the widget writes
    them as text, the client in a text field), so the entities nh3 leaves
    are turned back into characters."""
    if value is None:
        return ''
    text = html.unescape(nh3.clean(str(value), tags=set()))
    return text.strip()[:limit]


class Message(ModelSQL, ModelView):
    __name__ = 'crm.openline.message'

    conversation = fields.Many2One(
        'crm.openline.conversation', "Conversation", required=True,
        ondelete='CASCADE', readonly=True)
    channel = fields.Many2One(
        'crm.openline.channel', "Channel", readonly=True, ondelete='SET NULL')
    direction = fields.Selection(
        DIRECTIONS, "Direction", required=True, readonly=True)
    date = fields.DateTime("Date", required=True, readonly=True)
    author = fields.Many2One(
        'company.employee', "Operator", readonly=True, ondelete='SET NULL')
    text = fields.Text("Text", readonly=True)
    external_id = fields.Char(
        "External ID", readonly=True,
        help="The channel's identifier: a message received twice is "
        "stored once.")
    attachment_name = fields.Char("Attachment", readonly=True)
    # the file is in the filestore, the row keeps its id
    attachment = fields.Binary(
        "Attachment Data", filename='attachment_name',
        file_id='attachment_id', readonly=True)
    attachment_id = fields.Char("Attachment ID", readonly=True)
    attachment_type = fields.Char("Attachment Type", readonly=True)
    attachment_size = fields.Integer("Attachment Size", readonly=True)
    attachment_error = fields.Char("Attachment Not Stored", readonly=True,
        states={'invisible': ~Eval('attachment_error')})
    markup = fields.Selection(MARKUPS, "Markup", readonly=True)
    delivery = fields.Selection(
        DELIVERY_STATES, "Delivery", readonly=True,
        states={'invisible': Eval('direction') != 'out'})
    delivery_error = fields.Char("Delivery Error", readonly=True,
        states={'invisible': ~Eval('delivery_error')},
        help="Why the last attempt failed.")
    delivery_attempts = fields.Integer("Delivery Attempts", readonly=True,
        states={'invisible': Eval('direction') != 'out'})
    next_attempt = fields.DateTime("Next Attempt", readonly=True,
        states={'invisible': Eval('delivery') != 'pending'})
    webhook_delivery = fields.Many2One(
        'crm.event.delivery', "Webhook Delivery", readonly=True,
        ondelete='SET NULL',
        states={'invisible': ~Eval('webhook_delivery')},
        help="The connector's webhook post carrying the message.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('conversation')
        t = cls.__table__()
        cls._order = [('date', 'ASC'), ('id', 'ASC')]
        cls._sql_constraints += [
            ('channel_external_unique', Unique(t, t.channel, t.external_id),
                'crm_openlines.msg_message_external_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.conversation, Index.Range()),
                    (t.id, Index.Range())),
                Index(t, (t.delivery, Index.Equality(cardinality='low')),
                    (t.next_attempt, Index.Range()),
                    where=t.delivery == 'pending'),
                Index(t, (t.webhook_delivery, Index.Equality()),
                    where=t.webhook_delivery != None),  # noqa: E711
                })

    def set_attachment(self, name, data, declared_type=None, error=None):
        """Keep a client's file, or its name and why it was not kept (too
        large, type not allowed, not received from the channel)"""
        name = clean_name(name)
        self.attachment_name = name
        if data is None:
            self.attachment_error = (error or gettext(
                    'crm_openlines.msg_attachment_not_received'))[:200]
            return
        try:
            name, type_, data = check(name, data, declared_type)
        except AttachmentRefused as refused:
            self.attachment_error = gettext(
                'crm_openlines.' + refused.message, **refused.values)[:200]
            return
        self.attachment_name, self.attachment_type = name, type_
        self.attachment, self.attachment_size = data, len(data)

    def get_rec_name(self, name):
        return (self.text or self.attachment_name or '')[:60]

    @classmethod
    def received(cls, channel, external_id):
        "The message external_id already received on channel, or None"
        if not external_id:
            return None
        messages = cls.search([
                ('channel', '=', channel.id),
                ('external_id', '=', external_id),
                ], limit=1)
        return messages[0] if messages else None

    def transcript_line(self, lang_format):
        who = {
            'in': self.conversation.client_label,
            'out': self.author.rec_name if self.author else '',
            'note': self.author.rec_name if self.author else '',
            }[self.direction]
        prefix = '[note] ' if self.direction == 'note' else ''
        text = self.text or ''
        if self.attachment_name:
            text = (text + ' [%s]' % self.attachment_name).strip()
        return '%s %s%s: %s' % (
            lang_format(self.date), prefix, who, text)

    @classmethod
    def deliver_later(cls, messages):
        "Deliver the outgoing messages once the transaction is committed"
        messages = [m for m in messages if m.direction == 'out'
            and m.conversation.channel
            and m.conversation.channel.type != 'widget']
        if not messages:
            return
        cls.write(messages, {'delivery': 'pending', 'delivery_attempts': 0})
        cls._push(messages)

    @classmethod
    def _push(cls, messages, delay=None):
        context = {'queue_name': QUEUE_NAME}
        if delay:
            context['queue_scheduled_at'] = delay
        with Transaction().set_context(**context):
            for message in messages:
                cls.__queue__.deliver([message])

    @classmethod
    def deliver(cls, messages):
        """Try to send each due pending message once (the queue task); a
        failure schedules the next attempt"""
        from .conversation import now
        for message in messages:
            cls.lock([message])
            # Read again after the lock: another task may have sent it.
            message = cls(message.id)
            if message.delivery != 'pending' or message.webhook_delivery:
                continue
            if message.next_attempt and message.next_attempt > now():
                continue
            message._attempt()

    def _attempt(self):
        pool = Pool()
        Delivery = pool.get('crm.openline.delivery')
        from .conversation import now
        from .delivery import DeliveryError
        error, final, webhook = None, False, None
        try:
            webhook = Delivery.send(self)
        except DeliveryError as exception:
            error, final = str(exception), exception.final
        except Exception as exception:
            error = str(exception) or exception.__class__.__name__
        attempts = (self.delivery_attempts or 0) + 1
        values = {
            'delivery_attempts': attempts,
            'delivery_error': error[:ERROR_LENGTH] if error else None,
            'next_attempt': None,
            }
        delay = None
        if webhook:
            # the connector's webhook post has retries of its own: the
            # message follows its state (connector.py)
            values.update(delivery='pending', webhook_delivery=webhook.id)
        elif not error:
            values['delivery'] = 'sent'
        elif final or attempts >= delivery_attempts():
            values['delivery'] = 'failed'
        else:
            delay = backoff(attempts)
            values.update(delivery='pending', next_attempt=now() + delay)
        if error:
            logger.warning("delivery of message %s failed (attempt %s): %s",
                self.id, attempts, error)
        self.__class__.write([self], values)
        if delay:
            self.__class__._push([self], delay=delay)

    @classmethod
    def retry_due(cls):
        """Queue again the pending deliveries whose time has come (cron):
        without a queue worker a scheduled task would wait for ever"""
        from .conversation import now
        messages = cls.search([
                ('delivery', '=', 'pending'),
                ('webhook_delivery', '=', None),
                ('next_attempt', '<=', retry_due_before(now())),
                ], order=[('next_attempt', 'ASC')])
        cls._push(messages)


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.append(
            ('crm.openline.message|retry_due', "Retry Open Line Deliveries"))
