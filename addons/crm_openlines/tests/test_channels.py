"The widget's checks, the connector REST methods and reply delivery"
import json

from trytond.modules.crm_openlines.widget import (
    Refused, cors_headers, poll_messages, post_message, rate_conversation,
    widget_script)
from trytond.modules.crm_portal.tests.tools import CrmTestCase, crm_company
from trytond.modules.crm_portal.rest import RestError
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from .tools import T0, as_operator, at, line, operator


class ChannelTestCase(CrmTestCase):
    modules = ['crm_openlines']

    def assertRefused(self, status, func, *args):
        with self.assertRaises(Refused) as context:
            func(*args)
        self.assertEqual(context.exception.status, status)
        return context.exception

    @with_transaction()
    def test_widget_key_origin_visitor(self):
        pool = Pool()
        Channel = pool.get('crm.openline.channel')
        with crm_company() as company:
            anna, _ = operator(company, "Anna", 'w_anna')
            _, channel = line(company, [anna])
            key = Channel.set_key(channel)
            self.assertNotIn(key, channel.key_hash)
            self.assertIsNone(widget_script(pool, channel.id, 'wrong', 'x'))
            script = widget_script(pool, channel.id, key, 'http://h/db')
            self.assertIn('"key": "%s"' % key, script)
            self.assertIn('http://h/db/openlines/widget/%s' % channel.id,
                script)

            self.assertEqual(cors_headers(pool, channel.id,
                    'http://shop.example.com')[
                    'Access-Control-Allow-Origin'],
                'http://shop.example.com')
            self.assertRefused(403, cors_headers, pool, channel.id,
                'http://evil.example.com')
            self.assertRefused(401, post_message, pool, channel.id,
                {'key': 'wrong', 'text': 'Hi'})
            self.assertRefused(400, post_message, pool, channel.id,
                {'key': key, 'text': '  '})
            self.assertRefused(413, post_message, pool, channel.id,
                {'key': key, 'text': 'x' * 5000})
            self.assertRefused(400, post_message, pool, channel.id, [])

            with at(T0):
                answer = post_message(pool, channel.id, {'key': key,
                        'text': 'Hello', 'name': 'Olga',
                        'email': 'olga@example.com', 'id': '1'})
            visitor = answer['visitor']
            # a retried post is not stored twice
            with at(T0):
                again = post_message(pool, channel.id, {'key': key,
                        'visitor': visitor, 'text': 'Hello', 'id': '1'})
            self.assertTrue(again['duplicate'])
            self.assertEqual(again['message'], answer['message'])
            chat = visitor.split('.')[0]
            self.assertRefused(403, poll_messages, pool, channel.id,
                {'key': key, 'visitor': chat + '.forged'})
            self.assertRefused(403, post_message, pool, channel.id,
                {'key': key, 'visitor': 'nobody.x', 'text': 'Hi'})
            polled = poll_messages(pool, channel.id,
                {'key': key, 'visitor': visitor})
            self.assertEqual([m['text'] for m in polled['messages']],
                ['Hello'])

    @with_transaction()
    def test_widget_poll_shows_replies_not_notes_and_rating(self):
        pool = Pool()
        Channel = pool.get('crm.openline.channel')
        Conversation = pool.get('crm.openline.conversation')
        with crm_company() as company:
            anna, anna_user = operator(company, "Anna", 'w_anna2')
            _, channel = line(company, [anna], rating_request=True,
                rating_message="Rate us")
            key = Channel.set_key(channel)
            with at(T0):
                answer = post_message(pool, channel.id,
                    {'key': key, 'text': 'Hello'})
            body = {'key': key, 'visitor': answer['visitor']}
            after = poll_messages(pool, channel.id, body)['messages'][-1][
                'id']
            conversation = Conversation(answer['conversation'])
            user_ctx, emp_ctx = as_operator(anna, anna_user)
            with user_ctx, emp_ctx:
                conversation.draft = "internal"
                conversation.save()
                Conversation.note([conversation])
                conversation.draft = "Hi Olga"
                conversation.save()
                Conversation.send([conversation])
            polled = poll_messages(pool, channel.id, dict(body, after=after))
            self.assertEqual(
                [(m['direction'], m['text'], m['author'])
                    for m in polled['messages']],
                [('out', 'Hi Olga', 'Anna')])
            self.assertFalse(polled['rating'])
            self.assertRefused(400, rate_conversation, pool, channel.id,
                dict(body, rating=5))
            Conversation.close([conversation])
            polled = poll_messages(pool, channel.id, body)
            self.assertTrue(polled['rating'])
            self.assertEqual(polled['messages'][-1]['text'], "Rate us")
            self.assertRefused(400, rate_conversation, pool, channel.id,
                dict(body, rating=9))
            rate_conversation(pool, channel.id, dict(body, rating=4))
            self.assertEqual(Conversation(conversation.id).rating, '4')
            # writing again opens a new conversation of the same visitor
            with at(T0):
                second = post_message(pool, channel.id,
                    dict(body, text='One more thing'))
            self.assertNotEqual(second['conversation'], conversation.id)
            polled = poll_messages(pool, channel.id, body)
            self.assertEqual(polled['state'], 'waiting')
            self.assertEqual(polled['messages'][0]['text'], 'Hello')

    @with_transaction()
    def test_connector_rest_and_reply_event(self):
        pool = Pool()
        Rest = pool.get('crm.rest')
        Channel = pool.get('crm.openline.channel')
        Conversation = pool.get('crm.openline.conversation')
        Subscription = pool.get('crm.event.subscription')
        Delivery = pool.get('crm.event.delivery')
        with crm_company() as company:
            anna, anna_user = operator(company, "Anna", 'c_anna')
            openline, _ = line(company, [anna])
            Channel.create([{'line': openline.id, 'name': "WhatsApp",
                        'type': 'connector', 'connector': 'wa'}])
            message = {'user': {'id': 'u1', 'name': 'Olga',
                    'phone': '+79160000002'},
                'message': {'id': 'm1', 'text': 'Hello from WA'},
                'chat': {'id': 'chat1'}}
            with at(T0):
                result, _ = Rest.call('imopenlines.connector.send.messages',
                    {'CONNECTOR': 'wa', 'MESSAGES': [message]})
                again, _ = Rest.call('imopenlines.connector.send.messages',
                    {'CONNECTOR': 'wa', 'MESSAGES': [message]})
            first, = result['DATA']['RESULT']
            self.assertFalse(first['DUPLICATE'])
            self.assertTrue(again['DATA']['RESULT'][0]['DUPLICATE'])
            for params in [{'CONNECTOR': 'nope', 'MESSAGES': [message]},
                    {'CONNECTOR': 'wa', 'MESSAGES': []},
                    {'CONNECTOR': 'wa', 'MESSAGES': [{'user': {}}]}]:
                with self.assertRaises(RestError):
                    Rest.call('imopenlines.connector.send.messages', params)
            lines, _ = Rest.call('imopenlines.config.list.get', {})
            self.assertIn('wa', [c['CONNECTOR'] for c in lines[0][
                        'CHANNELS']])

            Subscription.create([{'company': company.id,
                        'event': 'ONIMOPENLINESMESSAGEADD',
                        'url': 'http://127.0.0.1:9/hook'}])
            conversation = Conversation(first['DIALOG_ID'])
            user_ctx, emp_ctx = as_operator(anna, anna_user)
            with user_ctx, emp_ctx:
                conversation.draft = "Hi from operator"
                conversation.save()
                Conversation.send([conversation])
            Transaction().tasks.clear()
            reply = [m for m in conversation.messages
                if m.direction == 'out'][-1]
            self.assertEqual(reply.delivery, 'pending')
            pool.get('crm.openline.message').deliver([reply])
            delivery, = Delivery.search([
                    ('event', '=', 'ONIMOPENLINESMESSAGEADD')])
            fields = json.loads(delivery.payload)['data']['FIELDS']
            self.assertEqual(fields['CHAT_ID'], 'chat1')
            self.assertEqual(fields['TEXT'], 'Hi from operator')
            dialog, _ = Rest.call('imopenlines.dialog.get',
                {'DIALOG_ID': conversation.id})
            self.assertEqual([m['TEXT'] for m in dialog['MESSAGES']],
                ['Hello from WA', 'Hi from operator'])

    @with_transaction()
    def test_inbound_email_opens_conversation_and_reply_threads(self):
        pool = Pool()
        Inbox = pool.get('inbound.email.inbox')
        Email = pool.get('inbound.email')
        Channel = pool.get('crm.openline.channel')
        with crm_company() as company:
            anna, anna_user = operator(company, "Anna", 'e_anna')
            openline, _ = line(company, [anna])
            inbox, = Inbox.create([{'name': "Support", 'rules': [
                            ('create', [{'action':
                                        'crm.openline.conversation'
                                        '|post_inbound_email'}])]}])
            Channel.create([{'line': openline.id, 'name': "Mail",
                        'type': 'email', 'inbox': inbox.id,
                        'from_address': 'support@example.com'}])
            raw = (b'From: Olga <olga@example.com>\r\n'
                b'To: support@example.com\r\n'
                b'Subject: Invoice\r\n'
                b'Message-ID: <abc@example.com>\r\n\r\n'
                b'Where is my invoice?\r\n')
            email, = Email.create([{'inbox': inbox.id, 'data': raw,
                        'data_type': 'raw'}])
            with Transaction().set_context(company=company.id), at(T0):
                Email.process([email])
            conversation = email.result
            self.assertEqual(conversation.client_email, 'olga@example.com')
            self.assertEqual(conversation.email_thread, '<abc@example.com>')
            self.assertEqual(conversation.messages[0].text,
                'Where is my invoice?')
            self.assertEqual(conversation.opportunity.contact_email,
                'olga@example.com')
