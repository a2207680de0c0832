# Exchange started from our side, on a schedule, with a 1C database that
# publishes a web service: SOAP (WSDL per company, zeep) or plain HTTP (a
# URL answering the CommerceML package, a URL receiving the orders).
#
# The cron only pulls the package into the filestore, in one transaction per
# company, and hands it to the import queue task of the exchange 1C starts
# (task.py: one batch per transaction, committed with its position). When
# the import has ended, done or failed, the orders are pushed and the
# session closed (File.run_import below); a pull that fails stops the run
# (the orders wait for the next one).
import base64
import datetime
import io
import logging
import time
from urllib.parse import urljoin, urlsplit

from trytond.config import config
from trytond.i18n import gettext
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction

from . import storage, task
from .documents_out import query
from .importer import extract
from .protocol import max_file
from .session import SESSION_LIFETIME
from .xmlsafe import UnsafeInput

logger = logging.getLogger(__name__)
# seconds to connect; a read may wait as long as the whole pull (1C may
# take minutes to build a catalog before it sends a byte)
CONNECT_TIMEOUT = 10
WSDL_TIMEOUT = 60
MAX_REDIRECTS = 5
ZIP_MAGIC = b'PK\x03\x04'
# 1C names the files of a package import*.xml, offers*.xml, prices*.xml,
# rests*.xml: goods first, then what refers to them
FILE_ORDER = ['import', 'offers', 'prices', 'rests']


class Refused(Exception):
    "The service answered something that is not imported; args[0]: reason"


def pull_timeout():
    return config.getint('crm_1c', 'pull_timeout', default=1800)


def _http(profile):
    import requests
    http = requests.Session()
    if profile.service_user:
        http.auth = (profile.service_user, profile.service_password or '')
    return http


def _client(profile):
    import zeep
    from zeep.transports import Transport
    settings = zeep.Settings(strict=False, xml_huge_tree=False,
        forbid_dtd=True, forbid_entities=True, forbid_external=True)
    return zeep.Client(profile.wsdl,
        transport=Transport(session=_http(profile), timeout=WSDL_TIMEOUT,
            operation_timeout=pull_timeout()),
        settings=settings)


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


def _too_large(limit):
    return Refused(gettext('crm_1c_exchange.msg_file_too_large',
            limit=limit))


class _Body:
    "The body of a streamed answer, decoded, read within the pull's time"

    def __init__(self, response, deadline):
        self.raw, self.deadline = response.raw, deadline

    def read(self, size):
        if time.monotonic() > self.deadline:
            raise Refused(gettext('crm_1c_exchange.msg_pull_timeout',
                    seconds=pull_timeout()))
        return self.raw.read(size, decode_content=True)


def _request(http, method, url, **kwargs):
    """Send the request, following redirects by hand: never to another
    scheme, and the credentials only to the configured host"""
    scheme, host = urlsplit(url)[:2]
    for _ in range(MAX_REDIRECTS + 1):
        response = http.request(method, url,
            timeout=(CONNECT_TIMEOUT, pull_timeout()),
            allow_redirects=False, **kwargs)
        if not response.is_redirect:
            return response
        target = urljoin(url, response.headers['Location'])
        response.close()
        if urlsplit(target).scheme != scheme:
            raise Refused(gettext('crm_1c_exchange.msg_http_redirect',
                    url=url, location=target[:200]))
        if urlsplit(target).netloc != host:
            http.auth = None
        url = target
    raise Refused(gettext('crm_1c_exchange.msg_http_redirects', url=url))


def _status(response, url):
    if not 200 <= response.status_code < 300:
        raise Refused(gettext('crm_1c_exchange.msg_http_status', url=url,
                status=response.status_code,
                reason=(response.reason or '')[:100]))


def fetch_http(profile, file_id, limit):
    "GET the package into the filestore; return its size"
    url = profile.catalog_url
    deadline = time.monotonic() + pull_timeout()
    with _request(_http(profile), 'GET', url, stream=True) as response:
        _status(response, url)
        length = response.headers.get('Content-Length')
        if length and length.isdigit() and int(length) > limit:
            raise _too_large(limit)
        size = storage.copy_from(file_id, _Body(response, deadline), limit)
    if size is None:
        raise _too_large(limit)
    return size


