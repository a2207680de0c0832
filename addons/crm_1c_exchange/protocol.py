# The CommerceML 2 "exchange with a site" dialog (DESIGN.md §8): 1C calls
# checkauth, init, file, import, query, success (complete/deactivate in
# 3.x) and reads plain-text lines. Every request runs in its own
# transaction; what a session knows lives in the database.
import time

from trytond.config import config
from trytond.exceptions import RateLimitException
from trytond.i18n import gettext
from trytond.pool import Pool
from trytond.protocols.wrappers import Response
from trytond.transaction import Transaction

from trytond.modules.crm_portal.public import client_address, run, take_rate

from . import storage, task
from .importer import extract
from .xmlsafe import UnsafeInput, safe_name

COOKIE = 'crm_1c_session'
MODES = {'checkauth', 'init', 'file', 'import', 'query', 'success',
    'complete', 'deactivate'}
TYPES = {'catalog', 'sale'}


def lines(*values, status=200, headers=None):
    return Response('\n'.join(values) + '\n', status,
        content_type='text/plain; charset=utf-8', headers=headers)


def failure(reason, status=200, headers=None):
    return lines('failure', reason, status=status, headers=headers)


def max_part():
    return config.getint('crm_1c', 'max_part', default=64 * 1024 * 1024)


def max_file():
    return config.getint('crm_1c', 'max_file',
        default=2 * 1024 * 1024 * 1024)


def _rate(request):
    return take_rate('crm_1c:' + client_address(request),
        config.getfloat('crm_1c', 'rate', default=20),
        config.getint('crm_1c', 'burst', default=500))


def _limited():
    return failure(gettext('crm_1c_exchange.msg_rate_limit'), 429), True


def exchange(request, pool):
    db = pool.database_name
    mode = request.args.get('mode', '')
    exchange_type = request.args.get('type', '')
    context = {'_request': request.context}
    if mode not in MODES or exchange_type not in TYPES:
        def unknown():
            if not _rate(request):
                return _limited()
            return failure(gettext('crm_1c_exchange.msg_mode_unknown',
                    mode=mode[:50], type=exchange_type[:50]), 400), True
        return run(db, 0, False, context, unknown)
    if mode == 'checkauth':
        return run(db, 0, False, context,
            lambda: checkauth(request, exchange_type))
    token = request.cookies.get(COOKIE) or request.args.get('sessid')
    found = {}

    def lookup():
        if not _rate(request):
            return _limited()
        Session = Pool().get('crm.exchange_1c.session')
        session = Session.find(token)
        if session is None or session.user is None:
            return failure(gettext('crm_1c_exchange.msg_session_missing'),
                401), True
        session.log('%s %s %s' % (exchange_type, mode,
                request.args.get('filename', '')))
        found.update(session=session.id, user=session.user.id,
            company=session.company.id)
        return None, True
    response = run(db, 0, False, context, lookup)
    if response is not None:
        return response
    context = {'company': found['company'], '_request': request.context}
    handler = HANDLERS[mode]
    return handler(request, db, found['user'], context, found['session'],
        exchange_type, token)


def checkauth(request, exchange_type):
    pool = Pool()
    User = pool.get('res.user')
    Session = pool.get('crm.exchange_1c.session')
    ModelData = pool.get('ir.model.data')
    if not _rate(request):
        return _limited()
    auth = request.authorization
    challenge = {'WWW-Authenticate': 'Basic realm="1C exchange"'}
    if not auth or auth.type != 'basic' or not auth.username:
        return failure(gettext('crm_1c_exchange.msg_auth_missing'), 401,
            challenge), True
    try:
        user_id = User.get_login(auth.username,
            {'password': auth.password or ''})
    except RateLimitException:
        return failure(gettext('crm_1c_exchange.msg_auth_locked'),
            429), True
    if not user_id:
        return failure(gettext('crm_1c_exchange.msg_auth_invalid'), 401,
            challenge), True
    user = User(user_id)
    allowed = {ModelData.get_id('crm_1c_exchange', 'group_exchange_1c'),
        ModelData.get_id('res', 'group_admin')}
    if not allowed & {g.id for g in user.groups} or not user.company:
        return failure(gettext('crm_1c_exchange.msg_auth_forbidden'),
            403), True
    session, token = Session.open(user.id, user.company.id, exchange_type,
        request.args.get('version'))
    session.log('%s checkauth %s' % (exchange_type, auth.username))
    response = lines('success', COOKIE, token, 'sessid=' + token,
        'timestamp=%d' % int(time.time()))
    return response, True


