# The PBX is not a user: once its line's signature (webhook, routing) or
# the connector's own configuration (AMI) authenticated it, its events
# are written as the technical user "Telephony (PBX)" of telephony.xml,
# never as root, so access rights and record rules apply.
from contextlib import contextmanager

from trytond.pool import Pool
from trytond.transaction import Transaction


def pbx_user():
    "The id of the technical user the PBX works as"
    return Pool().get('ir.model.data').get_id('crm_telephony', 'user_pbx')


@contextmanager
def as_pbx(company):
    """Work as the PBX user in company alone (its record rules see no
    other company), with access checks on"""
    transaction = Transaction()
    company = int(company)
    with transaction.set_user(pbx_user()), transaction.set_context(
            company=company, _companies=[company], _check_access=True):
        yield
