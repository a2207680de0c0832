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
    """Give each pytest-xdist worker its own test database and cache.

    Tryton's test set-up reads DB_NAME and DB_CACHE when first imported,
    which happens after this hook, during collection."""
    worker = os.environ.get('PYTEST_XDIST_WORKER')
    if not worker:
        return
    if os.environ.get('DB_CACHE'):
        os.environ['DB_CACHE'] = os.path.join(os.environ['DB_CACHE'], worker)
    uri = os.environ.get('TRYTOND_DATABASE__URI', '')
    if not uri.startswith('sqlite') and uri:
        name = os.environ.get('DB_NAME') or f'test_{int(time.time())}'
        os.environ['DB_NAME'] = f'{name}_{worker}'


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
