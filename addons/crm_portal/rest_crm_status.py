# Bitrix24 reference lists (crm.status.*) on our lead statuses, sources
# and pipeline stages: list, get, add, update, delete, fields,
# entity.types, entity.items.
"""An item's ID is unique across the three lists, as in Bitrix24: ten
times the record id plus the list's digit (1 lead status, 2 source,
3 deal stage), so crm.status.get/update/delete need only the ID."""
import re

from trytond.i18n import gettext
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction, without_check_access

from . import rest_convert as rc
from .rest import RestMethod
from .rest_crm import fields_param, record_id, rest_handler

__all__ = ['Rest', 'pipelines', 'stage_items', 'status_items']

# Our kinds -> Bitrix24 SEMANTICS and EXTRA[SEMANTICS]
SEMANTICS = {
    'converted': ('S', 'success'), 'junk': ('F', 'failure'),
    'won': ('S', 'success'), 'lost': ('F', 'failure'),
    }
# SEMANTICS (or EXTRA[SEMANTICS]) -> our kind, per list
KINDS = {
    'STATUS': {'': 'open', 'S': 'converted', 'F': 'junk'},
    'DEAL_STAGE': {'': 'in_progress', 'S': 'won', 'F': 'lost'},
    }
EXTRA_SEMANTICS = {'process': '', 'success': 'S', 'failure': 'F',
    'apology': 'F'}
MODELS = {1: 'crm.lead.status', 2: 'crm.source', 3: 'crm.pipeline.stage'}
DIGITS = {v: k for k, v in MODELS.items()}
# Bitrix24's limits on STATUS_ID (leads and deal stages: 21/22 letters,
# digits, - and _; other lists 50 characters of any kind)
CODE_RE = re.compile(r'[A-Za-z0-9_-]+')
CODE_LENGTH = {'STATUS': 21, 'DEAL_STAGE': 22, 'SOURCE': 50}
COLOR_RE = re.compile(r'#(?:[0-9A-Fa-f]{3}){1,2}')
FIELDS = {
    # name: (type, required, read-only, immutable)
    'ID': ('integer', False, True, False),
    'ENTITY_ID': ('string', True, False, True),
    'STATUS_ID': ('string', True, False, True),
    'SORT': ('integer', False, False, False),
    'NAME': ('string', True, False, False),
    'NAME_INIT': ('string', False, True, False),
    'SYSTEM': ('char', False, True, False),
    'CATEGORY_ID': ('integer', False, True, False),
    'COLOR': ('string', False, False, False),
    'SEMANTICS': ('string', False, False, False),
    'EXTRA': ('object', False, False, False),
    }


def pipelines(conv):
    Pipeline = Pool().get('crm.pipeline')
    domain = []
    if conv.company_id:
        domain.append(('company', '=', conv.company_id))
    return Pipeline.search(domain)


def _item_id(record):
    return 10 * record.id + DIGITS[record.__name__]


def _system_ids(records):
    "Ids of the records that the module's data created (Bitrix SYSTEM)"
    ModelData = Pool().get('ir.model.data')
    if not records:
        return set()
    with without_check_access():
        data = ModelData.search([
                ('model', '=', records[0].__name__),
                ('db_id', 'in', [r.id for r in records]),
                ])
    return {d.db_id for d in data}


def _status_item(record, entity_id, status_id, system, kind=None,
        category=None):
    semantics, extra = SEMANTICS.get(kind, (None, 'process'))
    color = getattr(record, 'color', None)
    item = {
        'ID': str(_item_id(record)),
        'ENTITY_ID': entity_id,
        'STATUS_ID': status_id,
        'NAME': record.name,
        'NAME_INIT': record.name if system else '',
        'SORT': str(record.sequence or 0),
        'SYSTEM': rc.yes_no(system),
        'CATEGORY_ID': category,
        'COLOR': color,
        'SEMANTICS': semantics,
        }
    if kind:
        item['EXTRA'] = {'SEMANTICS': extra, 'COLOR': color}
    return item


def stage_items(pipeline, conv):
    category = conv.category_id(pipeline)
    entity_id = 'DEAL_STAGE' if category == 0 else 'DEAL_STAGE_%s' % category
    system = _system_ids(pipeline.stages)
    return [_status_item(stage, entity_id, conv.stage_id(stage),
            stage.id in system, stage.kind, str(category))
        for stage in pipeline.stages]


