# Bitrix24 upper-case REST fields mapped to our fields: reading, writing,
# filtering, ordering; multi-fields (PHONE, EMAIL, WEB, IM).
from trytond.pool import Pool

from .rest_convert import (
    error, invalid, join_name, parse_decimal, parse_int, parse_text,
    split_name)

# Filter prefixes, longest first: Bitrix operator -> Tryton operator
OPERATORS = [
    ('>=', '>='), ('<=', '<='), ('!=', '!='), ('!@', 'not in'),
    ('!%', 'not ilike'), ('=', '='), ('>', '>'), ('<', '<'), ('!', '!='),
    ('%', 'ilike'), ('@', 'in'),
    ]
# Bitrix multi-field kinds: our contact mechanism types and VALUE_TYPEs
MULTI_FIELDS = {
    'PHONE': {
        'types': {'phone': 'WORK', 'mobile': 'MOBILE', 'fax': 'FAX'},
        'value_types': {
            'WORK': 'phone', 'MOBILE': 'mobile', 'FAX': 'fax',
            'HOME': 'phone', 'PAGER': 'phone', 'MAILING': 'phone',
            'OTHER': 'phone'},
        },
    'EMAIL': {
        'types': {'email': 'WORK'},
        'value_types': {
            'WORK': 'email', 'HOME': 'email', 'MAILING': 'email',
            'OTHER': 'email'},
        },
    'WEB': {
        'types': {'website': 'WORK'},
        'value_types': {
            'WORK': 'website', 'HOME': 'website', 'FACEBOOK': 'website',
            'VK': 'website', 'LIVEJOURNAL': 'website',
            'TWITTER': 'website', 'OTHER': 'website'},
        },
    'IM': {
        'types': {
            'skype': 'SKYPE', 'jabber': 'JABBER', 'sip': 'OTHER',
            'irc': 'OTHER', 'other': 'OTHER'},
        'value_types': {
            'SKYPE': 'skype', 'JABBER': 'jabber', 'TELEGRAM': 'other',
            'VIBER': 'other', 'FACEBOOK': 'other', 'VK': 'other',
            'INSTAGRAM': 'other', 'BITRIX24': 'other', 'OPENLINE': 'other',
            'IMOL': 'other', 'ICQ': 'other', 'MSN': 'other',
            'OTHER': 'other'},
        },
    }
UTM = ['UTM_SOURCE', 'UTM_MEDIUM', 'UTM_CAMPAIGN', 'UTM_CONTENT', 'UTM_TERM']


class RestField:
    """A Bitrix24 field of an entity

    read(record, conv) -> value answered
    write(value, fields, record, conv) -> dict of our values
    search(operator, value, conv) -> domain
    order: our field name to order by"""

    def __init__(self, name, type_, field=None, read=None, write=None,
            search=None, order=None, required=False, multiple=False,
            items=None, title=None):
        self.name = name
        self.type = type_
        self.field = field
        self._read = read
        self._write = write
        self._search = search
        self.order = order
        self.required = required
        self.multiple = multiple
        self.items = items
        self._title = title

    @property
    def readonly(self):
        return self._write is None

    def read(self, record, conv):
        return self._read(record, conv)

    def write(self, value, fields, record, conv):
        return self._write(value, fields, record, conv)

    def search(self, operator, value, conv):
        if self._search is None:
            raise error('msg_rest_crm_unknown_field', field=self.name,
                param='filter')
        return self._search(operator, value, conv)

    def title(self, Model):
        if self._title:
            return self._title()
        if self.field and self.field in Model._fields:
            return Model.fields_get([self.field])[self.field]['string']
        return self.name

    def describe(self, Model):
        result = {
            'type': self.type,
            'isRequired': self.required,
            'isReadOnly': self.readonly,
            'isImmutable': False,
            'isMultiple': self.multiple,
            'isDynamic': False,
            'title': self.title(Model),
            }
        if self.items:
            result['items'] = self.items()
        return result


def _search_on(field, parse=None):
    def search(operator, value, conv):
        if isinstance(value, (list, tuple)):
            values = [parse(v, conv) if parse else v for v in value]
            return [(field, operator, values)]
        if operator in {'ilike', 'not ilike'}:
            return [(field, operator, '%' + str(value) + '%')]
        if parse:
            value = parse(value, conv)
        return [(field, operator, value)]
    return search


def _text_field(name, field, **kwargs):
    return RestField(name, 'string', field,
        read=lambda r, c: getattr(r, field),
        write=lambda v, f, r, c: {field: parse_text(name, v) or None},
        search=_search_on(field), order=field, **kwargs)


