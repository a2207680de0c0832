"Intake: every channel's inquiry becomes the right lead, deal and activity"
import unittest

from trytond import backend
from trytond.exceptions import UserError
from trytond.modules.company.tests import (
    create_company, create_employee)
from trytond.modules.crm_portal.tests.tools import CrmTestCase, crm_company
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction


def _team(company, *names):
    TeamMember = Pool().get('crm.intake.team.member')
    employees = [create_employee(company, name) for name in names]
    TeamMember.create([{
                'company': company.id,
                'employee': e.id,
                'sequence': i,
                } for i, e in enumerate(employees)])
    return employees


def _contact(name, **values):
    Party = Pool().get('party.party')
    mechanisms = []
    if 'phone' in values:
        mechanisms.append({'type': 'phone', 'value': values.pop('phone')})
    if 'email' in values:
        mechanisms.append({'type': 'email', 'value': values.pop('email')})
    party, = Party.create([dict(
                name=name,
                crm_kind=values.pop('crm_kind', 'person'),
                contact_mechanisms=[('create', mechanisms)],
                **values)])
    return party


def _count(model, domain=None):
    Model = Pool().get(model)
    with Transaction().set_context(active_test=False):
        return Model.search_count(domain or [])


class IntakeTestCase(CrmTestCase):
    "Test the intake service"

    @with_transaction()
    def test_unknown_client_creates_lead(self):
        "An unknown client's web form creates a lead, an activity and a log"
        pool = Pool()
        Intake = pool.get('crm.intake')
        Opportunity = pool.get('sale.opportunity')
        Activity = pool.get('crm.activity')
        Submission = pool.get('crm.intake.submission')

        with crm_company() as company:
            parties = _count('party.party')
            result = Intake.submit('WEBFORM', {
                    'name': "Ivan",
                    'last_name': "Petrov",
                    'company_name': "Romashka",
                    'phone': '+7 912 345-67-89',
                    'email': 'Ivan@Example.COM',
                    'title': "Price request",
                    'message': "Please send the price list.",
                    'utm_source': 'yandex',
                    'utm_campaign': 'spring',
                    'page': '/contacts',
                    })

            self.assertTrue(result['created'])
            self.assertFalse(result['duplicate_submission'])
            self.assertIsNone(result['party'])
            lead = Opportunity(result['opportunity'])
            self.assertEqual(lead.crm_type, 'lead')
            self.assertEqual(lead.lead_status.kind, 'open')
            self.assertEqual(lead.company, company)
            self.assertEqual(lead.source.code, 'WEBFORM')
            self.assertEqual(lead.description, "Price request")
            self.assertEqual(lead.contact_name, "Ivan Petrov")
            self.assertEqual(lead.contact_company_name, "Romashka")
            self.assertEqual(lead.contact_phone_e164, '+79123456789')
            self.assertEqual(lead.contact_email, 'ivan@example.com')
            self.assertEqual(lead.utm_source, 'yandex')
            self.assertEqual(lead.utm_campaign, 'spring')
            self.assertEqual(lead.comment, "Please send the price list.")
            self.assertFalse(lead.phone_invalid)
            # an unknown client in lead mode gets no party yet
            self.assertEqual(_count('party.party'), parties)

            activity = Activity(result['activity'])
            self.assertEqual(activity.type, 'form')
            self.assertEqual(activity.direction, 'incoming')
            self.assertEqual(activity.subject, "Price request")
            self.assertEqual(
                activity.description,
                "Please send the price list.\n\npage: /contacts")
            self.assertEqual(activity.opportunity, lead)
            self.assertEqual(list(lead.activities), [activity])

            submission, = Submission.search([])
            self.assertEqual(submission.channel, 'WEBFORM')
            self.assertEqual(submission.opportunity, lead)
            self.assertEqual(submission.activity, activity)
            self.assertEqual(submission.outcome, 'created')
            self.assertEqual(submission.payload['page'], '/contacts')
            self.assertEqual(submission.party, None)

    @with_transaction()
    def test_default_subject_and_types(self):
        "Without a title the subject names the channel; types follow it"
        pool = Pool()
        Intake = pool.get('crm.intake')
        Activity = pool.get('crm.activity')
        Opportunity = pool.get('sale.opportunity')

        with crm_company():
            for channel, type_ in [
                    ('CALL', 'call'), ('EMAIL', 'email'), ('CHAT', 'chat'),
                    ('1C', 'note')]:
                result = Intake.submit(channel, {
                        'name': "Client %s" % channel})
                activity = Activity(result['activity'])
                lead = Opportunity(result['opportunity'])
                self.assertEqual(activity.type, type_)
                self.assertEqual(
                    activity.subject, "Inquiry via %s" % lead.source.name)
                self.assertEqual(lead.description,
                    "%s: Client %s" % (lead.source.name, channel))

    @with_transaction()
    def test_round_robin(self):
        "New inquiries go in turn to the members of the intake team"
        pool = Pool()
        Intake = pool.get('crm.intake')
        Opportunity = pool.get('sale.opportunity')
        TeamMember = pool.get('crm.intake.team.member')

        with crm_company() as company:
            anna, boris = _team(company, "Anna", "Boris")
            responsibles = []
            for i in range(4):
                result = Intake.submit('WEBFORM', {
                        'name': "Client %s" % i,
                        'phone': '+7 912 000-00-0%s' % i,
                        })
                responsibles.append(
                    Opportunity(result['opportunity']).employee)
            self.assertEqual(responsibles, [anna, boris, anna, boris])

            # an inactive member gets nothing
            member, = TeamMember.search([('employee', '=', boris.id)])
            member.active = False
            member.save()
            result = Intake.submit('WEBFORM', {'name': "Client 9"})
            self.assertEqual(
                Opportunity(result['opportunity']).employee, anna)
            result = Intake.submit('WEBFORM', {'name': "Client 10"})
            self.assertEqual(
                Opportunity(result['opportunity']).employee, anna)

    @with_transaction()
    def test_explicit_and_client_responsible(self):
        "The responsible given or the client's one wins over the team"
        pool = Pool()
        Intake = pool.get('crm.intake')
        Opportunity = pool.get('sale.opportunity')
        TeamMember = pool.get('crm.intake.team.member')

        with crm_company() as company:
            anna, = _team(company, "Anna")
            carl = create_employee(company, "Carl")
            dora = create_employee(company, "Dora")
            _contact("Known", phone='+79123456789', crm_responsible=dora.id)

            result = Intake.submit('CALL', {
                    'phone': '89123456789', 'responsible': carl.id})
            self.assertEqual(
                Opportunity(result['opportunity']).employee, carl)

            result = Intake.submit('EMAIL', {
                    'phone': '+7 912 345 67 89', 'title': "Other",
                    'external_id': 'mail-1'})
            # attached to the open lead of the known contact
            self.assertEqual(
                Opportunity(result['opportunity']).employee, carl)

            result = Intake.submit('CHAT', {
                    'name': "Someone", 'email': 'someone@example.com',
                    'responsible': str(dora.id)})
            self.assertEqual(
                Opportunity(result['opportunity']).employee, dora)
            # the team was never needed
            member, = TeamMember.search([('employee', '=', anna.id)])
            self.assertIsNone(member.last_assigned)

            other = create_company("Other")
            stranger = create_employee(other, "Stranger")
            # a client followed in another company gets one of ours
            _contact("Shared", email='shared@example.com',
                crm_responsible=stranger.id)
            result = Intake.submit('EMAIL', {'email': 'shared@example.com'})
            self.assertEqual(
                Opportunity(result['opportunity']).employee, anna)

            with self.assertRaises(UserError):
                Intake.submit('CALL', {
                        'name': "X", 'responsible': stranger.id})
            with self.assertRaises(UserError):
                Intake.submit('CALL', {'name': "X", 'responsible': 'abc'})

    @with_transaction()
    def test_known_contact_by_phone(self):
        "A national number finds the contact saved in E.164"
        pool = Pool()
        Intake = pool.get('crm.intake')
        Opportunity = pool.get('sale.opportunity')
        Activity = pool.get('crm.activity')

        with crm_company():
            employer = _contact("Romashka LLC", crm_kind='organisation')
            contact = _contact(
                "Ivan Petrov", phone='+79123456789', employer=employer.id)
            parties = _count('party.party')

            result = Intake.submit('CALL', {
                    'phone': '8 (912) 345-67-89',
                    'external_id': 'call-1',
                    })
            self.assertEqual(result['party'], contact.id)
            self.assertTrue(result['created'])
            self.assertEqual(_count('party.party'), parties)
            lead = Opportunity(result['opportunity'])
            self.assertEqual(lead.crm_type, 'lead')
            self.assertEqual(lead.contact_party, contact)
            self.assertEqual(lead.party, employer)
            activity = Activity(result['activity'])
            self.assertEqual(activity.type, 'call')
            self.assertEqual(activity.party, contact)
            self.assertIn(activity, contact.timeline)

            # the next call is added to the open lead
            result = Intake.submit('CALL', {
                    'phone': '+7 (912) 345 67 89',
                    'external_id': 'call-2',
                    })
            self.assertFalse(result['created'])
            self.assertEqual(result['opportunity'], lead.id)
            self.assertEqual(len(lead.activities), 2)
            self.assertEqual(
                _count('sale.opportunity', [('crm_type', '=', 'lead')]), 1)

            # also by e-mail in another case, and for an unknown number
            # already on an open lead
            result = Intake.submit('WEBFORM', {
                    'name': "Stranger", 'phone': '+7 903 111-22-33'})
            first = result['opportunity']
            result = Intake.submit('CHAT', {
                    'name': "Stranger", 'phone': '8 903 111 22 33',
                    'message': "Hello again"})
            self.assertEqual(result['opportunity'], first)
            self.assertFalse(result['created'])
            self.assertIsNone(result['party'])

    @with_transaction()
    def test_known_client_with_open_deal(self):
        "An inquiry of a client with a deal in progress goes to the deal"
        pool = Pool()
        Intake = pool.get('crm.intake')
        Opportunity = pool.get('sale.opportunity')

        with crm_company():
            contact = _contact("Olga", email='olga@example.com')
            with Transaction().set_context(crm_type='deal'):
                deal, = Opportunity.create([{
                            'description': "Big deal",
                            'party': contact.id,
                            }])
            result = Intake.submit('EMAIL', {
                    'email': 'OLGA@example.com',
                    'title': "Re: offer",
                    'message': "We agree.",
                    })
            self.assertEqual(result['opportunity'], deal.id)
            self.assertFalse(result['created'])
            self.assertEqual(result['party'], contact.id)
            self.assertEqual(
                _count('sale.opportunity', [('crm_type', '=', 'lead')]), 0)
            activity, = deal.activities
            self.assertEqual(activity.type, 'email')
            self.assertEqual(activity.subject, "Re: offer")

    @with_transaction()
    def test_repeated_submission(self):
        "The same inquiry sent twice is handled once"
        pool = Pool()
        Intake = pool.get('crm.intake')
        Submission = pool.get('crm.intake.submission')

        with crm_company():
            data = {
                'name': "Ivan", 'phone': '+79123456789',
                'message': "Call me",
                }
            first = Intake.submit('WEBFORM', data)
            leads = _count('sale.opportunity')
            activities = _count('crm.activity')

            again = Intake.submit('WEBFORM', dict(data, phone='89123456789'))
            self.assertTrue(again['duplicate_submission'])
            self.assertFalse(again['created'])
            self.assertEqual(again['opportunity'], first['opportunity'])
            self.assertEqual(again['activity'], first['activity'])
            self.assertEqual(_count('sale.opportunity'), leads)
            self.assertEqual(_count('crm.activity'), activities)
            self.assertEqual(len(Submission.search([])), 1)

            # another message is another inquiry (added to the lead)
            other = Intake.submit('WEBFORM', dict(data, message="Again"))
            self.assertFalse(other['duplicate_submission'])
            self.assertEqual(other['opportunity'], first['opportunity'])
            self.assertEqual(_count('crm.activity'), activities + 1)

    @with_transaction()
    def test_external_id(self):
        "The channel's identifier makes the inquiry unique"
        pool = Pool()
        Intake = pool.get('crm.intake')

        with crm_company():
            first = Intake.submit('1C', {
                    'name': "Order", 'external_id': 'ORDER-1',
                    'message': "first version"})
            again = Intake.submit('1C', {
                    'name': "Order", 'external_id': 'ORDER-1',
                    'message': "changed"})
            self.assertTrue(again['duplicate_submission'])
            self.assertEqual(again['opportunity'], first['opportunity'])
            self.assertEqual(again['activity'], first['activity'])

            # same identifier from another channel is not the same
            other = Intake.submit('EMAIL', {
                    'name': "Somebody else", 'external_id': 'ORDER-1'})
            self.assertFalse(other['duplicate_submission'])
            self.assertNotEqual(other['activity'], first['activity'])

    @with_transaction()
    def test_simple_mode(self):
        "In simple mode an inquiry becomes a deal with a contact"
        pool = Pool()
        Intake = pool.get('crm.intake')
        Opportunity = pool.get('sale.opportunity')
        Pipeline = pool.get('crm.pipeline')
        Menu = pool.get('ir.ui.menu')
        ModelData = pool.get('ir.model.data')

        menu = Menu(ModelData.get_id('crm_portal', 'menu_lead'))
        self.assertTrue(menu.active)
        with crm_company(simple_mode=True) as company:
            self.assertFalse(Menu(menu.id).active)
            pipeline = Pipeline.get_default(company.id, create=True)

            result = Intake.submit('WEBFORM', {
                    'name': "Ivan Petrov",
                    'company_name': "Romashka",
                    'phone': '8 912 345 67 89',
                    'email': 'ivan@example.com',
                    })
            deal = Opportunity(result['opportunity'])
            self.assertEqual(deal.crm_type, 'deal')
            self.assertEqual(deal.pipeline, pipeline)
            self.assertEqual(deal.stage, pipeline.first_stage())
            self.assertEqual(deal.state, 'opportunity')
            self.assertEqual(deal.source.code, 'WEBFORM')
            contact = deal.contact_party
            self.assertEqual(result['party'], contact.id)
            self.assertEqual(contact.name, "Ivan Petrov")
            self.assertEqual(contact.crm_kind, 'person')
            self.assertEqual(
                sorted(m.value_compact for m in contact.contact_mechanisms),
                ['+79123456789', 'ivan@example.com'])
            self.assertEqual(deal.party, contact.employer)
            self.assertEqual(deal.party.name, "Romashka")
            self.assertEqual(deal.party.crm_kind, 'organisation')
            self.assertEqual(
                _count('sale.opportunity', [('crm_type', '=', 'lead')]), 0)

            # the same client later: added to the deal in progress
            result = Intake.submit('CALL', {'phone': '+79123456789'})
            self.assertEqual(result['opportunity'], deal.id)
            self.assertEqual(result['party'], contact.id)

            # a client without phone nor company still gets a contact
            result = Intake.submit('CHAT', {'name': "Anonymous"})
            deal = Opportunity(result['opportunity'])
            self.assertEqual(deal.party.name, "Anonymous")
            self.assertEqual(deal.party, deal.contact_party)

            configuration = pool.get('crm.configuration')(1)
            configuration.simple_mode = False
            configuration.save()
            self.assertTrue(Menu(menu.id).active)
            result = Intake.submit('CHAT', {'name': "Lead again"})
            self.assertEqual(
                Opportunity(result['opportunity']).crm_type, 'lead')

    @with_transaction()
    def test_unknown_clients_ignored(self):
        "Without creation for unknown clients only the log remains"
        pool = Pool()
        Intake = pool.get('crm.intake')
        Submission = pool.get('crm.intake.submission')
        Opportunity = pool.get('sale.opportunity')

        with crm_company(intake_create_unknown=False):
            result = Intake.submit('WEBFORM', {
                    'name': "Nobody", 'email': 'nobody@example.com'})
            self.assertEqual(result, {
                    'opportunity': None, 'party': None, 'activity': None,
                    'created': False, 'duplicate_submission': False})
            self.assertEqual(_count('sale.opportunity'), 0)
            self.assertEqual(_count('crm.activity'), 0)
            submission, = Submission.search([])
            self.assertEqual(submission.outcome, 'ignored')

            # a known client still gets a lead and an activity
            contact = _contact("Known", email='known@example.com')
            result = Intake.submit('WEBFORM', {
                    'email': 'known@example.com'})
            self.assertTrue(result['created'])
            self.assertEqual(
                Opportunity(result['opportunity']).contact_party, contact)
            self.assertTrue(result['activity'])

    @with_transaction()
    def test_unreadable_phone(self):
        "An unreadable phone is kept as written and flagged"
        pool = Pool()
        Intake = pool.get('crm.intake')
        Opportunity = pool.get('sale.opportunity')

        with crm_company():
            result = Intake.submit('WEBFORM', {'phone': 'call me 12'})
            lead = Opportunity(result['opportunity'])
            self.assertEqual(lead.contact_phone, 'call me 12')
            self.assertIsNone(lead.contact_phone_e164)
            self.assertTrue(lead.phone_invalid)
            self.assertIn('call me 12', lead.description)

    @with_transaction()
    def test_bad_input(self):
        "An inquiry that says nothing about the client is refused"
        pool = Pool()
        Intake = pool.get('crm.intake')

        with crm_company():
            for data in [{}, None, {'name': '  ', 'message': "Hi"}]:
                with self.assertRaises(UserError) as cm:
                    Intake.submit('WEBFORM', data)
                self.assertIn("name, company, phone or e-mail",
                    str(cm.exception))
            with self.assertRaises(UserError):
                Intake.submit('', {'name': "X"})
            with self.assertRaises(UserError):
                Intake.submit('WEBFORM', ['X'])
            self.assertEqual(_count('crm.intake.submission'), 0)

    @with_transaction()
    def test_company_name_only(self):
        "A company name is enough to know who asks"
        pool = Pool()
        Intake = pool.get('crm.intake')
        Opportunity = pool.get('sale.opportunity')

        with crm_company():
            result = Intake.submit('WEBFORM', {
                    'company_name': "Romashka", 'message': "Call us"})
            lead = Opportunity(result['opportunity'])
            self.assertEqual(lead.contact_company_name, "Romashka")
            self.assertEqual(lead.comment, "Call us")

    @with_transaction()
    def test_no_company(self):
        "Intake needs a company"
        Intake = Pool().get('crm.intake')
        with Transaction().set_context(company=None):
            with self.assertRaises(UserError):
                Intake.submit('WEBFORM', {'name': "X"})


