# The `crm` console script: tenants, their features and webhook tokens.
"""Manage CRM tenants (one database each) for integrators.

  crm tenant create NAME [--features portal,telephony|all] [--demo] ...
  crm tenant list
  crm tenant features NAME [--enable X] [--disable Y]
  crm webhook create NAME --user LOGIN [--scope crm,telephony]

Errors are one line on stderr and exit status 2.
"""
import argparse
import logging
import os
import re
import sys

from . import features as feature_map

ERROR = 2
LANGUAGES = ['en', 'ru']
DEMO_PASSWORD = 'crm-demo'
PASSWORD_ENV = 'TRYTOND_ADMIN_PASSWORD'
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


# -- databases --

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


# -- tenant create --

def read_password(args, required):
    if args.admin_password_file:
        try:
            with open(args.admin_password_file, encoding='utf-8') as fp:
                lines = fp.read().splitlines()
        except OSError as exception:
            raise CliError(
                "cannot read the admin password file "
                f"{args.admin_password_file}: {exception.strerror}")
        password = lines[0] if lines else ''
        if not password:
            raise CliError(
                f"the admin password file {args.admin_password_file} "
                "is empty")
        return password
    password = os.environ.get(PASSWORD_ENV) or None
    if password:
        return password
    if args.demo and required:
        return DEMO_PASSWORD
    if required:
        raise CliError(
            "no admin password: give --admin-password-file FILE or set "
            f"{PASSWORD_ENV} (--demo defaults to '{DEMO_PASSWORD}')")
    return None


def check_currency(code):
    code = (code or '').strip().upper()
    from babel.numbers import list_currencies
    if code not in list_currencies():
        raise CliError(f"unknown currency code '{code}' (ISO 4217, e.g. RUB)")
    return code


def get_currency(pool, code, lang):
    from decimal import Decimal

    from babel.numbers import get_currency_name, get_currency_symbol
    Currency = pool.get('currency.currency')
    currencies = Currency.search([('code', '=', code)], limit=1)
    if currencies:
        return currencies[0]
    currency, = Currency.create([{
                'name': get_currency_name(code, locale=lang),
                'code': code,
                'symbol': get_currency_symbol(code, locale=lang),
                'digits': 2,
                'rounding': Decimal('0.01'),
                }])
    return currency


def setup_tenant(pool, name, *, lang, company_name, currency_code,
        password, created):
    """Set the admin password, the company, admin's employee and the
    standard pipeline; leave what already exists alone.

    Return the id of the company."""
    from trytond import __series__
    from trytond.transaction import Transaction, inactive_records

    with Transaction().start(name, 0, context={'language': lang}):
        User = pool.get('res.user')
        Lang = pool.get('ir.lang')
        Configuration = pool.get('ir.configuration')
        Party = pool.get('party.party')
        Company = pool.get('company.company')
        Employee = pool.get('company.employee')
        Pipeline = pool.get('crm.pipeline')

        language, = Lang.search([('code', '=', lang)])
        if not language.translatable:
            Lang.write([language], {'translatable': True})
        configuration = Configuration(1)
        configuration.series = __series__
        if created:
            configuration.language = lang
        configuration.save()

        with inactive_records():
            admin, = User.search([('login', '=', 'admin')])
        if created:
            admin.language = language
        if password:
            # trytond checks passwords only for real users, not for root.
            User.validate_password(password, [admin])
            admin.password = password

        companies = Company.search([], order=[('id', 'ASC')], limit=1)
        if companies:
            company, = companies
        else:
            currency = get_currency(pool, currency_code, lang)
            party, = Party.create([{
                        'name': company_name,
                        'crm_kind': 'organisation',
                        'addresses': [('create', [{}])],
                        }])
            company, = Company.create([{
                        'party': party.id,
                        'currency': currency.id,
                        }])
        admin.companies = list({c.id for c in admin.companies} | {company.id})
        admin.company = company
        employees = [e for e in admin.employees if e.company == company]
        if not employees:
            party = admin_party(pool, admin)
            employee, = Employee.create([{
                        'party': party.id,
                        'company': company.id,
                        }])
            admin.employees = [e.id for e in admin.employees] + [employee.id]
        else:
            employee = employees[0]
        admin.employee = employee
        admin.save()

        with Transaction().set_context(
                company=company.id, employee=employee.id):
            Pipeline.get_default(company.id, create=True)

        # The company is set up here: the client need not open Tryton's
        # module configuration wizard at the first login.
        WizardItem = pool.get('ir.module.config_wizard.item')
        WizardItem.write(WizardItem.search([('state', '!=', 'done')]),
            {'state': 'done'})
        return company.id


