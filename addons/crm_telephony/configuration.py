# Per-company telephony switches on the CRM configuration.
from trytond.cache import Cache
from trytond.model import fields
from trytond.pool import PoolMeta

SWITCHES = ['call_create_leads', 'call_recording', 'call_missed_tasks',
    'call_recording_retention', 'call_recording_max_size']
BOOLEANS = {'call_create_leads', 'call_recording', 'call_missed_tasks'}


class Configuration(metaclass=PoolMeta):
    __name__ = 'crm.configuration'

    call_create_leads = fields.MultiValue(fields.Boolean(
            "Create Leads from Unknown Callers",
            help="A call from a number that matches no client creates a "
            "lead through the intake."))
    call_recording = fields.MultiValue(fields.Boolean(
            "Keep Call Recordings",
            help="Store the recordings the PBX sends or links."))
    call_missed_tasks = fields.MultiValue(fields.Boolean(
            "Call-back Tasks for Missed Calls",
            help="A missed call gives the responsible a task to call "
            "back (one while it is open)."))
    call_recording_retention = fields.MultiValue(fields.Integer(
            "Recording Retention (days)",
            help="Recordings older than this are deleted; "
            "empty keeps them."))
    call_recording_max_size = fields.MultiValue(fields.Integer(
            "Largest Recording (MB)"))

    @classmethod
    def default_call_create_leads(cls, **pattern):
        return True

    @classmethod
    def default_call_recording(cls, **pattern):
        return True

    @classmethod
    def default_call_missed_tasks(cls, **pattern):
        return True

    @classmethod
    def default_call_recording_max_size(cls, **pattern):
        return 50


class ConfigurationCompany(metaclass=PoolMeta):
    __name__ = 'crm.configuration.company'
    # telephony_config by company: it is read on every call
    _telephony_cache = Cache(
        'crm.configuration.company.telephony', context=False)

    call_create_leads = fields.Boolean("Create Leads from Unknown Callers")
    call_recording = fields.Boolean("Keep Call Recordings")
    call_missed_tasks = fields.Boolean("Call-back Tasks for Missed Calls")
    call_recording_retention = fields.Integer("Recording Retention (days)")
    call_recording_max_size = fields.Integer("Largest Recording (MB)")

    @classmethod
    def default_call_create_leads(cls):
        return True

    @classmethod
    def default_call_recording(cls):
        return True

    @classmethod
    def default_call_missed_tasks(cls):
        return True

    @classmethod
    def default_call_recording_max_size(cls):
        return 50

    @classmethod
    def on_modification(cls, mode, records, field_names=None):
        super().on_modification(mode, records, field_names=field_names)
        cls._telephony_cache.clear()


def telephony_config(company):
    """The telephony switches of company as a dict.

    One plain SQL query, kept until a configuration changes: it runs
    on every call."""
    from trytond.pool import Pool
    ConfigurationCompany = Pool().get('crm.configuration.company')
    table = ConfigurationCompany.__table__()
    cached = ConfigurationCompany._telephony_cache.get(int(company))
    if cached is not None:
        return dict(cached)
    values = {name: getattr(ConfigurationCompany, 'default_' + name,
            lambda: None)() for name in SWITCHES}
    from .sqlcache import execute
    row = execute(['telephony_config'], lambda var: table.select(
            *[getattr(table, name) for name in SWITCHES],
            where=table.company == var('company'),
            order_by=[table.id.asc], limit=1),
        company=int(company)).fetchone()
    if row:
        for name, value in zip(SWITCHES, row):
            if value is not None:
                values[name] = (bool(value) if name in BOOLEANS
                    else value)
    ConfigurationCompany._telephony_cache.set(int(company), values)
    return dict(values)