def _id_field(name='ID'):
    return RestField(name, 'integer', 'id',
        read=lambda r, c: str(r.id),
        search=_search_on('id', lambda v, c: parse_int(name, v)),
        order='id')


def _many2one_field(name, field, model, domain=None, type_='integer',
        **kwargs):
    def parse(value, conv):
        return conv.reference(name, value, model, domain)
    return RestField(name, type_, field,
        read=lambda r, c: (
            str(getattr(r, field).id) if getattr(r, field) else None),
        write=lambda v, f, r, c: {field: parse(v, c)},
        search=_search_on(field, lambda v, c: parse_int(name, v)),
        order=field, **kwargs)


def _user_field(name, field='employee', readonly=False):
    def read(record, conv):
        user = conv.user(getattr(record, field))
        return str(user) if user else None

    def search(operator, value, conv):
        User = Pool().get('res.user')
        values = value if isinstance(value, (list, tuple)) else [value]
        users = User.search([('id', 'in', [
                        u for u in (parse_int(name, v) for v in values)
                        if u is not None])])
        employees = [e.id for u in users for e in u.employees]
        if operator in {'=', 'in'}:
            return [(field, 'in', employees)]
        if operator in {'!=', 'not in'}:
            return ['OR', (field, 'not in', employees), (field, '=', None)]
        raise invalid(name, value)
    return RestField(name, 'user', field, read=read,
        write=None if readonly else (
            lambda v, f, r, c: {field: c.employee(name, v)}),
        search=search, order=field)


def _uid_field(name, field):
    return RestField(name, 'user', field,
        read=lambda r, c: (
            str(getattr(r, field).id) if getattr(r, field) else None),
        search=_search_on(field, lambda v, c: parse_int(name, v)),
        order=field, title=lambda: name)


def _datetime_field(name, field, fallback=None, readonly=True):
    def read(record, conv):
        value = getattr(record, field)
        if value is None and fallback:
            value = getattr(record, fallback)
        return conv.datetime(value)
    return RestField(name, 'datetime', field, read=read,
        write=None if readonly else (
            lambda v, f, r, c: {field: c.parse_datetime(name, v)}),
        search=_search_on(field, lambda v, c: c.parse_datetime(name, v)),
        order=field)


def _date_field(name, field, required=False):
    def write(value, fields, record, conv):
        value = conv.parse_date(name, value)
        if value is None and required:
            raise invalid(name, value)
        return {field: value}
    return RestField(name, 'date', field,
        read=lambda r, c: c.date(getattr(r, field)),
        write=write,
        search=_search_on(field, lambda v, c: c.parse_date(name, v)),
        order=field)


def _code_field(name, field, model, type_='crm_status', status_type=None):
    def items():
        Model = Pool().get(model)
        return [{'ID': r.code, 'VALUE': r.name} for r in Model.search([])]

    def read(record, conv):
        value = getattr(record, field)
        return value.code if value else None

    def search(operator, value, conv):
        if isinstance(value, (list, tuple)):
            return [(field + '.code', operator, [str(v) for v in value])]
        if operator in {'ilike', 'not ilike'}:
            value = '%' + str(value) + '%'
        return [(field + '.code', operator, value or None)]
    result = RestField(name, type_, field, read=read,
        write=lambda v, f, r, c: {field: c.code(name, v, model)},
        search=search, order=field, items=items)
    result.status_type = status_type
    return result


def _currency_field(name='CURRENCY_ID', field='currency'):
    return RestField(name, 'crm_currency', field,
        read=lambda r, c: getattr(r, field).code if getattr(r, field)
        else None,
        write=lambda v, f, r, c: {field: c.currency(name, v)},
        search=_search_on(field + '.code'), order=field)


def _money_field(name='OPPORTUNITY', field='amount'):
    def read(record, conv):
        value = getattr(record, field)
        return '%.2f' % value if value is not None else None

    def write(value, fields, record, conv):
        return {field: parse_decimal(name, value)}
    return RestField(name, 'double', field, read=read, write=write,
        search=_search_on(field, lambda v, c: parse_decimal(name, v)),
        order=field)


def _constant_field(name, value, type_='char'):
    return RestField(name, type_, read=lambda r, c: value,
        title=lambda: name)


