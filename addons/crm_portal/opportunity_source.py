# Bitrix24's SOURCE_DESCRIPTION of leads and deals: free text telling
# where the client came from, beside the source list (SOURCE_ID).
from trytond.model import fields
from trytond.pool import PoolMeta


class Opportunity(metaclass=PoolMeta):
    __name__ = 'sale.opportunity'

    source_description = fields.Text(
        "Source Description",
        help="Details of where the client came from (for example the "
        "advertisement or the person who recommended us).")
