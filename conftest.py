"""Collect Tryton's doctest scenarios (scenario_*.rst) as pytest items.

Tryton modules expose them through unittest's load_tests protocol, which
pytest does not follow; this runs them with Tryton's own set-up, tear-down
and output checker so they behave as under `python -m unittest`; and
give each pytest-xdist worker (`make test` runs two) its own test database.
"""
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
    if worker and folder:
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
    the same database again."""
    import fcntl

    from trytond.tests import test_tryton

    activate = test_tryton.activate_module

    def activate_module(modules, lang='en'):
        names = [modules] if isinstance(modules, str) else list(modules)
        key = hashlib.sha1(f'{names}{lang}'.encode()).hexdigest()
        os.makedirs(cache, exist_ok=True)
        with open(os.path.join(cache, f'.lock-{key}'), 'w') as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                return activate(modules, lang=lang)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
    test_tryton.activate_module = activate_module


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
