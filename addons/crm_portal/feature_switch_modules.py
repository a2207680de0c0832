# Turning the module of a feature on and off in a tenant: one
# implementation for the `crm` command and the CRM Features screen.
"""Tryton deactivates a module by deleting every record its XML files
created (ir.model.data) and keeps its tables. That removes what must
disappear with the feature: menus, views, actions, crons, access rules,
buttons, messages. It would also delete the records the module created as
*data* (a source, a line, a group and its members) and, through on-delete
cascades, the users' records that point at them.

So, before deactivation, the XML ids of data records are set aside: their
module becomes KEPT_PREFIX + module, and Tryton deletes only the records
of TECHNICAL_MODELS. Activation puts them back before the module loads:
Tryton finds its records again instead of creating them twice, and records
declared noupdate keep the users' changes. Users' own records stay in the
module's tables all along; purge (feature_switch_purge.py) is the only way
to destroy them.
"""
import contextlib
import logging
import threading

from sql import Table
from sql.functions import CurrentTimestamp

import trytond.modules as tryton_modules
from trytond.transaction import Transaction

logger = logging.getLogger(__name__)

KEPT_PREFIX = 'feature_off:'
# What a feature shows and runs: deleted on deactivation, created again
# from the XML files on activation.
TECHNICAL_MODELS = {
    'ir.ui.menu', 'ir.ui.menu-res.group', 'ir.ui.view', 'ir.ui.icon',
    'ir.action', 'ir.action.act_window', 'ir.action.act_window.view',
    'ir.action.act_window.domain', 'ir.action.wizard', 'ir.action.report',
    'ir.action.url', 'ir.action.keyword', 'ir.action-res.group',
    'ir.model.access', 'ir.model.field.access', 'ir.rule.group',
    'ir.rule', 'ir.rule.group-res.group', 'ir.model.button',
    'ir.model.button.rule', 'ir.model.button-res.group', 'ir.cron',
    'ir.message', 'ir.trigger', 'ir.model', 'ir.model.field',
    }


# Tryton loads the XML files of a module it is about to remove (and would
# create anew the data records set aside): the modules being removed by
# this thread are not loaded again.
_removing = threading.local()
if not getattr(tryton_modules.is_module_to_install, 'crm_wrapped', False):
    _is_module_to_install = tryton_modules.is_module_to_install

    def is_module_to_install(module, update):
        if module in getattr(_removing, 'modules', ()):
            return False
        return _is_module_to_install(module, update)
    is_module_to_install.crm_wrapped = True
    tryton_modules.is_module_to_install = is_module_to_install


# The placeholders holding the XML ids of switched-off features (see
# _set_aside) have no tryton.cfg: ir.module.update_list reads none for them.
import trytond.ir.module as ir_module_py  # noqa: E402
if not getattr(ir_module_py.get_module_info, 'crm_wrapped', False):
    _get_module_info = ir_module_py.get_module_info

    def get_module_info(name, *args, **kwargs):
        if name.startswith(KEPT_PREFIX):
            return {}
        return _get_module_info(name, *args, **kwargs)
    get_module_info.crm_wrapped = True
    ir_module_py.get_module_info = get_module_info


@contextlib.contextmanager
def _not_loading(modules):
    _removing.modules = frozenset(modules)
    try:
        yield
    finally:
        _removing.modules = frozenset()


class SwitchError(Exception):
    "The modules could not be changed; nothing was changed"


@contextlib.contextmanager
def _transaction(name):
    "A transaction on database name as root, inside a request or not"
    current = Transaction()
    if current.connection:
        with current.new_transaction() as transaction, \
                transaction.set_user(0), transaction.reset_context():
            yield transaction
    else:
        with current.start(name, 0) as transaction:
            yield transaction


def activated_modules(name):
    ir_module = Table('ir_module')
    with _transaction(name) as transaction:
        cursor = transaction.connection.cursor()
        cursor.execute(*ir_module.select(ir_module.name,
                where=ir_module.state == 'activated'))
        return {m for m, in cursor}


