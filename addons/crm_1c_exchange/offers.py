# offers.xml (and the prices/rests files of protocol 3.x): price types into
# price lists, prices into their lines, quantities, characteristics
# (offer Ид "good#characteristic") into variants of the good's template.
import datetime
from decimal import Decimal, InvalidOperation

from trytond.i18n import gettext
from trytond.pool import Pool
from trytond.tools import grouped_slice, reduce_ids
from trytond.transaction import Transaction

from .catalog import chunked_create, chunked_write
from .xmlsafe import child, children, iterparse, localname, text


def read_price_types(fp):
    types = []
    for _, element in iterparse(fp, ['ТипЦены', 'Предложение']):
        if localname(element) == 'Предложение':
            break
        types.append((text(element, 'Ид'), text(element, 'Наименование'),
                text(element, 'Валюта')))
    return types


def apply_price_types(fp, company):
    pool = Pool()
    PriceList = pool.get('product.price_list')
    counts = {'created': 0, 'updated': 0}
    for type_id, name, _ in read_price_types(fp):
        if not type_id:
            continue
        lists = PriceList.search([('exchange_1c_id', '=', type_id),
                ('company', '=', company.id)], limit=1)
        if lists:
            if lists[0].name != name:
                PriceList.write(lists, {'name': name})
                counts['updated'] += 1
        else:
            PriceList.create([{'name': name or type_id, 'company': company.id,
                        'exchange_1c_id': type_id, 'tax_included': False}])
            counts['created'] += 1
    return counts


def _number(value):
    try:
        return Decimal((value or '').replace(',', '.').replace(' ', ''))
    except InvalidOperation:
        return None


def read_offer(element):
    prices = None
    node = child(element, 'Цены')
    if node is not None:
        prices = [(text(p, 'ИдТипаЦены'), text(p, 'ЦенаЗаЕдиницу'))
            for p in children(node, 'Цена')]
    quantity = None
    if child(element, 'Количество') is not None:
        quantity = _number(text(element, 'Количество'))
    rests = child(element, 'Остатки')
    if rests is not None:
        quantity = Decimal(0)
        for rest in children(rests, 'Остаток'):
            stores = children(rest, 'Склад')
            for value in ([text(s, 'Количество') for s in stores]
                    or [text(rest, 'Количество')]):
                quantity += _number(value) or 0
    features = []
    node = child(element, 'ХарактеристикиТовара')
    if node is not None:
        for item in children(node, 'ХарактеристикаТовара'):
            features.append('%s: %s' % (text(item, 'Наименование'),
                    text(item, 'Значение')))
    return {
        'id': text(element, 'Ид'),
        'name': text(element, 'Наименование'),
        'code': text(element, 'Артикул'),
        'prices': prices,
        'quantity': quantity,
        'features': '\n'.join(features) or None,
        'deleted': element.get('Статус') == 'Удален',
        }


def write_quantities(quantities):
    """Store the stock 1C reports ({quantity: product ids}), one UPDATE per
    quantity: a column of this module that nothing derives from, so the
    ORM's per-record write (validation, code sync) is not needed"""
    Product = Pool().get('product.product')
    table = Product.__table__()
    transaction = Transaction()
    cursor = transaction.connection.cursor()
    now = datetime.datetime.now()
    for quantity, ids in quantities.items():
        for sub_ids in grouped_slice(ids):
            cursor.execute(*table.update(
                    [table.exchange_1c_quantity, table.write_date,
                        table.write_uid],
                    [quantity, now, transaction.user],
                    where=reduce_ids(table.id, sub_ids)))
    if quantities:
        # written in SQL: drop the records cached by the transaction
        transaction.counter += 1
        for cache in transaction.cache.values():
            if Product.__name__ in cache:
                cached = cache[Product.__name__]
                for ids in quantities.values():
                    for id_ in ids:
                        cached.pop(id_, None)


class OffersBatch:

    def __init__(self, session, file):
        self.session, self.file = session, file
        self.counts = {'created': 0, 'updated': 0, 'skipped': 0}

    def fail(self, offer, reason):
        self.session.note('failed', reason, self.file, offer['id'])

    def apply(self, offers):
        pool = Pool()
        Template = pool.get('product.template')
        Product = pool.get('product.product')
        PriceList = pool.get('product.price_list')
        Line = pool.get('product.price_list.line')
        company = self.session.company
        ids = [o['id'] for o in offers if o['id']]
        goods = {i.split('#', 1)[0] for i in ids}
        with Transaction().set_context(active_test=False):
            products = {p.exchange_1c_id: p for p in Product.search([
                        ('exchange_1c_id', 'in', ids)])}
            templates = {t.exchange_1c_id: t for t in Template.search([
                        ('exchange_1c_id', 'in', list(goods))])}
        price_lists = {p.exchange_1c_id: p for p in PriceList.search([
                    ('exchange_1c_id', '!=', None),
                    ('company', '=', company.id)])}
        # Variants first, so their prices land in the same batch.
        to_create = []
        for offer in offers:
            if not offer['id'] or offer['id'] in products:
                continue
            template = templates.get(offer['id'].split('#', 1)[0])
            if template is None:
                self.fail(offer, gettext('crm_1c_exchange.msg_offer_unknown'))
                offer['id'] = None
                continue
            to_create.append({'template': template.id,
                    'exchange_1c_id': offer['id'],
                    # the product code (template code + suffix) stays
                    # unique among the variants
                    'suffix_code': '#' + offer['id'].split('#', 1)[1],
                    'description': offer['features']})
        new = set()
        if to_create:
            for product in chunked_create(Product, to_create):
                products[product.exchange_1c_id] = product
                new.add(product.exchange_1c_id)
                self.counts['created'] += 1
        lines = {}
        if products:
            for line in Line.search([
                        ('price_list', 'in', [p.id for p in
                                price_lists.values()]),
                        ('product', 'in', [p.id for p in products.values()]),
                        ]):
                lines[(line.price_list.id, line.product.id)] = line
        new_lines, line_writes, product_writes = [], [], []
        quantities = {}
        for offer in offers:
            product = products.get(offer['id'])
            if product is None:
                continue
            changed = False
            values = {}
            if offer['deleted']:
                values['active'] = False
            elif not product.active:
                values['active'] = True
            if (offer['quantity'] is not None
                    and product.exchange_1c_quantity
                    != float(offer['quantity'])):
                quantities.setdefault(float(offer['quantity']), []).append(
                    product.id)
                changed = True
            if offer['features'] and product.description != offer['features']:
                values['description'] = offer['features']
            if values:
                product_writes.extend(([product], values))
                changed = True
            for type_id, price_text in offer['prices'] or []:
                price_list = price_lists.get(type_id)
                price = _number(price_text)
                if price_list is None:
                    self.fail(offer, gettext(
                            'crm_1c_exchange.msg_price_type_unknown',
                            price_type=type_id))
                    continue
                if price is None:
                    self.fail(offer, gettext(
                            'crm_1c_exchange.msg_price_invalid',
                            price=price_text))
                    continue
                formula = str(price)
                line = lines.get((price_list.id, product.id))
                if line is None:
                    new_lines.append({'price_list': price_list.id,
                            'product': product.id, 'formula': formula})
                    changed = True
                elif line.formula != formula:
                    line_writes.extend(([line], {'formula': formula}))
                    changed = True
            if offer['id'] not in new:
                self.counts['updated' if changed else 'skipped'] += 1
        chunked_write(Product, product_writes)
        write_quantities(quantities)
        chunked_create(Line, new_lines)
        chunked_write(Line, line_writes)
        return self.counts
