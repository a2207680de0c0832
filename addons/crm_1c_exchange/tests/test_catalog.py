"Catalog packages of 1C: goods, groups, properties, prices, variants"
import io
import zipfile
from unittest import mock

from trytond.modules.company.tests import create_company, set_company
from trytond.modules.crm_portal.tests.tools import CrmTestCase
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from trytond.modules.crm_1c_exchange import bulk
from trytond.modules.crm_1c_exchange.importer import ImportFailure
from trytond.modules.crm_1c_exchange.protocol import _extract_all

from .tools import counts, new_session, run_file, upload
from .tools import data as tools_data


def templates(ext_ids=None):
    Template = Pool().get('product.template')
    domain = [('exchange_1c_id', '!=', None)]
    if ext_ids:
        domain = [('exchange_1c_id', 'in', ext_ids)]
    with Transaction().set_context(active_test=False):
        return {t.exchange_1c_id: t for t in Template.search(domain)}


def properties(template):
    "(property, value, text) of the 1C property lines of template"
    return sorted((l.property.name, l.value.name if l.value else None, l.text)
        for l in template.exchange_1c_properties)


def facts(template):
    "What users see of a template, its variants and their prices"
    pool = Pool()
    Translation = pool.get('ir.translation')
    Line = pool.get('product.price_list.line')

    def translations(record, name):
        return sorted((t.lang, t.src, t.value, t.fuzzy)
            for t in Translation.search([
                    ('name', '=', f'{record.__name__},{name}'),
                    ('res_id', '=', record.id), ('type', '=', 'model')]))
    return {
        'template': [getattr(template, f) for f in ['name', 'code',
                'rec_name', 'type', 'consumable', 'active', 'salable',
                'list_price', 'cost_price', 'cost_price_method']] + [
            template.default_uom.id,
            sorted(c.id for c in template.categories),
            template.create_uid.id, bool(template.create_date),
            bool(template.write_date), translations(template, 'name'),
            [(v.company.id, v.cost_price_method)
                for v in template.cost_price_methods],
            sorted((l.property.id, l.value.id if l.value else None, l.text,
                    l.create_uid.id, bool(l.create_date), bool(l.write_date))
                for l in template.exchange_1c_properties)],
        'products': [[getattr(p, f) for f in ['code', 'rec_name',
                    'suffix_code', 'description', 'active', 'cost_price',
                    'list_price_used']] + [
                [(i.type, i.code) for i in p.identifiers],
                p.create_uid.id, bool(p.create_date), bool(p.write_date),
                translations(p, 'description'),
                [(v.company.id, v.cost_price) for v in p.cost_prices],
                [(l.price_list.id, l.formula, l.sequence, l.quantity,
                        l.create_uid.id)
                    for l in Line.search([('product', '=', p.id)])]]
            for p in template.products],
        }


