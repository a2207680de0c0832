from trytond.modules.company.tests import CompanyTestMixin
from trytond.modules.party.tests import PartyCheckReplaceMixin
from trytond.tests.test_tryton import ModuleTestCase


class Crm1cExchangeTestCase(
        PartyCheckReplaceMixin, CompanyTestMixin, ModuleTestCase):
    "Test the 1C exchange module"
    module = 'crm_1c_exchange'


del ModuleTestCase
