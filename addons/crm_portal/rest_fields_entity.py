# The Bitrix24 fields of leads, deals, contacts, companies and activities.
import re

from trytond.i18n import gettext
from trytond.pool import Pool

from .rest import RestError
from .rest_convert import (
    Converter, invalid, parse_decimal, parse_int, parse_text,
    parse_yes_no, yes_no)
from .rest_fields import (
    MULTI_FIELDS, RestField, _code_field, _constant_field, _currency_field,
    _date_field, _datetime_field, _id_field, _many2one_field,
    _money_field, _name_field, _opportunity_party_fields,
    _party_multi_field, _search_on, _text_field, _tracking_fields,
    _uid_field, _user_field, _lead_multi_field, _utm_fields)


def lead_fields():
    return [
        _id_field(),
        _text_field('TITLE', 'description'),
        _name_field('NAME', 'contact_name', 0),
        _name_field('SECOND_NAME', 'contact_name', 1),
        _name_field('LAST_NAME', 'contact_name', 2),
        _text_field('COMPANY_TITLE', 'contact_company_name'),
        _code_field('STATUS_ID', 'lead_status', 'crm.lead.status',
            status_type='STATUS'),
        _code_field('SOURCE_ID', 'source', 'crm.source',
            status_type='SOURCE'),
        _text_field('SOURCE_DESCRIPTION', 'source_description'),
        _money_field(),
        _currency_field(),
        _user_field('ASSIGNED_BY_ID'),
        ] + _opportunity_party_fields() + [
        _text_field('COMMENTS', 'comment'),
        _lead_multi_field('PHONE', 'contact_phone'),
        _lead_multi_field('EMAIL', 'contact_email'),
        ] + _utm_fields() + _tracking_fields() + [
        _constant_field('OPENED', 'Y'),
        ]


