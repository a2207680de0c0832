"""Collect Tryton's doctest scenarios (scenario_*.rst) as pytest items.

Tryton modules expose them through unittest's load_tests protocol, which
pytest does not follow; this runs them with Tryton's own set-up, tear-down
and output checker so they behave as under `python -m unittest`; and
give each pytest-xdist worker (`make test` runs two) its own test database.
"""
import contextlib
import doctest
import hashlib
import io
import os
import time
import unittest

import pytest


def pytest_configure(config):
    """Give each pytest-xdist worker its own test database, and share the
    cache of activated-module databases between workers.

    Tryton's test set-up reads DB_NAME and DB_CACHE when first imported:
    here, before the test files import it."""
    worker = os.environ.get('PYTEST_XDIST_WORKER')
    uri = os.environ.get('TRYTOND_DATABASE__URI', '')
    folder = os.environ.get('TEST_CACHE_DIR') or os.environ.get('DB_CACHE')
    if worker and uri and not uri.startswith('sqlite'):
        name = os.environ.get('DB_NAME') or f'test_{int(time.time())}'
        os.environ['DB_NAME'] = f'{name}_{worker}'
    if folder and uri.startswith('postgresql'):
        _postgresql_templates(folder, fresh=not worker)
    if not uri or uri.startswith('sqlite'):
        _keep_memory_transactions()
    if folder:
        _serialise_module_activation(folder)


def _keep_memory_transactions():
    """Tryton's SQLite backend hands the one connection of an in-memory
    database to every caller. A caller asking for autocommit (its cache
    sync, at a transaction's start once every [cache] clean_timeout; its
    cache commit, in a task's own transaction) switches that connection to
    autocommit, which commits the test's pending transaction and leaves
    the rest of the test committing each statement: the records then
    outlive the test's rollback and surprise the next tests of the class,
    at moments that depend on the clock. In memory, the connection stays
    transactional."""
    from trytond.backend.sqlite.database import Database
    get_connection = Database.get_connection

    def transactional(self, autocommit=False, readonly=False,
            statement_timeout=None):
        if self.name == ':memory:':
            autocommit = False
        return get_connection(self, autocommit=autocommit, readonly=readonly,
            statement_timeout=statement_timeout)
    Database.get_connection = transactional


def template_prefix(folder):
    """The prefix of the PostgreSQL databases the test cache folder keeps:
    Tryton's databases of activated modules, tests/tenant_server.py's
    tenants. One per folder, so that runs with other folders (another
    checkout, a helper's private run) neither use nor drop them."""
    key = hashlib.sha1(os.path.realpath(folder).encode()).hexdigest()[:8]
    return f'tc{key}-'


def _postgresql_templates(folder, fresh):
    """On PostgreSQL, cache databases as template databases (a copy is
    CREATE DATABASE ... TEMPLATE: a fraction of a second, where pg_restore
    of a dump takes seconds). The cache folder keeps the locks; the
    templates live as long as it does: a new folder (`make test` starts
    with one) drops the templates of an earlier run, which may hold
    another version of the modules."""
    from trytond.tests import test_tryton
    os.environ['TEST_CACHE_DIR'] = folder
    os.environ['TEST_TEMPLATE_PREFIX'] = prefix = template_prefix(folder)
    os.environ['DB_CACHE'] = test_tryton.DB_CACHE = 'postgresql://'

    def cache_file(path, name):
        # Tryton's own name, test-<hash>, is the same for every folder
        digest = hashlib.shake_128(name.encode()).hexdigest(20)
        return f'postgresql:///{prefix}{digest}'
    test_tryton._db_cache_file = cache_file
    marker = os.path.join(folder, '.postgresql-templates')
    if not fresh or os.path.exists(marker):
        return
    import psycopg
    with psycopg.connect(
            os.environ['TRYTOND_DATABASE__URI'].rstrip('/') + '/postgres',
            autocommit=True) as connection:
        cursor = connection.cursor()
        cursor.execute('SELECT datname FROM pg_database '
            'WHERE starts_with(datname, %s)', (prefix,))
        for name, in cursor.fetchall():
            cursor.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    os.makedirs(folder, exist_ok=True)
    open(marker, 'w').close()


def _serialise_module_activation(cache):
    """One worker builds the database of a set of modules and caches it
    while the other waits, then restores that cache instead of building
    the same database again. A CRM module's database is built on a copy
    of crm_portal's (which all of them depend on): activating the one
    module on top takes a fraction of building Tryton's modules again."""
    import fcntl

    from trytond.tests import test_tryton

    activate = test_tryton.activate_module

    @contextlib.contextmanager
    def locked(names, lang):
        key = hashlib.sha1(f'{names}{lang}'.encode()).hexdigest()
        os.makedirs(cache, exist_ok=True)
        with open(os.path.join(cache, f'.lock-{key}'), 'w') as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def activate_module(modules, lang='en'):
        names = [modules] if isinstance(modules, str) else list(modules)
        derived = names != BASE and all(n.startswith('crm_') for n in names)
        with locked(names, lang):
            if derived and not test_tryton.db_exist(test_tryton.DB_NAME):
                if test_tryton.restore_db_cache(_cache_name(names, lang)):
                    return
                # the base's lock is taken inside: never the other way
                activate_module(BASE, lang=lang)
            return activate(modules, lang=lang)
    test_tryton.activate_module = activate_module
    _scenario_on_module_cache(locked)


# the module every CRM module depends on
BASE = ['crm_portal']


def _cache_name(names, lang):
    "test_tryton.activate_module's name of the cached database"
    return '-'.join(names) + (f'--{lang}' if lang != 'en' else '')


def _scenario_on_module_cache(locked):
    """A doctest scenario's activate_modules(modules, *set-ups) starts from
    the cached database of its modules (test_tryton.activate_module's)
    instead of building it again through proteus."""
    from trytond.tests import test_tryton, tools

    def activate_modules(modules, *setup):
        names = sorted([modules] if isinstance(modules, str) else modules)
        # tools.activate_modules' name of the cached database
        cache_name = '-'.join(names)
        if setup:
            cache_name += '--' + '|'.join(tools._func_name(f) for f in setup)
        with locked(names, cache_name):
            if test_tryton.restore_db_cache(cache_name):
                return tools._get_config()
            test_tryton.drop_db()
            test_tryton.activate_module(names)
            config = tools._get_config()
            for func in setup:
                func(config=config)
            test_tryton.backup_db_cache(cache_name)
            return config
    tools.activate_modules = activate_modules


def pytest_collect_file(file_path, parent):
    if (file_path.suffix == '.rst' and file_path.name.startswith('scenario')
            and file_path.parent.name == 'tests'):
        return ScenarioFile.from_parent(parent, path=file_path)


class ScenarioFile(pytest.File):
    def collect(self):
        yield ScenarioItem.from_parent(self, name=self.path.stem)


class ScenarioItem(pytest.Item):
    def runtest(self):
        from trytond.tests.test_tryton import (
            doctest_checker, doctest_setup, doctest_teardown)
        suite = doctest.DocFileSuite(
            str(self.path), module_relative=False,
            setUp=doctest_setup, tearDown=doctest_teardown,
            encoding='utf-8', checker=doctest_checker,
            optionflags=doctest.REPORT_ONLY_FIRST_FAILURE | doctest.ELLIPSIS)
        out = io.StringIO()
        result = unittest.TextTestRunner(stream=out, verbosity=0).run(suite)
        if not result.wasSuccessful():
            raise ScenarioFailure(out.getvalue())

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, ScenarioFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, 0, f"scenario: {self.name}"


class ScenarioFailure(Exception):
    pass
