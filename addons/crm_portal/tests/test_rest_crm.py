"Bitrix24-compatible CRM REST methods called as a CRM user"
import datetime
import re
import unittest
from contextlib import contextmanager
from decimal import Decimal

from trytond.modules.company.tests import (
    create_company, create_employee, set_company)
from trytond.pool import Pool
from trytond.tests.test_tryton import (
    activate_module, drop_db, with_transaction)
from trytond.transaction import Transaction


class _RestTestCase(unittest.TestCase):
    "Build the database once for the class"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        drop_db()
        activate_module('crm_portal')

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        drop_db()


def _user(company, employee, login):
    pool = Pool()
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')
    group = ModelData.get_id('crm_portal', 'group_crm')
    user, = User.create([{
                'name': login, 'login': login,
                'groups': [('add', [group])],
                'companies': [('add', [company.id])],
                'company': company.id,
                'employees': [('add', [employee.id])],
                'employee': employee.id,
                }])
    return user


@contextmanager
def as_user(user):
    User = Pool().get('res.user')
    with Transaction().set_user(user.id):
        context = User.get_preferences(context_only=True)
        with Transaction().set_context(context):
            yield


@contextmanager
def crm_user():
    "A company with a pipeline and a CRM user working in it"
    pool = Pool()
    Country = pool.get('country.country')
    Configuration = pool.get('crm.configuration')
    Pipeline = pool.get('crm.pipeline')
    russia, = Country.create([{'name': "Russia", 'code': 'RU'}])
    company = create_company()
    company.timezone = 'Europe/Moscow'
    company.save()
    with set_company(company):
        configuration = Configuration(1)
        configuration.phone_region = russia
        configuration.save()
        Pipeline.create_standard(company)
        alice = create_employee(company, "Alice")
        bob = create_employee(company, "Bob")
        user = _user(company, alice, 'alice')
        other = _user(company, bob, 'bob')
    with as_user(user):
        yield {'company': company, 'user': user, 'other': other,
            'alice': alice, 'bob': bob}


def call(name, **params):
    Rest = Pool().get('crm.rest')
    result, extra = Rest.call(name, params)
    if extra:
        return result, extra
    return result


