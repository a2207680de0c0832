# Conversions of Bitrix24 REST values: errors naming the field, numbers,
# Y/N, names, ISO 8601 dates with offset, users, codes, deal stages.
import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from trytond.i18n import gettext
from trytond.pool import Pool
from trytond.tools import timezone as tz
from trytond.transaction import Transaction

from .rest import RestError

UTC = dt.timezone.utc



def error(message, status=400, code='INVALID_ARG_VALUE', **kwargs):
    return RestError(code, gettext('crm_portal.' + message, **kwargs), status)


def invalid(field, value):
    return error('msg_rest_crm_invalid_value', field=field, value=value)


def not_found():
    return error('msg_rest_crm_not_found', status=404, code='NOT_FOUND')


def yes_no(value):
    return 'Y' if value else 'N'


def parse_yes_no(name, value):
    if isinstance(value, bool):
        return value
    text = str(value).strip().upper()
    if text in {'Y', '1', 'TRUE'}:
        return True
    if text in {'N', '0', 'FALSE', ''}:
        return False
    raise invalid(name, value)


def parse_int(name, value, empty=None):
    if value in (None, '', 0, '0') and empty is not False:
        return None
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise invalid(name, value)
    if number < 0:
        raise invalid(name, value)
    return number


def parse_decimal(name, value):
    if value is None or value == '':
        return None
    try:
        number = Decimal(str(value).strip().replace(',', '.'))
    except (InvalidOperation, ValueError):
        raise invalid(name, value)
    if not number.is_finite():
        raise invalid(name, value)
    return number


def parse_text(name, value):
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        raise invalid(name, value)
    return str(value)


def split_name(name):
    "NAME, SECOND_NAME, LAST_NAME of a full name"
    words = (name or '').split()
    if not words:
        return None, None, None
    if len(words) == 1:
        return words[0], None, None
    return words[0], ' '.join(words[1:-1]) or None, words[-1]


def join_name(first, second, last):
    return ' '.join(
        w.strip() for w in [first, second, last] if w and w.strip()) or None


