/* The CRM start page of the user: what is due, my open deals by stage,
   the funnel of the pipeline this month, and the latest incoming calls and
   conversations when the tenant has those features (crm.home.load says
   which). */
(function() {
    'use strict';
    const {rpc, el, money, formUrl} = window.CrmPage;
    let labels = {};

    function t(key) {
        return labels[key] || key;
    }

    function section(id, title, ...content) {
        return el('section', {id: id}, el('h2', {}, title), ...content);
    }

    function empty(rows) {
        return rows.length ? null : el('p', {class: 'empty'}, t('nothing'));
    }

    function activities(rows, data) {
        return el('table', {}, el('tbody', {}, rows.map(row => el('tr', {
            class: row.overdue ? 'overdue' : null},
            el('td', {}, el('time', {}, row.deadline)),
            el('td', {}, el('a', {target: 'crm-web-client',
                href: formUrl('crm.activity', row.id, data.activity_form)},
                row.subject)),
            el('td', {}, row.opportunity ? el('a', {
                target: 'crm-web-client',
                href: formUrl('sale.opportunity', row.opportunity,
                    row.opportunity_type === 'lead' ? data.lead_form
                        : data.deal_form,
                    {crm_type: row.opportunity_type || 'deal'})},
                row.opportunity_name) : '')))));
    }

    function dealsByStage(rows) {
        const shown = rows.filter(r => r.count);
        return [el('table', {}, el('tbody', {}, shown.map(row => el('tr', {},
            el('td', {}, row.pipeline + ' / ' + row.stage),
            el('td', {class: 'number'}, String(row.count)),
            el('td', {class: 'number'}, money(row.amount)))))),
            empty(shown)];
    }

    function funnel(data) {
        if (!data) {
            return [empty([])];
        }
        const top = Math.max(1, ...data.steps.map(s => s.count));
        const rows = data.steps.map(step => {
            const bar = el('div', {class: 'bar'});
            // CSSOM, not a style attribute: the page's CSP forbids those.
            bar.style.width = Math.round(100 * step.count / top) + '%';
            if (step.color) {
                bar.style.background = step.color;
            }
            return el('tr', {}, el('td', {}, step.stage),
                el('td', {class: 'number'}, String(step.count)),
                el('td', {class: 'funnel-bar'}, bar));
        });
        rows.push(el('tr', {class: 'lost'}, el('td', {}, t('lost')),
            el('td', {class: 'number'}, String(data.lost)), el('td', {})));
        return [el('p', {}, data.pipeline),
            el('table', {}, el('tbody', {}, rows))];
    }

    async function start() {
        const main = document.getElementById('home');
        let data;
        try {
            data = await rpc('crm.home', 'load', []);
        } catch (error) {
            main.setAttribute('aria-busy', 'false');
            window.CrmPage.failed(error);
            return;
        }
        labels = data.labels;
        document.title = t('home');
        document.getElementById('title').textContent = t('home');
        document.getElementById('links').replaceChildren(
            el('a', {href: 'board?kind=deal'}, t('deal_board')),
            el('a', {href: 'board?kind=lead'}, t('lead_board')));
        const sections = [
            section('activities', t('activities'),
                activities(data.activities, data), empty(data.activities)),
            section('deals', t('deals_by_stage'),
                ...dealsByStage(data.deals_by_stage)),
            section('funnel', t('funnel'), ...funnel(data.funnel)),
        ];
        for (const feature of ['calls', 'conversations']) {
            const rows = data.features[feature];
            if (rows) {
                sections.push(section(feature, t(feature),
                    activities(rows, data), empty(rows)));
            }
        }
        main.replaceChildren(...sections);
        main.setAttribute('aria-busy', 'false');
    }

    start();
})();
