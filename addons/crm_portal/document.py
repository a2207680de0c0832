# Printed quotes and invoices: company details, totals in words, PDF.
import mimetypes
import shutil
from email.message import EmailMessage
from email.utils import getaddresses
from types import SimpleNamespace

import trytond.config as config
from trytond.exceptions import UserError
from trytond.i18n import gettext
from trytond.model import ModelView, fields
from trytond.modules.company.company import CompanyReport
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.sendmail import sendmail_transactional
from trytond.tools import slugify
from trytond.transaction import Transaction
from trytond.wizard import Button, StateTransition, StateView, Wizard

from .amount_words import amount_in_words

# Identifier types printed as INN and KPP
INN_TYPES = {'ru_vat', 'ru_inn'}
KPP_TYPES = {'ru_kpp'}
# Print actions that need LibreOffice
PDF_ACTIONS = [
    'report_quote_pdf', 'report_deal_quote_pdf', 'report_invoice_pdf']

def image_mimetype(data):
    "The mime-type of an image from its first bytes"
    data = bytes(data[:12])
    if data.startswith(b'\x89PNG'):
        return 'image/png'
    if data.startswith(b'\xff\xd8'):
        return 'image/jpeg'
    if data.startswith(b'GIF8'):
        return 'image/gif'
    if data[:4] == b'RIFF' and data[8:12] == b'WEBP':
        return 'image/webp'
    if data.lstrip().startswith((b'<svg', b'<?xml')):
        return 'image/svg+xml'
    return 'image/png'


def pdf_available():
    "LibreOffice converts reports to PDF only when soffice is installed"
    return bool(shutil.which('soffice'))


def party_identifier(party, types):
    "The code of the first identifier of party among types"
    if not party:
        return ''
    for identifier in party.identifiers:
        if identifier.type in types:
            return identifier.code
    return ''


class PartyConfiguration(metaclass=PoolMeta):
    __name__ = 'party.configuration'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        selection = cls.identifier_types.selection
        if 'ru_kpp' not in dict(selection):
            selection.append(
                ('ru_kpp', "Russian Tax Registration Reason Code (KPP)"))


class Company(metaclass=PoolMeta):
    __name__ = 'company.company'

    signature = fields.Binary(
        "Signature", help="Image of the signature printed on quotes and "
        "invoices.")
    stamp = fields.Binary(
        "Stamp", help="Image of the company stamp printed on quotes and "
        "invoices.")
    signatory = fields.Char(
        "Signatory", help="The name printed under the signature.")
    accountant = fields.Char(
        "Chief Accountant", help="The name printed on invoices.")
    bank_name = fields.Char("Bank")
    bank_bic = fields.Char("Bank BIC")
    bank_account = fields.Char("Bank Account")
    bank_correspondent_account = fields.Char("Correspondent Account")

    def get_document_image(self, name, width, height):
        "Image field name as (data, mime-type, width, height) in centimeter"
        if name == 'logo':
            try:
                return self.get_logo_cm(width, height)
            except ValueError:
                return None
        data = getattr(self, name)
        if not data:
            return None
        return (bytes(data), image_mimetype(data),
            '%scm' % width, '%scm' % height)


class Activity(metaclass=PoolMeta):
    __name__ = 'crm.activity'

    @classmethod
    def _get_origin(cls):
        return super()._get_origin() + ['sale.sale', 'account.invoice']


class ActionKeyword(metaclass=PoolMeta):
    __name__ = 'ir.action.keyword'

    @classmethod
    def get_keyword(cls, keyword, value):
        keywords = super().get_keyword(keyword, value)
        if keyword == 'form_print' and not pdf_available():
            pdf_actions = cls._document_pdf_actions()
            keywords = [k for k in keywords
                if not (k.get('type') == 'ir.action.report'
                    and k.get('id') in pdf_actions)]
        return keywords

    @classmethod
    def _document_pdf_actions(cls):
        "The ids of the PDF variants of the CRM print forms"
        ModelData = Pool().get('ir.model.data')
        ids = set()
        for xml_id in PDF_ACTIONS:
            try:
                ids.add(ModelData.get_id('crm_portal', xml_id))
            except KeyError:
                pass
        return ids


