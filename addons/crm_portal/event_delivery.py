# Outbound webhooks: the delivery log and its queue tasks.
#
# A delivery is created with the change that emitted its event, so a rolled
# back change sends nothing.  A queue task posts it form-encoded as Bitrix24
# does, signed with the subscription secret.  A failed post is retried by a
# new queue task scheduled with exponential backoff; a cron re-queues due
# deliveries whose task was lost.
import datetime
import hashlib
import hmac
import json
import urllib.parse

import requests

import trytond.config as config
from trytond.model import Index, ModelSQL, ModelView, Workflow, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.transaction import Transaction, without_check_access

TIMEOUT = 10  # seconds
# Delay before the attempt n + 1 after n failed attempts
BACKOFF = [
    datetime.timedelta(minutes=1),
    datetime.timedelta(minutes=5),
    datetime.timedelta(minutes=30),
    datetime.timedelta(hours=2),
    datetime.timedelta(hours=12),
    ]
QUEUE_NAME = 'crm_event'
SIGNATURE_HEADER = 'X-CRM-Signature'
ERROR_LENGTH = 500


def encode_form(values, prefix=None):
    """Flatten nested dicts and lists into PHP-style form fields:
    {'data': {'FIELDS': {'ID': 1}}} -> [('data[FIELDS][ID]', '1')]"""
    pairs = []
    if isinstance(values, dict):
        items = values.items()
    else:
        items = enumerate(values)
    for key, value in items:
        name = f'{prefix}[{key}]' if prefix is not None else str(key)
        if isinstance(value, (dict, list, tuple)):
            pairs.extend(encode_form(value, name))
        elif value is None:
            pairs.append((name, ''))
        elif isinstance(value, bool):
            pairs.append((name, 'Y' if value else 'N'))
        else:
            pairs.append((name, str(value)))
    return pairs


def sign(secret, body):
    "Return the value of the signature header for body"
    digest = hmac.new(
        secret.encode('utf-8'), body, hashlib.sha256).hexdigest()
    return f'sha256={digest}'


def backoff(attempts):
    "Return the delay before the next attempt after attempts failures"
    return BACKOFF[min(max(attempts, 1), len(BACKOFF)) - 1]


