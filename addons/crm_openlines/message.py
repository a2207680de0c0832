# Messages of a conversation: the client's, the operators' replies, notes
# the client never sees. Outgoing ones are delivered through the queue.
import html
import logging

import nh3

from trytond.model import Index, ModelSQL, ModelView, Unique, fields
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction

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
MAX_TEXT = 4096


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
    attachment = fields.Binary(
        "Attachment Data", filename='attachment_name', readonly=True)
    delivery = fields.Selection(
        DELIVERY_STATES, "Delivery", readonly=True,
        states={'invisible': Eval('direction') != 'out'})
    delivery_error = fields.Char("Delivery Error", readonly=True,
        states={'invisible': Eval('delivery') != 'failed'})

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
                })

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
        cls.write(messages, {'delivery': 'pending'})
        with Transaction().set_context(queue_name='crm_openlines'):
            cls.__queue__.deliver(messages)

    @classmethod
    def deliver(cls, messages):
        "Send each message through its channel (run by the queue)"
        pool = Pool()
        Delivery = pool.get('crm.openline.delivery')
        for message in messages:
            if message.delivery != 'pending':
                continue
            try:
                Delivery.send(message)
            except Exception as exception:
                logger.warning("delivery of message %s failed: %s",
                    message.id, exception)
                message.delivery = 'failed'
                message.delivery_error = str(exception)[:200]
            else:
                message.delivery = 'sent'
                message.delivery_error = None
        cls.save(messages)
