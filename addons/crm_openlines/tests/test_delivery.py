"""Replies going out and files coming in, against scripted peers on
loopback: retries with backoff (Telegram, connector webhook), e-mail
replies in the client's thread over SMTP, attachments in the filestore."""
import base64
import datetime
from email.message import EmailMessage

import trytond.config as config
from trytond.modules.crm_openlines.widget import Refused, post_message
from trytond.modules.crm_portal.tests.tools import CrmTestCase, crm_company
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from .peers import SMTPPeer, BotAPI, Webhook
from .tools import T0, as_operator, at, line, operator

TOKEN = '42:peer-token'
PNG = b'\x89PNG\r\n\x1a\n' + bytes(range(256)) * 4
PDF = b'%PDF-1.4\n' + b'x' * 3000 + b'\n%%EOF\n'


class configured:
    "Set [section] option for the block, restore it after"

    def __init__(self, section, option, value):
        self.section, self.option, self.value = section, option, value

    def __enter__(self):
        if not config.has_section(self.section):
            config.add_section(self.section)
        self.old = config.get(self.section, self.option)
        config.set(self.section, self.option, self.value)

    def __exit__(self, *args):
        if self.old is None:
            config._config.remove_option(self.section, self.option)
            config._cache_clear()
        else:
            config.set(self.section, self.option, self.old)


def reply(conversation, employee, user, text, moment=T0):
    "What the operator's Send button does; return the outgoing message"
    Conversation = Pool().get('crm.openline.conversation')
    user_ctx, emp_ctx = as_operator(employee, user)
    with user_ctx, emp_ctx, at(moment):
        conversation.draft = text
        conversation.save()
        Conversation.send([conversation])
    # the queue runs them after the commit; the test runs them itself
    Transaction().tasks.clear()
    message, = [m for m in Conversation(conversation.id).messages
        if m.text == text]
    return message