def _profile():
    Profile = Pool().get('crm.exchange_1c.profile')
    return Profile.get(Transaction().context['company'])


def init(request, db, user, context, session_id, exchange_type, token):
    def work():
        profile = _profile()
        answer = ['zip=%s' % ('yes' if profile.use_zip else 'no'),
            'file_limit=%d' % min(profile.file_limit, max_part())]
        version = request.args.get('version')
        if version:
            answer += ['sessid=' + token, 'version=' + version[:10]]
        return lines(*answer), True
    return run(db, user, True, context, work)


def upload(request, db, user, context, session_id, exchange_type, token):
    name = safe_name(request.args.get('filename', ''))
    if name is None:
        return run(db, user, True, context, lambda: (failure(gettext(
                        'crm_1c_exchange.msg_file_name')), False))
    length = request.content_length
    if length is not None and length > max_part():
        return run(db, user, True, context, lambda: (failure(gettext(
                        'crm_1c_exchange.msg_file_too_large',
                        limit=max_part()), 413), False))

    def work():
        pool = Pool()
        File = pool.get('crm.exchange_1c.file')
        files = File.search([('session', '=', session_id),
                ('name', '=', name), ('archive', '=', None),
                ('state', '=', 'receiving')], limit=1)
        if files:
            file, = files
        else:
            file, = File.create([{'session': session_id, 'name': name,
                        'data_id': storage.new_id()}])
        size = storage.append(file.data_id, file.size or 0, request.stream,
            max_file())
        if size is None:
            File.write([file], {'state': 'failed', 'error': gettext(
                        'crm_1c_exchange.msg_file_too_large',
                        limit=max_file())})
            return failure(file.error, 413), True
        File.write([file], {'size': size})
        return lines('success'), True
    response = run(db, user, False, context, work)
    if exchange_type == 'sale' and response.status_code == 200:
        # 1C does not always call import for the orders it sends back:
        # process them once the upload parses completely.
        result = _import_sale_upload(db, user, context, session_id, name)
        if result is not None:
            return result
    return response


def _import_sale_upload(db, user, context, session_id, name):
    from lxml import etree
    from .xmlsafe import check_prolog

    def complete():
        File = Pool().get('crm.exchange_1c.file')
        file, = File.search([('session', '=', session_id),
                ('name', '=', name), ('state', '=', 'receiving')],
            limit=1, order=[('id', 'DESC')])
        with storage.open_file(file.data_id) as fp:
            if name.lower().endswith('.zip'):
                import zipfile
                return zipfile.is_zipfile(fp), False
            try:
                check_prolog(fp)
                for _ in etree.iterparse(fp, resolve_entities=False,
                        no_network=True, huge_tree=False, load_dtd=False):
                    pass
            except (etree.XMLSyntaxError, UnsafeInput):
                return False, False
        return True, False
    if not run(db, user, True, context, complete):
        return None
    names = run(db, user, False, context, lambda: _extract_all(session_id))
    if isinstance(names, Response):
        return names
    targets = ([n for n in names if n.lower().endswith('.xml')]
        if name.lower().endswith('.zip') else [name])
    for target in targets:
        # the whole file (no time budget): documents are few
        response = run(db, user, False, context,
            lambda: _start_import(session_id, target, None))
        if response is None:
            # without a worker the task has run: answer its outcome
            response = run(db, user, True, context,
                lambda: _import_state(session_id, target))
        if response is not None and not response.get_data().startswith(
                b'progress'):
            return response
    return None


