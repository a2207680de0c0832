# The OnExternalCallStart event of click-to-call for REST-connected PBXs.
from trytond.i18n import gettext
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction

CALL_START = 'ONEXTERNALCALLSTART'


class Event(metaclass=PoolMeta):
    __name__ = 'crm.event'

    @classmethod
    def events(cls):
        events = super().events()
        events[CALL_START] = gettext('crm_telephony.msg_event_call_start')
        return events

    @classmethod
    def emit_call_start(cls, call, user):
        """Send OnExternalCallStart with Bitrix24's data (flat, not in
        FIELDS) to the company's handlers; return the deliveries."""
        pool = Pool()
        Subscription = pool.get('crm.event.subscription')
        Delivery = pool.get('crm.event.delivery')
        Extension = pool.get('crm.telephony.extension')
        import time
        company = call.company.id
        subscriptions = Subscription.lookup(company, CALL_START)
        if not subscriptions:
            return []
        data = {
            'USER_ID': user,
            'PHONE_NUMBER': call.phone,
            'PHONE_NUMBER_INTERNATIONAL': call.phone_e164,
            'EXTENSION': call.extension or (Extension.extension_of(
                    call.employee.id) if call.employee else None),
            'CRM_ENTITY_TYPE': call.entity_type(),
            'CRM_ENTITY_ID': call.entity_id(),
            'CALL_LIST_ID': None,
            'LINE_NUMBER': call.line.number if call.line else None,
            'CALL_ID': call.call_id,
            'IS_MOBILE': 'N',
            }
        payload = {
            'event': CALL_START,
            'data': data,
            'ts': int(time.time()),
            'auth': cls._auth(),
            }
        with Transaction().set_context(company=company):
            return Delivery.enqueue(subscriptions, CALL_START, payload)
