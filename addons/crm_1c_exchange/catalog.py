# import.xml: the classifier (groups, properties) and the goods, applied in
# batches keyed by Ид so that a second run of the same package changes
# nothing and a full package deactivates the goods it no longer carries.
import hashlib
import json

from sql import Literal
from sql.functions import CurrentTimestamp
from stdnum import ean

from trytond import backend
from trytond.i18n import gettext
from trytond.model.modelsql import SQLConstraintError
from trytond.pool import Pool
from trytond.tools import grouped_slice
from trytond.transaction import Transaction

from . import bulk
from .units import UnitCache, unit_code
from .xmlsafe import child, children, iterparse, localname, text


def _bool(value):
    return (value or '').strip().lower() in ('true', '1', 'да')


def read_classifier(fp):
    "Return (groups [(id, name, parent id)], properties) of import.xml"
    groups, properties = [], []
    for _, element in iterparse(fp, ['Классификатор', 'Каталог'],
            events=('end',)):
        if localname(element) == 'Каталог':
            break

        def walk(node, parent):
            for group in children(node, 'Группа'):
                group_id = text(group, 'Ид')
                if group_id:
                    groups.append((group_id, text(group, 'Наименование'),
                            parent))
                sub = child(group, 'Группы')
                if sub is not None:
                    walk(sub, group_id)
        top = child(element, 'Группы')
        if top is not None:
            walk(top, None)
        node = child(element, 'Свойства')
        for prop in (children(node, 'Свойство')
                + children(node, 'СвойствоНоменклатуры')
                if node is not None else []):
            values = []
            choices = child(prop, 'ВариантыЗначений')
            if choices is not None:
                for choice in choices:
                    value_id = text(choice, 'ИдЗначения')
                    if value_id:
                        values.append((value_id, text(choice, 'Значение')))
            properties.append((text(prop, 'Ид'), text(prop, 'Наименование'),
                    values))
        break
    return groups, properties


def apply_classifier(fp):
    pool = Pool()
    Category = pool.get('product.category')
    Property = pool.get('crm.exchange_1c.property')
    Value = pool.get('crm.exchange_1c.property.value')
    groups, properties = read_classifier(fp)
    counts = {'created': 0, 'updated': 0}
    existing = {c.exchange_1c_id: c for c in Category.search([
                ('exchange_1c_id', 'in', [g[0] for g in groups]),
                ])} if groups else {}
    for group_id, name, parent_id in groups:
        parent = existing.get(parent_id)
        values = {'name': name or group_id,
            'parent': parent.id if parent else None}
        category = existing.get(group_id)
        if category is None:
            category, = Category.create([dict(values,
                        exchange_1c_id=group_id)])
            existing[group_id] = category
            counts['created'] += 1
        elif (category.name != values['name']
                or (category.parent.id if category.parent else None)
                != values['parent']):
            Category.write([category], values)
            counts['updated'] += 1
    for prop_id, name, values in properties:
        if not prop_id:
            continue
        records = Property.search([('external_id', '=', prop_id)], limit=1)
        if records:
            record = records[0]
            if record.name != name:
                Property.write([record], {'name': name})
        else:
            record, = Property.create([{'external_id': prop_id,
                        'name': name or prop_id}])
        known = {v.external_id: v for v in record.values}
        to_create = []
        for value_id, value in values:
            if value_id in known:
                if known[value_id].name != value:
                    Value.write([known[value_id]], {'name': value})
            else:
                to_create.append({'property': record.id,
                        'external_id': value_id, 'name': value})
        if to_create:
            Value.create(to_create)
    return counts


def read_good(element):
    unit = child(element, 'БазоваяЕдиница')
    tax = child(element, 'СтавкиНалогов')
    rate = ''
    if tax is not None:
        for item in children(tax, 'СтавкаНалога'):
            rate = text(item, 'Ставка')
    props = []
    node = child(element, 'ЗначенияСвойств')
    if node is not None:
        for item in node:
            # a property of several values: one (Ид, value) each
            props.extend((text(item, 'Ид'), v.text.strip())
                for v in children(item, 'Значение')
                if v.text and v.text.strip())
    groups = child(element, 'Группы')
    return {
        'id': text(element, 'Ид'),
        'code': text(element, 'Артикул'),
        'barcode': text(element, 'Штрихкод'),
        'name': text(element, 'Наименование'),
        'unit': unit_code(unit.get('Код') if unit is not None else None,
            unit.text if unit is not None else None),
        'unit_text': (unit.text or '').strip() if unit is not None else '',
        'description': text(element, 'Описание'),
        'groups': [text(g, None) for g in children(groups, 'Ид')]
        if groups is not None else [],
        'tax_rate': rate,
        'properties': props,
        'images': [text(i, None) for i in children(element, 'Картинка')
            if i.text],
        'deleted': (element.get('Статус') == 'Удален'
            or _bool(text(element, 'ПометкаУдаления'))),
        }


