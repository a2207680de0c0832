# Registry of the Bitrix24-compatible REST methods of a tenant.
"""Modules add their methods by extending crm.rest:

    class Rest(metaclass=PoolMeta):
        __name__ = 'crm.rest'

        @classmethod
        def methods(cls):
            methods = super().methods()
            methods['crm.lead.add'] = RestMethod(
                'crm.lead.add', cls.lead_add, 'crm', "Create a lead",
                {'fields': "the lead fields"})
            return methods

Being a pool model, the registry of a database only holds the methods of
the modules activated there.
"""
from collections import namedtuple

from trytond.exceptions import UserError, UserWarning
from trytond.i18n import gettext
from trytond.model import Model
from trytond.model.exceptions import AccessError
from trytond.transaction import Transaction

__all__ = ['RestMethod', 'RestError', 'RestPage', 'Rest', 'PAGE_SIZE',
    'page_start']

PAGE_SIZE = 50
# A batch holds at most this many commands, as in Bitrix24.
BATCH_MAX = 50


class RestMethod(namedtuple('RestMethod', [
                'name', 'handler', 'scope', 'description', 'params',
                'paged', 'readonly'])):
    """A REST method

    handler(params) runs as the token's user inside the transaction; a
    paged method returns RestPage(items, total) or (items, total)."""
    __slots__ = ()

    def __new__(cls, name, handler, scope='crm', description='',
            params=None, paged=False, readonly=False):
        return super().__new__(cls, name.lower(), handler, scope,
            description, dict(params or {}), paged, readonly)


class RestError(Exception):
    "An error answered as {error: code, error_description: description}"

    def __init__(self, code, description, status=400):
        super().__init__(code, description, status)
        self.code = code
        self.description = description
        self.status = status

    def __str__(self):
        return f'{self.code}: {self.description}'

    def as_dict(self):
        return {'error': self.code, 'error_description': self.description}


class RestPage(namedtuple('RestPage', ['items', 'total'])):
    "The answer of a paged method: one page of items and the total count"
    __slots__ = ()


def page_start(params):
    "Return the offset given by the 'start' parameter (0 if absent)"
    value = (params or {}).get('start', 0)
    if value in (None, ''):
        return 0
    try:
        start = int(value)
    except (TypeError, ValueError):
        raise RestError('INVALID_ARG_VALUE', gettext(
                'crm_portal.msg_rest_invalid_start', value=str(value)[:50]))
    # Bitrix24 uses start=-1 to skip counting: the first page is given.
    return max(start, 0)


class Rest(Model):
    "CRM REST API"
    __name__ = 'crm.rest'

    @classmethod
    def methods(cls):
        "Return the dict of method name -> RestMethod of the tenant"
        return {}

    @classmethod
    def registry(cls):
        """methods(), built once per pool class (and again when methods
        is replaced, as tests do)"""
        built = cls.__dict__.get('_registry')
        function = cls.methods.__func__
        if built is None or built[0] is not function:
            built = (function, cls.methods())
            setattr(cls, '_registry', built)
        return built[1]

    @classmethod
    def get_method(cls, name):
        "Return the RestMethod named name or raise ERROR_METHOD_NOT_FOUND"
        key = (name or '').strip().lower()
        if key.endswith('.json'):
            key = key[:-len('.json')]
        method = cls.registry().get(key)
        if method is None:
            raise RestError('ERROR_METHOD_NOT_FOUND', gettext(
                    'crm_portal.msg_rest_method_not_found',
                    method=str(name)[:100]), 404)
        return method

    @classmethod
    def token_scopes(cls):
        """The scopes of the token of the call

        None outside an HTTP call (code calling the API directly)."""
        scopes = Transaction().context.get('rest_scopes')
        return None if scopes is None else set(scopes)

    @classmethod
    def allowed(cls, method):
        "Whether the token of the call may run method"
        scopes = cls.token_scopes()
        return scopes is None or not method.scope or method.scope in scopes

    @classmethod
    def check_scope(cls, method):
        if not cls.allowed(method):
            raise RestError('insufficient_scope', gettext(
                    'crm_portal.msg_rest_insufficient_scope',
                    method=method.name, scope=method.scope), 403)

    @classmethod
    def call(cls, name, params):
        """Run the method name with params as the current user

        Return (result, extra) where extra holds total/next for paged
        methods. Raise RestError for every failure."""
        method = cls.get_method(name)
        cls.check_scope(method)
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise RestError('INVALID_REQUEST', gettext(
                    'crm_portal.msg_rest_params_not_object'))
        try:
            result = method.handler(params)
        except RestError:
            raise
        except AccessError as exception:
            raise RestError('ACCESS_DENIED', exception.message, 400)
        except (UserError, UserWarning) as exception:
            raise RestError('ERROR_CORE', exception.message, 400)
        extra = {}
        if method.paged:
            if isinstance(result, tuple) and len(result) == 2:
                items, total = result
            else:
                items, total = result, None
            items = list(items)
            start = page_start(params)
            if total is None:
                total = start + len(items)
            end = start + len(items)
            if end < total:
                extra['next'] = end
            extra['total'] = total
            result = items
        return result, extra
