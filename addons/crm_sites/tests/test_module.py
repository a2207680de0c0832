from trytond.modules.company.tests import CompanyTestMixin
from trytond.tests.test_tryton import ModuleTestCase


class CrmSitesTestCase(CompanyTestMixin, ModuleTestCase):
    "Test the CRM sites module"
    module = 'crm_sites'
    extras = ['crm_portal']


del ModuleTestCase
