"""Shared by the cross-process tests of the open lines (tests/):

setup_tenant(env, name, ...) runs this file in a child process to add an
operator who can log in, a line with a widget and a Telegram channel to a
tenant made by `crm tenant create`; rpc() talks JSON-RPC to trytond as a
person's web client does."""
import base64
import json
import subprocess
import sys
import urllib.error
import urllib.request

OPERATOR_PASSWORD = 'operator-pass-1'


def setup_tenant(env, name, api_url, origin):
    "Return the ids and clear keys of what was created"
    result = subprocess.run([sys.executable, __file__, name, api_url,
            origin], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


class RPC:
    "A JSON-RPC session of a user, as the web client has"

    def __init__(self, base, database, login, password):
        self.url = f'{base}/{database}/rpc/'
        user_id, session = self.call('common.db.login', login,
            {'password': password}, 'en', auth=False)[:2]
        token = f'{login}:{user_id}:{session}'.encode()
        self.auth = 'Session ' + base64.b64encode(token).decode()
        self.context = self.call('model.res.user.get_preferences', True, {})

    def call(self, method, *params, auth=True):
        headers = {'Content-Type': 'application/json'}
        if auth:
            headers['Authorization'] = self.auth
        body = json.dumps({'id': 1, 'method': method,
                'params': list(params)}).encode()
        request = urllib.request.Request(self.url, data=body,
            headers=headers)
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
        if answer.get('error'):
            raise AssertionError(answer['error'])
        return answer['result']

    def model(self, model, method, *args):
        return self.call(f'model.{model}.{method}', *args, self.context)


def http(url, body=None, headers=None, method=None, raw=False, timeout=60):
    "Return (status, headers, body) of a request (JSON unless raw)"
    data = body
    if isinstance(body, (dict, list)):
        data = json.dumps(body).encode()
    elif isinstance(body, str):
        data = body.encode()
    request = urllib.request.Request(url, data=data,
        headers=dict(headers or {}), method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, head, content = (
                response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        status, head, content = error.code, error.headers, error.read()
    if not raw:
        content = json.loads(content) if content else None
    return status, head, content


def _main(name, api_url, origin):
    from trytond.modules.crm_portal.cli import configure, load_pool
    from trytond.transaction import Transaction
    configure()
    pool = load_pool(name)
    with Transaction().start(name, 0) as transaction:
        User = pool.get('res.user')
        Company = pool.get('company.company')
        Employee = pool.get('company.employee')
        Party = pool.get('party.party')
        Group = pool.get('res.group')
        ModelData = pool.get('ir.model.data')
        Line = pool.get('crm.openline')
        Channel = pool.get('crm.openline.channel')
        company, = Company.search([], limit=1)
        with transaction.set_context(company=company.id):
            party, = Party.create([{'name': "Olga Operator"}])
            employee, = Employee.create([{
                        'party': party.id, 'company': company.id}])
            group = Group(ModelData.get_id('crm_portal', 'group_crm'))
            user, = User.create([{
                        'name': "Olga Operator", 'login': 'operator',
                        'password': OPERATOR_PASSWORD,
                        'companies': [('add', [company.id])],
                        'company': company.id,
                        'employees': [('add', [employee.id])],
                        'employee': employee.id,
                        'groups': [('add', [group.id])],
                        }])
            line, = Line.create([{
                        'name': "Support", 'company': company.id,
                        'welcome_message': "Welcome! An operator will "
                        "answer shortly.",
                        'rating_request': True,
                        'rating_message': "Please rate our answer.",
                        'operators': [('create', [
                                    {'employee': employee.id}])],
                        }])
            widget, telegram = Channel.create([{
                        'line': line.id, 'name': "Site", 'type': 'widget',
                        'allowed_origins': origin,
                        }, {
                        'line': line.id, 'name': "Bot", 'type': 'telegram',
                        'bot_token': '123456:TEST-token',
                        'api_url': api_url,
                        }])
            widget_key = Channel.set_key(widget)
            telegram_secret = Channel.set_key(telegram)
        transaction.commit()
    print(json.dumps({
                'employee': employee.id, 'user': user.id, 'line': line.id,
                'widget': widget.id, 'widget_key': widget_key,
                'telegram': telegram.id, 'secret': telegram_secret,
                'bot_token': '123456:TEST-token',
                }))


if __name__ == '__main__':
    _main(*sys.argv[1:4])
