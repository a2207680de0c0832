# `crm webhook create`: a REST token and the webhook base URL.
from .cli_db import CliError, check_name, load_pool, require_tenant


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
