# External lines (the company's numbers) and the employees' extensions.
import secrets

from sql import Literal

from trytond.cache import Cache
from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, Index, ModelSQL, ModelView, Unique, fields)
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction

from trytond.modules.crm_portal.phone import default_regions, normalize_phone

from .sqlcache import execute

CONNECTORS = [
    ('rest', "REST (Bitrix24-compatible)"),
    ('ami', "Asterisk AMI"),
    ('webhook', "JSON Webhook"),
    ]


class Line(DeactivableMixin, ModelSQL, ModelView):
    "Telephony Line"
    __name__ = 'crm.telephony.line'
    _rec_name = 'number'

    company = fields.Many2One(
        'company.company', "Company", required=True, ondelete='CASCADE')
    number = fields.Char("Number", required=True,
        help="The external number as the PBX sends it.")
    number_e164 = fields.Char("Number (E.164)", readonly=True)
    name = fields.Char("Name")
    connector = fields.Selection(CONNECTORS, "Connector", required=True)
    ami_host = fields.Char("AMI Host",
        states={'invisible': Eval('connector') != 'ami',
            'required': Eval('connector') == 'ami'})
    ami_port = fields.Integer("AMI Port",
        states={'invisible': Eval('connector') != 'ami'})
    ami_username = fields.Char("AMI User",
        states={'invisible': Eval('connector') != 'ami',
            'required': Eval('connector') == 'ami'})
    ami_secret = fields.Char("AMI Secret", strip=False,
        states={'invisible': Eval('connector') != 'ami'},
        help="The manager's password (AMI logs in with it in clear).")
    ami_context = fields.Char("Dial Context",
        states={'invisible': Eval('connector') != 'ami'},
        help="Dial plan context of click-to-call (Originate).")
    recording_url = fields.Char("Recording URL",
        states={'invisible': Eval('connector') != 'ami'},
        help="Where the PBX serves MixMonitor files: {file} is replaced "
        "by the file name, e.g. https://pbx.example/rec/{file}")
    internal_hosts = fields.Char("Internal PBX Hosts",
        help="Host names, addresses or networks (e.g. pbx.lan, "
        "10.0.0.5, 192.168.1.0/24) recordings may be fetched from although "
        "they are internal. Other loopback, private, link-local and "
        "reserved addresses are refused.")
    webhook_secret = fields.Char("Signing Secret", readonly=True,
        strip=False,
        states={'invisible': ~Eval('connector').in_(['webhook', 'ami'])},
        help="Key of the HMAC-SHA256 signature of webhook and "
        "routing requests.")
    default_employee = fields.Many2One(
        'company.employee', "Default Employee",
        domain=[('company', '=', Eval('company', -1))],
        help="Gets the calls and call-back tasks of unknown callers.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('number_unique', Unique(t, t.company, t.number),
                'crm_telephony.msg_line_number_unique'),
            ]
        cls._sql_indexes.add(Index(t, (t.number_e164, Index.Equality())))
        cls._buttons.update({
                'new_secret': {
                    'invisible': ~Eval('connector').in_(['webhook', 'ami']),
                    'depends': ['connector'],
                    },
                })

    @staticmethod
    def default_company():
        return Transaction().context.get('company')

    @staticmethod
    def default_connector():
        return 'rest'

    @staticmethod
    def default_ami_port():
        return 5038

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        if values.get('number'):
            values['number'] = values['number'].strip()
            values['number_e164'] = normalize_phone(
                values['number'], default_regions(
                    values.get('company')
                    or Transaction().context.get('company')))
        if mode == 'create' and not values.get('webhook_secret'):
            values['webhook_secret'] = secrets.token_urlsafe(32)
        return values

    @classmethod
    @ModelView.button
    def new_secret(cls, lines):
        for line in lines:
            line.webhook_secret = secrets.token_urlsafe(32)
        cls.save(lines)

    @classmethod
    def find(cls, company, number):
        "The active line of company for number (as sent or normalised)"
        if not number:
            return None
        number = str(number).strip()
        e164 = normalize_phone(number, default_regions(company))
        lines = cls.search([
                ('company', '=', company),
                ['OR', ('number', '=', number),
                    ('number_e164', '=', e164 or number)],
                ], limit=1)
        return lines[0] if lines else None

    def get_rec_name(self, name):
        if self.name:
            return '%s (%s)' % (self.name, self.number)
        return self.number


