# Bitrix24 REST reference lists and helpers of the CRM: crm.status.*,
# crm.category.list, crm.dealcategory.*, crm.timeline.comment.add,
# crm.duplicate.findbycomm, crm.product.*
import datetime as dt

from trytond.i18n import gettext
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction

from . import rest_fields as rf
from . import rest_fields_entity as rfe
from .rest import PAGE_SIZE, RestMethod, RestPage, page_start
from .rest_crm import (
    Entity, entity_get, entity_list, fields_param, rest_handler)

__all__ = ['Rest']

SEMANTICS = {
    'converted': ('S', 'success'), 'junk': ('F', 'failure'),
    'won': ('S', 'success'), 'lost': ('F', 'failure'),
    }


def _pipelines(conv):
    Pipeline = Pool().get('crm.pipeline')
    domain = []
    if conv.company_id:
        domain.append(('company', '=', conv.company_id))
    return Pipeline.search(domain)


def _stage_items(pipeline, conv):
    category = conv.category_id(pipeline)
    entity_id = 'DEAL_STAGE' if category == 0 else 'DEAL_STAGE_%s' % category
    return [_status_item(stage, entity_id, conv.stage_id(stage), i,
            stage.kind, str(category))
        for i, stage in enumerate(pipeline.stages)]


def _status_item(record, entity_id, status_id, index, kind=None,
        category=None):
    semantics, extra = SEMANTICS.get(kind, (None, 'process'))
    item = {
        'ID': str(record.id),
        'ENTITY_ID': entity_id,
        'STATUS_ID': status_id,
        'NAME': record.name,
        'NAME_INIT': record.name,
        'SORT': str((index + 1) * 10),
        'SYSTEM': 'Y',
        'CATEGORY_ID': category,
        'COLOR': getattr(record, 'color', None),
        'SEMANTICS': semantics,
        }
    if kind:
        item['EXTRA'] = {'SEMANTICS': extra, 'COLOR': item['COLOR']}
    return item


def status_items(entity_ids=None):
    "The crm.status items of entity_ids (all when None)"
    pool = Pool()
    Status = pool.get('crm.lead.status')
    Source = pool.get('crm.source')
    conv = rf.Converter()
    items = []
    if entity_ids is None or 'STATUS' in entity_ids:
        items.extend(_status_item(s, 'STATUS', s.code, i, s.kind)
            for i, s in enumerate(Status.search([])))
    if entity_ids is None or 'SOURCE' in entity_ids:
        items.extend(_status_item(s, 'SOURCE', s.code, i)
            for i, s in enumerate(Source.search([])))
    for pipeline in _pipelines(conv):
        category = conv.category_id(pipeline)
        entity_id = ('DEAL_STAGE' if category == 0
            else 'DEAL_STAGE_%s' % category)
        if entity_ids is None or entity_id in entity_ids:
            items.extend(_stage_items(pipeline, conv))
    return items


def status_list(params):
    filter_ = params.get('filter', params.get('FILTER')) or {}
    if not isinstance(filter_, dict):
        raise rf.error('msg_rest_crm_param_object', param='filter')
    filter_ = {str(k).upper().lstrip('='): v for k, v in filter_.items()}
    known = {'ID', 'ENTITY_ID', 'STATUS_ID', 'NAME', 'SORT', 'CATEGORY_ID',
        'SEMANTICS', 'COLOR', 'SYSTEM'}
    for key in filter_:
        if key not in known:
            raise rf.error('msg_rest_crm_unknown_field', field=key,
                param='filter')
    entity_ids = None
    if 'ENTITY_ID' in filter_:
        value = filter_['ENTITY_ID']
        entity_ids = {str(v).upper() for v in (
                value if isinstance(value, (list, tuple)) else [value])}
    items = status_items(entity_ids)
    for key, value in filter_.items():
        values = {str(v) for v in (
                value if isinstance(value, (list, tuple)) else [value])}
        if key == 'ENTITY_ID':
            values = {v.upper() for v in values}
        items = [i for i in items if str(i.get(key)) in values]
    order = params.get('order', params.get('ORDER')) or {}
    if isinstance(order, dict):
        for key, direction in reversed(list(order.items())):
            key = str(key).upper()
            if key not in known:
                raise rf.error('msg_rest_crm_unknown_field', field=key,
                    param='order')
            items.sort(key=lambda i: (
                    int(i[key]) if key in {'ID', 'SORT'} else
                    str(i[key] or '')),
                reverse=str(direction).upper() == 'DESC')
    return items


def status_entity_types(params):
    conv = rf.Converter()
    types = [
        {'ID': 'STATUS', 'NAME': gettext('crm_portal.msg_rest_crm_lead_statuses'),
            'SEMANTIC_INFO': {}},
        {'ID': 'SOURCE', 'NAME': gettext('crm_portal.msg_rest_crm_sources')},
        ]
    for pipeline in _pipelines(conv):
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


