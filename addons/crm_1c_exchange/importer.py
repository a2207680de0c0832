# One step of an import: a batch of one file, read from the filestore,
# applied and recorded with the file's position in the same transaction.
# The next `import` request (any worker) continues from that position.
from lxml import etree

from trytond import backend
from trytond.exceptions import UserError, UserWarning
from trytond.i18n import gettext
from trytond.pool import Pool
from trytond.transaction import Transaction

from trytond.modules.crm_portal.automation import error_text, savepoint

from . import storage
from .catalog import GoodsBatch, apply_classifier, deactivate_missing, read_good
from .documents_in import DocumentsBatch, read_document
from .offers import OffersBatch, apply_price_types, read_offer
from .xmlsafe import (
    LimitedReader, UnsafeInput, check_zip, iterparse, localname, release,
    safe_name)

FIRST_PHASE = {
    'catalog': 'classifier',
    'offers': 'price_types',
    'documents': 'documents',
    }
ITEMS = {
    'goods': ('Товар', read_good),
    'offers': ('Предложение', read_offer),
    'documents': ('Документ', read_document),
    }
MAX_ENTRIES = 10000
MAX_RATIO = 200
MAX_IMAGE = 10 * 1024 * 1024


class ImportFailure(Exception):
    "A file that cannot be imported (further); args[0] is the reason"


def detect(fp):
    "Return (kind, partial, schema version) of a CommerceML file"
    version, partial = None, False
    try:
        for event, element in iterparse(fp, [
                    'КоммерческаяИнформация', 'Классификатор', 'Каталог',
                    'ПакетПредложений', 'Документ', 'Контейнер'],
                events=('start',)):
            name = localname(element)
            if name == 'КоммерческаяИнформация':
                version = element.get('ВерсияСхемы')
                continue
            partial = (element.get('СодержитТолькоИзменения') or '').lower() \
                == 'true'
            kind = {'Классификатор': 'catalog', 'Каталог': 'catalog',
                'ПакетПредложений': 'offers'}.get(name, 'documents')
            return kind, partial, version
    except etree.XMLSyntaxError as exception:
        raise ImportFailure(gettext('crm_1c_exchange.msg_xml_invalid',
                error=str(exception)))
    finally:
        fp.seek(0)
    raise ImportFailure(gettext('crm_1c_exchange.msg_xml_unknown'))


class Reader:
    """The parser of one file kept open between the batches of a request:
    a batch continues where the previous one stopped instead of skipping
    from the start. Only valid for the position it was left at (a batch
    rolled back leaves the file's position behind: parsed again)."""

    def __init__(self):
        self.key = self.items = self.fp = None

    def take(self, key):
        if self.key == key:
            return self.items
        self.close()
        return None

    def keep(self, key, fp, items):
        self.key, self.fp, self.items = key, fp, items

    def close(self):
        if self.fp is not None:
            self.fp.close()
        self.key = self.items = self.fp = None


def _elements(fp, tag):
    for _, element in iterparse(fp, [tag]):
        yield element
        release(element)


def read_batch(file, phase, skip, size, reader=None):
    """Return (items, more, error) of the next batch after skip items"""
    tag, read = ITEMS[phase]
    key = (file.id, phase, skip)
    elements = reader.take(key) if reader else None
    fp = None
    if elements is None:
        fp = storage.open_file(file.data_id)
        elements = _elements(fp, tag)
        index = 0
    else:
        index = skip
    items = []
    try:
        for element in elements:
            if index >= skip:
                items.append(read(element))
            index += 1
            if len(items) >= size:
                if reader:
                    reader.keep((file.id, phase, skip + len(items)),
                        fp or reader.fp, elements)
                    fp = None
                return items, True, None
    except etree.XMLSyntaxError as exception:
        return items, False, gettext('crm_1c_exchange.msg_xml_invalid',
            error=str(exception))
    finally:
        if fp is not None:
            fp.close()
    if reader:
        reader.close()
    return items, False, None


def extract(session, archive):
    "Check the zip archive and store its entries as files of session"
    File = Pool().get('crm.exchange_1c.file')
    limit = archive_limit()
    with storage.open_file(archive.data_id) as fp:
        zipped, entries = check_zip(fp, MAX_ENTRIES, limit, MAX_RATIO)
        values = []
        for info in entries:
            file_id = storage.new_id()
            with zipped.open(info) as source:
                size = storage.copy_from(file_id,
                    LimitedReader(source, info.file_size), info.file_size)
            values.append({'session': session.id, 'archive': archive.id,
                    'name': safe_name(info.filename), 'data_id': file_id,
                    'size': size, 'state': 'received'})
    File.create(values)
    File.write([archive], {'state': 'done'})


