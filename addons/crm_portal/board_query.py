# What the deal and lead boards read: the filter domain, column totals and
# pages of cards, always as the calling user so record rules apply.
import datetime
import json
from decimal import Decimal

from sql.aggregate import Count, Sum

from trytond.pool import Pool
from trytond.transaction import Transaction

from .access import current_employee

KINDS = {'deal', 'lead'}
SCOPES = {'mine', 'team', 'all'}
PERIODS = {'', 'today', 'week', 'month', 'quarter', 'year'}
PAGE_SIZE = 50
# Further pages of a column are larger: fewer calls while scrolling far.
MORE_SIZE = 100
MAX_PAGE_SIZE = 200
SEARCH_MAX = 100
# Card columns read in one query (dotted names join the related records).
CARD_FIELDS = [
    'number', 'description', 'party.rec_name', 'contact_party.rec_name',
    'contact_name', 'contact_company_name', 'amount', 'currency.code',
    'employee.rec_name', 'stage', 'lead_status', '_timestamp']


def clean_filters(kind, filters):
    """Return the filters the board understands, with safe types.

    The page sends what the user chose; anything else is dropped so a
    forged request can only narrow what the record rules already allow."""
    if kind not in KINDS:
        raise ValueError("Unknown board kind: %r" % kind)
    filters = filters if isinstance(filters, dict) else {}

    def as_id(value):
        try:
            value = int(value)
        except (TypeError, ValueError):
            return None
        return value if value > 0 else None
    scope = filters.get('scope')
    period = filters.get('period') or ''
    search = filters.get('search')
    return {
        'pipeline': as_id(filters.get('pipeline')) if kind == 'deal' else None,
        'scope': scope if scope in SCOPES else 'all',
        'responsible': as_id(filters.get('responsible')),
        'period': period if period in PERIODS else '',
        'search': search.strip()[:SEARCH_MAX]
        if isinstance(search, str) else '',
        }


def dump_filters(filters):
    return json.dumps(filters, sort_keys=True)


def period_start(period, today):
    if period == 'today':
        return today
    if period == 'week':
        return today - datetime.timedelta(days=today.weekday())
    if period == 'month':
        return today.replace(day=1)
    if period == 'quarter':
        return today.replace(month=(today.month - 1) // 3 * 3 + 1, day=1)
    if period == 'year':
        return today.replace(month=1, day=1)


def default_pipeline():
    Pipeline = Pool().get('crm.pipeline')
    pipeline = Pipeline.get_default()
    return pipeline.id if pipeline else None


def board_domain(kind, filters):
    "The domain of the records the board shows (columns not included)"
    pool = Pool()
    Rule = pool.get('ir.rule')
    Date = pool.get('ir.date')
    context = Transaction().context
    domain = [
        ('crm_type', '=', kind),
        ('company', '=', context.get('company', -1)),
        ]
    if kind == 'deal':
        domain.append(('pipeline', '=', filters['pipeline'] or -1))
    employee = current_employee()
    if filters['scope'] == 'mine':
        domain.append(('employee', '=', employee or -1))
    elif filters['scope'] == 'team':
        domain.append(('employee', 'in', Rule.crm_employees(employee)))
    if filters['responsible']:
        domain.append(('employee', '=', filters['responsible']))
    start = period_start(filters['period'], Date.today())
    if start:
        domain.append(('start_date', '>=', start))
    if filters['search']:
        text = '%' + filters['search'] + '%'
        domain.append(['OR',
                ('rec_name', 'ilike', text),
                ('party.rec_name', 'ilike', text),
                ('contact_name', 'ilike', text),
                ('contact_company_name', 'ilike', text),
                ])
    return domain


def column_field(kind):
    return 'stage' if kind == 'deal' else 'lead_status'


def column_records(kind, filters):
    "The stages of the pipeline, or the lead statuses, in board order"
    pool = Pool()
    if kind == 'deal':
        Stage = pool.get('crm.pipeline.stage')
        return Stage.search([('pipeline', '=', filters['pipeline'] or -1)])
    Status = pool.get('crm.lead.status')
    return Status.search([])


def column_totals(kind, domain):
    """Return {column id: (count, amount)} of the records of domain.

    One grouped query over the rule-filtered ids: the totals cover every
    record of a column, not only the loaded page."""
    pool = Pool()
    Opportunity = pool.get('sale.opportunity')
    table = Opportunity.__table__()
    cursor = Transaction().connection.cursor()
    column = getattr(table, column_field(kind))
    ids = Opportunity.search(domain, order=[], query=True)
    cursor.execute(*table.select(
            column, Count(table.id), Sum(table.amount),
            where=table.id.in_(ids),
            group_by=[column]))
    return {c: (n, Decimal(str(a or 0))) for c, n, a in cursor}


def cards(kind, domain, column_id, offset=0, limit=PAGE_SIZE):
    "A page of cards of one column, newest first"
    Opportunity = Pool().get('sale.opportunity')
    limit = max(1, min(int(limit or PAGE_SIZE), MAX_PAGE_SIZE))
    offset = max(0, int(offset or 0))
    records = Opportunity.search(
        domain + [(column_field(kind), '=', column_id)],
        offset=offset, limit=limit, order=[('id', 'DESC')])
    return make_cards([r.id for r in records])


def make_cards(ids):
    "The cards of opportunity ids, in the order of ids"
    pool = Pool()
    Opportunity = pool.get('sale.opportunity')
    if not ids:
        return []
    rows = {r['id']: r for r in Opportunity.read(ids, CARD_FIELDS)}
    activities = next_activities(ids)
    now = datetime.datetime.now()
    result = []
    for id_ in ids:
        row = rows[id_]
        client = (row.get('party.') or row.get('contact_party.') or {})
        activity = activities.get(id_)
        result.append({
                'id': id_,
                'title': row['description'] or row['number'] or '',
                'number': row['number'] or '',
                'client': client.get('rec_name') or row['contact_company_name']
                or row['contact_name'] or '',
                'amount': str(row['amount'] or 0),
                'currency': (row.get('currency.') or {}).get('code', ''),
                'responsible': (row.get('employee.') or {}).get(
                    'rec_name', ''),
                'responsible_id': (row.get('employee.') or {}).get('id'),
                'column': row['stage'] or row['lead_status'],
                'activity': activity and {
                    'subject': activity['subject'],
                    'type': activity['type'],
                    'deadline': activity['deadline'].isoformat(
                        sep=' ', timespec='minutes'),
                    'overdue': activity['deadline'] < now,
                    },
                'timestamp': row['_timestamp'],
                })
    return result


def next_activities(ids):
    "The first open activity with a deadline of each opportunity"
    Activity = Pool().get('crm.activity')
    result = {}
    for row in Activity.search_read([
                ('opportunity', 'in', ids),
                ('done', '=', False),
                ('deadline', '!=', None),
                ], order=[('deadline', 'ASC'), ('id', 'ASC')],
            fields_names=['opportunity', 'subject', 'type', 'deadline']):
        result.setdefault(row['opportunity'], row)
    return result
