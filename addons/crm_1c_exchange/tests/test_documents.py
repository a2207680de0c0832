"Orders and invoices out to 1C, statuses and counterparties back"
from decimal import Decimal

from lxml import etree

from trytond.modules.company.tests import create_company, set_company
from trytond.modules.crm_portal.tests.tools import CrmTestCase
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from trytond.modules.crm_1c_exchange.documents_out import (
    line_discount, query)
from trytond.modules.crm_1c_exchange.party import match_counterparty

from .tools import counts, new_session, run_file, upload

INN = '7707083893'


def _setup_accounting(company):
    pool = Pool()
    Account = pool.get('account.account')
    from trytond.modules.account.tests import create_chart, get_fiscalyear
    from trytond.modules.account_invoice.tests import set_invoice_sequences
    create_chart(company)
    fiscalyear = set_invoice_sequences(get_fiscalyear(company))
    fiscalyear.save()
    fiscalyear.create_period([fiscalyear])
    revenue, = Account.search([('type.revenue', '=', True),
            ('closed', '!=', True), ('company', '=', company.id)], limit=1)
    return revenue


def _product(revenue):
    pool = Pool()
    Template = pool.get('product.template')
    Category = pool.get('product.category')
    Uom = pool.get('product.uom')
    unit, = Uom.search([('name', '=', 'Unit')])
    category, = Category.create([{'name': "Goods", 'accounting': True,
                'account_revenue': revenue.id}])
    template, = Template.create([{'name': "Дрель", 'type': 'service',
                'salable': True, 'default_uom': unit.id, 'sale_uom': unit.id,
                'list_price': Decimal(100), 'account_category': category.id,
                'code': 'DR-1', 'products': [('create', [{}])]}])
    return template.products[0], unit


def _client():
    Party = Pool().get('party.party')
    party, = Party.create([{'name': 'ООО "Ромашка"', 'crm_kind':
                'organisation', 
                'addresses': [('create', [{'city': "Москва"}])],
                'identifiers': [('create', [{'type': 'ru_vat',
                                'code': INN}, {'type': 'ru_kpp', 'code': '773601001'}])]}])
    return party


def _parse(data):
    return etree.fromstring(data)


def _documents(root):
    return [d for d in root if etree.QName(d).localname == 'Документ']


