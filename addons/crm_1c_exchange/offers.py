# offers.xml (and the prices/rests files of protocol 3.x): price types into
# price lists, prices into their lines, quantities, characteristics
# (offer Ид "good#characteristic") into variants of the good's template.
import datetime
from decimal import Decimal, InvalidOperation

from trytond import backend
from trytond.i18n import gettext
from trytond.pool import Pool
from trytond.tools import grouped_slice, reduce_ids
from trytond.transaction import Transaction

from . import bulk
from .catalog import chunked_create, chunked_write, create_products
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
        for sub_ids in grouped_slice(ids, backend.MAX_QUERY_PARAMS):
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


def _rows(table, key, columns, keys):
    "{key: row} of table for keys, read in SQL without records"
    cursor = Transaction().connection.cursor()
    result = {}
    for sub in grouped_slice(list(keys), backend.MAX_QUERY_PARAMS):
        cursor.execute(*table.select(key, *columns,
                where=key.in_(list(sub))))
        result.update((r[0], r[1:]) for r in cursor)
    return result


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
        product = Product.__table__()
        template = Template.__table__()
        # {Ид: (id, active, quantity)}; inactive ones included
        products = _rows(product, product.exchange_1c_id,
            [product.id, product.active, product.exchange_1c_quantity], ids)
        templates = _rows(template, template.exchange_1c_id,
            [template.id, template.code], goods)
        price_lists = {p.exchange_1c_id: p for p in PriceList.search([
                    ('exchange_1c_id', '!=', None),
                    ('company', '=', company.id)])}
        # Variants first, so their prices land in the same batch.
        to_create = []
        for offer in offers:
            if not offer['id'] or offer['id'] in products:
                continue
            good = templates.get(offer['id'].split('#', 1)[0])
            if good is None:
                self.fail(offer, gettext('crm_1c_exchange.msg_offer_unknown'))
                offer['id'] = None
                continue
            to_create.append({'template': good[0],
                    'exchange_1c_id': offer['id'],
                    # the product code (template code + suffix) stays
                    # unique among the variants
                    'suffix_code': '#' + offer['id'].split('#', 1)[1],
                    'description': offer['features']})
        new = set(self.create_variants(to_create, templates))
        products.update(_rows(product, product.exchange_1c_id,
                [product.id, product.active, product.exchange_1c_quantity],
                new))
        # the descriptions as the ORM reads them (translated)
        descriptions = {r['id']: r['description'] for r in Product.read(
                [products[o['id']][0] for o in offers
                    if o['features'] and o['id'] in products
                    and o['id'] not in new], ['description'])}
        lines = {}
        if products and price_lists:
            line = Line.__table__()
            list_ids = {p.id for p in price_lists.values()}
            cursor = Transaction().connection.cursor()
            for sub in grouped_slice([p[0] for p in products.values()],
                    backend.MAX_QUERY_PARAMS):
                # by product only: SQLite would take the price list index
                # (all the lines of the list) over the product one
                cursor.execute(*line.select(line.price_list, line.product,
                        line.id, line.formula,
                        where=reduce_ids(line.product, sub)))
                for price_list, product_id, line_id, formula in cursor:
                    if price_list in list_ids:
                        lines[(price_list, product_id)] = (line_id, formula)
        new_lines, line_writes, product_writes = [], [], []
        quantities = {}
        for offer in offers:
            if offer['id'] not in products:
                continue
            product_id, active, quantity = products[offer['id']]
            changed = False
            values = {}
            if offer['deleted']:
                values['active'] = False
            elif not active:
                values['active'] = True
            if (offer['quantity'] is not None
                    and quantity != float(offer['quantity'])):
                quantities.setdefault(float(offer['quantity']), []).append(
                    product_id)
                changed = True
            if (offer['features'] and offer['id'] not in new
                    and descriptions.get(product_id) != offer['features']):
                values['description'] = offer['features']
            if values:
                product_writes.extend(([Product(product_id)], values))
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
                line = lines.get((price_list.id, product_id))
                if line is None:
                    row = {'price_list': price_list.id,
                        'product': product_id, 'formula': formula}
                    new_lines.append(row)
                    # a price type given twice for an offer: one line
                    lines[(price_list.id, product_id)] = row
                    changed = True
                elif isinstance(line, dict):
                    line['formula'] = formula
                elif line[1] != formula:
                    line_writes.extend(([Line(line[0])],
                            {'formula': formula}))
                    changed = True
            if offer['id'] not in new:
                self.counts['updated' if changed else 'skipped'] += 1
        chunked_write(Product, product_writes)
        write_quantities(quantities)
        bulk.create([Line.__name__],
            lambda: bulk.insert(Line, new_lines),
            lambda: chunked_create(Line, new_lines))
        chunked_write(Line, line_writes)
        return self.counts

    def create_variants(self, rows, templates):
        "Create the variants of rows; return their Ид"
        Product = Pool().get('product.product')
        if not rows:
            return []
        # one record per Ид (an offer given twice in a batch)
        rows = list({r['exchange_1c_id']: r for r in rows}.values())
        codes = {k: v[1] for k, v in templates.items()}
        created = bulk.create([Product.__name__],
            lambda: list(create_products(Product, rows, codes)),
            lambda: [p.exchange_1c_id for p in chunked_create(Product, rows)])
        self.counts['created'] += len(created)
        return created
