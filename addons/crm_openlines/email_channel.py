# E-mail as a channel: an inbound e-mail rule posts the mail to the
# conversation of its sender; replies go out in the same thread
# (delivery.py).
from email.utils import getaddresses

from trytond.pool import Pool, PoolMeta


class Rule(metaclass=PoolMeta):
    __name__ = 'inbound.email.rule'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.action.selection.append(
            ('crm.openline.conversation|post_inbound_email',
                "Post to Open Line"))


class Conversation(metaclass=PoolMeta):
    __name__ = 'crm.openline.conversation'

    @classmethod
    def post_inbound_email(cls, email_, rule):
        "Store the e-mail as a client's message; return the conversation"
        pool = Pool()
        Channel = pool.get('crm.openline.channel')
        channels = Channel.search([
                ('type', '=', 'email'),
                ('inbox', '=', rule.inbox.id),
                ], limit=1)
        if not channels:
            return None
        channel, = channels
        value = email_.as_dict()
        sender = (value.get('from') or '').lower()
        if not sender:
            return None
        headers = value.get('headers') or {}
        name = ''
        if headers.get('From'):
            name = (getaddresses([headers['From']])[0][0] or '').strip()
        text = value.get('text') or value.get('html') or ''
        message_id = headers.get('Message-ID') or email_.data_id
        files = [{'name': a.get('filename') or 'attachment',
                'data': a.get('data'), 'type': a.get('type')}
            for a in value.get('attachments') or []]
        conversation, message, duplicate = cls.receive(
            channel, sender, text,
            client={'name': name, 'email': sender},
            external_id=message_id,
            attachment=files[0] if files else None)
        # each further MIME part is a message of its own, one file each
        for i, file in enumerate(files[1:], 1):
            cls.receive(channel, sender, '', external_id='%s#%s' % (
                    message_id, i), attachment=file)
        if not duplicate and not conversation.email_thread:
            conversation.email_thread = headers.get('Message-ID')
            conversation.email_subject = (value.get('subject') or '')[:200]
            conversation.save()
        return conversation
