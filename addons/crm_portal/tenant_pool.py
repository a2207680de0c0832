# trytond's with_pool for the CRM's public routes, without listing every
# database of the server to learn whether one exists.
"""with_pool (trytond.protocols.wrappers) answers an unknown database name
by listing the server's databases: on PostgreSQL that opens each one and
reads its ir_configuration, so a single tenant being created or upgraded
elsewhere (its tables locked) stalls every request naming an unknown or
not yet loaded database. Here only the named database is tested."""
from functools import wraps
from http import HTTPStatus

from trytond import backend, config
from trytond.exceptions import UserError, UserWarning
from trytond.pool import Pool
from trytond.protocols.wrappers import abort, exceptions
from trytond.transaction import Transaction

__all__ = ['with_tenant_pool', 'is_tenant']


def is_tenant(request, name):
    "Whether name is a Tryton database this server may serve for request"
    hostname = config.get_hostname(request.host)
    if backend.name == 'postgresql':
        with Transaction().start(None, 0, readonly=True) as transaction:
            cursor = transaction.connection.cursor()
            cursor.execute('SELECT 1 FROM pg_database '
                'WHERE datname = %s AND NOT datistemplate', (name,))
            if not cursor.fetchone():
                return False
        database = backend.Database(name)
        try:
            database.connect()
        except Exception:
            return False
        return database.test(hostname=hostname)
    with Transaction().start(None, 0, readonly=True) as transaction:
        return name in transaction.database.list(hostname=hostname)


def with_tenant_pool(func):
    "Like trytond's with_pool: func(request, pool, *args, **kwargs)"
    @wraps(func)
    def wrapper(request, database_name, *args, **kwargs):
        loaded = database_name in Pool.database_list()
        if not loaded and not is_tenant(request, database_name):
            abort(HTTPStatus.NOT_FOUND)
        pool = Pool(database_name)
        if not loaded:
            with Transaction().start(database_name, 0, readonly=True):
                pool.init()
        try:
            return func(request, pool, *args, **kwargs)
        except (UserError, UserWarning) as exception:
            abort(HTTPStatus.BAD_REQUEST, exception)
        except exceptions.HTTPException:
            raise
        except Exception as exception:
            abort(HTTPStatus.INTERNAL_SERVER_ERROR, exception)
    return wrapper