class IntakeConcurrencyTestCase(CrmTestCase):
    "Test intake against a concurrent worker (PostgreSQL)"

    @classmethod
    def setUpClass(cls):
        if backend.name != 'postgresql':
            raise unittest.SkipTest(
                "needs transactions that see each other's commits")
        super().setUpClass()

    @with_transaction()
    def test_concurrent_duplicate_submission(self):
        "An inquiry received meanwhile by another worker is not redone"
        pool = Pool()
        Intake = pool.get('crm.intake')
        Opportunity = pool.get('sale.opportunity')
        transaction = Transaction()
        data = {'name': "Ivan", 'external_id': 'call-42'}

        with crm_company() as company:
            transaction.commit()
            # fix this transaction's snapshot before the other one commits
            self.assertFalse(Opportunity.search([]))
            with transaction.new_transaction() as other:
                with other.set_context(
                        company=company.id, companies=[company.id]):
                    first = Intake.submit('CALL', data)
                other.commit()

            again = Intake.submit('CALL', data)
            self.assertTrue(again['duplicate_submission'])
            self.assertEqual(again['opportunity'], first['opportunity'])
            self.assertEqual(again['activity'], first['activity'])
            # the transaction is still usable
            self.assertFalse(Opportunity.search([]))


del CrmTestCase
