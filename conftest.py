"""Collect Tryton's doctest scenarios (scenario_*.rst) as pytest items.

Tryton modules expose them through unittest's load_tests protocol, which
pytest does not follow; this runs them with Tryton's own set-up, tear-down
and output checker so they behave as under `python -m unittest`; and
give each pytest-xdist worker (`make test` runs two) its own test database.
"""
import doctest
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
    if not worker:
        return
    uri = os.environ.get('TRYTOND_DATABASE__URI', '')
    if not uri.startswith('sqlite') and uri:
        name = os.environ.get('DB_NAME') or f'test_{int(time.time())}'
        os.environ['DB_NAME'] = f'{name}_{worker}'
    if os.environ.get('DB_CACHE'):
        _serialise_module_activation(os.environ['DB_CACHE'])


def _serialise_module_activation(cache):
    """One worker builds the database of a set of modules and caches it
    while the other waits, then restores that cache instead of building
    the same database again."""
    import fcntl
    import hashlib

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