class RestCrmTestCase(_RestTestCase):
    "Test the CRM REST methods"

    def assertRestError(self, status, field, name, **params):
        "The call fails with status naming field"
        from trytond.modules.crm_portal.rest import RestError
        with self.assertRaises(RestError) as cm:
            call(name, **params)
        self.assertEqual(cm.exception.status, status)
        if field:
            self.assertIn(field, cm.exception.description)
        return cm.exception

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

    @with_transaction()
    def test_contact_multi_fields(self):
        "PHONE and EMAIL values are added, changed and removed by ID"
        Party = Pool().get('party.party')
        with crm_user() as env:
            company_id = call('crm.company.add', fields={
                    'TITLE': "Romashka",
                    'PHONE': [{'VALUE': '+7 495 123-45-67',
                            'VALUE_TYPE': 'WORK'}]})
            contact_id = call('crm.contact.add', fields={
                    'NAME': "Ivan", 'LAST_NAME': "Petrov",
                    'POST': "Director", 'COMPANY_ID': company_id,
                    'SOURCE_ID': 'CALL',
                    'PHONE': [
                        {'VALUE': '+7 912 345-67-89', 'VALUE_TYPE': 'MOBILE'},
                        {'VALUE': '+7 495 765-43-21', 'VALUE_TYPE': 'HOME'},
                        ],
                    'EMAIL': [{'VALUE': 'ivan@example.com'}],
                    'IM': [{'VALUE': 'ivan_tg', 'VALUE_TYPE': 'TELEGRAM'}],
                    })
            contact = Party(contact_id)
            self.assertEqual(contact.name, "Ivan Petrov")
            self.assertEqual(contact.crm_kind, 'person')
            self.assertEqual(contact.employer.id, company_id)
            self.assertEqual(contact.job_title, "Director")
            self.assertEqual(contact.crm_responsible, env['alice'])
            self.assertEqual(
                sorted(m.type for m in contact.contact_mechanisms),
                ['email', 'mobile', 'other', 'phone'])

            record = call('crm.contact.get', id=contact_id)
            self.assertEqual(record['NAME'], "Ivan")
            self.assertEqual(record['LAST_NAME'], "Petrov")
            self.assertEqual(record['COMPANY_ID'], str(company_id))
            self.assertEqual(record['SOURCE_ID'], 'CALL')
            phones = {p['VALUE_TYPE']: p for p in record['PHONE']}
            self.assertEqual(set(phones), {'MOBILE', 'HOME'})
            self.assertEqual(record['IM'][0]['VALUE_TYPE'], 'TELEGRAM')
            email = record['EMAIL'][0]

            call('crm.contact.update', id=contact_id, fields={
                    'PHONE': [
                        {'ID': phones['MOBILE']['ID'],
                            'VALUE': '+7 912 000-00-01'},
                        {'ID': phones['HOME']['ID'], 'DELETE': 'Y'},
                        {'VALUE': '+7 912 000-00-02', 'VALUE_TYPE': 'WORK'},
                        ],
                    'EMAIL': [{'ID': email['ID'], 'VALUE': ''}],
                    })
            record = call('crm.contact.get', id=contact_id)
            self.assertEqual(
                sorted((p['VALUE_TYPE'], re.sub(r'[^+\d]', '', p['VALUE']))
                    for p in record['PHONE']),
                [('MOBILE', '+79120000001'), ('WORK', '+79120000002')])
            self.assertNotIn('EMAIL', record)
            # an ID of another record is refused
            company = call('crm.company.get', id=company_id)
            self.assertRestError(400, 'PHONE', 'crm.contact.update',
                id=contact_id, fields={'PHONE': [
                        {'ID': company['PHONE'][0]['ID'], 'VALUE': '1'}]})

            # select '*' leaves multi-fields out, PHONE asks for them
            items, _ = call('crm.contact.list', filter={'ID': contact_id})
            self.assertNotIn('PHONE', items[0])
            items, _ = call('crm.contact.list',
                filter={'PHONE': '+79120000002'}, select=['*', 'PHONE'])
            self.assertEqual([i['ID'] for i in items], [str(contact_id)])
            self.assertIn('PHONE', items[0])
            items, _ = call('crm.contact.list',
                filter={'%LAST_NAME': 'petr'})
            self.assertEqual([i['ID'] for i in items], [str(contact_id)])
            # contacts and companies are apart
            items, _ = call('crm.company.list', filter={'ID': contact_id})
            self.assertEqual(items, [])
            self.assertRestError(404, None, 'crm.company.get', id=contact_id)
            self.assertRestError(400, 'TITLE', 'crm.company.add',
                fields={'COMPANY_TYPE': 'CUSTOMER'})

            call('crm.company.update', id=company_id,
                fields={'TITLE': "Romashka LLC"})
            self.assertEqual(call('crm.company.get', id=company_id)['TITLE'],
                "Romashka LLC")
            self.assertIs(call('crm.contact.delete', id=contact_id), True)
            self.assertFalse(Party.search([('id', '=', contact_id)]))

    @with_transaction()
    def test_activities_and_timeline(self):
        "Activities and comments land on the timeline of leads and deals"
        Activity = Pool().get('crm.activity')
        with crm_user() as env:
            lead_id = call('crm.lead.add', fields={'TITLE': "Lead"})
            contact_id = call('crm.contact.add', fields={'NAME': "Ann"})
            deal_id = call('crm.deal.add', fields={
                    'TITLE': "Deal", 'CONTACT_ID': contact_id})
            call_id = call('crm.activity.add', fields={
                    'OWNER_TYPE_ID': 1, 'OWNER_ID': lead_id,
                    'TYPE_ID': 2, 'SUBJECT': "Call back",
                    'DIRECTION': 2, 'COMPLETED': 'N',
                    'START_TIME': '2026-11-25T10:00:00+03:00',
                    'END_TIME': '2026-11-25T10:15:00+03:00',
                    'RESPONSIBLE_ID': env['user'].id,
                    'COMMUNICATIONS': [{'VALUE': '+79120000000'}],
                    })
            activity = Activity(call_id)
            self.assertEqual(activity.type, 'call')
            self.assertEqual(activity.direction, 'outgoing')
            self.assertEqual(activity.opportunity.id, lead_id)
            self.assertEqual(activity.responsible, env['alice'])
            self.assertEqual(activity.deadline,
                datetime.datetime(2026, 11, 25, 7, 0))
            meeting_id = call('crm.activity.add', fields={
                    'OWNER_TYPE_ID': 2, 'OWNER_ID': deal_id,
                    'TYPE_ID': 1, 'SUBJECT': "Meet"})
            self.assertEqual(Activity(meeting_id).party.id, contact_id)

            record = call('crm.activity.get', id=call_id)
            self.assertEqual(record['OWNER_TYPE_ID'], '1')
            self.assertEqual(record['OWNER_ID'], str(lead_id))
            self.assertEqual(record['TYPE_ID'], '2')
            self.assertEqual(record['DIRECTION'], '2')
            self.assertEqual(record['COMPLETED'], 'N')
            self.assertEqual(record['START_TIME'],
                '2026-11-25T10:00:00+03:00')
            self.assertEqual(record['RESPONSIBLE_ID'], str(env['user'].id))

            call('crm.activity.update', id=call_id,
                fields={'COMPLETED': 'Y'})
            self.assertTrue(Activity(call_id).done)
            items, _ = call('crm.activity.list', filter={
                    'OWNER_TYPE_ID': 2, 'OWNER_ID': deal_id})
            self.assertEqual([i['ID'] for i in items], [str(meeting_id)])
            items, _ = call('crm.activity.list', filter={'COMPLETED': 'Y'})
            self.assertEqual([i['ID'] for i in items], [str(call_id)])
            self.assertRestError(400, 'OWNER_ID', 'crm.activity.add',
                fields={'OWNER_TYPE_ID': 1, 'OWNER_ID': deal_id,
                    'TYPE_ID': 2, 'SUBJECT': "Wrong owner"})
            self.assertRestError(400, 'TYPE_ID', 'crm.activity.add',
                fields={'OWNER_TYPE_ID': 1, 'OWNER_ID': lead_id,
                    'TYPE_ID': 42, 'SUBJECT': "Bad type"})
            self.assertIs(call('crm.activity.delete', id=meeting_id), True)

            comment_id = call('crm.timeline.comment.add', fields={
                    'ENTITY_ID': deal_id, 'ENTITY_TYPE': 'deal',
                    'COMMENT': "Client agreed\nSend the contract"})
            comment = Activity(comment_id)
            self.assertEqual(comment.type, 'note')
            self.assertEqual(comment.opportunity.id, deal_id)
            self.assertEqual(comment.subject, "Client agreed")
            self.assertEqual(comment.description,
                "Client agreed\nSend the contract")
            self.assertRestError(400, 'ENTITY_TYPE',
                'crm.timeline.comment.add', fields={
                    'ENTITY_ID': deal_id, 'ENTITY_TYPE': 'order',
                    'COMMENT': "x"})

    @with_transaction()
    def test_duplicates_products_fields(self):
        "findbycomm, the product catalogue and the field descriptions"
        pool = Pool()
        Template = pool.get('product.template')
        Uom = pool.get('product.uom')
        Category = pool.get('product.category')
        with crm_user():
            lead_id = call('crm.lead.add', fields={
                    'TITLE': "Lead", 'PHONE': [{'VALUE': '+79121112233'}]})
            contact_id = call('crm.contact.add', fields={
                    'NAME': "Ann", 'PHONE': [{'VALUE': '8 912 111-22-33'}],
                    'EMAIL': [{'VALUE': 'ann@example.com'}]})
            self.assertEqual(call('crm.duplicate.findbycomm', type='PHONE',
                    values=['+7 (912) 111-22-33']),
                {'LEAD': [lead_id], 'CONTACT': [contact_id]})
            self.assertEqual(call('crm.duplicate.findbycomm', type='EMAIL',
                    entity_type='CONTACT', values=['ANN@example.com']),
                {'CONTACT': [contact_id]})
            self.assertEqual(call('crm.duplicate.findbycomm', type='EMAIL',
                    values=['nobody@example.com']), [])
            self.assertRestError(400, 'type', 'crm.duplicate.findbycomm',
                type='FAX', values=['1'])

            with Transaction().set_user(0):
                unit, = Uom.search([('symbol', '=', 'u')])
                category, = Category.create([{'name': "Tea"}])
                template, other = Template.create([{
                            'name': "Green tea", 'default_uom': unit.id,
                            'salable': True, 'sale_uom': unit.id,
                            'list_price': Decimal('12.50'),
                            'categories': [('add', [category.id])],
                            'products': [('create', [{
                                            'suffix_code': 'GT1',
                                            'description': "Loose leaf"}])],
                            }, {
                            'name': "Internal", 'default_uom': unit.id,
                            'list_price': Decimal('1'),
                            'products': [('create', [{}])],
                            }])
            product, = template.products
            items, extra = call('crm.product.list')
            self.assertEqual(extra['total'], 1)
            item, = items
            self.assertEqual(item['ID'], str(product.id))
            self.assertEqual(item['NAME'], "Green tea")
            self.assertEqual(item['PRICE'], '12.50')
            self.assertEqual(item['SECTION_ID'], str(category.id))
            self.assertEqual(item['XML_ID'], product.code)
            self.assertEqual(item['ACTIVE'], 'Y')
            self.assertEqual(item['DESCRIPTION'], "Loose leaf")
            self.assertEqual(call('crm.product.get', id=product.id)['NAME'],
                "Green tea")
            self.assertRestError(404, None, 'crm.product.get',
                id=other.products[0].id)

            fields = call('crm.lead.fields')
            self.assertEqual(fields['TITLE']['type'], 'string')
            self.assertTrue(fields['ID']['isReadOnly'])
            self.assertTrue(fields['PHONE']['isMultiple'])
            self.assertIn('NEW',
                [i['ID'] for i in fields['STATUS_ID']['items']])
            fields = call('crm.deal.fields')
            self.assertIn('STAGE_ID', fields)
            self.assertTrue(call('crm.company.fields')['TITLE']['isRequired'])
            self.assertIn('POST', call('crm.contact.fields'))
            self.assertIn('OWNER_TYPE_ID', call('crm.activity.fields'))

    @with_transaction()
    def test_methods_registered(self):
        "The CRM methods are in the registry with their scope and params"
        Rest = Pool().get('crm.rest')
        methods = Rest.methods()
        for name in ['crm.lead.add', 'crm.deal.list', 'crm.contact.update',
                'crm.company.delete', 'crm.activity.get', 'crm.status.list',
                'crm.category.list', 'crm.dealcategory.stage.list',
                'crm.timeline.comment.add', 'crm.duplicate.findbycomm',
                'crm.product.list', 'crm.product.get']:
            self.assertEqual(methods[name].scope, 'crm', name)
        self.assertTrue(methods['crm.lead.list'].paged)
        self.assertIn('filter', methods['crm.lead.list'].params)
        self.assertFalse(methods['crm.lead.get'].paged)
