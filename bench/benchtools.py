"What the benchmarks share: numbers, bulk contacts, timing"
import datetime
import os
import time

from trytond.pool import Pool
from trytond.transaction import Transaction


def backend_name():
    uri = os.environ.get('TRYTOND_DATABASE__URI', 'sqlite')
    return 'postgresql' if uri.startswith('postgresql') else 'sqlite'


def phone(i):
    # Distinct valid Russian mobile numbers.
    return '+7916%07d' % i


def populate_contacts(count, offset, prefix='B', chunk=5000):
    "Insert contacts with a phone through SQL: population is not measured"
    pool = Pool()
    party = pool.get('party.party').__table__()
    mechanism = pool.get('party.contact_mechanism').__table__()
    cursor = Transaction().connection.cursor()
    now = datetime.datetime.now()
    for start in range(offset, offset + count, chunk):
        stop = min(start + chunk, offset + count)
        codes = ['%s%d' % (prefix, i) for i in range(start, stop)]
        cursor.execute(*party.insert(
                [party.name, party.code, party.crm_kind, party.active,
                    party.create_uid, party.create_date],
                [['Contact %d' % i, code, 'person', True, 0, now]
                    for i, code in zip(range(start, stop), codes)]))
        cursor.execute(*party.select(party.id, party.code,
                where=party.code.in_(codes)))
        ids = {code: id_ for id_, code in cursor}
        cursor.execute(*mechanism.insert(
                [mechanism.party, mechanism.type, mechanism.value,
                    mechanism.value_compact, mechanism.active,
                    mechanism.sequence, mechanism.create_uid,
                    mechanism.create_date],
                [[ids[code], 'mobile', phone(i), phone(i), True, 10, 0, now]
                    for i, code in zip(range(start, stop), codes)]))


def timed(func, runs):
    "Seconds of each of runs calls of func, after one warming call"
    func()
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        func()
        times.append(time.perf_counter() - began)
    return times
