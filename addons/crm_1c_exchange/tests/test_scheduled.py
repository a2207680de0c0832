"""The scheduled exchange started from our side, with a SOAP or an HTTP
peer on loopback. The cron pulls in its own transaction and the import runs
as the queue task, batch by batch, in transactions of its own: the tests
commit (each uses its own company and Ид prefix; the database is dropped
with the class)."""
import datetime
import io
import os
import zipfile
from contextlib import contextmanager
from unittest.mock import patch

from lxml import etree

from trytond import config
from trytond.modules.company.tests import create_company, set_company
from trytond.modules.crm_portal.tests.tools import CrmTestCase
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from trytond.modules.crm_1c_exchange import storage
from trytond.modules.crm_1c_exchange import task as task_module

from .http_peer import Peer as HttpPeer
from .soap_peer import Peer
from .tools import counts, data


def goods_package(prefix, count, cut=False):
    """A changes-only import.xml of count goods; cut: the transfer stops in
    what follows the catalog (the classifier, read first, is whole)"""
    goods = ''.join(f'<Товар><Ид>{prefix}-{i}</Ид><Наименование>Товар {i}'
        '</Наименование><БазоваяЕдиница Код="796">шт</БазоваяЕдиница>'
        '</Товар>' for i in range(count))
    end = ('<ПакетПредложений><Ид>' if cut
        else '</КоммерческаяИнформация>')
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
        '<КоммерческаяИнформация ВерсияСхемы="2.08"><Каталог '
        'СодержитТолькоИзменения="true"><Ид>cat</Ид><Товары>'
        f'{goods}</Товары></Каталог>{end}').encode('utf-8')


def zipped(files):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w', zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def templates(prefix):
    Template = Pool().get('product.template')
    return Template.search([('exchange_1c_id', 'like', prefix + '-%')])


def run_cron():
    """The cron's run, then the queue tasks it started, as trytond runs
    them without a worker: each after a commit, in a transaction of its own
    (committed here first: on PostgreSQL a task sees only committed data)"""
    pool = Pool()
    Profile = pool.get('crm.exchange_1c.profile')
    Queue = pool.get('ir.queue')
    transaction = Transaction()
    Profile.run_scheduled()
    while transaction.tasks:
        transaction.commit()
        tasks = Queue.search([('id', '=', transaction.tasks.pop(0))])
        if tasks:
            tasks[0].run()
    transaction.commit()


@contextmanager
def scheduled(company, **values):
    "The settings of company with values, committed; unscheduled at exit"
    Profile = Pool().get('crm.exchange_1c.profile')
    profile = Profile.get(company)
    for name, value in values.items():
        setattr(profile, name, value)
    profile.save()
    Transaction().commit()
    try:
        yield profile
    finally:
        Profile.write([Profile(profile.id)], {'scheduled': None})
        Transaction().commit()


@contextmanager
def max_file(limit):
    if not config.has_section('crm_1c'):
        config.add_section('crm_1c')
    old = config.get('crm_1c', 'max_file')
    config.set('crm_1c', 'max_file', str(limit))
    try:
        yield
    finally:
        if old is None:
            config._config.remove_option('crm_1c', 'max_file')
            config._cache_clear()
        else:
            config.set('crm_1c', 'max_file', old)


def stored():
    "The files in the filestore of the database"
    # a file id is split in folders: the first one is the database's
    root = storage.path('ab-cd').split(os.sep + 'ab' + os.sep)[0]
    return sorted(os.path.join(r, f) for r, _, fs in os.walk(root)
        for f in fs)


def sessions(company):
    Session = Pool().get('crm.exchange_1c.session')
    return Session.search([('company', '=', company.id)],
        order=[('id', 'ASC')])


def reasons(session):
    Message = Pool().get('crm.exchange_1c.message')
    return [m.text for m in Message.search([('session', '=', session.id),
                ('level', '=', 'failed')])]


def quoted_sale(company, description):
    pool = Pool()
    Sale = pool.get('sale.sale')
    Party = pool.get('party.party')
    party, = Party.create([{'name': "Client",
                'addresses': [('create', [{}])]}])
    sale, = Sale.create([{'company': company.id, 'party': party.id,
                'invoice_address': party.addresses[0].id,
                'shipment_address': party.addresses[0].id,
                'description': description}])
    Sale.quote([sale])
    return sale


