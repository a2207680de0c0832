# The CRM Features screen: the features of the tenant, what each adds and
# buttons to switch them, for administrators (same code as the CLI).
from sql import Literal, Select, Union
from sql.functions import CurrentTimestamp

from trytond.exceptions import UserError
from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.transaction import Transaction

from . import features as feature_map
from .feature_switch_modules import KEPT_PREFIX, SwitchError, switch_modules

STATES = [
    ('activated', "Activated"),
    ('available', "Available"),
    ('not_installed', "Not Installed"),
    ]


class Feature(ModelSQL, ModelView):
    "CRM Feature"
    __name__ = 'crm.feature'

    code = fields.Char("Code", readonly=True)
    name = fields.Function(fields.Char("Feature"), 'get_text')
    description = fields.Function(fields.Text("What It Adds"), 'get_text')
    module = fields.Function(fields.Char("Module"), 'get_module')
    state = fields.Function(fields.Selection(STATES, "State"), 'get_state')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('id', 'ASC')]
        # The name is translated text computed in Python, not searchable.
        cls._rec_name = 'code'
        cls._buttons.update({
                'activate': {
                    'invisible': Eval('state') != 'available',
                    'depends': ['state'],
                    },
                'deactivate': {
                    'invisible': ((Eval('state') != 'activated')
                        | (Eval('code') == feature_map.CORE_FEATURE)),
                    'depends': ['state', 'code'],
                    },
                })

    @classmethod
    def table_query(cls):
        # One row per known feature, in FEATURES order; the rest is read
        # from ir.module and the installed packages.
        return Union(*(_row(i, code)
                for i, code in enumerate(feature_map.FEATURES, 1)),
            all_=True)

    def get_rec_name(self, name):
        return self.name

    def get_text(self, name):
        suffix = '_description' if name == 'description' else ''
        return gettext(f'crm_portal.msg_feature_{self.code}{suffix}')

    def get_module(self, name):
        return feature_map.FEATURES.get(self.code)

    @classmethod
    def get_state(cls, features, name):
        Module = Pool().get('ir.module')
        modules = {m.name: m.state for m in Module.search([
                    ('name', 'in', list(feature_map.FEATURES.values())),
                    ])}
        installed = feature_map.installed_modules()
        states = {}
        for feature in features:
            module = feature_map.FEATURES[feature.code]
            if modules.get(module) == 'activated':
                states[feature.id] = 'activated'
            elif module in installed:
                states[feature.id] = 'available'
            else:
                states[feature.id] = 'not_installed'
        return states

    @classmethod
    @ModelView.button
    def activate(cls, features):
        for feature in features:
            if feature.state == 'not_installed':
                raise UserError(gettext(
                        'crm_portal.msg_feature_not_installed',
                        feature=feature.name,
                        package=feature_map.package_of(feature.code)))
        cls._switch(
            [f.module for f in features if f.state == 'available'], [])
        return 'reload menu'

    @classmethod
    @ModelView.button
    def deactivate(cls, features):
        for feature in features:
            if feature.code == feature_map.CORE_FEATURE:
                raise UserError(gettext('crm_portal.msg_feature_core',
                        feature=feature.name))
        cls._switch(
            [], [f.module for f in features if f.state == 'activated'])
        return 'reload menu'

    @classmethod
    def _switch(cls, to_activate, to_remove):
        if not (to_activate or to_remove):
            return
        transaction = Transaction()
        try:
            switch_modules(
                transaction.database.name, Pool(), to_activate, to_remove)
        except SwitchError as exception:
            raise UserError(gettext('crm_portal.msg_feature_switch_refused',
                    error=str(exception)))


def _row(id_, code):
    return Select([
            Literal(id_).as_('id'),
            Literal(0).as_('create_uid'),
            CurrentTimestamp().as_('create_date'),
            Literal(0).as_('write_uid'),
            CurrentTimestamp().as_('write_date'),
            Literal(code).as_('code'),
            ])


class Module(metaclass=PoolMeta):
    __name__ = 'ir.module'

    @classmethod
    def delete(cls, modules):
        # update_list deletes the modules it does not find on disk; the
        # placeholders holding the XML ids of switched-off features
        # (feature_switch_modules) stay, or their ids would cascade away.
        super().delete(
            [m for m in modules if not m.name.startswith(KEPT_PREFIX)])
