# Intake team: who receives new inquiries in turn (round-robin).
import datetime

from sql import For, Literal, NullsFirst
from sql.functions import CurrentTimestamp

from trytond.model import (
    DeactivableMixin, ModelSQL, ModelView, Unique, fields, sequence_ordered)
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction


class TeamMember(
        DeactivableMixin, sequence_ordered(), ModelSQL, ModelView):
    __name__ = 'crm.intake.team.member'

    company = fields.Many2One(
        'company.company', "Company", required=True, ondelete='CASCADE')
    employee = fields.Many2One(
        'company.employee', "Employee", required=True, ondelete='CASCADE',
        domain=[('company', '=', Eval('company', -1))])
    # Timestamp keeps microseconds: two turns in one second stay ordered.
    last_assigned = fields.Timestamp(
        "Last Assigned", readonly=True,
        help="When this member last received a new inquiry; "
        "the member waiting longest gets the next one.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('company_employee_unique', Unique(t, t.company, t.employee),
                'crm_portal.msg_intake_team_member_unique'),
            ]
        cls._order = [
            ('company', 'ASC'),
            ('sequence', 'ASC NULLS FIRST'),
            ('id', 'ASC'),
            ]

    @staticmethod
    def default_company():
        return Transaction().context.get('company')

    def get_rec_name(self, name):
        return self.employee.rec_name

    @classmethod
    def search_rec_name(cls, name, clause):
        return [('employee.rec_name',) + tuple(clause[1:])]

    @classmethod
    def next_employee(cls, company):
        """Return the employee whose turn it is for company and record it.

        The turn is kept in the database (last_assigned) so every worker
        process shares it.  On PostgreSQL the chosen row is locked until
        the transaction ends: a concurrent intake waits for it and then
        fails to serialise, so the request is retried and picks the next
        member instead of the same one."""
        transaction = Transaction()
        database = transaction.database
        cursor = transaction.connection.cursor()
        table = cls.__table__()
        query = table.select(
            table.id, table.employee,
            where=(table.company == company)
            & (table.active == Literal(True)),
            order_by=[
                NullsFirst(table.last_assigned.asc),
                NullsFirst(table.sequence.asc),
                table.id.asc],
            limit=1)
        if database.has_select_for():
            query.for_ = For('UPDATE', of=[table])
        cursor.execute(*query)
        row = cursor.fetchone()
        if not row:
            return None
        member_id, employee_id = row
        cursor.execute(*table.update(
                [table.last_assigned, table.write_uid, table.write_date],
                [datetime.datetime.now(), transaction.user,
                    CurrentTimestamp()],
                where=table.id == member_id))
        # records read before must not be served from the cache
        transaction.counter += 1
        return Pool().get('company.employee')(employee_id)