def deal_fields():
    def read_probability(record, conv):
        value = record.conversion_probability
        return str(int(round(value * 100))) if value is not None else None

    def write_probability(value, fields, record, conv):
        number = parse_decimal('PROBABILITY', value)
        if number is None or not 0 <= number <= 100:
            raise invalid('PROBABILITY', value)
        return {'conversion_probability': float(number) / 100}

    def write_category(value, fields, record, conv):
        pipeline = conv.pipeline('CATEGORY_ID', value)
        values = {'pipeline': pipeline}
        if 'STAGE_ID' not in fields and (
                not record or record.pipeline.id != pipeline):
            Pipeline = Pool().get('crm.pipeline')
            stage = Pipeline(pipeline).first_stage()
            values['stage'] = stage.id if stage else None
        return values

    def write_stage(value, fields, record, conv):
        pipeline = None
        if 'CATEGORY_ID' in fields:
            pipeline = conv.pipeline('CATEGORY_ID', fields['CATEGORY_ID'])
        elif record and not re.match(r'C\d+:', str(value or '')):
            pipeline = record.pipeline.id
        stage = conv.stage('STAGE_ID', value, pipeline)
        Stage = Pool().get('crm.pipeline.stage')
        values = {'stage': stage, 'pipeline': Stage(stage).pipeline.id}
        if Stage(stage).kind == 'lost' and not (
                record and record.lost_reason):
            values['lost_reason'] = gettext('crm_portal.msg_rest_crm_lost_reason')
        return values

    def search_stage(operator, value, conv):
        values = value if isinstance(value, (list, tuple)) else [value]
        stages = []
        for text in values:
            try:
                stages.append(conv.stage('STAGE_ID', text))
            except RestError:
                stages.append(-1)
        if operator in {'=', 'in'}:
            return [('stage', 'in', stages)]
        if operator in {'!=', 'not in'}:
            return [('stage', 'not in', stages)]
        raise invalid('STAGE_ID', value)

    def search_category(operator, value, conv):
        values = value if isinstance(value, (list, tuple)) else [value]
        pipelines = [conv.default_pipeline if parse_int(
                    'CATEGORY_ID', v) is None else parse_int('CATEGORY_ID', v)
            for v in values]
        if operator in {'=', 'in'}:
            return [('pipeline', 'in', pipelines)]
        if operator in {'!=', 'not in'}:
            return [('pipeline', 'not in', pipelines)]
        raise invalid('CATEGORY_ID', value)

    def read_semantic(record, conv):
        return {'won': 'S', 'lost': 'F'}.get(record.stage_kind, 'P')

    def search_closed(operator, value, conv):
        closed = parse_yes_no('CLOSED', value)
        if operator == '!=':
            closed = not closed
        elif operator != '=':
            raise invalid('CLOSED', value)
        return [('stage.kind', 'in' if closed else 'not in',
                ['won', 'lost'])]

    def stage_items():
        Stage = Pool().get('crm.pipeline.stage')
        conv = Converter()
        return [{'ID': conv.stage_id(s), 'VALUE': s.name}
            for s in Stage.search([])]
    return [
        _id_field(),
        _text_field('TITLE', 'description'),
        RestField('CATEGORY_ID', 'crm_category', 'pipeline',
            read=lambda r, c: (
                str(c.category_id(r.pipeline)) if r.pipeline else None),
            write=write_category, search=search_category, order='pipeline'),
        RestField('STAGE_ID', 'crm_status', 'stage',
            read=lambda r, c: c.stage_id(r.stage),
            write=write_stage, search=search_stage, order='stage',
            items=stage_items),
        RestField('STAGE_SEMANTIC_ID', 'char', 'stage_kind',
            read=read_semantic),
        _money_field(),
        _currency_field(),
        RestField('PROBABILITY', 'integer', 'conversion_probability',
            read=read_probability, write=write_probability,
            order='conversion_probability'),
        _user_field('ASSIGNED_BY_ID'),
        ] + _opportunity_party_fields() + [
        _many2one_field('LEAD_ID', 'origin_lead', 'sale.opportunity',
            [('crm_type', '=', 'lead')], type_='crm_lead'),
        _code_field('SOURCE_ID', 'source', 'crm.source',
            status_type='SOURCE'),
        _text_field('SOURCE_DESCRIPTION', 'source_description'),
        RestField('CLOSED', 'char', 'stage_kind',
            read=lambda r, c: yes_no(r.stage_kind in {'won', 'lost'}),
            search=search_closed),
        _date_field('BEGINDATE', 'start_date', required=True),
        _date_field('CLOSEDATE', 'end_date'),
        _text_field('COMMENTS', 'comment'),
        ] + _utm_fields() + _tracking_fields() + [
        _constant_field('OPENED', 'Y'),
        ]


def _party_common_fields():
    return [
        _user_field('ASSIGNED_BY_ID', 'crm_responsible'),
        _text_field('COMMENTS', 'comment'),
        ] + [_party_multi_field(n) for n in MULTI_FIELDS] + (
        _tracking_fields() + [_constant_field('OPENED', 'Y')])


def contact_fields():
    return [
        _id_field(),
        _name_field('NAME', 'name', 0),
        _name_field('SECOND_NAME', 'name', 1),
        _name_field('LAST_NAME', 'name', 2),
        _text_field('POST', 'job_title'),
        _many2one_field('COMPANY_ID', 'employer', 'party.party',
            [('crm_kind', '=', 'organisation')], type_='crm_company'),
        _code_field('SOURCE_ID', 'crm_source', 'crm.source',
            status_type='SOURCE'),
        ] + _party_common_fields()


def company_fields():
    def write_title(value, fields, record, conv):
        text = (parse_text('TITLE', value) or '').strip()
        if not text:
            raise invalid('TITLE', value)
        return {'name': text}
    return [
        _id_field(),
        RestField('TITLE', 'string', 'name',
            read=lambda r, c: r.name, write=write_title,
            search=_search_on('name'), order='name', required=True),
        _constant_field('COMPANY_TYPE', 'CUSTOMER', type_='crm_status'),
        _code_field('SOURCE_ID', 'crm_source', 'crm.source',
            status_type='SOURCE'),
        ] + _party_common_fields()


# Activities: Bitrix TYPE_ID, OWNER_TYPE_ID, DIRECTION codes
ACTIVITY_TYPES = {
    'meeting': '1', 'call': '2', 'task': '3', 'email': '4', 'note': '5',
    'chat': '6', 'form': '6',
    }