def status_items(entity_ids=None):
    "The crm.status items of entity_ids (all when None)"
    pool = Pool()
    Status = pool.get('crm.lead.status')
    Source = pool.get('crm.source')
    conv = rc.Converter()
    items = []
    for entity_id, Model, kind in [
            ('STATUS', Status, True), ('SOURCE', Source, False)]:
        if entity_ids is None or entity_id in entity_ids:
            records = Model.search([])
            system = _system_ids(records)
            items.extend(_status_item(r, entity_id, r.code, r.id in system,
                    r.kind if kind else None) for r in records)
    for pipeline in pipelines(conv):
        category = conv.category_id(pipeline)
        entity_id = ('DEAL_STAGE' if category == 0
            else 'DEAL_STAGE_%s' % category)
        if entity_ids is None or entity_id in entity_ids:
            items.extend(stage_items(pipeline, conv))
    return items


def _values(items):
    return {str(v) for v in (
            items if isinstance(items, (list, tuple)) else [items])}


def status_list(params):
    filter_ = params.get('filter', params.get('FILTER')) or {}
    if not isinstance(filter_, dict):
        raise rc.error('msg_rest_crm_param_object', param='filter')
    filter_ = {str(k).upper().lstrip('='): v for k, v in filter_.items()}
    for key in filter_:
        if key not in FIELDS or key == 'EXTRA':
            raise rc.error('msg_rest_crm_unknown_field', field=key,
                param='filter')
    entity_ids = None
    if 'ENTITY_ID' in filter_:
        entity_ids = {v.upper() for v in _values(filter_['ENTITY_ID'])}
    items = status_items(entity_ids)
    for key, value in filter_.items():
        values = _values(value)
        if key == 'ENTITY_ID':
            values = {v.upper() for v in values}
        items = [i for i in items if str(i.get(key)) in values]
    order = params.get('order', params.get('ORDER')) or {}
    if isinstance(order, dict):
        for key, direction in reversed(list(order.items())):
            key = str(key).upper()
            if key not in FIELDS or key == 'EXTRA':
                raise rc.error('msg_rest_crm_unknown_field', field=key,
                    param='order')
            items.sort(key=lambda i: (
                    int(i[key]) if key in {'ID', 'SORT'} else
                    str(i[key] or '')),
                reverse=str(direction).upper() == 'DESC')
    return items


def status_entity_items(params):
    entity_id = params.get('entityId', params.get('ENTITYID'))
    if entity_id in (None, ''):
        raise rc.error('msg_rest_crm_required', field='entityId')
    return status_list({'filter': {'ENTITY_ID': entity_id},
            'order': {'SORT': 'ASC'}})


def status_entity_types(params):
    conv = rc.Converter()
    types = [
        {'ID': 'STATUS',
            'NAME': gettext('crm_portal.msg_rest_crm_lead_statuses'),
            'SEMANTIC_INFO': {}},
        {'ID': 'SOURCE', 'NAME': gettext('crm_portal.msg_rest_crm_sources')},
        ]
    for pipeline in pipelines(conv):
        category = conv.category_id(pipeline)
        item = {
            'ID': ('DEAL_STAGE' if category == 0
                else 'DEAL_STAGE_%s' % category),
            'NAME': gettext('crm_portal.msg_rest_crm_deal_stages',
                pipeline=pipeline.name),
            'ENTITY_TYPE_ID': 2,
            'CATEGORY_ID': category,
            }
        if category:
            item['PARENT_ID'] = 'DEAL_STAGE'
        types.append(item)
    return types


# Reading and writing one item