def archive_limit():
    from trytond.config import config
    return config.getint('crm_1c', 'max_unpacked',
        default=2 * 1024 * 1024 * 1024)


def image_reader(session):
    File = Pool().get('crm.exchange_1c.file')

    def read(name):
        name = safe_name(name)
        if not name:
            return None
        files = File.search([('session', '=', session.id),
                ('name', '=', name), ('data_id', '!=', None)],
            order=[('id', 'DESC')], limit=1)
        if not files or (files[0].size or 0) > MAX_IMAGE:
            return None
        with storage.open_file(files[0].data_id) as fp:
            return fp.read(MAX_IMAGE)
    return read


def _batch(session, file, phase):
    return {
        'goods': lambda: GoodsBatch(session, file, image_reader(session)),
        'offers': lambda: OffersBatch(session, file),
        'documents': lambda: DocumentsBatch(session, file),
        }[phase]()


def apply_items(session, file, phase, items):
    """Apply items as one batch; when the batch is refused, item by item so
    that one bad good does not stop the others"""
    try:
        with savepoint('crm_1c_batch'):
            return _batch(session, file, phase).apply(items)
    except (UserError, UserWarning):
        pass
    counts = {}
    for item in items:
        try:
            with savepoint('crm_1c_item'):
                result = _batch(session, file, phase).apply([item])
        except (UserError, UserWarning) as exception:
            session.note('failed', error_text(exception), file,
                item.get('id'))
            continue
        for key, value in result.items():
            counts[key] = counts.get(key, 0) + value
    return counts


def prepare(file):
    """Read the kind of package of file (the start of the file only) and
    set its first phase. Raise ImportFailure when it cannot be imported."""
    File = Pool().get('crm.exchange_1c.file')
    with storage.open_file(file.data_id) as fp:
        try:
            kind, partial, _ = detect(fp)
        except UnsafeInput as exception:
            raise ImportFailure(gettext(
                    'crm_1c_exchange.' + exception.args[0]))
    file.kind, file.partial = kind, partial
    file.phase, file.position = FIRST_PHASE[kind], 0
    File.write([file], {'kind': kind, 'partial': partial,
            'phase': file.phase, 'position': 0, 'state': 'importing'})


def close_when_done(transaction):
    """Close the SQLite connection of transaction when it ends. Python's
    sqlite3 connection is in a reference cycle with its statement cache:
    left open, it and its page cache (MBs) wait for a full garbage
    collection, rare in a long import that opens one a batch."""
    database = transaction.database
    if (backend.name != 'sqlite' or database is None
            or database.name == ':memory:'):
        return
    close = transaction.connection.close
    if all(f != close for f, _, _ in transaction._atexit):
        transaction.atexit(close)


def step(session, profile, file, reader=None):
    """Run one batch of file; return 'progress' or 'success'.
    Raise ImportFailure when the file cannot be imported (further)."""
    close_when_done(Transaction())
    pool = Pool()
    File = pool.get('crm.exchange_1c.file')
    Seen = pool.get('crm.exchange_1c.seen')
    values, counts = {}, {}
    if not file.kind:
        prepare(file)
    with storage.open_file(file.data_id) as fp:
        phase, position = file.phase, file.position or 0
        error = None
        if phase == 'classifier':
            counts = apply_classifier(fp)
            values = {'phase': 'goods', 'position': 0}
        elif phase == 'price_types':
            counts = apply_price_types(fp, session.company)
            values = {'phase': 'offers', 'position': 0}
        elif phase in ITEMS:
            items, more, error = read_batch(file, phase, position,
                profile.batch_size, reader)
            if items:
                counts = apply_items(session, file, phase, items)
                if phase == 'goods' and not file.partial:
                    Seen.add(file.id, [i['id'] for i in items if i['id']])
            values = {'position': position + len(items)}
            if not more:
                values['phase'] = ('deactivate' if phase == 'goods'
                    and not file.partial and not error else 'done')
        elif phase == 'deactivate':
            last, count = deactivate_missing(file, position,
                profile.batch_size)
            counts = {'updated': count}
            if last is None:
                values = {'phase': 'done'}
                # in SQL: a full package leaves one row per good
                seen = Seen.__table__()
                Transaction().connection.cursor().execute(*seen.delete(
                        where=seen.file == file.id))
            else:
                values = {'position': last}
    session.count(**counts)
    if error:
        values.update(state='failed', error=error)
        File.write([file], values)
        raise ImportFailure(error)
    if values.get('phase') == 'done' or phase == 'done':
        values['state'] = 'done'
    File.write([file], values)
    return 'success' if values.get('state') == 'done' else 'progress'
