# One activity model for the timeline of leads, deals, contacts, companies.
import datetime

from sql import Null

from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.pool import Pool
from trytond.pyson import Bool, Eval, If
from trytond.transaction import Transaction

ACTIVITY_TYPES = [
    ('call', "Call"),
    ('meeting', "Meeting"),
    ('email', "E-mail"),
    ('task', "Task"),
    ('chat', "Chat"),
    ('form', "Form"),
    ('note', "Note"),
    ]


class Activity(ModelSQL, ModelView):
    __name__ = 'crm.activity'
    _rec_name = 'subject'

    company = fields.Many2One('company.company', "Company", required=True)
    type = fields.Selection(ACTIVITY_TYPES, "Type", required=True)
    direction = fields.Selection([
            (None, ""),
            ('incoming', "Incoming"),
            ('outgoing', "Outgoing"),
            ], "Direction",
        states={'invisible': ~Eval('type').in_(['call', 'email', 'chat'])})
    subject = fields.Char("Subject", required=True)
    description = fields.Text("Description")
    deadline = fields.DateTime(
        "Deadline", help="When it is due, or when it happened.")
    end = fields.DateTime(
        "End", domain=[If(Bool(Eval('end')) & Bool(Eval('deadline')),
                ('end', '>=', Eval('deadline')), ())],
        states={'invisible': Eval('type') != 'meeting'})
    responsible = fields.Many2One(
        'company.employee', "Responsible",
        domain=[('company', '=', Eval('company', -1))])
    done = fields.Boolean("Done")
    done_date = fields.DateTime("Done On", readonly=True)
    opportunity = fields.Many2One(
        'sale.opportunity', "Lead or Deal", ondelete='CASCADE',
        domain=[('company', '=', Eval('company', -1))])
    party = fields.Many2One(
        'party.party', "Contact or Company", ondelete='CASCADE',
        context={'company': Eval('company', -1)}, depends={'company'})
    origin = fields.Reference(
        "Origin", selection='get_origins', readonly=True,
        help="The channel record behind it (a call, a conversation, "
        "a form submission).")
    status = fields.Function(fields.Selection([
                ('done', "Done"),
                ('overdue', "Overdue"),
                ('today', "Due Today"),
                ('planned', "Planned"),
                ('none', "No Deadline"),
                ], "Status"), 'get_status')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._order = [('deadline', 'DESC NULLS LAST'), ('id', 'DESC')]
        cls._sql_indexes.update({
                Index(t, (t.opportunity, Index.Range()),
                    where=t.opportunity != Null),
                Index(t, (t.party, Index.Range()), where=t.party != Null),
                Index(t, (t.responsible, Index.Range()),
                    (t.deadline, Index.Range()),
                    where=t.done == False),  # noqa: E712
                })
        cls._buttons.update({
                'mark_done': {
                    'invisible': Eval('done', False),
                    'depends': ['done'],
                    },
                })

    @staticmethod
    def default_company():
        return Transaction().context.get('company')

    @staticmethod
    def default_type():
        return 'task'

    @staticmethod
    def default_done():
        return False

    @staticmethod
    def default_responsible():
        return Transaction().context.get('employee')

    @classmethod
    def _get_origin(cls):
        "Models that channels link activities to; modules extend it"
        return []

    @classmethod
    def get_origins(cls):
        IrModel = Pool().get('ir.model')
        models = cls._get_origin()
        return [(None, '')] + [
            (m, IrModel.get_name(m)) for m in models]

    @fields.depends('opportunity', 'party',
        '_parent_opportunity.contact_party', '_parent_opportunity.party')
    def on_change_opportunity(self):
        if self.opportunity and not self.party:
            self.party = (
                self.opportunity.contact_party or self.opportunity.party)

    def get_status(self, name):
        if self.done:
            return 'done'
        if not self.deadline:
            return 'none'
        now = datetime.datetime.now()
        if self.deadline < now:
            return 'overdue'
        if self.deadline.date() == now.date():
            return 'today'
        return 'planned'

    @classmethod
    def view_attributes(cls):
        return super().view_attributes() + [
            ('/tree', 'visual', If(Eval('done'), 'muted',
                    If(Eval('status') == 'overdue', 'danger', ''))),
            ]

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        if 'done' in values:
            values['done_date'] = (
                datetime.datetime.now() if values['done'] else None)
        return values

    def get_rec_name(self, name):
        return self.subject

    @classmethod
    @ModelView.button
    def mark_done(cls, activities):
        cls.write([a for a in activities if not a.done], {'done': True})