def fetch_soap(profile, file_id, limit):
    "Call the catalog operation; store its answer; return its size"
    client = _client(profile)
    # a SOAP answer is parsed whole by zeep: checked once received
    data = _payload(getattr(client.service, profile.operation_catalog)())
    if len(data) > limit:
        raise _too_large(limit)
    return storage.copy_from(file_id, io.BytesIO(data), limit)


def kind_of(file_id):
    "'zip' or 'xml' from the first bytes of the stored package"
    with storage.open_file(file_id) as fp:
        head = fp.read(512)
    if head.startswith(ZIP_MAGIC):
        return 'zip'
    text = head.lstrip(b'\xef\xbb\xbf \t\r\n').lower()
    if text.startswith(b'<') and not text.startswith(
            (b'<!doctype html', b'<html')):
        return 'xml'
    return None


def _order(file):
    name = file.name.rsplit('/', 1)[-1].lower()
    rank = next((i for i, p in enumerate(FILE_ORDER) if name.startswith(p)),
        len(FILE_ORDER))
    return rank, file.name


def pending(session):
    "The XML files of session still to import, in 1C's order"
    File = Pool().get('crm.exchange_1c.file')
    files = File.search([('session', '=', session.id),
            ('state', '=', 'received')])
    return sorted((f for f in files if f.name.lower().endswith('.xml')),
        key=_order)


def start(session, file):
    """Start the import task of file; False when file is refused (it and
    the session are failed with the reason)"""
    if task.check(file) is not None:
        return False
    session.log('import %s' % file.name)
    # no time budget: the task imports the whole file, batch by batch
    task.enqueue(file, None)
    return True


def importing(session):
    "Whether an import task of session waits for a worker or runs"
    return any(task.task_running(f) for f in session.files
        if f.state == 'importing')


def stopped(sessions):
    """Fail the open sessions whose import task died (a worker killed, a
    task given up after its retries): their files are not imported and
    the responsible is told; the next run pulls the package again and
    what the dead task committed is skipped as unchanged."""
    pool = Pool()
    File = pool.get('crm.exchange_1c.file')
    Session = pool.get('crm.exchange_1c.session')
    reason = gettext('crm_1c_exchange.msg_import_stopped')
    for session in sessions:
        files = [f for f in session.files
            if f.state in {'received', 'importing'}]
        if files:
            File.write(files, {'state': 'failed', 'error': reason})
        session.note('failed', reason, files[0] if files else None)
        Session.fail([session], reason)


def send_orders(profile, document):
    if profile.scheduled == 'soap':
        getattr(_client(profile).service, profile.operation_orders)(
            document.decode(profile.encoding))
    elif profile.orders_url:
        url = profile.orders_url
        with _request(_http(profile), 'POST', url, data=document, headers={
                    'Content-Type': 'application/xml; charset=%s'
                    % profile.encoding}) as response:
            _status(response, url)


def finish(session):
    "Push the orders and close session (it stays failed when it failed)"
    pool = Pool()
    Export = pool.get('crm.exchange_1c.export')
    Profile = pool.get('crm.exchange_1c.profile')
    Session = pool.get('crm.exchange_1c.session')
    session = Session(session.id)
    with Transaction().set_context(company=session.company.id):
        profile = Profile.get(session.company)
        if profile.scheduled == 'http' and not profile.orders_url:
            count = 0
        else:
            try:
                document, count = query(session, profile)
                if count:
                    send_orders(profile, document)
            except Exception as exception:
                logger.warning("pushing orders to 1C failed", exc_info=True)
                reason = gettext('crm_1c_exchange.msg_push_failed',
                    error=_error(exception))
                session.note('failed', reason)
                Session.fail([session], reason)
                return
            Export.confirm(session)
        session.log('orders: %d' % count)
        if Session(session.id).state == 'open':
            Session.write([session], {'state': 'done'})


