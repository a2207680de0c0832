# The facts the routing decision needs, read in one SQL query each: the
# operators of a line with their availability and load, the offers whose
# time ran out, the conversations whose client fell silent.
from sql import Null
from sql.aggregate import Count
from sql.conditionals import Coalesce

from trytond.model import Model
from trytond.pool import Pool
from trytond.transaction import Transaction

from .routing import Candidate, accept_expired, choose, silence_expired


class Router(Model):
    "Open Line Router"
    __name__ = 'crm.openline.router'

    @classmethod
    def candidates(cls, line):
        "The operators of line as Candidates"
        pool = Pool()
        Operator = pool.get('crm.openline.operator')
        Employee = pool.get('company.employee')
        Conversation = pool.get('crm.openline.conversation')
        operator = Operator.__table__()
        employee = Employee.__table__()
        conversation = Conversation.__table__()
        cursor = Transaction().connection.cursor()
        load = conversation.select(
            conversation.operator, Count(conversation.id).as_('load'),
            where=(conversation.state != 'closed')
            & (conversation.operator != Null),
            group_by=[conversation.operator])
        cursor.execute(*operator.join(
                employee, condition=operator.employee == employee.id
                ).join(load, 'LEFT',
                condition=load.operator == operator.employee
                ).select(
                operator.employee, operator.sequence,
                employee.openline_status, Coalesce(load.load, 0),
                operator.last_offered,
                where=operator.line == line.id))
        return [Candidate(e, s, st == 'available', n, lo)
            for e, s, st, n, lo in cursor]

    @classmethod
    def choose(cls, line, tried=(), responsible=None):
        return choose(line.distribution, cls.candidates(line), tried,
            responsible)

    @classmethod
    def offered(cls, line, employees, moment):
        "Remember when the operators were last offered a conversation"
        Operator = Pool().get('crm.openline.operator')
        table = Operator.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.update(
                [table.last_offered], [moment],
                where=(table.line == line.id)
                & table.employee.in_(list(employees))))

    @classmethod
    def expired_offers(cls, moment):
        "Ids of the conversations offered to an operator too long ago"
        pool = Pool()
        Conversation = pool.get('crm.openline.conversation')
        Line = pool.get('crm.openline')
        conversation = Conversation.__table__()
        line = Line.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*conversation.join(
                line, condition=conversation.line == line.id).select(
                conversation.id, conversation.offered_at,
                line.accept_timeout,
                where=(conversation.state == 'waiting')
                & (conversation.offered_at != Null)
                & (conversation.offered_at <= moment)))
        return [i for i, offered_at, timeout in cursor
            if accept_expired(offered_at, timeout, moment)]

    @classmethod
    def silent_conversations(cls, moment):
        "Ids of the conversations in work whose client is silent too long"
        pool = Pool()
        Conversation = pool.get('crm.openline.conversation')
        Line = pool.get('crm.openline')
        conversation = Conversation.__table__()
        line = Line.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*conversation.join(
                line, condition=conversation.line == line.id).select(
                conversation.id, conversation.last_client_message,
                line.auto_close,
                where=(conversation.state == 'work')
                & (line.auto_close != Null)
                & (conversation.last_client_message <= moment)))
        return [i for i, last, minutes in cursor
            if silence_expired(last, minutes, moment)]