class DocumentReport(CompanyReport):
    "Common part of the CRM print forms"

    @classmethod
    def execute(cls, ids, data):
        pool = Pool()
        ActionReport = pool.get('ir.action.report')
        action_id = data.get('action_id')
        if action_id is not None:
            action = ActionReport(action_id)
            if action.extension == 'pdf' and not pdf_available():
                raise UserError(gettext('crm_portal.msg_document_no_pdf'))
        return super().execute(ids, data)

    @classmethod
    def get_context(cls, records, header, data):
        context = super().get_context(records, header, data)
        # The wording is in the template, translated by Tryton in the
        # language the template sets with set_lang(doc.language).
        context['documents'] = lambda records: [
            cls.document(r) for r in records]
        return context

    @classmethod
    def _language(cls, record):
        if record.party and record.party.lang:
            return record.party.lang.code
        return Transaction().language

    @classmethod
    def document(cls, record):
        "Everything a print form shows, formatted for the client's language"
        pool = Pool()
        Lang = pool.get('ir.lang')
        language = cls._language(record)
        lang = Lang.get(language)
        company = record.company
        currency = record.currency

        def money(value):
            return lang.format_number(
                value or 0, currency.digits if currency else 2)

        def number(value, digits=None):
            value = value or 0
            if digits is None:
                digits = 0 if float(value).is_integer() else 2
            return lang.format_number(value, digits)

        lines = []
        for line in record.lines:
            if getattr(line, 'type', 'line') != 'line':
                continue
            description = line.description or (
                line.product.rec_name if line.product else '')
            unit = line.unit
            lines.append(SimpleNamespace(
                    position=len(lines) + 1,
                    description=description,
                    quantity=number(
                        line.quantity, unit.digits if unit else None),
                    unit=unit.symbol if unit else '',
                    unit_price=money(line.unit_price),
                    amount=money(line.amount),
                    ))
        total = record.total_amount or 0
        doc = SimpleNamespace(
            record=record,
            language=lang.code,
            company=company,
            company_name=company.party.name if company else '',
            company_address=cls._address(company.party if company else None),
            company_inn=party_identifier(
                company.party if company else None, INN_TYPES),
            company_kpp=party_identifier(
                company.party if company else None, KPP_TYPES),
            company_contact=', '.join(filter(None, [
                        company.party.phone, company.party.email]))
            if company else '',
            bank=company and any([company.bank_name, company.bank_account]),
            client_name=record.party.name if record.party else '',
            client_address=cls._address(record.party),
            client_inn=party_identifier(record.party, INN_TYPES),
            client_kpp=party_identifier(record.party, KPP_TYPES),
            lines=lines,
            taxes=[SimpleNamespace(
                    description=t['description'],
                    base=money(t['base']),
                    amount=money(t['amount']))
                for t in cls._taxes(record)],
            untaxed_amount=money(record.untaxed_amount),
            tax_amount=money(record.tax_amount),
            total_amount=money(total),
            currency_code=currency.code.upper() if currency else '',
            line_count=len(lines),
            summary_total=' '.join(filter(None, [
                        money(total),
                        currency.code.upper() if currency else ''])),
            total_in_words=amount_in_words(
                total, currency.code if currency else '', language),
            logo=company.get_document_image('logo', 5, 2.5)
            if company else None,
            signature=company.get_document_image('signature', 4, 1.5)
            if company else None,
            stamp=company.get_document_image('stamp', 4, 4)
            if company else None,
            signatory=(company.signatory or '') if company else '',
            accountant=(company.accountant or '') if company else '',
            )
        cls._fill(doc, record, lang)
        return doc

    @classmethod
    def _address(cls, party):
        if not party:
            return ''
        with Transaction().set_context(address_with_party=False):
            address = party.address_get()
            if not address:
                return ''
            return ', '.join(
                filter(None, address.full_address.splitlines()))

    @classmethod
    def _taxes(cls, record):
        raise NotImplementedError

    @classmethod
    def _fill(cls, doc, record, lang):
        "Set title, number, date and the document specific details"
        raise NotImplementedError

    @classmethod
    def _title(cls, doc, kind, number, date, lang):
        "Set what the template's title shows"
        doc.kind = kind
        doc.number = number or ''
        doc.date = lang.strftime(date)