def _name_field(name, field, index):
    "One of NAME, SECOND_NAME, LAST_NAME of a full name field"
    def read(record, conv):
        return split_name(getattr(record, field))[index]

    def write(value, fields, record, conv):
        parts = list(split_name(getattr(record, field) if record else None))
        for i, key in enumerate(['NAME', 'SECOND_NAME', 'LAST_NAME']):
            if key in fields:
                parts[i] = parse_text(key, fields[key])
        return {field: join_name(*parts)}

    def search(operator, value, conv):
        if isinstance(value, (list, tuple)):
            return ['OR'] + [search('ilike', v, conv) for v in value] if (
                operator == 'in') else ['AND'] + [
                search('not ilike', v, conv) for v in value]
        if operator in {'=', 'ilike'}:
            return [(field, 'ilike', '%' + str(value) + '%')]
        if operator in {'!=', 'not ilike'}:
            return [(field, 'not ilike', '%' + str(value) + '%')]
        raise invalid(name, value)
    return RestField(name, 'string', field, read=read, write=write,
        search=search, order=field)


# Multi-fields (PHONE, EMAIL, WEB, IM)

def multi_items(name, fields, conv):
    "The items of a multi-field value as dicts"
    value = fields.get(name)
    if value is None or value == '':
        return []
    if isinstance(value, dict):
        # PHP-style n0/n1 keys or indexes
        value = [value[k] for k in value]
    if isinstance(value, str):
        value = [{'VALUE': value}]
    if not isinstance(value, (list, tuple)):
        raise invalid(name, value)
    items = []
    for item in value:
        if isinstance(item, str):
            item = {'VALUE': item}
        if not isinstance(item, dict):
            raise invalid(name, item)
        items.append(item)
    return items


def _value_type(name, item):
    kind = MULTI_FIELDS[name]
    value_type = str(item.get('VALUE_TYPE') or '').upper()
    if not value_type:
        type_, value_type = next(iter(kind['types'].items()))
        return value_type, type_
    if value_type not in kind['value_types']:
        raise invalid(name, item.get('VALUE_TYPE'))
    return value_type, kind['value_types'][value_type]


def _mechanism_item(name, mechanism):
    kind = MULTI_FIELDS[name]
    value_type = kind['types'][mechanism.type]
    label = (mechanism.name or '').upper()
    if (label in kind['value_types']
            and kind['value_types'][label] == mechanism.type):
        value_type = label
    return {
        'ID': str(mechanism.id),
        'VALUE_TYPE': value_type,
        'VALUE': mechanism.value,
        'TYPE_ID': name,
        }


def _party_multi_field(name):
    kind = MULTI_FIELDS[name]

    def read(record, conv):
        return [_mechanism_item(name, m)
            for m in record.contact_mechanisms if m.type in kind['types']]

    def write(value, fields, record, conv):
        items = multi_items(name, fields, conv)
        existing = {m.id: m for m in (record.contact_mechanisms
                if record else []) if m.type in kind['types']}
        to_create, actions = [], []
        for item in items:
            text = parse_text(name, item.get('VALUE'))
            text = text.strip() if text else ''
            delete = str(item.get('DELETE') or '').upper() == 'Y'
            if item.get('ID') not in (None, ''):
                mechanism_id = parse_int(name, item['ID'])
                if mechanism_id not in existing:
                    raise error('msg_rest_crm_multifield_id', field=name,
                        id=item['ID'])
                if delete or not text:
                    actions.append(('delete', [mechanism_id]))
                    continue
                values = {'value': text}
                if item.get('VALUE_TYPE'):
                    value_type, type_ = _value_type(name, item)
                    values.update(type=type_, name=_label(name, value_type))
                actions.append(('write', [mechanism_id], values))
            elif text and not delete:
                value_type, type_ = _value_type(name, item)
                to_create.append({
                        'type': type_, 'value': text,
                        'name': _label(name, value_type)})
        if to_create:
            actions.append(('create', to_create))
        return {'contact_mechanisms': actions} if actions else {}

    def search(operator, value, conv):
        values = value if isinstance(value, (list, tuple)) else [value]
        compact = []
        for text in values:
            text = str(text).strip()
            if name == 'PHONE':
                from .phone import default_regions, normalize_phone
                compact.append(normalize_phone(
                        text, default_regions(conv.company_id)) or text)
            elif name == 'EMAIL':
                compact.append(text.lower())
            else:
                compact.append(text)
        clause = [('type', 'in', list(kind['types']))]
        if operator in {'ilike', 'not ilike'}:
            clause.append(('value', 'ilike', '%' + str(value) + '%'))
        else:
            clause.append(('value_compact', 'in', compact))
        if operator in {'!=', 'not in', 'not ilike'}:
            return [('contact_mechanisms', 'not where', clause)]
        if operator not in {'=', 'in', 'ilike'}:
            raise invalid(name, value)
        return [('contact_mechanisms', 'where', clause)]
    return RestField(name, 'crm_multifield', 'contact_mechanisms',
        read=read, write=write, search=search, multiple=True,
        title=lambda: name)


