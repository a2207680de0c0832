"""Prepare a telephony tenant for the cross-process tests (run as a script
with the tenant's configuration): employees with extensions, the admin
working as Alice, a known client, a webhook line and an AMI line.

    python -m trytond.modules.crm_telephony.tests.http_setup TENANT PORT

prints the JSON ids.
"""
import json
import os
import sys


def main(database, ami_port):
    from trytond import config
    config.update_etc(os.environ['TRYTOND_CONFIG'])
    from trytond.pool import Pool
    from trytond.transaction import Transaction, TransactionError
    Pool(database).init()
    extras = {}
    while True:
        with Transaction().start(database, 0, **extras) as transaction:
            try:
                result = setup(Pool(), transaction, ami_port)
            except TransactionError as exception:
                transaction.rollback()
                exception.fix(extras)
                continue
            transaction.commit()
            return result


def setup(pool, transaction, ami_port):
    Company = pool.get('company.company')
    Country = pool.get('country.country')
    Configuration = pool.get('crm.configuration')
    Employee = pool.get('company.employee')
    Party = pool.get('party.party')
    User = pool.get('res.user')
    Extension = pool.get('crm.telephony.extension')
    Line = pool.get('crm.telephony.line')
    company, = Company.search([], limit=1)
    with transaction.set_context(company=company.id):
        russia = Country.search([('code', '=', 'RU')], limit=1)
        if not russia:
            russia = Country.create([{'name': "Russia", 'code': 'RU'}])
        configuration = Configuration(1)
        configuration.phone_region = russia[0]
        configuration.save()
        alice, bob = Employee.create([
                {'company': company.id,
                    'party': Party.create([{'name': "Alice"}])[0].id},
                {'company': company.id,
                    'party': Party.create([{'name': "Bob"}])[0].id},
                ])
        admin, = User.search([('login', '=', 'admin')])
        User.write([admin], {
                'employees': [('add', [alice.id])],
                'employee': alice.id, 'company': company.id})
        Extension.create([
                {'company': company.id, 'extension': '101',
                    'employee': alice.id},
                {'company': company.id, 'extension': '102',
                    'employee': bob.id}])
        client, = Party.create([{
                    'name': "Ivan Petrov", 'crm_responsible': alice.id,
                    'contact_mechanisms': [('create', [{
                                    'type': 'mobile',
                                    'value': '+7 916 123-45-67'}])]}])
        webhook, ami = Line.create([
                {'company': company.id, 'number': '+74951112233',
                    'connector': 'webhook', 'default_employee': bob.id},
                {'company': company.id, 'number': '74951112234',
                    'connector': 'ami', 'ami_host': '127.0.0.1',
                    'ami_port': ami_port, 'ami_username': 'crm',
                    'ami_secret': 'pass', 'default_employee': bob.id},
                ])
        ModelData = pool.get('ir.model.data')
        return {'company': company.id, 'alice': alice.id, 'bob': bob.id,
            'admin': admin.id,
            'pbx_user': ModelData.get_id('crm_telephony', 'user_pbx'),
            'client': client.id, 'webhook_line': webhook.id,
            'webhook_secret': webhook.webhook_secret, 'ami_line': ami.id,
            'route_secret': ami.webhook_secret}


if __name__ == '__main__':
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]))))
