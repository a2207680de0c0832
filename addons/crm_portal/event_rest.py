# REST methods of the outbound webhooks: event.bind, event.unbind,
# event.get and events, as Bitrix24 documents them.
from trytond.i18n import gettext
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction

from .event import valid_url
from .rest import RestError, RestMethod

# Token scope needed to subscribe to events by name prefix
EVENT_SCOPES = [
    ('ONCRM', 'crm'),
    ('ONEXTERNALCALL', 'telephony'),
    ('ONVOXIMPLANT', 'telephony'),
    ('ONIMOPENLINES', 'imopenlines'),
    ('ONOPENLINE', 'imopenlines'),
    ('ONLANDING', 'landing'),
    ('ONUSER', 'user'),
    ]


class Rest(metaclass=PoolMeta):
    __name__ = 'crm.rest'

    @classmethod
    def methods(cls):
        methods = super().methods()
        for method in [
                RestMethod('event.bind', cls.rest_event_bind, None,
                    "Send an event to a handler URL",
                    {'event': "event name, e.g. ONCRMLEADADD",
                        'handler': "http(s) URL receiving the event",
                        'auth_type': "id of the user the handler acts as "
                        "(default: the token's user)",
                        'event_type': "online (offline is not supported)"}),
                RestMethod('event.unbind', cls.rest_event_unbind, None,
                    "Stop sending an event to a handler URL",
                    {'event': "event name",
                        'handler': "the handler URL",
                        'auth_type': "id of the user of the binding"}),
                RestMethod('event.get', cls.rest_event_get, None,
                    "Event handlers bound by the token's user",
                    readonly=True),
                RestMethod('events', cls.rest_events, None,
                    "Names of the events one can bind",
                    {'SCOPE': "only the events of this scope"},
                    readonly=True),
                ]:
            methods[method.name] = method
        return methods

    @classmethod
    def _event_scope(cls, event):
        for prefix, scope in EVENT_SCOPES:
            if event.startswith(prefix):
                return scope
        return None

    @classmethod
    def _event_param(cls, params):
        Event = Pool().get('crm.event')
        event = str(params.get('event') or params.get('EVENT') or '')
        event = event.strip().upper()
        if not event:
            raise RestError('INVALID_ARG_VALUE', gettext(
                    'crm_portal.msg_event_rest_required', param='event'))
        if event not in Event.events():
            raise RestError('ERROR_EVENT_NOT_FOUND', gettext(
                    'crm_portal.msg_event_rest_unknown_event',
                    event=event[:100]))
        scope = cls._event_scope(event)
        scopes = cls.token_scopes()
        if scope and scopes is not None and scope not in scopes:
            raise RestError('insufficient_scope', gettext(
                    'crm_portal.msg_event_rest_scope',
                    event=event, scope=scope), 403)
        return event

    @classmethod
    def _handler_param(cls, params):
        handler = str(params.get('handler') or params.get('HANDLER') or '')
        handler = handler.strip()
        if not handler:
            raise RestError('INVALID_ARG_VALUE', gettext(
                    'crm_portal.msg_event_rest_required', param='handler'))
        if not valid_url(handler):
            raise RestError('INVALID_ARG_VALUE', gettext(
                    'crm_portal.msg_event_rest_handler_invalid',
                    handler=handler[:200]))
        return handler

    @classmethod
    def _auth_type_param(cls, params):
        User = Pool().get('res.user')
        value = params.get('auth_type') or params.get('AUTH_TYPE')
        if value in (None, '', 0, '0'):
            return Transaction().user
        try:
            user_id = int(value)
        except (TypeError, ValueError):
            user_id = None
        if not user_id or not User.search([('id', '=', user_id)]):
            raise RestError('INVALID_ARG_VALUE', gettext(
                    'crm_portal.msg_event_rest_user_not_found',
                    user=str(value)[:50]))
        return user_id

    @classmethod
    def _company(cls):
        company = Transaction().context.get('company')
        if not company:
            raise RestError('ERROR_CORE', gettext(
                    'crm_portal.msg_event_rest_no_company'))
        return company

    @classmethod
    def rest_event_bind(cls, params):
        Subscription = Pool().get('crm.event.subscription')
        event = cls._event_param(params)
        handler = cls._handler_param(params)
        user = cls._auth_type_param(params)
        event_type = str(params.get('event_type') or 'online').lower()
        if event_type != 'online':
            raise RestError('INVALID_ARG_VALUE', gettext(
                    'crm_portal.msg_event_rest_offline'))
        company = cls._company()
        if Subscription.search([
                    ('company', '=', company),
                    ('event', '=', event),
                    ('url', '=', handler),
                    ('user', '=', user),
                    ]):
            raise RestError('ERROR_CORE', gettext(
                    'crm_portal.msg_event_rest_already_bound',
                    event=event, handler=handler[:200]))
        Subscription.create([{
                    'company': company,
                    'event': event,
                    'url': handler,
                    'user': user,
                    'description': gettext(
                        'crm_portal.msg_event_rest_description'),
                    }])
        return True

    @classmethod
    def rest_event_unbind(cls, params):
        Subscription = Pool().get('crm.event.subscription')
        event = cls._event_param(params)
        domain = [
            ('company', '=', cls._company()),
            ('event', '=', event),
            ]
        if params.get('handler') or params.get('HANDLER'):
            domain.append(('url', '=', cls._handler_param(params)))
        if params.get('auth_type') or params.get('AUTH_TYPE'):
            domain.append(('user', '=', cls._auth_type_param(params)))
        with Transaction().set_context(active_test=False):
            subscriptions = Subscription.search(domain)
        Subscription.delete(subscriptions)
        return {'count': len(subscriptions)}

    @classmethod
    def rest_event_get(cls, params):
        Subscription = Pool().get('crm.event.subscription')
        subscriptions = Subscription.search([
                ('company', '=', cls._company()),
                ('user', '=', Transaction().user),
                ], order=[('event', 'ASC'), ('id', 'ASC')])
        return [{
                'event': s.event,
                'handler': s.url,
                'auth_type': str(s.user.id),
                'offline': 0,
                'application_token': s.application_token,
                } for s in subscriptions]

    @classmethod
    def rest_events(cls, params):
        Event = Pool().get('crm.event')
        scope = params.get('SCOPE') or params.get('scope')
        return sorted(
            e for e in Event.events()
            if not scope or cls._event_scope(e) == scope)
