"Set-up shared by the telephony tests"
from contextlib import contextmanager

from trytond.modules.company.tests import create_employee
from trytond.modules.crm_portal.tests.rest_tools import (
    as_user, make_user)
from trytond.modules.crm_portal.tests.rest_tools import (  # noqa: F401
    call as rest)
from trytond.modules.crm_portal.tests.tools import crm_company
from trytond.pool import Pool

CLIENT_PHONE = '+79161234567'
UNKNOWN_PHONE = '+79035550101'
LINE_NUMBER = '+74951112233'
MP3 = b'ID3\x04\x00\x00\x00\x00\x00\x00' + b'\xff\xfb\x90\x00' * 64


@contextmanager
def telephony_company(**config):
    """A company reading Russian numbers, a pipeline, Alice (ext 101,
    responsible of the client Ivan) and Bob (ext 102), their users, a REST
    line; the block runs as Alice"""
    pool = Pool()
    Pipeline = pool.get('crm.pipeline')
    Party = pool.get('party.party')
    Extension = pool.get('crm.telephony.extension')
    Line = pool.get('crm.telephony.line')
    with crm_company(**config) as company:
        Pipeline.create_standard(company)
        alice = create_employee(company, "Alice")
        bob = create_employee(company, "Bob")
        Extension.create([
                {'company': company.id, 'extension': '101',
                    'employee': alice.id},
                {'company': company.id, 'extension': '102',
                    'employee': bob.id},
                ])
        user = make_user(company, alice, 'alice-%d' % company.id,
            manager=True)
        other = make_user(company, bob, 'bob-%d' % company.id,
            manager=True)
        client, = Party.create([{
                    'name': "Ivan Petrov",
                    'crm_responsible': alice.id,
                    'contact_mechanisms': [('create', [{
                                    'type': 'mobile',
                                    'value': '8 916 123-45-67'}])],
                    }])
        line, = Line.create([{'company': company.id, 'number': LINE_NUMBER,
                    'name': "Main", 'connector': 'rest',
                    'default_employee': bob.id}])
    with as_user(user):
        yield {'company': company, 'user': user, 'other': other,
            'alice': alice, 'bob': bob, 'client': client, 'line': line}

