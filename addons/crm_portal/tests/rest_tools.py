"Set-up shared by the tests of the CRM REST methods"
from contextlib import contextmanager

from trytond.modules.company.tests import (
    create_company, create_employee, set_company)
from trytond.modules.crm_portal.rest import RestError
from trytond.pool import Pool
from trytond.transaction import Transaction

from .tools import CrmTestCase


class RestTestCase(CrmTestCase):
    "The CRM database of the class, with an assertion on REST errors"

    def assertRestError(self, status, field, name, **params):
        "The call fails with status naming field"
        with self.assertRaises(RestError) as cm:
            call(name, **params)
        self.assertEqual(cm.exception.status, status, cm.exception)
        if field:
            self.assertIn(field, cm.exception.description)
        return cm.exception


def make_user(company, employee, login, manager=False):
    "A CRM user of employee (a sales manager when manager)"
    pool = Pool()
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')
    groups = [ModelData.get_id('crm_portal', 'group_crm')]
    if manager:
        groups.append(ModelData.get_id('crm_portal', 'group_crm_manager'))
    user, = User.create([{
                'name': login, 'login': login,
                'groups': [('add', groups)],
                'companies': [('add', [company.id])],
                'company': company.id,
                'employees': [('add', [employee.id])],
                'employee': employee.id,
                }])
    return user


@contextmanager
def as_user(user):
    User = Pool().get('res.user')
    with Transaction().set_user(user.id):
        context = User.get_preferences(context_only=True)
        with Transaction().set_context(context):
            yield


@contextmanager
def crm_user():
    "A company with a pipeline and a CRM user working in it"
    pool = Pool()
    Country = pool.get('country.country')
    Configuration = pool.get('crm.configuration')
    Pipeline = pool.get('crm.pipeline')
    russia, = Country.create([{'name': "Russia", 'code': 'RU'}])
    company = create_company()
    company.timezone = 'Europe/Moscow'
    company.save()
    with set_company(company):
        configuration = Configuration(1)
        configuration.phone_region = russia
        configuration.save()
        Pipeline.create_standard(company)
        alice = create_employee(company, "Alice")
        bob = create_employee(company, "Bob")
        user = make_user(company, alice, 'alice')
        other = make_user(company, bob, 'bob')
    with as_user(user):
        yield {'company': company, 'user': user, 'other': other,
            'alice': alice, 'bob': bob}


def call(name, **params):
    Rest = Pool().get('crm.rest')
    result, extra = Rest.call(name, params)
    if extra:
        return result, extra
    return result
