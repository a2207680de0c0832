# Call statistics: calls per employee, day and line, missed share, average
# wait and talk time.
from sql.aggregate import Avg, Count, Min, Sum
from sql.conditionals import Case

from trytond.model import ModelSQL, ModelView, fields
from trytond.pool import Pool
from trytond.transaction import Transaction


class CallReport(ModelSQL, ModelView):
    "Call Statistics"
    __name__ = 'crm.telephony.call.report'

    company = fields.Many2One('company.company', "Company")
    date = fields.Date("Date")
    employee = fields.Many2One('company.employee', "Employee")
    line = fields.Many2One('crm.telephony.line', "Line")
    calls = fields.Integer("Calls")
    incoming = fields.Integer("Incoming")
    outgoing = fields.Integer("Outgoing")
    answered = fields.Integer("Answered")
    missed = fields.Integer("Missed")
    missed_share = fields.Function(
        fields.Float("Missed Share", digits=(1, 4)), 'get_missed_share')
    wait_average = fields.Float("Average Wait (s)", digits=(16, 1))
    talk_average = fields.Float("Average Talk (s)", digits=(16, 1))
    talk_total = fields.Integer("Talk Time (s)")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('date', 'DESC'), ('employee', 'ASC'), ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        Call = Pool().get('crm.telephony.call')
        call = Call.__table__()
        company = Transaction().context.get('company')
        incoming = call.direction == 'incoming'
        answered = call.result == 'answered'
        date = cls.date.sql_cast(call.start)
        return call.select(
            Min(call.id).as_('id'),
            call.company.as_('company'),
            date.as_('date'),
            call.employee.as_('employee'),
            call.line.as_('line'),
            Count(call.id).as_('calls'),
            Sum(Case((incoming, 1), else_=0)).as_('incoming'),
            Sum(Case((incoming, 0), else_=1)).as_('outgoing'),
            Sum(Case((answered, 1), else_=0)).as_('answered'),
            Sum(Case((incoming & (call.result == 'missed'), 1),
                    else_=0)).as_('missed'),
            cls.wait_average.sql_cast(
                Avg(Case((incoming, call.wait)))
                ).as_('wait_average'),
            cls.talk_average.sql_cast(
                Avg(Case((answered, call.duration)))
                ).as_('talk_average'),
            Sum(Case((answered, call.duration), else_=0)).as_('talk_total'),
            where=(call.company == company)
            & (call.state == 'finished'),
            group_by=[call.company, date, call.employee, call.line])

    def get_missed_share(self, name):
        if self.incoming:
            return round(self.missed / self.incoming, 4)
        return 0.0