def admin_party(pool, admin):
    Party = pool.get('party.party')
    parties = Party.search([('name', '=', admin.name or 'Administrator'),
            ('crm_kind', '=', 'person')], limit=1)
    if parties:
        return parties[0]
    party, = Party.create([{
                'name': admin.name or 'Administrator',
                'crm_kind': 'person',
                }])
    return party


def load_demo_data(pool, name, company_id, lang):
    "Load the demo data once; return whether it was loaded now"
    from trytond.transaction import Transaction

    from .demo import has_demo, load_demo
    with Transaction().start(name, 0, context={'language': lang}):
        User = pool.get('res.user')
        Company = pool.get('company.company')
        admin, = User.search([('login', '=', 'admin')])
        with Transaction().set_context(
                company=company_id,
                employee=admin.employee.id if admin.employee else None):
            company = Company(company_id)
            if has_demo(company):
                return False
            load_demo(company)
            return True


def cmd_tenant_create(args):
    name = check_name(args.name)
    if args.lang not in LANGUAGES:
        raise CliError(
            f"unknown language '{args.lang}'; use one of "
            f"{', '.join(LANGUAGES)}")
    try:
        features = feature_map.parse(args.features or [])
    except feature_map.FeatureError as exception:
        raise CliError(str(exception))
    if feature_map.CORE_FEATURE not in features:
        features.insert(0, feature_map.CORE_FEATURE)
    modules = [feature_map.module_of(f) for f in features]
    currency_code = check_currency(args.currency)
    company_name = (args.company or '').strip() or name.capitalize()

    from trytond import config
    state = database_state(name)
    if state and not args.exist_ok:
        raise CliError(
            f"tenant '{name}' already exists "
            "(use --exist-ok to upgrade it)")
    if state == 'tryton' and activated_modules(name) is None:
        raise CliError(f"database '{name}' exists but cannot be read")
    created = state != 'tryton'
    password = read_password(args, required=created)
    length = config.getint('password', 'length', default=0)
    if password and len(password.encode('utf-8')) < length:
        raise CliError(
            f"the admin password must have at least {length} characters")
    langs = sorted({args.lang, config.get('database', 'language') or 'en'})

    if state is None:
        create_database(name, args.lang)
    elif state == 'empty':
        init_database(name, args.lang)
    # A new tenant gets every table; an existing one updates its CRM
    # modules (and what depends on them): Tryton's own modules are
    # upgraded with `trytond-admin --all` after a package upgrade.
    update = modules if state == 'tryton' else ['ir', 'res'] + modules
    try:
        pool = load_pool(name, update=update, lang=langs, activatedeps=True)
        company_id = setup_tenant(pool, name, lang=args.lang,
            company_name=company_name, currency_code=currency_code,
            password=password, created=created)
        demo = None
        if args.demo:
            demo = load_demo_data(pool, name, company_id, args.lang)
    except BaseException:
        if state is None:
            # Nothing of the new tenant is worth keeping half-made.
            try:
                drop_database(name)
            except Exception:
                logging.getLogger(__name__).warning(
                    "could not drop %s", name, exc_info=True)
        raise
    active = feature_map.features_of_modules(activated_modules(name) or ())
    what = "created" if created else "upgraded"
    notes = {
        True: "; demo data loaded",
        False: "; demo data skipped: the tenant already has leads or deals",
        None: "",
        }
    print(f"tenant {name} {what}; features: {','.join(active)}"
        + notes[demo])


# -- tenant list / features --

def cmd_tenant_list(args):
    rows = []
    for name in list_databases():
        modules = activated_modules(name)
        if not modules or 'crm_portal' not in modules:
            continue
        rows.append((name, feature_map.features_of_modules(modules)))
    width = max((len(n) for n, _ in rows), default=0)
    for name, features in rows:
        print(f"{name:<{width}}  {','.join(features)}")