class CatalogTestCase(CrmTestCase):
    modules = ['crm_1c_exchange']

    @with_transaction()
    def test_catalog_203_and_offers(self):
        "A 2.03 package: goods, groups, units, barcode, prices, quantities"
        pool = Pool()
        Category = pool.get('product.category')
        Line = pool.get('product.price_list.line')
        Message = pool.get('crm.exchange_1c.message')
        company = create_company()
        with set_company(company):
            session = new_session(company)
            answers = run_file(session, upload(session, 'import.xml',
                    'import_203.xml'))
            self.assertEqual(answers[-1], 'success')
            goods = templates()
            drill = goods['g2030000-0000-0000-0000-000000000001']
            cable = goods['g2030000-0000-0000-0000-000000000002']
            self.assertNotIn('g2030000-0000-0000-0000-000000000003', goods)
            self.assertEqual(drill.name, "Дрель ударная 600 Вт")
            self.assertEqual(drill.code, 'DR-100')
            self.assertEqual(drill.default_uom.symbol, 'u')
            self.assertEqual(cable.default_uom.symbol, 'm')
            self.assertEqual(drill.exchange_1c_tax_rate, '20')
            line, = drill.exchange_1c_properties
            self.assertEqual((line.property.name, line.value, line.text),
                ("Производитель", None, "Интерскол"))
            self.assertEqual(line.rec_name, "Производитель: Интерскол")
            product, = drill.products
            self.assertEqual(product.description, "Дрель для дома")
            self.assertEqual([(i.type, i.code) for i in product.identifiers],
                [('ean', '4006381333931')])
            drills, = drill.categories
            self.assertEqual(drills.name, "Дрели")
            self.assertEqual(drills.parent.name, "Инструменты")
            self.assertEqual(len(Category.search([
                            ('exchange_1c_id', '!=', None)])), 2)
            failed, = Message.search([('session', '=', session.id),
                    ('level', '=', 'failed')])
            self.assertEqual(failed.external_id,
                'g2030000-0000-0000-0000-000000000003')
            self.assertIn('999', failed.text)

            offers = upload(session, 'offers.xml', 'offers_203.xml')
            self.assertEqual(run_file(session, offers)[-1], 'success')
            lines = {(l.price_list.name, l.product.template.exchange_1c_id):
                l.formula for l in Line.search([])}
            self.assertEqual(lines, {
                    ("Розничная", 'g2030000-0000-0000-0000-000000000001'):
                    '3990',
                    ("Розничная", 'g2030000-0000-0000-0000-000000000002'):
                    '60.00',
                    })
            cable_product, = templates()[
                'g2030000-0000-0000-0000-000000000002'].products
            self.assertEqual(cable_product.exchange_1c_quantity, 1500)
            unknown_type, = Message.search([('session', '=', session.id),
                    ('level', '=', 'failed'), ('file', '=', offers.id)])
            self.assertIn('t9999999', unknown_type.text)

    @with_transaction()
    def test_records_as_create_makes_them(self):
        "Goods, variants and prices written in bulk are as create makes them"
        pool = Pool()
        Template = pool.get('product.template')
        Line = pool.get('product.price_list.line')
        company = create_company()
        with set_company(company):
            session = new_session(company)
            run_file(session, upload(session, 'import.xml', 'import_203.xml'))
            run_file(session, upload(session, 'import.xml', 'import_205.xml'))
            run_file(session, upload(session, 'offers.xml', 'offers_203.xml'))
            run_file(session, upload(session, 'offers.xml', 'offers_208.xml'))
            imported = templates()
            self.maxDiff = None
            self.assertEqual(len(imported), 4)
            self.assertEqual(sum(len(t.products) for t in imported.values()),
                6)
            for good in imported.values():
                with Transaction().set_context(active_test=False):
                    expected = facts(good)
                variants = [(p.description, p.suffix_code,
                        [(i.type, i.code) for i in p.identifiers],
                        [(l.price_list.id, l.formula)
                            for l in Line.search([('product', '=', p.id)])])
                    for p in good.products]
                values = {'name': good.name, 'code': good.code,
                    'default_uom': good.default_uom.id, 'type': good.type,
                    'categories': [('add', [c.id for c in good.categories])],
                    'exchange_1c_properties': [('create', [{
                                    'property': l.property.id,
                                    'value': l.value.id if l.value else None,
                                    'text': l.text}
                                for l in good.exchange_1c_properties])],
                    }
                active = good.active
                # the same good made by create (a code is unique)
                Template.delete([good])
                with Transaction().set_context(default_products=False):
                    twin, = Template.create([dict(values, products=[
                                    ('create', [{'description': d,
                                                'suffix_code': s,
                                                'identifiers': [('create', [
                                                            {'type': t,
                                                                'code': c}
                                                            for t, c in i])],
                                                } for d, s, i, _ in variants])
                                    ])])
                Line.create([{'price_list': pl, 'product': p.id,
                            'formula': f}
                        for p, (_, _, _, lines) in zip(twin.products, variants)
                        for pl, f in lines])
                if not active:
                    # left out of the full package that followed
                    Template.write([twin], {'active': False})
                with Transaction().set_context(active_test=False):
                    self.assertEqual(facts(Template(twin.id)), expected)

    @with_transaction()
    def test_duplicate_code_refused(self):
        "A good with the code of another active product fails alone"
        pool = Pool()
        Message = pool.get('crm.exchange_1c.message')
        company = create_company()
        with set_company(company):
            session = new_session(company)
            content = tools_data('import_205.xml').replace(
                b'SW-02', b'TS-01')
            run_file(session, upload(session, 'import.xml', content))
            self.assertEqual(list(templates()),
                ['g2050000-0000-0000-0000-000000000001'])
            failed, = Message.search([('session', '=', session.id),
                    ('level', '=', 'failed')])
            self.assertEqual(failed.external_id,
                'g2050000-0000-0000-0000-000000000002')

    @with_transaction()
    def test_same_package_twice_changes_nothing(self):
        "Idempotent on Ид: the second run creates and writes nothing"
        Template = Pool().get('product.template')
        company = create_company()
        with set_company(company):
            first = new_session(company)
            run_file(first, upload(first, 'import.xml', 'import_205.xml'))
            run_file(first, upload(first, 'offers.xml', 'offers_208.xml'))
            # a user's copy of a good is theirs: the import does not find it
            copy, = Template.copy([templates()[
                        'g2050000-0000-0000-0000-000000000001']])
            self.assertEqual((copy.exchange_1c_id, copy.exchange_1c_hash),
                (None, None))
            self.assertEqual({p.exchange_1c_id for p in copy.products},
                {None})
            copied = (copy.write_date, copy.active, len(copy.products))
            before = {k: (t.write_date, t.create_date, len(t.products))
                for k, t in templates().items()}
            second = new_session(company)
            run_file(second, upload(second, 'import.xml', 'import_205.xml'))
            run_file(second, upload(second, 'offers.xml', 'offers_208.xml'))
            after = {k: (t.write_date, t.create_date, len(t.products))
                for k, t in templates().items()}
            self.assertEqual(before, after)
            result = counts(second)
            self.assertEqual(result['created'], 0)
            self.assertEqual(result['updated'], 0)
            self.assertEqual(result['skipped'], 4)  # 2 goods + 2 offers
            self.assertEqual(result['failed'], 1)  # the offer of no good
            copy = Template(copy.id)
            self.assertEqual(
                (copy.write_date, copy.active, len(copy.products)), copied)

    @with_transaction()
    def test_variants_partial_and_full_packages(self):
        "2.05 goods, 2.08 characteristics, a 2.10 windows-1251 partial"
        pool = Pool()
        Line = pool.get('product.price_list.line')
        company = create_company()
        with set_company(company):
            session = new_session(company)
            run_file(session, upload(session, 'import.xml', 'import_205.xml'))
            shirt = templates()['g2050000-0000-0000-0000-000000000001']
            line, = shirt.exchange_1c_properties
            self.assertEqual((line.property.name, line.value.name, line.text),
                ("Материал", "Хлопок", None))
            self.assertEqual(line.rec_name, "Материал: Хлопок")
            run_file(session, upload(session, 'offers.xml', 'offers_208.xml'))
            shirt = templates()['g2050000-0000-0000-0000-000000000001']
            variants = {p.exchange_1c_id: p for p in shirt.products}
            small = variants['g2050000-0000-0000-0000-000000000001'
                '#h2080000-0000-0000-0000-00000000000s']
            self.assertEqual(len(variants), 3)
            self.assertEqual(small.description, "Размер: S")
            self.assertEqual(small.exchange_1c_quantity, 7)
            self.assertEqual(Line.search([('product', '=', small.id)])[0]
                .formula, '500')

            partial = new_session(company)
            run_file(partial, upload(partial, 'import.xml', 'import_210.xml'))
            run_file(partial, upload(partial, 'rests.xml', 'rests_210.xml'))
            goods = templates()
            self.assertEqual(
                goods['g2050000-0000-0000-0000-000000000002'].name,
                "Свитер шерстяной «Зима»")
            self.assertTrue(goods['g2100000-0000-0000-0000-000000000003']
                .active)
            # a partial package leaves alone what it does not carry
            self.assertTrue(goods['g2050000-0000-0000-0000-000000000001']
                .active)
            small = pool.get('product.product')(small.id)
            self.assertEqual(small.exchange_1c_quantity, 10)
            self.assertEqual(Line.search([('product', '=', small.id)])[0]
                .formula, '500')

            full = new_session(company)
            run_file(full, upload(full, 'import.xml', 'import_205.xml'))
            goods = templates()
            self.assertFalse(goods['g2100000-0000-0000-0000-000000000003']
                .active)
            self.assertTrue(goods['g2050000-0000-0000-0000-000000000001']
                .active)

    @with_transaction()
    def test_properties_searchable(self):
        "Goods are found by the name or value of their 1C properties"
        pool = Pool()
        Template = pool.get('product.template')
        Product = pool.get('product.product')
        company = create_company()
        # what the clients' filter "1C Properties: ..." searches
        field = 'exchange_1c_properties.rec_name'
        with set_company(company):
            session = new_session(company)
            run_file(session, upload(session, 'import.xml', 'import_203.xml'))
            drill = templates()['g2030000-0000-0000-0000-000000000001']
            # a text value
            self.assertEqual(Template.search([
                        (field, 'ilike', '%Интерскол%')]), [drill])
            self.assertEqual(Product.search([
                        (field, 'ilike', '%Интерскол%')]), list(drill.products))
            self.assertNotIn(drill, Template.search([
                        (field, 'not ilike', '%Интерскол%')]))

            # a full package: the drill is deactivated
            run_file(session, upload(session, 'import.xml', 'import_205.xml'))
            goods = templates()
            shirt = goods['g2050000-0000-0000-0000-000000000001']
            sweater = goods['g2050000-0000-0000-0000-000000000002']
            # a value of the property, the property
            self.assertEqual(Template.search([
                        (field, 'ilike', '%Хлопок%')]), [shirt])
            self.assertEqual(sorted(Template.search([
                            (field, 'ilike', '%Материал%')])),
                sorted([shirt, sweater]))
            self.assertEqual(Template.search([
                        ('exchange_1c_properties.value.name', '=', "Шерсть"),
                        ]), [sweater])
            # the lines are 1C's: a copy is a good of its own
            copy, = Template.copy([shirt], default={'code': 'TS-01-COPY'})
            self.assertEqual(copy.exchange_1c_properties, ())
            self.assertEqual(len(Template(shirt.id).exchange_1c_properties), 1)

    @with_transaction()
    def test_properties_unknown_and_changed(self):
        "An unknown property is left out; changed values replace the lines"
        pool = Pool()
        Message = pool.get('crm.exchange_1c.message')
        Line = pool.get('crm.exchange_1c.product.property')
        company = create_company()
        shirt_id = 'g2050000-0000-0000-0000-000000000001'
        sweater_id = 'g2050000-0000-0000-0000-000000000002'
        tag = '<ЗначенияСвойств>'.encode()
        unknown = tag + ('<ЗначенияСвойства>'
            '<Ид>p9999999-0000-0000-0000-000000000009</Ид>'
            '<Значение>Что-то</Значение></ЗначенияСвойства>').encode()
        content = tools_data('import_205.xml').replace(tag, unknown, 1)
        with set_company(company):
            # through the ORM (create_orm) as when bulk is not possible
            first = new_session(company)
            with mock.patch.object(bulk, 'supported', return_value=False):
                run_file(first, upload(first, 'import.xml', content))
            goods = templates()
            self.assertEqual(properties(goods[shirt_id]),
                [("Материал", "Хлопок", None)])
            skipped, = Message.search([('session', '=', first.id),
                    ('level', '=', 'skipped')])
            self.assertEqual(skipped.external_id, shirt_id)
            self.assertIn('p9999999', skipped.text)
            lines = {l.id for l in Line.search([])}
            before = {k: t.write_date for k, t in goods.items()}

            # the shirt is of wool now, the sweater unchanged
            changed = content.replace(
                '<Значение>v2050000-0000-0000-0000-000000000001</Значение>'
                .encode(),
                '<Значение>v2050000-0000-0000-0000-000000000002</Значение>'
                .encode())
            # the package repeats the shirt: written once
            start = changed.index('<Товар>'.encode())
            end = changed.index('</Товар>'.encode()) + len('</Товар>'.encode())
            changed = changed[:end] + changed[start:end] + changed[end:]
            second = new_session(company)
            run_file(second, upload(second, 'import.xml', changed))
            goods = templates()
            self.assertEqual(properties(goods[shirt_id]),
                [("Материал", "Шерсть", None)])
            self.assertEqual(properties(goods[sweater_id]),
                [("Материал", "Шерсть", None)])
            self.assertEqual(goods[sweater_id].write_date, before[sweater_id])
            self.assertEqual(counts(second)['updated'], 1)
            lines_after = {l.id for l in Line.search([])}
            self.assertEqual(len(lines_after), 2)
            self.assertEqual(len(lines & lines_after), 1)

            # the same package again, and a renamed property: no good
            # is written
            renamed = changed.replace('<Наименование>Материал</Наименование>'
                .encode(), '<Наименование>Ткань</Наименование>'.encode())
            third = new_session(company)
            run_file(third, upload(third, 'import.xml', renamed))
            self.assertEqual(counts(third)['updated'], 0)
            self.assertEqual({l.id for l in Line.search([])}, lines_after)
            self.assertEqual(properties(templates()[shirt_id]),
                [("Ткань", "Шерсть", None)])

    @with_transaction()
    def test_batches_resume_after_rollback(self):
        "Batches commit with their position; a lost batch is redone"
        pool = Pool()
        Profile = pool.get('crm.exchange_1c.profile')
        File = pool.get('crm.exchange_1c.file')
        company = create_company()
        with set_company(company):
            profile = Profile.get(company)
            profile.batch_size = 1
            profile.save()
            session = new_session(company)
            file = upload(session, 'import.xml', 'import_205.xml')
            from trytond.modules.crm_1c_exchange.importer import Reader, step
            from trytond.modules.crm_portal.automation import savepoint
            # one parser kept between the batches of a request
            reader = Reader()
            self.assertEqual(step(session, profile, file, reader),
                'progress')
            self.assertEqual(File(file.id).phase, 'goods')
            self.assertEqual(step(session, profile, File(file.id), reader),
                'progress')
            self.assertEqual(len(templates()), 1)

            class Dropped(Exception):
                pass
            # the connection drops while the second good is written
            try:
                with savepoint('test_drop'):
                    step(session, profile, File(file.id), reader)
                    self.assertEqual(len(templates()), 2)
                    raise Dropped
            except Dropped:
                pass
            self.assertEqual(len(templates()), 1)
            self.assertEqual(File(file.id).position, 1)
            # the parser stopped after the lost batch: read again
            self.assertEqual(step(session, profile, File(file.id), reader),
                'progress')
            reader.close()
            self.assertEqual(len(templates()), 2)
            answers = run_file(session, File(file.id), profile)
            self.assertEqual(answers[-1], 'success')
            self.assertEqual(len(templates()), 2)

    @with_transaction()
    def test_hostile_xml(self):
        "DTDs and entities are refused; a truncated file keeps its start"
        company = create_company()
        with set_company(company):
            session = new_session(company)
            bomb = (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n'
                b'<!ENTITY lol "lol">\n'
                b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n]>\n'
                b'<\xd0\x9a\xd0\xbe\xd0\xbc>&lol2;</\xd0\x9a\xd0\xbe\xd0\xbc>')
            with self.assertRaises(ImportFailure) as raised:
                run_file(session, upload(session, 'import.xml', bomb))
            self.assertIn('DTD', str(raised.exception.args[0]))
            external = (b'<?xml version="1.0"?>\n'
                b'<!DOCTYPE x SYSTEM "http://127.0.0.1:1/evil.dtd">\n<x/>')
            with self.assertRaises(ImportFailure):
                run_file(session, upload(session, 'import.xml', external))

            content = open(__file__.replace('test_catalog.py',
                    'data/import_205.xml'), 'rb').read()
            cut = content[:content.index('SW-02'.encode())]
            with self.assertRaises(ImportFailure):
                run_file(session, upload(session, 'import.xml', cut))
            # the good read before the cut is there, nothing else
            self.assertEqual(list(templates()),
                ['g2050000-0000-0000-0000-000000000001'])

    @with_transaction()
    def test_zip_checks(self):
        "Zip slip and zip bombs are refused before anything is extracted"
        pool = Pool()
        File = pool.get('crm.exchange_1c.file')
        company = create_company()
        with set_company(company):
            for entries, expected in [
                    ({'../../etc/passwd': b'x'}, 'path'),
                    ({'/abs.xml': b'x'}, 'path'),
                    ({'import.xml': b'0' * (50 * 1024 * 1024)}, 'more'),
                    ]:
                session = new_session(company)
                buffer = io.BytesIO()
                with zipfile.ZipFile(buffer, 'w',
                        zipfile.ZIP_DEFLATED) as archive:
                    for name, content in entries.items():
                        archive.writestr(name, content)
                upload(session, 'pack.zip', buffer.getvalue())
                answer, commit = _extract_all(session.id)
                self.assertIn(expected, answer.get_data(as_text=True))
                self.assertEqual(File.search([('session', '=', session.id),
                            ('archive', '!=', None)]), [])
            session = new_session(company)
            upload(session, 'pack.zip', b'PK\x03\x04truncated')
            answer, _ = _extract_all(session.id)
            self.assertTrue(answer.get_data(as_text=True)
                .startswith('failure'))

            session = new_session(company)
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, 'w') as archive:
                archive.writestr('import.xml', open(__file__.replace(
                            'test_catalog.py', 'data/import_205.xml'),
                        'rb').read())
                archive.writestr('import_files/g2/'
                    'g2050000-0000-0000-0000-000000000001.jpg', b'\xff\xd8jpg')
            upload(session, 'pack.zip', buffer.getvalue())
            names, _ = _extract_all(session.id)
            self.assertEqual(sorted(names), ['import.xml', 'import_files/g2/'
                    'g2050000-0000-0000-0000-000000000001.jpg'])
            file, = File.search([('session', '=', session.id),
                    ('name', '=', 'import.xml')])
            run_file(session, file)
            Attachment = pool.get('ir.attachment')
            shirt = templates()['g2050000-0000-0000-0000-000000000001']
            image, = Attachment.search([('resource', '=', str(shirt))])
            self.assertEqual(image.data, b'\xff\xd8jpg')