def _record(params):
    "The lead status, source or stage of the id parameter, else 404"
    number = record_id(params)
    model = MODELS.get(number % 10)
    if not model:
        raise rc.not_found()
    Model = Pool().get(model)
    with Transaction().set_context(active_test=False):
        records = Model.search([('id', '=', number // 10)], limit=1)
    if not records:
        raise rc.not_found()
    return records[0]


def _item(record):
    if record.__name__ == 'crm.pipeline.stage':
        item_id = str(_item_id(record))
        return next(i for i in stage_items(record.pipeline, rc.Converter())
            if i['ID'] == item_id)
    system = record.id in _system_ids([record])
    if record.__name__ == 'crm.lead.status':
        return _status_item(record, 'STATUS', record.code, system,
            record.kind)
    # also an inactive source
    return _status_item(record, 'SOURCE', record.code, system)


def status_get(params):
    return _item(_record(params))


def _entity(value, conv):
    "(list, pipeline id) of an ENTITY_ID"
    text = str(value or '').strip().upper()
    if text in {'STATUS', 'SOURCE'}:
        return text, None
    match = re.fullmatch(r'DEAL_STAGE(?:_(\d+))?', text)
    if not match:
        raise rc.invalid('ENTITY_ID', value)
    return 'DEAL_STAGE', conv.pipeline('ENTITY_ID', match.group(1) or 0)


def _code(entity, pipeline, value, conv):
    "The code to store for STATUS_ID value, checked as Bitrix24 does"
    text = (rc.parse_text('STATUS_ID', value) or '').strip()
    limit = CODE_LENGTH[entity]
    if entity == 'DEAL_STAGE' and pipeline != conv.default_pipeline:
        # Stored without the C<category>: prefix that Bitrix24 adds.
        prefix = 'C%s:' % pipeline
        limit -= len(prefix)
        if text.upper().startswith(prefix):
            text = text[len(prefix):]
    if (not text or len(text) > limit
            or (entity != 'SOURCE' and not CODE_RE.fullmatch(text))):
        raise rc.invalid('STATUS_ID', value)
    return text


def _kind(entity, fields):
    "Our kind of SEMANTICS (or EXTRA[SEMANTICS]); None if not given"
    if entity not in KINDS:
        return None
    extra = fields.get('EXTRA')
    if 'SEMANTICS' in fields:
        value = fields['SEMANTICS']
        semantics = str(value or '').strip().upper()
        if semantics == 'P':
            semantics = ''
    elif isinstance(extra, dict) and 'SEMANTICS' in extra:
        value = extra['SEMANTICS']
        semantics = EXTRA_SEMANTICS.get(str(value or 'process').lower())
    else:
        return None
    if semantics not in KINDS[entity]:
        raise rc.invalid('SEMANTICS', value)
    return KINDS[entity][semantics]


def _common_values(entity, fields):
    "Our values of NAME, SORT, COLOR, SEMANTICS given in fields"
    values = {}
    if 'NAME' in fields:
        name = (rc.parse_text('NAME', fields['NAME']) or '').strip()
        if not name:
            raise rc.invalid('NAME', fields['NAME'])
        values['name'] = name
    if 'SORT' in fields and fields['SORT'] not in (None, ''):
        values['sequence'] = rc.parse_int('SORT', fields['SORT'], empty=False)
    extra = fields.get('EXTRA')
    color = fields.get('COLOR')
    if color is None and isinstance(extra, dict):
        color = extra.get('COLOR')
    if color not in (None, '') and entity != 'SOURCE':
        if not COLOR_RE.fullmatch(str(color).strip()):
            raise rc.invalid('COLOR', color)
        values['color'] = str(color).strip()
    kind = _kind(entity, fields)
    if kind:
        values['kind'] = kind
        if entity == 'DEAL_STAGE' and kind != 'in_progress':
            values['probability'] = 1 if kind == 'won' else 0
    return values


def status_add(params):
    pool = Pool()
    conv = rc.Converter()
    fields = fields_param(params)
    for name in ['ENTITY_ID', 'STATUS_ID', 'NAME']:
        if fields.get(name) in (None, ''):
            raise rc.error('msg_rest_crm_required', field=name)
    entity, pipeline = _entity(fields['ENTITY_ID'], conv)
    code = _code(entity, pipeline, fields['STATUS_ID'], conv)
    values = {'sequence': 10}
    values.update(_common_values(entity, fields))
    values['code'] = code
    if entity == 'DEAL_STAGE':
        Model = pool.get('crm.pipeline.stage')
        values['pipeline'] = pipeline
        domain = [('pipeline', '=', pipeline)]
    else:
        Model = pool.get(
            'crm.lead.status' if entity == 'STATUS' else 'crm.source')
        domain = []
    with Transaction().set_context(active_test=False), \
            without_check_access():
        # Codes are unique in a list, whoever may see the other items.
        if Model.search(domain + [('code', '=', code)], limit=1):
            raise rc.error('msg_rest_crm_status_exists', field='STATUS_ID',
                value=code)
    record, = Model.create([values])
    return _item_id(record)


def status_update(params):
    record = _record(params)
    fields = fields_param(params)
    item = _item(record)
    for name in ['ENTITY_ID', 'STATUS_ID']:
        # Immutable in Bitrix24: the same value is accepted, not another.
        same = {item[name].upper()}
        if name == 'STATUS_ID':
            same.add(record.code.upper())
        if fields.get(name) not in (None, '') and str(
                fields[name]).strip().upper() not in same:
            raise rc.invalid(name, fields[name])
    entity = 'DEAL_STAGE' if item['ENTITY_ID'].startswith('DEAL_STAGE') else (
        item['ENTITY_ID'])
    values = _common_values(entity, fields)
    if values:
        record.__class__.write([record], values)
    return True


def status_delete(params):
    pool = Pool()
    Opportunity = pool.get('sale.opportunity')
    record = _record(params)
    options = params.get('params', params.get('PARAMS')) or {}
    forced = isinstance(options, dict) and str(
        options.get('FORCED', options.get('forced', ''))).upper() == 'Y'
    if _item(record)['SYSTEM'] == 'Y' and not forced:
        raise rc.error('msg_rest_crm_status_system', code='ERROR_CORE',
            name=record.name)
    field = {
        'crm.lead.status': 'lead_status',
        'crm.source': 'source',
        'crm.pipeline.stage': 'stage',
        }[record.__name__]
    with without_check_access(), Transaction().set_context(
            active_test=False):
        # Every lead and deal counts, also those the user does not see.
        count = Opportunity.search_count([(field, '=', record.id)])
    if count:
        raise rc.error('msg_rest_crm_status_used', code='ERROR_CORE',
            name=record.name, count=count)
    record.__class__.delete([record])
    return True


def status_fields(params):
    return {name: {
            'type': type_,
            'isRequired': required,
            'isReadOnly': readonly,
            'isImmutable': immutable,
            'isMultiple': False,
            'isDynamic': False,
            'title': name,
            } for name, (type_, required, readonly, immutable)
        in FIELDS.items()}


class Rest(metaclass=PoolMeta):
    __name__ = 'crm.rest'

    @classmethod
    def methods(cls):
        methods = super().methods()
        id_param = {'id': "ID of the item (crm.status.list)"}
        fields = ("ENTITY_ID (STATUS, SOURCE, DEAL_STAGE or "
            "DEAL_STAGE_<category>), STATUS_ID, NAME, SORT, COLOR, "
            "SEMANTICS (S, F or empty)")
        for name, handler, description, params, readonly in [
                ('crm.status.list', status_list,
                    "List lead statuses, sources and deal stages",
                    {'filter': "ENTITY_ID: STATUS, SOURCE, DEAL_STAGE or "
                        "DEAL_STAGE_<category>",
                        'order': "object FIELD -> ASC or DESC"}, True),
                ('crm.status.entity.items', status_entity_items,
                    "List the items of one list by SORT",
                    {'entityId': "STATUS, SOURCE, DEAL_STAGE or "
                        "DEAL_STAGE_<category>"}, True),
                ('crm.status.entity.types', status_entity_types,
                    "List the kinds of crm.status lists", {}, True),
                ('crm.status.fields', status_fields,
                    "Describe the fields of a list item", {}, True),
                ('crm.status.get', status_get, "Read a list item",
                    id_param, True),
                ('crm.status.add', status_add,
                    "Add a lead status, source or deal stage; answers "
                    "its ID", {'fields': fields}, False),
                ('crm.status.update', status_update,
                    "Change the NAME, SORT, COLOR or SEMANTICS of an item",
                    dict(id_param, fields="NAME, SORT, COLOR, SEMANTICS"),
                    False),
                ('crm.status.delete', status_delete,
                    "Delete an item no lead or deal uses",
                    dict(id_param, params="FORCED=Y to delete an item "
                        "of the module's data"), False),
                ]:
            methods[name] = RestMethod(name, rest_handler(handler), 'crm',
                description, params, readonly=readonly)
        return methods
