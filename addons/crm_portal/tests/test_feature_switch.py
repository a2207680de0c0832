"The CRM Features screen and the module switch behind it"
from sql import Table

from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError
from trytond.modules.crm_portal import features as feature_map
from trytond.modules.crm_portal.feature_switch_modules import (
    KEPT_PREFIX, switch_modules)
from trytond.modules.crm_portal.tests.tools import CrmTestCase
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction, check_access


def _crm_user(login, group_xml_id):
    pool = Pool()
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')
    group = ModelData.get_id('crm_portal', group_xml_id)
    user, = User.create([{
                'name': login, 'login': login,
                'groups': [('add', [group])],
                }])
    return user


class FeatureScreenTestCase(CrmTestCase):
    "The features screen lists the five features for administrators"

    @with_transaction()
    def test_lists_five_features_with_state_and_description(self):
        Feature = Pool().get('crm.feature')
        installed = feature_map.installed_modules()
        features = Feature.search([])
        self.assertEqual(
            [f.code for f in features], list(feature_map.FEATURES))
        for feature in features:
            self.assertTrue(feature.name)
            self.assertTrue(len(feature.description) > 20)
            module = feature_map.FEATURES[feature.code]
            self.assertEqual(feature.module, module)
            if feature.code == 'portal':
                self.assertEqual(feature.state, 'activated')
            elif module in installed:
                self.assertEqual(feature.state, 'available')
            else:
                self.assertEqual(feature.state, 'not_installed')

    @with_transaction()
    def test_portal_cannot_be_deactivated(self):
        Feature = Pool().get('crm.feature')
        portal, = Feature.search([('code', '=', 'portal')])
        with self.assertRaises(UserError):
            Feature.deactivate([portal])

    @with_transaction()
    def test_not_installed_feature_cannot_be_activated(self):
        Feature = Pool().get('crm.feature')
        missing = [f for f in Feature.search([])
            if f.state == 'not_installed']
        if not missing:
            self.skipTest("every feature module is installed here")
        with self.assertRaises(UserError) as context:
            Feature.activate(missing[:1])
        self.assertIn(
            feature_map.package_of(missing[0].code), context.exception.message)

    @with_transaction()
    def test_crm_user_cannot_see_features(self):
        Feature = Pool().get('crm.feature')
        user = _crm_user('plain', 'group_crm')
        with Transaction().set_user(user.id), check_access():
            with self.assertRaises(AccessError):
                Feature.search([])

    @with_transaction()
    def test_crm_admin_sees_features_and_buttons(self):
        pool = Pool()
        Feature = pool.get('crm.feature')
        Button = pool.get('ir.model.button')
        user = _crm_user('boss', 'group_crm_admin')
        with Transaction().set_user(user.id), check_access():
            self.assertEqual(len(Feature.search([])), len(feature_map.FEATURES))
            rules = Button.get_groups('crm.feature', 'activate')
        self.assertIn(
            pool.get('ir.model.data').get_id('crm_portal', 'group_crm_admin'),
            rules)


class ModuleSwitchTestCase(CrmTestCase):
    """The switch run from inside a request, as the screen's buttons do,
    on a module outside the CRM (inbound_email): off keeps the users'
    records and data records, on brings them back."""

    @with_transaction()
    def test_off_keeps_data_and_on_brings_it_back(self):
        pool = Pool()
        transaction = Transaction()
        name = transaction.database.name
        ir_model_data = Table('ir_model_data')
        ir_ui_menu = Table('ir_ui_menu')

        switch_modules(name, pool, ['inbound_email'], [])
        Inbox = pool.get('inbound.email.inbox')
        ModelData = pool.get('ir.model.data')
        with transaction.new_transaction() as other:
            inbox, = Inbox.create([{'name': "Sales inbox"}])
            inbox_id = inbox.id
            # A data record of the module that a user edited (as a module
            # XML file would create it).
            data, = ModelData.create([{
                        'fs_id': 'inbox_support', 'module': 'inbound_email',
                        'model': 'inbound.email.inbox',
                        'db_id': Inbox.create([{'name': "Support"}])[0].id,
                        'noupdate': True,
                        }])
            other.commit()

        def menus():
            with transaction.new_transaction() as other:
                cursor = other.connection.cursor()
                cursor.execute(*ir_ui_menu.join(ir_model_data,
                        condition=(ir_model_data.db_id == ir_ui_menu.id)
                        & (ir_model_data.model == 'ir.ui.menu')).select(
                        ir_ui_menu.id,
                        where=ir_model_data.module == 'inbound_email'))
                return cursor.fetchall()

        def xml_ids(module):
            with transaction.new_transaction() as other:
                cursor = other.connection.cursor()
                cursor.execute(*ir_model_data.select(ir_model_data.fs_id,
                        where=ir_model_data.module == module))
                return {f for f, in cursor}

        self.assertTrue(menus())

        switch_modules(name, pool, [], ['inbound_email'])
        with self.assertRaises(KeyError):
            pool.get('inbound.email.inbox')
        self.assertEqual(menus(), [])
        self.assertEqual(xml_ids(KEPT_PREFIX + 'inbound_email'),
            {'inbox_support'})
        with transaction.new_transaction() as other:
            cursor = other.connection.cursor()
            cursor.execute('SELECT id, name FROM inbound_email_inbox '
                'ORDER BY id')
            rows = cursor.fetchall()
        self.assertEqual([n for _, n in rows], ["Sales inbox", "Support"])

        switch_modules(name, pool, ['inbound_email'], [])
        Inbox = pool.get('inbound.email.inbox')
        self.assertTrue(menus())
        # The ids set aside went back to the module (where Tryton drops
        # this one: its XML files do not declare it).
        self.assertEqual(xml_ids(KEPT_PREFIX + 'inbound_email'), set())
        with transaction.new_transaction():
            self.assertEqual(Inbox(inbox_id).name, "Sales inbox")
