"REST gateway: URLs, tokens, scopes, limits, batch and the PHP parameters"
import json
import unittest
from contextlib import contextmanager
from unittest.mock import patch
from urllib.parse import urlencode

from trytond import config
from trytond.modules.crm_portal.rest import RestError, RestMethod, RestPage
from trytond.modules.crm_portal.rest_params import (
    ParamsError, merge_params, parse_body, parse_php_params, parse_query)
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME, RouteTestCase
from trytond.transaction import Transaction


@contextmanager
def crm_rest_config(**options):
    "Set options of the [crm_rest] section for the block"
    if not config.has_section('crm_rest'):
        config.add_section('crm_rest')
    previous = {k: config.get('crm_rest', k) for k in options}
    for key, value in options.items():
        config.set('crm_rest', key, str(value))
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                config._config.remove_option('crm_rest', key)
            else:
                config.set('crm_rest', key, value)
        config._cache_clear()


class ParsePhpParamsTestCase(unittest.TestCase):
    "PHP-style form fields, as Bitrix24 clients send them (no database)"

    def test_flat(self):
        self.assertEqual(parse_query('start=50&TITLE=x'),
            {'start': '50', 'TITLE': 'x'})

    def test_nested_dict(self):
        self.assertEqual(parse_query(
                'fields[TITLE]=Deal&fields[OPPORTUNITY]=1000'),
            {'fields': {'TITLE': 'Deal', 'OPPORTUNITY': '1000'}})

    def test_multi_field(self):
        self.assertEqual(parse_php_params([
                    ('fields[PHONE][0][VALUE]', '+79001234567'),
                    ('fields[PHONE][0][VALUE_TYPE]', 'WORK'),
                    ('fields[PHONE][1][VALUE]', '+79007654321'),
                    ]),
            {'fields': {'PHONE': [
                        {'VALUE': '+79001234567', 'VALUE_TYPE': 'WORK'},
                        {'VALUE': '+79007654321'}]}})

    def test_filter_prefixes(self):
        self.assertEqual(parse_query(
                'filter%5B%3EOPPORTUNITY%5D=1000&filter[!STATUS_ID]=JUNK'
                '&filter[%25TITLE]=shop'),
            {'filter': {'>OPPORTUNITY': '1000', '!STATUS_ID': 'JUNK',
                    '%TITLE': 'shop'}})

    def test_append(self):
        self.assertEqual(parse_query('select[]=ID&select[]=TITLE&select[]=*'),
            {'select': ['ID', 'TITLE', '*']})

    def test_append_after_index(self):
        self.assertEqual(parse_php_params([
                    ('a[5]', 'x'), ('a[]', 'y')]),
            {'a': {'5': 'x', '6': 'y'}})

    def test_order(self):
        self.assertEqual(parse_query('order[ID]=DESC&order[TITLE]=ASC'),
            {'order': {'ID': 'DESC', 'TITLE': 'ASC'}})

    def test_deep(self):
        self.assertEqual(parse_query('a[b][c][d][]=1&a[b][c][d][]=2'),
            {'a': {'b': {'c': {'d': ['1', '2']}}}})

    def test_filter_in_list(self):
        self.assertEqual(parse_query(
                'filter[STATUS_ID][]=NEW&filter[STATUS_ID][]=IN_PROCESS'),
            {'filter': {'STATUS_ID': ['NEW', 'IN_PROCESS']}})

    def test_later_value_wins(self):
        self.assertEqual(parse_query('a=1&a=2'), {'a': '2'})
        self.assertEqual(parse_query('a=1&a[x]=2'), {'a': {'x': '2'}})

    def test_non_sequential_keys_stay_dict(self):
        self.assertEqual(parse_query('a[1]=x&a[2]=y'),
            {'a': {'1': 'x', '2': 'y'}})

    def test_top_level_numeric_keys(self):
        self.assertEqual(parse_query('0=a&1=b'), {'0': 'a', '1': 'b'})

    def test_unbalanced_bracket(self):
        self.assertEqual(parse_query('a[b=1'), {'a[b': '1'})
        self.assertEqual(parse_query('a[b]x=1'), {'a': {'b': '1'}})

    def test_empty_value_and_key(self):
        self.assertEqual(parse_query('a=&=x&b'), {'a': '', 'b': ''})

    def test_unicode(self):
        self.assertEqual(parse_query(
                'fields[TITLE]=%D0%97%D0%B0%D0%BA%D0%B0%D0%B7'),
            {'fields': {'TITLE': 'Заказ'}})

    def test_too_deep(self):
        with self.assertRaises(ParamsError):
            parse_query('a' + '[x]' * 100 + '=1')

    def test_body_json(self):
        self.assertEqual(parse_body(b'{"fields": {"TITLE": "x"}}',
                'application/json'), {'fields': {'TITLE': 'x'}})

    def test_body_json_invalid(self):
        with self.assertRaises(ParamsError):
            parse_body(b'{"fields":', 'application/json')
        with self.assertRaises(ParamsError):
            parse_body(b'[1, 2]', 'application/json')

    def test_body_form(self):
        self.assertEqual(parse_body(b'select[]=*&start=50',
                'application/x-www-form-urlencoded'),
            {'select': ['*'], 'start': '50'})

    def test_merge_body_wins(self):
        self.assertEqual(merge_params(
                {'start': '0', 'filter': {'A': '1', 'B': '2'}},
                {'start': '50', 'filter': {'B': '3'}}),
            {'start': '50', 'filter': {'A': '1', 'B': '3'}})


