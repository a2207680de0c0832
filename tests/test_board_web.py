"""The deal board in the real web client (sao) driven by Debian's Chromium.

A demo tenant is served by trytond; the administrator logs in to the web
client, opens the deal board from the CRM menu (no second login), drags a
deal to the next stage, sees the stage saved and the task its automation
rule created, and sees a move made stale by another change come back.
"""
import re

import pytest
from playwright.sync_api import expect, sync_playwright
from sao_client import (
    ARGS, CHROMIUM, chromium_missing, sao_login, without_database_list)
from tenant_server import (
    create_tenant, drop_tenant, serve, tenant_env, tenant_name)

PASSWORD = 'crm-board-test'
TASK = "Send the proposal"


pytestmark = pytest.mark.skipif(
    chromium_missing(), reason="Debian's chromium is not installed")


@pytest.fixture(scope='module', autouse=True)
def patient_expect():
    "The web client loads slowly on a busy machine: wait as actions do"
    expect.set_options(timeout=60_000)
    yield
    expect.set_options(timeout=5_000)  # Playwright's default


@pytest.fixture(scope='module')
def site(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('crm_board')
    with tenant_env(tmp, password=PASSWORD) as (env, port):
        name = tenant_name('boarddemo')
        try:
            create_tenant(env, name, '--demo')
            with serve(without_database_list(env), port, name) as base:
                yield base, name
        finally:
            drop_tenant(env, name)


def log_in(playwright, profile, base, name, login, password):
    "A browser whose web client is logged in as login; (context, page)"
    context = playwright.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, headless=True, args=ARGS,
        viewport={'width': 1600, 'height': 900})
    context.set_default_timeout(60_000)
    page = context.new_page()
    sao_login(page, base, name, login, password)
    return context, page


@pytest.fixture(scope='module')
def playwright():
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope='module')
def browser(site, playwright, tmp_path_factory):
    base, name = site
    context, page = log_in(playwright,
        tmp_path_factory.mktemp('chromium-profile'), base, name,
        'admin', PASSWORD)
    yield context, page
    context.close()


def open_board(context, page):
    "Open the deal board from the CRM menu; return its page"
    page.locator('#menu').get_by_text('CRM', exact=True).first.click()
    with context.expect_page() as opened:
        page.locator('#menu').get_by_text(
            'Deal Board', exact=True).first.click()
    board = opened.value
    expect(board.locator('.column').first).to_be_visible()
    expect(board.locator('#board')).to_have_attribute('aria-busy', 'false')
    return board


@pytest.fixture(scope='module')
def board(browser, tmp_path_factory):
    "The deal board, opened from the CRM menu of the logged-in client"
    context, page = browser
    page.locator('#menu').get_by_text('CRM', exact=True).first.click()
    with context.expect_page() as opened:
        page.locator('#menu').get_by_text(
            'Deal Board', exact=True).first.click()
    board = opened.value
    errors = []
    board.on('pageerror', lambda error: errors.append(str(error)))
    expect(board.locator('.column').first).to_be_visible()
    expect(board.locator('#board')).to_have_attribute('aria-busy', 'false')
    board.errors = errors
    board.screenshot(
        path=str(tmp_path_factory.getbasetemp() / 'board.png'))
    return board


def rpc(page, model, method, *args):
    "Call the server as the page's user (in its web client session)"
    return page.evaluate(
        '([model, method, args]) => CrmPage.rpc(model, method, args)',
        [model, method, list(args)])


def column(board, index):
    return board.locator('.column').nth(index)


def card_ids(board, index):
    return [int(i) for i in column(board, index).locator(
            '.card').evaluate_all('cards => cards.map(c => c.dataset.id)')]


def count(board, index):
    return int(column(board, index).locator('.totals .count').inner_text())


def test_board_opens_in_session(board):
    "The board shows the pipeline's stages with totals and deal cards"
    names = board.locator('.column h2').all_inner_texts()
    assert names[:2] == ['New', 'Preparing Documents'], names
    assert count(board, 0) >= len(card_ids(board, 0)) > 0
    first = column(board, 0).locator('.card').first
    expect(first.locator('.card-title')).to_have_attribute(
        'href', re.compile(r'/#.+/model/sale\.opportunity/\d+'))
    assert board.errors == []


def test_card_opens_deal_form(browser, board):
    "A card's title opens the deal in the web client's form, logged in"
    context, _ = browser
    title = column(board, 0).locator('.card-title').first
    text = title.inner_text()
    with context.expect_page() as opened:
        title.click()
    form = opened.value
    expect(form.locator('input#login')).to_have_count(0)
    expect(form.locator(':is(label):visible').filter(
            has_text=re.compile(r'^\s*Stage:\s*$')).first).to_be_visible(
        timeout=60_000)
    # The form shows this deal: its title is in one of the fields.
    form.wait_for_function(
        "text => [...document.querySelectorAll('input')]"
        ".some(i => i.value === text)", arg=text)
    form.close()