def _extract_all(session_id):
    "Extract the zip files of the session; return entry names or failure"
    pool = Pool()
    File = pool.get('crm.exchange_1c.file')
    Session = pool.get('crm.exchange_1c.session')
    session = Session(session_id)
    names = []
    for file in File.search([('session', '=', session_id),
                ('archive', '=', None),
                ('state', 'in', ['receiving', 'received'])]):
        with storage.open_file(file.data_id) as fp:
            is_zip = fp.read(4) == b'PK\x03\x04'
        if not is_zip:
            File.write([file], {'state': 'received'})
            continue
        try:
            extract(session, file)
        except UnsafeInput as exception:
            reason = gettext('crm_1c_exchange.' + exception.args[0])
            File.write([file], {'state': 'failed', 'error': reason})
            session.note('failed', reason, file)
            Session.fail([session], reason)
            return failure(reason), True
        names += [f.name for f in File.search([('archive', '=', file.id)])]
    return names, True


def _latest(session_id, filename):
    File = Pool().get('crm.exchange_1c.file')
    files = File.search([('session', '=', session_id),
            ('name', '=', filename), ('state', '!=', 'receiving')],
        order=[('id', 'DESC')], limit=1)
    return files[0] if files else None


def _answer(file, filename):
    "The answer of a file done, failed or missing; None while importing"
    if file is None:
        return failure(gettext('crm_1c_exchange.msg_file_missing',
                filename=filename))
    if file.state == 'done':
        return lines('success')
    if file.state == 'failed':
        return failure(file.error or '')
    return None


def _import_state(session_id, filename):
    file = _latest(session_id, filename)
    return _answer(file, filename) or lines('progress'), False


def _start_import(session_id, filename, budget):
    """Start the queue task of filename unless it runs; answer progress
    (None when a task was started: the caller decides what it answers)"""
    file = _latest(session_id, filename)
    answer = _answer(file, filename)
    if answer is not None:
        return answer, False
    if task.task_running(file):
        return lines('progress'), False
    reason = task.check(file)
    if reason is not None:
        return failure(reason), True
    task.enqueue(file, budget)
    return None, True


# Polling the task's state while 1C waits for an answer (with a worker)
POLL = 0.5
MAX_WAIT = 20


def do_import(request, db, user, context, session_id, exchange_type, token):
    filename = safe_name(request.args.get('filename', ''))
    if filename is None:
        return run(db, user, True, context, lambda: (failure(gettext(
                        'crm_1c_exchange.msg_file_name')), False))
    names = run(db, user, False, context, lambda: _extract_all(session_id))
    if isinstance(names, Response):
        return names
    # not read-only: the settings are created with defaults when missing
    budget = run(db, user, False, context,
        lambda: (_profile().time_budget, True))
    started = time.monotonic()
    response = run(db, user, False, context,
        lambda: _start_import(session_id, filename, budget))
    # Without a worker the task has run in this request (for the budget);
    # with one, wait for it a while rather than have 1C call again at once.
    while True:
        if response is None or response.get_data().startswith(b'progress'):
            response = run(db, user, True, context,
                lambda: _import_state(session_id, filename))
        if not response.get_data().startswith(b'progress'):
            return response
        if (not task.has_worker()
                or time.monotonic() - started + POLL > min(budget, MAX_WAIT)):
            return response
        time.sleep(POLL)


def query(request, db, user, context, session_id, exchange_type, token):
    from .documents_out import query as build

    def work():
        Session = Pool().get('crm.exchange_1c.session')
        session = Session(session_id)
        profile = _profile()
        data, count = build(session, profile)
        session.log('query: %d' % count)
        return Response(data, 200, content_type=(
                'application/xml; charset=%s' % profile.encoding)), True
    return run(db, user, False, context, work)


def success(request, db, user, context, session_id, exchange_type, token):
    def work():
        pool = Pool()
        Export = pool.get('crm.exchange_1c.export')
        Session = pool.get('crm.exchange_1c.session')
        count = Export.confirm(Session(session_id))
        Session(session_id).log('success: %d' % count)
        return lines('success'), True
    return run(db, user, False, context, work)


def complete(request, db, user, context, session_id, exchange_type, token):
    def work():
        Session = Pool().get('crm.exchange_1c.session')
        session = Session(session_id)
        if session.state == 'open':
            Session.write([session], {'state': 'done'})
        return lines('success'), True
    return run(db, user, False, context, work)


HANDLERS = {
    'init': init,
    'file': upload,
    'import': do_import,
    'query': query,
    'success': success,
    'complete': complete,
    # Protocol 3.x: full packages already deactivate what they lack.
    'deactivate': complete,
    }