class Extension(DeactivableMixin, ModelSQL, ModelView):
    "Telephony Extension"
    __name__ = 'crm.telephony.extension'
    _rec_name = 'extension'

    company = fields.Many2One(
        'company.company', "Company", required=True, ondelete='CASCADE')
    extension = fields.Char("Extension", required=True,
        help="The internal number of the employee's phone.")
    employee = fields.Many2One(
        'company.employee', "Employee", required=True, ondelete='CASCADE',
        domain=[('company', '=', Eval('company', -1))])

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('extension_unique', Unique(t, t.company, t.extension),
                'crm_telephony.msg_extension_unique'),
            ]
        cls._sql_indexes.add(Index(t, (t.employee, Index.Equality())))

    @staticmethod
    def default_company():
        return Transaction().context.get('company')

    @classmethod
    def validate_fields(cls, extensions, field_names):
        super().validate_fields(extensions, field_names)
        for extension in extensions:
            if not extension.extension.strip().isdigit():
                raise ValidationError(gettext(
                        'crm_telephony.msg_extension_digits',
                        extension=extension.extension))

    # The two look-ups below run for every call event: plain SQL on the
    # unique (company, extension) and the employee index; employee_of
    # runs twice a call (register and finish), so it is also kept.
    _employee_cache = Cache(
        'crm.telephony.extension.employee_of', context=False)

    @classmethod
    def on_modification(cls, mode, extensions, field_names=None):
        super().on_modification(mode, extensions, field_names=field_names)
        cls._employee_cache.clear()

    @classmethod
    def employee_of(cls, company, extension):
        "The employee of extension in company or None"
        Employee = Pool().get('company.employee')
        if not extension:
            return None
        key = (int(company), str(extension).strip())
        employee = cls._employee_cache.get(key, -1)
        if employee == -1:
            table = cls.__table__()
            row = execute(['employee_of'], lambda var: table.select(
                    table.employee,
                    where=(table.company == var('company'))
                    & (table.extension == var('extension'))
                    & (table.active == Literal(True)),
                    limit=1),
                company=key[0], extension=key[1]).fetchone()
            employee = row[0] if row else None
            cls._employee_cache.set(key, employee)
        return Employee(employee) if employee is not None else None

    @classmethod
    def extension_of(cls, employee):
        if not employee:
            return None
        table = cls.__table__()
        row = execute(['extension_of'], lambda var: table.select(
                table.extension,
                where=(table.employee == var('employee'))
                & (table.active == Literal(True)),
                order_by=[table.id.asc], limit=1),
            employee=int(employee)).fetchone()
        return row[0] if row else None

    @classmethod
    def user_ids(cls, employee):
        "The ids of the users working as employee (one indexed query)"
        if not employee:
            return []
        employees = Pool().get('res.user-company.employee').__table__()
        return [r[0] for r in execute(['user_ids'], lambda var:
                employees.select(employees.user,
                    where=employees.employee == var('employee'),
                    order_by=[employees.user.asc]),
                employee=int(employee)).fetchall()]

    @classmethod
    def first_user(cls, employee):
        """The id of the first active user working as employee (as
        Converter.user of the REST, in one plain query: every finish
        answers it)"""
        if not employee:
            return None
        pool = Pool()
        employees = pool.get('res.user-company.employee').__table__()
        user = pool.get('res.user').__table__()
        row = execute(['first_user'], lambda var: employees.join(
                user, condition=employees.user == user.id).select(
                user.id,
                where=(employees.employee == var('employee'))
                & (user.active == Literal(True)),
                order_by=[user.id.asc], limit=1),
            employee=int(employee)).fetchone()
        return row[0] if row else None

    @classmethod
    def user_of(cls, employee):
        "The users working as employee"
        User = Pool().get('res.user')
        if not employee:
            return []
        return User.search([('employees', '=', int(employee))])