class Converter:
    "Per-call conversions needing the database (timezone, users, codes)"

    def __init__(self):
        context = Transaction().context
        self.company_id = context.get('company')
        self._tz = None
        self._users = {}
        self._employees = {}
        self._default_pipeline = -1

    @property
    def company(self):
        Company = Pool().get('company.company')
        return Company(self.company_id) if self.company_id else None

    @property
    def tzinfo(self):
        if self._tz is None:
            company = self.company
            name = company.timezone if company else None
            self._tz = tz.get_tzinfo(name) if name else UTC
        return self._tz

    # dates
    def datetime(self, value):
        if not value:
            return None
        return value.replace(tzinfo=UTC).astimezone(self.tzinfo).isoformat(
            timespec='seconds')

    def date(self, value):
        if not value:
            return None
        return dt.datetime.combine(value, dt.time()).replace(
            tzinfo=self.tzinfo).isoformat(timespec='seconds')

    def _parse(self, name, value):
        text = str(value).strip()
        match = re.fullmatch(r'(\d{2})\.(\d{2})\.(\d{4})(.*)', text)
        if match:
            text = '%s-%s-%s%s' % (match.group(3), match.group(2),
                match.group(1), match.group(4))
        text = text.replace(' ', 'T', 1) if 'T' not in text else text
        if text.endswith('Z'):
            text = text[:-1] + '+00:00'
        try:
            return dt.datetime.fromisoformat(text)
        except ValueError:
            raise invalid(name, value)

    def parse_datetime(self, name, value):
        "Naive UTC datetime of an ISO 8601 text (local time without offset)"
        if value is None or value == '':
            return None
        value = self._parse(name, value)
        if value.tzinfo is None:
            value = value.replace(tzinfo=self.tzinfo)
        return value.astimezone(UTC).replace(tzinfo=None)

    def parse_date(self, name, value):
        if value is None or value == '':
            return None
        value = self._parse(name, value)
        if value.tzinfo is not None:
            value = value.astimezone(self.tzinfo)
        return value.date()

    # users and employees
    def user(self, employee):
        "The id of the user working as employee"
        if not employee:
            return None
        employee_id = int(employee)
        if employee_id not in self._users:
            User = Pool().get('res.user')
            users = User.search([
                    ('employees', '=', employee_id),
                    ], order=[('id', 'ASC')], limit=1)
            self._users[employee_id] = users[0].id if users else None
        return self._users[employee_id]

    def employee(self, name, value):
        "The employee of user id value in the company"
        pool = Pool()
        User = pool.get('res.user')
        user_id = parse_int(name, value)
        if user_id is None:
            return None
        if user_id not in self._employees:
            users = User.search([('id', '=', user_id)])
            employee = None
            if users:
                user, = users
                for candidate in [user.employee] + list(user.employees):
                    if candidate and (
                            not self.company_id
                            or candidate.company.id == self.company_id):
                        employee = candidate.id
                        break
            self._employees[user_id] = employee
        employee = self._employees[user_id]
        if employee is None:
            raise invalid(name, value)
        return employee

    # references
    def reference(self, name, value, model, domain=None):
        "The id of a visible record of model or an error naming the field"
        record_id = parse_int(name, value)
        if record_id is None:
            return None
        Model = Pool().get(model)
        if not Model.search([('id', '=', record_id)] + (domain or []),
                limit=1):
            raise invalid(name, value)
        return record_id

    def code(self, name, value, model, domain=None):
        "The id of the record of model with code value"
        if value is None or value == '':
            return None
        Model = Pool().get(model)
        with Transaction().set_context(active_test=False):
            records = Model.search(
                [('code', '=', str(value))] + (domain or []),
                order=[('id', 'ASC')], limit=1)
        if not records:
            raise invalid(name, value)
        return records[0].id

    def currency(self, name, value):
        if not value:
            return None
        Currency = Pool().get('currency.currency')
        value = str(value).strip()
        currencies = Currency.search(
            [('code', 'in', sorted({value, value.upper()}))],
            order=[('code', 'ASC')], limit=1)
        if not currencies:
            raise invalid(name, value)
        return currencies[0].id

    # deal pipelines
    @property
    def default_pipeline(self):
        if self._default_pipeline == -1:
            Pipeline = Pool().get('crm.pipeline')
            pipeline = Pipeline.get_default(self.company_id)
            self._default_pipeline = pipeline.id if pipeline else None
        return self._default_pipeline

    def category_id(self, pipeline):
        if not pipeline:
            return None
        return 0 if pipeline.id == self.default_pipeline else pipeline.id

    def stage_id(self, stage):
        if not stage:
            return None
        code = stage.code or str(stage.id)
        if stage.pipeline.id == self.default_pipeline:
            return code
        return 'C%s:%s' % (stage.pipeline.id, code)

    def pipeline(self, name, value):
        "The pipeline id of a CATEGORY_ID"
        pool = Pool()
        Pipeline = pool.get('crm.pipeline')
        category = parse_int(name, value, empty=False)
        if category in (None, 0):
            if self.default_pipeline is None:
                Pipeline.get_default(self.company_id, create=True)
                self._default_pipeline = -1
            return self.default_pipeline
        domain = [('id', '=', category)]
        if self.company_id:
            domain.append(('company', '=', self.company_id))
        if not Pipeline.search(domain, limit=1):
            raise invalid(name, value)
        return category

    def stage(self, name, value, pipeline=None):
        "The stage id of a STAGE_ID (C<category>:CODE or CODE)"
        Stage = Pool().get('crm.pipeline.stage')
        if value is None or value == '':
            raise invalid(name, value)
        text = str(value)
        match = re.fullmatch(r'C(\d+):(.+)', text)
        if match:
            pipeline_id = self.pipeline(name, match.group(1))
            code = match.group(2)
            if pipeline is not None and pipeline != pipeline_id:
                raise invalid(name, value)
        else:
            pipeline_id = pipeline or self.pipeline(name, 0)
            code = text
        stages = Stage.search([
                ('pipeline', '=', pipeline_id),
                ('code', '=', code),
                ], limit=1)
        if not stages and code.isdigit():
            stages = Stage.search([
                    ('pipeline', '=', pipeline_id),
                    ('id', '=', int(code)),
                    ], limit=1)
        if not stages:
            raise invalid(name, value)
        return stages[0].id
