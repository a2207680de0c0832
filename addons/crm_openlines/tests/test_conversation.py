"Conversations: from a client's message to an operator and into the CRM"
import datetime
import json

from trytond.exceptions import UserError
from trytond.modules.crm_portal.tests.tools import CrmTestCase, crm_company
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from .tools import T0, as_operator, at, line, operator

SECOND = datetime.timedelta(seconds=1)
MINUTE = datetime.timedelta(minutes=1)


def receive(channel, chat, text, **kwargs):
    Conversation = Pool().get('crm.openline.conversation')
    with Transaction().set_context(company=channel.line.company.id):
        return Conversation.receive(channel, chat, text, **kwargs)


def transfer(conversation, line, operator):
    "What the Transfer wizard does"
    pool = Pool()
    Conversation = pool.get('crm.openline.conversation')
    Transfer = pool.get('crm.openline.transfer', type='wizard')
    session_id, _, _ = Transfer.create()
    wizard = Transfer(session_id)
    wizard.start.line = line
    wizard.start.operator = operator
    with Transaction().set_context(active_model=Conversation.__name__,
            active_id=conversation.id, active_ids=[conversation.id]):
        wizard.transition_transfer()


def texts(conversation, direction=None):
    return [m.text for m in conversation.messages
        if direction is None or m.direction == direction]