def _label(name, value_type):
    "The contact mechanism name keeping a VALUE_TYPE our type cannot tell"
    kind = MULTI_FIELDS[name]
    type_ = kind['value_types'][value_type]
    return None if kind['types'].get(type_) == value_type else value_type


def _lead_multi_field(name, field):
    def read(record, conv):
        value = getattr(record, field)
        if not value:
            return []
        return [{
                'ID': '%s%s' % (name[0], record.id), 'VALUE_TYPE': 'WORK',
                'VALUE': value, 'TYPE_ID': name}]

    def write(value, fields, record, conv):
        items = [i for i in multi_items(name, fields, conv)
            if str(i.get('DELETE') or '').upper() != 'Y'
            and (parse_text(name, i.get('VALUE')) or '').strip()]
        if len(items) > 1:
            raise error('msg_rest_crm_lead_single_value', field=name)
        if items:
            _value_type(name, items[0])
            return {field: str(items[0]['VALUE']).strip()}
        removed = [i for i in multi_items(name, fields, conv)
            if i.get('ID') or str(i.get('DELETE') or '').upper() == 'Y']
        if removed or not fields.get(name):
            return {field: None}
        return {}

    def search(operator, value, conv):
        values = value if isinstance(value, (list, tuple)) else [value]
        if operator in {'ilike', 'not ilike'}:
            return [(field, operator, '%' + str(value) + '%')]
        target = field
        if name == 'PHONE':
            from .phone import default_regions, normalize_phone
            regions = default_regions(conv.company_id)
            values = [normalize_phone(str(v), regions) or str(v)
                for v in values]
            target = 'contact_phone_e164'
        else:
            values = [str(v).strip().lower() for v in values]
        if operator in {'=', 'in'}:
            return [(target, 'in', values)]
        if operator in {'!=', 'not in'}:
            return ['OR', (target, 'not in', values), (target, '=', None)]
        raise invalid(name, value)
    return RestField(name, 'crm_multifield', field, read=read, write=write,
        search=search, multiple=True, title=lambda: name)


def _utm_fields():
    return [_text_field(n, n.lower()) for n in UTM]


def _tracking_fields(write_date='write_date'):
    return [
        _datetime_field('DATE_CREATE', 'create_date'),
        _datetime_field('DATE_MODIFY', write_date, fallback='create_date'),
        _uid_field('CREATED_BY_ID', 'create_uid'),
        _uid_field('MODIFY_BY_ID', 'write_uid'),
        ]


def _opportunity_party_fields():
    "CONTACT_ID (the person) and COMPANY_ID (the client organisation)"
    def read_company(record, conv):
        party = record.party
        if party and party.crm_kind == 'organisation':
            return str(party.id)
        return None

    def write_contact(value, fields, record, conv):
        contact = conv.reference('CONTACT_ID', value, 'party.party',
            [('crm_kind', '=', 'person')])
        values = {'contact_party': contact}
        company = record.party if record else None
        if 'COMPANY_ID' not in fields and (
                not company or company.crm_kind != 'organisation'):
            values['party'] = contact
        return values

    def write_company(value, fields, record, conv):
        company = conv.reference('COMPANY_ID', value, 'party.party',
            [('crm_kind', '=', 'organisation')])
        if company is None:
            if 'CONTACT_ID' in fields:
                contact = conv.reference('CONTACT_ID', fields['CONTACT_ID'],
                    'party.party', [('crm_kind', '=', 'person')])
            else:
                contact = (record.contact_party.id
                    if record and record.contact_party else None)
            return {'party': contact}
        return {'party': company}

    def search_company(operator, value, conv):
        return [('party.crm_kind', '=', 'organisation')] + _search_on(
            'party', lambda v, c: parse_int('COMPANY_ID', v))(
            operator, value, conv)
    return [
        RestField('CONTACT_ID', 'crm_contact', 'contact_party',
            read=lambda r, c: (
                str(r.contact_party.id) if r.contact_party else None),
            write=write_contact,
            search=_search_on('contact_party',
                lambda v, c: parse_int('CONTACT_ID', v)),
            order='contact_party'),
        RestField('COMPANY_ID', 'crm_company', 'party',
            read=read_company, write=write_company, search=search_company,
            order='party'),
        ]