def _category(pipeline, conv, index):
    return {
        'id': conv.category_id(pipeline),
        'name': pipeline.name,
        'sort': (index + 1) * 100,
        'entityTypeId': 2,
        'isDefault': rf.yes_no(conv.category_id(pipeline) == 0),
        }


def category_list(params):
    entity_type = params.get('entityTypeId', params.get('ENTITYTYPEID'))
    if entity_type in (None, ''):
        raise rf.error('msg_rest_crm_required', field='entityTypeId')
    if str(entity_type) != '2':
        return {'categories': []}
    conv = rf.Converter()
    return {'categories': [_category(p, conv, i)
            for i, p in enumerate(_pipelines(conv))]}


def category_get(params):
    conv = rf.Converter()
    if str(params.get('entityTypeId', '2')) != '2':
        raise rf.not_found()
    pipeline = _pipeline_of(params, conv)
    index = _pipelines(conv).index(pipeline)
    return {'category': _category(pipeline, conv, index)}


def _pipeline_of(params, conv):
    "The pipeline of the id (category) parameter; 0 is the default one"
    Pipeline = Pool().get('crm.pipeline')
    value = params.get('id', params.get('ID', 0))
    category = rf.parse_int('id', value, empty=False)
    if category in (None, 0):
        pipeline_id = conv.default_pipeline
    else:
        pipeline_id = category
    domain = [('id', '=', pipeline_id or -1)]
    if conv.company_id:
        domain.append(('company', '=', conv.company_id))
    pipelines = Pipeline.search(domain, limit=1)
    if not pipelines:
        raise rf.not_found()
    return pipelines[0]


def dealcategory_list(params):
    conv = rf.Converter()
    pipelines = [p for p in _pipelines(conv) if conv.category_id(p) != 0]
    start = page_start(params)
    return RestPage([{
                'ID': str(p.id),
                'CREATED_DATE': conv.datetime(p.create_date),
                'NAME': p.name,
                'IS_LOCKED': 'N',
                'SORT': str((i + 1) * 100),
                } for i, p in enumerate(pipelines)][
            start:start + PAGE_SIZE], len(pipelines))


def dealcategory_default(params):
    conv = rf.Converter()
    pipeline = _pipeline_of({'id': 0}, conv)
    return {'ID': 0, 'NAME': pipeline.name}


def dealcategory_stage_list(params):
    conv = rf.Converter()
    pipeline = _pipeline_of(params, conv)
    return [{
            'NAME': s['NAME'], 'SORT': s['SORT'], 'STATUS_ID': s['STATUS_ID'],
            } for s in _stage_items(pipeline, conv)]


ENTITY_TYPES = {'LEAD': 1, 'DEAL': 2, 'CONTACT': 3, 'COMPANY': 4}


def timeline_comment_add(params):
    Activity = Pool().get('crm.activity')
    conv = rf.Converter()
    fields = fields_param(params)
    entity_type = str(fields.get('ENTITY_TYPE') or '').upper()
    if entity_type not in ENTITY_TYPES:
        raise rf.invalid('ENTITY_TYPE', fields.get('ENTITY_TYPE'))
    comment = (rf.parse_text('COMMENT', fields.get('COMMENT')) or '').strip()
    if not comment:
        raise rf.error('msg_rest_crm_required', field='COMMENT')
    values = rfe.owner('ENTITY_ID', ENTITY_TYPES[entity_type],
        fields.get('ENTITY_ID'), conv)
    subject = comment.splitlines()[0]
    if len(subject) > 80:
        subject = subject[:79] + '…'
    context = Transaction().context
    values.update({
            'company': conv.company_id,
            'type': 'note',
            'subject': subject,
            'description': comment,
            'deadline': dt.datetime.now(),
            'done': True,
            'responsible': context.get('employee'),
            })
    activity, = Activity.create([values])
    return activity.id


def duplicate_findbycomm(params):
    Duplicate = Pool().get('crm.duplicate')
    type_ = str(params.get('type', params.get('TYPE')) or '').upper()
    if type_ not in {'PHONE', 'EMAIL'}:
        raise rf.invalid('type', params.get('type'))
    values = params.get('values', params.get('VALUES'))
    if isinstance(values, dict):
        values = list(values.values())
    if isinstance(values, str):
        values = [values]
    if not values or not isinstance(values, (list, tuple)):
        raise rf.error('msg_rest_crm_required', field='values')
    values = [str(v) for v in values][:20]
    entity_type = params.get('entity_type', params.get('ENTITY_TYPE'))
    entity_type = str(entity_type).upper() if entity_type else None
    if entity_type and entity_type not in {'LEAD', 'CONTACT', 'COMPANY'}:
        raise rf.invalid('entity_type', entity_type)
    if type_ == 'PHONE':
        records = Duplicate.find(phone=values)
    else:
        records = Duplicate.find(email=values)
    result = {}
    for record in records:
        if record.__name__ == 'sale.opportunity':
            key = 'LEAD'
        elif record.crm_kind == 'organisation':
            key = 'COMPANY'
        else:
            key = 'CONTACT'
        if entity_type and key != entity_type:
            continue
        ids = result.setdefault(key, [])
        if record.id not in ids:
            ids.append(record.id)
    # Bitrix24 answers an empty array when nothing matches.
    return {k: sorted(v) for k, v in result.items()} or []


