# Bitrix24-compatible REST methods of telephony: telephony.externalcall.*,
# telephony.externalCall.*, telephony.externalLine.*, voximplant.statistic.get
import base64
import binascii

from trytond.exceptions import UserError
from trytond.i18n import gettext
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction

from trytond.modules.crm_portal.rest import RestError, RestMethod, RestPage
from trytond.modules.crm_portal.rest_convert import Converter

# TYPE of register: 1 outgoing, 2 incoming, 3 incoming redirected,
# 4 callback (an outgoing call the client asked for)
CALL_TYPES = {1: 'outgoing', 2: 'incoming', 3: 'incoming', 4: 'outgoing'}
ENTITY_MODELS = {'LEAD': 'sale.opportunity', 'DEAL': 'sale.opportunity',
    'CONTACT': 'party.party', 'COMPANY': 'party.party'}
# A base64 recording above this is refused before decoding.
MAX_UPLOAD = 70 * 1024 * 1024


def _get(params, name, default=None):
    for key in [name, name.lower()]:
        if key in params and params[key] not in (None, ''):
            return params[key]
    return default


def _required(params, name):
    value = _get(params, name)
    if value is None:
        raise RestError('INVALID_ARG_VALUE', gettext(
                'crm_telephony.msg_rest_required', param=name))
    return value


def _int(params, name, default=None):
    value = _get(params, name)
    if value is None:
        return default
    try:
        return int(str(value).strip())
    except ValueError:
        raise RestError('INVALID_ARG_VALUE', gettext(
                'crm_telephony.msg_rest_invalid', param=name,
                value=str(value)[:50]))


def _flag(params, name, default=None):
    value = _get(params, name)
    if value is None:
        return default
    return str(value).strip().upper() in {'1', 'Y', 'TRUE', 'YES'}