ACTIVITY_PROVIDERS = {
    'chat': 'IMOPENLINES_SESSION', 'form': 'CRM_WEBFORM',
    }
TYPE_IDS = {'1': 'meeting', '2': 'call', '3': 'task', '4': 'email',
    '5': 'note', '6': 'note'}
PROVIDER_TYPES = {v: k for k, v in ACTIVITY_PROVIDERS.items()}
OWNER_TYPES = {'1': 'lead', '2': 'deal', '3': 'contact', '4': 'company'}
DIRECTIONS = {'incoming': '1', 'outgoing': '2'}


def owner(name, type_id, owner_id, conv):
    "The activity values linking it to an owner"
    kind = OWNER_TYPES.get(str(type_id or '').strip())
    if not kind:
        raise invalid('OWNER_TYPE_ID', type_id)
    record_id = parse_int('OWNER_ID', owner_id)
    if record_id is None:
        raise invalid('OWNER_ID', owner_id)
    if kind in {'lead', 'deal'}:
        conv.reference('OWNER_ID', record_id, 'sale.opportunity',
            [('crm_type', '=', kind)])
        Opportunity = Pool().get('sale.opportunity')
        opportunity = Opportunity(record_id)
        party = opportunity.contact_party or opportunity.party
        return {'opportunity': record_id,
            'party': party.id if party else None}
    conv.reference('OWNER_ID', record_id, 'party.party',
        [('crm_kind', '=',
                'person' if kind == 'contact' else 'organisation')])
    return {'opportunity': None, 'party': record_id}