def cmd_tenant_features(args):
    name = check_name(args.name)
    modules = require_tenant(name)
    try:
        enable = feature_map.parse(args.enable or [])
        disable = feature_map.parse(args.disable or [], allow_all=False)
    except feature_map.FeatureError as exception:
        raise CliError(str(exception))
    if feature_map.CORE_FEATURE in disable:
        raise CliError(
            f"the {feature_map.CORE_FEATURE} feature cannot be disabled: "
            "every other feature builds on it")
    both = set(enable) & set(disable)
    if both:
        raise CliError(
            f"cannot both enable and disable: {', '.join(sorted(both))}")
    to_activate = [feature_map.module_of(f) for f in enable
        if feature_map.module_of(f) not in modules]
    to_remove = [feature_map.module_of(f) for f in disable
        if feature_map.module_of(f) in modules]
    if to_activate or to_remove:
        change_modules(name, to_activate, to_remove)
        modules = activated_modules(name) or set()
    print(f"{name}  {','.join(feature_map.features_of_modules(modules))}")


def change_modules(name, to_activate, to_remove):
    "Activate and deactivate modules the way the upgrade wizard does"
    from trytond.exceptions import UserError
    from trytond.transaction import Transaction
    pool = load_pool(name)
    with Transaction().start(name, 0) as transaction:
        Module = pool.get('ir.module')
        Module.update_list()
        if to_activate:
            Module.activate(Module.search([('name', 'in', to_activate)]))
        if to_remove:
            try:
                Module.deactivate(Module.search([('name', 'in', to_remove)]))
            except UserError as exception:
                detail = ' '.join((exception.description or '').split())
                raise CliError(f"{exception.message} {detail}".strip())
        update = [m.name for m in Module.search([
                    ('state', 'in', ['to upgrade', 'to remove',
                            'to activate'])])]
        Lang = pool.get('ir.lang')
        langs = [l.code for l in Lang.search([('translatable', '=', True)])]
        transaction.commit()
    if not update:
        return
    try:
        pool.init(update=update, lang=langs)
    except Exception as exception:
        # Tryton removes a module by deleting its records; records of the
        # tenant that still use them stop it. Leave every module as it was.
        cancel_module_changes(name)
        pool.init()
        message = getattr(exception, 'message', None) or str(exception)
        if 'msg_foreign_model_exist' in str(message):
            message = ("records of the tenant still refer to data of the "
                "module")
        features = ', '.join(feature_map.feature_of(m) or m
            for m in to_remove + to_activate)
        raise CliError(
            f"could not change {features} in tenant '{name}', nothing was "
            f"changed: {' '.join(str(message).split())}")
    if to_remove:
        forget_removed_records(name, to_remove)


def forget_removed_records(name, modules):
    """Drop the XML ids of the records Tryton deleted with modules.

    Tryton keeps them pointing at deleted records, so activating the
    module again would fail; without them it creates its records anew."""
    from sql import Table

    from trytond.transaction import Transaction
    ir_module = Table('ir_module')
    ir_model_data = Table('ir_model_data')
    with Transaction().start(name, 0) as transaction:
        cursor = transaction.connection.cursor()
        cursor.execute(*ir_model_data.delete(
                where=ir_model_data.module.in_(ir_module.select(
                        ir_module.name,
                        where=ir_module.name.in_(list(modules))
                        & (ir_module.state == 'not activated')))))


def cancel_module_changes(name):
    "Put modules waiting to be activated, upgraded or removed back"
    from sql import Table

    from trytond.transaction import Transaction
    ir_module = Table('ir_module')
    with Transaction().start(name, 0) as transaction:
        cursor = transaction.connection.cursor()
        for state, previous in [
                ('to activate', 'not activated'),
                ('to upgrade', 'activated'),
                ('to remove', 'activated'),
                ]:
            cursor.execute(*ir_module.update(
                    [ir_module.state], [previous],
                    where=ir_module.state == state))


# -- webhook --

def webhook_base_url(name, user_id, token):
    from trytond import config
    from trytond.config import parse_listen
    listen = config.get('web', 'listen') or 'localhost:8000'
    host, port = next(iter(parse_listen(listen)))
    if host in {'0.0.0.0', '::', ''}:
        host = 'localhost'
    if ':' in host:
        host = f'[{host}]'
    return f"http://{host}:{port}/{name}/rest/{user_id}/{token}/"


def parse_scopes(values):
    from .webhook import SCOPES
    valid = [s for s, _ in SCOPES]
    scopes = []
    for value in values or []:
        for scope in value.split(','):
            scope = scope.strip().lower()
            if not scope:
                continue
            if scope not in valid:
                raise CliError(
                    f"unknown scope '{scope}'; valid scopes: "
                    f"{', '.join(valid)}")
            if scope not in scopes:
                scopes.append(scope)
    return scopes or ['crm']


