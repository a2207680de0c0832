"""The CRM in the real web client (sao) driven by Debian's Chromium.

A demo tenant is served by trytond; a sales user logs in, opens the CRM
menu, the deal list and a deal, as a person would.
"""
import re

import pytest
from playwright.sync_api import expect
from sao_client import (
    browser, chromium_missing, sao_login, without_database_list)
from tenant_server import (
    create_tenant, drop_tenant, serve, tenant_env, tenant_name)

PASSWORD = 'crm-web-test'

pytestmark = pytest.mark.skipif(
    chromium_missing(), reason="Debian's chromium is not installed")


@pytest.fixture(scope='module')
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('crm_web')
    with tenant_env(tmp, password=PASSWORD) as (env, port):
        name = tenant_name('webdemo')
        try:
            create_tenant(env, name, '--demo')
            with serve(without_database_list(env), port, name) as base:
                yield base, name
        finally:
            drop_tenant(env, name)


@pytest.fixture(scope='module')
def page(site, tmp_path_factory):
    base, name = site
    profile = tmp_path_factory.mktemp('chromium-profile')
    with browser(profile) as context:
        page = context.new_page()
        page.set_default_timeout(30_000)
        sao_login(page, base, name, 'admin', PASSWORD)
        yield page


def open_menu(page, *names):
    for name in names:
        page.locator('#menu').get_by_text(name, exact=True).first.click()


def test_crm_menu_lists_demo_deals(page, tmp_path_factory):
    expect(page.locator('#menu').get_by_text('CRM', exact=True)).to_be_visible()
    open_menu(page, 'CRM', 'Deals')
    tab = page.locator('.tab-content .tab-pane.active')
    expect(tab.locator('th').get_by_text('Stage')).to_be_visible()
    rows = tab.locator('table tbody tr')
    expect(rows.first).to_be_visible()
    assert rows.count() > 5
    page.screenshot(path=str(tmp_path_factory.getbasetemp() / 'deals.png'))


def test_open_deal_shows_pipeline_and_timeline(page, tmp_path_factory):
    # Every list inside the form must be one the client can draw (a
    # DateTime column needs widget="date"/"time" in a tree view).
    errors = []
    page.on('pageerror', lambda error: errors.append(str(error)))
    tab = page.locator('.tab-content .tab-pane.active')
    tab.locator('table tbody tr').first.get_by_text(
        re.compile('—')).first.dblclick()
    for text in ['Pipeline:', 'Stage:', 'Timeline', 'History',
            'Create Quote']:
        expect(page.locator(':is(label, a, button):visible').filter(
                has_text=re.compile(f'^\\s*{text}\\s*$', re.I)).first
            ).to_be_visible(timeout=60_000)
    page.screenshot(path=str(tmp_path_factory.getbasetemp() / 'deal.png'))
    assert errors == []