def switch_modules(name, pool, to_activate, to_remove):
    """Activate and deactivate modules of database name as Tryton's
    upgrade wizard does, keeping the data of the deactivated ones.

    pool is the database's pool (loaded). Raise SwitchError when Tryton
    refuses; the modules are then left as they were."""
    from trytond.exceptions import UserError
    to_activate, to_remove = list(to_activate), list(to_remove)
    with _transaction(name) as transaction:
        Module = pool.get('ir.module')
        Lang = pool.get('ir.lang')
        Module.update_list()
        try:
            if to_activate:
                Module.activate(Module.search([('name', 'in', to_activate)]))
            if to_remove:
                Module.deactivate(Module.search([('name', 'in', to_remove)]))
        except UserError as exception:
            transaction.rollback()
            detail = ' '.join((exception.description or '').split())
            raise SwitchError(f"{exception.message} {detail}".strip())
        update = [m.name for m in Module.search([
                    ('state', 'in', ['to upgrade', 'to remove',
                            'to activate'])])]
        langs = [l.code for l in Lang.search([('translatable', '=', True)])]
        removed = [m.name for m in Module.search([
                    ('state', '=', 'to remove')])]
        activated = [m.name for m in Module.search([
                    ('state', '=', 'to activate')])]
        cursor = transaction.connection.cursor()
        _set_aside(cursor, removed)
        _bring_back(cursor, activated)
        transaction.commit()
    if not update:
        return
    try:
        with _not_loading(removed):
            pool.init(update=update, lang=langs)
    except Exception as exception:
        # Records of the tenant that still use a record of the module stop
        # Tryton from deleting it. Leave every module as it was.
        logger.info("module change refused", exc_info=True)
        cancel_module_changes(name, removed, activated)
        pool.init()
        message = getattr(exception, 'message', None) or str(exception)
        if 'msg_foreign_model_exist' in str(message):
            message = ("records of the tenant still refer to data of the "
                "module")
        raise SwitchError(' '.join(str(message).split()))
    if removed:
        forget_removed_records(name, removed)
        # Tryton loads the graph with the removed modules still in it and
        # does not reload it (its restart flag is lost): reload here.
        pool.init()
    # Tryton notifies the other processes before it marks the removed
    # modules deactivated: they would keep them. Notify once done.
    notify_processes(name)


def notify_processes(name):
    "Make the other processes reload the pool of database name"
    from trytond.cache import Cache
    with _transaction(name) as transaction:
        Cache.refresh_pool(transaction)


def _set_aside(cursor, modules):
    "Hide the XML ids of the data records of modules from their removal"
    if not modules:
        return
    ir_model_data = Table('ir_model_data')
    ir_module = Table('ir_module')
    for module in modules:
        # ir_model_data.module refers to ir_module (PostgreSQL): the ids
        # set aside belong to a placeholder that is never activated.
        cursor.execute(*ir_module.select(ir_module.id,
                where=ir_module.name == KEPT_PREFIX + module))
        if not cursor.fetchone():
            cursor.execute(*ir_module.insert(
                    [ir_module.create_uid, ir_module.create_date,
                        ir_module.name, ir_module.state],
                    [[0, CurrentTimestamp(), KEPT_PREFIX + module,
                            'not activated']]))
        cursor.execute(*ir_model_data.update(
                [ir_model_data.module], [KEPT_PREFIX + module],
                where=(ir_model_data.module == module)
                & ~ir_model_data.model.in_(sorted(TECHNICAL_MODELS))
                & (ir_model_data.db_id != None)))  # noqa: E711


def _bring_back(cursor, modules):
    "Give the XML ids set aside back to modules about to be activated"
    if not modules:
        return
    ir_model_data = Table('ir_model_data')
    for module in modules:
        # A record created again while the ids were aside wins: drop the
        # old id rather than break the unique key (fs_id, module).
        current = ir_model_data.select(ir_model_data.fs_id,
            where=ir_model_data.module == module)
        cursor.execute(*ir_model_data.delete(
                where=(ir_model_data.module == KEPT_PREFIX + module)
                & ir_model_data.fs_id.in_(current)))
        cursor.execute(*ir_model_data.update(
                [ir_model_data.module], [module],
                where=ir_model_data.module == KEPT_PREFIX + module))


def forget_removed_records(name, modules):
    """Drop the XML ids of the records Tryton deleted with modules.

    Tryton keeps them pointing at deleted records, so activating the
    module again would fail; without them it creates its records anew."""
    ir_module = Table('ir_module')
    ir_model_data = Table('ir_model_data')
    with _transaction(name) as transaction:
        cursor = transaction.connection.cursor()
        cursor.execute(*ir_model_data.delete(
                where=ir_model_data.module.in_(ir_module.select(
                        ir_module.name,
                        where=ir_module.name.in_(list(modules))
                        & (ir_module.state == 'not activated')))))
        transaction.commit()


def cancel_module_changes(name, removed=(), activated=()):
    "Put modules waiting to be activated, upgraded or removed back"
    ir_module = Table('ir_module')
    with _transaction(name) as transaction:
        cursor = transaction.connection.cursor()
        for state, previous in [
                ('to activate', 'not activated'),
                ('to upgrade', 'activated'),
                ('to remove', 'activated'),
                ]:
            cursor.execute(*ir_module.update(
                    [ir_module.state], [previous],
                    where=ir_module.state == state))
        # The ids set aside go back where they were.
        _bring_back(cursor, removed)
        _set_aside(cursor, activated)
        transaction.commit()
