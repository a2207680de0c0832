# An open line: a queue of conversations with its operators, schedule and
# CRM behaviour.
import datetime
import zoneinfo

from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, ModelSQL, ModelView, Unique, fields, sequence_ordered)
from trytond.model.exceptions import ValidationError
from trytond.pyson import Eval
from trytond.transaction import Transaction

from .routing import WEEKDAYS, Period, is_open

DISTRIBUTIONS = [
    ('evenly', "Evenly in Turn"),
    ('order', "Strictly in Order"),
    ('all', "All at Once"),
    ]
CRM_MODES = [
    ('lead', "Create a Lead"),
    ('deal', "Create a Deal"),
    ('bind', "Only Bind to an Existing Client"),
    ]


class Line(DeactivableMixin, ModelSQL, ModelView):
    __name__ = 'crm.openline'

    name = fields.Char("Name", required=True, translate=True)
    company = fields.Many2One('company.company', "Company", required=True)
    distribution = fields.Selection(
        DISTRIBUTIONS, "Distribution", required=True,
        help="Evenly: the available operator with the fewest open "
        "conversations. In order: the first available operator of the "
        "list. All at once: every available operator is offered it.")
    accept_timeout = fields.Integer(
        "Time to Accept", required=True,
        help="Seconds an operator has to accept an offered conversation "
        "before it passes to the next one.")
    timezone = fields.Selection(
        'get_timezones', "Time Zone", translate=False)
    hours = fields.One2Many('crm.openline.hours', 'line', "Working Hours",
        help="Leave empty to work around the clock.")
    out_of_hours_message = fields.Text("Out-of-Hours Reply", translate=True)
    welcome_message = fields.Text("Welcome Message", translate=True)
    auto_close = fields.Integer(
        "Auto-Close After",
        help="Minutes of client silence after which a conversation in work "
        "is closed. Leave empty to keep it open.")
    crm_mode = fields.Selection(CRM_MODES, "In the CRM", required=True)
    rating_request = fields.Boolean(
        "Ask for a Rating", help="Ask the client to rate the conversation "
        "when it is closed.")
    rating_message = fields.Text("Rating Request", translate=True,
        states={'invisible': ~Eval('rating_request', False)})
    operators = fields.One2Many(
        'crm.openline.operator', 'line', "Operators")
    answers = fields.One2Many('crm.openline.answer', 'line', "Quick Answers")
    channels = fields.One2Many('crm.openline.channel', 'line', "Channels")

    @classmethod
    def get_timezones(cls):
        return [(None, '')] + [(z, z) for z in sorted(
                zoneinfo.available_timezones())]

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def default_distribution(cls):
        return 'evenly'

    @classmethod
    def default_accept_timeout(cls):
        return 60

    @classmethod
    def default_crm_mode(cls):
        return 'lead'

    @classmethod
    def default_rating_request(cls):
        return False

    @classmethod
    def validate_fields(cls, lines, field_names):
        super().validate_fields(lines, field_names)
        for line in lines:
            if line.accept_timeout is not None and line.accept_timeout < 1:
                raise ValidationError(gettext(
                        'crm_openlines.msg_line_accept_timeout',
                        line=line.rec_name))
            if line.auto_close is not None and line.auto_close < 1:
                raise ValidationError(gettext(
                        'crm_openlines.msg_line_auto_close',
                        line=line.rec_name))

    def periods(self):
        return [Period(h.weekday, h.start, h.end) for h in self.hours]

    def is_open(self, now):
        "Whether now (naive UTC) is inside the working hours"
        return is_open(self.periods(), self.timezone, now)


class Hours(ModelSQL, ModelView):
    __name__ = 'crm.openline.hours'

    line = fields.Many2One(
        'crm.openline', "Line", required=True, ondelete='CASCADE')
    weekday = fields.Selection(WEEKDAYS, "Day", required=True, sort=False)
    start = fields.Time("From", required=True)
    end = fields.Time("To", required=True,
        help="The end of the period, excluded; 00:00 means midnight.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('line')
        cls._order = [('weekday', 'ASC'), ('start', 'ASC'), ('id', 'ASC')]

    @classmethod
    def default_start(cls):
        return datetime.time(9)

    @classmethod
    def default_end(cls):
        return datetime.time(18)


class Operator(sequence_ordered(), ModelSQL, ModelView):
    __name__ = 'crm.openline.operator'

    line = fields.Many2One(
        'crm.openline', "Line", required=True, ondelete='CASCADE')
    employee = fields.Many2One(
        'company.employee', "Employee", required=True, ondelete='CASCADE')
    last_offered = fields.DateTime("Last Offered", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('line')
        t = cls.__table__()
        cls._sql_constraints += [
            ('line_employee_unique', Unique(t, t.line, t.employee),
                'crm_openlines.msg_operator_unique'),
            ]


class Answer(sequence_ordered(), ModelSQL, ModelView):
    __name__ = 'crm.openline.answer'

    line = fields.Many2One(
        'crm.openline', "Line", required=True, ondelete='CASCADE')
    name = fields.Char("Name", required=True, translate=True)
    text = fields.Text("Text", required=True, translate=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('line')
