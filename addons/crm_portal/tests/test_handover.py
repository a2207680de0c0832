import unittest

from trytond.model.exceptions import ValidationError
from trytond.modules.company.tests import (
    create_company, create_employee, set_company)
from trytond.pool import Pool
from trytond.tests.test_tryton import (
    activate_module, drop_db, with_transaction)
from trytond.transaction import Transaction


class HandoverTestCase(unittest.TestCase):
    "Test the audit log and the hand-over wizard"

    @classmethod
    def setUpClass(cls):
        # never on a database left by another class: Tryton would cache it
        drop_db()
        activate_module('crm_portal')

    def create_work(self, company, employee):
        "Open and closed leads, deals and activities, a contact, a company"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Status = pool.get('crm.lead.status')
        Pipeline = pool.get('crm.pipeline')
        Party = pool.get('party.party')
        Activity = pool.get('crm.activity')
        pipeline = Pipeline.get_default(company.id, create=True)
        lead_open, lead_junk, deal_open, deal_won = Opportunity.create([{
                    'crm_type': 'lead', 'company': company.id,
                    'employee': employee.id, 'description': "Open lead",
                    }, {
                    'crm_type': 'lead', 'company': company.id,
                    'employee': employee.id, 'description': "Junk lead",
                    'lead_status': Status.get_first('junk').id,
                    }, {
                    'crm_type': 'deal', 'company': company.id,
                    'party': company.party.id,
                    'employee': employee.id, 'description': "Open deal",
                    }, {
                    'crm_type': 'deal', 'company': company.id,
                    'party': company.party.id, 'lost_reason': None,
                    'employee': employee.id, 'description': "Won deal",
                    'stage': pipeline.first_stage('won').id,
                    }])
        contact, organisation = Party.create([{
                    'name': "Ann", 'crm_kind': 'person',
                    'crm_responsible': employee.id,
                    }, {
                    'name': "Acme", 'crm_kind': 'organisation',
                    'crm_responsible': employee.id,
                    }])
        todo, done = Activity.create([{
                    'company': company.id, 'subject': "Call back",
                    'responsible': employee.id,
                    }, {
                    'company': company.id, 'subject': "Called",
                    'responsible': employee.id, 'done': True,
                    }])
        return {
            'open': [lead_open, deal_open, contact, organisation, todo],
            'closed': [lead_junk, deal_won, done],
            }

    @with_transaction()
    def test_handover_wizard(self):
        "The wizard counts, then moves every open record of A to B"
        pool = Pool()
        Handover = pool.get('crm.handover', type='wizard')
        Entry = pool.get('crm.audit.entry')
        company = create_company()
        with set_company(company):
            leaving = create_employee(company, "Leaving")
            taking = create_employee(company, "Taking")
            work = self.create_work(company, leaving)

            session_id, _, _ = Handover.create()
            handover = Handover(session_id)
            handover.start.company = company
            handover.start.from_employee = leaving
            handover.start.to_employee = taking
            counts = handover.default_confirm(None)
            self.assertEqual(
                {k: v for k, v in counts.items()
                    if k not in {'from_employee', 'to_employee'}},
                {'leads': 1, 'deals': 1, 'activities': 1,
                    'contacts': 1, 'companies': 1})
            handover.transition_handover()

            for record in work['open']:
                record = record.__class__(record.id)
                field = {'sale.opportunity': 'employee',
                    'party.party': 'crm_responsible',
                    'crm.activity': 'responsible'}[record.__name__]
                self.assertEqual(getattr(record, field), taking)
            for record in work['closed']:
                record = record.__class__(record.id)
                field = {'sale.opportunity': 'employee',
                    'crm.activity': 'responsible'}[record.__name__]
                self.assertEqual(getattr(record, field), leaving)
            # Each move is in the record's history.
            entry, = Entry.search([('resource', '=', str(work['open'][1]))])
            self.assertEqual(entry.field, 'employee')
            self.assertEqual(entry.old_value, leaving.rec_name)
            self.assertEqual(entry.new_value, taking.rec_name)

    @with_transaction()
    def test_handover_same_employee(self):
        "Handing over to oneself is refused"
        from trytond.modules.crm_portal.handover import hand_over
        company = create_company()
        with set_company(company):
            employee = create_employee(company)
            with self.assertRaises(ValidationError):
                hand_over(employee, employee)

    @with_transaction()
    def test_audit_log(self):
        "Changes are logged with user, field, old and new value"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Party = pool.get('party.party')
        company = create_company()
        with set_company(company):
            employee = create_employee(company, "Bob")
            deal, = Opportunity.create([{
                        'crm_type': 'deal', 'company': company.id,
                        'party': company.party.id,
                        'description': "Windows"}])
            Opportunity.write([deal], {
                    'description': "Doors", 'employee': employee.id,
                    'comment': "not tracked"})
            history = Opportunity(deal.id).history
            self.assertEqual(
                {(e.field, e.old_value, e.new_value) for e in history},
                {('description', "Windows", "Doors"),
                    ('employee', '', "Bob")})
            self.assertTrue(all(
                    e.user.id == Transaction().user for e in history))
            labels = {e.field: e.field_label for e in history}
            self.assertEqual(labels['description'], "Title")

            # Writing the same value logs nothing.
            Opportunity.write([deal], {'description': "Doors"})
            self.assertEqual(len(Opportunity(deal.id).history), 2)

            party, = Party.create([{'name': "Ann"}])
            Party.write([party], {'name': "Anna"})
            entry, = Party(party.id).history
            self.assertEqual(
                (entry.old_value, entry.new_value), ("Ann", "Anna"))
