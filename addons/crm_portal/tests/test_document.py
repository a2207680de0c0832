"Printed quotes and invoices, the total in words and sending a quote"
import email
import email.policy
import io
import socketserver
import subprocess
import threading
import unittest
import zipfile
from decimal import Decimal

import trytond.config as config
from trytond.exceptions import UserError
from trytond.modules.account.tests import create_chart
from trytond.modules.company.tests import create_company, set_company
from trytond.modules.crm_portal.amount_words import (
    amount_in_words, plural_ru)
from trytond.modules.crm_portal.document import pdf_available
from trytond.modules.crm_portal.tests.tools import make_service
from trytond.modules.currency.tests import add_currency_rate, create_currency
from trytond.pool import Pool
from trytond.tests.test_tryton import (
    DB_NAME, activate_module, drop_db, with_transaction)
from trytond.tools import file_open
from trytond.transaction import Transaction

# A 1×1 transparent PNG
PNG = bytes.fromhex(
    '89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4'
    '890000000d49444154789c6300010000000500010d0a2db40000000049454e44'
    'ae426082')


class AmountInWordsTestCase(unittest.TestCase):
    "The total in words on printed documents"

    def test_russian_plural_forms(self):
        "Рубль and копейка take the form the number asks for"
        cases = {
            '1': "Один рубль 00 копеек",
            '2': "Два рубля 00 копеек",
            '5': "Пять рублей 00 копеек",
            '11': "Одиннадцать рублей 00 копеек",
            '12': "Двенадцать рублей 00 копеек",
            '21': "Двадцать один рубль 00 копеек",
            '22': "Двадцать два рубля 00 копеек",
            '101': "Сто один рубль 00 копеек",
            '111': "Сто одиннадцать рублей 00 копеек",
            '120.50': "Сто двадцать рублей 50 копеек",
            '0.01': "Ноль рублей 01 копейка",
            '3.02': "Три рубля 02 копейки",
            '1000.21': "Одна тысяча рублей 21 копейка",
            }
        for amount, expected in cases.items():
            with self.subTest(amount=amount):
                self.assertEqual(
                    amount_in_words(Decimal(amount), 'RUB', 'ru'), expected)

    def test_russian_language_variants(self):
        "ru_RU and lower-case currency codes are understood"
        self.assertEqual(
            amount_in_words(Decimal('120.5'), 'rub', 'ru_RU'),
            "Сто двадцать рублей 50 копеек")
        self.assertEqual(
            amount_in_words(Decimal('2'), 'USD', 'ru'),
            "Два доллара 00 центов")
        self.assertEqual(
            amount_in_words(Decimal('5.01'), 'EUR', 'ru'),
            "Пять евро 01 цент")

    def test_plural_ru(self):
        forms = ('копейка', 'копейки', 'копеек')
        for number, form in [
                (0, 'копеек'), (1, 'копейка'), (2, 'копейки'),
                (4, 'копейки'), (5, 'копеек'), (11, 'копеек'),
                (14, 'копеек'), (21, 'копейка'), (24, 'копейки'),
                (111, 'копеек'), (101, 'копейка')]:
            with self.subTest(number=number):
                self.assertEqual(plural_ru(number, forms), form)

    def test_english(self):
        "English amounts name the currency unit in singular or plural"
        cases = {
            ('120.50', 'USD'): "One hundred twenty dollars and 50 cents",
            ('1', 'USD'): "One dollar and 00 cents",
            ('0.01', 'USD'): "Zero dollars and 01 cent",
            ('21', 'EUR'): "Twenty-one euros and 00 cents",
            ('1', 'EUR'): "One euro and 00 cents",
            ('101.99', 'RUB'): "One hundred one roubles and 99 kopecks",
            }
        for (amount, code), expected in cases.items():
            with self.subTest(amount=amount, code=code):
                self.assertEqual(
                    amount_in_words(Decimal(amount), code, 'en'), expected)

    def test_unknown_currency(self):
        "An unknown currency gives the number in words and the code"
        self.assertEqual(
            amount_in_words(Decimal('120.50'), 'XYZ', 'ru'),
            "Сто двадцать 50/100 XYZ")
        self.assertEqual(
            amount_in_words(Decimal('7'), 'XYZ', 'en'),
            "Seven 00/100 XYZ")

    def test_unknown_language(self):
        "A language num2words does not know falls back to English"
        self.assertEqual(
            amount_in_words(Decimal('2'), 'USD', 'xx'),
            "Two dollars and 00 cents")

    def test_negative_and_rounding(self):
        self.assertEqual(
            amount_in_words(Decimal('-3'), 'RUB', 'ru'),
            "Минус три рубля 00 копеек")
        self.assertEqual(
            amount_in_words(Decimal('1.005'), 'USD', 'en'),
            "One dollar and 01 cent")


