# Micro-cache of public answers in each worker, bounded in time.
#
# The truth is the HTML stored on the published version (the database):
# every worker reads it from there.  To spare a database transaction per
# page view, a worker keeps what it read for at most
# [crm_sites] page_cache_seconds (default 1 s, 0 turns it off).  The worker
# that publishes forgets its copies when its transaction ends; the other
# workers pick the change up within that bound.  Nothing here is needed
# by another worker.
import threading
import time

from trytond import config

_entries = {}
_lock = threading.Lock()
MAX_ENTRIES = 5000


def ttl():
    return config.getfloat('crm_sites', 'page_cache_seconds', default=1.0)


def cached(database, key, load):
    "The value of key in database, loaded by load() when stale"
    seconds = ttl()
    now = time.monotonic()
    entry = _entries.get((database, key))
    if seconds > 0 and entry and now - entry[0] < seconds:
        return entry[1]
    value = load()
    if seconds > 0:
        with _lock:
            if len(_entries) >= MAX_ENTRIES:
                _entries.clear()
            _entries[(database, key)] = (now, value)
    return value


def forget(database):
    "Drop this worker's copies for database"
    with _lock:
        for key in [k for k in _entries if k[0] == database]:
            del _entries[key]


def forget_at_end():
    "Forget the current database's copies when the transaction ends"
    from trytond.transaction import Transaction
    transaction = Transaction()
    forget(transaction.database.name)
    transaction.atexit(forget, transaction.database.name)