class PropertyIds:
    "Ids of the properties and values of a batch, read with two searches"

    def __init__(self, items):
        pool = Pool()
        Property = pool.get('crm.exchange_1c.property')
        Value = pool.get('crm.exchange_1c.property.value')
        prop_ids = {p for i in items for p, _ in i['properties'] if p}
        value_ids = {v for i in items for _, v in i['properties']}
        self.properties = {p.external_id: p.id for p in Property.search([
                    ('external_id', 'in', list(prop_ids))])
            } if prop_ids else {}
        # keyed by property too: a value is only one of its own property
        self.values = {(v.property.id, v.external_id): v.id
            for v in Value.search([
                    ('external_id', 'in', list(value_ids))])
            } if value_ids else {}

    def lines(self, props):
        """(lines [(property id, value id, text)], source, unknown Ид): a
        value is the Ид of one of the property's values or a text; source
        is what the lines are made of in Ид, unchanged by renames"""
        lines, source, unknown = set(), set(), set()
        for prop_id, value in props:
            prop = self.properties.get(prop_id)
            if prop is None:
                unknown.add(prop_id or '')
                continue
            value_id = self.values.get((prop, value))
            lines.add((prop, value_id, None if value_id else value))
            source.add((prop_id, value, bool(value_id)))
        return sorted(lines, key=_line_key), sorted(source), sorted(unknown)


def _line_key(line):
    prop, value, text = line
    return prop, value or 0, text or ''


def digest(*values):
    "The fingerprint of what a good's records are made of"
    data = json.dumps(values, sort_keys=True, default=str,
        ensure_ascii=False)
    return hashlib.sha1(data.encode('utf-8')).hexdigest()


def known_digests(Model, ids):
    """{Ид: (id, digest, active)} of the records of Model with these Ид,
    read with one query and without instantiating records"""
    if not ids:
        return {}
    table = Model.__table__()
    cursor = Transaction().connection.cursor()
    cursor.execute(*table.select(table.exchange_1c_id, table.id,
            table.exchange_1c_hash, table.active,
            where=table.exchange_1c_id.in_(list(ids))))
    return {row[0]: row[1:] for row in cursor}