class _SMTPSink(socketserver.ThreadingTCPServer):
    "A local SMTP server keeping every message it receives"
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        self.messages = []
        super().__init__(('127.0.0.1', 0), _SMTPHandler)

    @property
    def uri(self):
        return 'smtp://127.0.0.1:%s' % self.server_address[1]


class _SMTPHandler(socketserver.StreamRequestHandler):

    def reply(self, line):
        self.wfile.write(line.encode() + b'\r\n')

    def handle(self):
        self.reply('220 sink ESMTP')
        mail_from, rcpt, data, in_data = None, [], [], False
        while True:
            line = self.rfile.readline()
            if not line:
                break
            if in_data:
                if line.rstrip(b'\r\n') == b'.':
                    self.server.messages.append(
                        (mail_from, rcpt, b''.join(data)))
                    mail_from, rcpt, data, in_data = None, [], [], False
                    self.reply('250 OK')
                else:
                    data.append(line[1:] if line.startswith(b'..') else line)
                continue
            command = line.strip().split(b' ', 1)[0].upper()
            argument = line.strip()[len(command):].strip().decode()
            if command == b'EHLO':
                self.reply('250-sink')
                self.reply('250 8BITMIME')
            elif command == b'MAIL':
                mail_from = argument
                self.reply('250 OK')
            elif command == b'RCPT':
                rcpt.append(argument)
                self.reply('250 OK')
            elif command == b'DATA':
                in_data = True
                self.reply('354 End data with <CR><LF>.<CR><LF>')
            elif command == b'QUIT':
                self.reply('221 Bye')
                break
            else:
                self.reply('250 OK')


def _content(report_result):
    "The text of content.xml of a rendered ODT (or the flat XML)"
    ext, content = report_result[:2]
    content = bytes(content)
    if content.startswith(b'PK'):
        with zipfile.ZipFile(io.BytesIO(content)) as odt:
            return ext, odt.read('content.xml').decode('utf-8')
    return ext, content.decode('utf-8')


def _setup_company(currency_code='RUB'):
    "A company with a chart, a 20% tax, and document details"
    pool = Pool()
    Identifier = pool.get('party.identifier')
    currency = create_currency(currency_code)
    add_currency_rate(currency, 1)
    company = create_company(name="ООО Ромашка", currency=currency)
    company.signatory = "Иванов И. И."
    company.bank_name = "ПАО Сбербанк"
    company.bank_bic = "044525225"
    company.bank_account = "40702810900000000001"
    company.signature = PNG
    company.stamp = PNG
    company.save()
    Identifier.create([
            {'party': company.party.id, 'type': 'ru_vat',
                'code': '7707083893'},
            {'party': company.party.id, 'type': 'ru_kpp',
                'code': '773601001'},
            ])
    with set_company(company):
        create_chart(company, tax=True)
    return company


def _tax(company):
    Tax = Pool().get('account.tax')
    # create_chart adds a tax template each time; take the newest tax
    tax, = Tax.search(
        [('company', '=', company.id)], order=[('id', 'DESC')], limit=1)
    return tax


def _product(company, price=Decimal('100.42')):
    return make_service("Консультация", price, taxes=[_tax(company)])


