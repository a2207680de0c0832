# The deal and lead boards (Kanban) of the web client: the RPC methods the
# board page calls inside the user's sao session, and the user's last
# filter choice.
#
# How the page reaches the server without a second login: sao 8.0 keeps
# its session in the HttpOnly cookie `tryton_session` with path
# /<database>.  The board page is served under /<database>/crm/board
# (board_routes.py), so the browser sends that cookie with the page's
# JSON-RPC calls to /<database>/rpc/ and trytond's own dispatcher
# authenticates them, runs them as the user (record rules, access rights)
# and refuses them (401) once the session is gone.
import json
from decimal import Decimal, InvalidOperation

from trytond.i18n import gettext
from trytond.model import Model, ModelSQL, Unique, fields
from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError
from trytond.pool import Pool, PoolMeta
from trytond.rpc import RPC
from trytond.transaction import Transaction, without_check_access

from . import board_query as query
from .access import current_employee
from .board_labels import labels

if __name__ == 'trytond.modules.crm_portal.board':
    # Registers the HTTP routes of the page (once, under trytond's name).
    from . import board_routes  # noqa: F401

__all__ = ['Board', 'Preference', 'Action']


class Board(Model):
    "CRM Board"
    __name__ = 'crm.board'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__rpc__.update({
                'setup': RPC(),
                'load': RPC(),
                'column': RPC(),
                'remember': RPC(readonly=False),
                'move': RPC(readonly=False),
                'quick_create': RPC(readonly=False),
                })

    @classmethod
    def setup(cls, kind):
        "What the page needs before the first load"
        pool = Pool()
        Pipeline = pool.get('crm.pipeline')
        Employee = pool.get('company.employee')
        ModelData = pool.get('ir.model.data')
        Preference = pool.get('crm.board.preference')
        context = Transaction().context
        company = context.get('company', -1)
        filters = query.clean_filters(kind, Preference.get(kind))
        pipelines = []
        if kind == 'deal':
            pipelines = [{'id': p.id, 'name': p.rec_name}
                for p in Pipeline.search([('company', '=', company)])]
            if filters['pipeline'] not in {p['id'] for p in pipelines}:
                filters['pipeline'] = query.default_pipeline()
        employees = [{'id': e.id, 'name': e.rec_name}
            for e in Employee.search(
                [('company', '=', company)], limit=500)]
        view = 'deal_view_form' if kind == 'deal' else 'lead_view_form'
        return {
            'kind': kind,
            'filters': filters,
            'pipelines': pipelines,
            'employees': employees,
            'employee': current_employee(),
            'form_view': ModelData.get_id('crm_portal', view),
            'page_size': query.MORE_SIZE,
            'labels': labels(kind),
            }

    @classmethod
    def load(cls, kind, filters, offsets=None):
        """Return the columns of the board with their totals and the first
        page of cards of each (from offsets[column id] when given)"""
        filters = query.clean_filters(kind, filters)
        if kind == 'deal' and not filters['pipeline']:
            filters['pipeline'] = query.default_pipeline()
        offsets = offsets if isinstance(offsets, dict) else {}
        domain = query.board_domain(kind, filters)
        totals = query.column_totals(kind, domain)
        columns = []
        for record in query.column_records(kind, filters):
            count, amount = totals.get(record.id, (0, 0))
            offset = offsets.get(str(record.id), 0)
            columns.append({
                    'id': record.id,
                    'name': record.rec_name,
                    'color': record.color or '',
                    'kind': record.kind,
                    'count': count,
                    'amount': str(amount),
                    'offset': offset,
                    'cards': query.cards(kind, domain, record.id, offset)
                    if count else [],
                    })
        return {'filters': filters, 'columns': columns}

    @classmethod
    def column(cls, kind, filters, column_id, offset, limit=None):
        "Another page of cards of one column"
        filters = query.clean_filters(kind, filters)
        domain = query.board_domain(kind, filters)
        return query.cards(kind, domain, int(column_id), offset,
            limit or query.MORE_SIZE)

    @classmethod
    def remember(cls, kind, filters):
        "Keep filters as the user's last choice for the board of kind"
        Preference = Pool().get('crm.board.preference')
        Preference.set(kind, query.clean_filters(kind, filters))

    @classmethod
    def _get_record(cls, kind, record_id):
        "The record the user can see, else an error naming the reason"
        Opportunity = Pool().get('sale.opportunity')
        records = Opportunity.search([
                ('id', '=', int(record_id)),
                ('crm_type', '=', kind),
                ], limit=1)
        if not records:
            raise UserError(gettext('crm_portal.msg_board_not_found'))
        return records[0]

    @classmethod
    def _get_target(cls, kind, record, target_id):
        pool = Pool()
        if kind == 'deal':
            Stage = pool.get('crm.pipeline.stage')
            targets = Stage.search([
                    ('id', '=', int(target_id)),
                    ('pipeline', '=', record.pipeline.id),
                    ], limit=1)
        else:
            Status = pool.get('crm.lead.status')
            targets = Status.search([('id', '=', int(target_id))], limit=1)
        if not targets:
            raise UserError(gettext('crm_portal.msg_board_column_unknown'))
        return targets[0]

    @classmethod
    def move(cls, kind, record_id, target_id, timestamp, lost_reason=None):
        """Put the record in the column target_id and return its card.

        timestamp is the one of the card the user moved: a record changed
        since is refused (the user sees the change first).  The write runs
        as the user: record rules decide, the stage's automation rules run
        as for any change of stage."""
        Opportunity = Pool().get('sale.opportunity')
        query.clean_filters(kind, {})
        record = cls._get_record(kind, record_id)
        Opportunity.lock([record])
        current, = Opportunity.read([record.id], ['_timestamp'])
        if str(current['_timestamp']) != str(timestamp):
            raise UserError(gettext(
                    'crm_portal.msg_board_stale', record=record.rec_name))
        target = cls._get_target(kind, record, target_id)
        field = query.column_field(kind)
        values = {field: target.id}
        if kind == 'lead' and target.kind == 'converted':
            raise UserError(gettext(
                    'crm_portal.msg_board_lead_convert',
                    record=record.rec_name))
        if kind == 'deal' and target.kind == 'lost':
            reason = (lost_reason or '').strip() or record.lost_reason
            if not reason:
                raise UserError(gettext(
                        'crm_portal.msg_board_lost_reason',
                        record=record.rec_name))
            values['lost_reason'] = reason
        if getattr(record, field) != target:
            try:
                Opportunity.write([record], values)
            except AccessError as exception:
                # The rule names of the framework's message mean little to
                # a seller: say what was refused.
                raise UserError(gettext(
                        'crm_portal.msg_board_move_refused',
                        record=record.rec_name,
                        stage=target.rec_name)) from exception
        return query.make_cards([record.id])[0]

    @classmethod
    def quick_create(cls, kind, target_id, values):
        "Create a deal or lead in the column target_id; return its card"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Stage = pool.get('crm.pipeline.stage')
        values = values if isinstance(values, dict) else {}
        title = (values.get('title') or '').strip()[:200]
        if not title:
            raise UserError(gettext('crm_portal.msg_board_title_required'))
        try:
            amount = Decimal(str(values.get('amount') or 0))
        except InvalidOperation:
            amount = None
        if amount is None or not amount.is_finite():
            raise UserError(gettext('crm_portal.msg_board_amount_invalid'))
        client = (values.get('client') or '').strip()[:200]
        record = {
            'crm_type': kind,
            'description': title,
            'amount': amount,
            'employee': current_employee(),
            }
        if kind == 'deal':
            # A deal has a client (the party); a lead keeps the name only.
            if not client:
                raise UserError(gettext(
                        'crm_portal.msg_board_client_required'))
            record['party'] = cls._client(client).id
        else:
            record['contact_company_name'] = client or None
        if kind == 'deal':
            stages = Stage.search([('id', '=', int(target_id))], limit=1)
            if not stages or stages[0].kind != 'in_progress':
                raise UserError(gettext(
                        'crm_portal.msg_board_column_unknown'))
            record['pipeline'] = stages[0].pipeline.id
            record['stage'] = stages[0].id
        else:
            record['lead_status'] = int(target_id)
        with Transaction().set_context(crm_type=kind):
            created, = Opportunity.create([record])
        return query.make_cards([created.id])[0]

    @classmethod
    def _client(cls, name):
        "The party named name the user can see, else a new company"
        Party = Pool().get('party.party')
        parties = Party.search([('name', '=', name)], limit=1,
            order=[('id', 'ASC')])
        if parties:
            return parties[0]
        party, = Party.create([{
                    'name': name,
                    'crm_kind': 'organisation',
                    'crm_responsible': current_employee(),
                    }])
        return party