class DocumentsTestCase(CrmTestCase):
    modules = ['crm_1c_exchange']

    @with_transaction()
    def test_orders_out_success_and_statuses_back(self):
        "A deal's order goes to 1C once; 1C's payment moves the deal"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Sale = pool.get('sale.sale')
        Trigger = pool.get('crm.automation.trigger')
        Pipeline = pool.get('crm.pipeline')
        Profile = pool.get('crm.exchange_1c.profile')
        Export = pool.get('crm.exchange_1c.export')
        Activity = pool.get('crm.activity')
        company = create_company()
        with set_company(company):
            revenue = _setup_accounting(company)
            product, unit = _product(revenue)
            pipeline = Pipeline.create_standard(company.id)
            stages = {s.code: s for s in pipeline.stages}
            Trigger.create([{'name': "Paid in 1C", 'pipeline': pipeline.id,
                        'event': 'invoice_paid',
                        'stage': stages['EXECUTING'].id}])
            client = _client()
            with Transaction().set_context(crm_type='deal'):
                deal, = Opportunity.create([{'description': "Drills",
                            'pipeline': pipeline.id,
                            'stage': stages['NEW'].id,
                            'party': client.id,
                            'lines': [('create', [{'product': product.id,
                                            'quantity': 3, 'unit': unit.id}])],
                            }])
            Opportunity.create_quote([deal])
            sale, = Opportunity(deal.id).sales
            Sale.quote([sale])
            profile = Profile.get(company)

            session = new_session(company, 'sale')
            data, count = query(session, profile)
            self.assertEqual(count, 1)
            root = _parse(data)
            document, = _documents(root)
            self.assertEqual(document.findtext('Ид'), 'CRM-S-%s' % sale.id)
            self.assertEqual(document.findtext('ХозОперация'),
                'Заказ товара')
            self.assertEqual(document.findtext('Сумма'), '300.00')
            self.assertEqual(document.findtext('Контрагенты/Контрагент/ИНН'),
                INN)
            self.assertEqual(document.findtext('Контрагенты/Контрагент/КПП'),
                '773601001')
            line, = document.findall('Товары/Товар')
            self.assertEqual(line.findtext('Артикул'), 'DR-1')
            self.assertEqual(line.findtext('Количество'), '3')
            self.assertEqual(line.findtext('ЦенаЗаЕдиницу'), '100.00')
            self.assertEqual(line.find('БазоваяЕдиница').get('Код'), '796')
            # the sale line of the installed modules has no price before a
            # discount: no discount is invented
            self.assertIsNone(line.find('Скидки'))

            # not confirmed: sent again
            again = new_session(company, 'sale')
            self.assertEqual(query(again, profile)[1], 1)
            Export.confirm(again)
            third = new_session(company, 'sale')
            self.assertEqual(query(third, profile)[1], 0)

            # windows-1251 as a setting
            profile.encoding = 'windows-1251'
            profile.save()
            # the order changes in a later request (its own transaction)
            Transaction().commit()
            Sale.write([sale], {'comment': "Доставка до склада"})
            data, count = query(new_session(company, 'sale'), profile)
            self.assertEqual(count, 1)
            self.assertIn(b'encoding=\'windows-1251\'', data[:100])
            self.assertIn("Доставка".encode('cp1251'), data)

            back = ('<?xml version="1.0" encoding="windows-1251"?>\n'
                '<КоммерческаяИнформация ВерсияСхемы="2.08" '
                'ДатаФормирования="2026-11-24T10:00:00">'
                '<Документ><Ид>CRM-S-%s</Ид><Номер>%s</Номер>'
                '<Дата>2026-11-24</Дата><ХозОперация>Заказ товара'
                '</ХозОперация><Роль>Продавец</Роль><Валюта>руб</Валюта>'
                '<Сумма>300</Сумма><Контрагенты><Контрагент><Ид>k1</Ид>'
                '<Наименование>Ромашка</Наименование><ИНН>%s</ИНН>'
                '<КПП>773601001</КПП><Роль>Покупатель</Роль></Контрагент>'
                '</Контрагенты><ЗначенияРеквизитов>'
                '<ЗначениеРеквизита><Наименование>Проведен</Наименование>'
                '<Значение>true</Значение></ЗначениеРеквизита>'
                '<ЗначениеРеквизита><Наименование>Дата оплаты по 1С'
                '</Наименование><Значение>2026-11-24 09:00:00</Значение>'
                '</ЗначениеРеквизита><ЗначениеРеквизита><Наименование>'
                'Номер оплаты по 1С</Наименование><Значение>ПП-77'
                '</Значение></ЗначениеРеквизита><ЗначениеРеквизита>'
                '<Наименование>Оплачен</Наименование><Значение>true'
                '</Значение></ЗначениеРеквизита></ЗначенияРеквизитов>'
                '</Документ>'
                '<Документ><Ид>unknown-1</Ид><Номер>Z-1</Номер>'
                '<ХозОперация>Заказ товара</ХозОперация><Контрагенты>'
                '<Контрагент><Наименование>ИП Новый</Наименование>'
                '<ИНН>500100732259</ИНН><Роль>Покупатель</Роль>'
                '</Контрагент></Контрагенты></Документ>'
                '</КоммерческаяИнформация>') % (sale.id, sale.number, INN)
            session = new_session(company, 'sale')
            file = upload(session, 'orders.xml', back.encode('cp1251'))
            self.assertEqual(run_file(session, file)[-1], 'success')
            export, = Export.search([('document_model', '=', 'sale.sale'),
                    ('document_id', '=', sale.id)])
            self.assertTrue(export.paid)
            self.assertTrue(export.posted)
            self.assertEqual(export.payment_number, 'ПП-77')
            deal = Opportunity(deal.id)
            self.assertEqual(deal.stage, stages['EXECUTING'])
            activity, = Activity.search([('opportunity', '=', deal.id),
                    ('origin', '=', str(export))])
            self.assertIn('ПП-77', activity.description)
            result = counts(session)
            self.assertEqual(result['updated'], 1)
            self.assertEqual(result['skipped'], 1)  # the unknown document
            self.assertEqual(result['created'], 1)  # ИП Новый
            # the counterparty of our order was matched by INN/KPP
            Party = pool.get('party.party')
            self.assertEqual(len(Party.search([('name', 'like', '%Ромашка%')])),
                1)

            # the same statuses again change nothing
            session = new_session(company, 'sale')
            run_file(session, upload(session, 'orders.xml',
                    back.encode('cp1251')))
            self.assertEqual(counts(session)['updated'], 0)
            self.assertEqual(len(Activity.search([
                            ('origin', '=', str(export))])), 1)

    @with_transaction()
    def test_counterparty_matching(self):
        "INN and KPP first, then the name; unknown ones are created"
        company = create_company()
        with set_company(company):
            client = _client()
            party, created = match_counterparty({'inn': INN,
                    'kpp': '773601001', 'name': "Другое имя"})
            self.assertEqual((party, created), (client, False))
            branch, created = match_counterparty({'inn': INN,
                    'kpp': '773602002', 'name': "Филиал"})
            self.assertEqual(branch, client)  # no branch known: the INN
            named, created = match_counterparty({'name': 'ООО "Ромашка"'})
            self.assertEqual((named, created), (client, False))
            new, created = match_counterparty({'inn': '500100732259',
                    'name': "ИП Иванов", 'id': 'k-42'})
            self.assertTrue(created)
            self.assertEqual(new.inn, '500100732259')
            again, created = match_counterparty({'id': 'k-42'})
            self.assertEqual((again, created), (new, False))
            invalid, created = match_counterparty({'inn': '123',
                    'name': "Bad INN"})
            self.assertTrue(created)
            self.assertIsNone(invalid.inn)