class Rest(metaclass=PoolMeta):
    __name__ = 'crm.rest'

    @classmethod
    def methods(cls):
        methods = super().methods()
        for method in [
                RestMethod('telephony.externalcall.register',
                    cls.rest_call_register, 'telephony',
                    "Register a call of an external PBX",
                    {'USER_PHONE_INNER': "extension of the employee",
                        'USER_ID': "user id (or USER_PHONE_INNER)",
                        'PHONE_NUMBER': "the client's number",
                        'TYPE': "1 outgoing, 2 incoming, 3 incoming "
                        "redirected, 4 callback",
                        'CALL_START_DATE': "start (ISO 8601)",
                        'CRM_CREATE': "1 to create a lead for an unknown "
                        "number",
                        'CRM_ENTITY_TYPE': "LEAD, DEAL, CONTACT, COMPANY",
                        'CRM_ENTITY_ID': "id of the entity",
                        'SHOW': "1 (default) shows the call card",
                        'LINE_NUMBER': "the external line",
                        'EXTERNAL_CALL_ID': "the PBX's call id"}),
                RestMethod('telephony.externalcall.finish',
                    cls.rest_call_finish, 'telephony',
                    "Finish a call and log it",
                    {'CALL_ID': "from register", 'USER_ID': "user id",
                        'USER_PHONE_INNER': "extension",
                        'DURATION': "talk time in seconds",
                        'COST': "cost", 'COST_CURRENCY': "currency code",
                        'STATUS_CODE': "200 answered, 304 missed, "
                        "486 busy, 603 declined...",
                        'FAILED_REASON': "why it failed",
                        'RECORD_URL': "recording to download"}),
                RestMethod('telephony.externalcall.show',
                    cls.rest_call_show, 'telephony',
                    "Show the call card to users",
                    {'CALL_ID': "call", 'USER_ID': "user id or list"}),
                RestMethod('telephony.externalcall.hide',
                    cls.rest_call_hide, 'telephony',
                    "Hide the call card of users",
                    {'CALL_ID': "call", 'USER_ID': "user id or list"}),
                RestMethod('telephony.externalcall.attachrecord',
                    cls.rest_attach_record, 'telephony',
                    "Attach the recording of a call",
                    {'CALL_ID': "call", 'FILENAME': "file name",
                        'FILE_CONTENT': "base64 audio",
                        'RECORD_URL': "or a URL to download"}),
                RestMethod('telephony.externalcall.searchcrmentities',
                    cls.rest_search_entities, 'telephony',
                    "CRM records of a phone number",
                    {'PHONE_NUMBER': "the number"}, readonly=True),
                RestMethod('telephony.externalline.add',
                    cls.rest_line_add, 'telephony', "Add an external line",
                    {'NUMBER': "line number", 'NAME': "name"}),
                RestMethod('telephony.externalline.update',
                    cls.rest_line_update, 'telephony',
                    "Rename an external line",
                    {'NUMBER': "line number", 'NAME': "name"}),
                RestMethod('telephony.externalline.delete',
                    cls.rest_line_delete, 'telephony',
                    "Delete an external line", {'NUMBER': "line number"}),
                RestMethod('telephony.externalline.get',
                    cls.rest_line_get, 'telephony',
                    "External lines", readonly=True),
                RestMethod('voximplant.statistic.get',
                    cls.rest_call_statistic, 'telephony',
                    "Finished calls",
                    {'FILTER': "CALL_ID, PHONE_NUMBER",
                        'start': "offset"}, paged=True, readonly=True),
                ]:
            methods[method.name] = method
        return methods

    @classmethod
    def _telephony_company(cls):
        company = Transaction().context.get('company')
        if not company:
            raise RestError('ERROR_CORE', gettext(
                    'crm_portal.msg_event_rest_no_company'))
        return company

    @classmethod
    def _employee_param(cls, params, company, required=False):
        "The employee of USER_ID or USER_PHONE_INNER"
        Extension = Pool().get('crm.telephony.extension')
        inner = _get(params, 'USER_PHONE_INNER')
        if inner is not None:
            employee = Extension.employee_of(company, inner)
            if not employee:
                raise RestError('INVALID_ARG_VALUE', gettext(
                        'crm_telephony.msg_rest_unknown_inner',
                        extension=str(inner)[:20]))
            return employee
        user = _get(params, 'USER_ID')
        if user is not None:
            if isinstance(user, (list, tuple)):
                user = user[0] if user else None
            try:
                return Pool().get('company.employee')(
                    Converter().employee('USER_ID', user))
            except UserError:
                raise
        if required:
            raise RestError('INVALID_ARG_VALUE', gettext(
                    'crm_telephony.msg_rest_required',
                    param='USER_ID / USER_PHONE_INNER'))
        return None

    @classmethod
    def _call_param(cls, params):
        Call = Pool().get('crm.telephony.call')
        call_id = _required(params, 'CALL_ID')
        try:
            return Call.find_open(cls._telephony_company(), call_id)
        except UserError as exception:
            raise RestError('NOT_FOUND', exception.message, 404)

    @classmethod
    def rest_call_register(cls, params):
        pool = Pool()
        Call = pool.get('crm.telephony.call')
        Line = pool.get('crm.telephony.line')
        company = cls._telephony_company()
        number = str(_required(params, 'PHONE_NUMBER'))
        type_ = _int(params, 'TYPE', 2)
        if type_ not in CALL_TYPES:
            raise RestError('INVALID_ARG_VALUE', gettext(
                    'crm_telephony.msg_rest_invalid', param='TYPE',
                    value=str(type_)))
        employee = cls._employee_param(params, company, required=True)
        line = None
        line_number = _get(params, 'LINE_NUMBER')
        if line_number is not None:
            line = Line.find(company, line_number)
            if not line:
                raise RestError('INVALID_ARG_VALUE', gettext(
                        'crm_telephony.msg_rest_unknown_line',
                        number=str(line_number)[:50]))
        entity = None
        entity_type = str(_get(params, 'CRM_ENTITY_TYPE', '')).upper()
        if entity_type:
            entity = cls._entity_param(entity_type,
                _int(params, 'CRM_ENTITY_ID'))
        start = _get(params, 'CALL_START_DATE')
        if start is not None:
            start = Converter().parse_datetime('CALL_START_DATE', start)
        inner = _get(params, 'USER_PHONE_INNER')
        call = Call.register(company, number,
            direction=CALL_TYPES[type_], line=line,
            extension=str(inner) if inner is not None else None,
            employee=employee, start=start,
            external_id=_get(params, 'EXTERNAL_CALL_ID'),
            crm_create=_flag(params, 'CRM_CREATE'),
            show=_flag(params, 'SHOW', True), entity=entity)
        created = []
        if call.lead_created and call.opportunity:
            created.append({'ENTITY_TYPE': 'LEAD',
                    'ENTITY_ID': call.opportunity.id})
        return {
            'CALL_ID': call.call_id,
            'CRM_CREATED_LEAD': (call.opportunity.id
                if call.lead_created and call.opportunity else None),
            'CRM_CREATED_ENTITIES': created,
            'CRM_ENTITY_TYPE': call.entity_type(),
            'CRM_ENTITY_ID': call.entity_id(),
            'LEAD_CREATION_ERROR': None,
            }

    @classmethod
    def _entity_param(cls, entity_type, entity_id):
        if entity_type not in ENTITY_MODELS or not entity_id:
            raise RestError('INVALID_ARG_VALUE', gettext(
                    'crm_telephony.msg_rest_invalid',
                    param='CRM_ENTITY_TYPE', value=entity_type[:20]))
        Model = Pool().get(ENTITY_MODELS[entity_type])
        if not Model.search([('id', '=', entity_id)], limit=1):
            raise RestError('NOT_FOUND', gettext(
                    'crm_telephony.msg_rest_unknown_entity',
                    type=entity_type, id=entity_id), 404)
        return '%s,%d' % (Model.__name__, entity_id)

    @classmethod
    def rest_call_finish(cls, params):
        Call = Pool().get('crm.telephony.call')
        call = cls._call_param(params)
        company = cls._telephony_company()
        employee = cls._employee_param(params, company)
        duration = _int(params, 'DURATION')
        if duration is None or duration < 0:
            raise RestError('INVALID_ARG_VALUE', gettext(
                    'crm_telephony.msg_rest_required', param='DURATION'))
        cost = _get(params, 'COST')
        if cost is not None:
            from trytond.modules.crm_portal.rest_convert import (
                parse_decimal)
            cost = parse_decimal('COST', cost)
        status_code = _get(params, 'STATUS_CODE')
        if status_code is None:
            status_code = '200' if duration else '304'
        try:
            Call.finish(call, status_code=str(status_code),
                duration=duration, cost=cost,
                cost_currency=_get(params, 'COST_CURRENCY'),
                employee=employee,
                failed_reason=_get(params, 'FAILED_REASON'),
                record_url=_get(params, 'RECORD_URL'))
        except UserError as exception:
            raise RestError('ERROR_CORE', exception.message, 400)
        return cls._statistic(call)

    @classmethod
    def _statistic(cls, call):
        Extension = Pool().get('crm.telephony.extension')
        result = call.as_statistic()
        result['PORTAL_USER_ID'] = Extension.first_user(
            call.employee.id if call.employee else None)
        return result

    @classmethod
    def _users_param(cls, params):
        User = Pool().get('res.user')
        users = _required(params, 'USER_ID')
        if not isinstance(users, (list, tuple)):
            users = [users]
        result = []
        for user in users:
            try:
                user = int(user)
            except (TypeError, ValueError):
                user = None
            records = User.search([('id', '=', user)]) if user else []
            if not records:
                raise RestError('INVALID_ARG_VALUE', gettext(
                        'crm_telephony.msg_rest_invalid', param='USER_ID',
                        value=str(user)[:20]))
            result.extend(records)
        return result

    @classmethod
    def rest_call_show(cls, params):
        Card = Pool().get('crm.telephony.call.card')
        call = cls._call_param(params)
        if call.state == 'finished':
            return False
        for user in cls._users_param(params):
            for employee in user.employees:
                Card.show(call, employee)
        return True

    @classmethod
    def rest_call_hide(cls, params):
        Card = Pool().get('crm.telephony.call.card')
        call = cls._call_param(params)
        users = {u.id for u in cls._users_param(params)}
        for card in Card.search([('call', '=', call.id)]):
            if card.user.id in users:
                Card.hide_card(card)
        return True

    @classmethod
    def rest_attach_record(cls, params):
        call = cls._call_param(params)
        content = _get(params, 'FILE_CONTENT')
        url = _get(params, 'RECORD_URL')
        try:
            if content is not None:
                content = str(content)
                if len(content) > MAX_UPLOAD:
                    raise UserError(gettext(
                            'crm_telephony.msg_recording_too_large',
                            size=len(content) * 3 // 4 // (1024 * 1024),
                            limit=call.max_recording_size() // (
                                1024 * 1024)))
                try:
                    data = base64.b64decode(content, validate=True)
                except (binascii.Error, ValueError):
                    raise RestError('INVALID_ARG_VALUE', gettext(
                            'crm_telephony.msg_rest_invalid',
                            param='FILE_CONTENT', value='base64'))
                call.attach_recording(data, _get(params, 'FILENAME'))
            elif url is not None:
                call.queue_recording(url)
            else:
                raise RestError('INVALID_ARG_VALUE', gettext(
                        'crm_telephony.msg_rest_required',
                        param='FILE_CONTENT / RECORD_URL'))
        except UserError as exception:
            raise RestError('ERROR_CORE', exception.message, 400)
        return {'FILE_ID': call.id if call.recording_id else None,
            'CALL_ID': call.call_id}

    @classmethod
    def rest_search_entities(cls, params):
        pool = Pool()
        Call = pool.get('crm.telephony.call')
        Extension = pool.get('crm.telephony.extension')
        from trytond.modules.crm_portal.phone import (
            default_regions, normalize_phone)
        company = cls._telephony_company()
        number = str(_required(params, 'PHONE_NUMBER'))
        e164 = normalize_phone(number, default_regions(company))
        if not e164:
            raise RestError('INVALID_ARG_VALUE', gettext(
                    'crm_telephony.msg_invalid_number', number=number[:50]))
        found = Call.lookup(company, e164)
        conv = Converter()
        result = []
        for kind, record in [
                ('CONTACT', found['contact']),
                ('COMPANY', found['client']),
                ('opportunity', found['opportunity'])]:
            if not record:
                continue
            if kind == 'opportunity':
                kind = record.crm_type.upper()
                employee = record.employee
            else:
                employee = record.crm_responsible
            user = conv.user(employee.id if employee else None)
            result.append({
                    'CRM_ENTITY_TYPE': kind,
                    'CRM_ENTITY_ID': record.id,
                    'NAME': record.rec_name,
                    'ASSIGNED_BY_ID': user,
                    'ASSIGNED_BY': {
                        'ID': user,
                        'USER_PHONE_INNER': Extension.extension_of(
                            employee.id) if employee else None,
                        } if user else None,
                    })
        return result

    @classmethod
    def _line_param(cls, params):
        Line = Pool().get('crm.telephony.line')
        number = str(_required(params, 'NUMBER')).strip()
        lines = Line.search([
                ('company', '=', cls._telephony_company()),
                ('number', '=', number)], limit=1)
        return number, (lines[0] if lines else None)

    @classmethod
    def rest_line_add(cls, params):
        Line = Pool().get('crm.telephony.line')
        number, line = cls._line_param(params)
        if line:
            raise RestError('ERROR_CORE', gettext(
                    'crm_telephony.msg_line_number_unique'))
        line, = Line.create([{
                    'company': cls._telephony_company(),
                    'number': number,
                    'name': _get(params, 'NAME'),
                    'connector': 'rest',
                    }])
        return {'ID': line.id}

    @classmethod
    def rest_line_update(cls, params):
        Line = Pool().get('crm.telephony.line')
        number, line = cls._line_param(params)
        if not line:
            raise RestError('NOT_FOUND', gettext(
                    'crm_telephony.msg_rest_unknown_line', number=number),
                404)
        Line.write([line], {'name': _get(params, 'NAME')})
        return {'ID': line.id}

    @classmethod
    def rest_line_delete(cls, params):
        Line = Pool().get('crm.telephony.line')
        number, line = cls._line_param(params)
        if not line:
            raise RestError('NOT_FOUND', gettext(
                    'crm_telephony.msg_rest_unknown_line', number=number),
                404)
        Line.delete([line])
        return True

    @classmethod
    def rest_line_get(cls, params):
        Line = Pool().get('crm.telephony.line')
        return [{'NUMBER': line.number, 'NAME': line.name or ''}
            for line in Line.search([
                    ('company', '=', cls._telephony_company())],
                order=[('id', 'ASC')])]

    @classmethod
    def rest_call_statistic(cls, params):
        Call = Pool().get('crm.telephony.call')
        from trytond.modules.crm_portal.rest import PAGE_SIZE, page_start
        filter_ = _get(params, 'FILTER') or {}
        if not isinstance(filter_, dict):
            raise RestError('INVALID_ARG_VALUE', gettext(
                    'crm_telephony.msg_rest_invalid', param='FILTER',
                    value=str(filter_)[:50]))
        domain = [('company', '=', cls._telephony_company()),
            ('state', '=', 'finished')]
        if filter_.get('CALL_ID'):
            domain.append(('call_id', '=', str(filter_['CALL_ID'])))
        if filter_.get('PHONE_NUMBER'):
            domain.append(('phone', '=', str(filter_['PHONE_NUMBER'])))
        if filter_.get('EXTERNAL_ID'):
            domain.append(('external_id', '=', str(filter_['EXTERNAL_ID'])))
        start = page_start(params)
        calls = Call.search(domain, offset=start, limit=PAGE_SIZE,
            order=[('id', 'ASC')])
        total = Call.search_count(domain)
        return RestPage([cls._statistic(c) for c in calls], total)