class Preference(ModelSQL):
    "CRM Board Preference"
    __name__ = 'crm.board.preference'

    user = fields.Many2One(
        'res.user', "User", required=True, ondelete='CASCADE')
    kind = fields.Selection([
            ('deal', "Deals"),
            ('lead', "Leads"),
            ], "Board", required=True)
    filters = fields.Text("Filters")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('user_kind_unique', Unique(t, t.user, t.kind),
                'crm_portal.msg_board_preference_unique'),
            ]

    @classmethod
    def get(cls, kind):
        "The last filters of the current user, or {}"
        with without_check_access():
            records = cls.search([
                    ('user', '=', Transaction().user),
                    ('kind', '=', kind),
                    ], limit=1)
        if not records:
            return {}
        try:
            return json.loads(records[0].filters or '{}')
        except ValueError:
            return {}

    @classmethod
    def set(cls, kind, filters):
        # The user writes only their own row: access is checked here.
        user = Transaction().user
        with without_check_access():
            records = cls.search([
                    ('user', '=', user), ('kind', '=', kind)], limit=1)
            text = query.dump_filters(filters)
            if records:
                if records[0].filters != text:
                    cls.write(records, {'filters': text})
            else:
                cls.create([{'user': user, 'kind': kind, 'filters': text}])


class Action(metaclass=PoolMeta):
    __name__ = 'ir.action'

    @classmethod
    def get_action_values(cls, type_, action_ids, columns=None):
        """Put the database in the URL of the CRM pages.

        sao opens an ir.action.url with window.open; the page must be under
        /<database>/ for the browser to send the session cookie.  The URL
        is stored with a {database} placeholder so that a copied or renamed
        database keeps working."""
        from urllib.parse import quote
        values = super().get_action_values(
            type_, action_ids, columns=columns)
        if type_ == 'ir.action.url':
            database = quote(Transaction().database.name, safe='')
            for value in values:
                if (value.get('url') or '').startswith('/{database}/'):
                    value['url'] = value['url'].replace(
                        '{database}', database, 1)
        return values
