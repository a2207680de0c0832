# Routing decisions as plain functions of (line settings, operators,
# clock): the models gather the facts, these choose. Tests drive them with
# a controlled clock; the cron jobs and the intake of messages call them.
import datetime
import zoneinfo
from collections import namedtuple

WEEKDAYS = [
    ('0', "Monday"),
    ('1', "Tuesday"),
    ('2', "Wednesday"),
    ('3', "Thursday"),
    ('4', "Friday"),
    ('5', "Saturday"),
    ('6', "Sunday"),
    ]
MIDNIGHT = datetime.time(0)

Period = namedtuple('Period', ['weekday', 'start', 'end'])
# One operator of a line as the router sees it: load is the number of
# conversations offered to or worked by the operator and not closed.
Candidate = namedtuple('Candidate', [
        'employee', 'sequence', 'available', 'load', 'last_offered'])


def local_time(now, timezone):
    "now (naive, UTC) as a naive local datetime of timezone"
    zone = zoneinfo.ZoneInfo(timezone or 'UTC')
    return now.replace(tzinfo=datetime.timezone.utc).astimezone(
        zone).replace(tzinfo=None)


def is_open(periods, timezone, now):
    """Whether now (naive UTC) is inside one of the periods of the week.

    No period at all means around the clock."""
    if not periods:
        return True
    local = local_time(now, timezone)
    day, moment = str(local.weekday()), local.time()
    for period in periods:
        if str(period.weekday) != day:
            continue
        if period.start <= moment and (
                period.end == MIDNIGHT or moment < period.end):
            return True
    return False


def _order_key(candidate):
    return (candidate.sequence is None, candidate.sequence or 0,
        candidate.employee)


def _even_key(candidate):
    return (candidate.load,
        candidate.last_offered or datetime.datetime.min,
        ) + _order_key(candidate)


def choose(distribution, candidates, tried=(), responsible=None):
    """Return the employees to offer a conversation to.

    Only available operators not tried before are offered. The client's
    responsible employee, when one of them, comes first. 'all' offers
    everyone at once, 'order' the first in the line's order, 'evenly'
    the least loaded (then the one offered longest ago). An empty list
    leaves the conversation in the queue."""
    tried = set(tried or ())
    pool = [c for c in candidates
        if c.available and c.employee not in tried]
    if not pool:
        return []
    if responsible is not None:
        for candidate in pool:
            if candidate.employee == responsible:
                return [candidate.employee]
    if distribution == 'all':
        return [c.employee for c in sorted(pool, key=_order_key)]
    if distribution == 'order':
        return [min(pool, key=_order_key).employee]
    return [min(pool, key=_even_key).employee]


def accept_expired(offered_at, timeout, now):
    "Whether an offer made at offered_at has passed its timeout (seconds)"
    if offered_at is None or not timeout:
        return False
    return now >= offered_at + datetime.timedelta(seconds=timeout)


def silence_expired(last_client_message, minutes, now):
    "Whether the client has been silent for minutes"
    if last_client_message is None or not minutes:
        return False
    return now >= last_client_message + datetime.timedelta(minutes=minutes)


def parse_tried(value):
    return [int(v) for v in (value or '').split(',') if v.strip().isdigit()]


def format_tried(ids):
    return ','.join(str(i) for i in dict.fromkeys(ids))
