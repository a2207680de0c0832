# Bitrix24 REST methods of CRM entities: crm.lead/deal/contact/company/
# activity .add .get .list .update .delete .fields
import functools

from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction, check_access

from . import rest_convert as rc
from . import rest_fields as rf
from . import rest_fields_entity as rfe
from .rest import PAGE_SIZE, RestMethod, RestPage, page_start

__all__ = ['Entity', 'ENTITIES', 'Rest', 'rest_handler']


class Entity:
    "A Bitrix24 CRM entity on one of our models"

    def __init__(self, name, model, domain, context, fields, title):
        self.name = name
        self.model = model
        self.domain = domain
        self.context = context
        self._fields = fields
        self.title = title

    @property
    def fields(self):
        # Built per call: some fields depend on the modules of the pool.
        return {f.name: f for f in self._fields()}

    @property
    def Model(self):
        return Pool().get(self.model)


ENTITIES = {
    'lead': Entity('lead', 'sale.opportunity',
        [('crm_type', '=', 'lead')], {'crm_type': 'lead'},
        rfe.lead_fields, "Lead"),
    'deal': Entity('deal', 'sale.opportunity',
        [('crm_type', '=', 'deal')], {'crm_type': 'deal'},
        rfe.deal_fields, "Deal"),
    'contact': Entity('contact', 'party.party',
        [('crm_kind', '=', 'person')], {'crm_kind': 'person'},
        rfe.contact_fields, "Contact"),
    'company': Entity('company', 'party.party',
        [('crm_kind', '=', 'organisation')], {'crm_kind': 'organisation'},
        rfe.company_fields, "Company"),
    'activity': Entity('activity', 'crm.activity', [], {},
        rfe.activity_fields, "Activity"),
    }
FIELDS_PARAM = "object of upper-case fields (see crm.%s.fields)"


def rest_handler(func):
    "Run a handler with the access rights and record rules of the user"
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with check_access():
            return func(*args, **kwargs)
    return wrapper


def record_id(params, name='id'):
    "The id parameter (id or ID) as an integer"
    value = params.get(name, params.get(name.upper()))
    number = rc.parse_int(name, value) if value not in (None, '') else None
    if not number:
        raise rc.error('msg_rest_crm_id_invalid', field=name)
    return number


def fields_param(params, name='fields'):
    value = params.get(name, params.get(name.upper()))
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise rc.error('msg_rest_crm_param_object', param=name)
    return {str(k).upper(): v for k, v in value.items()}


def visible(entity, id_):
    "The record id_ of entity if the user may see it, else 404"
    Model = entity.Model
    with Transaction().set_context(active_test=False):
        records = Model.search([('id', '=', id_)] + entity.domain, limit=1)
    if not records:
        raise rc.not_found()
    return records[0]


def to_values(entity, fields, record, conv):
    "Our values for the upper-case fields given (unknown ones ignored)"
    known = entity.fields
    values = {}
    for name, value in fields.items():
        field = known.get(name)
        if field is None or field.readonly:
            continue
        for key, value in field.write(value, fields, record, conv).items():
            if key == 'contact_mechanisms' and key in values:
                # PHONE, EMAIL, WEB and IM share the contact mechanisms
                values[key] = values[key] + value
            else:
                values[key] = value
    return values


def read(entity, record, names, conv, fields=None):
    fields = fields or entity.fields
    result = {}
    for name in names:
        value = fields[name].read(record, conv)
        if fields[name].multiple and not value and name != 'COMMUNICATIONS':
            continue
        result[name] = value
    return result


def select_names(entity, select):
    "The fields answered for select (Bitrix: '*' leaves out multi-fields)"
    fields = entity.fields
    if select in (None, '', []):
        select = ['*']
    if isinstance(select, str):
        select = [select]
    if isinstance(select, dict):
        select = list(select.values())
    if not isinstance(select, (list, tuple)):
        raise rc.error('msg_rest_crm_param_list', param='select')
    wanted = {str(s).upper() for s in select}
    names = ['ID']
    for name, field in fields.items():
        if name == 'ID':
            continue
        if name in wanted or ('*' in wanted and not field.multiple):
            names.append(name)
    return names


def split_key(fields, key):
    "(field name, Tryton operator) of a filter key such as '>=DATE_CREATE'"
    key = str(key).strip()
    upper = key.upper()
    if upper in fields:
        return upper, '='
    for prefix, operator in rf.OPERATORS:
        if upper.startswith(prefix) and upper[len(prefix):] in fields:
            return upper[len(prefix):], operator
    name = upper.lstrip('=!<>%@')
    raise rc.error('msg_rest_crm_unknown_field', field=name, param='filter')


def filter_domain(entity, filter_, conv):
    if filter_ in (None, '', []):
        return []
    if not isinstance(filter_, dict):
        raise rc.error('msg_rest_crm_param_object', param='filter')
    fields = entity.fields
    domain = []
    for key, value in filter_.items():
        if str(key).upper() in {'CHECK_PERMISSIONS', 'LOGIC'}:
            continue
        name, operator = split_key(fields, key)
        if isinstance(value, dict):
            value = list(value.values())
        if isinstance(value, (list, tuple)):
            value = list(value)
            if operator == '=':
                operator = 'in'
            elif operator == '!=':
                operator = 'not in'
            elif operator in {'ilike', 'not ilike'}:
                clauses = [fields[name].search(operator, v, conv)
                    for v in value]
                domain.append(
                    (['OR'] if operator == 'ilike' else ['AND']) + clauses)
                continue
            elif operator not in {'in', 'not in'}:
                raise rc.invalid(name, value)
        elif operator in {'in', 'not in'}:
            value = [value]
        domain.append(fields[name].search(operator, value, conv))
    return domain


