"Duplicate control: find, warn, show and merge look-alike records"

from trytond.exceptions import UserError
from trytond.modules.company.tests import create_employee
from trytond.modules.crm_portal.tests.test_intake import _contact
from trytond.modules.crm_portal.tests.tools import CrmTestCase, crm_company
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction


def _lead(**values):
    Opportunity = Pool().get('sale.opportunity')
    values.setdefault('description', "Lead")
    with Transaction().set_context(crm_type='lead'):
        lead, = Opportunity.create([values])
    return lead


def _run_wizard(name, records, state='start'):
    "Start wizard name on records; return (wizard, its first view values)"
    Wizard = Pool().get(name, type='wizard')
    session_id, _, _ = Wizard.create()
    with Transaction().set_context(
            active_model=records[0].__name__,
            active_id=records[0].id,
            active_ids=[r.id for r in records]):
        wizard = Wizard(session_id)
        values = getattr(wizard, 'default_%s' % state)(None)
    return wizard, values


class DuplicateTestCase(CrmTestCase):
    "Test duplicate control"

    @with_transaction()
    def test_find(self):
        "Leads, contacts and companies are found by phone, e-mail and name"
        pool = Pool()
        Duplicate = pool.get('crm.duplicate')

        with crm_company():
            contact = _contact(
                "Ivan Petrov", phone='+79123456789',
                email='ivan@example.com')
            company = _contact("Romashka", crm_kind='organisation')
            lead = _lead(
                contact_name="Maria", contact_phone='8 903 111-22-33',
                contact_email='Maria@Example.com',
                contact_company_name="Lutik")
            junk = _lead(contact_name="Maria")
            junk.lead_status = pool.get('crm.lead.status').get_first('junk')
            junk.save()

            self.assertEqual(
                Duplicate.find(phone='8 (912) 345-67-89'), [contact])
            self.assertEqual(
                Duplicate.find(email='IVAN@example.COM'), [contact])
            self.assertEqual(Duplicate.find(name="ivan petrov"), [contact])
            self.assertEqual(Duplicate.find(name="ROMASHKA"), [company])
            self.assertEqual(Duplicate.find(phone='+7 903 111 22 33'), [lead])
            self.assertEqual(
                Duplicate.find(email='maria@example.com'), [lead])
            self.assertEqual(Duplicate.find(name="maria"), [lead])
            self.assertEqual(Duplicate.find(name="lutik"), [lead])
            self.assertEqual(
                Duplicate.find(phone='89123456789', name="Maria"),
                [lead, contact])
            self.assertEqual(
                Duplicate.find(phone='89123456789', exclude=[contact]), [])
            self.assertEqual(
                Duplicate.find(
                    name="Maria", exclude=[str(lead)]), [])
            self.assertEqual(Duplicate.find(name="Mari"), [])
            self.assertEqual(Duplicate.find(name="Mari%"), [])
            self.assertEqual(Duplicate.find(), [])

    @with_transaction()
    def test_match_parties(self):
        "The phone match gives the owners of a number, oldest first"
        pool = Pool()
        Duplicate = pool.get('crm.duplicate')
        Party = pool.get('party.party')

        with crm_company():
            first = _contact("First", phone='+79123456789')
            second = _contact("Second", phone='+79123456789',
                email='second@example.com')
            gone = _contact("Gone", phone='+79123456789')
            Party.write([gone], {'active': False})
            # beyond psycopg's 5 runs the statement is prepared: the
            # answer must not change with the plan
            for _ in range(12):
                self.assertEqual(
                    Duplicate.match_parties(['+79123456789']),
                    [first.id, second.id])
            self.assertEqual(
                Duplicate.match_parties(
                    ['second@example.com', '+79123456789']),
                [second.id, first.id])
            self.assertEqual(Duplicate.match_parties(['+79000000000']), [])
            self.assertEqual(Duplicate.match_parties([None, '']), [])

    @with_transaction()
    def test_find_non_ascii_name(self):
        "Cyrillic names match whatever their case"
        Duplicate = Pool().get('crm.duplicate')

        with crm_company():
            contact = _contact("Иван Петров")
            self.assertEqual(Duplicate.find(name="иван петров"), [contact])
            self.assertEqual(Duplicate.find(name="ИВАН ПЕТРОВ"), [contact])

    @with_transaction()
    def test_notify_on_lead(self):
        "Typing a known phone on a lead warns about the duplicates"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')

        with crm_company() as company:
            contact = _contact("Ivan Petrov", phone='+79123456789')
            other = _lead(contact_name="Ivan", contact_email='i@example.com')

            lead = Opportunity(crm_type='lead', company=company)
            self.assertEqual(lead.on_change_notify(), [])
            lead.contact_phone = '8 912 345 67 89'
            (kind, message), = lead.on_change_notify()
            self.assertEqual(kind, 'warning')
            self.assertIn("Ivan Petrov", message)

            lead.contact_phone = None
            lead.contact_email = 'I@EXAMPLE.COM'
            (kind, message), = lead.on_change_notify()
            self.assertIn(other.rec_name, message)

            # a lead is not its own duplicate, nor its linked contact
            other.contact_party = contact
            other.contact_phone = '+79123456789'
            other.save()
            self.assertEqual(other.on_change_notify(), [])

            # deals are not checked
            deal = Opportunity(
                crm_type='deal', company=company,
                contact_phone='+79123456789')
            self.assertEqual(deal.on_change_notify(), [])

    @with_transaction()
    def test_notify_on_party(self):
        "Typing the name of a known company warns about it"
        Party = Pool().get('party.party')

        with crm_company():
            company = _contact("Romashka", crm_kind='organisation')
            party = Party(name="romashka", crm_kind='organisation')
            (kind, message), = party.on_change_notify()
            self.assertEqual(kind, 'warning')
            self.assertIn("Romashka", message)
            self.assertEqual(company.on_change_notify(), [])

    @with_transaction()
    def test_show_duplicates(self):
        "The Duplicates wizard lists the matches of a lead and of a party"
        with crm_company():
            contact = _contact("Ivan Petrov", phone='+79123456789')
            lead = _lead(contact_name="Ivan Petrov")
            other = _lead(contact_phone='89123456789')

            _, values = _run_wizard('crm.duplicate.show', [lead])
            self.assertEqual(values['leads'], [])
            self.assertEqual(values['parties'], [contact.id])

            _, values = _run_wizard('crm.duplicate.show', [contact])
            self.assertEqual(
                sorted(values['leads']), sorted([lead.id, other.id]))
            self.assertEqual(values['parties'], [])

    @with_transaction()
    def test_merge_leads(self):
        "Merging leads keeps one, fills it, moves activities, junks others"
        pool = Pool()
        Intake = pool.get('crm.intake')
        Opportunity = pool.get('sale.opportunity')
        Activity = pool.get('crm.activity')
        Submission = pool.get('crm.intake.submission')

        with crm_company() as company:
            employee = create_employee(company, "Anna")
            first = Opportunity(Intake.submit('WEBFORM', {
                        'name': "Ivan", 'message': "first"})['opportunity'])
            second = Opportunity(Intake.submit('CALL', {
                        'name': "Ivan P.", 'phone': '+79123456789',
                        'responsible': employee.id,
                        'utm_source': 'google'})['opportunity'])
            third = Opportunity(Intake.submit('EMAIL', {
                        'email': 'ivan@example.com'})['opportunity'])
            self.assertEqual(len({first, second, third}), 3)

            wizard, values = _run_wizard(
                'crm.lead.merge', [first, second, third])
            self.assertEqual(
                sorted(values['leads']), sorted([first.id, second.id,
                        third.id]))
            self.assertEqual(values['target'], first.id)
            wizard.start.leads = [first, second, third]
            wizard.start.target = first
            self.assertEqual(wizard.transition_merge(), 'end')

            first = Opportunity(first.id)
            self.assertEqual(first.lead_status.kind, 'open')
            self.assertEqual(first.contact_name, "Ivan")
            self.assertEqual(first.contact_phone_e164, '+79123456789')
            self.assertEqual(first.contact_email, 'ivan@example.com')
            self.assertEqual(first.employee, employee)
            self.assertEqual(first.utm_source, 'google')
            types = sorted(a.type for a in first.activities)
            self.assertEqual(types, ['call', 'email', 'form', 'note'])
            self.assertEqual(
                {s.opportunity for s in Submission.search([])}, {first})
            for lead in [second, third]:
                lead = Opportunity(lead.id)
                self.assertEqual(lead.lead_status.kind, 'junk')
                self.assertEqual(lead.state, 'lost')
                self.assertIn(first.rec_name, lead.comment)
                self.assertEqual(
                    Activity.search([('opportunity', '=', lead.id)]), [])

            # the kept lead is found again by the next call
            result = Intake.submit('CALL', {'phone': '89123456789'})
            self.assertEqual(result['opportunity'], first.id)

    @with_transaction()
    def test_merge_refused(self):
        "Only two leads or more of one company can be merged"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')

        with crm_company():
            lead = _lead(contact_name="A")
            with self.assertRaises(UserError):
                _run_wizard('crm.lead.merge', [lead])
            with Transaction().set_context(crm_type='deal'):
                deal, = Opportunity.create([{
                            'description': "Deal",
                            'party': _contact("B").id,
                            }])
            with self.assertRaises(UserError):
                _run_wizard('crm.lead.merge', [lead, deal])
            with self.assertRaises(UserError):
                Opportunity.merge_leads(lead, [lead])

    @with_transaction()
    def test_party_replace(self):
        "Replacing a duplicate contact moves its timeline and inquiries"
        pool = Pool()
        Intake = pool.get('crm.intake')
        Activity = pool.get('crm.activity')
        Opportunity = pool.get('sale.opportunity')
        Submission = pool.get('crm.intake.submission')
        Replace = pool.get('party.replace', type='wizard')

        with crm_company():
            employer = _contact("Romashka", crm_kind='organisation')
            source = _contact(
                "Ivan", phone='+79123456789', employer=employer.id)
            destination = _contact("Ivan", email='ivan@example.com')
            result = Intake.submit('CALL', {'phone': '89123456789'})
            self.assertEqual(result['party'], source.id)
            lead = Opportunity(result['opportunity'])
            self.assertEqual(lead.contact_party, source)

            session_id, _, _ = Replace.create()
            replace = Replace(session_id)
            replace.ask.source = source
            replace.ask.destination = destination
            replace.transition_replace()

            # (the wizard updates in SQL: search, not cached records)
            activity = Activity(result['activity'])
            self.assertEqual(
                Activity.search([('party', '=', destination.id)]),
                [activity])
            self.assertEqual(
                Opportunity.search([('contact_party', '=', destination.id)]),
                [lead])
            self.assertEqual(
                len(Submission.search([('party', '=', destination.id)])), 1)
            self.assertEqual(
                Activity.search([('party', '=', source.id)]), [])

del CrmTestCase
