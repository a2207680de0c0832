/* The deal (by stage) and lead (by status) board.

   Columns come with their totals and a first page of cards; the rest of a
   column is fetched a page at a time when its end scrolls into view, so a
   pipeline of thousands of deals never draws them all at once.  A card
   dropped on another column is moved on the server; until it answers the
   card waits in its new place, and it goes back with the reason shown if
   the move is refused (rights, a concurrent change, a missing reason). */
(function() {
    'use strict';
    const {rpc, el, money, formUrl, notify, clearNotice, RpcError} =
        window.CrmPage;
    const params = new URLSearchParams(window.location.search);
    const kind = params.get('kind') === 'lead' ? 'lead' : 'deal';
    const model = 'crm.board';
    let setup = null;
    let labels = {};
    let filters = {};
    let columns = new Map();   // id -> column state
    let generation = 0;        // drops answers of an outdated load
    let dragged = null;

    function t(key) {
        return labels[key] || key;
    }

    function failed(error) {
        window.CrmPage.failed(error, labels);
    }

    function option(value, text, selected) {
        return el('option', {value: value, selected: selected}, text);
    }

    function drawFilters() {
        const form = document.getElementById('filters');
        const fields = [];
        if (kind === 'deal') {
            fields.push(el('label', {}, t('pipeline'), el('select', {
                name: 'pipeline', id: 'filter-pipeline'},
                setup.pipelines.map(p => option(
                    p.id, p.name, p.id === filters.pipeline)))));
        }
        fields.push(el('label', {}, t('scope'), el('select', {
            name: 'scope', id: 'filter-scope'},
            ['all', 'team', 'mine'].map(s => option(
                s, t(s), s === filters.scope)))));
        fields.push(el('label', {}, t('responsible'), el('select', {
            name: 'responsible', id: 'filter-responsible'},
            option('', t('anyone'), !filters.responsible),
            setup.employees.map(e => option(
                e.id, e.name, e.id === filters.responsible)))));
        fields.push(el('label', {}, t('period'), el('select', {
            name: 'period', id: 'filter-period'},
            [['', 'any_time'], ['today', 'today'], ['week', 'week'],
                ['month', 'month'], ['quarter', 'quarter'],
                ['year', 'year']].map(([v, k]) => option(
                v, t(k), v === (filters.period || ''))))));
        fields.push(el('label', {}, t('search'), el('input', {
            type: 'search', name: 'search', id: 'filter-search',
            value: filters.search || '', maxlength: 100})));
        form.replaceChildren(...fields);
        let timer = null;
        const changed = () => {
            const data = new FormData(form);
            filters = {
                pipeline: Number(data.get('pipeline')) || null,
                scope: data.get('scope'),
                responsible: Number(data.get('responsible')) || null,
                period: data.get('period') || '',
                search: data.get('search') || '',
            };
            rpc(model, 'remember', [kind, filters]).catch(failed);
            load();
        };
        form.addEventListener('change', changed);
        form.addEventListener('input', event => {
            if (event.target.name === 'search') {
                clearTimeout(timer);
                timer = setTimeout(changed, 400);
            }
        });
        form.addEventListener('submit', event => event.preventDefault());
    }

    function drawCard(card) {
        const activity = card.activity;
        const node = el('article', {
            class: 'card' + (activity && activity.overdue ? ' overdue' : ''),
            draggable: 'true',
            tabindex: '0',
            dataset: {id: card.id},
            ondragstart: event => {
                dragged = node;
                node.classList.add('dragging');
                event.dataTransfer.effectAllowed = 'move';
                event.dataTransfer.setData('text/plain', String(card.id));
            },
            ondragend: () => {
                node.classList.remove('dragging');
                dragged = null;
            },
        },
        el('a', {class: 'card-title', target: 'crm-web-client',
            href: formUrl('sale.opportunity', card.id, setup.form_view,
                {crm_type: kind}),
            title: t('open')}, card.title),
        card.client ? el('div', {class: 'card-client'}, card.client) : null,
        el('div', {class: 'card-amount'}, money(card.amount, card.currency)),
        card.responsible ? el('div', {class: 'card-responsible'},
            card.responsible) : null,
        activity ? el('div', {class: 'card-activity'},
            el('time', {}, activity.deadline), ' ', activity.subject,
            activity.overdue ? el('span', {class: 'badge'},
                t('overdue')) : null)
            : el('div', {class: 'card-activity none'}, t('no_activity')));
        node._card = card;
        return node;
    }

    function drawTotals(column) {
        column.totals.replaceChildren(
            el('span', {class: 'count'}, String(column.count)),
            ' · ', money(column.amount));
    }

    function drawMore(column) {
        const left = column.count - column.loaded;
        column.more.hidden = left <= 0;
        column.more.textContent = t('more') + ' (' + left + ')';
    }

    async function loadMore(column) {
        if (column.loading || column.loaded >= column.count) {
            return;
        }
        column.loading = true;
        const mine = generation;
        try {
            const cards = await rpc(model, 'column',
                [kind, filters, column.id, column.loaded, setup.page_size]);
            if (mine !== generation) {
                return;
            }
            for (const card of cards) {
                if (!column.list.querySelector(
                        `.card[data-id="${card.id}"]`)) {
                    column.list.append(drawCard(card));
                }
            }
            column.loaded += cards.length;
            if (!cards.length) {
                column.loaded = column.count;
            }
            drawMore(column);
        } catch (error) {
            failed(error);
        } finally {
            column.loading = false;
        }
    }

    function drawColumn(data, observer) {
        const column = {
            id: data.id, kind: data.kind, name: data.name,
            count: data.count, amount: Number(data.amount),
            loaded: data.cards.length, loading: false,
        };
        column.totals = el('div', {class: 'totals'});
        column.list = el('div', {class: 'cards'},
            data.cards.map(drawCard));
        column.more = el('button', {type: 'button', class: 'more',
            onclick: () => loadMore(column)});
        const add = el('button', {type: 'button', class: 'add',
            title: t('add'), onclick: () => quickCreate(column)}, '+');
        column.node = el('section', {
            class: 'column kind-' + data.kind, dataset: {id: data.id},
            ondragover: event => {
                if (dragged) {
                    event.preventDefault();
                    column.node.classList.add('over');
                }
            },
            ondragleave: () => column.node.classList.remove('over'),
            ondrop: event => {
                event.preventDefault();
                column.node.classList.remove('over');
                if (dragged) {
                    move(dragged, column);
                }
            },
        },
        el('header', {},
            el('h2', {}, data.name), column.totals,
            (kind === 'deal' ? data.kind === 'in_progress'
                : data.kind === 'open') ? add : null),
        column.list, column.more);
        // CSSOM, not a style attribute: the page's CSP forbids those.
        column.node.querySelector('header').style.borderTopColor =
            data.color || '';
        drawTotals(column);
        drawMore(column);
        observer.observe(column.more);
        column.more._column = column;
        return column;
    }

    async function load() {
        const mine = ++generation;
        const board = document.getElementById('board');
        board.setAttribute('aria-busy', 'true');
        try {
            const data = await rpc(model, 'load', [kind, filters, {}]);
            if (mine !== generation) {
                return;
            }
            filters = data.filters;
            const observer = new IntersectionObserver(entries => {
                for (const entry of entries) {
                    if (entry.isIntersecting && !entry.target.hidden) {
                        loadMore(entry.target._column);
                    }
                }
            }, {root: null, rootMargin: '200px'});
            columns = new Map();
            const nodes = [];
            for (const item of data.columns) {
                const column = drawColumn(item, observer);
                columns.set(column.id, column);
                nodes.push(column.node);
            }
            board.replaceChildren(...nodes);
        } catch (error) {
            failed(error);
        } finally {
            board.setAttribute('aria-busy', 'false');
        }
    }

    /* Ask the dialog's fields; resolve with their values or null. */
    function ask(title, inputs, okKey) {
        const dialog = document.getElementById('dialog');
        const form = document.getElementById('dialog-form');
        form.replaceChildren(
            el('h3', {}, title),
            ...inputs.map(i => el('label', {}, i.label,
                i.multiline ? el('textarea', {name: i.name, required: true,
                    rows: 3, maxlength: 1000})
                    : el('input', {name: i.name, required: i.required,
                        type: i.type || 'text', step: i.step,
                        maxlength: 200}))),
            el('menu', {},
                el('button', {value: 'cancel', type: 'button', class: 'cancel',
                    onclick: () => dialog.close('cancel')}, t('cancel')),
                el('button', {value: 'ok', class: 'ok'},
                    t(okKey || 'move'))));
        return new Promise(resolve => {
            dialog.onclose = () => {
                if (dialog.returnValue === 'ok') {
                    const data = new FormData(form);
                    resolve(Object.fromEntries(data.entries()));
                } else {
                    resolve(null);
                }
            };
            dialog.returnValue = '';
            dialog.showModal();
        });
    }

    function columnOf(node) {
        return columns.get(Number(node.closest('.column').dataset.id));
    }

    function shift(column, count, amount) {
        column.count += count;
        column.amount += amount;
        column.loaded += count;
        drawTotals(column);
        drawMore(column);
    }

    async function move(node, target) {
        const source = columnOf(node);
        if (source === target) {
            return;
        }
        clearNotice();
        const card = node._card;
        let reason = null;
        if (kind === 'deal' && target.kind === 'lost') {
            const answer = await ask(t('lost_prompt'), [
                {name: 'reason', label: t('lost_prompt'), multiline: true}]);
            if (!answer || !answer.reason.trim()) {
                return;
            }
            reason = answer.reason;
        }
        const home = node.nextSibling;
        const amount = Number(card.amount);
        target.list.prepend(node);
        node.classList.add('pending');
        shift(source, -1, -amount);
        shift(target, 1, amount);
        try {
            const moved = await rpc(model, 'move',
                [kind, card.id, target.id, card.timestamp, reason]);
            const fresh = drawCard(moved);
            node.replaceWith(fresh);
            // The stage's automation may have moved it on already.
            const now = columns.get(moved.column);
            if (now && now !== target) {
                now.list.prepend(fresh);
                shift(target, -1, -amount);
                shift(now, 1, amount);
            }
        } catch (error) {
            node.classList.remove('pending');
            source.list.insertBefore(node, home && home.parentNode ===
                source.list ? home : null);
            shift(target, -1, -amount);
            shift(source, 1, amount);
            node.classList.add('refused');
            failed(error);
            if (error instanceof RpcError && error.message) {
                notify(error.message,
                    [error.description, t('refused')].filter(x => x)
                        .join(' '));
            }
        }
    }

    async function quickCreate(column) {
        const answer = await ask(t('add') + ': ' + column.name, [
            {name: 'title', label: t('title'), required: true},
            {name: 'client', label: t('client'), required: kind === 'deal'},
            {name: 'amount', label: t('amount'), type: 'number',
                step: '0.01'},
        ], 'create');
        if (!answer) {
            return;
        }
        try {
            const card = await rpc(model, 'quick_create',
                [kind, column.id, answer]);
            column.list.prepend(drawCard(card));
            shift(column, 1, Number(card.amount));
            clearNotice();
        } catch (error) {
            failed(error);
        }
    }

    async function start() {
        try {
            setup = await rpc(model, 'setup', [kind]);
        } catch (error) {
            labels = {};
            failed(error);
            document.getElementById('board').setAttribute(
                'aria-busy', 'false');
            return;
        }
        labels = setup.labels;
        filters = setup.filters;
        document.title = t(kind + '_board');
        document.getElementById('title').textContent = t(kind + '_board');
        document.documentElement.lang = (
            window.CrmPage.context().language || 'en').split('_')[0];
        drawFilters();
        await load();
    }

    start();
})();