class DeliveryTestCase(CrmTestCase):
    modules = ['crm_openlines']

    def channel(self, company, type_, **values):
        Channel = Pool().get('crm.openline.channel')
        anna, anna_user = operator(company, "Anna", 'd_%s' % type_)
        openline, _ = line(company, [anna])
        channel, = Channel.create([dict({'line': openline.id,
                        'name': type_, 'type': type_}, **values)])
        return channel, anna, anna_user

    @with_transaction()
    def test_telegram_retried_with_backoff_then_given_up(self):
        pool = Pool()
        Message = pool.get('crm.openline.message')
        Conversation = pool.get('crm.openline.conversation')
        Queue = pool.get('ir.queue')
        with crm_company() as company, BotAPI(TOKEN) as bot:
            channel, anna, user = self.channel(company, 'telegram',
                bot_token=TOKEN, api_url=bot.url)
            with Transaction().set_context(company=company.id), at(T0):
                conversation, _, _ = Conversation.receive(
                    channel, 777, "Hi")
            bot.fail(2)
            message = reply(conversation, anna, user, "Hello Ivan")
            self.assertEqual(message.delivery, 'pending')

            second = datetime.timedelta(seconds=1)
            for moment, state, attempts, refused in [
                    (T0, 'pending', 1, 1),
                    (T0 + 29 * second, 'pending', 1, 1),  # not due yet
                    (T0 + 30 * second, 'pending', 2, 2),
                    (T0 + 150 * second, 'sent', 3, 2),
                    (T0 + 900 * second, 'sent', 3, 2),  # sent once only
                    ]:
                with at(moment):
                    Message.deliver([message])
                message = Message(message.id)
                self.assertEqual((message.delivery, message.delivery_attempts,
                        bot.refused), (state, attempts, refused), moment)
                if state == 'pending':
                    self.assertEqual(message.delivery_error, 'Bad Gateway')
            self.assertIsNone(message.delivery_error)
            self.assertEqual(bot.calls.qsize(), 1)
            self.assertEqual(bot.calls.get_nowait(), ('sendMessage',
                    {'chat_id': 777, 'text': "Hello Ivan"}))
            # each failure queued the next attempt, 30 s then 2 min later
            tasks = Queue.search([('name', '=', 'crm_openlines'),
                    ('scheduled_at', '!=', None)], order=[('id', 'ASC')])
            self.assertEqual(len(tasks), 2)
            self.assertEqual([list(t.data['instances']) for t in tasks],
                [[message.id]] * 2)

            bot.fail(10)
            with configured('crm_openlines', 'delivery_attempts', '2'):
                lost = reply(conversation, anna, user, "Are you there?")
                with at(T0):
                    Message.deliver([lost])
                # the cron queues again a delivery that is due
                with at(T0 + 31 * second):
                    Message.retry_due()
                    task_id = Transaction().tasks.pop()
                    Queue(task_id).run()
            lost = Message(lost.id)
            self.assertEqual((lost.delivery, lost.delivery_attempts),
                ('failed', 2))
            self.assertEqual(lost.delivery_error, 'Bad Gateway')
            self.assertIsNone(lost.next_attempt)

    @with_transaction()
    def test_connector_message_follows_webhook_retries(self):
        pool = Pool()
        Message = pool.get('crm.openline.message')
        Conversation = pool.get('crm.openline.conversation')
        Subscription = pool.get('crm.event.subscription')
        Delivery = pool.get('crm.event.delivery')
        with crm_company() as company, Webhook() as hook:
            channel, anna, user = self.channel(company, 'connector',
                connector='wa')
            with Transaction().set_context(company=company.id), at(T0):
                conversation, _, _ = Conversation.receive(
                    channel, 'chat1', "Hi")
            lost = reply(conversation, anna, user, "Nobody listens")
            Message.deliver([lost])
            self.assertEqual(Message(lost.id).delivery, 'failed')

            Subscription.create([{'company': company.id,
                        'event': 'ONIMOPENLINESMESSAGEADD',
                        'url': hook.url}])
            hook.fail(2)
            message = reply(conversation, anna, user, "Hello")
            Message.deliver([message])
            webhook = Message(message.id).webhook_delivery
            for state in ['pending', 'pending', 'sent']:
                Delivery.write([webhook], {
                        'next_attempt': datetime.datetime.now()})
                Delivery.deliver([webhook])
                message = Message(message.id)
                self.assertEqual(message.delivery, state)
            self.assertEqual(message.delivery_attempts, 3)
            self.assertEqual(len(hook.posts), 1)
            self.assertIn(b'Hello', hook.posts[0])

    @with_transaction()
    def test_email_reply_in_thread_and_mime_attachments(self):
        pool = Pool()
        Inbox = pool.get('inbound.email.inbox')
        Email = pool.get('inbound.email')
        Message = pool.get('crm.openline.message')
        with crm_company() as company, SMTPPeer() as smtp, \
                configured('email', 'uri', smtp.uri):
            inbox, = Inbox.create([{'name': "Support", 'rules': [
                            ('create', [{'action': 'crm.openline.'
                                        'conversation|post_inbound_email'}])
                            ]}])
            channel, anna, user = self.channel(company, 'email',
                inbox=inbox.id, from_address='support@example.com')
            mail = EmailMessage()
            mail['From'] = 'Olga <olga@example.com>'
            mail['To'] = 'support@example.com'
            mail['Subject'] = 'Invoice'
            mail['Message-ID'] = '<abc@example.com>'
            mail.set_content("Where is my invoice? Scan and photo attached.")
            mail.add_attachment(PDF, maintype='application', subtype='pdf',
                filename='scan.pdf')
            mail.add_attachment(PNG, maintype='image', subtype='png',
                filename='photo.png')
            mail.add_attachment(b'MZ\x90\x00', maintype='application',
                subtype='x-msdownload', filename='tool.exe')
            email, = Email.create([{'inbox': inbox.id,
                        'data': mail.as_bytes(), 'data_type': 'raw'}])
            with Transaction().set_context(company=company.id), at(T0):
                Email.process([email])
            conversation = email.result
            received = [m for m in conversation.messages
                if m.direction == 'in']
            self.assertEqual(
                [(m.attachment_name, m.attachment_type, m.attachment_size)
                    for m in received],
                [('scan.pdf', 'application/pdf', len(PDF)),
                    ('photo.png', 'image/png', len(PNG)),
                    ('tool.exe', None, None)])
            self.assertEqual(received[0].text.split('\n')[0],
                "Where is my invoice? Scan and photo attached.")
            # the files are in the filestore, read back whole
            self.assertTrue(received[0].attachment_id)
            self.assertEqual(bytes(Message(received[0].id).attachment), PDF)
            self.assertEqual(bytes(Message(received[1].id).attachment), PNG)
            self.assertIsNone(Message(received[2].id).attachment)
            self.assertIn('application/x-msdownload',
                received[2].attachment_error)

            message = reply(conversation, anna, user, "It is on its way.")
            Message.deliver([message])
            self.assertEqual(Message(message.id).delivery, 'sent')
            sender, recipients, sent = smtp.messages.get(timeout=10)
            self.assertEqual((sender, recipients),
                ('support@example.com', ['olga@example.com']))
            self.assertEqual(sent['Subject'], 'Re: Invoice')
            self.assertEqual(sent['In-Reply-To'], '<abc@example.com>')
            self.assertEqual(sent['References'], '<abc@example.com>')
            self.assertEqual(sent.get_content().strip(), "It is on its way.")

    @with_transaction()
    def test_widget_upload_checked_and_stored(self):
        pool = Pool()
        Channel = pool.get('crm.openline.channel')
        Message = pool.get('crm.openline.message')
        with crm_company() as company:
            anna, _ = operator(company, "Anna", 'u_anna')
            _, channel = line(company, [anna])
            key = Channel.set_key(channel)

            def upload(name, type_, data, **values):
                return post_message(pool, channel.id, dict({'key': key,
                            'file': {'name': name, 'type': type_,
                                'data': base64.b64encode(data).decode()}},
                        **values))
            with at(T0):
                answer = upload('../../photo.png', 'image/png', PNG)
            message = Message(answer['message'])
            self.assertEqual((message.attachment_name, message.attachment_type,
                    bytes(message.attachment)), ('photo.png', 'image/png', PNG))
            for name, type_, data, status in [
                    ('page.html', 'text/html', b'<script>1</script>', 415),
                    ('big.png', 'image/png', PNG, 413)]:
                with self.assertRaises(Refused) as refused, \
                        configured('crm_openlines', 'attachment_max', '1000'):
                    upload(name, type_, data, visitor=answer['visitor'])
                self.assertEqual(refused.exception.status, status)