class QuoteReport(DocumentReport):
    "Quotation print form of a sale"
    __name__ = 'crm_portal.quote'

    @classmethod
    def _taxes(cls, sale):
        taxes = []
        for line in sale._get_taxes().values():
            taxes.append({
                    'description': line.tax.description if line.tax else '',
                    'base': line.base,
                    'amount': line.amount,
                    })
        return taxes

    @classmethod
    def _fill(cls, doc, sale, lang):
        Date = Pool().get('ir.date')
        with Transaction().set_context(company=sale.company.id):
            today = Date.today()
        date = sale.quotation_date or sale.sale_date or today
        cls._title(doc, 'quote', sale.full_number or sale.number, date, lang)
        doc.reference = sale.reference or sale.description or ''
        doc.expiry = (
            lang.strftime(sale.quotation_expire)
            if getattr(sale, 'quotation_expire', None) else '')
        doc.payment_term = (
            sale.payment_term.rec_name if sale.payment_term else '')
        doc.due = ''


class DealQuoteReport(QuoteReport):
    "The latest quotation of a deal, printed from the deal"
    __name__ = 'crm_portal.deal_quote'

    @classmethod
    def _get_records(cls, ids, model, data):
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        sale_ids = []
        for deal in Opportunity.browse(ids):
            sale = deal.latest_quote()
            if not sale:
                raise UserError(gettext(
                        'crm_portal.msg_document_no_quote',
                        deal=deal.rec_name))
            sale_ids.append(sale.id)
        return super()._get_records(sale_ids, 'sale.sale', data)


class InvoiceReport(DocumentReport):
    "Invoice for payment print form"
    __name__ = 'crm_portal.invoice'

    @classmethod
    def _taxes(cls, invoice):
        return [{
                'description': t.description or '',
                'base': t.base,
                'amount': t.amount,
                } for t in invoice.taxes]

    @classmethod
    def _fill(cls, doc, invoice, lang):
        Date = Pool().get('ir.date')
        with Transaction().set_context(company=invoice.company.id):
            today = Date.today()
        kind = 'invoice'
        if invoice.total_amount is not None and invoice.total_amount < 0:
            kind = 'credit_note'
        cls._title(doc, kind, invoice.number,
            invoice.invoice_date or today, lang)
        doc.reference = invoice.reference or invoice.description or ''
        doc.expiry = ''
        doc.payment_term = (
            invoice.payment_term.rec_name if invoice.payment_term else '')
        due_dates = [l.maturity_date for l in invoice.lines_to_pay
            if l.maturity_date]
        doc.due = lang.strftime(min(due_dates)) if due_dates else ''


class Opportunity(metaclass=PoolMeta):
    __name__ = 'sale.opportunity'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._buttons.update({
                'print_quote': {
                    'invisible': ~Eval('sales', []),
                    'depends': ['sales'],
                    },
                'send_quote': {
                    'invisible': ~Eval('sales', []),
                    'depends': ['sales'],
                    },
                })

    def latest_quote(self):
        "The quotation to print or send: the newest not cancelled sale"
        sales = [s for s in self.sales if s.state != 'cancelled']
        quoted = [s for s in sales if s.state != 'draft']
        sales = quoted or sales
        if not sales:
            return None
        return max(sales, key=lambda s: (
                s.quotation_date or s.sale_date or s.create_date.date(),
                s.id))

    @classmethod
    @ModelView.button_action('crm_portal.report_deal_quote')
    def print_quote(cls, opportunities):
        pass

    @classmethod
    @ModelView.button_action('crm_portal.wizard_send_quote')
    def send_quote(cls, opportunities):
        pass



