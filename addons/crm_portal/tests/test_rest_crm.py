"Bitrix24-compatible CRM REST methods called as a CRM user"
import datetime
from decimal import Decimal

from trytond.modules.company.tests import create_company, set_company
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from .rest_tools import RestTestCase, as_user, call, crm_user


class RestCrmTestCase(RestTestCase):
    "Test the CRM REST methods"

    @with_transaction()
    def test_lead_add_get_update_delete(self):
        "A lead is created, read, changed and deleted with upper-case fields"
        Opportunity = Pool().get('sale.opportunity')
        with crm_user() as env:
            lead_id = call('crm.lead.add', fields={
                    'TITLE': "Price request",
                    'NAME': "Ivan", 'SECOND_NAME': "Ivanovich",
                    'LAST_NAME': "Petrov",
                    'COMPANY_TITLE': "Romashka",
                    'STATUS_ID': 'IN_PROCESS',
                    'SOURCE_ID': 'WEB',
                    'OPPORTUNITY': '1500.50',
                    'CURRENCY_ID': env['company'].currency.code.lower(),
                    'PHONE': [{'VALUE': '8 912 345-67-89',
                            'VALUE_TYPE': 'WORK'}],
                    'EMAIL': [{'VALUE': 'Ivan@Example.COM',
                            'VALUE_TYPE': 'WORK'}],
                    'UTM_SOURCE': 'yandex',
                    'COMMENTS': "Call back after 5",
                    'UF_CRM_UNKNOWN': 'ignored as Bitrix24 does',
                    })
            self.assertIsInstance(lead_id, int)
            lead = Opportunity(lead_id)
            self.assertEqual(lead.crm_type, 'lead')
            self.assertEqual(lead.contact_name, "Ivan Ivanovich Petrov")
            self.assertEqual(lead.lead_status.code, 'IN_PROCESS')
            self.assertEqual(lead.source.code, 'WEB')
            self.assertEqual(lead.amount, Decimal('1500.50'))
            # phone normalised by the ORM create
            self.assertEqual(lead.contact_phone_e164, '+79123456789')
            self.assertEqual(lead.contact_email, 'ivan@example.com')
            self.assertEqual(lead.employee, env['alice'])

            record = call('crm.lead.get', id=lead_id)
            self.assertEqual(record['ID'], str(lead_id))
            self.assertEqual(record['TITLE'], "Price request")
            self.assertEqual(record['NAME'], "Ivan")
            self.assertEqual(record['SECOND_NAME'], "Ivanovich")
            self.assertEqual(record['LAST_NAME'], "Petrov")
            self.assertEqual(record['STATUS_ID'], 'IN_PROCESS')
            self.assertEqual(record['OPPORTUNITY'], '1500.50')
            self.assertEqual(
                record['CURRENCY_ID'], env['company'].currency.code)
            self.assertEqual(record['ASSIGNED_BY_ID'], str(env['user'].id))
            self.assertEqual(record['CREATED_BY_ID'], str(env['user'].id))
            self.assertEqual(record['EMAIL'][0]['VALUE'], 'ivan@example.com')
            self.assertEqual(record['PHONE'][0]['VALUE'], '8 912 345-67-89')
            self.assertEqual(record['COMMENTS'], "Call back after 5")
            # ISO 8601 with the company's offset
            self.assertTrue(record['DATE_CREATE'].endswith('+03:00'))
            datetime.datetime.fromisoformat(record['DATE_CREATE'])

            self.assertIs(call('crm.lead.update', id=lead_id, fields={
                        'LAST_NAME': "Sidorov",
                        'STATUS_ID': 'JUNK',
                        }), True)
            lead = Opportunity(lead_id)
            self.assertEqual(lead.contact_name, "Ivan Ivanovich Sidorov")
            # the status drives the workflow as in the client
            self.assertEqual(lead.state, 'lost')

            self.assertIs(call('crm.lead.delete', id=lead_id), True)
            self.assertFalse(Opportunity.search([('id', '=', lead_id)]))
            self.assertRestError(404, 'Not found', 'crm.lead.get',
                id=lead_id)

            # ASSIGNED_BY_ID is the id of the employee's user
            lead_id = call('crm.lead.add', fields={
                    'TITLE': "For Bob", 'ASSIGNED_BY_ID': env['other'].id})
            self.assertEqual(Opportunity(lead_id).employee, env['bob'])

    @with_transaction()
    def test_invalid_values_write_nothing(self):
        "A bad value is refused naming the field and nothing is written"
        Opportunity = Pool().get('sale.opportunity')
        with crm_user():
            before = Opportunity.search_count([])
            for field, value in [
                    ('STATUS_ID', 'NOPE'),
                    ('SOURCE_ID', 'NOPE'),
                    ('OPPORTUNITY', 'lots'),
                    ('CURRENCY_ID', 'XXX'),
                    ('CONTACT_ID', 999999),
                    ('ASSIGNED_BY_ID', 999999),
                    ('PHONE', [{'VALUE': '1', 'VALUE_TYPE': 'BAD'}]),
                    ]:
                self.assertRestError(400, field, 'crm.lead.add', fields={
                        'TITLE': "Bad", field: value})
            self.assertEqual(Opportunity.search_count([]), before)
            lead_id = call('crm.lead.add', fields={'TITLE': "Good"})
            self.assertRestError(400, 'STATUS_ID', 'crm.lead.update',
                id=lead_id, fields={'TITLE': "Changed", 'STATUS_ID': 'X'})
            self.assertEqual(Opportunity(lead_id).description, "Good")
            self.assertRestError(400, 'STAGE_ID', 'crm.deal.add', fields={
                    'TITLE': "Deal", 'STAGE_ID': 'NOPE'})
            self.assertRestError(400, 'id', 'crm.lead.get', id='abc')
            self.assertRestError(400, 'fields', 'crm.lead.add',
                fields='TITLE')

    @with_transaction()
    def test_not_visible_is_not_found(self):
        "A lead of another company answers 404"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        with crm_user():
            pass
        other_company = create_company(name="Other")
        with set_company(other_company):
            pool.get('crm.pipeline').create_standard(other_company)
            with Transaction().set_context(crm_type='lead'):
                lead, = Opportunity.create([{'description': "Secret"}])
        user, = pool.get('res.user').search([('login', '=', 'alice')])
        with as_user(user):
            self.assertRestError(404, 'Not found', 'crm.lead.get',
                id=lead.id)
            self.assertRestError(404, None, 'crm.lead.update',
                id=lead.id, fields={'TITLE': "Mine"})
            self.assertRestError(404, None, 'crm.lead.delete', id=lead.id)
            items, extra = call('crm.lead.list', filter={'ID': lead.id})
            self.assertEqual(items, [])
        self.assertEqual(lead.description, "Secret")

    @with_transaction()
    def test_lead_list_filter_select_order_paging(self):
        "Lists filter with every prefix, select fields, order and page"
        with crm_user():
            ids = []
            for i in range(55):
                ids.append(call('crm.lead.add', fields={
                            'TITLE': "Lead %02d" % i,
                            'OPPORTUNITY': i * 10,
                            'STATUS_ID': 'NEW' if i % 2 else 'IN_PROCESS',
                            'PHONE': [{'VALUE': '+7912000%04d' % i}],
                            }))
            items, extra = call('crm.lead.list')
            self.assertEqual(len(items), 50)
            self.assertEqual(extra, {'total': 55, 'next': 50})
            self.assertEqual([i['ID'] for i in items],
                [str(i) for i in ids[:50]])
            # '*' leaves out multi-fields
            self.assertIn('TITLE', items[0])
            self.assertNotIn('PHONE', items[0])
            items, extra = call('crm.lead.list', start=50)
            self.assertEqual(len(items), 5)
            self.assertEqual(extra, {'total': 55})

            def titles(**params):
                items, _ = call('crm.lead.list', select=['TITLE'], **params)
                return [i['TITLE'] for i in items]

            self.assertEqual(titles(filter={'>OPPORTUNITY': 520}),
                ["Lead 53", "Lead 54"])
            self.assertEqual(titles(filter={'>=OPPORTUNITY': 530}),
                ["Lead 53", "Lead 54"])
            self.assertEqual(titles(filter={'<OPPORTUNITY': 20}),
                ["Lead 00", "Lead 01"])
            self.assertEqual(titles(filter={'<=OPPORTUNITY': 10}),
                ["Lead 00", "Lead 01"])
            self.assertEqual(titles(filter={'=OPPORTUNITY': 10}),
                ["Lead 01"])
            self.assertEqual(titles(filter={'OPPORTUNITY': 10}),
                ["Lead 01"])
            self.assertEqual(len(titles(filter={'!STATUS_ID': 'NEW'})), 28)
            self.assertEqual(titles(filter={'%TITLE': 'ad 1'}),
                ["Lead %02d" % i for i in range(10, 20)])
            self.assertEqual(titles(filter={'ID': [ids[3], ids[4]]}),
                ["Lead 03", "Lead 04"])
            self.assertEqual(
                titles(filter={'STATUS_ID': ['NEW'], '<OPPORTUNITY': 40}),
                ["Lead 01", "Lead 03"])
            self.assertEqual(
                titles(filter={'PHONE': '8 912 000-00-07'}), ["Lead 07"])
            self.assertEqual(
                titles(filter={'<OPPORTUNITY': 30},
                    order={'OPPORTUNITY': 'DESC'}),
                ["Lead 02", "Lead 01", "Lead 00"])

            items, _ = call('crm.lead.list', filter={'ID': ids[0]},
                select=['TITLE', 'PHONE'])
            self.assertEqual(set(items[0]), {'ID', 'TITLE', 'PHONE'})
            self.assertEqual(items[0]['PHONE'][0]['VALUE'], '+79120000000')

            self.assertRestError(400, 'NOPE', 'crm.lead.list',
                filter={'>NOPE': 1})
            self.assertRestError(400, 'NOPE', 'crm.lead.list',
                order={'NOPE': 'ASC'})
            self.assertRestError(400, 'OPPORTUNITY', 'crm.lead.list',
                filter={'>OPPORTUNITY': 'x'})

            # dates filter with an offset
            later = (datetime.datetime.now(datetime.timezone.utc)
                + datetime.timedelta(hours=1)).isoformat()
            self.assertEqual(len(titles(filter={'>DATE_CREATE': later})), 0)
            self.assertEqual(
                call('crm.lead.list', filter={'<DATE_CREATE': later})[1][
                    'total'], 55)

    @with_transaction()
    def test_deal_stages_and_pipelines(self):
        "STAGE_ID and CATEGORY_ID map to stages and pipelines"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Pipeline = pool.get('crm.pipeline')
        with crm_user() as env:
            contact_id = call('crm.contact.add', fields={
                    'NAME': "Olga", 'LAST_NAME': "Smirnova"})
            company_id = call('crm.company.add', fields={'TITLE': "Vesna"})
            default = Pipeline.get_default()
            with Transaction().set_user(0):
                second = Pipeline.create_standard(
                    env['company'], name="Wholesale")
            deal_id = call('crm.deal.add', fields={
                    'TITLE': "Big order", 'CONTACT_ID': contact_id,
                    'COMPANY_ID': company_id, 'OPPORTUNITY': 1000,
                    'STAGE_ID': 'PREPARATION', 'PROBABILITY': 40,
                    'BEGINDATE': '2026-11-20T00:00:00+03:00'})
            deal = Opportunity(deal_id)
            self.assertEqual(deal.crm_type, 'deal')
            self.assertEqual(deal.pipeline, default)
            self.assertEqual(deal.stage.code, 'PREPARATION')
            self.assertEqual(deal.party.id, company_id)
            self.assertEqual(deal.contact_party.id, contact_id)
            self.assertEqual(deal.conversion_probability, 0.4)
            self.assertEqual(deal.start_date, datetime.date(2026, 11, 20))
            record = call('crm.deal.get', id=deal_id)
            self.assertEqual(record['STAGE_ID'], 'PREPARATION')
            self.assertEqual(record['CATEGORY_ID'], '0')
            self.assertEqual(record['COMPANY_ID'], str(company_id))
            self.assertEqual(record['CONTACT_ID'], str(contact_id))
            self.assertEqual(record['CLOSED'], 'N')
            self.assertEqual(record['PROBABILITY'], '40')
            self.assertEqual(record['BEGINDATE'], '2026-11-20T00:00:00+03:00')

            # a second pipeline uses the C<id>: prefix
            second_id = call('crm.deal.add', fields={
                    'TITLE': "Wholesale order", 'CONTACT_ID': contact_id,
                    'CATEGORY_ID': second.id})
            deal2 = Opportunity(second_id)
            self.assertEqual(deal2.pipeline, second)
            self.assertEqual(deal2.stage.code, 'NEW')
            self.assertEqual(deal2.party.id, contact_id)
            record = call('crm.deal.get', id=second_id)
            self.assertEqual(record['CATEGORY_ID'], str(second.id))
            self.assertEqual(record['STAGE_ID'], 'C%s:NEW' % second.id)
            self.assertIsNone(record['COMPANY_ID'])
            call('crm.deal.update', id=second_id, fields={
                    'STAGE_ID': 'C%s:WON' % second.id})
            deal2 = Opportunity(second_id)
            self.assertEqual(deal2.stage.kind, 'won')
            self.assertEqual(deal2.state, 'won')
            self.assertEqual(call('crm.deal.get', id=second_id)['CLOSED'],
                'Y')
            # a stage of the default pipeline does not belong to it
            self.assertRestError(400, 'STAGE_ID', 'crm.deal.update',
                id=second_id, fields={
                    'CATEGORY_ID': second.id, 'STAGE_ID': 'C0:NEW'})
            self.assertRestError(400, 'CATEGORY_ID', 'crm.deal.add',
                fields={'CONTACT_ID': contact_id, 'CATEGORY_ID': 99999})
            # losing through the API gives a reason
            call('crm.deal.update', id=deal_id, fields={'STAGE_ID': 'LOSE'})
            self.assertEqual(Opportunity(deal_id).state, 'lost')

            items, extra = call('crm.deal.list',
                filter={'CATEGORY_ID': second.id}, select=['ID'])
            self.assertEqual([i['ID'] for i in items], [str(second_id)])
            items, _ = call('crm.deal.list',
                filter={'STAGE_ID': 'C%s:WON' % second.id})
            self.assertEqual([i['ID'] for i in items], [str(second_id)])
            items, _ = call('crm.deal.list', filter={'CLOSED': 'Y'})
            self.assertEqual(len(items), 2)
            self.assertRestError(400, 'CONTACT_ID', 'crm.deal.add',
                fields={'TITLE': "Nobody"})

            # status and category lists
            stages = call('crm.status.list',
                filter={'ENTITY_ID': 'DEAL_STAGE_%s' % second.id})
            self.assertEqual(stages[0]['STATUS_ID'], 'C%s:NEW' % second.id)
            self.assertEqual(
                {s['SEMANTICS'] for s in stages}, {None, 'S', 'F'})
            default_stages = call('crm.status.list',
                filter={'ENTITY_ID': 'DEAL_STAGE'})
            self.assertEqual([s['STATUS_ID'] for s in default_stages], [
                    'NEW', 'PREPARATION', 'PREPAYMENT_INVOICE', 'EXECUTING',
                    'WON', 'LOSE'])
            statuses = call('crm.status.list', filter={'ENTITY_ID': 'STATUS'})
            self.assertIn('CONVERTED',
                [s['STATUS_ID'] for s in statuses if s['SEMANTICS'] == 'S'])
            sources = call('crm.status.list', filter={'ENTITY_ID': 'SOURCE'})
            self.assertIn('WEBFORM', [s['STATUS_ID'] for s in sources])
            categories = call('crm.category.list', entityTypeId=2)[
                'categories']
            self.assertEqual(
                [(c['id'], c['isDefault']) for c in categories],
                [(0, 'Y'), (second.id, 'N')])
            items, extra = call('crm.dealcategory.list')
            self.assertEqual([i['NAME'] for i in items], ["Wholesale"])
            stages = call('crm.dealcategory.stage.list', id=second.id)
            self.assertEqual(stages[-1]['STATUS_ID'], 'C%s:LOSE' % second.id)
            self.assertEqual(
                call('crm.dealcategory.stage.list', id=0)[0]['STATUS_ID'],
                'NEW')
