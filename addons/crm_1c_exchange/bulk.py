# New records of an import written with one INSERT of many rows per table.
# Model.create validates and post-processes each record (domains, code sync,
# translations, company values one by one): 10-20 ms a good, most of the
# import's time. The import's values are valid by construction, so only
# what create would store is written here: the same defaults, company
# values of MultiValue fields, translations, create_uid/create_date. The
# one constraint Tryton checks itself, unique product codes, is checked by
# catalog.check_codes. Models with create triggers or history, or defaults
# only create can fill, go through the ORM (create()).
from sql.functions import CurrentTimestamp

from trytond.model import MultiValueMixin, fields
from trytond.pool import Pool
from trytond.transaction import Transaction

from trytond.modules.company.model import CompanyValueMixin
from trytond.modules.crm_portal.automation import savepoint

MAGIC = {'id', 'create_uid', 'create_date', 'write_uid', 'write_date'}
# rows per statement; PostgreSQL's bound is its parameter count, SQLite
# (3.32+) allows 32766 variables
MAX_PARAMS = 30000


class NotSupported(Exception):
    "A model whose creation needs the ORM (triggers, history, setters)"


def supported(*names):
    "Whether the models of names can be created by insert()"
    pool = Pool()
    Trigger = pool.get('ir.trigger')
    for name in names:
        Model = pool.get(name)
        if getattr(Model, '_history', False):
            return False
        if Trigger.get_triggers(name, 'create'):
            return False
    return True


def create(names, fast, slow):
    """Return fast() (bulk inserts) or, when a model of names needs the ORM,
    slow() (create); fast() leaves nothing behind when it turns out
    unsupported"""
    if supported(*names):
        try:
            with savepoint('crm_1c_bulk'):
                return fast()
        except NotSupported:
            pass
    return slow()


def _defaults(Model, given):
    """(column defaults, MultiValue defaults) create would add to rows that
    only carry the fields of given"""
    names = [n for n, f in Model._fields.items()
        if n not in given and n not in MAGIC
        and not (isinstance(f, fields.Function) and not f.setter)]
    defaults = Model._clean_defaults(
        Model.default_get(names, with_rec_name=False)) if names else {}
    columns, values = {}, {}
    for name, value in defaults.items():
        field = Model._fields[name]
        if not hasattr(field, 'set'):
            columns[name] = value
        elif isinstance(field, fields.MultiValue):
            if value is not None:
                values[name] = value
        elif value:
            # a relation or function filled by default: only create knows
            raise NotSupported(Model.__name__, name)
    return columns, values


def insert(Model, rows, key=None, extra=None):
    """Insert rows (dicts of column fields) of Model as create would; return
    {row[key]: id} when key is given (RETURNING: the order of returned rows
    is not guaranteed, the key maps them). rows are replaced by the values
    create would store (preprocess_values: codes from sequences...).
    extra: columns written as given to every row (SQL expressions)."""
    pool = Pool()
    ModelAccess = pool.get('ir.model.access')
    if not rows:
        return {}
    ModelAccess.check(Model.__name__, 'create')
    transaction = Transaction()
    cursor = transaction.connection.cursor()
    table = Model.__table__()
    rows[:] = [Model.preprocess_values('create', r) for r in rows]
    for row in rows:
        for name in list(row):
            if hasattr(Model._fields[name], 'set') and row.pop(name):
                raise NotSupported(Model.__name__, name)
    extra = extra or {}
    everywhere = set.intersection(*(set(r) for r in rows)) | set(extra)
    defaults, multivalues = _defaults(Model, everywhere)
    names = sorted(set().union(*rows) | set(defaults))
    translated = [n for n in names
        if getattr(Model._fields[n], 'translate', False)]
    if (translated or multivalues) and not key:
        raise NotSupported(Model.__name__, 'key')
    formats = [Model._fields[n].sql_format for n in names]
    columns = ([table.create_uid, table.create_date]
        + [getattr(table, n) for n in names]
        + [getattr(table, n) for n in extra])
    head = [transaction.user, CurrentTimestamp()]
    tail = list(extra.values())
    values = [head + [f(r[n] if n in r else defaults.get(n))
            for n, f in zip(names, formats)] + tail for r in rows]
    ids = {}
    step = max(1, min(len(values), MAX_PARAMS // len(columns)))
    for start in range(0, len(values), step):
        chunk = values[start:start + step]
        if key:
            if not transaction.database.has_returning():
                for row, value in zip(rows[start:start + step], chunk):
                    cursor.execute(*table.insert(columns, [value]))
                    ids[row[key]] = transaction.database.lastid(cursor)
                continue
            cursor.execute(*table.insert(columns, chunk,
                    returning=[getattr(table, key), table.id]))
            ids.update(cursor)
        else:
            cursor.execute(*table.insert(columns, chunk))
    # what create does for the transaction: caches and domain rules
    transaction.counter += 1
    Model._count_cache.set(Model.__name__, None)
    if key:
        if len(ids) != len(rows):
            raise ValueError(f'duplicate {key} in {Model.__name__} rows')
        transaction.create_records[Model.__name__].extend(ids.values())
    for name in translated:
        format_ = Model._fields[name].sql_format
        _translations(Model, name, [(ids[r[key]], format_(r[name]))
                for r in rows if r.get(name)])
    for name, value in multivalues.items():
        _multivalue(Model, name, value, list(ids.values()))
    return ids


def _translations(Model, name, pairs):
    "The rows of ir.translation create stores for a translated field"
    if not pairs:
        return
    language = Transaction().language
    insert(Pool().get('ir.translation'), [{
                'name': f'{Model.__name__},{name}',
                'lang': language, 'type': 'model', 'res_id': id_,
                'src': value, 'value': value, 'fuzzy': False,
                } for id_, value in pairs])


def _multivalue(Model, name, value, ids):
    """The value records create stores for the default of a MultiValue
    field (e.g. product.cost_price_method per company)"""
    if not ids or not issubclass(Model, MultiValueMixin):
        return
    Value = Model.multivalue_model(name)
    link = [n for n, f in Value._fields.items()
        if f._type == 'many2one' and f.model_name == Model.__name__]
    if len(link) != 1:
        raise NotSupported(Model.__name__, name)
    row = {name: value}
    if issubclass(Value, CompanyValueMixin):
        company = Transaction().context.get('company')
        if not company and not value:
            # e.g. product.cost_price: no company, no record
            return
        row['company'] = company
    insert(Value, [dict(row, **{link[0]: id_}) for id_ in ids])
