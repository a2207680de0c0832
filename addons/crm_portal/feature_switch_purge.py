# Permanent removal of a switched-off feature's data: the only step that
# destroys what deactivation keeps (`crm tenant purge-feature`).
import importlib
import logging

from sql import Table

from trytond import backend
from trytond.model import ModelSQL, fields
from trytond.modules import get_module_register
from trytond.pool import PoolMeta
from trytond.transaction import Transaction

from .feature_switch_modules import KEPT_PREFIX

logger = logging.getLogger(__name__)


class PurgeError(Exception):
    "The feature's data cannot be purged"


def _classes(module):
    for classes, kwargs in get_module_register(module) or ():
        if kwargs['type_'] != 'model':
            continue
        for path in classes:
            file, name = path.rsplit('.', 1)
            yield getattr(importlib.import_module(
                    f'trytond.modules.{module}.{file}'), name)


def _table_of(cls):
    for klass in cls.__mro__:
        table = vars(klass).get('_table')
        if table:
            return table
    return cls.__name__.replace('.', '_')


def module_storage(module):
    """Return (tables, columns) the module stores data in: the tables of
    its own models and the (table, column) it adds to other models."""
    tables, columns = [], []
    for cls in _classes(module):
        if not issubclass(cls, ModelSQL):
            continue
        if isinstance(cls, PoolMeta):
            for name, field in vars(cls).items():
                if (isinstance(field, fields.Field)
                        and not isinstance(field, (fields.Function,
                                fields.One2Many, fields.Many2Many))):
                    columns.append((_table_of(cls), name))
        else:
            tables.append(_table_of(cls))
    return tables, columns


def _existing_tables(cursor):
    if backend.name == 'sqlite':
        cursor.execute("SELECT name FROM sqlite_master WHERE type='table'")
    else:
        cursor.execute("SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema()")
    return {t for t, in cursor}


def _columns(cursor, table):
    if backend.name == 'sqlite':
        cursor.execute(f'PRAGMA table_info("{table}")')
        return {row[1] for row in cursor}
    cursor.execute("SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = %s",
        (table,))
    return {c for c, in cursor}


def _delete_data_records(cursor, module, dropped):
    """Delete the records the module's XML files made in other modules'
    tables (a group, a technical user, its memberships): left behind, they
    would clash with the records switching the feature on again creates.
    Newest first, so that links go before what they link."""
    ir_model_data = Table('ir_model_data')
    existing = _existing_tables(cursor)
    cursor.execute(*ir_model_data.select(
            ir_model_data.model, ir_model_data.db_id,
            where=ir_model_data.module.in_([module, KEPT_PREFIX + module]),
            order_by=[ir_model_data.id.desc]))
    for model, db_id in cursor.fetchall():
        table = model.replace('.', '_')
        if table in dropped or table not in existing or not db_id:
            continue
        Table_ = Table(table)
        if backend.name == 'postgresql':
            cursor.execute('SAVEPOINT crm_purge_record')
        try:
            cursor.execute(*Table_.delete(where=Table_.id == db_id))
        except backend.DatabaseIntegrityError:
            # still used by the users' own records: kept
            if backend.name == 'postgresql':
                cursor.execute('ROLLBACK TO SAVEPOINT crm_purge_record')
            logger.warning("kept %s %s of %s: still in use",
                model, db_id, module)
            continue
        if backend.name == 'postgresql':
            cursor.execute('RELEASE SAVEPOINT crm_purge_record')


def purge(name, module):
    """Drop the tables and columns of module in database name, with its
    kept XML ids, models and translations. module must be deactivated.

    Return (tables, columns) dropped."""
    ir_module = Table('ir_module')
    ir_model_data = Table('ir_model_data')
    ir_model = Table('ir_model')
    ir_model_field = Table('ir_model_field')
    ir_translation = Table('ir_translation')
    tables, columns = module_storage(module)
    dropped_tables, dropped_columns = [], []
    with Transaction().start(name, 0) as transaction:
        cursor = transaction.connection.cursor()
        cursor.execute(*ir_module.select(ir_module.state,
                where=ir_module.name == module))
        row = cursor.fetchone()
        if row and row[0] != 'not activated':
            raise PurgeError("switch the feature off first")
        existing = _existing_tables(cursor)
        cascade = '' if backend.name == 'sqlite' else ' CASCADE'
        for table in tables:
            for candidate in [table, table + '__history']:
                if candidate in existing:
                    cursor.execute(f'DROP TABLE "{candidate}"{cascade}')
                    dropped_tables.append(candidate)
        for table, column in columns:
            if table in existing and column in _columns(cursor, table):
                if backend.name == 'sqlite':
                    # SQLite cannot drop an indexed or referencing column:
                    # its values go instead (Tryton reuses the column).
                    cursor.execute(f'UPDATE "{table}" SET "{column}" = NULL')
                else:
                    cursor.execute(
                        f'ALTER TABLE "{table}" DROP COLUMN "{column}"')
                dropped_columns.append(f'{table}.{column}')
        _delete_data_records(cursor, module, set(dropped_tables))
        cursor.execute(*ir_model_data.delete(
                where=ir_model_data.module.in_([module, KEPT_PREFIX + module])))
        cursor.execute(*ir_module.delete(
                where=ir_module.name == KEPT_PREFIX + module))
        cursor.execute(*ir_model_field.delete(
                where=ir_model_field.module == module))
        cursor.execute(*ir_model.delete(where=ir_model.module == module))
        cursor.execute(*ir_translation.delete(
                where=ir_translation.module == module))
        transaction.commit()
    return dropped_tables, dropped_columns