class Delivery(Workflow, ModelSQL, ModelView):
    "CRM Event Delivery"
    __name__ = 'crm.event.delivery'

    subscription = fields.Many2One(
        'crm.event.subscription', "Subscription", required=True,
        readonly=True, ondelete='CASCADE')
    company = fields.Many2One(
        'company.company', "Company", required=True, readonly=True,
        ondelete='CASCADE')
    event = fields.Char("Event", required=True, readonly=True)
    url = fields.Function(fields.Char("Handler URL"), 'get_url')
    payload = fields.Text("Payload", readonly=True)
    state = fields.Selection([
            ('pending', "Pending"),
            ('done', "Done"),
            ('failed', "Failed"),
            ], "State", required=True, readonly=True, sort=False)
    attempts = fields.Integer("Attempts", readonly=True)
    last_status = fields.Integer(
        "Last Status", readonly=True,
        help="The HTTP status code of the last answer.")
    last_error = fields.Text("Last Error", readonly=True)
    next_attempt = fields.DateTime(
        "Next Attempt", readonly=True,
        states={'invisible': Eval('state') != 'pending'})
    done_date = fields.DateTime("Done", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._order = [('id', 'DESC')]
        cls._sql_indexes.add(
            Index(t,
                (t.state, Index.Equality(cardinality='low')),
                (t.next_attempt, Index.Range()),
                where=t.state == 'pending'))
        cls._transitions |= {
            ('failed', 'pending'),
            }
        cls._buttons.update({
                'retry': {
                    'invisible': Eval('state') != 'failed',
                    'depends': ['state'],
                    },
                })

    @staticmethod
    def default_state():
        return 'pending'

    @staticmethod
    def default_attempts():
        return 0

    def get_url(self, name):
        return self.subscription.url

    def get_rec_name(self, name):
        return f'{self.event} #{self.id}'

    @classmethod
    def enqueue(cls, subscription_ids, event, payload):
        """Create the deliveries of payload to the subscriptions and queue
        a task for each one, run after the transaction is committed."""
        Subscription = Pool().get('crm.event.subscription')
        now = datetime.datetime.now()
        data = json.dumps(payload, sort_keys=True, default=str)
        with without_check_access():
            deliveries = cls.create([{
                        'subscription': s.id,
                        'company': s.company.id,
                        'event': event,
                        'payload': data,
                        'next_attempt': now,
                        } for s in Subscription.browse(subscription_ids)])
        cls._push(deliveries)
        return deliveries

    @classmethod
    def _push(cls, deliveries, delay=None):
        context = {'queue_name': QUEUE_NAME}
        if delay:
            context['queue_scheduled_at'] = delay
        with Transaction().set_context(**context):
            for delivery in deliveries:
                cls.__queue__.deliver([delivery])

    @classmethod
    def deliver(cls, deliveries):
        "Post each due pending delivery once (the queue task)"
        with without_check_access():
            for delivery in deliveries:
                cls.lock([delivery])
                # Read again after the lock: another task may have sent it.
                delivery = cls(delivery.id)
                now = datetime.datetime.now()
                if delivery.state != 'pending':
                    continue
                if delivery.next_attempt and delivery.next_attempt > now:
                    continue
                delivery._send()

    def _body(self):
        subscription = self.subscription
        payload = json.loads(self.payload or '{}')
        auth = payload.setdefault('auth', {})
        auth['application_token'] = subscription.application_token or ''
        auth['user_id'] = subscription.user.id
        payload['event_handler_id'] = subscription.id
        return urllib.parse.urlencode(encode_form(payload)).encode('ascii')

    def _send(self):
        subscription = self.subscription
        if not subscription.active:
            self._save_attempt(
                None, "The subscription is inactive.", final=True)
            return
        body = self._body()
        headers = {
            'Content-Type': 'application/x-www-form-urlencoded',
            SIGNATURE_HEADER: sign(subscription.secret or '', body),
            'User-Agent': 'Tryton-CRM-Webhook/1.0',
            }
        status, error = None, None
        try:
            with requests.post(
                    subscription.url, data=body, headers=headers,
                    timeout=TIMEOUT, allow_redirects=False,
                    stream=True) as response:
                status = response.status_code
                if not 200 <= status < 300:
                    text = response.raw.read(
                        ERROR_LENGTH, decode_content=True)
                    error = f'HTTP {status} {response.reason or ""}'.strip()
                    if text:
                        error += ': ' + text.decode('utf-8', 'replace')
        except requests.RequestException as exception:
            error = str(exception) or exception.__class__.__name__
        self._save_attempt(status, error)

    def _save_attempt(self, status, error, final=False):
        now = datetime.datetime.now()
        attempts = (self.attempts or 0) + 1
        values = {
            'attempts': attempts,
            'last_status': status,
            'last_error': error[:ERROR_LENGTH * 2] if error else None,
            }
        if not error:
            values.update(state='done', done_date=now, next_attempt=None)
        elif final or attempts >= self.subscription.max_attempts:
            values.update(state='failed', next_attempt=None)
        else:
            delay = backoff(attempts)
            values.update(state='pending', next_attempt=now + delay)
        self.__class__.write([self], values)
        if values['state'] == 'pending':
            self.__class__._push([self], delay=delay)

    @classmethod
    @ModelView.button
    @Workflow.transition('pending')
    def retry(cls, deliveries):
        "Send the failed deliveries once more now"
        with without_check_access():
            cls.write(deliveries, {
                    'next_attempt': datetime.datetime.now(),
                    })
        cls._push(deliveries)

    @classmethod
    def retry_due(cls):
        "Re-queue the pending deliveries whose time has come (cron)"
        deliveries = cls.search([
                ('state', '=', 'pending'),
                ('next_attempt', '<=', retry_due_before(
                        datetime.datetime.now())),
                ], order=[('next_attempt', 'ASC')])
        cls._push(deliveries)


def retry_due_before(now):
    """The latest next attempt a retry cron may queue again at now: with a
    queue worker, the scheduled task keeps 10 minutes before the cron
    queues another one (without one it would wait for ever)"""
    if config.getboolean('queue', 'worker', default=False):
        return now - datetime.timedelta(minutes=10)
    return now


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.append(
            ('crm.event.delivery|retry_due', "Retry Webhook Deliveries"))
