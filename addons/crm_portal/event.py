# Outbound webhooks: the event registry, subscriptions and emission.
#
# A change to a lead, deal, contact, company or activity emits a Bitrix24
# event (ONCRMLEADADD...).  Each active subscription of the record's company
# to that event gets a delivery (event_delivery.py) created in the same
# transaction, and a queue task posts it once the transaction is committed.
import secrets
import time
import urllib.parse
from weakref import WeakKeyDictionary

from trytond.cache import Cache
from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, Index, Model, ModelSQL, ModelView, fields)
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction, without_check_access
from trytond.url import http_host

ENTITY_EVENTS = {
    'LEAD': 'lead',
    'DEAL': 'deal',
    'CONTACT': 'contact',
    'COMPANY': 'company',
    'ACTIVITY': 'activity',
    }
_TRANSACTION_SETS = WeakKeyDictionary()


def transaction_set(name):
    "Return the set name of the transaction, emptied by commit or rollback"
    transaction = Transaction()
    sets = _TRANSACTION_SETS.setdefault(transaction, {})
    if name not in sets:
        sets[name] = set()
        # The transaction clears its caches when it commits or rolls back.
        transaction.cache[('crm.event', name)] = sets[name]
    return sets[name]


class Event(Model):
    "CRM Event"
    __name__ = 'crm.event'

    @classmethod
    def events(cls):
        """Return the events one can subscribe to: name -> description.

        Modules add theirs by extending this method with PoolMeta."""
        events = {}
        for entity, name in ENTITY_EVENTS.items():
            for action in ['ADD', 'UPDATE', 'DELETE']:
                event = f'ONCRM{entity}{action}'
                events[event] = gettext(
                    f'crm_portal.msg_event_{name}_{action.lower()}')
        return events

    @classmethod
    def emit(cls, event, data_fields, company=None):
        """Send event with data[FIELDS] to the subscriptions of company.

        company defaults to the company of the context.  Nothing is sent
        when the transaction is rolled back.  Returns the deliveries."""
        pool = Pool()
        Subscription = pool.get('crm.event.subscription')
        Delivery = pool.get('crm.event.delivery')
        transaction = Transaction()
        if company is None:
            company = transaction.context.get('company')
        if not company:
            return []
        company = int(company)
        subscription_ids = Subscription.lookup(company, event)
        if not subscription_ids:
            return []
        emitted = transaction_set('emitted')
        key = (company, event, repr(sorted(data_fields.items())))
        if key in emitted:
            return []
        emitted.add(key)
        payload = {
            'event': event,
            'data': {'FIELDS': data_fields},
            'ts': int(time.time()),
            'auth': cls._auth(),
            }
        return Delivery.enqueue(subscription_ids, event, payload)

    @classmethod
    def _auth(cls):
        "The auth[...] values that do not depend on the subscription"
        database = Transaction().database.name
        host = http_host()
        return {
            'domain': urllib.parse.urlsplit(host).netloc,
            'client_endpoint': f'{host}/{database}/rest/',
            'server_endpoint': f'{host}/{database}/rest/',
            'member_id': database,
            }


