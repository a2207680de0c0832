# `crm telephony ami TENANT`: the long-running Asterisk AMI connector.
import signal
import threading

from .cli_db import CliError, require_tenant


def add_parser(commands):
    telephony = commands.add_parser('telephony', help="telephony connectors")
    actions = telephony.add_subparsers(dest='action', metavar='ACTION')
    actions.required = True
    ami = actions.add_parser(
        'ami', help="follow the Asterisk AMI lines of a tenant")
    ami.add_argument('name', metavar='NAME', help="tenant")
    ami.add_argument('--line', type=int, action='append', metavar='ID',
        help="only this line id (repeatable)")
    ami.add_argument('--max-backoff', type=float, default=30,
        metavar='SECONDS', help="longest wait between reconnections")
    ami.set_defaults(func=cmd_telephony_ami)


def cmd_telephony_ami(args):
    try:
        from trytond.modules.crm_telephony.ami import run
    except ImportError:
        raise CliError("feature 'telephony' needs the module crm_telephony "
            "(install the package trytond-crm-telephony)")
    require_tenant(args.name)
    stop = threading.Event()
    # A service manager stops the connector with SIGTERM.
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    if run(args.name, args.line, stop, args.max_backoff):
        raise CliError(f"tenant {args.name}: telephony is not enabled "
            "or it has no AMI line")
