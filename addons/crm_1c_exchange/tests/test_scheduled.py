"The scheduled exchange started from our side, with a SOAP peer"
from lxml import etree

from trytond.modules.company.tests import create_company, set_company
from trytond.modules.crm_portal.tests.tools import CrmTestCase
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction

from .soap_peer import Peer
from .tools import counts, data


class ScheduledTestCase(CrmTestCase):
    modules = ['crm_1c_exchange']

    @with_transaction()
    def test_soap_pull_catalog_push_orders(self):
        pool = Pool()
        Profile = pool.get('crm.exchange_1c.profile')
        Session = pool.get('crm.exchange_1c.session')
        Template = pool.get('product.template')
        Notification = pool.get('res.notification')
        User = pool.get('res.user')
        company = create_company()
        admin, = User.search([('login', '=', 'admin')])
        catalog = data('import_205.xml').decode('utf-8')
        with set_company(company), Peer(catalog) as peer:
            profile = Profile.get(company)
            profile.scheduled = 'soap'
            profile.wsdl = peer.wsdl
            profile.service_user = 'ws'
            profile.service_password = 'ws-pass'
            profile.responsible = admin
            profile.save()
            Profile.run_scheduled()
            session, = Session.search([('company', '=', company.id)])
            self.assertEqual(session.state, 'done')
            self.assertEqual(session.direction, 'out')
            self.assertEqual(counts(session)['created'], 3)  # group + 2
            self.assertEqual(len(Template.search([
                            ('exchange_1c_id', 'like', 'g205%')])), 2)
            # no order changed: nothing pushed
            self.assertEqual(peer.received, [])

            profile.service_password = 'wrong'
            profile.save()
            Profile.run_scheduled()
            failed, = Session.search([('company', '=', company.id),
                    ('state', '=', 'failed')])
            self.assertTrue(peer.unauthorised)
            self.assertTrue(Notification.search([('user', '=', admin.id),
                        ('records', '=', str(failed.id))]))

    @with_transaction()
    def test_soap_push_orders(self):
        "Orders changed since the last exchange are sent to the service"
        pool = Pool()
        Profile = pool.get('crm.exchange_1c.profile')
        Sale = pool.get('sale.sale')
        Party = pool.get('party.party')
        company = create_company()
        with set_company(company), Peer('') as peer:
            party, = Party.create([{'name': "Client",
                        'addresses': [('create', [{}])]}])
            sale, = Sale.create([{'party': party.id,
                        'invoice_address': party.addresses[0].id,
                        'shipment_address': party.addresses[0].id,
                        'description': "Заказ с сайта"}])
            Sale.quote([sale])
            profile = Profile.get(company)
            profile.scheduled = 'soap'
            profile.wsdl = peer.wsdl
            profile.service_user = 'ws'
            profile.service_password = 'ws-pass'
            profile.save()
            Profile.run_scheduled()
            document, = peer.received
            root = etree.fromstring(document.encode('utf-8'))
            self.assertEqual(root.findtext('Документ/Ид'),
                'CRM-S-%s' % sale.id)
            Profile.run_scheduled()
            self.assertEqual(len(peer.received), 1)  # confirmed: not again
