from trytond.modules.company.tests import CompanyTestMixin
from trytond.tests.test_tryton import ModuleTestCase


class CrmTelephonyTestCase(CompanyTestMixin, ModuleTestCase):
    "Test the CRM telephony module"
    module = 'crm_telephony'


del ModuleTestCase