def product_fields():
    def read_price(record, conv):
        price = record.list_price_used if hasattr(
            record, 'list_price_used') else record.list_price
        return '%.2f' % price if price is not None else None

    def read_currency(record, conv):
        company = conv.company
        return company.currency.code if company else None

    def read_section(record, conv):
        categories = record.categories
        return str(categories[0].id) if categories else None
    return [
        rf._id_field(),
        rf.RestField('NAME', 'string', 'name', read=lambda r, c: r.name,
            search=rf._search_on('name'), order='name'),
        rf.RestField('PRICE', 'double', 'list_price', read=read_price,
            search=rf._search_on('list_price',
                lambda v, c: rf.parse_decimal('PRICE', v))),
        rf.RestField('CURRENCY_ID', 'crm_currency', None,
            read=read_currency, title=lambda: 'CURRENCY_ID'),
        rf.RestField('SECTION_ID', 'integer', 'categories',
            read=read_section,
            search=rf._search_on('categories',
                lambda v, c: rf.parse_int('SECTION_ID', v))),
        rf.RestField('XML_ID', 'string', 'code', read=lambda r, c: r.code,
            search=rf._search_on('code'), order='code'),
        rf.RestField('DESCRIPTION', 'string', 'description',
            read=lambda r, c: r.description,
            search=rf._search_on('description')),
        rf.RestField('ACTIVE', 'char', 'active',
            read=lambda r, c: rf.yes_no(r.active),
            search=rf._search_on('active',
                lambda v, c: rf.parse_yes_no('ACTIVE', v))),
        ]


PRODUCT = Entity('product', 'product.product', [('salable', '=', True)],
    {}, product_fields, "Product")


class Rest(metaclass=PoolMeta):
    __name__ = 'crm.rest'

    @classmethod
    def methods(cls):
        methods = super().methods()
        for name, handler, description, params, paged in [
                ('crm.status.list', status_list,
                    "List lead statuses, sources and deal stages",
                    {'filter': "ENTITY_ID: STATUS, SOURCE, DEAL_STAGE or "
                        "DEAL_STAGE_<category>",
                        'order': "object FIELD -> ASC or DESC"}, False),
                ('crm.status.entity.types', status_entity_types,
                    "List the kinds of crm.status lists", {}, False),
                ('crm.category.list', category_list,
                    "List deal pipelines (entityTypeId=2)",
                    {'entityTypeId': "2 for deals"}, False),
                ('crm.category.get', category_get, "Read a deal pipeline",
                    {'entityTypeId': "2 for deals",
                        'id': "pipeline id, 0 for the default"}, False),
                ('crm.dealcategory.list', dealcategory_list,
                    "List the deal pipelines but the default one",
                    {'start': "offset of the page"}, True),
                ('crm.dealcategory.default.get', dealcategory_default,
                    "Read the default deal pipeline", {}, False),
                ('crm.dealcategory.stage.list', dealcategory_stage_list,
                    "List the stages of a deal pipeline",
                    {'id': "pipeline id, 0 for the default"}, False),
                ('crm.timeline.comment.add', timeline_comment_add,
                    "Add a comment to the timeline of a lead, deal, "
                    "contact or company; answers its ID",
                    {'fields': "ENTITY_ID, ENTITY_TYPE (lead, deal, "
                        "contact, company), COMMENT"}, False),
                ('crm.duplicate.findbycomm', duplicate_findbycomm,
                    "Find leads, contacts and companies by phone or e-mail",
                    {'entity_type': "LEAD, CONTACT or COMPANY (optional)",
                        'type': "PHONE or EMAIL",
                        'values': "list of up to 20 phones or e-mails"},
                    False),
                ('crm.product.list', lambda p: entity_list(PRODUCT, p),
                    "List salable products",
                    {'filter': "object of fields", 'select': "fields",
                        'order': "object FIELD -> ASC or DESC",
                        'start': "offset of the page"}, True),
                ('crm.product.get', lambda p: entity_get(PRODUCT, p),
                    "Read a salable product", {'id': "the ID"}, False),
                ]:
            methods[name] = RestMethod(name, rest_handler(handler), 'crm',
                description, params, paged=paged,
                readonly=not name.endswith('.add'))
        return methods

