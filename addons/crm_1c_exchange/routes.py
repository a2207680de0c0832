# /<db>/crm_1c/exchange: the endpoint 1C's "exchange with a site" calls.
from trytond.protocols.wrappers import set_max_request_size
from trytond.wsgi import app

from trytond.modules.crm_portal.public import html_not_found, public_route

from .protocol import exchange as _exchange, max_part

__all__ = ['exchange']


@app.route('/<database_name>/crm_1c/exchange', methods=['GET', 'POST'])
@set_max_request_size(max_part())
@public_route('crm.exchange_1c.session', not_found_response=html_not_found)
def exchange(request, pool):
    return _exchange(request, pool)