class ConversationTestCase(CrmTestCase):
    modules = ['crm_openlines']

    @with_transaction()
    def test_message_creates_lead_and_offers_evenly(self):
        "A new chat makes a lead, is offered to the least loaded operator"
        pool = Pool()
        Notification = pool.get('res.notification')
        Activity = pool.get('crm.activity')
        with crm_company() as company:
            (anna, anna_user), (boris, _) = (
                operator(company, "Anna", 'anna'),
                operator(company, "Boris", 'boris'))
            _, channel = line(company, [anna, boris],
                welcome_message="Hello, we will answer soon")
            with at(T0):
                first, message, duplicate = receive(channel, 'v1',
                    "I need a <b>quote</b>",
                    client={'name': "Olga", 'email': 'olga@example.com'})
            self.assertFalse(duplicate)
            self.assertEqual(first.state, 'waiting')
            self.assertEqual(first.operator, anna)
            self.assertEqual(first.offered_at, T0)
            self.assertEqual(texts(first), [
                    "I need a quote", "Hello, we will answer soon"])
            lead = first.opportunity
            self.assertEqual(lead.crm_type, 'lead')
            self.assertEqual(lead.contact_email, 'olga@example.com')
            activity = first.activity
            self.assertEqual(activity.type, 'chat')
            self.assertEqual(activity.origin, first)
            self.assertEqual(activity.opportunity, lead)
            notification, = Notification.search([('user', '=', anna_user)])
            self.assertEqual(json.loads(notification.records), [first.id])
            # the operator offered it is in charge of the new lead
            self.assertEqual(lead.employee, anna)
            action = pool.get('crm.openline.conversation').open_crm([first])
            self.assertEqual(action['res_model'], 'sale.opportunity')
            self.assertEqual(action['res_id'], [lead.id])

            with at(T0 + SECOND):
                second, _, _ = receive(channel, 'v2', "Hi",
                    client={'name': "Petr"})
            self.assertEqual(second.operator, boris)
            self.assertEqual(Activity.search_count(
                    [('origin', '=', str(second))]), 1)

    @with_transaction()
    def test_accept_timeout_passes_to_next_then_queue(self):
        "An offer not accepted in time goes to the next operator"
        Conversation = Pool().get('crm.openline.conversation')
        with crm_company() as company:
            anna, _ = operator(company, "Anna", 'anna2')
            boris, _ = operator(company, "Boris", 'boris2')
            _, channel = line(company, [anna, boris],
                distribution='order', accept_timeout=60)
            with at(T0):
                conversation, _, _ = receive(channel, 'c1', "Hello",
                    client={'name': "Client"})
            self.assertEqual(conversation.operator, anna)
            with at(T0 + 59 * SECOND):
                Conversation.check_timeouts()
            self.assertEqual(Conversation(conversation.id).operator, anna)
            with at(T0 + 60 * SECOND):
                Conversation.check_timeouts()
            conversation = Conversation(conversation.id)
            self.assertEqual(conversation.operator, boris)
            self.assertEqual(conversation.offered_at, T0 + 60 * SECOND)
            with at(T0 + 121 * SECOND):
                Conversation.check_timeouts()
            conversation = Conversation(conversation.id)
            self.assertEqual(conversation.state, 'waiting')
            self.assertIsNone(conversation.operator)
            self.assertIsNone(conversation.offered_at)

            # Anyone may take it from the queue.
            user_ctx, emp_ctx = as_operator(anna, _user(anna))
            with user_ctx, emp_ctx:
                Conversation.accept([conversation])
            self.assertEqual(conversation.state, 'work')
            self.assertEqual(conversation.operator, anna)

    @with_transaction()
    def test_offered_to_other_cannot_be_accepted(self):
        Conversation = Pool().get('crm.openline.conversation')
        with crm_company() as company:
            anna, _ = operator(company, "Anna", 'anna3')
            boris, boris_user = operator(company, "Boris", 'boris3')
            _, channel = line(company, [anna, boris], distribution='order')
            with at(T0):
                conversation, _, _ = receive(channel, 'c1', "Hello",
                    client={'name': "Client"})
            user_ctx, emp_ctx = as_operator(boris, boris_user)
            with user_ctx, emp_ctx, self.assertRaises(UserError):
                Conversation.accept([conversation])

    @with_transaction()
    def test_away_operator_is_skipped(self):
        pool = Pool()
        Employee = pool.get('company.employee')
        with crm_company() as company:
            anna, _ = operator(company, "Anna", 'anna4')
            boris, _ = operator(company, "Boris", 'boris4')
            Employee.write([anna], {'openline_status': 'away'})
            _, channel = line(company, [anna, boris], distribution='order')
            with at(T0):
                conversation, _, _ = receive(channel, 'c1', "Hello",
                    client={'name': "Client"})
            self.assertEqual(conversation.operator, boris)

    @with_transaction()
    def test_all_at_once_notifies_everyone(self):
        Notification = Pool().get('res.notification')
        with crm_company() as company:
            anna, anna_user = operator(company, "Anna", 'anna5')
            boris, boris_user = operator(company, "Boris", 'boris5')
            _, channel = line(company, [anna, boris], distribution='all')
            with at(T0):
                conversation, _, _ = receive(channel, 'c1', "Hello",
                    client={'name': "Client"})
            self.assertIsNone(conversation.operator)
            self.assertEqual(conversation.state, 'waiting')
            self.assertEqual(
                {n.user for n in Notification.search([])},
                {anna_user, boris_user})

    @with_transaction()
    def test_out_of_hours_reply_and_no_offer(self):
        with crm_company() as company:
            anna, _ = operator(company, "Anna", 'anna6')
            _, channel = line(company, [anna], timezone='Europe/Moscow',
                out_of_hours_message="We work 9 to 18",
                welcome_message="Hello",
                hours=[('create', [{'weekday': str(d),
                                'start': datetime.time(9),
                                'end': datetime.time(18)}
                            for d in range(5)])])
            # 16:00 UTC on Monday is 19:00 in Moscow
            with at(T0 + datetime.timedelta(hours=6)):
                late, _, _ = receive(channel, 'c1', "Anyone?",
                    client={'name': "Client"})
            self.assertEqual(texts(late, 'out'), ["We work 9 to 18"])
            self.assertIsNone(late.operator)
            self.assertEqual(late.state, 'waiting')
            with at(T0):
                early, _, _ = receive(channel, 'c2', "Hi",
                    client={'name': "Other"})
            self.assertEqual(texts(early, 'out'), ["Hello"])
            self.assertEqual(early.operator, anna)

    @with_transaction()
    def test_reply_close_transcript_and_times(self):
        "The transcript of a closed conversation is on the timeline"
        Conversation = Pool().get('crm.openline.conversation')
        with crm_company() as company:
            anna, anna_user = operator(company, "Anna", 'anna7')
            _, channel = line(company, [anna], auto_close=30,
                rating_request=True, rating_message="Rate us 1-5")
            with at(T0):
                conversation, _, _ = receive(channel, 'c1', "Price?",
                    client={'name': "Olga"})
            user_ctx, emp_ctx = as_operator(anna, anna_user)
            with user_ctx, emp_ctx, at(T0 + 90 * SECOND):
                conversation.draft = "Secret: VIP client"
                conversation.save()
                Conversation.note([conversation])
                conversation.draft = "It is 100 RUB"
                conversation.save()
                Conversation.send([conversation])
            conversation = Conversation(conversation.id)
            self.assertEqual(conversation.state, 'work')
            self.assertEqual(conversation.first_response_time,
                90 * SECOND)
            with at(T0 + 29 * MINUTE):
                Conversation.close_silent()
            self.assertEqual(Conversation(conversation.id).state, 'work')
            with at(T0 + 30 * MINUTE):
                Conversation.close_silent()
            conversation = Conversation(conversation.id)
            self.assertEqual(conversation.state, 'closed')
            self.assertEqual(conversation.resolution_time, 30 * MINUTE)
            self.assertEqual(texts(conversation, 'out'),
                ["It is 100 RUB", "Rate us 1-5"])
            description = conversation.activity.description
            for text in ["Price?", "It is 100 RUB", "[note]",
                    "Secret: VIP client"]:
                self.assertIn(text, description)
            self.assertTrue(conversation.activity.done)
            self.assertEqual(conversation.activity.responsible, anna)

    @with_transaction()
    def test_replay_and_closed_conversation(self):
        "A message received twice is stored once; after close, a new one"
        Conversation = Pool().get('crm.openline.conversation')
        with crm_company() as company:
            anna, _ = operator(company, "Anna", 'anna8')
            _, channel = line(company, [anna])
            with at(T0):
                first, message, _ = receive(channel, 'c1', "One",
                    client={'name': "Olga"}, external_id='m1')
                again, same, duplicate = receive(channel, 'c1', "One",
                    client={'name': "Olga"}, external_id='m1')
            self.assertTrue(duplicate)
            self.assertEqual((again, same), (first, message))
            self.assertEqual(texts(first, 'in'), ["One"])
            Conversation.close([first])
            with at(T0 + MINUTE):
                second, _, _ = receive(channel, 'c1', "Two",
                    client={'name': "Olga"}, external_id='m2')
            self.assertNotEqual(second, first)
            self.assertEqual(texts(second, 'in'), ["Two"])
            self.assertEqual(texts(Conversation(first.id), 'in'), ["One"])
            self.assertEqual(second.state, 'waiting')

    @with_transaction()
    def test_html_sanitised(self):
        with crm_company() as company:
            anna, _ = operator(company, "Anna", 'anna9')
            _, channel = line(company, [anna])
            with at(T0):
                conversation, message, _ = receive(channel, 'c1',
                    '<script>alert(1)</script><img src=x onerror=alert(2)>'
                    '<b>Hi</b> & bye',
                    client={'name': '<i>Olga</i>'})
            self.assertEqual(message.text, 'Hi & bye')
            self.assertEqual(conversation.client_name, 'Olga')

    @with_transaction()
    def test_known_client_goes_to_responsible(self):
        pool = Pool()
        Party = pool.get('party.party')
        with crm_company() as company:
            anna, _ = operator(company, "Anna", 'anna10')
            boris, _ = operator(company, "Boris", 'boris10')
            Party.create([{
                        'name': "Known", 'crm_kind': 'person',
                        'crm_responsible': boris.id,
                        'contact_mechanisms': [('create', [
                                    {'type': 'phone',
                                        'value': '+79161234567'}])],
                        }])
            _, channel = line(company, [anna, boris], distribution='order')
            with at(T0):
                conversation, _, _ = receive(channel, 'c1', "Hi",
                    client={'name': "Known", 'phone': '8 916 123-45-67'})
            self.assertEqual(conversation.operator, boris)
            self.assertEqual(conversation.party.name, "Known")

    @with_transaction()
    def test_deal_mode_and_bind_mode(self):
        pool = Pool()
        Party = pool.get('party.party')
        Opportunity = pool.get('sale.opportunity')
        with crm_company() as company:
            anna, _ = operator(company, "Anna", 'anna11')
            _, deals = line(company, [anna], crm_mode='deal')
            with at(T0):
                conversation, _, _ = receive(deals, 'c1', "Buy",
                    client={'name': "New Client", 'phone': '+79160000001'})
            self.assertEqual(conversation.opportunity.crm_type, 'deal')

            known, = Party.create([{
                        'name': "Known", 'crm_kind': 'person',
                        'contact_mechanisms': [('create', [
                                    {'type': 'email',
                                        'value': 'known@example.com'}])],
                        }])
            _, bind = line(company, [anna], crm_mode='bind', name="Bind")
            count = Opportunity.search_count([])
            with at(T0):
                unknown, _, _ = receive(bind, 'c2', "Hi",
                    client={'name': "Stranger"})
                bound, _, _ = receive(bind, 'c3', "Hi",
                    client={'email': 'KNOWN@example.com'})
            self.assertEqual(Opportunity.search_count([]), count)
            self.assertIsNone(unknown.party)
            self.assertEqual(bound.party, known)
            self.assertEqual(bound.activity.party, known)

    @with_transaction()
    def test_transfer_to_operator_and_line(self):
        pool = Pool()
        Conversation = pool.get('crm.openline.conversation')
        with crm_company() as company:
            anna, anna_user = operator(company, "Anna", 'anna12')
            boris, _ = operator(company, "Boris", 'boris12')
            carl, _ = operator(company, "Carl", 'carl12')
            first_line, channel = line(company, [anna, boris],
                distribution='order')
            other_line, _ = line(company, [carl], name="Sales")
            with at(T0):
                conversation, _, _ = receive(channel, 'c1', "Hi",
                    client={'name': "Olga"})
            user_ctx, emp_ctx = as_operator(anna, anna_user)
            with user_ctx, emp_ctx, at(T0):
                Conversation.accept([conversation])
                transfer(conversation, first_line, boris)
            conversation = Conversation(conversation.id)
            self.assertEqual(conversation.operator, boris)
            self.assertEqual(conversation.state, 'waiting')
            # the lead Anna took goes with the conversation
            lead = conversation.opportunity
            self.assertEqual(lead.employee, boris)

            with at(T0):
                transfer(conversation, other_line, None)
            conversation = Conversation(conversation.id)
            self.assertEqual(conversation.line, other_line)
            self.assertEqual(conversation.operator, carl)
            self.assertEqual(lead.employee, carl)

            # a lead in the hands of someone else stays with them
            lead.employee = anna
            lead.save()
            with at(T0):
                transfer(conversation, other_line, boris)
            self.assertEqual(Conversation(conversation.id).operator, boris)
            self.assertEqual(lead.employee, anna)

    @with_transaction()
    def test_operators_see_only_their_lines(self):
        pool = Pool()
        Conversation = pool.get('crm.openline.conversation')
        Message = pool.get('crm.openline.message')
        Group = pool.get('res.group')
        ModelData = pool.get('ir.model.data')
        with crm_company() as company:
            anna, anna_user = operator(company, "Anna", 'anna14')
            boris, boris_user = operator(company, "Boris", 'boris14')
            max_, max_user = operator(company, "Max", 'max14')
            max_user.groups += (Group(ModelData.get_id(
                        'crm_portal', 'group_crm_manager')),)
            max_user.save()
            _, support = line(company, [anna])
            _, sales = line(company, [boris], name="Sales")
            with at(T0):
                first, _, _ = receive(support, 'c1', "Support question")
                second, _, _ = receive(sales, 'c2', "Sales question")

            def visible(employee, user):
                user_ctx, emp_ctx = as_operator(employee, user)
                with user_ctx, emp_ctx, Transaction().set_context(
                        _check_access=True):
                    return (Conversation.search([], order=[('id', 'ASC')]),
                        sorted(m.text for m in Message.search([])))
            self.assertEqual(visible(anna, anna_user),
                ([first], ["Support question"]))
            self.assertEqual(visible(boris, boris_user),
                ([second], ["Sales question"]))
            self.assertEqual(visible(max_, max_user),
                ([first, second], ["Sales question", "Support question"]))
            # handed to Boris, the support conversation is his to see too
            Conversation.write([first], {'operator': boris.id})
            self.assertEqual(visible(boris, boris_user)[0], [first, second])

    @with_transaction()
    def test_report_per_operator(self):
        pool = Pool()
        Conversation = pool.get('crm.openline.conversation')
        Report = pool.get('crm.openline.report')
        with crm_company() as company:
            anna, anna_user = operator(company, "Anna", 'anna13')
            _, channel = line(company, [anna])
            for i, wait in enumerate([60, 120]):
                with at(T0):
                    conversation, _, _ = receive(channel, 'c%s' % i, "Hi",
                        client={'name': "Client %s" % i})
                user_ctx, emp_ctx = as_operator(anna, anna_user)
                with user_ctx, emp_ctx, at(T0 + wait * SECOND):
                    conversation.draft = "Hello"
                    conversation.save()
                    Conversation.send([conversation])
                    Conversation.close([conversation])
                conversation.rate(5 - i)
            with Transaction().set_context(company=company.id):
                row, = Report.search([('operator', '=', anna.id)])
            self.assertEqual(row.conversations, 2)
            self.assertEqual(row.closed, 2)
            self.assertEqual(row.rated, 2)
            self.assertEqual(row.rating, 4.5)
            self.assertEqual(row.first_response_time, 90 * SECOND)


def _user(employee):
    User = Pool().get('res.user')
    user, = User.search([('employees', 'in', [employee.id])])
    return user
