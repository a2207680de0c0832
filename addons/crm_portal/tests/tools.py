"Set-up shared by the CRM modules' tests"
import unittest
from contextlib import contextmanager
from decimal import Decimal

from trytond.modules.company.tests import create_company, set_company
from trytond.pool import Pool
from trytond.tests.test_tryton import activate_module, drop_db

__all__ = ['CrmTestCase', 'crm_company', 'make_service']


class CrmTestCase(unittest.TestCase):
    "Build the database of `modules` once for the class"
    modules = ['crm_portal']

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        drop_db()
        activate_module(cls.modules)

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        drop_db()


@contextmanager
def crm_company(**config):
    """A new company reading national phone numbers as Russian ones, with
    config set on its CRM configuration; the block runs in its context"""
    pool = Pool()
    Country = pool.get('country.country')
    Configuration = pool.get('crm.configuration')
    russia = Country.search([('code', '=', 'RU')], limit=1)
    if not russia:
        russia = Country.create([{'name': "Russia", 'code': 'RU'}])
    company = create_company()
    with set_company(company):
        configuration = Configuration(1)
        configuration.phone_region = russia[0]
        for name, value in config.items():
            setattr(configuration, name, value)
        configuration.save()
        yield company


def make_service(name="Service", price=Decimal(50), taxes=None,
        accounting=True):
    """A salable service sold by the unit; with accounting, in a category
    that carries the customer taxes. Return (product, unit)."""
    pool = Pool()
    Template = pool.get('product.template')
    Uom = pool.get('product.uom')
    Category = pool.get('product.category')
    unit, = Uom.search([('name', '=', 'Unit')])
    values = {
        'name': name,
        'type': 'service',
        'salable': True,
        'default_uom': unit.id,
        'sale_uom': unit.id,
        'list_price': price,
        'products': [('create', [{}])],
        }
    if accounting:
        category, = Category.create([{
                    'name': "Services", 'accounting': True,
                    'customer_taxes': [('add', [t.id for t in taxes or []])],
                    }])
        values['account_category'] = category.id
    template, = Template.create([values])
    product, = template.products
    return product, unit