def test_drag_to_next_stage_saves_and_runs_automation(board):
    "Dropping a card on the next stage saves it and the stage's rule runs"
    stages = rpc(board, 'crm.pipeline.stage', 'search_read',
        [['code', '=', 'PREPARATION']], 0, 1, None, ['pipeline'])
    employee = board.evaluate('CrmPage.context().employee')
    rpc(board, 'crm.automation.rule', 'create', [{
                'name': "Proposal", 'pipeline': stages[0]['pipeline'],
                'stage': stages[0]['id'], 'action': 'activity',
                'activity_type': 'task', 'subject': TASK,
                'assignee': 'employee', 'employee': employee,
                'deadline_interval': 0, 'deadline_unit': 'days',
                }])
    deal_id = card_ids(board, 0)[0]
    before = count(board, 1)
    card = board.locator(f'.card[data-id="{deal_id}"]')
    card.drag_to(column(board, 1).locator('.cards'))
    moved = column(board, 1).locator(f'.card[data-id="{deal_id}"]')
    expect(moved).to_be_visible()
    expect(moved).not_to_have_class(re.compile('pending'))
    assert count(board, 1) == before + 1
    deal, = rpc(board, 'sale.opportunity', 'read', [deal_id],
        ['stage.code'])
    assert deal['stage.']['code'] == 'PREPARATION'
    tasks = rpc(board, 'crm.activity', 'search_read',
        [['opportunity', '=', deal_id], ['subject', '=', TASK]],
        0, None, None, ['subject'])
    assert len(tasks) == 1
    # Loaded again, the board shows the deal in its new stage.
    board.reload()
    expect(column(board, 1).locator(f'.card[data-id="{deal_id}"]')
        ).to_be_visible()


def test_stale_move_comes_back(board):
    "A deal changed elsewhere after the board loaded does not move"
    deal_id = card_ids(board, 0)[0]
    rpc(board, 'sale.opportunity', 'write', [deal_id],
        {'comment': "Changed by a colleague"})
    card = board.locator(f'.card[data-id="{deal_id}"]')
    card.drag_to(column(board, 1).locator('.cards'))
    notice = board.locator('#notice')
    expect(notice).to_be_visible()
    expect(notice).to_contain_text('in the meantime')
    expect(column(board, 0).locator(f'.card[data-id="{deal_id}"]')
        ).to_be_visible()
    deal, = rpc(board, 'sale.opportunity', 'read', [deal_id],
        ['stage.code'])
    assert deal['stage.']['code'] == 'NEW'


def test_lost_stage_asks_reason(board):
    "Dropping on the lost stage asks why; cancelling keeps the deal"
    deal_id = card_ids(board, 0)[-1]
    lost = board.locator('.column.kind-lost')
    board.locator(f'.card[data-id="{deal_id}"]').drag_to(
        lost.locator('.cards'))
    dialog = board.locator('#dialog')
    expect(dialog).to_be_visible()
    dialog.locator('textarea').fill("Chose a competitor")
    dialog.locator('button.ok').click()
    expect(lost.locator(f'.card[data-id="{deal_id}"]')).to_be_visible()
    expect(lost.locator(f'.card[data-id="{deal_id}"]')).not_to_have_class(
        re.compile('pending'))
    deal, = rpc(board, 'sale.opportunity', 'read', [deal_id],
        ['state', 'lost_reason'])
    assert (deal['state'], deal['lost_reason']) == (
        'lost', "Chose a competitor")


def test_move_refused_by_rights_comes_back(
        site, playwright, board, tmp_path_factory):
    "A seller cannot move a deal they only observe: it comes back"
    base, name = site
    seller, = rpc(board, 'res.user', 'search_read',
        [['login', '=', 'd.kuznetsov']], 0, 1, None, ['employee'])
    deal, = rpc(board, 'sale.opportunity', 'search_read', [
            ['crm_type', '=', 'deal'], ['stage.code', '=', 'NEW'],
            ['employee', '!=', seller['employee']]], 0, 1, None, ['id'])
    rpc(board, 'sale.opportunity', 'write', [deal['id']],
        {'observers': [['add', [seller['employee']]]]})
    context, page = log_in(playwright,
        tmp_path_factory.mktemp('chromium-seller'), base, name,
        'd.kuznetsov', 'crm-demo')
    try:
        seller_board = open_board(context, page)
        card = seller_board.locator(f'.card[data-id="{deal["id"]}"]')
        expect(card).to_be_visible()
        card.drag_to(column(seller_board, 1).locator('.cards'))
        notice = seller_board.locator('#notice')
        expect(notice).to_contain_text('not allowed')
        expect(column(seller_board, 0).locator(
                f'.card[data-id="{deal["id"]}"]')).to_be_visible()
        seller_board.screenshot(
            path=str(tmp_path_factory.getbasetemp() / 'refused.png'))
    finally:
        context.close()
    stage, = rpc(board, 'sale.opportunity', 'read', [deal['id']],
        ['stage.code'])
    assert stage['stage.']['code'] == 'NEW'


def test_quick_create_in_column(board):
    "The + of a column creates a deal there"
    before = count(board, 0)
    column(board, 0).locator('button.add').click()
    dialog = board.locator('#dialog')
    dialog.locator('input[name=title]').fill("Board quick deal")
    dialog.locator('input[name=client]').fill("ООО «Доска»")
    dialog.locator('input[name=amount]').fill("1500")
    dialog.locator('button.ok').click()
    card = column(board, 0).locator('.card').filter(
        has_text="Board quick deal")
    expect(card).to_contain_text("ООО «Доска»")
    assert count(board, 0) == before + 1
    deal_id = int(card.get_attribute('data-id'))
    deal, = rpc(board, 'sale.opportunity', 'read', [deal_id],
        ['stage.code', 'party.name'])
    assert deal['stage.']['code'] == 'NEW'
    assert deal['party.']['name'] == "ООО «Доска»"


def test_home_page_lists_due_task(browser, board, tmp_path_factory):
    "The CRM home shows the user's task due today"
    context, page = browser
    with context.expect_page() as opened:
        page.locator('#menu').get_by_text(
            'CRM Home', exact=True).first.click()
    home = opened.value
    expect(home.locator('#activities')).to_contain_text(TASK)
    expect(home.locator('#funnel tr').first).to_be_visible()
    assert home.locator('#calls').count() == 0
    home.screenshot(path=str(tmp_path_factory.getbasetemp() / 'home.png'))