class RestGatewayTestCase(RouteTestCase):
    "The REST API over HTTP, as an integration calls it"
    module = 'crm_portal'

    @classmethod
    def setUpDatabase(cls):
        from trytond.modules.company.tests import create_company
        pool = Pool()
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        Token = pool.get('crm.webhook.token')
        company = create_company()
        admin = User(1)
        admin.companies = [company]
        admin.company = company
        admin.save()
        crm_group = ModelData.get_id('crm_portal', 'group_crm')
        user, = User.create([{
                    'login': 'rita', 'name': 'Rita Restova',
                    'email': 'rita@example.com',
                    'groups': [('add', [crm_group])],
                    'companies': [('add', [company.id])],
                    'company': company.id,
                    }])
        cls.admin_id = admin.id
        cls.user_id = user.id
        cls.admin_token = Token.create_token(admin, "admin", ['crm', 'user'])
        cls.crm_token = Token.create_token(user, "crm only", ['crm'])
        cls.user_token = Token.create_token(user, "user", ['crm', 'user'])
        cls.rate_token = Token.create_token(user, "rate", ['crm'])

    def setUp(self):
        super().setUp()
        # Most tests call quickly with the same token: no limit there.
        limits = crm_rest_config(burst=100000)
        limits.__enter__()
        self.addCleanup(limits.__exit__, None, None, None)

    def url(self, method, token=None, user_id=None, db=DB_NAME):
        token = token or self.admin_token
        user_id = user_id or self.admin_id
        return f'/{db}/rest/{user_id}/{token}/{method}'

    def call(self, method, params=None, token=None, user_id=None, **kw):
        client = self.client()
        response = client.post(self.url(method, token, user_id),
            json=params or {}, **kw)
        return response, json.loads(response.get_data(as_text=True))

    @contextmanager
    def extra_methods(self):
        "Methods that echo, page, write and fail, to test the gateway"
        pool = Pool(DB_NAME)
        Rest = pool.get('crm.rest')
        original = Rest.methods.__func__

        def echo(params):
            return params

        def paged(params):
            start = int(params.get('start', 0))
            return RestPage(list(range(start, min(start + 50, 120))), 120)

        def write(params):
            Party = pool.get('party.party')
            party, = Party.create([{'name': params['name']}])
            return {'ID': party.id, 'NAME': party.name}

        def fail(params):
            write(params)
            raise RestError('INVALID_ARG_VALUE', "NAME is refused", 400)

        def methods(cls):
            methods = original(cls)
            for method in [
                    RestMethod('test.echo', echo, 'crm', "Echo"),
                    RestMethod('test.pages', paged, 'crm', "Pages",
                        paged=True),
                    RestMethod('test.write', write, 'crm', "Write"),
                    RestMethod('test.fail', fail, 'crm', "Fail"),
                    ]:
                methods[method.name] = method
            return methods
        with patch.object(Rest, 'methods', classmethod(methods)):
            yield

    def party_names(self):
        with Transaction().start(DB_NAME, 0, readonly=True):
            Party = Pool(DB_NAME).get('party.party')
            return {p.name for p in Party.search([])}

    def test_server_time_answer_and_time_block(self):
        for method in ['server.time', 'server.time.json', 'SERVER.TIME']:
            response, body = self.call(method)
            self.assertEqual(response.status_code, 200, body)
            self.assertRegex(body['result'], r'^\d{4}-\d\d-\d\dT.*[+-]\d\d:\d\d$')
            for key in ['start', 'finish', 'duration', 'processing',
                    'date_start', 'date_finish']:
                self.assertIn(key, body['time'])
            self.assertGreaterEqual(body['time']['finish'],
                body['time']['start'])

    def test_get_with_query_string(self):
        client = self.client()
        response = client.get(self.url('profile.json'))
        body = json.loads(response.get_data(as_text=True))
        self.assertEqual(response.status_code, 200, body)
        self.assertEqual(body['result']['ID'], str(self.admin_id))
        self.assertTrue(body['result']['ADMIN'])

    def test_user_current(self):
        response, body = self.call('user.current', token=self.user_token,
            user_id=self.user_id)
        self.assertEqual(response.status_code, 200, body)
        self.assertEqual(body['result']['ID'], str(self.user_id))
        self.assertEqual(body['result']['NAME'], 'Rita')
        self.assertEqual(body['result']['LAST_NAME'], 'Restova')
        self.assertEqual(body['result']['EMAIL'], 'rita@example.com')
        response, body = self.call('profile', token=self.user_token,
            user_id=self.user_id)
        self.assertFalse(body['result']['ADMIN'])

    def test_method_not_found(self):
        response, body = self.call('crm.nothing.here')
        self.assertEqual(response.status_code, 404)
        self.assertEqual(body['error'], 'ERROR_METHOD_NOT_FOUND')
        self.assertIn('crm.nothing.here', body['error_description'])

    def test_wrong_token_and_unknown_user_same_answer(self):
        answers = []
        for user_id, token in [
                (self.admin_id, self.admin_token[:-1] + (
                        'A' if self.admin_token[-1] != 'A' else 'B')),
                (self.user_id, self.admin_token),
                (99999, self.admin_token),
                ]:
            response, body = self.call('server.time', token=token,
                user_id=user_id)
            answers.append((response.status_code, body))
        self.assertEqual(answers[0][0], 401)
        self.assertEqual(answers[0][1]['error'], 'INVALID_CREDENTIALS')
        self.assertTrue(all(a == answers[0] for a in answers), answers)

    def test_no_token(self):
        client = self.client()
        for path in [f'/{DB_NAME}/rest/server.time',
                f'/{DB_NAME}/rest/{self.admin_id}/']:
            response = client.post(path)
            body = json.loads(response.get_data(as_text=True))
            self.assertEqual(response.status_code, 401, path)
            self.assertEqual(body['error'], 'NO_AUTH_FOUND')

    def test_unknown_database(self):
        client = self.client()
        for path in ['/no_such_db/rest/1/abc/server.time',
                '/no_such_db/rest/openapi.json']:
            response = client.post(path) if 'openapi' not in path else (
                client.get(path))
            self.assertEqual(response.status_code, 404)
            body = json.loads(response.get_data(as_text=True))
            self.assertEqual(body['error'], 'NOT_FOUND')

    def test_insufficient_scope(self):
        response, body = self.call('user.current', token=self.crm_token,
            user_id=self.user_id)
        self.assertEqual(response.status_code, 403)
        self.assertEqual(body['error'], 'insufficient_scope')
        # The token lists what it may call and its scopes.
        response, body = self.call('methods', token=self.crm_token,
            user_id=self.user_id)
        self.assertNotIn('user.current', body['result'])
        self.assertIn('batch', body['result'])
        response, body = self.call('scope', token=self.crm_token,
            user_id=self.user_id)
        self.assertEqual(body['result'], ['crm'])

    def test_too_large(self):
        with crm_rest_config(max_size=1000):
            response, body = self.call(
                'server.time', {'fields': {'TITLE': 'x' * 2000}})
        self.assertEqual(response.status_code, 413)
        self.assertEqual(body['error'], 'REQUEST_ENTITY_TOO_LARGE')

    def test_bad_json(self):
        client = self.client()
        response = client.post(self.url('server.time'), data=b'{"a":',
            content_type='application/json')
        body = json.loads(response.get_data(as_text=True))
        self.assertEqual(response.status_code, 400)
        self.assertEqual(body['error'], 'INVALID_REQUEST')

    def test_rate_limit(self):
        with crm_rest_config(burst=3, rate=0.001):
            codes = []
            for _ in range(5):
                response, body = self.call('server.time',
                    token=self.rate_token, user_id=self.user_id)
                codes.append(response.status_code)
        self.assertEqual(codes, [200, 200, 200, 503, 503])
        self.assertEqual(body['error'], 'QUERY_LIMIT_EXCEEDED')
        # Other tokens have their own bucket.
        response, body = self.call('server.time')
        self.assertEqual(response.status_code, 200)

    def test_params_form_query_and_json(self):
        with self.extra_methods():
            client = self.client()
            response = client.post(
                self.url('test.echo.json') + '?start=0&filter[A]=1',
                data='fields[TITLE]=Shop&fields[PHONE][0][VALUE]=%2B7900'
                '&select[]=*&start=50&filter[%3EOPPORTUNITY]=1000',
                content_type='application/x-www-form-urlencoded')
            body = json.loads(response.get_data(as_text=True))
            self.assertEqual(response.status_code, 200, body)
            self.assertEqual(body['result'], {
                    'start': '50',
                    'filter': {'A': '1', '>OPPORTUNITY': '1000'},
                    'fields': {'TITLE': 'Shop',
                        'PHONE': [{'VALUE': '+7900'}]},
                    'select': ['*'],
                    })
            response = client.get(self.url('test.echo') + '?'
                + urlencode({'order[ID]': 'DESC', 'select[]': 'ID'}))
            body = json.loads(response.get_data(as_text=True))
            self.assertEqual(body['result'],
                {'order': {'ID': 'DESC'}, 'select': ['ID']})
            response, body = self.call('test.echo', {'fields': {'A': [1]}})
            self.assertEqual(body['result'], {'fields': {'A': [1]}})

    def test_paged_total_next(self):
        with self.extra_methods():
            response, body = self.call('test.pages')
            self.assertEqual(body['result'][:2], [0, 1])
            self.assertEqual((body['total'], body['next']), (120, 50))
            response, body = self.call('test.pages', {'start': 100})
            self.assertEqual(len(body['result']), 20)
            self.assertEqual(body['total'], 120)
            self.assertNotIn('next', body)

    def test_failed_call_writes_nothing(self):
        with self.extra_methods():
            response, body = self.call('test.fail', {'name': 'Refused'})
        self.assertEqual(response.status_code, 400)
        self.assertEqual(body, {'error': 'INVALID_ARG_VALUE',
                'error_description': "NAME is refused"})
        self.assertNotIn('Refused', self.party_names())

    def test_batch_references_and_rollback(self):
        with self.extra_methods():
            response, body = self.call('batch', {'halt': 0, 'cmd': {
                        'a': 'test.write?name=Alpha',
                        'b': 'test.fail?name=Beta',
                        'c': 'test.write?name=$result[a][NAME]%20Two',
                        'd': 'test.echo?id=$result[a][ID]',
                        'p': 'test.pages?start=100',
                        'q': 'test.echo?all=$result[p]&n=$result[p][0]',
                        'e': 'test.echo?x=$result[b][ID]',
                        }})
        self.assertEqual(response.status_code, 200, body)
        batch = body['result']
        self.assertEqual(batch['result']['a']['NAME'], 'Alpha')
        self.assertEqual(batch['result']['c']['NAME'], 'Alpha Two')
        self.assertEqual(batch['result']['d'],
            {'id': str(batch['result']['a']['ID'])})
        self.assertEqual(batch['result_total'], {'p': 120})
        self.assertEqual(batch['result']['q'], {
                'all': [str(i) for i in range(100, 120)], 'n': '100'})
        self.assertEqual(set(batch['result_error']), {'b', 'e'})
        self.assertEqual(batch['result_error']['b']['error'],
            'INVALID_ARG_VALUE')
        self.assertEqual(batch['result_error']['e']['error'],
            'ERROR_BATCH_REFERENCE')
        self.assertEqual(set(batch['result_time']), set('abcdpqe'))
        names = self.party_names()
        self.assertTrue({'Alpha', 'Alpha Two'} <= names)
        self.assertNotIn('Beta', names)

    def test_batch_halt(self):
        with self.extra_methods():
            response, body = self.call('batch', {'halt': 1, 'cmd': [
                        'test.write?name=Gamma',
                        'test.fail?name=Delta',
                        'test.write?name=Epsilon',
                        ]})
        batch = body['result']
        self.assertEqual(batch['result'][0]['NAME'], 'Gamma')
        self.assertEqual(len(batch['result']), 1)
        self.assertEqual(list(batch['result_error']), ['1'])
        names = self.party_names()
        self.assertIn('Gamma', names)
        self.assertFalse({'Delta', 'Epsilon'} & names)

    def test_batch_scope_and_limits(self):
        response, body = self.call('batch', {'cmd': {
                    'me': 'user.current', 'time': 'server.time'}},
            token=self.crm_token, user_id=self.user_id)
        batch = body['result']
        self.assertEqual(batch['result_error']['me']['error'],
            'insufficient_scope')
        self.assertIn('time', batch['result'])
        response, body = self.call('batch', {'cmd': [
                    'server.time'] * 51})
        self.assertEqual(response.status_code, 400)
        response, body = self.call('batch', {})
        self.assertEqual(response.status_code, 400)
        response, body = self.call('batch', {'cmd': ['batch?cmd[]=x']})
        self.assertEqual(body['result']['result_error'][0]['error'],
            'ERROR_BATCH_METHOD_NOT_ALLOWED')

    def test_openapi(self):
        client = self.client()
        response = client.get(f'/{DB_NAME}/rest/openapi.json')
        self.assertEqual(response.status_code, 200)
        document = json.loads(response.get_data(as_text=True))
        self.assertEqual(document['servers'], [{'url': f'/{DB_NAME}/rest'}])
        paths = document['paths']
        for name in ['batch', 'methods', 'scope', 'user.current',
                'profile', 'server.time']:
            self.assertIn(f'/{{user_id}}/{{token}}/{name}.json', paths)
        batch = paths['/{user_id}/{token}/batch.json']['post']
        self.assertIn('cmd', batch['requestBody']['content'][
                'application/json']['schema']['properties'])
        self.assertTrue(batch['summary'])


del RouteTestCase