class Subscription(DeactivableMixin, ModelSQL, ModelView):
    "CRM Event Subscription"
    __name__ = 'crm.event.subscription'

    company = fields.Many2One(
        'company.company', "Company", required=True, ondelete='CASCADE')
    event = fields.Selection('get_events', "Event", required=True, sort=True)
    url = fields.Char(
        "Handler URL", required=True,
        help="The http or https address that receives the event.")
    user = fields.Many2One(
        'res.user', "User", required=True, ondelete='CASCADE',
        help="The user in whose name the integration reads the data.")
    application_token = fields.Char(
        "Application Token", readonly=True, strip=False,
        help="Sent as auth[application_token]: the handler checks it to "
        "know the call comes from this CRM.")
    secret = fields.Char(
        "Signing Secret", readonly=True, strip=False,
        help="Key of the HMAC-SHA256 signature sent in the "
        "X-CRM-Signature header.")
    max_attempts = fields.Integer(
        "Maximum Attempts", required=True,
        domain=[('max_attempts', '>=', 1)],
        help="A delivery that failed so many times is given up.")
    description = fields.Char("Description")
    deliveries = fields.One2Many(
        'crm.event.delivery', 'subscription', "Deliveries", readonly=True)

    _lookup_cache = Cache('crm.event.subscription.lookup', context=False)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(
            Index(t, (t.company, Index.Equality()),
                (t.event, Index.Equality())))
        cls._order.insert(0, ('event', 'ASC'))

    @classmethod
    def get_events(cls):
        Event = Pool().get('crm.event')
        return sorted(Event.events().items())

    @staticmethod
    def default_company():
        return Transaction().context.get('company')

    @staticmethod
    def default_user():
        return Transaction().user or None

    @staticmethod
    def default_max_attempts():
        return 6

    def get_rec_name(self, name):
        return f'{self.event} → {self.url}'

    @classmethod
    def search_rec_name(cls, name, clause):
        _, operator, value = clause[:3]
        bool_op = 'AND' if operator.startswith('!') else 'OR'
        return [bool_op,
            ('event', operator, value),
            ('url', operator, value),
            ]

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        if mode == 'create':
            # Each subscription (and each copy) gets its own credentials.
            if not values.get('application_token'):
                values['application_token'] = secrets.token_hex(16)
            if not values.get('secret'):
                values['secret'] = secrets.token_hex(32)
        if values.get('url'):
            values['url'] = values['url'].strip()
        return values

    @classmethod
    def copy(cls, subscriptions, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('application_token', None)
        default.setdefault('secret', None)
        default.setdefault('deliveries', None)
        return super().copy(subscriptions, default=default)

    @classmethod
    def validate_fields(cls, subscriptions, field_names):
        super().validate_fields(subscriptions, field_names)
        if field_names is None or 'url' in field_names:
            for subscription in subscriptions:
                subscription.check_url()

    def check_url(self):
        if not valid_url(self.url):
            raise ValidationError(gettext(
                    'crm_portal.msg_event_subscription_url_invalid',
                    url=self.url,
                    subscription=self.rec_name))

    @classmethod
    def on_modification(cls, mode, subscriptions, field_names=None):
        super().on_modification(mode, subscriptions, field_names=field_names)
        cls._lookup_cache.clear()

    @classmethod
    def lookup(cls, company, event):
        "Return the ids of the active subscriptions of company to event"
        by_event = cls._lookup_cache.get(company)
        if by_event is None:
            by_event = {}
            with without_check_access(), \
                    Transaction().set_context(active_test=True):
                for subscription in cls.search([
                            ('company', '=', company),
                            ], order=[('id', 'ASC')]):
                    by_event.setdefault(
                        subscription.event, []).append(subscription.id)
            cls._lookup_cache.set(company, by_event)
        return list(by_event.get(event, ()))


def valid_url(url):
    "Whether url is an absolute http or https address"
    if not url or any(c.isspace() for c in url):
        return False
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port
    except ValueError:
        return False
    return parts.scheme in {'http', 'https'} and bool(parts.hostname)


class _EmitterMixin:
    "Emit ONCRM<ENTITY><ACTION> for records after they are saved"
    __slots__ = ()

    def _crm_event_entity(self):
        "Return the entity name (LEAD, DEAL...) or None to emit nothing"
        raise NotImplementedError

    def _crm_event_company(self):
        return None

    @classmethod
    def on_modification(cls, mode, records, field_names=None):
        created = transaction_set('created')
        if mode == 'create':
            # Before super(): other hooks may write the new records.
            created.update((cls.__name__, r.id) for r in records)
        super().on_modification(mode, records, field_names=field_names)
        if mode == 'write':
            # Saved with its creation: the handler reads the current state
            # when it gets ADD.
            records = [
                r for r in records if (cls.__name__, r.id) not in created]
        cls._crm_event_emit(mode, records)

    @classmethod
    def _crm_event_emit(cls, mode, records):
        Event = Pool().get('crm.event')
        action = {
            'create': 'ADD', 'write': 'UPDATE', 'delete': 'DELETE'}[mode]
        with without_check_access():
            for record in records:
                entity = record._crm_event_entity()
                if not entity:
                    continue
                Event.emit(
                    f'ONCRM{entity}{action}', {'ID': record.id},
                    company=record._crm_event_company())


class Opportunity(_EmitterMixin, metaclass=PoolMeta):
    __name__ = 'sale.opportunity'

    def _crm_event_entity(self):
        return {'lead': 'LEAD', 'deal': 'DEAL'}.get(self.crm_type)

    def _crm_event_company(self):
        return self.company


class Party(_EmitterMixin, metaclass=PoolMeta):
    __name__ = 'party.party'

    def _crm_event_entity(self):
        return {
            'person': 'CONTACT',
            'organisation': 'COMPANY',
            }.get(self.crm_kind)

    def _crm_event_company(self):
        # Parties are shared between companies: the responsible's company
        # owns the contact, otherwise the company the user works in.
        if self.crm_responsible:
            return self.crm_responsible.company
        return None


class Activity(_EmitterMixin, metaclass=PoolMeta):
    __name__ = 'crm.activity'

    def _crm_event_entity(self):
        return 'ACTIVITY'

    def _crm_event_company(self):
        return self.company
