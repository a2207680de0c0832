# The orders document 1C reads on mode=query: sales orders and invoices
# (Заказ товара / Счет на оплату) changed since the last confirmed exchange.
import datetime
import io
from decimal import Decimal

from lxml import etree

from trytond.pool import Pool
from trytond.tools import grouped_slice

from .units import UNITS, UnitCache

SCHEMA_VERSION = '2.08'
BROWSE_SLICE = 100


def _money(value):
    return str(Decimal(value or 0).quantize(Decimal('0.01')))


def _qty(value):
    return ('%.3f' % (value or 0)).rstrip('0').rstrip('.')


def _el(xf, name, text):
    with xf.element(name):
        xf.write('' if text is None else str(text))


def _requisites(xf, values):
    with xf.element('ЗначенияРеквизитов'):
        for name, value in values:
            with xf.element('ЗначениеРеквизита'):
                _el(xf, 'Наименование', name)
                _el(xf, 'Значение', value)


def _counterparty(xf, party, role):
    with xf.element('Контрагенты'):
        with xf.element('Контрагент'):
            _el(xf, 'Ид', party.exchange_1c_id or 'CRM-C-%s' % party.id)
            _el(xf, 'Наименование', party.name)
            _el(xf, 'ПолноеНаименование', party.name)
            _el(xf, 'Роль', role)
            if party.inn:
                _el(xf, 'ИНН', party.inn)
            if party.kpp:
                _el(xf, 'КПП', party.kpp)
            address = party.address_get()
            if address:
                with xf.element('АдресРегистрации'):
                    _el(xf, 'Представление',
                        ', '.join(filter(None, (address.full_address or '')
                                .splitlines())))


def _line_taxes(line, amount):
    taxes = []
    for tax in getattr(line, 'taxes', []) or []:
        if tax.type == 'percentage' and tax.rate is not None:
            rate = Decimal(tax.rate) * 100
            taxes.append((tax.name, rate, Decimal(amount) * tax.rate))
    return taxes


def line_discount(line):
    """(amount, percent) of the discount of a sale or invoice line, or None.
    Only Tryton's sale_discount / account_invoice_discount modules keep the
    price before a discount (base_price, discount_rate); without them a
    line holds its final unit price alone and no discount is known (the
    catalog price of today may differ from the price agreed then)."""
    base = getattr(line, 'base_price', None)
    price = line.unit_price
    if base is None or price is None or base <= price:
        return None
    amount = (base - price) * Decimal(str(line.quantity or 0))
    rate = getattr(line, 'discount_rate', None)
    if rate is None:
        rate = (base - price) / base
    return amount, (Decimal(rate) * 100).quantize(Decimal('0.01'))


def _lines(xf, lines, units):
    with xf.element('Товары'):
        for line in lines:
            if getattr(line, 'type', 'line') != 'line':
                continue
            product = line.product
            amount = line.amount or Decimal(0)
            with xf.element('Товар'):
                _el(xf, 'Ид', (product.exchange_1c_id if product
                        and product.exchange_1c_id else
                        'CRM-P-%s' % (product.id if product else line.id)))
                if product and product.code:
                    _el(xf, 'Артикул', product.code)
                _el(xf, 'Наименование',
                    product.rec_name if product else line.description)
                code = units.code_of(line.unit.id) if line.unit else None
                short, full = (UNITS[code][1:] if code
                    else ((line.unit.symbol if line.unit else ''), ''))
                unit = xf.element('БазоваяЕдиница',
                    {'Код': code, 'НаименованиеПолное': full}
                    if code else {})
                with unit:
                    xf.write(short or '')
                _el(xf, 'ЦенаЗаЕдиницу', _money(line.unit_price))
                _el(xf, 'Количество', _qty(line.quantity))
                _el(xf, 'Сумма', _money(amount))
                discount = line_discount(line)
                if discount:
                    with xf.element('Скидки'):
                        with xf.element('Скидка'):
                            _el(xf, 'Наименование', 'Скидка')
                            _el(xf, 'Сумма', _money(discount[0]))
                            _el(xf, 'Процент', _qty(discount[1]))
                            # the line's Сумма is already the discounted one
                            _el(xf, 'УчтеноВСумме', 'true')
                taxes = _line_taxes(line, amount)
                if taxes:
                    with xf.element('СтавкиНалогов'):
                        for name, rate, _ in taxes:
                            with xf.element('СтавкаНалога'):
                                _el(xf, 'Наименование', 'НДС')
                                _el(xf, 'Ставка', _qty(rate))
                    with xf.element('Налоги'):
                        for name, rate, value in taxes:
                            with xf.element('Налог'):
                                _el(xf, 'Наименование', 'НДС')
                                _el(xf, 'УчтеноВСумме', 'false')
                                _el(xf, 'Сумма', _money(value))
                                _el(xf, 'Ставка', _qty(rate))
                _requisites(xf, [
                        ('ВидНоменклатуры', 'Товар'),
                        ('ТипНоменклатуры', 'Товар'),
                        ])


