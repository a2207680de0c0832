# Connector API for integrators (REST scope imopenlines): another
# messenger posts its clients' messages with imopenlines.connector.send.
# messages and receives operators' replies as the ONIMOPENLINESMESSAGEADD
# event (bind it with event.bind).
from trytond.i18n import gettext
from trytond.modules.crm_portal.rest import RestError, RestMethod
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction

from .delivery import CONNECTOR_EVENT

MAX_MESSAGES = 50


class Event(metaclass=PoolMeta):
    __name__ = 'crm.event'

    @classmethod
    def events(cls):
        events = super().events()
        events[CONNECTOR_EVENT] = gettext(
            'crm_openlines.msg_event_connector_message')
        return events


class EventDelivery(metaclass=PoolMeta):
    __name__ = 'crm.event.delivery'

    def _save_attempt(self, status, error, final=False):
        "The connector's messages follow the state of their webhook post"
        super()._save_attempt(status, error, final=final)
        if self.event != CONNECTOR_EVENT:
            return
        pool = Pool()
        Message = pool.get('crm.openline.message')
        delivery = self.__class__(self.id)
        messages = Message.search([('webhook_delivery', '=', delivery.id)])
        if not messages:
            return
        Message.write(messages, {
                'delivery': {'done': 'sent', 'failed': 'failed'}.get(
                    delivery.state, 'pending'),
                'delivery_attempts': delivery.attempts,
                'delivery_error': (delivery.last_error or '')[:500] or None,
                'next_attempt': delivery.next_attempt,
                })


class Rest(metaclass=PoolMeta):
    __name__ = 'crm.rest'

    @classmethod
    def methods(cls):
        methods = super().methods()
        for method in [
                RestMethod('imopenlines.config.list.get',
                    cls.rest_openlines_lines, 'imopenlines',
                    "Open lines with their channels", readonly=True),
                RestMethod('imopenlines.connector.send.messages',
                    cls.rest_openlines_send, 'imopenlines',
                    "Post clients' messages received by a connector",
                    {'CONNECTOR': "the connector ID of the channel",
                        'MESSAGES': "list of {user: {id, name, phone, "
                        "email}, message: {id, text}, chat: {id}}"}),
                RestMethod('imopenlines.dialog.get',
                    cls.rest_openlines_dialog, 'imopenlines',
                    "A conversation with its messages",
                    {'DIALOG_ID': "the conversation id"}, readonly=True),
                ]:
            methods[method.name] = method
        return methods

    @classmethod
    def rest_openlines_lines(cls, params):
        Line = Pool().get('crm.openline')
        return [{
                'ID': line.id,
                'LINE_NAME': line.name,
                'ACTIVE': 'Y' if line.active else 'N',
                'CHANNELS': [{
                        'ID': c.id, 'TYPE': c.type, 'NAME': c.name,
                        'CONNECTOR': c.connector,
                        } for c in line.channels],
                } for line in Line.search([])]

    @classmethod
    def rest_openlines_send(cls, params):
        pool = Pool()
        Channel = pool.get('crm.openline.channel')
        Conversation = pool.get('crm.openline.conversation')
        channel = Channel.find_connector(params.get('CONNECTOR'))
        if channel is None:
            raise RestError('CONNECTOR_NOT_FOUND', gettext(
                    'crm_openlines.msg_connector_not_found',
                    connector=str(params.get('CONNECTOR'))[:100]), 404)
        messages = params.get('MESSAGES')
        if isinstance(messages, dict):
            # PHP-style MESSAGES[0][...] arrive as a dict of indexes
            messages = [messages[k] for k in sorted(messages, key=str)]
        if (not isinstance(messages, list) or not messages
                or len(messages) > MAX_MESSAGES):
            raise RestError('INVALID_MESSAGES', gettext(
                    'crm_openlines.msg_connector_messages',
                    limit=MAX_MESSAGES))
        read = [cls._connector_message(m) for m in messages]
        result = []
        with Transaction().set_context(company=channel.line.company.id):
            for chat, text, client, external_id in read:
                conversation, message, duplicate = Conversation.receive(
                    channel, chat, text, client=client,
                    external_id=external_id)
                result.append({
                        'DIALOG_ID': conversation.id,
                        'MESSAGE_ID': message.id,
                        'DUPLICATE': duplicate,
                        })
        return {'SUCCESS': True, 'DATA': {'RESULT': result}}

    @classmethod
    def _connector_message(cls, value):
        def part(name):
            item = value.get(name) if isinstance(value, dict) else None
            if not isinstance(item, dict):
                raise RestError('INVALID_MESSAGES', gettext(
                        'crm_openlines.msg_connector_message_part',
                        part=name))
            return item
        user, message, chat = part('user'), part('message'), part('chat')
        chat_id = str(chat.get('id') or user.get('id') or '').strip()
        text = message.get('text')
        if not chat_id or not isinstance(text, str) or not text.strip():
            raise RestError('INVALID_MESSAGES', gettext(
                    'crm_openlines.msg_connector_message_part',
                    part='chat.id/message.text'))
        client = {
            'name': ' '.join(filter(None, [str(user.get('name') or ''),
                        str(user.get('last_name') or '')])).strip(),
            'phone': str(user.get('phone') or ''),
            'email': str(user.get('email') or ''),
            }
        external_id = message.get('id')
        return (chat_id[:100], text, client,
            'c:%s:%s' % (chat_id[:100], str(external_id)[:100])
            if external_id not in (None, '') else None)

    @classmethod
    def rest_openlines_dialog(cls, params):
        Conversation = Pool().get('crm.openline.conversation')
        try:
            dialog_id = int(params.get('DIALOG_ID'))
        except (TypeError, ValueError):
            dialog_id = -1
        conversations = Conversation.search([('id', '=', dialog_id)],
            limit=1)
        if not conversations:
            raise RestError('DIALOG_NOT_FOUND', gettext(
                    'crm_openlines.msg_dialog_not_found'), 404)
        conversation, = conversations
        return {
            'ID': conversation.id,
            'LINE_ID': conversation.line.id,
            'STATE': conversation.state,
            'CHAT_ID': conversation.external_chat,
            'OPERATOR_ID': conversation.operator.id
            if conversation.operator else None,
            'LEAD_ID': conversation.opportunity.id
            if conversation.opportunity else None,
            'MESSAGES': [{
                    'ID': m.id, 'DIRECTION': m.direction, 'TEXT': m.text,
                    'DATE': m.date,
                    } for m in conversation.messages
                if m.direction != 'note'],
            }