class GoodsBatch:
    "Apply a list of goods read from import.xml"

    def __init__(self, session, file, images):
        self.session, self.file = session, file
        self.images = images
        self.units = UnitCache()
        self.counts = {'created': 0, 'updated': 0, 'skipped': 0}

    def fail(self, item, reason):
        self.session.note('failed', reason, self.file, item.get('id'))

    def apply(self, items):
        pool = Pool()
        Template = pool.get('product.template')
        ids = [i['id'] for i in items if i['id']]
        known = known_digests(Template, ids)
        group_ids = {g for i in items for g in i['groups']}
        Category = pool.get('product.category')
        categories = {c.exchange_1c_id: c.id for c in Category.search([
                    ('exchange_1c_id', 'in', list(group_ids))])
            } if group_ids else {}
        properties = PropertyIds(items)
        changed, deactivate = [], []
        for item in items:
            if not item['id'] or not item['name']:
                self.fail(item, gettext('crm_1c_exchange.msg_good_incomplete'))
                continue
            row = known.get(item['id'])
            if item['deleted']:
                if row and row[2]:
                    deactivate.append(row[0])
                    self.counts['updated'] += 1
                else:
                    self.counts['skipped'] += 1
                continue
            good = self.prepare(item, categories, properties)
            if good is None:
                continue
            # the same source as last time: nothing to read or write
            if row and row[2] and row[1] == good['hash']:
                self.counts['skipped'] += 1
                continue
            changed.append(good)
        if deactivate:
            chunked_write(Template, [Template.browse(deactivate),
                    {'active': False}])
        created = self.create([g for g in changed
                if g['item']['id'] not in known])
        updated = self.update([g for g in changed
                if g['item']['id'] in known])
        self.attach_images([g['item'] for g in changed],
            dict(created, **{t.exchange_1c_id: t.id for t in updated}))
        return self.counts

    def prepare(self, item, categories, properties):
        "The values of the good's records, or None when it is refused"
        uom = self.units.get(item['unit'] or '796')
        if uom is None:
            self.fail(item, gettext('crm_1c_exchange.msg_unit_unknown',
                    unit=item['unit'] or item['unit_text']))
            return None
        for group in item['groups']:
            if group not in categories:
                self.session.note('skipped', gettext(
                        'crm_1c_exchange.msg_group_unknown', group=group),
                    self.file, item['id'])
        lines, source, unknown = properties.lines(item['properties'])
        for prop_id in unknown:
            self.session.note('skipped', gettext(
                    'crm_1c_exchange.msg_property_unknown',
                    property=prop_id), self.file, item['id'])
        values = {
            'name': item['name'],
            'code': item['code'] or None,
            'default_uom': uom,
            'type': 'goods',
            'active': True,
            'exchange_1c_tax_rate': item['tax_rate'] or None,
            }
        category_ids = sorted(categories[g] for g in item['groups']
            if g in categories)
        product_values = {'description': item['description'] or None}
        return {'item': item, 'values': values, 'categories': category_ids,
            'product': product_values, 'properties': lines,
            'hash': digest(values, category_ids, product_values,
                item['barcode'], item['images'], source)}

    def create(self, goods):
        "Create the records of new goods; return {Ид: template id}"
        if not goods:
            return {}
        return bulk.create(['product.template', 'product.product',
                'product.identifier', 'product.template-product.category',
                'crm.exchange_1c.product.property'],
            lambda: self.create_bulk(goods), lambda: self.create_orm(goods))

    def create_bulk(self, goods):
        pool = Pool()
        Template = pool.get('product.template')
        Product = pool.get('product.product')
        Identifier = pool.get('product.identifier')
        Link = pool.get('product.template-product.category')
        Line = pool.get('crm.exchange_1c.product.property')
        # one record per Ид (a package repeating a good: the last wins)
        goods = list({g['item']['id']: g for g in goods}.values())
        rows = [dict(g['values'], exchange_1c_id=g['item']['id'],
                exchange_1c_hash=g['hash']) for g in goods]
        templates = bulk.insert(Template, rows, key='exchange_1c_id')
        codes = {r['exchange_1c_id']: Template.code.sql_format(r.get('code'))
            for r in rows}
        bulk.insert(Link, [{'template': templates[g['item']['id']],
                    'category': c} for g in goods for c in g['categories']])
        bulk.insert(Line, [dict(line, template=templates[g['item']['id']])
                for g in goods for line in property_lines(g)])
        products = create_products(Product, [dict(g['product'],
                    template=templates[g['item']['id']],
                    exchange_1c_id=g['item']['id']) for g in goods],
            codes)
        bulk.insert(Identifier, [{'product': products[g['item']['id']],
                    'type': 'ean' if ean.is_valid(g['item']['barcode'])
                    else None, 'code': g['item']['barcode']}
                for g in goods if g['item']['barcode']])
        self.counts['created'] += len(templates)
        return templates

    def create_orm(self, goods):
        Template = Pool().get('product.template')
        to_create = []
        for good in goods:
            item, barcode = good['item'], good['item']['barcode']
            identifiers = ([{'type': 'ean' if ean.is_valid(barcode)
                            else None, 'code': barcode}]
                if barcode else [])
            to_create.append(dict(good['values'],
                    exchange_1c_id=item['id'], exchange_1c_hash=good['hash'],
                    categories=[('add', good['categories'])],
                    exchange_1c_properties=[
                        ('create', property_lines(good))],
                    products=[('create', [dict(good['product'],
                                    exchange_1c_id=item['id'],
                                    identifiers=[('create', identifiers)])])]))
        with Transaction().set_context(default_products=False):
            created = chunked_create(Template, to_create)
        self.counts['created'] += len(created)
        return {t.exchange_1c_id: t.id for t in created}

    def update(self, goods):
        "Write what differs (the records of goods whose source changed)"
        pool = Pool()
        Template = pool.get('product.template')
        Product = pool.get('product.product')
        if not goods:
            return []
        # one write per Ид: the lines a repeated good deletes are read once
        goods = list({g['item']['id']: g for g in goods}.values())
        ids = [g['item']['id'] for g in goods]
        with Transaction().set_context(active_test=False):
            templates = {t.exchange_1c_id: t for t in Template.search([
                        ('exchange_1c_id', 'in', ids)])}
            products = {p.exchange_1c_id: p for p in Product.search([
                        ('exchange_1c_id', 'in', ids)])}
        to_write = []
        for good in goods:
            item, barcode = good['item'], good['item']['barcode']
            template = templates[item['id']]
            changes = {k: v for k, v in good['values'].items()
                if (getattr(template, k).id if k == 'default_uom'
                    and getattr(template, k) else getattr(template, k))
                != v}
            current = sorted(c.id for c in template.categories)
            if current != good['categories']:
                changes['categories'] = [('remove', current),
                    ('add', good['categories'])]
            lines = template.exchange_1c_properties
            if sorted(((l.property.id, l.value.id if l.value else None,
                            l.text) for l in lines),
                    key=_line_key) != good['properties']:
                changes['exchange_1c_properties'] = [
                    ('delete', [l.id for l in lines]),
                    ('create', property_lines(good))]
            product = products.get(item['id'])
            product_changed = False
            if product is None:
                changes['products'] = [('create', [dict(good['product'],
                                exchange_1c_id=item['id'])])]
            else:
                if product.description != good['product']['description']:
                    Product.write([product], good['product'])
                    product_changed = True
                codes = [i.code for i in product.identifiers]
                if barcode and barcode not in codes:
                    Product.write([product], {'identifiers': [('create', [{
                                        'type': 'ean' if ean.is_valid(barcode)
                                        else None, 'code': barcode}])]})
                    product_changed = True
            self.counts['updated' if changes or product_changed
                else 'skipped'] += 1
            changes['exchange_1c_hash'] = good['hash']
            to_write.extend(([template], changes))
        chunked_write(Template, to_write)
        return list(templates.values())

    def attach_images(self, items, templates):
        "templates: {Ид: template id}"
        pool = Pool()
        Attachment = pool.get('ir.attachment')
        Template = pool.get('product.template')
        to_create = []
        for item in items:
            if item['id'] not in templates or not item['images']:
                continue
            template = Template(templates[item['id']])
            names = {a.name for a in Attachment.search([
                        ('resource', '=', str(template))])}
            for image in item['images']:
                data = self.images(image)
                name = image.rsplit('/', 1)[-1]
                if data is None or name in names:
                    continue
                to_create.append({'resource': str(template), 'name': name,
                        'data': data, 'type': 'data'})
        if to_create:
            Attachment.create(to_create)