def _document(xf, external_id, number, date, operation, party, currency,
        total, tax, lines, units, requisites, comment=None):
    with xf.element('Документ'):
        _el(xf, 'Ид', external_id)
        _el(xf, 'Номер', number or external_id)
        _el(xf, 'Дата', (date or datetime.date.today()).isoformat())
        _el(xf, 'ХозОперация', operation)
        _el(xf, 'Роль', 'Продавец')
        _el(xf, 'Валюта', currency.code if currency else 'RUB')
        _el(xf, 'Курс', '1')
        _el(xf, 'Сумма', _money(total))
        _counterparty(xf, party, 'Покупатель')
        _el(xf, 'Время', '00:00:00')
        if comment:
            _el(xf, 'Комментарий', comment)
        if tax:
            with xf.element('Налоги'):
                with xf.element('Налог'):
                    _el(xf, 'Наименование', 'НДС')
                    _el(xf, 'УчтеноВСумме', 'false')
                    _el(xf, 'Сумма', _money(tax))
        _lines(xf, lines, units)
        _requisites(xf, requisites)


def write_documents(session, encoding, sale_ids, invoice_ids):
    """Return the bytes of the КоммерческаяИнформация holding the sales and
    invoices of the ids"""
    pool = Pool()
    Export = pool.get('crm.exchange_1c.export')
    Sale = pool.get('sale.sale')
    Invoice = pool.get('account.invoice')
    units = UnitCache()
    buffer = io.BytesIO()
    with etree.xmlfile(buffer, encoding=encoding) as xf:
        xf.write_declaration()
        with xf.element('КоммерческаяИнформация', {
                    'ВерсияСхемы': SCHEMA_VERSION,
                    'ДатаФормирования': datetime.datetime.now().replace(
                        microsecond=0).isoformat()}):
            for sale in _browse(Sale, sale_ids):
                _document(xf, Export.external_id_of('sale.sale', sale.id),
                    sale.number, sale.sale_date, 'Заказ товара', sale.party,
                    sale.currency, sale.total_amount, sale.tax_amount,
                    sale.lines, units, [
                        ('Статус заказа', sale.state),
                        ('Заказ оплачен',
                            str(sale.invoice_state == 'paid').lower()),
                        ('Отменен', 'false'),
                        ], sale.comment or sale.description)
                xf.flush()
            for invoice in _browse(Invoice, invoice_ids):
                _document(xf, Export.external_id_of(
                        'account.invoice', invoice.id),
                    invoice.number, invoice.invoice_date, 'Счет на оплату',
                    invoice.party, invoice.currency, invoice.total_amount,
                    invoice.tax_amount, invoice.lines, units, [
                        ('Статус', invoice.state),
                        ('Оплачен', str(invoice.state == 'paid').lower()),
                        ], invoice.description)
                xf.flush()
    return buffer.getvalue()


def _browse(Model, ids):
    """The records of ids, a slice at a time: the records of one browse
    read their fields together, but each checks the whole list of ids
    (10,000 documents in one list: most of an export's time)"""
    for sub in grouped_slice(ids, BROWSE_SLICE):
        yield from Model.browse(list(sub))


def query(session, profile):
    "Build the orders document for session; remember what it carries"
    pool = Pool()
    Export = pool.get('crm.exchange_1c.export')
    company = session.company.id
    sales, invoices = [], []
    if profile.export_documents in ('orders', 'both'):
        versions = Export.changed(company, 'sale.sale')
        Export.mark_pending(session, 'sale.sale', versions)
        sales = [i for i, _ in versions]
    if profile.export_documents in ('invoices', 'both'):
        versions = Export.changed(company, 'account.invoice')
        Export.mark_pending(session, 'account.invoice', versions)
        invoices = [i for i, _ in versions]
    data = write_documents(session, profile.encoding, sales, invoices)
    return data, len(sales) + len(invoices)
