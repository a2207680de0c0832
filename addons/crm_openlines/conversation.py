# A conversation of a client on an open line: state, operator, timings.
# Conversation.receive() is the one way in for every channel.
import datetime

from sql import Null

from trytond.exceptions import UserError
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Workflow, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Bool, Eval
from trytond.transaction import Transaction

from trytond.modules.crm_portal.access import current_employee
from trytond.modules.crm_portal.rest_ratelimit import autocommit_cursor

from .message import clean_text
from .routing import format_tried, parse_tried

STATES = [
    ('new', "New"),
    ('waiting', "Waiting"),
    ('work', "In Work"),
    ('closed', "Closed"),
    ]
RATINGS = [
    (None, ""),
    ('1', "1"),
    ('2', "2"),
    ('3', "3"),
    ('4', "4"),
    ('5', "5"),
    ]
OPEN_STATES = ['new', 'waiting', 'work']


def now():
    """The clock of the open lines: the context's openlines_now (tests,
    benchmarks) or the current UTC time"""
    value = Transaction().context.get('openlines_now')
    if value:
        return value
    return datetime.datetime.utcnow()


class Conversation(Workflow, ModelSQL, ModelView):
    __name__ = 'crm.openline.conversation'

    line = fields.Many2One(
        'crm.openline', "Line", required=True, readonly=True,
        ondelete='RESTRICT')
    company = fields.Many2One(
        'company.company', "Company", required=True, readonly=True)
    channel = fields.Many2One(
        'crm.openline.channel', "Channel", readonly=True,
        ondelete='SET NULL')
    channel_type = fields.Function(fields.Selection(
            'get_channel_types', "Channel Type"), 'get_channel_type',
        searcher='search_channel_type')
    external_chat = fields.Char("External Chat", readonly=True)
    client_name = fields.Char("Client", readonly=True)
    client_phone = fields.Char("Phone", readonly=True)
    client_email = fields.Char("E-mail", readonly=True)
    client_label = fields.Function(fields.Char("Client"), 'get_client_label')
    visitor_hash = fields.Char("Visitor Hash", readonly=True, strip=False)
    party = fields.Many2One(
        'party.party', "Contact or Company", readonly=True,
        ondelete='SET NULL',
        context={'company': Eval('company', -1)}, depends={'company'})
    opportunity = fields.Many2One(
        'sale.opportunity', "Lead or Deal", readonly=True,
        ondelete='SET NULL')
    activity = fields.Many2One(
        'crm.activity', "Activity", readonly=True, ondelete='SET NULL')
    operator = fields.Many2One(
        'company.employee', "Operator", readonly=True, ondelete='SET NULL',
        help="The operator working on it, or to whom it is offered.")
    state = fields.Selection(STATES, "State", required=True, readonly=True,
        sort=False)
    offered_at = fields.DateTime("Offered At", readonly=True)
    tried = fields.Char("Offered Before", readonly=True)
    started = fields.DateTime("Started", required=True, readonly=True)
    last_client_message = fields.DateTime(
        "Last Client Message", readonly=True)
    first_response = fields.DateTime("First Response", readonly=True)
    closed = fields.DateTime("Closed", readonly=True)
    first_response_time = fields.TimeDelta(
        "First-Response Time", readonly=True)
    resolution_time = fields.TimeDelta("Resolution Time", readonly=True)
    rating = fields.Selection(RATINGS, "Rating", readonly=True)
    email_thread = fields.Char("E-mail Thread", readonly=True)
    email_subject = fields.Char("E-mail Subject", readonly=True)
    messages = fields.One2Many(
        'crm.openline.message', 'conversation', "Messages", readonly=True)
    draft = fields.Text("Reply",
        states={'readonly': Eval('state') == 'closed'})
    quick_answer = fields.Many2One(
        'crm.openline.answer', "Quick Answer",
        domain=[('line', '=', Eval('line', -1))],
        states={'readonly': Eval('state') == 'closed'})
    mine = fields.Function(
        fields.Boolean("Mine"), 'get_mine', searcher='search_mine')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._order = [('started', 'DESC'), ('id', 'DESC')]
        cls._sql_indexes.update({
                Index(t, (t.channel, Index.Equality()),
                    (t.external_chat, Index.Equality()),
                    where=t.state != 'closed'),
                Index(t, (t.operator, Index.Equality()),
                    (t.state, Index.Equality()),
                    where=t.state != 'closed'),
                Index(t, (t.state, Index.Equality()),
                    (t.offered_at, Index.Range()),
                    where=t.state == 'waiting'),
                })
        cls._transitions |= {
            ('new', 'waiting'),
            ('new', 'work'),
            ('waiting', 'work'),
            ('waiting', 'waiting'),
            ('work', 'waiting'),
            ('new', 'closed'),
            ('waiting', 'closed'),
            ('work', 'closed'),
            }
        cls._buttons.update({
                'accept': {
                    'invisible': ~Eval('state').in_(['new', 'waiting']),
                    'depends': ['state'],
                    },
                'send': {
                    'invisible': Eval('state') == 'closed',
                    'depends': ['state'],
                    },
                'note': {
                    'invisible': Eval('state') == 'closed',
                    'depends': ['state'],
                    },
                'transfer': {
                    'invisible': Eval('state') == 'closed',
                    'depends': ['state'],
                    },
                'close': {
                    'invisible': Eval('state') == 'closed',
                    'depends': ['state'],
                    },
                'open_crm': {
                    'invisible': ~Bool(Eval('opportunity'))
                    & ~Bool(Eval('party')),
                    'depends': ['opportunity', 'party'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'new'

    @classmethod
    def get_channel_types(cls):
        Channel = Pool().get('crm.openline.channel')
        return Channel.fields_get(['type'])['type']['selection']

    def get_channel_type(self, name):
        return self.channel.type if self.channel else None

    @classmethod
    def search_channel_type(cls, name, clause):
        return [('channel.type',) + tuple(clause[1:])]

    def get_client_label(self, name):
        return (self.client_name or self.client_email or self.client_phone
            or self.external_chat or '')

    def get_rec_name(self, name):
        return '%s (%s)' % (self.client_label, self.line.rec_name)

    def get_mine(self, name):
        employee = current_employee()
        return bool(employee and self.operator
            and self.operator.id == employee)

    @classmethod
    def search_mine(cls, name, clause):
        employee = current_employee() or -1
        _, operator, value = clause
        positive = (operator == '=') == bool(value)
        if positive:
            return [('operator', '=', employee)]
        return ['OR', ('operator', '!=', employee), ('operator', '=', None)]

    @fields.depends('quick_answer', 'draft')
    def on_change_quick_answer(self):
        if self.quick_answer:
            self.draft = '\n'.join(filter(None, [
                        self.draft, self.quick_answer.text]))
            self.quick_answer = None

    # --- the way in -----------------------------------------------------

    @classmethod
    def receive(cls, channel, chat, text, client=None, external_id=None,
            attachment=None, visitor_hash=None):
        """Store a client's message received on channel for chat.

        client: name, phone, email of the client as the channel knows
        them. attachment: a file the client sent, as a dict of name,
        data (bytes), type. A message with an external_id already stored is not stored
        again. A message for a closed conversation opens a new one.
        Return (conversation, message, duplicate)."""
        pool = Pool()
        Message = pool.get('crm.openline.message')
        Channel = pool.get('crm.openline.channel')
        text = clean_text(text)
        external_id = str(external_id)[:200] if external_id else None
        existing = Message.received(channel, external_id)
        if existing:
            return existing.conversation, existing, True
        conversation = cls.find_open(channel, chat)
        if conversation is None:
            # One new conversation per chat even when two workers receive
            # its first messages at once.
            Channel.lock([channel])
            conversation = cls.find_open(channel, chat)
        created = conversation is None
        if created:
            conversation = cls.open(channel, chat, client or {},
                visitor_hash=visitor_hash)
        elif client and conversation.update_client(client):
            conversation.save()
        message = Message(
            conversation=conversation, channel=channel, direction='in',
            date=now(), text=text, external_id=external_id)
        if attachment:
            # {'name', 'data', 'type', 'error'}: data None when not received
            message.set_attachment(attachment.get('name'),
                attachment.get('data'), attachment.get('type'),
                attachment.get('error'))
        message.save()
        conversation.touch_client(message.date, shared=not created)
        if created:
            cls.started_conversation(conversation, message)
        return conversation, message, False

    def touch_client(self, moment, shared=True):
        """Remember when the client last wrote: bookkeeping on the hot
        path of every message, one UPDATE without the ORM's checks.

        For a conversation other transactions see (shared), PostgreSQL
        takes it at once on a connection of its own: two messages of one
        chat received together would otherwise update the same row in
        concurrent transactions and one would fail to serialise, retry
        after retry. A later moment never goes back."""
        table = self.__table__()
        with autocommit_cursor(shared) as cursor:
            cursor.execute(*table.update(
                    [table.last_client_message], [moment],
                    where=(table.id == self.id)
                    & ((table.last_client_message == Null)
                        | (table.last_client_message < moment))))
        Transaction().counter += 1
        self.last_client_message = moment

    @classmethod
    def find_open(cls, channel, chat):
        conversations = cls.search([
                ('channel', '=', channel.id),
                ('external_chat', '=', str(chat)),
                ('state', 'in', OPEN_STATES),
                ], limit=1)
        return conversations[0] if conversations else None

    @classmethod
    def open(cls, channel, chat, client, visitor_hash=None):
        line = channel.line
        conversation = cls(
            line=line, company=line.company, channel=channel,
            external_chat=str(chat), state='new', started=now(),
            visitor_hash=visitor_hash)
        conversation.update_client(client)
        conversation.save()
        return conversation

    def update_client(self, client):
        "Set what the client told about themselves; True if it changed"
        changed = False
        for field, key in [('client_name', 'name'),
                ('client_phone', 'phone'), ('client_email', 'email')]:
            value = clean_text(client.get(key), 100)
            if value and value != getattr(self, field, None):
                setattr(self, field, value)
                changed = True
        return changed

    @classmethod
    def started_conversation(cls, conversation, message):
        "Bind the CRM, greet the client and offer the conversation"
        pool = Pool()
        Binding = pool.get('crm.openline.binding')
        Binding.bind(conversation, message)
        line = conversation.line
        moment = now()
        if not line.is_open(moment):
            if line.out_of_hours_message:
                conversation.reply(line.out_of_hours_message, None)
            # Out of hours it waits in the queue without offers.
            cls.write([conversation], {'state': 'waiting'})
            return
        if line.welcome_message:
            conversation.reply(line.welcome_message, None)
        cls.route([conversation])

    # --- routing --------------------------------------------------------

    @classmethod
    def route(cls, conversations, exclude=None):
        """Offer each conversation to the operator(s) the line's rule
        chooses, or leave it in the queue. exclude: the operator who
        handed it over, whose lead passes to the one chosen"""
        pool = Pool()
        Router = pool.get('crm.openline.router')
        Notify = pool.get('crm.openline.notify')
        Binding = pool.get('crm.openline.binding')
        moment = now()
        for conversation in conversations:
            tried = parse_tried(conversation.tried)
            if exclude:
                tried.append(exclude)
            responsible = conversation.responsible()
            chosen = Router.choose(conversation.line, tried, responsible)
            values = {
                'tried': format_tried(tried) or None,
                'offered_at': moment if chosen else None,
                'state': 'waiting',
                }
            if len(chosen) == 1 and conversation.line.distribution != 'all':
                values['operator'] = chosen[0]
            else:
                values['operator'] = None
            cls.write([conversation], values)
            if values['operator']:
                Binding.assign([conversation], previous=exclude)
            if chosen:
                Router.offered(conversation.line, chosen, moment)
                Notify.offered(conversation, chosen)

    def responsible(self):
        "The employee in charge of the known client, if any"
        for record in [self.opportunity, self.party]:
            if not record:
                continue
            employee = getattr(record, 'employee', None) or getattr(
                record, 'crm_responsible', None)
            if employee:
                return employee.id

    @classmethod
    def check_timeouts(cls):
        "Pass offers not accepted in time to the next operator (cron)"
        pool = Pool()
        Router = pool.get('crm.openline.router')
        moment = now()
        expired = Router.expired_offers(moment)
        for conversation in cls.browse(expired):
            tried = parse_tried(conversation.tried)
            if conversation.operator:
                tried.append(conversation.operator.id)
            conversation.tried = format_tried(tried)
            conversation.save()
            cls.route([conversation])

    @classmethod
    def close_silent(cls):
        "Close the conversations whose client has been silent (cron)"
        pool = Pool()
        Router = pool.get('crm.openline.router')
        silent = Router.silent_conversations(now())
        if silent:
            cls.do_close(cls.browse(silent))

    # --- operators' work ------------------------------------------------

    def reply(self, text, author, direction='out', markup=None):
        "Add an operator's (or the line's) message and deliver it"
        pool = Pool()
        Message = pool.get('crm.openline.message')
        text = clean_text(text)
        if not text:
            raise UserError(gettext('crm_openlines.msg_reply_empty'))
        message = Message(
            conversation=self, channel=self.channel, direction=direction,
            date=now(), text=text, author=author, markup=markup)
        message.save()
        if direction == 'out':
            Message.deliver_later([message])
        return message

    def check_operator(self, employee):
        if not employee:
            raise UserError(gettext('crm_openlines.msg_no_employee'))

    @classmethod
    @ModelView.button
    @Workflow.transition('work')
    def accept(cls, conversations):
        employee = current_employee()
        for conversation in conversations:
            conversation.check_operator(employee)
            if (conversation.operator
                    and conversation.operator.id != employee):
                raise UserError(gettext(
                        'crm_openlines.msg_offered_to_other',
                        conversation=conversation.rec_name,
                        operator=conversation.operator.rec_name))
        cls.write(conversations, {
                'operator': employee, 'tried': None, 'offered_at': None})
        Pool().get('crm.openline.binding').assign(conversations)

    @classmethod
    @ModelView.button
    def send(cls, conversations):
        employee = current_employee()
        moment = now()
        for conversation in conversations:
            if conversation.state == 'closed':
                raise UserError(gettext('crm_openlines.msg_closed',
                        conversation=conversation.rec_name))
            conversation.check_operator(employee)
            conversation.reply(conversation.draft, employee)
            conversation.draft = None
            if conversation.state != 'work':
                conversation.state = 'work'
                conversation.operator = employee
                conversation.offered_at = None
                conversation.tried = None
                Pool().get('crm.openline.binding').assign([conversation])
            if not conversation.first_response:
                conversation.first_response = moment
                conversation.first_response_time = (
                    moment - conversation.started)
        cls.save(conversations)

    @classmethod
    @ModelView.button
    def note(cls, conversations):
        employee = current_employee()
        for conversation in conversations:
            conversation.check_operator(employee)
            conversation.reply(conversation.draft, employee, 'note')
            conversation.draft = None
        cls.save(conversations)

    @classmethod
    @ModelView.button_action('crm_openlines.wizard_transfer')
    def transfer(cls, conversations):
        pass

    @classmethod
    @ModelView.button
    def close(cls, conversations):
        cls.do_close([c for c in conversations if c.state != 'closed'])

    @classmethod
    @Workflow.transition('closed')
    def do_close(cls, conversations):
        pool = Pool()
        Binding = pool.get('crm.openline.binding')
        moment = now()
        for conversation in conversations:
            line = conversation.line
            if line.rating_request and line.rating_message:
                # Telegram shows it with buttons 1 to 5 (telegram_api.py)
                conversation.reply(line.rating_message, None,
                    markup='rating')
            conversation.closed = moment
            conversation.resolution_time = moment - conversation.started
            conversation.draft = None
        cls.save(conversations)
        Binding.transcript(conversations)

    @classmethod
    @ModelView.button
    def open_crm(cls, conversations):
        "Open the lead or deal of the conversation, else its client"
        pool = Pool()
        Action = pool.get('ir.action')
        ModelData = pool.get('ir.model.data')
        if not conversations:
            return
        conversation = conversations[0]
        if conversation.opportunity:
            xml_id = ('act_lead' if conversation.opportunity.crm_type
                == 'lead' else 'act_deal')
            record = conversation.opportunity
        elif conversation.party:
            xml_id, record = 'act_contact', conversation.party
        else:
            return
        action = Action.get_action_values('ir.action.act_window', [
                ModelData.get_id('crm_portal', xml_id)])[0]
        action['res_id'] = [record.id]
        action['views'].reverse()
        return action

    def rate(self, value):
        "Store the client's rating (1 to 5)"
        if str(value) not in {'1', '2', '3', '4', '5'}:
            raise UserError(gettext('crm_openlines.msg_rating_invalid'))
        self.rating = str(value)
        self.save()

    @classmethod
    def rate_callback(cls, channel, chat, data):
        """Store the rating a client chose with the buttons of the rating
        request ('rate:<conversation>:<n>'); return the conversation or
        None when the data is not a rating of this chat's conversation"""
        kind, _, rest = str(data or '').partition(':')
        conversation_id, _, value = rest.partition(':')
        if kind != 'rate' or not conversation_id.isdigit():
            return None
        conversations = cls.search([
                ('id', '=', int(conversation_id)),
                ('channel', '=', channel.id),
                ('external_chat', '=', str(chat)),
                ('state', '=', 'closed'),
                ('line.rating_request', '=', True),
                ], limit=1)
        if not conversations or value not in {'1', '2', '3', '4', '5'}:
            return None
        conversation, = conversations
        conversation.rate(value)
        return conversation


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.extend([
                ('crm.openline.conversation|check_timeouts',
                    "Pass Unaccepted Conversations On"),
                ('crm.openline.conversation|close_silent',
                    "Close Silent Conversations"),
                ])