def property_lines(good):
    "The values of the property lines of good"
    return [{'property': p, 'value': v, 'text': t}
        for p, v, t in good['properties']]


# The framework checks unique codes with one SQL condition per record:
# python-sql nests them, and SQLite refuses a nesting deeper than ~100.
CHUNK = 40


def chunked_create(Model, values):
    records = []
    for start in range(0, len(values), CHUNK):
        records += Model.create(values[start:start + CHUNK])
    return records


def chunked_write(Model, args):
    step = 2 * CHUNK
    for start in range(0, len(args), step):
        Model.write(*args[start:start + step])


def product_code(Product, prefix, suffix):
    "The code Product.sync_code gives a variant of a template coded prefix"
    code = ''.join(filter(None, [prefix, suffix]))
    return Product.code.sql_format(code) or None


def check_codes(Product, codes):
    """Refuse codes of new active products that are not unique, as create
    does (the constraint is checked by Tryton, not by SQLite)"""
    table = Product.__table__()
    cursor = Transaction().connection.cursor()
    taken = len(codes) != len(set(codes))
    for sub in grouped_slice(codes, backend.MAX_QUERY_PARAMS):
        if taken:
            break
        cursor.execute(*table.select(table.id, where=table.code.in_(list(sub))
                & (table.active == Literal(True)), limit=1))
        taken = cursor.fetchone() is not None
    if taken:
        raise SQLConstraintError(gettext('product.msg_product_code_unique'))


def create_products(Product, rows, codes):
    """Insert products (rows with template and exchange_1c_id) as create
    then sync_code would: codes are {Ид of the template: its code}; a
    variant whose code is set was written once (write_uid/write_date).
    Return {exchange_1c_id: product id}"""
    ids = {}
    coded, plain = [], []
    for row in rows:
        # the suffix from a sequence comes with preprocess_values
        row = Product.preprocess_values('create', row)
        template_id = row['exchange_1c_id'].split('#', 1)[0]
        row['code'] = product_code(Product, codes.get(template_id),
            row.get('suffix_code'))
        (coded if row['code'] else plain).append(row)
    check_codes(Product, [r['code'] for r in coded])
    transaction = Transaction()
    table = Product.__table__()
    ids.update(bulk.insert(Product, coded, key='exchange_1c_id',
            extra={table.write_uid.name: transaction.user,
                table.write_date.name: CurrentTimestamp()}))
    ids.update(bulk.insert(Product, plain, key='exchange_1c_id'))
    return ids


def deactivate_missing(file, after_id, limit):
    """Deactivate goods of 1C not in the full package file, by id ranges;
    return the last id handled or None when finished"""
    pool = Pool()
    Template = pool.get('product.template')
    Seen = pool.get('crm.exchange_1c.seen')
    templates = Template.search([
            ('exchange_1c_id', '!=', None),
            ('id', '>', after_id),
            ], order=[('id', 'ASC')], limit=limit)
    if not templates:
        return None, 0
    seen = {s.external_id for s in Seen.search([
                ('file', '=', file.id),
                ('external_id', 'in', [t.exchange_1c_id for t in templates]),
                ])}
    missing = [t for t in templates if t.exchange_1c_id not in seen]
    for start in range(0, len(missing), CHUNK):
        Template.write(missing[start:start + CHUNK], {'active': False})
    return templates[-1].id, len(missing)


__all__ = ['apply_classifier', 'read_good', 'GoodsBatch',
    'deactivate_missing', 'chunked_create', 'chunked_write']
