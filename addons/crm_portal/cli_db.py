# The `crm` command's access to databases: configuration, tenants' state,
# creation and removal (trytond's own way).
import logging
import os
import re

from . import features as feature_map

ERROR = 2
_NAME_RE = re.compile(r'^[a-z][a-z0-9_]{0,62}$')


class CliError(Exception):
    "A problem the user can fix; reported as one line, exit status 2"


# -- configuration --

def configure(path=None, verbose=0):
    "Load the trytond configuration; environment variables win over files"
    from trytond import config
    if not path:
        path = os.environ.get('TRYTOND_CONFIG')
        if not path and os.path.isfile('trytond.conf'):
            path = 'trytond.conf'
    if path and not os.path.isfile(path):
        raise CliError(f"configuration file not found: {path}")
    if path:
        config.update_etc(path)
    # As trytond itself: TRYTOND_SECTION__OPTION variables are read first
    # and the file wins, so a file with a database URI is used as written.
    # trytond's SQLite backend opens file:///<path>: a relative path would
    # point at the root folder. It is relative to the configuration file.
    db_path = config.get('database', 'path')
    if db_path and not os.path.isabs(db_path):
        base = os.path.dirname(os.path.abspath(path)) if path else os.getcwd()
        config.set('database', 'path',
            os.path.normpath(os.path.join(base, db_path)))
    config._cache_clear()
    level = max(logging.ERROR - 10 * verbose, logging.NOTSET)
    logging.basicConfig(
        level=level, format='%(levelname)s %(name)s %(message)s')
    logging.captureWarnings(True)
    if not verbose:
        logging.getLogger('py.warnings').setLevel(logging.ERROR)
    return path


def backend_name():
    from trytond import backend
    return backend.name


def _sqlite_path():
    from trytond import config
    return config.get('database', 'path')



def check_name(name):
    if not _NAME_RE.match(name or ''):
        raise CliError(
            f"invalid tenant name '{name}': use lower-case letters, digits "
            "and _, starting with a letter (at most 63 characters)")
    return name


def database_state(name):
    "None when absent, 'empty' for a database without Tryton, else 'tryton'"
    from trytond import backend
    if backend.name == 'sqlite':
        path = os.path.join(_sqlite_path(), name + '.sqlite')
        if not os.path.isfile(path):
            return None
    else:
        # Ask the server: a pool on a missing database would wait for it.
        server = backend.Database()
        server.connect()
        connection = server.get_connection()
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    'SELECT 1 FROM pg_database WHERE datname = %s', (name,))
                if not cursor.fetchone():
                    return None
        finally:
            server.put_connection(connection)
    database = backend.Database(name)
    database.connect()
    return 'tryton' if database.test() else 'empty'


def list_databases():
    from trytond import backend
    if backend.name == 'sqlite':
        try:
            files = os.listdir(_sqlite_path())
        except OSError:
            return []
        return sorted(f[:-len('.sqlite')] for f in files
            if f.endswith('.sqlite'))
    database = backend.Database()
    database.connect()
    return sorted(database.list())


def activated_modules(name):
    "Names of the modules activated in database name, None if not Tryton"
    from sql import Table

    from trytond.transaction import Transaction
    ir_module = Table('ir_module')
    try:
        with Transaction().start(
                name, 0, readonly=True, close=True) as transaction:
            cursor = transaction.connection.cursor()
            cursor.execute(*ir_module.select(ir_module.name,
                    where=ir_module.state == 'activated'))
            return {m for m, in cursor}
    except Exception:
        logging.getLogger(__name__).debug(
            "not a Tryton database: %s", name, exc_info=True)
        return None


def create_database(name, lang):
    "Create database name and the tables of ir and res (trytond's way)"
    from trytond import backend
    if backend.name == 'sqlite':
        os.makedirs(_sqlite_path(), exist_ok=True)
    database = backend.Database()
    database.connect()
    connection = database.get_connection(autocommit=True)
    try:
        database.create(connection, name)
    finally:
        database.put_connection(connection)
    init_database(name, lang)


def init_database(name, lang):
    from sql import Flavor, Table

    from trytond import backend
    database = backend.Database(name)
    database.connect()
    Flavor.set(database.flavor)
    connection = database.get_connection()
    try:
        with connection.cursor() as cursor:
            database.init()
            ir_configuration = Table('ir_configuration')
            cursor.execute(*ir_configuration.insert(
                    [ir_configuration.language], [[lang]]))
        connection.commit()
    finally:
        database.put_connection(connection)


def drop_database(name):
    from trytond import backend
    from trytond.pool import Pool
    Pool.stop(name)
    database = backend.Database(name)
    database.close()
    server = backend.Database()
    server.connect()
    connection = server.get_connection(autocommit=True)
    try:
        server.drop(connection, name)
    finally:
        server.put_connection(connection)


def load_pool(name, update=None, lang=None, activatedeps=False):
    from trytond.pool import Pool
    pool = Pool(name)
    pool.init(update=update, lang=lang, activatedeps=activatedeps,
        indexes=bool(update))
    return pool


def translatable_languages(name, pool):
    from trytond.transaction import Transaction
    with Transaction().start(name, 0, readonly=True):
        Lang = pool.get('ir.lang')
        return [l.code for l in Lang.search([('translatable', '=', True)])]


def require_tenant(name):
    "Return the activated modules of tenant name or raise CliError"
    check_name(name)
    state = database_state(name)
    modules = activated_modules(name) if state == 'tryton' else None
    if modules is None:
        raise CliError(f"unknown tenant '{name}'")
    if feature_map.module_of(feature_map.CORE_FEATURE) not in modules:
        raise CliError(
            f"database '{name}' is not a CRM tenant "
            "(crm_portal is not activated)")
    return modules


