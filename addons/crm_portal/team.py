# Intake team: who receives new inquiries in turn (round-robin).
import datetime

from sql import For, Literal, NullsFirst
from sql.functions import CurrentTimestamp

from trytond import backend
from trytond.model import (
    DeactivableMixin, ModelSQL, ModelView, Unique, fields, sequence_ordered)
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction

from .rest_ratelimit import autocommit_cursor


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
        process shares it.  On PostgreSQL it is taken at once, on a
        connection of its own: intakes of several workers neither wait for
        each other on the member rows until their commit nor fail to
        serialise (REPEATABLE READ refuses to lock a member that another
        intake updated since the transaction began; under steady load the
        retries ran out and inquiries were lost).  A turn taken by an
        intake that fails later is spent: the next member gets the next
        inquiry.  Members not committed yet (made in this transaction) are
        seen only by the transaction: then it takes the turn itself."""
        employee_id = cls._take_turn_at_once(company)
        if employee_id is None:
            employee_id = cls._take_turn(company)
        if employee_id is None:
            return None
        # records read before must not be served from the cache
        Transaction().counter += 1
        return Pool().get('company.employee')(employee_id)

    @classmethod
    def _turn_query(cls, table, company):
        return table.select(
            table.id, table.employee,
            where=(table.company == company)
            & (table.active == Literal(True)),
            order_by=[
                NullsFirst(table.last_assigned.asc),
                NullsFirst(table.sequence.asc),
                table.id.asc],
            limit=1)

    @classmethod
    def _take_turn_at_once(cls, company):
        "The employee of the turn taken and committed at once, or None"
        if backend.name != 'postgresql':
            return None
        table = cls.__table__()
        query = cls._turn_query(table, company)
        query.columns = [table.id]
        sql, params = tuple(query)
        with autocommit_cursor() as cursor:
            # One statement: the member's row is locked only while it runs;
            # a row locked by another worker's statement is skipped.
            cursor.execute(
                'UPDATE "%s" SET "last_assigned" = %%s, "write_uid" = %%s, '
                '"write_date" = CURRENT_TIMESTAMP WHERE "id" = (%s '
                'FOR UPDATE SKIP LOCKED) RETURNING "employee"' % (
                    cls._table, sql),
                [datetime.datetime.now(), Transaction().user] + list(params))
            row = cursor.fetchone()
        return row[0] if row else None

    @classmethod
    def _take_turn(cls, company):
        """The employee of the turn taken in the transaction, or None.

        The chosen row stays locked until the transaction ends (PostgreSQL):
        a concurrent intake waits for it, then fails to serialise and is
        retried."""
        transaction = Transaction()
        database = transaction.database
        cursor = transaction.connection.cursor()
        table = cls.__table__()
        query = cls._turn_query(table, company)
        if database.has_select_for():
            query.for_ = For('UPDATE')
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
        return employee_id
