#!/usr/bin/env python3
"""1C exchange speed and memory, as ratios against references.

1. Import of a generated CommerceML catalog (import.xml + offers.xml) of N
   goods with offers, batch by batch as `mode=import` requests run it (one
   transaction per batch, the parser kept open within a request), against
   a parse-only pass of the same files with lxml (the same readers, no
   database). Peak memory (VmHWM) of the import at each size: the goal is
   no more than 1.2x growth from 10,000 to 100,000 goods.
2. Orders export (`mode=query`) of M sales orders against a reference that
   reads the same rows with raw SQL and writes the same elements with lxml.

Each size runs in its own process (a clean peak-memory reading). SQLite in
a temporary folder by default; PostgreSQL when TRYTOND_DATABASE__URI is
set. Usage: bench/exchange_1c.py [--goods 10000,100000] [--orders 10000]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

BATCH = 500


def generate(folder, n):
    "Write import.xml and offers.xml of n goods (half with 2 variants)"
    import_path = os.path.join(folder, 'import.xml')
    offers_path = os.path.join(folder, 'offers.xml')
    with open(import_path, 'w', encoding='utf-8') as fp:
        fp.write('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<КоммерческаяИнформация xmlns="urn:1C.ru:commerceml_2" '
            'ВерсияСхемы="2.08" ДатаФормирования="2026-11-24T00:00:00">'
            '<Классификатор><Ид>cls</Ид><Наименование>К</Наименование>'
            '<Группы>')
        for g in range(20):
            fp.write(f'<Группа><Ид>grp-{g}</Ид><Наименование>Группа {g}'
                '</Наименование></Группа>')
        fp.write('</Группы></Классификатор><Каталог '
            'СодержитТолькоИзменения="false"><Ид>cat</Ид>'
            '<ИдКлассификатора>cls</ИдКлассификатора><Наименование>Каталог'
            '</Наименование><Товары>')
        for i in range(n):
            fp.write(f'<Товар><Ид>good-{i:08d}</Ид><Артикул>A{i}</Артикул>'
                f'<Наименование>Товар номер {i}</Наименование>'
                '<БазоваяЕдиница Код="796" НаименованиеПолное="Штука">шт'
                f'</БазоваяЕдиница><Группы><Ид>grp-{i % 20}</Ид></Группы>'
                f'<Описание>Описание товара {i}</Описание>'
                '<СтавкиНалогов><СтавкаНалога><Наименование>НДС'
                '</Наименование><Ставка>20</Ставка></СтавкаНалога>'
                '</СтавкиНалогов></Товар>\n')
        fp.write('</Товары></Каталог></КоммерческаяИнформация>\n')
    with open(offers_path, 'w', encoding='utf-8') as fp:
        fp.write('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<КоммерческаяИнформация xmlns="urn:1C.ru:commerceml_2" '
            'ВерсияСхемы="2.08"><ПакетПредложений '
            'СодержитТолькоИзменения="false"><Ид>cat#</Ид><ТипыЦен>'
            '<ТипЦены><Ид>price-retail</Ид><Наименование>Розничная'
            '</Наименование><Валюта>RUB</Валюта></ТипЦены></ТипыЦен>'
            '<Предложения>')
        for i in range(n):
            ids = ([f'good-{i:08d}#s', f'good-{i:08d}#m'] if i % 2
                else [f'good-{i:08d}'])
            for offer in ids:
                fp.write(f'<Предложение><Ид>{offer}</Ид><Наименование>Товар '
                    f'{i}</Наименование><Цены><Цена><ИдТипаЦены>price-retail'
                    f'</ИдТипаЦены><ЦенаЗаЕдиницу>{100 + i % 900}.50'
                    '</ЦенаЗаЕдиницу><Валюта>RUB</Валюта></Цена></Цены>'
                    f'<Количество>{i % 17}</Количество></Предложение>\n')
        fp.write('</Предложения></ПакетПредложений>'
            '</КоммерческаяИнформация>\n')
    return import_path, offers_path


def reset_peak():
    try:
        with open('/proc/self/clear_refs', 'w') as fp:
            fp.write('5')
    except OSError:
        pass


def peak_rss_mb():
    with open('/proc/self/status') as fp:
        for line in fp:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) / 1024
    return 0.0


def rss_mb():
    with open('/proc/self/status') as fp:
        for line in fp:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024
    return 0.0


def set_env(tmp):
    "Before trytond is imported: a private database and filestore"
    os.environ['TRYTOND_DATABASE__PATH'] = tmp
    if not os.environ.get('TRYTOND_DATABASE__URI', '').startswith(
            'postgresql'):
        os.environ['DB_NAME'] = 'bench1c'
    else:
        os.environ['DB_NAME'] = 'bench_1c_%d' % os.getpid()
    os.environ.pop('DB_CACHE', None)


def setup_db(tmp):
    from trytond.pool import Pool
    from trytond.tests.test_tryton import activate_module, DB_NAME
    activate_module(['crm_1c_exchange'])
    # Measure what a server does: the test mode also validates every
    # Function field of each record created (2-3x the work).
    Pool.test = False
    return DB_NAME


def company_context(db):
    from trytond.modules.company.tests import create_company
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    with Transaction().start(db, 0) as transaction:
        company = create_company()
        User = Pool().get('res.user')
        admin, = User.search([('login', '=', 'admin')])
        User.write([admin], {'companies': [('add', [company.id])],
                'company': company.id})
        transaction.commit()
        return company.id, admin.id


def child_import(n):
    tmp = os.environ['TRYTOND_DATABASE__PATH']
    paths = generate(tmp, n)
    from trytond.modules.crm_1c_exchange.importer import ITEMS
    from trytond.modules.crm_1c_exchange.xmlsafe import iterparse, release

    def parse_only():
        times = []
        for path, phase in zip(paths, ['goods', 'offers']):
            tag, read = ITEMS[phase]
            with open(path, 'rb') as fp:
                began, count = time.perf_counter(), 0
                for _, element in iterparse(fp, [tag]):
                    read(element)
                    release(element)
                    count += 1
                    if count % BATCH == 0:
                        times.append((time.perf_counter() - began) / BATCH)
                        began = time.perf_counter()
        return times
    reset_peak()
    base = rss_mb()
    parse_started = time.perf_counter()
    parse_times = parse_only()
    parse_total = time.perf_counter() - parse_started
    parse_peak = peak_rss_mb() - base

    db = setup_db(tmp)
    company_id, user_id = company_context(db)
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    from trytond.modules.crm_1c_exchange import storage
    from trytond.modules.crm_1c_exchange.importer import Reader, step
    context = {'company': company_id}
    with Transaction().start(db, user_id, context=context) as transaction:
        pool = Pool()
        Session = pool.get('crm.exchange_1c.session')
        File = pool.get('crm.exchange_1c.file')
        Profile = pool.get('crm.exchange_1c.profile')
        session, _ = Session.open(user_id, company_id, 'catalog')
        profile = Profile.get(company_id)
        profile.batch_size = BATCH
        profile.save()
        file_ids = []
        for path in paths:
            file_id = storage.new_id()
            with open(path, 'rb') as fp:
                size = storage.copy_from(file_id, fp, 1 << 34)
            file, = File.create([{'session': session.id,
                        'name': os.path.basename(path), 'data_id': file_id,
                        'size': size, 'state': 'received'}])
            file_ids.append(file.id)
        session_id = session.id
        transaction.commit()
    import gc
    gc.collect()
    reset_peak()
    base = rss_mb()

    def run_files(times):
        "Run the files batch by batch as import requests do"
        reader = Reader()
        for file_id in file_ids:
            while True:
                with Transaction().start(db, user_id, context=context) as tr:
                    pool = Pool()
                    File = pool.get('crm.exchange_1c.file')
                    Session = pool.get('crm.exchange_1c.session')
                    file = File(file_id)
                    position = file.position or 0
                    began = time.perf_counter()
                    answer = step(Session(session_id),
                        Profile.get(company_id), file, reader)
                    done = (File(file_id).position or 0) - position
                    phase = file.phase
                    tr.commit()
                if phase in ('goods', 'offers') and done > 0:
                    times.append((time.perf_counter() - began) / done)
                if answer != 'progress':
                    break
        reader.close()
    import_times = []
    started = time.perf_counter()
    run_files(import_times)
    import_total = time.perf_counter() - started
    import_peak = peak_rss_mb() - base
    with Transaction().start(db, user_id, context=context):
        Session = Pool().get('crm.exchange_1c.session')
        session = Session(session_id)
        counts = [session.created, session.updated, session.skipped,
            session.failed]
    # The same package again (1C sends full packages): nothing changes
    with Transaction().start(db, user_id, context=context) as tr:
        File = Pool().get('crm.exchange_1c.file')
        File.write(File.browse(file_ids), {'state': 'received',
                'kind': None, 'phase': None, 'position': 0})
        tr.commit()
    started = time.perf_counter()
    run_files([])
    rerun_total = time.perf_counter() - started
    # The framework's own cost: bare creates of the same goods (template
    # with its product, 40 per call as the import does), no XML, no lookup.
    bare_times = []
    with Transaction().start(db, user_id, context=context) as tr:
        pool = Pool()
        Template = pool.get('product.template')
        ModelData = pool.get('ir.model.data')
        unit = ModelData.get_id('product', 'uom_unit')
        for start in range(0, min(n, 5000), 40):
            began = time.perf_counter()
            with Transaction().set_context(default_products=False):
                Template.create([{'name': 'Bare %d' % i, 'code': 'B%d' % i,
                            'default_uom': unit, 'type': 'goods',
                            'products': [('create', [{
                                            'description': 'x'}])]}
                        for i in range(start, start + 40)])
            bare_times.append((time.perf_counter() - began) / 40)
        tr.rollback()
    return {'n': n, 'parse_median': statistics.median(parse_times),
        'parse_total': parse_total, 'parse_peak': parse_peak,
        'import_median': statistics.median(import_times),
        'import_total': import_total, 'import_peak': import_peak,
        'rerun_total': rerun_total,
        'counts': counts, 'bare_median': statistics.median(bare_times)}


def child_orders(m):
    tmp = os.environ['TRYTOND_DATABASE__PATH']
    db = setup_db(tmp)
    company_id, user_id = company_context(db)
    from decimal import Decimal
    from lxml import etree
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    from trytond.modules.crm_1c_exchange.documents_out import query
    context = {'company': company_id}
    with Transaction().start(db, user_id, context=context) as transaction:
        pool = Pool()
        Party = pool.get('party.party')
        Template = pool.get('product.template')
        Uom = pool.get('product.uom')
        Sale = pool.get('sale.sale')
        unit, = Uom.search([('name', '=', 'Unit')])
        template, = Template.create([{'name': 'Товар', 'type': 'service',
                    'salable': True, 'default_uom': unit.id,
                    'sale_uom': unit.id, 'list_price': Decimal(10),
                    'products': [('create', [{}])]}])
        product = template.products[0]
        party, = Party.create([{'name': 'Клиент',
                    'addresses': [('create', [{}])]}])
        company = pool.get('company.company')(company_id)
        for start in range(0, m, BATCH):
            sales = Sale.create([{'party': party.id,
                        'company': company_id,
                        'currency': company.currency.id,
                        'invoice_address': party.addresses[0].id,
                        'shipment_address': party.addresses[0].id,
                        'lines': [('create', [{'product': product.id,
                                        'quantity': 2, 'unit': unit.id,
                                        'unit_price': Decimal('10.50')}])],
                        } for _ in range(start, min(start + BATCH, m))])
            Sale.quote(sales)
        transaction.commit()

    def reference():
        from sql import Table
        cursor = Transaction().connection.cursor()
        sale, line = Table('sale_sale'), Table('sale_line')
        cursor.execute(*sale.join(line, condition=line.sale == sale.id)
            .select(sale.id, sale.number, sale.sale_date, line.quantity,
                line.unit_price, line.description))
        with etree.xmlfile(io.BytesIO(), encoding='utf-8') as xf:
            with xf.element('КоммерческаяИнформация'):
                for row in cursor:
                    with xf.element('Документ'):
                        for name, value in zip(['Ид', 'Номер', 'Дата',
                                    'Количество', 'ЦенаЗаЕдиницу',
                                    'Наименование'], row):
                            with xf.element(name):
                                xf.write(str(value))
    import io
    with Transaction().start(db, user_id, context=context,
            readonly=True):
        began = time.perf_counter()
        reference()
        reference_total = time.perf_counter() - began
    with Transaction().start(db, user_id, context=context) as transaction:
        Session = Pool().get('crm.exchange_1c.session')
        Profile = Pool().get('crm.exchange_1c.profile')
        session, _ = Session.open(user_id, company_id, 'sale')
        began = time.perf_counter()
        data, count = query(session, Profile.get(company_id))
        query_total = time.perf_counter() - began
    return {'m': m, 'count': count, 'bytes': len(data),
        'query_total': query_total, 'reference_total': reference_total}


def run_child(*args):
    done = subprocess.run([sys.executable, __file__, '--child', *args],
        capture_output=True, text=True)
    if done.returncode:
        sys.exit(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--goods', default='10000,100000')
    parser.add_argument('--orders', type=int, default=10000)
    parser.add_argument('--child', nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, size = args.child
        set_env(tempfile.mkdtemp(prefix='bench1c'))
        try:
            result = (child_import if kind == 'import' else child_orders)(
                int(size))
        finally:
            # a PostgreSQL database of 100,000 goods is not left behind
            from trytond.tests.test_tryton import drop_db
            drop_db()
        print(json.dumps(result))
        return
    sizes = [int(s) for s in args.goods.split(',') if s]
    rows = [run_child('import', str(n)) for n in sizes]
    print("Catalog import (goods + offers; per item medians of %d-item "
        "batches); references: lxml parse-only of the same files, bare "
        "Tryton create of the same goods" % BATCH)
    print('%9s %10s %10s %7s %10s %7s %8s %8s %9s %9s' % ('goods',
            'parse us', 'import us', 'ratio', 'create us', 'ratio',
            'parse s', 'import s', 'parse MB', 'import MB'))
    for row in rows:
        print('%9d %10.1f %10.1f %6.0fx %10.1f %6.1fx %8.1f %8.1f %9.1f %9.1f'
            % (row['n'], row['parse_median'] * 1e6,
                row['import_median'] * 1e6,
                row['import_median'] / row['parse_median'],
                row['bare_median'] * 1e6,
                row['import_median'] / row['bare_median'],
                row['parse_total'], row['import_total'], row['parse_peak'],
                row['import_peak']))
        print('%9s created/updated/skipped/failed: %s; the same package '
            'again: %.1f s (%.1fx parse-only)' % ('',
                '/'.join(map(str, row['counts'])), row['rerun_total'],
                row['rerun_total'] / row['parse_total']))
    if len(rows) >= 2:
        first, last = rows[0], rows[-1]
        print("Peak memory growth %d -> %d goods: %.2fx (goal <= 1.2x); "
            "total import / parse-only at %d: %.1fx (goal <= 30x)" % (
                first['n'], last['n'],
                last['import_peak'] / max(first['import_peak'], 0.1),
                last['n'], last['import_total'] / last['parse_total']))
    if args.orders:
        row = run_child('orders', str(args.orders))
        print()
        print("Orders export (mode=query) of %d orders: %.2f s, %d bytes; "
            "raw SQL + lxml reference %.2f s; ratio %.1fx" % (
                row['count'], row['query_total'], row['bytes'],
                row['reference_total'],
                row['query_total'] / row['reference_total']))


if __name__ == '__main__':
    main()
