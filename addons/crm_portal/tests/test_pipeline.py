"Deal stages, pipelines and lead conversion as a CRM user sees them"
from decimal import Decimal

from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError, ValidationError
from trytond.modules.company.tests import (
    create_company, create_employee, set_company)
from trytond.modules.crm_portal.tests.tools import CrmTestCase, make_service
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction


def _today():
    return Pool().get('ir.date').today()


def _create_deal(**values):
    Opportunity = Pool().get('sale.opportunity')
    values.setdefault('description', "Deal")
    if 'party' not in values:
        values['party'] = _create_party("Client", kind='organisation').id
    with Transaction().set_context(crm_type='deal'):
        deal, = Opportunity.create([values])
    return deal


def _create_lead(**values):
    Opportunity = Pool().get('sale.opportunity')
    values.setdefault('description', "Lead")
    with Transaction().set_context(crm_type='lead'):
        lead, = Opportunity.create([values])
    return lead


def _stage(pipeline, code):
    stage, = [s for s in pipeline.stages if s.code == code]
    return stage


def _create_party(name, kind='person', **values):
    Party = Pool().get('party.party')
    party, = Party.create([dict(
                name=name, crm_kind=kind,
                addresses=[('create', [{}])], **values)])
    return party


class PipelineTestCase(CrmTestCase):
    "Deals follow the stages of their pipeline"

    @with_transaction()
    def test_new_company_gets_standard_pipeline(self):
        "The first deal of a company creates the standard pipeline"
        Pipeline = Pool().get('crm.pipeline')
        company = create_company()
        with set_company(company):
            self.assertFalse(Pipeline.search([]))

            deal = _create_deal()

            pipeline, = Pipeline.search([])
            self.assertEqual(deal.pipeline, pipeline)
            self.assertTrue(pipeline.is_default)
            self.assertEqual(
                [s.code for s in pipeline.stages],
                ['NEW', 'PREPARATION', 'PREPAYMENT_INVOICE', 'EXECUTING',
                    'WON', 'LOSE'])
            self.assertEqual(deal.stage.code, 'NEW')
            self.assertEqual(deal.state, 'opportunity')
            self.assertEqual(deal.conversion_probability, 0.1)

            other = _create_deal()
            self.assertEqual(other.pipeline, pipeline)
            self.assertEqual(Pipeline.search([], count=True), 1)

    @with_transaction()
    def test_won_stage(self):
        "Moving a deal to a won stage wins it"
        Opportunity = Pool().get('sale.opportunity')
        company = create_company()
        with set_company(company):
            deal = _create_deal()
            self.assertIsNone(deal.end_date)

            Opportunity.write([deal], {
                    'stage': _stage(deal.pipeline, 'WON').id})

            self.assertEqual(deal.state, 'won')
            self.assertEqual(deal.stage_kind, 'won')
            self.assertEqual(deal.end_date, _today())

    @with_transaction()
    def test_lost_stage_requires_reason(self):
        "A deal moved to a lost stage needs the reason"
        Opportunity = Pool().get('sale.opportunity')
        company = create_company()
        with set_company(company):
            deal = _create_deal()
            lost = _stage(deal.pipeline, 'LOSE')

            with self.assertRaisesRegex(ValidationError, 'Reason for loss'):
                Opportunity.write([deal], {'stage': lost.id})

            Opportunity.write([deal], {
                    'stage': lost.id,
                    'lost_reason': "Too expensive",
                    })
            self.assertEqual(deal.state, 'lost')
            self.assertEqual(deal.end_date, _today())

    @with_transaction()
    def test_back_to_in_progress(self):
        "A deal moved back to an in-progress stage is open again"
        Opportunity = Pool().get('sale.opportunity')
        company = create_company()
        with set_company(company):
            deal = _create_deal()
            Opportunity.write([deal], {
                    'stage': _stage(deal.pipeline, 'WON').id})
            self.assertEqual(deal.state, 'won')

            Opportunity.write([deal], {
                    'stage': _stage(deal.pipeline, 'EXECUTING').id})

            self.assertEqual(deal.state, 'opportunity')
            self.assertIsNone(deal.end_date)

            Opportunity.write([deal], {
                    'stage': _stage(deal.pipeline, 'LOSE').id,
                    'lost_reason': "No budget",
                    })
            self.assertEqual(deal.state, 'lost')
            Opportunity.write([deal], {
                    'stage': _stage(deal.pipeline, 'NEW').id})
            self.assertEqual(deal.state, 'opportunity')

    @with_transaction()
    def test_delete_stage(self):
        "A stage holding deals cannot be deleted, an empty one can"
        Stage = Pool().get('crm.pipeline.stage')
        company = create_company()
        with set_company(company):
            deal = _create_deal()
            stage = deal.stage
            empty = _stage(deal.pipeline, 'PREPARATION')

            with self.assertRaises(AccessError) as cm:
                Stage.delete([stage])
            self.assertIn(stage.name, cm.exception.message)
            self.assertIn("1 deal", cm.exception.message)
            self.assertEqual(Stage.search([('id', '=', stage.id)]), [stage])

            Stage.delete([empty])
            self.assertFalse(Stage.search([('id', '=', empty.id)]))

    @with_transaction()
    def test_one_default_pipeline(self):
        "A company has one default pipeline"
        Pipeline = Pool().get('crm.pipeline')
        company = create_company()
        with set_company(company):
            pipeline = Pipeline.create_standard(company.id)
            self.assertTrue(pipeline.is_default)

            second = Pipeline.create_standard(company.id, name="Projects")
            self.assertFalse(second.is_default)
            self.assertEqual(Pipeline.get_default(company.id), pipeline)

            with self.assertRaisesRegex(ValidationError, 'default'):
                Pipeline.write([second], {'is_default': True})

            # A second company has its own default
            other = create_company(name="Other")
            third = Pipeline.create_standard(other.id)
            self.assertTrue(third.is_default)

    @with_transaction()
    def test_confirmed_quote_wins_deal(self):
        "Confirming the sale of a deal's quote moves it to the won stage"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Sale = pool.get('sale.sale')
        company = create_company()
        with set_company(company):
            product, unit = make_service()
            client = _create_party("Client", kind='organisation')
            deal = _create_deal(party=client.id, lines=[('create', [{
                                'product': product.id,
                                'quantity': 2,
                                'unit': unit.id,
                                }])])

            Opportunity.create_quote([deal])
            sale, = deal.sales
            self.assertEqual(sale.state, 'quotation')
            self.assertEqual(deal.state, 'converted')
            self.assertEqual(deal.stage_kind, 'in_progress')
            self.assertEqual(deal.quoted_amount, Decimal('100.00'))

            Sale.confirm([sale])

            deal = Opportunity(deal.id)
            self.assertEqual(deal.state, 'won')
            self.assertEqual(deal.stage, _stage(deal.pipeline, 'WON'))
            self.assertEqual(deal.end_date, _today())
            self.assertEqual(deal.ordered_amount, Decimal('100.00'))

    @with_transaction()
    def test_junk_lead_is_lost(self):
        "A lead marked as junk is lost, reopened it is a lead again"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Status = pool.get('crm.lead.status')
        company = create_company()
        with set_company(company):
            lead = _create_lead()
            self.assertEqual(lead.state, 'lead')
            self.assertEqual(lead.lead_status.code, 'NEW')

            junk, = Status.search([('code', '=', 'JUNK')])
            Opportunity.write([lead], {'lead_status': junk.id})
            self.assertEqual(lead.state, 'lost')

            new, = Status.search([('code', '=', 'NEW')])
            Opportunity.write([lead], {'lead_status': new.id})
            self.assertEqual(lead.state, 'lead')