def activity_fields():
    def read_owner_type(record, conv):
        if record.opportunity:
            return '1' if record.opportunity.crm_type == 'lead' else '2'
        if record.party:
            return '3' if record.party.crm_kind == 'person' else '4'
        return None

    def read_owner(record, conv):
        target = record.opportunity or record.party
        return str(target.id) if target else None

    def write_owner(value, fields, record, conv):
        type_id = fields.get('OWNER_TYPE_ID')
        owner_id = fields.get('OWNER_ID')
        if record:
            if type_id is None:
                type_id = read_owner_type(record, conv)
            if owner_id is None:
                owner_id = read_owner(record, conv)
        return owner('OWNER_ID', type_id, owner_id, conv)

    def search_owner_type(operator, value, conv):
        values = value if isinstance(value, (list, tuple)) else [value]
        clauses = ['OR']
        for v in values:
            kind = OWNER_TYPES.get(str(v))
            if kind in {'lead', 'deal'}:
                clauses.append([('opportunity.crm_type', '=', kind)])
            elif kind:
                clauses.append([('opportunity', '=', None),
                        ('party.crm_kind', '=', 'person'
                            if kind == 'contact' else 'organisation')])
            else:
                raise invalid('OWNER_TYPE_ID', v)
        if operator in {'=', 'in'}:
            return [clauses]
        raise invalid('OWNER_TYPE_ID', value)

    def search_owner(operator, value, conv):
        values = value if isinstance(value, (list, tuple)) else [value]
        ids = [parse_int('OWNER_ID', v) for v in values]
        if operator in {'=', 'in'}:
            return [['OR', ('opportunity', 'in', ids),
                    [('opportunity', '=', None), ('party', 'in', ids)]]]
        raise invalid('OWNER_ID', value)

    def write_type(value, fields, record, conv):
        provider = str(fields.get('PROVIDER_ID') or '').upper()
        if str(value) == '6' and provider in PROVIDER_TYPES:
            return {'type': PROVIDER_TYPES[provider]}
        if str(value) not in TYPE_IDS:
            raise invalid('TYPE_ID', value)
        return {'type': TYPE_IDS[str(value)]}

    def search_type(operator, value, conv):
        values = value if isinstance(value, (list, tuple)) else [value]
        types = [t for t, code in ACTIVITY_TYPES.items()
            if code in {str(v) for v in values}]
        if operator in {'=', 'in'}:
            return [('type', 'in', types)]
        if operator in {'!=', 'not in'}:
            return [('type', 'not in', types)]
        raise invalid('TYPE_ID', value)

    def write_direction(value, fields, record, conv):
        codes = {v: k for k, v in DIRECTIONS.items()}
        if value in (None, '', '0', 0):
            return {'direction': None}
        if str(value) not in codes:
            raise invalid('DIRECTION', value)
        return {'direction': codes[str(value)]}

    def write_completed(value, fields, record, conv):
        return {'done': parse_yes_no('COMPLETED', value)}

    def write_subject(value, fields, record, conv):
        text = (parse_text('SUBJECT', value) or '').strip()
        if not text:
            raise invalid('SUBJECT', value)
        return {'subject': text}

    def write_deadline(name):
        def write(value, fields, record, conv):
            return {'deadline': conv.parse_datetime(name, value)}
        return write

    def write_end(value, fields, record, conv):
        return {'end': conv.parse_datetime('END_TIME', value)}

    def read_communications(record, conv):
        party = record.party
        if not party:
            return []
        return [{
                'ENTITY_ID': str(party.id),
                'ENTITY_TYPE_ID': '3' if party.crm_kind == 'person' else '4',
                'TYPE': m.type.upper() if m.type != 'mobile' else 'PHONE',
                'VALUE': m.value,
                } for m in party.contact_mechanisms
            if m.type in {'phone', 'mobile', 'email'}][:1]
    return [
        _id_field(),
        RestField('OWNER_TYPE_ID', 'integer', 'opportunity',
            read=read_owner_type, write=write_owner,
            search=search_owner_type, required=True,
            title=lambda: 'OWNER_TYPE_ID'),
        RestField('OWNER_ID', 'integer', 'opportunity',
            read=read_owner, write=write_owner, search=search_owner,
            required=True, title=lambda: 'OWNER_ID'),
        RestField('TYPE_ID', 'crm_enum_activitytype', 'type',
            read=lambda r, c: ACTIVITY_TYPES.get(r.type),
            write=write_type, search=search_type, order='type',
            required=True),
        RestField('PROVIDER_ID', 'string', 'type',
            read=lambda r, c: ACTIVITY_PROVIDERS.get(r.type),
            title=lambda: 'PROVIDER_ID'),
        RestField('SUBJECT', 'string', 'subject',
            read=lambda r, c: r.subject, write=write_subject,
            search=_search_on('subject'), order='subject', required=True),
        _text_field('DESCRIPTION', 'description'),
        RestField('DEADLINE', 'datetime', 'deadline',
            read=lambda r, c: c.datetime(r.deadline),
            write=write_deadline('DEADLINE'),
            search=_search_on('deadline',
                lambda v, c: c.parse_datetime('DEADLINE', v)),
            order='deadline'),
        RestField('START_TIME', 'datetime', 'deadline',
            read=lambda r, c: c.datetime(r.deadline),
            write=write_deadline('START_TIME'),
            search=_search_on('deadline',
                lambda v, c: c.parse_datetime('START_TIME', v)),
            order='deadline'),
        RestField('END_TIME', 'datetime', 'end',
            read=lambda r, c: c.datetime(r.end or r.deadline),
            write=write_end,
            search=_search_on('end',
                lambda v, c: c.parse_datetime('END_TIME', v)),
            order='end'),
        RestField('COMPLETED', 'char', 'done',
            read=lambda r, c: yes_no(r.done), write=write_completed,
            search=_search_on('done',
                lambda v, c: parse_yes_no('COMPLETED', v)), order='done'),
        RestField('DIRECTION', 'crm_enum_activitydirection', 'direction',
            read=lambda r, c: DIRECTIONS.get(r.direction, '0'),
            write=write_direction,
            search=_search_on('direction',
                lambda v, c: {v_: k for k, v_ in DIRECTIONS.items()}.get(
                    str(v))), order='direction'),
        _user_field('RESPONSIBLE_ID', 'responsible'),
        RestField('COMMUNICATIONS', 'crm_multifield', None,
            read=read_communications,
            write=lambda v, f, r, c: {}, multiple=True,
            title=lambda: 'COMMUNICATIONS'),
        _datetime_field('CREATED', 'create_date'),
        _datetime_field('LAST_UPDATED', 'write_date',
            fallback='create_date'),
        _uid_field('AUTHOR_ID', 'create_uid'),
        _uid_field('EDITOR_ID', 'write_uid'),
        ]
