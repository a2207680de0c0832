"Set-up shared by the 1C exchange tests"
import io
import os

from trytond.pool import Pool
from trytond.transaction import Transaction

from trytond.modules.crm_1c_exchange import storage
from trytond.modules.crm_1c_exchange.importer import step

DATA = os.path.join(os.path.dirname(__file__), 'data')


def data(name):
    with open(os.path.join(DATA, name), 'rb') as fp:
        return fp.read()


def new_session(company, exchange_type='catalog'):
    pool = Pool()
    Session = pool.get('crm.exchange_1c.session')
    User = pool.get('res.user')
    admin, = User.search([('login', '=', 'admin')])
    session, _ = Session.open(admin.id, company.id, exchange_type)
    return session


def upload(session, name, content):
    "Store content as an uploaded file of session"
    File = Pool().get('crm.exchange_1c.file')
    if isinstance(content, str):
        content = data(content)
    file_id = storage.new_id()
    storage.copy_from(file_id, io.BytesIO(content), len(content) + 1)
    file, = File.create([{'session': session.id, 'name': name,
                'data_id': file_id, 'size': len(content),
                'state': 'received'}])
    return file


def run_file(session, file, profile=None):
    "Step through file as 1C's import requests do; return the answers"
    pool = Pool()
    File = pool.get('crm.exchange_1c.file')
    Profile = pool.get('crm.exchange_1c.profile')
    Session = pool.get('crm.exchange_1c.session')
    profile = profile or Profile.get(session.company)
    answers = []
    while True:
        answer = step(Session(session.id), profile, File(file.id))
        answers.append(answer)
        if answer != 'progress':
            return answers
        assert len(answers) < 10000


def counts(session):
    "The counters of session as stored (they are updated in SQL)"
    Session = Pool().get('crm.exchange_1c.session')
    table = Session.__table__()
    names = ['created', 'updated', 'skipped', 'failed']
    cursor = Transaction().connection.cursor()
    cursor.execute(*table.select(*[getattr(table, n) for n in names],
            where=table.id == session.id))
    return dict(zip(names, cursor.fetchone()))
