"Set-up shared by the open lines tests: a line with operators who log in"
import datetime

from trytond.modules.company.tests import create_employee
from trytond.pool import Pool
from trytond.transaction import Transaction

T0 = datetime.datetime(2026, 3, 2, 10, 0)  # a Monday, UTC


def operator(company, name, login):
    "An employee with a CRM user of their own"
    pool = Pool()
    User = pool.get('res.user')
    Group = pool.get('res.group')
    ModelData = pool.get('ir.model.data')
    employee = create_employee(company, name)
    group = Group(ModelData.get_id('crm_portal', 'group_crm'))
    user, = User.create([{
                'name': name, 'login': login,
                'companies': [('add', [company.id])],
                'company': company.id,
                'employees': [('add', [employee.id])],
                'employee': employee.id,
                'groups': [('add', [group.id])],
                }])
    return employee, user


def line(company, employees, **values):
    pool = Pool()
    Line = pool.get('crm.openline')
    Channel = pool.get('crm.openline.channel')
    record, = Line.create([dict({
                    'name': "Support",
                    'company': company.id,
                    'operators': [('create', [
                                {'employee': e.id, 'sequence': i}
                                for i, e in enumerate(employees)])],
                    }, **values)])
    channel, = Channel.create([{
                'line': record.id, 'name': "Site", 'type': 'widget',
                'allowed_origins': 'http://shop.example.com',
                }])
    return record, channel


def at(moment):
    "The controlled clock of the open lines"
    return Transaction().set_context(openlines_now=moment)


def as_operator(employee, user):
    return Transaction().set_user(user.id), Transaction().set_context(
        employee=employee.id, company=employee.company.id)
