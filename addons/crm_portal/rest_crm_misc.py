# Bitrix24 REST helpers of the CRM: crm.category.*, crm.dealcategory.*
# (deal pipelines), crm.duplicate.findbycomm, crm.product.*
from trytond.pool import Pool, PoolMeta

from . import rest_convert as rc
from . import rest_fields as rf
from .rest import PAGE_SIZE, RestMethod, RestPage, page_start
from .rest_crm import Entity, entity_get, entity_list, rest_handler
from .rest_crm_status import pipelines, stage_items

__all__ = ['Rest']


def _category(pipeline, conv, index):
    return {
        'id': conv.category_id(pipeline),
        'name': pipeline.name,
        'sort': (index + 1) * 100,
        'entityTypeId': 2,
        'isDefault': rc.yes_no(conv.category_id(pipeline) == 0),
        }


def category_list(params):
    entity_type = params.get('entityTypeId', params.get('ENTITYTYPEID'))
    if entity_type in (None, ''):
        raise rc.error('msg_rest_crm_required', field='entityTypeId')
    if str(entity_type) != '2':
        return {'categories': []}
    conv = rc.Converter()
    return {'categories': [_category(p, conv, i)
            for i, p in enumerate(pipelines(conv))]}


def category_get(params):
    conv = rc.Converter()
    if str(params.get('entityTypeId', '2')) != '2':
        raise rc.not_found()
    pipeline = _pipeline_of(params, conv)
    index = pipelines(conv).index(pipeline)
    return {'category': _category(pipeline, conv, index)}


def _pipeline_of(params, conv):
    "The pipeline of the id (category) parameter; 0 is the default one"
    Pipeline = Pool().get('crm.pipeline')
    value = params.get('id', params.get('ID', 0))
    category = rc.parse_int('id', value, empty=False)
    if category in (None, 0):
        pipeline_id = conv.default_pipeline
    else:
        pipeline_id = category
    domain = [('id', '=', pipeline_id or -1)]
    if conv.company_id:
        domain.append(('company', '=', conv.company_id))
    records = Pipeline.search(domain, limit=1)
    if not records:
        raise rc.not_found()
    return records[0]


def dealcategory_list(params):
    conv = rc.Converter()
    others = [p for p in pipelines(conv) if conv.category_id(p) != 0]
    start = page_start(params)
    return RestPage([{
                'ID': str(p.id),
                'CREATED_DATE': conv.datetime(p.create_date),
                'NAME': p.name,
                'IS_LOCKED': 'N',
                'SORT': str((i + 1) * 100),
                } for i, p in enumerate(others)][
            start:start + PAGE_SIZE], len(others))


def dealcategory_default(params):
    conv = rc.Converter()
    pipeline = _pipeline_of({'id': 0}, conv)
    return {'ID': 0, 'NAME': pipeline.name}


def dealcategory_stage_list(params):
    conv = rc.Converter()
    pipeline = _pipeline_of(params, conv)
    return [{
            'NAME': s['NAME'], 'SORT': s['SORT'], 'STATUS_ID': s['STATUS_ID'],
            } for s in stage_items(pipeline, conv)]


def duplicate_findbycomm(params):
    Duplicate = Pool().get('crm.duplicate')
    type_ = str(params.get('type', params.get('TYPE')) or '').upper()
    if type_ not in {'PHONE', 'EMAIL'}:
        raise rc.invalid('type', params.get('type'))
    values = params.get('values', params.get('VALUES'))
    if isinstance(values, dict):
        values = list(values.values())
    if isinstance(values, str):
        values = [values]
    if not values or not isinstance(values, (list, tuple)):
        raise rc.error('msg_rest_crm_required', field='values')
    values = [str(v) for v in values][:20]
    entity_type = params.get('entity_type', params.get('ENTITY_TYPE'))
    entity_type = str(entity_type).upper() if entity_type else None
    if entity_type and entity_type not in {'LEAD', 'CONTACT', 'COMPANY'}:
        raise rc.invalid('entity_type', entity_type)
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
                lambda v, c: rc.parse_decimal('PRICE', v))),
        rf.RestField('CURRENCY_ID', 'crm_currency', None,
            read=read_currency, title=lambda: 'CURRENCY_ID'),
        rf.RestField('SECTION_ID', 'integer', 'categories',
            read=read_section,
            search=rf._search_on('categories',
                lambda v, c: rc.parse_int('SECTION_ID', v))),
        rf.RestField('XML_ID', 'string', 'code', read=lambda r, c: r.code,
            search=rf._search_on('code'), order='code'),
        rf.RestField('DESCRIPTION', 'string', 'description',
            read=lambda r, c: r.description,
            search=rf._search_on('description')),
        rf.RestField('ACTIVE', 'char', 'active',
            read=lambda r, c: rc.yes_no(r.active),
            search=rf._search_on('active',
                lambda v, c: rc.parse_yes_no('ACTIVE', v))),
        ]


PRODUCT = Entity('product', 'product.product', [('salable', '=', True)],
    {}, product_fields, "Product")


class Rest(metaclass=PoolMeta):
    __name__ = 'crm.rest'

    @classmethod
    def methods(cls):
        methods = super().methods()
        for name, handler, description, params, paged in [
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

