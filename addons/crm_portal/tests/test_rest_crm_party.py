"""Bitrix24-compatible REST methods of contacts, companies, activities,
duplicates and products, called as a CRM user"""
import datetime
import re
from decimal import Decimal

from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from .rest_tools import RestTestCase, call, crm_user


class RestCrmPartyTestCase(RestTestCase):
    "Test the contact, activity, duplicate and product REST methods"

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