class SendQuoteStart(ModelView):
    "Send Quote"
    __name__ = 'crm_portal.deal.send_quote.start'

    deal = fields.Many2One('sale.opportunity', "Deal", readonly=True)
    sale = fields.Many2One(
        'sale.sale', "Quotation", required=True,
        domain=[('id', 'in', Eval('quotes', []))])
    quotes = fields.Many2Many(
        'sale.sale', None, None, "Quotations", readonly=True)
    to = fields.Char("To", required=True)
    subject = fields.Char("Subject", required=True)
    body = fields.Text("Message")


class SendQuote(Wizard):
    "Send the quotation of a deal to the client by e-mail"
    __name__ = 'crm_portal.deal.send_quote'

    start = StateView('crm_portal.deal.send_quote.start',
        'crm_portal.deal_send_quote_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Send", 'send', 'tryton-ok', default=True),
            ])
    send = StateTransition()

    def default_start(self, fields):
        deal = self.record
        sale = deal.latest_quote()
        if not sale:
            raise UserError(gettext(
                    'crm_portal.msg_document_no_quote', deal=deal.rec_name))
        to = self.client_email(deal)
        if not to:
            raise UserError(gettext(
                    'crm_portal.msg_document_no_email', deal=deal.rec_name))
        company = deal.company.rec_name if deal.company else ''
        number = sale.full_number or sale.number or ''
        return {
            'deal': deal.id,
            'quotes': [s.id for s in deal.sales if s.state != 'cancelled'],
            'sale': sale.id,
            'to': to,
            'subject': gettext('crm_portal.msg_document_quote_subject',
                number=number, company=company),
            'body': gettext('crm_portal.msg_document_quote_body',
                name=(deal.contact_party.name if deal.contact_party
                    else deal.contact_name or ''),
                number=number, company=company),
            }

    @classmethod
    def client_email(cls, deal):
        "The e-mail of the person on the deal, else of the client"
        if deal.contact_email:
            return deal.contact_email
        for party in [deal.contact_party, deal.party]:
            if party and party.email:
                return party.email
        return None

    def transition_send(self):
        pool = Pool()
        Activity = pool.get('crm.activity')
        ModelData = pool.get('ir.model.data')
        QuoteReport = pool.get('crm_portal.quote', type='report')
        deal = self.record
        sale = self.start.sale
        to = (self.start.to or '').strip()
        addresses = [a for _, a in getaddresses([to]) if '@' in a]
        if not addresses:
            raise UserError(gettext(
                    'crm_portal.msg_document_bad_email', email=to))

        action_id = ModelData.get_id('crm_portal', 'report_quote')
        ext, content, _, name = QuoteReport.execute(
            [sale.id], {'action_id': action_id})
        filename = '%s.%s' % (slugify(name) or 'quote', ext)

        from_ = config.get('email', 'from')
        msg = EmailMessage()
        msg['From'] = from_
        msg['To'] = ', '.join(addresses)
        msg['Subject'] = self.start.subject
        msg.set_content(self.start.body or '')
        maintype, subtype = (
            mimetypes.guess_type(filename)[0]
            or 'application/octet-stream').split('/', 1)
        msg.add_attachment(
            bytes(content), maintype=maintype, subtype=subtype,
            filename=filename)
        sendmail_transactional(from_, addresses, msg)

        Activity.create([{
                    'company': deal.company.id,
                    'type': 'email',
                    'direction': 'outgoing',
                    'subject': self.start.subject,
                    'description': '\n'.join(filter(None, [
                                self.start.body,
                                gettext(
                                    'crm_portal.msg_document_attachment',
                                    filename=filename,
                                    to=', '.join(addresses)),
                                ])),
                    'opportunity': deal.id,
                    'party': (deal.contact_party or deal.party).id
                    if (deal.contact_party or deal.party) else None,
                    'origin': str(sale),
                    'done': True,
                    }])
        return 'end'
