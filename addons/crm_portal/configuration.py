# Per-company CRM settings: simple mode, phone region, intake behaviour.
from trytond.model import ModelSingleton, ModelSQL, ModelView, fields
from trytond.modules.company.model import (
    CompanyMultiValueMixin, CompanyValueMixin)
from trytond.pool import Pool
from trytond.transaction import Transaction, without_check_access


class Configuration(
        ModelSingleton, ModelSQL, ModelView, CompanyMultiValueMixin):
    __name__ = 'crm.configuration'

    simple_mode = fields.MultiValue(fields.Boolean(
            "Simple Mode",
            help="Work without leads: every inquiry becomes a deal "
            "and the lead menus are hidden."))
    phone_region = fields.MultiValue(fields.Many2One(
            'country.country', "Phone Region",
            help="Country used to read phone numbers written without "
            "an international prefix.\n"
            "Leave empty to use the country of the company."))
    intake_create_unknown = fields.MultiValue(fields.Boolean(
            "Create Leads for Unknown Clients",
            help="When an inquiry comes from an unknown client, "
            "create a lead (or a deal in simple mode)."))

    @classmethod
    def multivalue_model(cls, field):
        return Pool().get('crm.configuration.company')

    @classmethod
    def default_intake_create_unknown(cls, **pattern):
        return True

    @classmethod
    def default_simple_mode(cls, **pattern):
        return False

    @classmethod
    def get_company_config(cls, company=None):
        "Return a dict of the settings for company (default: context)"
        if company is None:
            company = Transaction().context.get('company')
        config = cls(1)
        return {
            name: config.get_multivalue(name, company=company)
            for name in ['simple_mode', 'phone_region',
                'intake_create_unknown']}

    @classmethod
    def update_lead_menu(cls):
        """Hide the lead menu when every company works in simple mode.

        Menus belong to the database, not to a company: with several
        companies the menu stays while one of them still uses leads."""
        pool = Pool()
        Company = pool.get('company.company')
        Menu = pool.get('ir.ui.menu')
        ModelData = pool.get('ir.model.data')
        with without_check_access():
            config = cls(1)
            companies = Company.search([])
            simple = bool(companies) and all(
                config.get_multivalue('simple_mode', company=c.id)
                for c in companies)
            try:
                menu = Menu(ModelData.get_id('crm_portal', 'menu_lead'))
            except KeyError:
                # The module data is still being loaded.
                return
            if menu.active == simple:
                Menu.write([menu], {'active': not simple})


class ConfigurationCompany(ModelSQL, CompanyValueMixin):
    __name__ = 'crm.configuration.company'

    simple_mode = fields.Boolean("Simple Mode")
    phone_region = fields.Many2One('country.country', "Phone Region")
    intake_create_unknown = fields.Boolean("Create Leads for Unknown Clients")

    @classmethod
    def default_intake_create_unknown(cls):
        return True

    @classmethod
    def default_simple_mode(cls):
        return False

    @classmethod
    def on_modification(cls, mode, records, field_names=None):
        super().on_modification(mode, records, field_names=field_names)
        if mode in {'create', 'write'} and (
                field_names is None or 'simple_mode' in field_names):
            Pool().get('crm.configuration').update_lead_menu()
