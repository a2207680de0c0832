"""Tenants and their features from the outside: the `crm` command and a
running trytond serving two tenants.

* An unknown tenant in a URL answers 404 exactly as a database that is not
  a CRM tenant does: the answer does not tell which tenants exist.
* Feature names are checked (a typo is a one-line error, exit status 2).
* Switching a feature off keeps its records, switching it on brings them
  back; purging drops them, and only once confirmed.
* A feature switched off in one tenant is absent there (REST method,
  public route) while the other tenant, served by the same process,
  keeps it.

SQLite by default, PostgreSQL with TRYTOND_DATABASE__URI=postgresql://...
"""
import json
import subprocess
import time
import urllib.error
import urllib.request

import pytest
from tenant_server import (
    CRM, POSTGRESQL, create_tenant, drop_tenant, run_crm, serve, tenant_env,
    tenant_name)

from trytond.modules.crm_portal import features as feature_map

PASSWORD = 'tenants-test-pass'
INSTALLED = set(feature_map.installed_features())


def crm(env, *args, input=None):
    return subprocess.run([CRM, *args], env=env, capture_output=True,
        text=True, timeout=600, input=input)


def get(url):
    "Return (status, body text)"
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture(scope='module')
def tenants(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('crm_tenants')
    # The server notices module changes made by the `crm` command within
    # a second (LISTEN/NOTIFY on PostgreSQL would make it at once).
    config = """
        [cache]
        clean_timeout = 1
        """
    with tenant_env(tmp, config, password=PASSWORD) as (env, port):
        name = tenant_name('tenants')
        other = tenant_name('other')
        names = [name]
        try:
            create_tenant(env, name, '--features', 'all')
            if INSTALLED - {'portal'}:
                names.append(other)
                create_tenant(env, other, '--features', 'all')
            urls = {n: run_crm(env, 'webhook', 'create', n, '--user',
                    'admin', '--scope',
                    'crm,telephony,imopenlines,landing,user')
                for n in names}
            yield {'env': env, 'port': port, 'name': name, 'other': other,
                'url': urls[name], 'urls': urls, 'tmp': tmp}
        finally:
            for tenant in names:
                drop_tenant(env, tenant)


def test_unknown_tenant_is_not_told_apart(tenants):
    env, port, name = tenants['env'], tenants['port'], tenants['name']
    if POSTGRESQL:
        not_crm = 'postgres'
    else:
        not_crm = 'plain_sqlite'
        (tenants['tmp'] / 'db' / f'{not_crm}.sqlite').write_bytes(b'')
    with serve(env, port, name, f'/{name}/rest/openapi.json') as base:
        paths = ['/rest/1/0123456789abcdef/profile.json',
            '/rest/openapi.json']
        for path in paths:
            unknown = get(f'{base}/no_such_tenant{path}')
            other = get(f'{base}/{not_crm}{path}')
            assert unknown[0] == 404
            assert unknown == other
            assert 'no_such_tenant' not in unknown[1]
        status, body = get(f'{base}/{name}/rest/openapi.json')
        assert status == 200


def test_feature_typo_is_a_clear_error(tenants):
    env, name = tenants['env'], tenants['name']
    for args in [
            ['tenant', 'features', name, '--disable', 'telefony'],
            ['tenant', 'purge-feature', name, 'sitez', '--yes'],
            ['tenant', 'create', 'fresh', '--features', 'portal,1c'],
            ]:
        result = crm(env, *args)
        assert result.returncode == 2, result
        line, = result.stderr.strip().splitlines()
        assert 'unknown feature' in line
        assert 'exchange_1c' in line


def test_describe_lists_every_feature(tenants):
    env, name = tenants['env'], tenants['name']
    result = crm(env, 'tenant', 'features', name, '--describe')
    assert result.returncode == 0, result.stderr
    rows = [line.split(None, 1) for line in result.stdout.splitlines()]
    assert [r[0] for r in rows] == list(feature_map.FEATURES)
    states = dict(rows)
    assert states['portal'].startswith('on ')
    for feature in feature_map.FEATURES:
        if feature not in INSTALLED:
            assert states[feature].startswith('not installed')


def test_purge_refuses_portal_and_active_or_missing_features(tenants):
    env, name = tenants['env'], tenants['name']
    result = crm(env, 'tenant', 'purge-feature', name, 'portal', '--yes')
    assert result.returncode == 2
    assert 'portal' in result.stderr
    for feature in list(feature_map.FEATURES)[1:]:
        result = crm(env, 'tenant', 'purge-feature', name, feature, '--yes')
        assert result.returncode == 2
        line, = result.stderr.strip().splitlines()
        if feature in INSTALLED:
            assert 'switch it off first' in line
        else:
            assert 'not installed' in line


def rest(url, method, params=None):
    "Return (status, body) of a REST call"
    request = urllib.request.Request(url + method + '.json',
        data=json.dumps(params or {}).encode(),
        headers={'Content-Type': 'application/json'})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.skipif('telephony' not in INSTALLED,
    reason="needs trytond-crm-telephony installed")
def test_feature_off_keeps_data_on_brings_it_back_purge_drops(tenants):
    env, port = tenants['env'], tenants['port']
    name, url = tenants['name'], tenants['url']

    def lines():
        status, body = rest(url, 'telephony.externalline.get')
        if body.get('error') == 'ERROR_METHOD_NOT_FOUND':
            return None
        assert status == 200, body
        return sorted((l['NUMBER'], l['NAME']) for l in body['result'])

    def switch(action):
        result = crm(env, 'tenant', 'features', name, action, 'telephony')
        assert result.returncode == 0, result.stderr

    with serve(env, port, name, f'/{name}/rest/openapi.json'):
        status, body = rest(url, 'telephony.externalline.add',
            {'NUMBER': '74951112233', 'NAME': "Main line"})
        assert status == 200, body
        kept = lines()
        assert ('74951112233', "Main line") in kept

        switch('--disable')
        assert until(lambda: lines() is None)
        switch('--enable')
        assert until(lambda: lines() is not None)
        assert lines() == kept

        switch('--disable')
        assert until(lambda: lines() is None)
        # A wrong confirmation deletes nothing.
        result = crm(env, 'tenant', 'purge-feature', name, 'telephony',
            input='not-the-name\n')
        assert result.returncode == 2
        assert 'cancelled' in result.stderr
        result = crm(env, 'tenant', 'purge-feature', name, 'telephony',
            input=name + '\n')
        assert result.returncode == 0, result.stderr
        assert 'data of telephony deleted' in result.stdout
        switch('--enable')
        assert until(lambda: lines() is not None)
        assert lines() == []


# What a feature answers when it is on, by REST method or public route.
PROBES = {
    'telephony': ('rest', 'telephony.externalline.get'),
    'openlines': ('rest', 'imopenlines.config.list.get'),
    'exchange_1c': ('route', '/crm_1c/exchange?type=catalog&mode=checkauth'),
    }


def probe(base, urls, tenant, feature):
    "True when the feature answers in tenant, False when it is absent"
    kind, target = PROBES[feature]
    if kind == 'rest':
        status, body = get(urls[tenant] + target + '.json')
        if status == 404 or '"ERROR_METHOD_NOT_FOUND"' in body:
            assert 'ERROR_METHOD_NOT_FOUND' in body, body
            return False
        return True
    status, _ = get(f'{base}/{tenant}{target}')
    return status != 404


def until(check, timeout=60):
    deadline = time.monotonic() + timeout
    while not check() and time.monotonic() < deadline:
        time.sleep(0.3)
    return check()


@pytest.mark.parametrize('feature', sorted(PROBES))
def test_feature_off_in_one_tenant_only(tenants, feature):
    if feature not in INSTALLED:
        pytest.skip(f"needs {feature_map.package_of(feature)} installed")
    env, port = tenants['env'], tenants['port']
    name, other, urls = tenants['name'], tenants['other'], tenants['urls']
    with serve(env, port, name, f'/{name}/rest/openapi.json') as base:
        assert probe(base, urls, name, feature)
        assert probe(base, urls, other, feature)
        result = crm(env, 'tenant', 'features', other, '--disable', feature)
        assert result.returncode == 0, result.stderr
        assert feature not in result.stdout.split()[1].split(',')
        assert until(lambda: not probe(base, urls, other, feature))
        assert probe(base, urls, name, feature)
        result = crm(env, 'tenant', 'features', other, '--enable', feature)
        assert result.returncode == 0, result.stderr
        assert until(lambda: probe(base, urls, other, feature))
