from trytond.modules.company.tests import CompanyTestMixin
from trytond.tests.test_tryton import ModuleTestCase


class CrmOpenlinesTestCase(CompanyTestMixin, ModuleTestCase):
    "Test the open lines module"
    module = 'crm_openlines'


del ModuleTestCase