class InvoiceStatusTestCase(CrmTestCase):
    modules = ['crm_1c_exchange']

    @with_transaction()
    def test_invoice_out_and_paid_back(self):
        "The invoice of a deal goes to 1C; paid there, it is paid here"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Sale = pool.get('sale.sale')
        Invoice = pool.get('account.invoice')
        Trigger = pool.get('crm.automation.trigger')
        Pipeline = pool.get('crm.pipeline')
        Profile = pool.get('crm.exchange_1c.profile')
        company = create_company()
        with set_company(company):
            revenue = _setup_accounting(company)
            product, unit = _product(revenue)
            pipeline = Pipeline.create_standard(company.id)
            stages = {s.code: s for s in pipeline.stages}
            Trigger.create([{'name': "Paid", 'pipeline': pipeline.id,
                        'event': 'invoice_paid',
                        'stage': stages['EXECUTING'].id}])
            client = _client()
            with Transaction().set_context(crm_type='deal'):
                deal, = Opportunity.create([{'description': "Drills",
                            'pipeline': pipeline.id,
                            'stage': stages['NEW'].id,
                            'party': client.id,
                            'lines': [('create', [{'product': product.id,
                                            'quantity': 1, 'unit': unit.id}])],
                            }])
            Opportunity.write([deal],
                {'stage': stages['PREPAYMENT_INVOICE'].id})
            # a prepayment and a balance: the deal stays open
            Opportunity.create_quote([deal])
            Opportunity.create_quote([deal])
            sale, balance = Opportunity(deal.id).sales
            Sale.quote([sale])
            Sale.confirm([sale])
            Sale.process([sale])
            invoice, = Sale(sale.id).invoices
            Invoice.post([invoice])
            profile = Profile.get(company)
            profile.export_documents = 'invoices'
            profile.save()
            data, count = query(new_session(company, 'sale'), profile)
            document, = _documents(_parse(data))
            self.assertEqual(document.findtext('ХозОперация'),
                'Счет на оплату')
            self.assertEqual(document.findtext('Номер'), invoice.number)
            back = ('<?xml version="1.0" encoding="UTF-8"?>'
                '<КоммерческаяИнформация xmlns="urn:1C.ru:commerceml_2" '
                'ВерсияСхемы="2.05"><Документ><Ид>1c-own-id</Ид>'
                '<Номер>%s</Номер><ХозОперация>Счет на оплату</ХозОперация>'
                '<ЗначенияРеквизитов><ЗначениеРеквизита><Наименование>'
                'Оплачен</Наименование><Значение>true</Значение>'
                '</ЗначениеРеквизита></ЗначенияРеквизитов></Документ>'
                '</КоммерческаяИнформация>') % invoice.number
            session = new_session(company, 'sale')
            run_file(session, upload(session, 'orders.xml',
                    back.encode('utf-8')))
            self.assertEqual(Invoice(invoice.id).state, 'paid')
            self.assertEqual(Opportunity(deal.id).stage,
                stages['EXECUTING'])

    def test_line_discount(self):
        "A line priced below its base price: the discount 1C reads"
        from types import SimpleNamespace as Line

        # the fields Tryton's sale_discount module adds to a sale line
        self.assertEqual(line_discount(Line(base_price=Decimal('120'),
                    unit_price=Decimal('90'), quantity=2,
                    discount_rate=Decimal('0.25'))),
            (Decimal('60'), Decimal('25.00')))
        self.assertEqual(line_discount(Line(base_price=Decimal('200'),
                    unit_price=Decimal('150'), quantity=1.5)),
            (Decimal('75.0'), Decimal('25.00')))
        # no base price (the installed sale module), or none below it
        self.assertIsNone(line_discount(Line(unit_price=Decimal('90'),
                    quantity=1)))
        self.assertIsNone(line_discount(Line(base_price=Decimal('90'),
                    unit_price=Decimal('90'), quantity=1)))
