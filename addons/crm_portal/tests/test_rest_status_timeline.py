"""crm.status.* (lead statuses, sources, deal stages), timeline comments,
SOURCE_DESCRIPTION and the COMMENTS of contacts and companies"""
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from .rest_tools import RestTestCase, call, crm_user


def make_crm_admin(user):
    pool = Pool()
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')
    with Transaction().set_user(0):
        User.write([user], {'groups': [('add', [
                            ModelData.get_id('crm_portal',
                                'group_crm_admin')])]})


class RestStatusTimelineTestCase(RestTestCase):
    "Test crm.status.*, crm.timeline.comment.* and the text fields"

    @with_transaction()
    def test_status_add_get_update_delete(self):
        "Lead statuses, sources and deal stages are managed as Bitrix24 lists"
        pool = Pool()
        Status = pool.get('crm.lead.status')
        Stage = pool.get('crm.pipeline.stage')
        Pipeline = pool.get('crm.pipeline')
        with crm_user() as env:
            # A CRM user reads the lists but does not change them.
            error = self.assertRestError(400, None, 'crm.status.add',
                fields={'ENTITY_ID': 'STATUS', 'STATUS_ID': 'CALLBACK',
                    'NAME': "Call back"})
            self.assertEqual(error.code, 'ACCESS_DENIED')
            self.assertFalse(Status.search([('code', '=', 'CALLBACK')]))
            make_crm_admin(env['user'])

            status_id = call('crm.status.add', fields={
                    'ENTITY_ID': 'STATUS', 'STATUS_ID': 'CALLBACK',
                    'NAME': "Call back", 'SORT': 25, 'COLOR': '#ABCDEF'})
            item = call('crm.status.get', id=status_id)
            self.assertEqual(item['ID'], str(status_id))
            self.assertEqual(
                (item['ENTITY_ID'], item['STATUS_ID'], item['NAME'],
                    item['SORT'], item['SYSTEM'], item['COLOR'],
                    item['SEMANTICS']),
                ('STATUS', 'CALLBACK', "Call back", '25', 'N', '#ABCDEF',
                    None))
            self.assertEqual(item['EXTRA']['SEMANTICS'], 'process')
            codes = [i['STATUS_ID'] for i in call('crm.status.entity.items',
                    entityId='STATUS')]
            self.assertEqual(codes[:4],
                ['NEW', 'IN_PROCESS', 'CALLBACK', 'PROCESSED'])
            # a lead takes the new status
            lead_id = call('crm.lead.add', fields={
                    'TITLE': "Ring me", 'STATUS_ID': 'CALLBACK'})
            self.assertEqual(
                call('crm.lead.get', id=lead_id)['STATUS_ID'], 'CALLBACK')

            # invalid items are refused, naming the field; nothing is added
            count = Status.search_count([])
            for fields, field in [
                    ({'ENTITY_ID': 'STATUS', 'STATUS_ID': 'CALLBACK',
                            'NAME': "Again"}, 'STATUS_ID'),
                    ({'ENTITY_ID': 'STATUS', 'STATUS_ID': 'BAD CODE!',
                            'NAME': "Bad"}, 'STATUS_ID'),
                    ({'ENTITY_ID': 'STATUS', 'STATUS_ID': 'X' * 22,
                            'NAME': "Long"}, 'STATUS_ID'),
                    ({'ENTITY_ID': 'STATUS', 'STATUS_ID': 'NONAME'},
                        'NAME'),
                    ({'STATUS_ID': 'NOENTITY', 'NAME': "No"}, 'ENTITY_ID'),
                    ({'ENTITY_ID': 'QUOTE_STATUS', 'STATUS_ID': 'Q',
                            'NAME': "Quote"}, 'ENTITY_ID'),
                    ({'ENTITY_ID': 'DEAL_STAGE_99999', 'STATUS_ID': 'S',
                            'NAME': "Stage"}, 'ENTITY_ID'),
                    ({'ENTITY_ID': 'STATUS', 'STATUS_ID': 'SEM',
                            'NAME': "Sem", 'SEMANTICS': 'X'}, 'SEMANTICS'),
                    ({'ENTITY_ID': 'STATUS', 'STATUS_ID': 'COL',
                            'NAME': "Col", 'COLOR': 'red'}, 'COLOR'),
                    ({'ENTITY_ID': 'STATUS', 'STATUS_ID': 'SRT',
                            'NAME': "Srt", 'SORT': 'first'}, 'SORT'),
                    ]:
                with self.subTest(fields=fields):
                    self.assertRestError(400, field, 'crm.status.add',
                        fields=fields)
            self.assertEqual(Status.search_count([]), count)

            # a junk status from SEMANTICS; a source any lead can use
            junk_id = call('crm.status.add', fields={
                    'ENTITY_ID': 'STATUS', 'STATUS_ID': 'SPAM',
                    'NAME': "Spam", 'SEMANTICS': 'F'})
            self.assertEqual(Status(junk_id // 10).kind, 'junk')
            source_id = call('crm.status.add', fields={
                    'ENTITY_ID': 'SOURCE', 'STATUS_ID': 'Telegram bot',
                    'NAME': "Telegram"})
            self.assertEqual(len({status_id, junk_id, source_id}), 3)
            lead2_id = call('crm.lead.add', fields={
                    'TITLE': "From the bot", 'SOURCE_ID': 'Telegram bot'})
            self.assertEqual(call('crm.lead.get', id=lead2_id)['SOURCE_ID'],
                'Telegram bot')
            # a source put aside is still read by its ID
            Source = pool.get('crm.source')
            Source.write([Source(source_id // 10)], {'active': False})
            self.assertEqual(call('crm.status.get', id=source_id)['NAME'],
                "Telegram")

            # deal stages, in the default and in another pipeline
            stage_id = call('crm.status.add', fields={
                    'ENTITY_ID': 'DEAL_STAGE', 'STATUS_ID': 'DECISION',
                    'NAME': "Decision", 'SORT': 3})
            contact_id = call('crm.contact.add', fields={'NAME': "Oleg"})
            deal_id = call('crm.deal.add', fields={
                    'TITLE': "Deal", 'CONTACT_ID': contact_id,
                    'STAGE_ID': 'DECISION'})
            self.assertEqual(call('crm.deal.get', id=deal_id)['STAGE_ID'],
                'DECISION')
            with Transaction().set_user(0):
                second = Pipeline.create_standard(
                    env['company'], name="Wholesale")
            lost_id = call('crm.status.add', fields={
                    'ENTITY_ID': 'DEAL_STAGE_%s' % second.id,
                    'STATUS_ID': 'C%s:REFUSED' % second.id,
                    'NAME': "Refused", 'EXTRA': {'SEMANTICS': 'failure'}})
            stage = Stage(lost_id // 10)
            self.assertEqual(
                (stage.pipeline, stage.code, stage.kind, stage.probability),
                (second, 'REFUSED', 'lost', 0))
            item = call('crm.status.get', id=lost_id)
            self.assertEqual(
                (item['ENTITY_ID'], item['STATUS_ID'], item['CATEGORY_ID'],
                    item['SEMANTICS']),
                ('DEAL_STAGE_%s' % second.id, 'C%s:REFUSED' % second.id,
                    str(second.id), 'F'))
            # 22 characters less the C<id>: prefix
            self.assertRestError(400, 'STATUS_ID', 'crm.status.add', fields={
                    'ENTITY_ID': 'DEAL_STAGE_%s' % second.id,
                    'STATUS_ID': 'X' * 20, 'NAME': "Long"})

            # update: NAME, SORT, COLOR, SEMANTICS; codes stay
            self.assertIs(call('crm.status.update', id=stage_id, fields={
                        'NAME': "Decision making", 'SORT': 35,
                        'COLOR': '#00A9F4'}), True)
            item = call('crm.status.get', id=stage_id)
            self.assertEqual((item['NAME'], item['SORT'], item['COLOR']),
                ("Decision making", '35', '#00A9F4'))
            call('crm.status.update', id=status_id, fields={
                    'STATUS_ID': 'CALLBACK', 'SEMANTICS': 'S'})
            self.assertEqual(Status(status_id // 10).kind, 'converted')
            self.assertRestError(400, 'STATUS_ID', 'crm.status.update',
                id=status_id, fields={'STATUS_ID': 'OTHER'})
            self.assertRestError(400, 'NAME', 'crm.status.update',
                id=status_id, fields={'NAME': ''})
            self.assertRestError(404, None, 'crm.status.get', id=999999)

            # delete: not while used, system items only when forced
            error = self.assertRestError(400, "Call back",
                'crm.status.delete', id=status_id)
            self.assertEqual(error.code, 'ERROR_CORE')
            self.assertTrue(Status.search([('id', '=', status_id // 10)]))
            new, = [i for i in call('crm.status.list', filter={
                        'ENTITY_ID': 'STATUS', 'STATUS_ID': 'NEW'})]
            self.assertEqual(new['SYSTEM'], 'Y')
            self.assertRestError(400, 'FORCED', 'crm.status.delete',
                id=new['ID'])
            self.assertIs(call('crm.status.delete', id=junk_id), True)
            self.assertRestError(404, None, 'crm.status.get', id=junk_id)
            self.assertRestError(400, None, 'crm.status.delete',
                id=stage_id)
            self.assertIs(call('crm.status.delete', id=lost_id), True)
            self.assertFalse(Stage.search([('id', '=', lost_id // 10)]))

            fields = call('crm.status.fields')
            self.assertTrue(fields['STATUS_ID']['isImmutable'])
            self.assertTrue(fields['ID']['isReadOnly'])
            types = [t['ID'] for t in call('crm.status.entity.types')]
            self.assertEqual(types, ['STATUS', 'SOURCE', 'DEAL_STAGE',
                    'DEAL_STAGE_%s' % second.id])

    @with_transaction()
    def test_timeline_comments(self):
        "Comments of a record are listed page by page, read, changed, deleted"
        pool = Pool()
        Activity = pool.get('crm.activity')
        with crm_user() as env:
            lead_id = call('crm.lead.add', fields={'TITLE': "Lead"})
            contact_id = call('crm.contact.add', fields={'NAME': "Anna"})
            company_id = call('crm.company.add', fields={'TITLE': "Lipa"})
            deal_id = call('crm.deal.add', fields={
                    'TITLE': "Deal", 'CONTACT_ID': contact_id})

            def add(entity_type, entity_id, text):
                return call('crm.timeline.comment.add', fields={
                        'ENTITY_TYPE': entity_type, 'ENTITY_ID': entity_id,
                        'COMMENT': text})
            first = add('lead', lead_id, "Called\nno answer")
            add('LEAD', lead_id, "Called again")
            contact_comment = add('contact', contact_id, "Prefers e-mail")
            add('company', company_id, "Big client")
            for i in range(55):
                add('deal', deal_id, "Note %s" % i)
            # a call is an activity, not a comment
            call_id = call('crm.activity.add', fields={
                    'OWNER_TYPE_ID': 1, 'OWNER_ID': lead_id, 'TYPE_ID': 2,
                    'SUBJECT': "Call"})

            items, extra = call('crm.timeline.comment.list', filter={
                    'ENTITY_TYPE': 'lead', 'ENTITY_ID': lead_id})
            self.assertEqual([i['COMMENT'] for i in items],
                ["Called\nno answer", "Called again"])
            self.assertEqual(extra, {'total': 2})
            item = items[0]
            self.assertEqual(
                (item['ID'], item['ENTITY_TYPE'], item['ENTITY_ID'],
                    item['AUTHOR_ID']),
                (str(first), 'lead', str(lead_id), str(env['user'].id)))
            self.assertTrue(item['CREATED'].endswith('+03:00'))
            # the deal's comments are not the contact's, though the deal's
            # contact is her
            items, extra = call('crm.timeline.comment.list', filter={
                    'ENTITY_TYPE': 'contact', 'ENTITY_ID': contact_id},
                select=['ID', 'COMMENT'])
            self.assertEqual(items, [
                    {'ID': str(contact_comment),
                        'COMMENT': "Prefers e-mail"}])
            # pages of 50
            items, extra = call('crm.timeline.comment.list', filter={
                    'ENTITY_TYPE': 'deal', 'ENTITY_ID': deal_id},
                order={'ID': 'DESC'})
            self.assertEqual((len(items), extra), (50, {
                        'total': 55, 'next': 50}))
            self.assertEqual(items[0]['COMMENT'], "Note 54")
            items, extra = call('crm.timeline.comment.list', filter={
                    'ENTITY_TYPE': 'deal', 'ENTITY_ID': deal_id},
                order={'ID': 'DESC'}, start=50)
            self.assertEqual(([i['COMMENT'] for i in items], extra), (
                    ["Note %s" % i for i in range(4, -1, -1)],
                    {'total': 55}))
            # the filter must name the record
            self.assertRestError(400, 'ENTITY_TYPE',
                'crm.timeline.comment.list', filter={'ENTITY_ID': lead_id})
            self.assertRestError(400, 'ENTITY_ID',
                'crm.timeline.comment.list', filter={'ENTITY_TYPE': 'lead'})
            self.assertRestError(400, 'ENTITY_TYPE',
                'crm.timeline.comment.list', filter={
                    'ENTITY_TYPE': 'order', 'ENTITY_ID': lead_id})
            self.assertRestError(400, 'ENTITY_TYPE',
                'crm.timeline.comment.add', fields={
                    'ENTITY_TYPE': 'order', 'ENTITY_ID': lead_id,
                    'COMMENT': "x"})

            # get, update, delete
            self.assertEqual(
                call('crm.timeline.comment.get', id=first)['COMMENT'],
                "Called\nno answer")
            self.assertRestError(404, None, 'crm.timeline.comment.get',
                id=call_id)
            self.assertEqual(call('crm.timeline.comment.update', id=first,
                    fields={'COMMENT': "Answered\ncall back at 5"}), first)
            self.assertEqual(
                (Activity(first).description, Activity(first).subject),
                ("Answered\ncall back at 5", "Answered"))
            self.assertRestError(400, 'COMMENT',
                'crm.timeline.comment.update', id=first,
                fields={'COMMENT': '  '})
            self.assertEqual(Activity(first).subject, "Answered")
            self.assertRestError(404, None, 'crm.timeline.comment.delete',
                id=first, ownerTypeId=2, ownerId=lead_id)
            self.assertIs(call('crm.timeline.comment.delete', id=first,
                    ownerTypeId=1, ownerId=lead_id), True)
            self.assertRestError(404, None, 'crm.timeline.comment.get',
                id=first)
            self.assertTrue(Activity.search([('id', '=', call_id)]))
            fields = call('crm.timeline.comment.fields')
            self.assertTrue(fields['ENTITY_TYPE']['isRequired'])
            self.assertTrue(fields['CREATED']['isReadOnly'])

    @with_transaction()
    def test_source_description_and_comments(self):
        "SOURCE_DESCRIPTION of leads and deals, COMMENTS of parties"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Party = pool.get('party.party')
        with crm_user():
            lead_id = call('crm.lead.add', fields={
                    'TITLE': "Lead", 'SOURCE_ID': 'ADVERTISING',
                    'SOURCE_DESCRIPTION': "Billboard on Lenina street"})
            self.assertEqual(Opportunity(lead_id).source_description,
                "Billboard on Lenina street")
            self.assertEqual(
                call('crm.lead.get', id=lead_id)['SOURCE_DESCRIPTION'],
                "Billboard on Lenina street")
            items, _ = call('crm.lead.list',
                filter={'%SOURCE_DESCRIPTION': 'lenina'},
                select=['ID', 'SOURCE_DESCRIPTION'])
            self.assertEqual([i['ID'] for i in items], [str(lead_id)])
            call('crm.lead.update', id=lead_id,
                fields={'SOURCE_DESCRIPTION': ''})
            self.assertIsNone(Opportunity(lead_id).source_description)

            contact_id = call('crm.contact.add', fields={
                    'NAME': "Pavel", 'COMMENTS': "Met at the fair"})
            company_id = call('crm.company.add', fields={
                    'TITLE': "Klen", 'COMMENTS': "Pays late"})
            self.assertEqual(Party(contact_id).comment, "Met at the fair")
            self.assertEqual(
                call('crm.company.get', id=company_id)['COMMENTS'],
                "Pays late")
            call('crm.contact.update', id=contact_id,
                fields={'COMMENTS': "Met at the fair\nCall on Fridays"})
            self.assertEqual(
                call('crm.contact.get', id=contact_id)['COMMENTS'],
                "Met at the fair\nCall on Fridays")
            items, _ = call('crm.company.list',
                filter={'%COMMENTS': 'late'}, select=['ID'])
            self.assertEqual(items, [{'ID': str(company_id)}])
            self.assertIn('COMMENTS', call('crm.contact.fields'))

            deal_id = call('crm.deal.add', fields={
                    'TITLE': "Deal", 'CONTACT_ID': contact_id,
                    'SOURCE_DESCRIPTION': "Recommended by Pavel"})
            self.assertEqual(
                call('crm.deal.get', id=deal_id)['SOURCE_DESCRIPTION'],
                "Recommended by Pavel")
            self.assertEqual(
                call('crm.deal.fields')['SOURCE_DESCRIPTION']['type'],
                'string')
