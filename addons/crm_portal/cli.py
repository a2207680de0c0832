# The `crm` console script: tenants, their features and webhook tokens.
"""Manage CRM tenants (one database each) for integrators.

  crm tenant create NAME [--features portal,telephony|all] [--demo] ...
  crm tenant list
  crm tenant features NAME [--enable X] [--disable Y] [--describe]
  crm tenant purge-feature NAME FEATURE [--yes]
  crm webhook create NAME --user LOGIN [--scope crm,telephony]
  crm telephony ami NAME [--line ID]

Errors are one line on stderr and exit status 2.
"""
import argparse
import logging
import sys

from . import cli_telephony
from . import features as feature_map
# The helpers stay importable from here (tests and scripts use them).
from .cli_db import (
    ERROR, CliError, activated_modules, backend_name, check_name,
    configure, create_database, database_state, drop_database,
    init_database, list_databases, load_pool, require_tenant,
    translatable_languages)
from .cli_features import (
    change_modules, cmd_tenant_features, cmd_tenant_purge_feature)
from .cli_tenant import (
    DEMO_PASSWORD, LANGUAGES, PASSWORD_ENV, admin_party, check_currency,
    cmd_tenant_create, cmd_tenant_list, get_currency, load_demo_data,
    read_password, setup_tenant)
from .cli_webhook import (
    cmd_webhook_create, parse_scopes, webhook_base_url)
from .feature_switch_modules import (
    cancel_module_changes, forget_removed_records)

__all__ = [
    'ERROR',
    'CliError',
    'activated_modules',
    'backend_name',
    'check_name',
    'configure',
    'create_database',
    'database_state',
    'drop_database',
    'init_database',
    'list_databases',
    'load_pool',
    'require_tenant',
    'translatable_languages',
    'change_modules',
    'cmd_tenant_features',
    'cmd_tenant_purge_feature',
    'DEMO_PASSWORD',
    'LANGUAGES',
    'PASSWORD_ENV',
    'admin_party',
    'check_currency',
    'cmd_tenant_create',
    'cmd_tenant_list',
    'get_currency',
    'load_demo_data',
    'read_password',
    'setup_tenant',
    'cmd_webhook_create',
    'parse_scopes',
    'webhook_base_url',
    'cancel_module_changes',
    'forget_removed_records',
    'build_parser',
    'main',
    ]


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
        help="features to turn off (their data is kept)")
    features.add_argument('--describe', action='store_true',
        help="list every feature with its state and what it adds")
    features.set_defaults(func=cmd_tenant_features)

    purge = tenant_commands.add_parser('purge-feature',
        help="delete the data of a switched-off feature for good")
    purge.add_argument('name', metavar='NAME')
    purge.add_argument('feature', metavar='FEATURE',
        help=f"one of {', '.join(list(feature_map.FEATURES)[1:])}")
    purge.add_argument('--yes', action='store_true',
        help="do not ask for confirmation")
    purge.set_defaults(func=cmd_tenant_purge_feature)

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

    cli_telephony.add_parser(commands)
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
