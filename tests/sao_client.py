"""Driving the sao web client in Debian's Chromium (Playwright).

Shared by the browser tests: the browser launch and the login as a person
does it."""
import contextlib
import os

from playwright.sync_api import sync_playwright

CHROMIUM = '/usr/bin/chromium'
ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update',
    '--disable-sync']


def chromium_missing():
    # CI installs Debian's chromium (.ci/run); a developer may not have it.
    return not os.access(CHROMIUM, os.X_OK) and not os.environ.get('CI')


@contextlib.contextmanager
def browser(profile=None):
    "Yield a browser context of Debian's Chromium, headless"
    with sync_playwright() as playwright:
        if profile:
            context = playwright.chromium.launch_persistent_context(
                str(profile), executable_path=CHROMIUM, headless=True,
                args=ARGS, viewport={'width': 1400, 'height': 900})
        else:
            instance = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=ARGS)
            context = instance.new_context(
                viewport={'width': 1400, 'height': 900})
        try:
            yield context
        finally:
            context.close()


def without_database_list(env):
    """env for a server the web client logs in to with the database typed.

    sao's login dialog waits for the list of databases, and on a shared
    PostgreSQL server listing them waits on every other database's locks
    (a tenant being created elsewhere keeps ir_configuration locked); as
    in a production set-up, listing is off and the database is typed."""
    return dict(env, TRYTOND_DATABASE__LIST='False')


def sao_login(page, base, database, login, password):
    "Log in to sao at base on database as a person would"
    page.goto(f'{base}/#{database}')
    field = page.locator('input#database')
    field.wait_for()
    field.fill(database)
    page.locator('#login').fill(login)
    page.locator('#login').press('Enter')
    password_input = page.locator('input[type=password]')
    password_input.fill(password)
    password_input.press('Enter')
    page.locator('#menu').get_by_text('CRM', exact=True).first.wait_for()
