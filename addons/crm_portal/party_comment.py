# Free-text comment on contacts and companies (Bitrix24's COMMENTS), as
# leads and deals have one.
from trytond.model import fields
from trytond.pool import PoolMeta


class Party(metaclass=PoolMeta):
    __name__ = 'party.party'

    comment = fields.Text("Comment")
