# Event log per record: who changed which field from what to what, when.
import datetime

from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction, without_check_access

from .access import current_employee
from .access_domain import is_leaf

AUDITED = {
    'sale.opportunity': [
        'description', 'employee', 'party', 'contact_party', 'lead_status',
        'pipeline', 'stage', 'amount', 'conversion_probability',
        'lost_reason', 'source', 'contact_name', 'contact_phone',
        'contact_email', 'contact_company_name', 'state',
        ],
    'party.party': [
        'name', 'crm_kind', 'crm_responsible', 'employer', 'job_title',
        'crm_source', 'active',
        ],
    'crm.activity': [
        'subject', 'responsible', 'deadline', 'done', 'opportunity',
        'party',
        ],
    }


def resource_domain(field, model, domain):
    """Return domain on the Reference field to records of model matching
    domain: each clause goes through the reference to model"""
    def through(clause):
        if is_leaf(clause):
            name, operator, value, *rest = clause
            return (f'{field}.{name}', operator, value, model, *rest)
        if isinstance(clause, (list, tuple)):
            return [c if isinstance(c, str) else through(c) for c in clause]
        return clause
    result = [(field, 'like', model + ',%')]
    if domain:
        result.append(through(domain))
    return result


def value_text(record, name):
    "Return the value of field name of record as the user reads it"
    field = record._fields[name]
    value = getattr(record, name, None)
    if value is None:
        return ''
    if field._type in {'many2one', 'reference'}:
        return value.rec_name if hasattr(value, 'rec_name') else str(value)
    if field._type == 'selection':
        selection = field.selection
        if isinstance(selection, (list, tuple)):
            return str(dict(selection).get(value, value))
        return str(value)
    if field._type == 'boolean':
        return '1' if value else '0'
    return str(value)


class AuditEntry(ModelSQL, ModelView):
    __name__ = 'crm.audit.entry'

    resource = fields.Reference(
        "Record", selection='get_resources', required=True, readonly=True)
    field = fields.Char("Field Name", readonly=True)
    field_label = fields.Char("Field", readonly=True)
    old_value = fields.Text("Old Value", readonly=True)
    new_value = fields.Text("New Value", readonly=True)
    user = fields.Many2One(
        'res.user', "User", readonly=True, ondelete='SET NULL')
    date = fields.DateTime("Date", required=True, readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(Index(t, (t.resource, Index.Equality())))
        cls._order = [('date', 'DESC'), ('id', 'DESC')]

    @staticmethod
    def default_date():
        return datetime.datetime.now()

    @classmethod
    def get_resources(cls):
        IrModel = Pool().get('ir.model')
        return [(None, '')] + [(m, IrModel.get_name(m)) for m in AUDITED]

    @classmethod
    def log(cls, records, changes):
        """Record changes: {record id: {field: (old text, new text)}}
        of records of one model"""
        if not records:
            return
        Model = records[0].__class__
        user = Transaction().user or None
        now = datetime.datetime.now()
        vlist = []
        for record in records:
            for name, (old, new) in sorted(
                    changes.get(record.id, {}).items()):
                vlist.append({
                        'resource': str(record),
                        'field': name,
                        'field_label': Model._fields[name].string,
                        'old_value': old,
                        'new_value': new,
                        'user': user,
                        'date': now,
                        })
        if vlist:
            with without_check_access():
                cls.create(vlist)


class AuditMixin:
    "Log the changes of the fields listed in AUDITED"
    __slots__ = ()

    @classmethod
    def on_write(cls, records, values):
        callbacks = super().on_write(records, values)
        names = [n for n in AUDITED.get(cls.__name__, [])
            if n in values and n in cls._fields]
        if not names or Transaction().context.get('_crm_no_audit'):
            return callbacks
        ids = [r.id for r in records]
        with without_check_access():
            old = {r.id: {n: value_text(r, n) for n in names}
                for r in cls.browse(ids)}

        def log():
            Entry = Pool().get('crm.audit.entry')
            with without_check_access():
                new_records = cls.browse(ids)
                changes = {}
                for record in new_records:
                    for name in names:
                        before = old[record.id][name]
                        after = value_text(record, name)
                        if before != after:
                            changes.setdefault(record.id, {})[name] = (
                                before, after)
                Entry.log(new_records, changes)
        return callbacks + [log]

    @classmethod
    def copy(cls, records, default=None):
        default = default.copy() if default is not None else {}
        # A copy starts its own history.
        default.setdefault('history', None)
        return super().copy(records, default=default)

    @classmethod
    def on_delete(cls, records):
        Entry = Pool().get('crm.audit.entry')
        callbacks = super().on_delete(records)
        resources = [str(r) for r in records]

        def clean():
            with without_check_access():
                Entry.delete(Entry.search([('resource', 'in', resources)]))
        return callbacks + [clean]


class Opportunity(AuditMixin, metaclass=PoolMeta):
    __name__ = 'sale.opportunity'

    history = fields.One2Many(
        'crm.audit.entry', 'resource', "History", readonly=True)


class Party(AuditMixin, metaclass=PoolMeta):
    __name__ = 'party.party'

    history = fields.One2Many(
        'crm.audit.entry', 'resource', "History", readonly=True)


class Activity(AuditMixin, metaclass=PoolMeta):
    __name__ = 'crm.activity'

    history = fields.One2Many(
        'crm.audit.entry', 'resource', "History", readonly=True)


class Rule(metaclass=PoolMeta):
    __name__ = 'ir.rule'

    @classmethod
    def _get_context(cls, model_name):
        context = super()._get_context(model_name)
        if model_name == 'crm.audit.entry':
            context['crm_audit_resources'] = cls.crm_audit_domain()
        return context

    @classmethod
    def _get_cache_key(cls, model_names):
        key = super()._get_cache_key(model_names)
        if 'crm.audit.entry' in model_names:
            # The read rules of the audited models depend on them.
            key = (*key, Transaction().user, current_employee())
        return key

    @classmethod
    def crm_audit_domain(cls):
        """The domain of audit entries of records the user may read:
        the read rules of each audited model, through the resource"""
        domain = ['OR']
        for model in AUDITED:
            domain.append(resource_domain(
                    'resource', model, cls.domain_get(model, mode='read')))
        return domain