def _error(exception):
    if isinstance(exception, Refused):
        return str(exception.args[0])
    return str(exception)[:300]


class Profile(metaclass=PoolMeta):
    __name__ = 'crm.exchange_1c.profile'

    @classmethod
    def run_scheduled(cls):
        "The cron: one transaction per company, one failing stops no other"
        profiles = cls.search([('scheduled', '!=', None)])
        for profile_id in [p.id for p in profiles]:
            try:
                with Transaction().new_transaction() as transaction:
                    profile = cls(profile_id)
                    with transaction.set_context(
                            company=profile.company.id):
                        profile.exchange_scheduled()
                    transaction.commit()
            except Exception:
                logger.exception("scheduled 1C exchange of profile %s "
                    "failed", profile_id)

    def exchange_scheduled(self):
        """Pull the package into the filestore and start its import; the
        orders are pushed when it has ended"""
        pool = Pool()
        Session = pool.get('crm.exchange_1c.session')
        File = pool.get('crm.exchange_1c.file')
        previous = Session.search([('company', '=', self.company.id),
                ('direction', '=', 'out'), ('state', '=', 'open'),
                ('create_date', '>',
                    datetime.datetime.now() - SESSION_LIFETIME)])
        if any(map(importing, previous)):
            # the import of the previous run goes on
            return
        stopped(previous)
        session, _ = Session.open(Transaction().user or None,
            self.company.id, 'catalog')
        Session.write([session], {'direction': 'out', 'token_hash': None})
        limit = max_file()
        file_id = storage.new_id()
        file = None
        try:
            if self.scheduled == 'soap':
                session.log('soap %s %s' % (self.wsdl,
                        self.operation_catalog))
                size = fetch_soap(self, file_id, limit)
            else:
                session.log('http GET %s' % self.catalog_url)
                size = fetch_http(self, file_id, limit)
            if not size:
                storage.delete(file_id)
                return finish(session)
            kind = kind_of(file_id)
            file, = File.create([{'session': session.id,
                        'name': 'package.zip' if kind == 'zip'
                        else 'import.xml',
                        'data_id': file_id, 'size': size,
                        'state': 'received'}])
            if kind is None:
                raise Refused(gettext('crm_1c_exchange.msg_package_content'))
            if kind == 'zip':
                try:
                    extract(session, file)
                except UnsafeInput as exception:
                    raise Refused(gettext(
                            'crm_1c_exchange.' + exception.args[0]))
        except Exception as exception:
            if not isinstance(exception, Refused):
                logger.warning("scheduled 1C exchange failed",
                    exc_info=True)
            reason = (str(exception.args[0])
                if isinstance(exception, Refused)
                else gettext('crm_1c_exchange.msg_soap_failed',
                    error=_error(exception)))
            if file is not None:
                File.write([file], {'state': 'failed', 'error': reason})
            else:
                # an answer cut short leaves no file behind
                storage.delete(file_id)
            session.note('failed', reason, file)
            Session.fail([session], reason)
            # no package, nothing imported: the orders wait for the next
            # run rather than go to a service that answers wrong
            return
        files = pending(session)
        if files:
            # refused, it fails the session as a failed pull does: the
            # orders wait for the next run
            start(session, files[0])
        else:
            finish(session)


class File(metaclass=PoolMeta):
    __name__ = 'crm.exchange_1c.file'

    @classmethod
    def run_import(cls, files, token, budget=None):
        super().run_import(files, token, budget)
        for file in files:
            with Transaction().new_transaction() as transaction:
                after_import(file.id, token)
                transaction.commit()


def after_import(file_id, token):
    """Continue a scheduled session once the task of one of its files has
    ended: the next file, or the orders and the end of the session"""
    File = Pool().get('crm.exchange_1c.file')
    files = File.search([('id', '=', file_id)])
    if not files or files[0].task_token != token:
        return
    file, = files
    session = file.session
    if session.direction != 'out' or file.state not in {'done', 'failed'}:
        return
    if file.state == 'done':
        files = pending(session)
        if files:
            with Transaction().set_context(company=session.company.id):
                if start(session, files[0]):
                    return
    finish(session)