def _client(lang_code, email=None, name="ООО Клиент"):
    pool = Pool()
    Party = pool.get('party.party')
    Lang = pool.get('ir.lang')
    lang, = Lang.search([('code', '=', lang_code)])
    values = {
        'name': name, 'crm_kind': 'organisation', 'lang': lang.id,
        'addresses': [('create', [{'street': "ул. Ленина, 1",
                        'city': "Москва"}])],
        'identifiers': [('create', [
                    {'type': 'ru_vat', 'code': '7736050003'}])],
        }
    if email:
        values['contact_mechanisms'] = [('create', [
                    {'type': 'email', 'value': email}])]
    party, = Party.create([values])
    return party


def _deal_with_quote(company, client, price=Decimal('100.42')):
    pool = Pool()
    Opportunity = pool.get('sale.opportunity')
    product, unit = _product(company, price)
    with Transaction().set_context(crm_type='deal'):
        deal, = Opportunity.create([{
                    'description': "Поставка",
                    'party': client.id,
                    'lines': [('create', [{
                                    'product': product.id,
                                    'quantity': 1,
                                    'unit': unit.id,
                                    }])],
                    }])
    Opportunity.create_quote([deal])
    sale, = deal.sales
    return deal, sale


class DocumentTestCase(unittest.TestCase):
    "Quotes and invoices as the client receives them"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        drop_db()
        activate_module('crm_portal')
        # The wording of the forms is translated by Tryton: load the
        # module's Russian translations as activating Russian would.
        with Transaction().start(DB_NAME, 0) as transaction:
            Translation = Pool().get('ir.translation')
            with file_open('crm_portal/locale/ru.po', mode='rb') as po:
                Translation.translation_import('ru', 'crm_portal', po.name)
            transaction.commit()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        drop_db()

    @with_transaction()
    def test_quote_report_russian(self):
        "The quote shows company, INN, lines, taxes, total and words"
        pool = Pool()
        QuoteReport = pool.get('crm_portal.quote', type='report')
        company = _setup_company('RUB')
        with set_company(company):
            client = _client('ru')
            deal, sale = _deal_with_quote(company, client)
            self.assertEqual(sale.total_amount, Decimal('120.50'))

            ext, content = _content(QuoteReport.execute([sale.id], {}))

        self.assertEqual(ext, 'odt')
        self.assertIn("ООО Ромашка", content)
        self.assertIn(
            "Коммерческое предложение № %s от" % sale.number, content)
        self.assertIn("Покупатель:", content)
        self.assertIn("Всего наименований 1, на сумму 120,50 RUB", content)
        self.assertIn("7707083893", content)   # company INN
        self.assertIn("773601001", content)    # company KPP
        self.assertIn("7736050003", content)   # client INN
        self.assertIn("ПАО Сбербанк", content)
        self.assertIn("40702810900000000001", content)
        self.assertIn("ООО Клиент", content)
        self.assertIn("Консультация", content)
        self.assertIn("20% VAT", content)
        self.assertIn("120,50", content)
        self.assertIn("Сто двадцать рублей 50 копеек", content)
        self.assertIn("Иванов И. И.", content)
        # signature and stamp are embedded images
        self.assertEqual(content.count('<draw:image'), 2)

    @with_transaction()
    def test_quote_printed_from_deal(self):
        "Print Quote on the deal prints its latest quotation"
        pool = Pool()
        DealQuoteReport = pool.get('crm_portal.deal_quote', type='report')
        Opportunity = pool.get('sale.opportunity')
        company = _setup_company('USD')
        with set_company(company):
            client = _client('en', name="Acme Ltd")
            deal, sale = _deal_with_quote(company, client)
            Opportunity.create_quote([deal])
            deal = Opportunity(deal.id)
            latest = max(deal.sales, key=lambda s: s.id)
            self.assertEqual(deal.latest_quote(), latest)

            _, content = _content(DealQuoteReport.execute([deal.id], {}))

        self.assertIn("Quotation No. %s dated" % latest.number, content)
        self.assertIn("Client:", content)
        self.assertIn("Items: 1, total amount 120.50 USD", content)
        self.assertIn("Acme Ltd", content)
        self.assertIn("One hundred twenty dollars and 50 cents", content)

    @with_transaction()
    def test_print_deal_without_quote(self):
        "A deal without a quotation cannot be printed"
        pool = Pool()
        DealQuoteReport = pool.get('crm_portal.deal_quote', type='report')
        Opportunity = pool.get('sale.opportunity')
        company = create_company()
        with set_company(company):
            client = _client('en', name="Acme Ltd")
            with Transaction().set_context(crm_type='deal'):
                deal, = Opportunity.create([{
                            'description': "Empty", 'party': client.id}])
            with self.assertRaisesRegex(UserError, "no quotation"):
                DealQuoteReport.execute([deal.id], {})

    @with_transaction()
    def test_invoice_report(self):
        "The invoice for payment shows lines, taxes, total and words"
        pool = Pool()
        Invoice = pool.get('account.invoice')
        Account = pool.get('account.account')
        InvoiceReport = pool.get('crm_portal.invoice', type='report')
        company = _setup_company('RUB')
        with set_company(company):
            client = _client('ru')
            receivable, = Account.search([
                    ('company', '=', company.id),
                    ('type.receivable', '=', True),
                    ('closed', '!=', True),
                    ], limit=1)
            revenue, = Account.search([
                    ('company', '=', company.id),
                    ('type.revenue', '=', True),
                    ('closed', '!=', True),
                    ], limit=1)
            invoice, = Invoice.create([{
                        'type': 'out',
                        'party': client.id,
                        'invoice_address': client.addresses[0].id,
                        'company': company.id,
                        'currency': company.currency.id,
                        'account': receivable.id,
                        'lines': [('create', [{
                                        'company': company.id,
                                        'currency': company.currency.id,
                                        'account': revenue.id,
                                        'description': "Монтаж оборудования",
                                        'quantity': 2,
                                        'unit_price': Decimal('50.21'),
                                        'taxes': [('add', [
                                                    _tax(company).id])],
                                        }])],
                        }])
            Invoice.update_taxes([invoice])
            invoice = Invoice(invoice.id)
            self.assertEqual(invoice.total_amount, Decimal('120.50'))

            ext, content = _content(InvoiceReport.execute([invoice.id], {}))

        self.assertEqual(ext, 'odt')
        self.assertIn("Счёт на оплату от", content)
        self.assertIn("Главный бухгалтер", content)
        self.assertIn("ООО Ромашка", content)
        self.assertIn("044525225", content)
        self.assertIn("Монтаж оборудования", content)
        self.assertIn("20% VAT", content)
        self.assertIn("20,08", content)
        self.assertIn("120,50", content)
        self.assertIn("Сто двадцать рублей 50 копеек", content)

    @with_transaction()
    def test_pdf_variant(self):
        "The PDF print action is offered only with LibreOffice"
        pool = Pool()
        Keyword = pool.get('ir.action.keyword')
        ActionReport = pool.get('ir.action.report')
        keywords = Keyword.get_keyword('form_print', ('sale.sale', -1))
        ours = ActionReport.browse([k['id'] for k in keywords
                if k.get('report_name') == 'crm_portal.quote'])
        extensions = {a.extension or '' for a in ours}
        if pdf_available():
            self.assertEqual(extensions, {'', 'pdf'})
        else:
            self.assertEqual(extensions, {''})

    @with_transaction()
    def test_quote_pdf(self):
        "The PDF variant is made by LibreOffice and reads as the quote"
        pool = Pool()
        QuoteReport = pool.get('crm_portal.quote', type='report')
        ModelData = pool.get('ir.model.data')
        self.assertTrue(pdf_available(), "LibreOffice (soffice) is missing")
        company = _setup_company('RUB')
        with set_company(company):
            client = _client('ru')
            deal, sale = _deal_with_quote(company, client)
            ext, content, _, _ = QuoteReport.execute([sale.id], {
                    'action_id': ModelData.get_id(
                        'crm_portal', 'report_quote_pdf'),
                    })

        self.assertEqual(ext, 'pdf')
        self.assertTrue(bytes(content).startswith(b'%PDF'))
        text = subprocess.run(
            ['pdftotext', '-enc', 'UTF-8', '-', '-'],
            input=bytes(content), capture_output=True, check=True,
            ).stdout.decode('utf-8')
        text = ' '.join(text.split())
        self.assertIn("Коммерческое предложение № %s" % sale.number, text)
        self.assertIn("Сто двадцать рублей 50 копеек", text)

    @with_transaction()
    def test_send_quote(self):
        "Send Quote e-mails the quotation and logs it on the timeline"
        pool = Pool()
        SendQuote = pool.get('crm_portal.deal.send_quote', type='wizard')
        Activity = pool.get('crm.activity')
        company = _setup_company('RUB')
        with set_company(company):
            client = _client('ru', email="Buyer@Example.com")
            deal, sale = _deal_with_quote(company, client)

            session_id, _, _ = SendQuote.create()
            with Transaction().set_context(
                    active_model='sale.opportunity', active_id=deal.id,
                    active_ids=[deal.id]):
                result = SendQuote.execute(session_id, {}, 'start')
                defaults = result['view']['defaults']
                self.assertEqual(defaults['sale'], sale.id)
                self.assertEqual(defaults['to'], "Buyer@Example.com")
                self.assertIn(sale.number, defaults['subject'])
                values = {
                    'deal': deal.id,
                    'sale': sale.id,
                    'quotes': [sale.id],
                    'to': defaults['to'],
                    'subject': "Наше предложение",
                    'body': defaults['body'] + "\nP.S.",
                    }
                SendQuote.execute(session_id, {'start': values}, 'send')
            SendQuote.delete(session_id)

            activity, = Activity.search([('opportunity', '=', deal.id)])
            self.assertEqual(activity.type, 'email')
            self.assertEqual(activity.direction, 'outgoing')
            self.assertEqual(activity.subject, "Наше предложение")
            self.assertEqual(activity.origin, sale)
            self.assertTrue(activity.done)
            self.assertIn(".odt", activity.description)
            self.assertIn("Buyer@Example.com", activity.description)

            # The e-mail leaves when the transaction commits
            sink = _SMTPSink()
            thread = threading.Thread(target=sink.serve_forever)
            thread.start()
            uri = config.get('email', 'uri')
            config.set('email', 'uri', sink.uri)
            try:
                self.assertEqual(sink.messages, [])
                Transaction().commit()
            finally:
                config.set('email', 'uri', uri)
                sink.shutdown()
                sink.server_close()
                thread.join()

        self.assertEqual(len(sink.messages), 1)
        _, rcpt, data = sink.messages[0]
        self.assertEqual(rcpt, ['TO:<Buyer@Example.com>'])
        msg = email.message_from_bytes(data, policy=email.policy.default)
        self.assertEqual(msg['Subject'], "Наше предложение")
        self.assertIn("P.S.", msg.get_body(('plain',)).get_content())
        attachment, = list(msg.iter_attachments())
        self.assertTrue(attachment.get_filename().endswith('.odt'))
        with zipfile.ZipFile(io.BytesIO(attachment.get_content())) as odt:
            content = odt.read('content.xml').decode('utf-8')
        self.assertIn("Сто двадцать рублей 50 копеек", content)
        self.assertIn(activity.description.split('attachment ')[1][:-1],
            attachment.get_filename())

    @with_transaction()
    def test_send_quote_without_email(self):
        "A client without e-mail gets a clear error"
        pool = Pool()
        SendQuote = pool.get('crm_portal.deal.send_quote', type='wizard')
        company = _setup_company('RUB')
        with set_company(company):
            client = _client('ru')
            deal, sale = _deal_with_quote(company, client)
            session_id, _, _ = SendQuote.create()
            with Transaction().set_context(
                    active_model='sale.opportunity', active_id=deal.id,
                    active_ids=[deal.id]):
                with self.assertRaisesRegex(UserError, "no e-mail"):
                    SendQuote.execute(session_id, {}, 'start')
