# Conversations per line, channel and operator with their first-response
# time, resolution time and rating.
import datetime
from collections import defaultdict

from sql import Literal, Null
from sql.aggregate import Count, Min, Sum
from sql.conditionals import Case, Coalesce
from sql.functions import CharLength

from trytond.model import ModelSQL, ModelView, fields
from trytond.pool import Pool
from trytond.transaction import Transaction


class ConversationReport(ModelSQL, ModelView):
    __name__ = 'crm.openline.report'

    company = fields.Many2One('company.company', "Company")
    line = fields.Many2One('crm.openline', "Line")
    channel = fields.Many2One('crm.openline.channel', "Channel")
    operator = fields.Many2One('company.employee', "Operator")
    conversations = fields.Integer("Conversations")
    closed = fields.Integer("Closed")
    rated = fields.Integer("Rated")
    rating = fields.Function(fields.Float("Average Rating", digits=(3, 2)),
        'get_times')
    first_response_time = fields.Function(
        fields.TimeDelta("Average First Response"), 'get_times')
    resolution_time = fields.Function(
        fields.TimeDelta("Average Resolution"), 'get_times')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('conversations', 'DESC'), ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        pool = Pool()
        Conversation = pool.get('crm.openline.conversation')
        table = Conversation.__table__()
        where = Literal(True)
        company = Transaction().context.get('company')
        if company:
            where &= table.company == company
        rated = (table.rating != Null) & (CharLength(
                Coalesce(table.rating, '')) > 0)
        return table.select(
            Min(table.id).as_('id'),
            table.company.as_('company'),
            table.line.as_('line'),
            table.channel.as_('channel'),
            table.operator.as_('operator'),
            Count(table.id).as_('conversations'),
            Sum(Case((table.state == 'closed', 1), else_=0)).as_('closed'),
            Sum(Case((rated, 1), else_=0)).as_('rated'),
            where=where,
            group_by=[table.company, table.line, table.channel,
                table.operator])

    @classmethod
    def get_times(cls, reports, names):
        "Averages over the conversations of each row, in Python"
        pool = Pool()
        Conversation = pool.get('crm.openline.conversation')
        result = {n: {r.id: None for r in reports} for n in names}
        keys = {(r.line.id if r.line else None,
                r.channel.id if r.channel else None,
                r.operator.id if r.operator else None): r.id
            for r in reports}
        values = defaultdict(lambda: defaultdict(list))
        conversations = Conversation.search([
                ('line', 'in', list({k[0] for k in keys if k[0]})),
                ])
        for conversation in conversations:
            key = (conversation.line.id,
                conversation.channel.id if conversation.channel else None,
                conversation.operator.id if conversation.operator else None)
            if key not in keys:
                continue
            row = values[keys[key]]
            if conversation.first_response_time is not None:
                row['first_response_time'].append(
                    conversation.first_response_time)
            if conversation.resolution_time is not None:
                row['resolution_time'].append(conversation.resolution_time)
            if conversation.rating:
                row['rating'].append(int(conversation.rating))
        for id_, row in values.items():
            for name in names:
                items = row.get(name)
                if not items:
                    continue
                if name == 'rating':
                    result[name][id_] = sum(items) / len(items)
                else:
                    result[name][id_] = sum(
                        items, datetime.timedelta()) / len(items)
        return result
