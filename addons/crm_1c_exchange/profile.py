# Per-company settings of the exchange with 1C.
from trytond.config import config
from trytond.model import ModelSQL, ModelView, Unique, fields
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction

ENCODINGS = [
    ('utf-8', "UTF-8"),
    ('windows-1251', "Windows-1251"),
    ]


class Profile(ModelSQL, ModelView):
    __string__ = "1C Exchange Settings"
    __name__ = 'crm.exchange_1c.profile'

    company = fields.Many2One(
        'company.company', "Company", required=True, ondelete='CASCADE')
    export_documents = fields.Selection([
            ('orders', "Sales Orders"),
            ('invoices', "Invoices"),
            ('both', "Orders and Invoices"),
            ], "Export Documents", required=True,
        help="Which documents of deals 1C receives.")
    encoding = fields.Selection(ENCODINGS, "Encoding Sent", required=True,
        help="The encoding of the documents sent to 1C.")
    use_zip = fields.Boolean("Accept Zip",
        help="Let 1C send its packages as zip archives.")
    file_limit = fields.Integer("File Part Size", required=True,
        help="Largest part of a file 1C sends in one request (bytes).")
    batch_size = fields.Integer("Batch Size", required=True,
        help="Goods or offers written per database transaction.")
    time_budget = fields.Integer("Time per Request", required=True,
        help="Seconds an import request works before answering progress.")
    keep_days = fields.Integer("Keep Files (days)", required=True)
    responsible = fields.Many2One('res.user', "Responsible Accountant",
        help="Notified when an exchange fails.")
    scheduled = fields.Selection([
            (None, "None"),
            ('soap', "SOAP Service of 1C"),
            ('http', "HTTP Service of 1C"),
            ], "Scheduled Exchange",
        help="Exchange started from our side for a 1C database "
        "publishing a web service.")
    wsdl = fields.Char("WSDL URL", states={
            'required': Eval('scheduled') == 'soap',
            'invisible': Eval('scheduled') != 'soap',
            })
    catalog_url = fields.Char("Catalog URL", states={
            'required': Eval('scheduled') == 'http',
            'invisible': Eval('scheduled') != 'http',
            }, help="Address answering GET with the CommerceML package "
        "(XML or zip).")
    orders_url = fields.Char("Orders URL", states={
            'invisible': Eval('scheduled') != 'http',
            }, help="Address receiving the orders document by POST; "
        "empty: orders are not sent.")
    service_user = fields.Char("Service User", states={
            'invisible': ~Eval('scheduled'),
            })
    service_password = fields.Char("Service Password", strip=False, states={
            'invisible': ~Eval('scheduled'),
            })
    operation_catalog = fields.Char("Catalog Operation", states={
            'invisible': Eval('scheduled') != 'soap',
            }, help="Operation returning the catalog changes (CommerceML).")
    operation_orders = fields.Char("Orders Operation", states={
            'invisible': Eval('scheduled') != 'soap',
            }, help="Operation receiving the orders document.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('company')
        table = cls.__table__()
        cls._sql_constraints += [
            ('company_uniq', Unique(table, table.company),
                'crm_1c_exchange.msg_profile_company_unique'),
            ]

    @staticmethod
    def default_company():
        return Transaction().context.get('company')

    @staticmethod
    def default_export_documents():
        return 'orders'

    @staticmethod
    def default_encoding():
        return 'utf-8'

    @staticmethod
    def default_use_zip():
        return True

    @staticmethod
    def default_file_limit():
        return 8 * 1024 * 1024

    @staticmethod
    def default_batch_size():
        return config.getint('crm_1c', 'batch_size', default=500)

    @staticmethod
    def default_time_budget():
        return config.getint('crm_1c', 'time_budget', default=20)

    @staticmethod
    def default_keep_days():
        return 30

    @staticmethod
    def default_operation_catalog():
        return 'GetCatalog'

    @staticmethod
    def default_operation_orders():
        return 'PutOrders'

    @classmethod
    def get(cls, company):
        "The settings of company, created with defaults when missing"
        company_id = getattr(company, 'id', company)
        profiles = cls.search([('company', '=', company_id)], limit=1)
        if profiles:
            return profiles[0]
        profile, = cls.create([{'company': company_id}])
        return profile

    def get_rec_name(self, name):
        return self.company.rec_name


def profile_of(company):
    return Pool().get('crm.exchange_1c.profile').get(company)