class ScheduledTestCase(CrmTestCase):
    modules = ['crm_1c_exchange']

    @with_transaction()
    def test_soap_pull_catalog_push_orders(self):
        "SOAP: the catalog is imported by the queue task, then orders go"
        pool = Pool()
        Template = pool.get('product.template')
        Notification = pool.get('res.notification')
        User = pool.get('res.user')
        company = create_company()
        admin, = User.search([('login', '=', 'admin')])
        catalog = data('import_205.xml').decode('utf-8')
        with set_company(company), Peer(catalog) as peer, scheduled(
                company, scheduled='soap', wsdl=peer.wsdl,
                service_user='ws', service_password='ws-pass',
                responsible=admin) as profile:
            run_cron()
            session, = sessions(company)
            self.assertEqual(session.state, 'done')
            self.assertEqual(session.direction, 'out')
            self.assertEqual(counts(session)['created'], 3)  # group + 2
            self.assertEqual(len(Template.search([
                            ('exchange_1c_id', 'like', 'g205%')])), 2)
            file, = session.files
            self.assertEqual((file.state, file.phase), ('done', 'done'))
            self.assertTrue(file.task)  # imported by the queue task
            # no order changed: nothing pushed
            self.assertEqual(peer.received, [])

            profile.service_password = 'wrong'
            profile.save()
            Transaction().commit()
            run_cron()
            failed, = [s for s in sessions(company) if s.state == 'failed']
            self.assertTrue(peer.unauthorised)
            reason, = reasons(failed)
            self.assertIn('401', reason)
            self.assertTrue(Notification.search([('user', '=', admin.id),
                        ('records', '=', str(failed.id))]))

    @with_transaction()
    def test_soap_push_orders(self):
        "Orders changed since the last exchange are sent to the service"
        company = create_company()
        with set_company(company), Peer('') as peer:
            sale = quoted_sale(company, "Заказ с сайта")
            with scheduled(company, scheduled='soap', wsdl=peer.wsdl,
                    service_user='ws', service_password='ws-pass'):
                run_cron()
                document, = peer.received
                root = etree.fromstring(document.encode('utf-8'))
                self.assertEqual(root.findtext('Документ/Ид'),
                    'CRM-S-%s' % sale.id)
                self.assertEqual(sessions(company)[-1].state, 'done')
                run_cron()
                self.assertEqual(len(peer.received), 1)  # confirmed

    @with_transaction()
    def test_http_zip_batches_and_orders(self):
        "HTTP: a zip package imported a batch per transaction, orders sent"
        company = create_company()
        package = zipped({'import.xml': goods_package('hz', 3),
                'import_files/readme.txt': b'no image'})
        with set_company(company), HttpPeer(package) as peer:
            sale = quoted_sale(company, "Заказ по HTTP")
            peer.content_type = 'application/zip'
            with scheduled(company, scheduled='http',
                    catalog_url=peer.catalog_url, orders_url=peer.orders_url,
                    service_user='ws', service_password='ws-pass',
                    batch_size=1):
                run_cron()
                session, = sessions(company)
                self.assertEqual(session.state, 'done', reasons(session))
                self.assertEqual(len(templates('hz')), 3)
                self.assertEqual(counts(session)['created'], 3)
                files = {f.name: f for f in session.files}
                self.assertEqual(files['package.zip'].state, 'done')
                self.assertEqual(files['import.xml'].state, 'done')
                self.assertEqual(files['import.xml'].position, 3)
                content_type, document = peer.received[0]
                self.assertEqual(content_type,
                    'application/xml; charset=utf-8')
                root = etree.fromstring(document)
                self.assertEqual(root.findtext('Документ/Ид'),
                    'CRM-S-%s' % sale.id)
                self.assertEqual(peer.unauthorised, 0)

                # the same package again: nothing changes, nothing is sent
                run_cron()
                again = sessions(company)[-1]
                self.assertEqual(again.state, 'done')
                self.assertEqual(counts(again)['created'], 0)
                self.assertEqual(len(peer.received), 1)

    @with_transaction()
    def test_dead_import_task_fails_its_session(self):
        "An import task that died: its session fails, the next run imports"
        pool = Pool()
        Profile = pool.get('crm.exchange_1c.profile')
        Queue = pool.get('ir.queue')
        Notification = pool.get('res.notification')
        User = pool.get('res.user')
        admin, = User.search([('login', '=', 'admin')])
        company = create_company()
        transaction = Transaction()
        with set_company(company), HttpPeer(
                goods_package('hdead', 2)) as peer, scheduled(company,
                scheduled='http', catalog_url=peer.catalog_url,
                service_user='ws', service_password='ws-pass',
                responsible=admin):
            Profile.run_scheduled()
            # a worker took the task long ago and died with it (committed
            # first: on PostgreSQL the task is seen by a new snapshot)
            transaction.commit()
            task, = Queue.browse(transaction.tasks)
            transaction.tasks.clear()
            Queue.write([task], {'dequeued_at':
                    datetime.datetime.now() - datetime.timedelta(hours=1)})
            transaction.commit()
            session, = sessions(company)
            self.assertEqual(session.state, 'open')

            run_cron()
            dead, again = sessions(company)
            self.assertEqual(dead.state, 'failed')
            reason, = reasons(dead)
            self.assertIn('stopped', reason)
            self.assertEqual({f.state for f in dead.files}, {'failed'})
            self.assertTrue(Notification.search([('user', '=', admin.id),
                        ('records', '=', str(dead.id))]))
            # not blocked until the session expires
            self.assertEqual(again.state, 'done', reasons(again))
            self.assertEqual(len(templates('hdead')), 2)

            # a task still waiting for a worker is not taken for dead
            with patch.object(task_module, 'has_worker', lambda: True):
                Profile.run_scheduled()
                transaction.tasks.clear()
                transaction.commit()
                run_cron()
            waiting = sessions(company)[-1]
            self.assertEqual(len(sessions(company)), 3)
            self.assertEqual(waiting.state, 'open')

    @with_transaction()
    def test_http_failing_batch_keeps_committed(self):
        "A batch failing after committed ones: they stay, the session fails"
        pool = Pool()
        File = pool.get('crm.exchange_1c.file')
        Notification = pool.get('res.notification')
        User = pool.get('res.user')
        admin, = User.search([('login', '=', 'admin')])
        company = create_company()
        with set_company(company), HttpPeer(
                goods_package('hcut', 3, cut=True)) as peer, scheduled(
                company, scheduled='http', catalog_url=peer.catalog_url,
                service_user='ws', service_password='ws-pass',
                batch_size=1, responsible=admin):
            run_cron()
            session, = sessions(company)
            self.assertEqual(session.state, 'failed')
            self.assertEqual(len(templates('hcut')), 3)
            file, = File.search([('session', '=', session.id)])
            self.assertEqual((file.state, file.position), ('failed', 3))
            reason, = reasons(session)
            self.assertIn('cannot be read', reason)
            self.assertTrue(Notification.search([('user', '=', admin.id),
                        ('records', '=', str(session.id))]))

    @with_transaction()
    def test_http_bad_answers(self):
        "500, not XML, too large, a redirect to https: failed, nothing kept"
        pool = Pool()
        Profile = pool.get('crm.exchange_1c.profile')
        File = pool.get('crm.exchange_1c.file')
        good_company = create_company("Other Company")
        company = create_company()
        with set_company(good_company), HttpPeer(
                goods_package('hgood', 1)) as good, scheduled(good_company,
                scheduled='http', catalog_url=good.catalog_url,
                service_user='ws', service_password='ws-pass') as other, \
                set_company(company), HttpPeer() as peer, scheduled(company,
                scheduled='http', catalog_url=peer.catalog_url,
                orders_url=peer.orders_url, service_user='ws',
                service_password='ws-pass'):
            quoted_sale(company, "Не отправляется")
            Transaction().commit()
            peer.status, peer.catalog = 500, b'Internal error'
            run_cron()
            # one company failing stops no other
            self.assertEqual(sessions(good_company)[-1].state, 'done')
            self.assertEqual(len(templates('hgood')), 1)
            Profile.write([other], {'scheduled': None})
            session = sessions(company)[-1]
            self.assertEqual(session.state, 'failed')
            reason, = reasons(session)
            self.assertIn('HTTP 500', reason)
            self.assertEqual(File.search([('session', '=', session.id)]), [])

            peer.status, peer.content_type = 200, 'text/html'
            peer.catalog = b'<!DOCTYPE html><html>Login</html>'
            run_cron()
            session = sessions(company)[-1]
            self.assertEqual(session.state, 'failed')
            reason, = reasons(session)
            self.assertIn('neither', reason)
            # the answer is kept in the log for whoever looks into it
            file, = File.search([('session', '=', session.id)])
            self.assertEqual(file.state, 'failed')

            peer.content_type = 'application/xml'
            peer.catalog = goods_package('hbig', 200)
            before = stored()
            for length in [True, False]:
                peer.length = length
                with max_file(2000):
                    run_cron()
                session = sessions(company)[-1]
                self.assertEqual(session.state, 'failed')
                reason, = reasons(session)
                self.assertIn('larger than 2000', reason)
                self.assertEqual(
                    File.search([('session', '=', session.id)]), [])
            self.assertEqual(templates('hbig'), [])
            self.assertEqual(stored(), before)

            peer.redirect = 'https://127.0.0.1:1/catalog'
            run_cron()
            session = sessions(company)[-1]
            reason, = reasons(session)
            self.assertIn('another scheme', reason)
            # no catalog received: the orders wait for the next run
            self.assertEqual(peer.received, [])

            peer.redirect = None
            peer.catalog = goods_package('hok', 1)
            peer.orders_status = 500
            run_cron()
            session = sessions(company)[-1]
            self.assertEqual(session.state, 'failed')
            self.assertEqual(len(templates('hok')), 1)
            reason, = reasons(session)
            self.assertIn('orders could not be sent', reason)
            self.assertIn('HTTP 500', reason)
            self.assertEqual(len(peer.received), 1)
