# `crm tenant create` and `crm tenant list`.
import logging
import os

from . import features as feature_map
from .cli_db import (
    CliError, activated_modules, check_name, create_database,
    database_state, drop_database, init_database, list_databases,
    load_pool)

LANGUAGES = ['en', 'ru']
DEMO_PASSWORD = 'crm-demo'
PASSWORD_ENV = 'TRYTOND_ADMIN_PASSWORD'


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