def order_param(entity, order):
    if order in (None, '', []):
        return [('id', 'ASC')]
    if not isinstance(order, dict):
        raise rc.error('msg_rest_crm_param_object', param='order')
    fields = entity.fields
    result = []
    for key, direction in order.items():
        name = str(key).upper()
        if name not in fields or not fields[name].order:
            raise rc.error('msg_rest_crm_unknown_field', field=name,
                param='order')
        direction = str(direction or 'ASC').upper()
        if direction not in {'ASC', 'DESC'}:
            raise rc.invalid(name, direction)
        result.append((fields[name].order, direction))
    if not any(f == 'id' for f, _ in result):
        result.append(('id', 'ASC'))
    return result


def check_required(entity, fields, values):
    for name, field in entity.fields.items():
        if (field.required and not field.readonly
                and fields.get(name) in (None, '')):
            raise rc.error('msg_rest_crm_required', field=name)
    if entity.name == 'deal' and not values.get('party'):
        raise rc.error('msg_rest_crm_deal_party')
    if entity.name == 'contact' and not values.get('name'):
        raise rc.error('msg_rest_crm_required', field='NAME')


# Handlers

def entity_add(entity, params):
    Model = entity.Model
    conv = rc.Converter()
    fields = fields_param(params)
    values = to_values(entity, fields, None, conv)
    check_required(entity, fields, values)
    employee = Transaction().context.get('employee')
    if entity.name == 'activity':
        values.setdefault('company', conv.company_id)
        values.setdefault('responsible', employee)
    elif entity.model == 'party.party':
        # Bitrix24 makes the author responsible
        values.setdefault('crm_responsible', employee)
    with Transaction().set_context(**entity.context):
        values.update(entity.context)
        record, = Model.create([values])
    return record.id


def entity_get(entity, params):
    record = visible(entity, record_id(params))
    conv = rc.Converter()
    fields = entity.fields
    return read(entity, record, list(fields), conv, fields)


def entity_list(entity, params):
    Model = entity.Model
    conv = rc.Converter()
    domain = entity.domain + filter_domain(
        entity, params.get('filter', params.get('FILTER')), conv)
    names = select_names(entity, params.get('select', params.get('SELECT')))
    order = order_param(entity, params.get('order', params.get('ORDER')))
    start = page_start(params)
    records = Model.search(domain, offset=start, limit=PAGE_SIZE,
        order=order)
    total = (Model.search_count(domain)
        if records or start else 0)
    fields = entity.fields
    return RestPage(
        [read(entity, r, names, conv, fields) for r in records], total)


def entity_update(entity, params):
    Model = entity.Model
    record = visible(entity, record_id(params))
    conv = rc.Converter()
    fields = fields_param(params)
    values = to_values(entity, fields, record, conv)
    if entity.name == 'company' and 'name' in values and not values['name']:
        raise rc.invalid('TITLE', fields.get('TITLE'))
    if values:
        with Transaction().set_context(**entity.context):
            Model.write([record], values)
    return True


def entity_delete(entity, params):
    Model = entity.Model
    record = visible(entity, record_id(params))
    if entity.model == 'sale.opportunity' and record.state not in {
            'cancelled', 'draft'}:
        # Bitrix24 deletes in any state; Tryton deletes cancelled ones.
        Model.write([record], {'state': 'cancelled'})
    Model.delete([record])
    return True


def entity_fields(entity, params):
    Model = entity.Model
    return {name: field.describe(Model)
        for name, field in entity.fields.items()}


class Rest(metaclass=PoolMeta):
    __name__ = 'crm.rest'

    @classmethod
    def methods(cls):
        methods = super().methods()
        for name, entity in ENTITIES.items():
            methods.update(cls._entity_methods(name, entity))
        return methods

    @classmethod
    def _entity_methods(cls, name, entity):
        prefix = 'crm.%s.' % name
        fields = FIELDS_PARAM % name
        handlers = [
            ('add', entity_add, "Create a %s; answers its ID" % name,
                {'fields': fields}, False, False),
            ('get', entity_get, "Read a %s" % name,
                {'id': "the ID"}, False, True),
            ('list', entity_list,
                "List %ss page by page (50 a page)" % name, {
                    'filter': "object FIELD or prefixed field "
                    "(=, !, >, >=, <, <=, %) -> value or list",
                    'select': "list of fields; '*' for all but multi-fields",
                    'order': "object FIELD -> ASC or DESC",
                    'start': "offset of the page",
                    }, True, True),
            ('update', entity_update, "Change a %s" % name,
                {'id': "the ID", 'fields': fields}, False, False),
            ('delete', entity_delete, "Delete a %s" % name,
                {'id': "the ID"}, False, False),
            ('fields', entity_fields,
                "Describe the fields of a %s" % name, {}, False, True),
            ]
        result = {}
        for action, handler, description, params, paged, readonly in (
                handlers):
            if name == 'activity' and action == 'fields':
                continue
            result[prefix + action] = RestMethod(prefix + action,
                rest_handler(functools.partial(handler, entity)), 'crm',
                description, params, paged=paged, readonly=readonly)
        if name == 'activity':
            result[prefix + 'fields'] = RestMethod(prefix + 'fields',
                rest_handler(functools.partial(entity_fields, entity)),
                'crm', "Describe the fields of an activity", {},
                readonly=True)
        return result
