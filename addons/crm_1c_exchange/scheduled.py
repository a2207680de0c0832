# Exchange started from our side, on a schedule, with a 1C database that
# publishes a SOAP web service (WSDL configured per company): the catalog
# changes it returns are imported like an uploaded package, the orders
# document is sent to it.
import base64
import logging
import tempfile

from trytond.i18n import gettext
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction

from . import storage
from .documents_out import query
from .importer import ImportFailure, Reader, step

logger = logging.getLogger(__name__)


def _client(profile):
    import zeep
    from zeep.transports import Transport
    import requests
    http = requests.Session()
    if profile.service_user:
        http.auth = (profile.service_user, profile.service_password or '')
    settings = zeep.Settings(strict=False, xml_huge_tree=False,
        forbid_dtd=True, forbid_entities=True, forbid_external=True)
    return zeep.Client(profile.wsdl,
        transport=Transport(session=http, timeout=60), settings=settings)


def _payload(value):
    "The CommerceML bytes of a SOAP answer (text or base64Binary)"
    if value is None:
        return b''
    if isinstance(value, bytes):
        return value
    text = str(value).strip()
    if text.startswith('<?xml'):
        # decoded by the SOAP layer: its declared encoding no longer holds
        text = text[text.index('?>') + 2:].lstrip()
    if text.startswith('<'):
        return b'<?xml version="1.0" encoding="UTF-8"?>\n' + text.encode(
            'utf-8')
    return base64.b64decode(text)


class Profile(metaclass=PoolMeta):
    __name__ = 'crm.exchange_1c.profile'

    @classmethod
    def run_scheduled(cls):
        for profile in cls.search([('scheduled', '=', 'soap')]):
            with Transaction().set_context(company=profile.company.id):
                profile.exchange_soap()

    def exchange_soap(self):
        "Pull the catalog changes, then push the orders"
        pool = Pool()
        Session = pool.get('crm.exchange_1c.session')
        File = pool.get('crm.exchange_1c.file')
        Export = pool.get('crm.exchange_1c.export')
        session, _ = Session.open(Transaction().user or None,
            self.company.id, 'catalog')
        Session.write([session], {'direction': 'out', 'token_hash': None})
        try:
            client = _client(self)
            session.log('soap %s %s' % (self.wsdl, self.operation_catalog))
            data = _payload(getattr(client.service,
                    self.operation_catalog)())
            if data:
                file_id = storage.new_id()
                with tempfile.SpooledTemporaryFile() as tmp:
                    tmp.write(data)
                    tmp.seek(0)
                    size = storage.copy_from(file_id, tmp, len(data))
                file, = File.create([{'session': session.id,
                            'name': 'soap-catalog.xml', 'data_id': file_id,
                            'size': size, 'state': 'received'}])
                reader = Reader()
                try:
                    while step(session, self, File(file.id), reader) \
                            == 'progress':
                        # a fresh record each time: step writes its position
                        pass
                finally:
                    reader.close()
            document, count = query(session, self)
            session.log('soap %s: %d' % (self.operation_orders, count))
            if count:
                getattr(client.service, self.operation_orders)(
                    document.decode(self.encoding))
            Export.confirm(session)
            Session.write([session], {'state': 'done'})
        except ImportFailure as exception:
            Session.fail([session], str(exception.args[0]))
        except Exception as exception:
            logger.warning("scheduled 1C exchange failed", exc_info=True)
            reason = gettext('crm_1c_exchange.msg_soap_failed',
                error=str(exception)[:300])
            session.note('failed', reason)
            Session.fail([session], reason)