def cmd_webhook_create(args):
    from trytond.transaction import Transaction
    name = check_name(args.name)
    scopes = parse_scopes(args.scope)
    require_tenant(name)
    pool = load_pool(name)
    with Transaction().start(name, 0):
        User = pool.get('res.user')
        Token = pool.get('crm.webhook.token')
        users = User.search([('login', '=', args.user)], limit=1)
        if not users:
            raise CliError(
                f"unknown or inactive user '{args.user}' in tenant '{name}'")
        user, = users
        token = Token.create_token(
            user, args.label or f"{args.user} webhook", scopes)
        user_id = user.id
    print(webhook_base_url(name, user_id, token))


# -- entry point --

def build_parser():
    parser = argparse.ArgumentParser(
        prog='crm', description="Manage CRM tenants and webhook tokens.")
    parser.add_argument('-c', '--config', metavar='FILE',
        help="trytond configuration file "
        "(default: $TRYTOND_CONFIG, else ./trytond.conf)")
    parser.add_argument('-v', '--verbose', action='count', default=0,
        help="log more (repeat for debug)")
    commands = parser.add_subparsers(dest='command', metavar='COMMAND')
    commands.required = True

    tenant = commands.add_parser('tenant', help="create and list tenants, "
        "switch their features")
    tenant_commands = tenant.add_subparsers(dest='action', metavar='ACTION')
    tenant_commands.required = True

    valid = ','.join(list(feature_map.FEATURES) + [feature_map.ALL])
    create = tenant_commands.add_parser('create', help="create a tenant")
    create.add_argument('name', metavar='NAME')
    create.add_argument('--features', action='append', metavar='LIST',
        help=f"comma-separated features among {valid} (portal is always on)")
    create.add_argument('--demo', action='store_true',
        help="load demo data (admin password defaults to "
        f"'{DEMO_PASSWORD}')")
    create.add_argument('--admin-password-file', metavar='FILE',
        help=f"file whose first line is the admin password "
        f"(else ${PASSWORD_ENV})")
    create.add_argument('--exist-ok', action='store_true',
        help="if the tenant exists, update its CRM modules and activate "
        "the features instead of failing")
    create.add_argument('--lang', default='en',
        help=f"language of the tenant: {', '.join(LANGUAGES)}")
    create.add_argument('--company', metavar='NAME',
        help="name of the company (default: the tenant name)")
    create.add_argument('--currency', default='RUB', metavar='CODE',
        help="ISO code of the company currency (default: RUB)")
    create.set_defaults(func=cmd_tenant_create)

    list_ = tenant_commands.add_parser(
        'list', help="list tenants and their features")
    list_.set_defaults(func=cmd_tenant_list)

    features = tenant_commands.add_parser(
        'features', help="show, enable or disable features of a tenant")
    features.add_argument('name', metavar='NAME')
    features.add_argument('--enable', action='append', metavar='LIST',
        help=f"features to turn on, among {valid}")
    features.add_argument('--disable', action='append', metavar='LIST',
        help="features to turn off")
    features.set_defaults(func=cmd_tenant_features)

    webhook = commands.add_parser('webhook', help="REST webhook tokens")
    webhook_commands = webhook.add_subparsers(
        dest='action', metavar='ACTION')
    webhook_commands.required = True
    webhook_create = webhook_commands.add_parser(
        'create', help="create a token and print the webhook base URL")
    webhook_create.add_argument('name', metavar='NAME', help="tenant")
    webhook_create.add_argument('--user', required=True, metavar='LOGIN')
    webhook_create.add_argument('--scope', action='append', metavar='LIST',
        help="comma-separated scopes: crm, telephony, imopenlines, landing, "
        "user (default: crm)")
    webhook_create.add_argument('--label', metavar='TEXT',
        help="name of the token (default: '<login> webhook')")
    webhook_create.set_defaults(func=cmd_webhook_create)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        configure(args.config, args.verbose)
        args.func(args)
    except CliError as exception:
        sys.stderr.write(f"crm: error: {exception}\n")
        return ERROR
    except KeyboardInterrupt:
        sys.stderr.write("crm: interrupted\n")
        return ERROR
    except Exception as exception:
        from trytond.exceptions import UserError, UserWarning
        if args.verbose:
            logging.getLogger(__name__).exception("failed")
        if isinstance(exception, (UserError, UserWarning)):
            message = ' '.join(str(exception.message).split())
        else:
            message = ' '.join(
                f"{exception.__class__.__name__}: {exception}".split())
        sys.stderr.write(f"crm: error: {message}\n")
        return ERROR
    return 0


if __name__ == '__main__':
    sys.exit(main())
