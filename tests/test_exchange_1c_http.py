"""The 1C exchange dialog against a running trytond, as 1C performs it.

checkauth → init → multi-part zip upload → import answering progress until
success → query → success, with CommerceML files of the schema versions
1C writes (addons/crm_1c_exchange/tests/data), plus hostile input. The
tenant is made with the `crm` command; a small trytond script reads and
prepares records where 1C's side cannot.
"""
import base64
import io
import json
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest
from lxml import etree
from tenant_server import (
    create_tenant, drop_tenant, serve, tenant_env, tenant_name)

DATA = (Path(__file__).resolve().parent.parent
    / 'addons' / 'crm_1c_exchange' / 'tests' / 'data')
PASSWORD = 'exchange-1c-test'


def tryton(env, name, code):
    "Run code in a transaction of tenant name; return what it prints (JSON)"
    script = textwrap.dedent('''\
        import json, sys
        from trytond import config
        config.update_etc()
        from trytond.pool import Pool
        from trytond.transaction import Transaction
        name = sys.argv[1]
        with Transaction().start(name, 0, readonly=True):
            Pool(name).init()
        with Transaction().start(name, 0) as transaction:
            pool = Pool(name)
            User = pool.get('res.user')
            admin, = User.search([('login', '=', 'admin')])
            with transaction.set_context(company=admin.company.id,
                    user=admin.id):
                result = None
        ''') + textwrap.indent(textwrap.dedent(code), ' ' * 8) + (
        '    transaction.commit()\n'
        'print(json.dumps(result, default=str))\n')
    done = subprocess.run([sys.executable, '-c', script, name], env=env,
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('crm_1c_http')
    config = """
        [crm_1c]
        batch_size = 1
        time_budget = 0
        rate = 1000
        burst = 1000

        [session]
        max_attempt = 2
        """
    with tenant_env(tmp, config, password=PASSWORD) as (env, port):
        name = tenant_name('exch1c')
        try:
            create_tenant(env, name, '--features', 'all')
            tryton(env, name, '''
                ModelData = pool.get('ir.model.data')
                group = ModelData.get_id('crm_1c_exchange',
                    'group_exchange_1c')
                for login in ['exchange', 'lockme']:
                    User.create([{'name': login, 'login': login,
                        'password': 'Exchange-pass-1',
                        'company': admin.company.id,
                        'companies': [('add', [admin.company.id])],
                        'groups': [('add', [group])]}])
                User.create([{'name': 'clerk', 'login': 'clerk',
                    'password': 'Exchange-pass-1',
                    'company': admin.company.id,
                    'companies': [('add', [admin.company.id])]}])
                Profile = pool.get('crm.exchange_1c.profile')
                profile = Profile.get(admin.company)
                profile.responsible = admin
                profile.save()
                ''')
            with serve(env, port, name) as base:
                yield {'env': env, 'name': name,
                    'url': f'{base}/{name}/crm_1c/exchange', 'base': base}
        finally:
            drop_tenant(env, name)


class Client1C:
    "What 1C's 'exchange with a site' does over HTTP"

    def __init__(self, url, login='exchange', password='Exchange-pass-1'):
        self.url, self.login, self.password = url, login, password
        self.cookie = None

    def call(self, data=None, auth=False, **params):
        query = '&'.join(f'{k}={v}' for k, v in params.items())
        request = urllib.request.Request(f'{self.url}?{query}', data=data,
            method='POST' if data is not None else 'GET')
        if auth:
            token = base64.b64encode(
                f'{self.login}:{self.password}'.encode()).decode()
            request.add_header('Authorization', 'Basic ' + token)
        if self.cookie:
            request.add_header('Cookie', self.cookie)
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def lines(self, **params):
        status, body = self.call(**params)
        return status, body.decode('utf-8').splitlines()

    def checkauth(self, kind):
        status, lines = self.lines(type=kind, mode='checkauth', auth=True)
        assert status == 200 and lines[0] == 'success', lines
        self.cookie = f'{lines[1]}={lines[2]}'
        return lines

    def upload(self, kind, filename, content, parts=1):
        size = -(-len(content) // parts)
        for start in range(0, len(content), size):
            status, lines = self.lines(type=kind, mode='file',
                filename=filename, data=content[start:start + size])
            assert (status, lines) == (200, ['success']), lines

    def import_(self, filename):
        "Call import until it stops answering progress; return answers"
        answers = []
        while True:
            status, lines = self.lines(type='catalog', mode='import',
                filename=filename)
            answers.append(lines[0])
            if lines[0] != 'progress':
                return status, answers, lines
            assert len(answers) < 100


def _zip(files):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w', zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def test_catalog_exchange_dialog(server):
    client = Client1C(server['url'])
    lines = client.checkauth('catalog')
    assert lines[1] == 'crm_1c_session' and lines[3].startswith('sessid=')
    status, lines = client.lines(type='catalog', mode='init')
    assert lines == ['zip=yes', 'file_limit=%d' % (8 * 1024 * 1024)]
    package = _zip({
            'import.xml': (DATA / 'import_205.xml').read_bytes(),
            'offers.xml': (DATA / 'offers_208.xml').read_bytes(),
            'import_files/g2/g2050000-0000-0000-0000-000000000001.jpg':
            b'\xff\xd8\xff\xe0image',
            })
    client.upload('catalog', 'import.zip', package, parts=3)
    status, answers, lines = client.import_('import.xml')
    assert status == 200 and answers[-1] == 'success', lines
    assert 'progress' in answers  # one good per request here
    status, answers, lines = client.import_('offers.xml')
    assert answers[-1] == 'success', lines
    # 1C calls import again after a dropped connection: nothing redone
    status, answers, lines = client.import_('import.xml')
    assert answers == ['success']

    result = server_state(server)
    assert result['goods']['g2050000-0000-0000-0000-000000000001'] == [
        "Футболка", 'TS-01', 3, ['g2050000-0000-0000-0000-000000000001.jpg']]
    assert result['prices'] == {'500': 1, '520.50': 1}
    last = result['sessions'][0]
    assert last['created'] >= 4 and last['failed'] == 1  # unknown offer
    assert last['state'] == 'open'
    assert 'catalog import import.xml' in last['requests']

    # the same package again, protocol 3.x style (sessid, no cookie)
    again = Client1C(server['url'])
    lines = again.checkauth('catalog')
    sessid = lines[3].split('=', 1)[1]
    again.cookie = None
    status, lines = again.lines(type='catalog', mode='init', version='3.1',
        sessid=sessid)
    assert lines[2:] == ['sessid=' + sessid, 'version=3.1']
    again.url_params = sessid
    for name in ['import.xml', 'offers.xml']:
        content = (DATA / {'import.xml': 'import_205.xml',
                'offers.xml': 'offers_208.xml'}[name]).read_bytes()
        status, lines = again.lines(type='catalog', mode='file',
            filename=name, sessid=sessid, data=content)
        assert lines == ['success']
        while True:
            status, lines = again.lines(type='catalog', mode='import',
                filename=name, sessid=sessid)
            if lines[0] != 'progress':
                break
        assert lines == ['success']
    status, lines = again.lines(type='catalog', mode='complete',
        sessid=sessid)
    assert lines == ['success']
    last = server_state(server)['sessions'][0]
    assert (last['created'], last['updated']) == (0, 0)
    assert last['state'] == 'done'


def server_state(server):
    return tryton(server['env'], server['name'], '''
        Template = pool.get('product.template')
        Line = pool.get('product.price_list.line')
        Session = pool.get('crm.exchange_1c.session')
        Attachment = pool.get('ir.attachment')
        goods = {}
        for t in Template.search([('exchange_1c_id', '!=', None)]):
            goods[t.exchange_1c_id] = [t.name, t.code, len(t.products),
                [a.name for a in Attachment.search(
                    [('resource', '=', str(t))])]]
        prices = {}
        for line in Line.search([]):
            prices[line.formula] = prices.get(line.formula, 0) + 1
        sessions = [{'created': s.created, 'updated': s.updated,
                'skipped': s.skipped, 'failed': s.failed, 'state': s.state,
                'requests': s.requests,
                'messages': [m.text for m in s.messages]}
            for s in Session.search([], order=[('id', 'DESC')])]
        Notification = pool.get('res.notification')
        notes = [n.description for n in Notification.search([])]
        result = {'goods': goods, 'prices': prices, 'sessions': sessions,
            'notifications': notes}
        ''')


def test_orders_dialog(server):
    tryton(server['env'], server['name'], '''
        from decimal import Decimal
        Party = pool.get('party.party')
        Template = pool.get('product.template')
        Uom = pool.get('product.uom')
        Sale = pool.get('sale.sale')
        unit, = Uom.search([('name', '=', 'Unit')])
        template, = Template.create([{'name': 'Дрель', 'type': 'service',
            'salable': True, 'default_uom': unit.id, 'sale_uom': unit.id,
            'list_price': Decimal(100), 'products': [('create', [{}])]}])
        party, = Party.create([{'name': 'ООО "Ромашка"',
            'addresses': [('create', [{}])],
            'identifiers': [('create', [
                {'type': 'ru_vat', 'code': '7707083893'},
                {'type': 'ru_kpp', 'code': '773601001'}])]}])
        sale, = Sale.create([{'party': party.id, 'company': admin.company.id,
            'currency': admin.company.currency.id,
            'invoice_address': party.addresses[0].id,
            'shipment_address': party.addresses[0].id,
            'lines': [('create', [{'product': template.products[0].id,
                'quantity': 2, 'unit': unit.id,
                'unit_price': Decimal('150')}])]}])
        Sale.quote([sale])
        result = sale.number
        ''')
    client = Client1C(server['url'])
    client.checkauth('sale')
    status, lines = client.lines(type='sale', mode='init')
    assert lines[0] == 'zip=yes'
    status, body = client.call(type='sale', mode='query')
    assert status == 200
    root = etree.fromstring(body)
    document, = root.findall('Документ')
    assert document.findtext('Сумма') == '300.00'
    assert document.findtext('Контрагенты/Контрагент/ИНН') == '7707083893'
    external_id = document.findtext('Ид')
    assert client.lines(type='sale', mode='success')[1] == ['success']
    status, body = client.call(type='sale', mode='query')
    assert etree.fromstring(body).findall('Документ') == []

    # 1C sends the order back paid, in windows-1251, in two parts
    back = ('<?xml version="1.0" encoding="windows-1251"?>\n'
        '<КоммерческаяИнформация ВерсияСхемы="2.10" '
        'ДатаФормирования="2026-11-24T10:00:00"><Документ>'
        f'<Ид>{external_id}</Ид><Номер>1</Номер>'
        '<ХозОперация>Заказ товара</ХозОперация><ЗначенияРеквизитов>'
        '<ЗначениеРеквизита><Наименование>Оплачен</Наименование>'
        '<Значение>true</Значение></ЗначениеРеквизита>'
        '<ЗначениеРеквизита><Наименование>Отгружен</Наименование>'
        '<Значение>true</Значение></ЗначениеРеквизита>'
        '</ЗначенияРеквизитов></Документ></КоммерческаяИнформация>'
        ).encode('cp1251')
    client.upload('sale', 'orders.xml', back, parts=2)
    result = tryton(server['env'], server['name'], '''
        Export = pool.get('crm.exchange_1c.export')
        result = [(e.external_id, e.paid, e.shipped)
            for e in Export.search([])]
        ''')
    assert result == [[external_id, True, True]]


def test_bad_requests(server):
    url = server['url']
    client = Client1C(url)
    status, lines = client.lines(type='catalog', mode='checkauth')
    assert status == 401 and lines[0] == 'failure'
    status, lines = client.lines(type='catalog', mode='init')
    assert status == 401 and lines[0] == 'failure'
    status, lines = client.lines(type='catalog', mode='explode')
    assert status == 400 and lines[0] == 'failure'
    clerk = Client1C(url, login='clerk')
    status, lines = clerk.lines(type='catalog', mode='checkauth', auth=True)
    assert status == 403 and lines[0] == 'failure'

    # lockout after repeated failures, even with the right password then
    wrong = Client1C(url, login='lockme', password='wrong')
    for _ in range(3):
        status, lines = wrong.lines(type='catalog', mode='checkauth',
            auth=True)
        assert status == 401 and lines[0] == 'failure'
    right = Client1C(url, login='lockme')
    status, lines = right.lines(type='catalog', mode='checkauth', auth=True)
    assert status == 429 and lines[0] == 'failure'

    client.checkauth('catalog')
    status, lines = client.lines(type='catalog', mode='file',
        filename='../../etc/passwd', data=b'x')
    assert lines[0] == 'failure'
    status, lines = client.lines(type='catalog', mode='import',
        filename='never.xml')
    assert lines[0] == 'failure'

    bomb = (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>\n'
        b'<lolz>&lol1;</lolz>')
    client.upload('catalog', 'import.xml', bomb)
    status, answers, lines = client.import_('import.xml')
    assert answers == ['failure'] and 'DTD' in lines[1]

    slip = Client1C(url)
    slip.checkauth('catalog')
    slip.upload('catalog', 'pack.zip', _zip({'../evil.xml': b'<a/>'}))
    status, answers, lines = slip.import_('evil.xml')
    assert answers == ['failure'] and 'path' in lines[1]

    truncated = Client1C(url)
    truncated.checkauth('catalog')
    truncated.upload('catalog', 'pack.zip', _zip({
                'import.xml': (DATA / 'import_203.xml').read_bytes()})[:-40])
    status, answers, lines = truncated.import_('import.xml')
    assert answers == ['failure']

    state = server_state(server)
    assert state['sessions'][0]['state'] == 'failed'
    assert any('DTD' in n for n in state['notifications'])


def _goods_package(prefix, count):
    "A changes-only import.xml of count goods"
    goods = ''.join(f'<Товар><Ид>{prefix}-{i}</Ид><Наименование>Товар {i}'
        '</Наименование><БазоваяЕдиница Код="796">шт</БазоваяЕдиница>'
        '</Товар>' for i in range(count))
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
        '<КоммерческаяИнформация ВерсияСхемы="2.08"><Каталог '
        'СодержитТолькоИзменения="true"><Ид>cat</Ид><Товары>'
        f'{goods}</Товары></Каталог></КоммерческаяИнформация>').encode()


def test_import_resumes_after_lost_task(server):
    "The process running an import dies: the next import call continues"
    client = Client1C(server['url'])
    client.checkauth('catalog')
    client.upload('catalog', 'import.xml', _goods_package('lost', 4))
    for _ in range(3):  # the kind of file, then a good per call
        status, lines = client.lines(type='catalog', mode='import',
            filename='import.xml')
        assert lines == ['progress']
    # the task's process stops before it could finish: its batch is lost
    # with its transaction, the committed ones stay with their position
    before = tryton(server['env'], server['name'], '''
        File = pool.get('crm.exchange_1c.file')
        Template = pool.get('product.template')
        Queue = pool.get('ir.queue')
        file, = File.search([('name', '=', 'import.xml')],
            order=[('id', 'DESC')], limit=1)
        Queue.write([Queue(file.task)],
            {'dequeued_at': None, 'finished_at': None})
        result = [file.phase, file.position, file.task,
            Template.search_count([('exchange_1c_id', 'like', 'lost-%')])]
        ''')
    assert before[:2] == ['goods', 2] and before[3] == 2
    status, answers, lines = client.import_('import.xml')
    assert answers[-1] == 'success', lines
    after = tryton(server['env'], server['name'], '''
        File = pool.get('crm.exchange_1c.file')
        Template = pool.get('product.template')
        Session = pool.get('crm.exchange_1c.session')
        file, = File.search([('name', '=', 'import.xml')],
            order=[('id', 'DESC')], limit=1)
        result = [file.state, file.task,
            Template.search_count([('exchange_1c_id', 'like', 'lost-%')]),
            file.session.created]
        ''')
    assert after[0] == 'done' and after[1] != before[2]
    assert after[2:] == [4, 4]  # each good created once
