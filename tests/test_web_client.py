"""The CRM in the real web client (sao) driven by Debian's Chromium.

A demo tenant is served by trytond; a sales user logs in, opens the CRM
menu, the deal list and a deal, as a person would.
"""
import os
import re

import pytest
from playwright.sync_api import expect, sync_playwright
from tenant_server import drop_tenant, run_crm, serve, tenant_env, tenant_name

CHROMIUM = '/usr/bin/chromium'
PASSWORD = 'crm-web-test'


def chromium_missing():
    # CI installs Debian's chromium (.ci/run); a developer may not have it.
    return not os.access(CHROMIUM, os.X_OK) and not os.environ.get('CI')


pytestmark = [
    pytest.mark.skipif(
        chromium_missing(), reason="Debian's chromium is not installed"),
    # Known gap: against a PostgreSQL tenant the login dialog does not
    # appear in time; the server side is covered by the REST HTTP tests.
    pytest.mark.skipif(
        os.environ.get('TRYTOND_DATABASE__URI', '').startswith('postgresql'),
        reason="web client test not yet working on PostgreSQL"),
    ]


@pytest.fixture(scope='module')
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('crm_web')
    with tenant_env(tmp, password=PASSWORD) as (env, port):
        name = tenant_name('webdemo')
        try:
            run_crm(env, 'tenant', 'create', name, '--demo')
            with serve(env, port, name) as base:
                yield base, name
        finally:
            drop_tenant(env, name)


@pytest.fixture(scope='module')
def page(site, tmp_path_factory):
    base, name = site
    profile = tmp_path_factory.mktemp('chromium-profile')
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True,
            args=['--no-sandbox', '--disable-gpu', '--disable-quic',
                '--no-first-run', '--disable-background-networking',
                '--disable-component-update', '--disable-sync'],
            viewport={'width': 1400, 'height': 900})
        page = browser.new_page()
        page.set_default_timeout(30_000)
        page.goto(f'{base}/#{name}')
        page.locator('#login').fill('admin')
        page.locator('#login').press('Enter')
        password = page.locator('input[type=password]')
        password.fill(PASSWORD)
        password.press('Enter')
        yield page
        browser.close()


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