class LeadConversionTestCase(CrmTestCase):
    "A lead becomes a contact, a company and a deal"

    def _run_wizard(self, lead, **values):
        "Open the conversion wizard on lead, change values and convert"
        Wizard = Pool().get('crm.lead.convert', type='wizard')
        with Transaction().set_context(
                active_model='sale.opportunity', active_id=lead.id,
                active_ids=[lead.id]):
            session_id, _, _ = Wizard.create()
            try:
                result = Wizard.execute(session_id, {}, 'start')
                defaults = result['view']['defaults']
                data = {k: v for k, v in defaults.items() if '.' not in k}
                data.update(values)
                result = Wizard.execute(
                    session_id, {'start': data}, 'convert')
            finally:
                Wizard.delete(session_id)
        (action, action_data), = result['actions']
        return defaults, action, action_data

    def _start_defaults(self, lead):
        Wizard = Pool().get('crm.lead.convert', type='wizard')
        with Transaction().set_context(
                active_model='sale.opportunity', active_id=lead.id,
                active_ids=[lead.id]):
            session_id, _, _ = Wizard.create()
            try:
                result = Wizard.execute(session_id, {}, 'start')
            finally:
                Wizard.delete(session_id)
        return result['view']['defaults']

    @with_transaction()
    def test_convert_new_contact_and_company(self):
        "Converting an unknown client creates contact, company and deal"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Activity = pool.get('crm.activity')
        Source = pool.get('crm.source')
        Pipeline = pool.get('crm.pipeline')
        company = create_company()
        with set_company(company):
            employee = create_employee(company)
            source, = Source.search([('code', '=', 'WEBFORM')])
            lead = _create_lead(
                description="Website order",
                contact_name="Ivan Petrov",
                contact_company_name="Romashka LLC",
                contact_phone="+7 912 345-67-89",
                contact_email="Ivan@Romashka.Example",
                amount=Decimal('1500'),
                employee=employee.id,
                source=source.id,
                utm_source="google", utm_medium="cpc", utm_campaign="spring",
                comment="Call after 5 pm")
            activity, = Activity.create([{
                        'type': 'call',
                        'subject': "First call",
                        'opportunity': lead.id,
                        }])

            defaults, action, data = self._run_wizard(lead)

            pipeline = Pipeline.get_default(company.id)
            self.assertEqual(defaults['pipeline'], pipeline.id)
            self.assertEqual(defaults['stage'], _stage(pipeline, 'NEW').id)
            self.assertTrue(defaults['create_contact'])
            self.assertTrue(defaults['create_company'])
            self.assertEqual(defaults['contact_name'], "Ivan Petrov")
            self.assertEqual(defaults['company_name'], "Romashka LLC")
            self.assertEqual(defaults['title'], "Website order")

            deal_id, = data['res_id']
            deal = Opportunity(deal_id)
            self.assertEqual(action['res_model'], 'sale.opportunity')
            self.assertEqual(deal.crm_type, 'deal')
            self.assertEqual(deal.state, 'opportunity')
            self.assertEqual(deal.pipeline, pipeline)
            self.assertEqual(deal.stage.code, 'NEW')
            self.assertEqual(deal.description, "Website order")
            self.assertEqual(deal.amount, Decimal('1500'))
            self.assertEqual(deal.currency, lead.currency)
            self.assertEqual(deal.employee, employee)
            self.assertEqual(deal.source, source)
            self.assertEqual(
                (deal.utm_source, deal.utm_medium, deal.utm_campaign),
                ("google", "cpc", "spring"))
            self.assertEqual(deal.comment, "Call after 5 pm")
            self.assertEqual(deal.origin_lead, lead)

            client, contact = deal.party, deal.contact_party
            self.assertEqual(client.name, "Romashka LLC")
            self.assertEqual(client.crm_kind, 'organisation')
            self.assertEqual(contact.name, "Ivan Petrov")
            self.assertEqual(contact.crm_kind, 'person')
            self.assertEqual(contact.employer, client)
            self.assertEqual(contact.crm_responsible, employee)
            self.assertEqual(contact.crm_source, source)
            self.assertEqual(
                sorted((m.type, m.value_compact)
                    for m in contact.contact_mechanisms),
                [('email', 'ivan@romashka.example'),
                    ('phone', '+79123456789')])

            lead = Opportunity(lead.id)
            self.assertEqual(lead.lead_status.code, 'CONVERTED')
            self.assertEqual(lead.party, client)
            self.assertEqual(lead.contact_party, contact)
            self.assertEqual(list(lead.deals), [deal])
            self.assertEqual(Activity(activity.id).opportunity, lead)

    @with_transaction()
    def test_convert_copies_lines(self):
        "The products of the lead go to the deal"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        company = create_company()
        with set_company(company):
            product, unit = make_service(accounting=False)
            lead = _create_lead(contact_name="Anna", lines=[('create', [{
                                'product': product.id,
                                'quantity': 3,
                                'unit': unit.id,
                                }])])

            deal = Opportunity.convert_lead(lead)

            line, = deal.lines
            self.assertEqual(line.product, product)
            self.assertEqual(line.quantity, 3)
            self.assertEqual(len(Opportunity(lead.id).lines), 1)
            self.assertEqual(deal.party, deal.contact_party)
            self.assertEqual(deal.party.name, "Anna")

    @with_transaction()
    def test_convert_existing_contact_by_phone(self):
        "A contact with the lead's phone is used with its employer"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Party = pool.get('party.party')
        company = create_company()
        with set_company(company):
            client = _create_party("Romashka", kind='organisation')
            contact = _create_party(
                "Ivan P.", employer=client.id,
                contact_mechanisms=[('create', [{
                                'type': 'mobile',
                                'value': '+79123456789',
                                }])])
            lead = _create_lead(
                contact_name="Ivan Petrov", contact_phone="+7 (912) 345 67 89")

            defaults, _, data = self._run_wizard(lead)

            self.assertEqual(defaults['contact'], contact.id)
            self.assertFalse(defaults['create_contact'])
            self.assertEqual(defaults['company'], client.id)
            self.assertFalse(defaults['create_company'])
            deal = Opportunity(data['res_id'][0])
            self.assertEqual(deal.contact_party, contact)
            self.assertEqual(deal.party, client)
            self.assertEqual(Party.search([], count=True), 3)

    @with_transaction()
    def test_convert_existing_company_by_name(self):
        "The company is found by its name whatever the case"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        company = create_company()
        with set_company(company):
            client = _create_party("Romashka LLC", kind='organisation')
            _create_party("Romashka LLC", kind='person')
            lead = _create_lead(
                contact_name="Olga", contact_company_name=" romashka llc ",
                contact_email="olga@example.com")

            defaults, _, data = self._run_wizard(lead)

            self.assertEqual(defaults['company'], client.id)
            self.assertTrue(defaults['create_contact'])
            deal = Opportunity(data['res_id'][0])
            self.assertEqual(deal.party, client)
            self.assertEqual(deal.contact_party.name, "Olga")
            self.assertEqual(deal.contact_party.employer, client)

    @with_transaction()
    def test_convert_several_contacts_match(self):
        "When several contacts match, the user chooses one"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        company = create_company()
        with set_company(company):
            mechanisms = [('create', [{
                            'type': 'email', 'value': 'office@example.com'}])]
            first = _create_party("Ivan", contact_mechanisms=mechanisms)
            second = _create_party("Maria", contact_mechanisms=mechanisms)
            lead = _create_lead(
                contact_name="Someone", contact_email="Office@Example.com")

            defaults = self._start_defaults(lead)
            self.assertIsNone(defaults.get('contact'))
            self.assertFalse(defaults['create_contact'])
            self.assertEqual(
                sorted(defaults['contact_candidates']),
                sorted([first.id, second.id]))

            with self.assertRaisesRegex(UserError, 'Several contacts'):
                Opportunity.convert_lead(lead)
            self.assertEqual(lead.lead_status.kind, 'open')

            _, _, data = self._run_wizard(lead, contact=second.id)
            deal = Opportunity(data['res_id'][0])
            self.assertEqual(deal.contact_party, second)
            self.assertEqual(deal.party, second)

    @with_transaction()
    def test_convert_force_new_contact(self):
        "The user may create a new contact despite a match"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        company = create_company()
        with set_company(company):
            existing = _create_party("Ivan")
            lead = _create_lead(contact_name="Ivan")

            deal = Opportunity.convert_lead(lead, create_contact=True)

            self.assertNotEqual(deal.contact_party, existing)
            self.assertEqual(deal.contact_party.name, "Ivan")

    @with_transaction()
    def test_convert_other_pipeline(self):
        "The deal goes to the pipeline and stage chosen"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Pipeline = pool.get('crm.pipeline')
        company = create_company()
        with set_company(company):
            Pipeline.create_standard(company.id)
            projects = Pipeline.create_standard(company.id, name="Projects")
            stage = _stage(projects, 'PREPARATION')
            lead = _create_lead(contact_name="Ivan")

            _, _, data = self._run_wizard(
                lead, pipeline=projects.id, stage=stage.id,
                title="Big project", amount=Decimal('99'))

            deal = Opportunity(data['res_id'][0])
            self.assertEqual(deal.pipeline, projects)
            self.assertEqual(deal.stage, stage)
            self.assertEqual(deal.description, "Big project")
            self.assertEqual(deal.amount, Decimal('99'))
            self.assertEqual(deal.conversion_probability, 0.3)

    @with_transaction()
    def test_convert_twice(self):
        "A converted lead cannot be converted again"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        company = create_company()
        with set_company(company):
            lead = _create_lead(contact_name="Ivan")
            Opportunity.convert_lead(lead)

            with self.assertRaisesRegex(UserError, 'already converted'):
                Opportunity.convert_lead(lead)
            with self.assertRaisesRegex(UserError, 'already converted'):
                self._start_defaults(lead)
            self.assertEqual(
                Opportunity.search([('crm_type', '=', 'deal')], count=True),
                1)

    @with_transaction()
    def test_convert_not_open(self):
        "Only an open lead is converted, never a deal"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Status = pool.get('crm.lead.status')
        company = create_company()
        with set_company(company):
            junk, = Status.search([('code', '=', 'JUNK')])
            lead = _create_lead(contact_name="Spam", lead_status=junk.id)
            deal = _create_deal()

            with self.assertRaisesRegex(UserError, 'only an open lead'):
                Opportunity.convert_lead(lead)
            with self.assertRaisesRegex(UserError, 'Only a lead'):
                Opportunity.convert_lead(deal)

    @with_transaction()
    def test_convert_nothing_to_create(self):
        "A lead without any name or contact detail needs a choice"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        company = create_company()
        with set_company(company):
            lead = _create_lead()

            with self.assertRaisesRegex(UserError, 'contact or a company'):
                Opportunity.convert_lead(lead)

            client = _create_party("Client", kind='organisation')
            deal = Opportunity.convert_lead(
                lead, company=client, create_contact=False)
            self.assertEqual(deal.party, client)
            self.assertIsNone(deal.contact_party)
            self.assertEqual(deal.start_date, _today())


del CrmTestCase
