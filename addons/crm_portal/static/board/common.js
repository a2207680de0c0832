/* What the CRM pages (board, home) share: JSON-RPC in the web client's
   session, DOM helpers, links into the web client.

   The page lives under /<database>/crm/..., the path of sao's HttpOnly
   session cookie, so the browser sends the cookie with every call to
   /<database>/rpc/ and trytond runs it as the logged-in user.  No token is
   read or stored by this code. */
(function() {
    'use strict';

    const parts = window.location.pathname.split('/');
    const database = decodeURIComponent(parts[1] || '');
    let context = null;
    let rpcId = 0;

    class RpcError extends Error {
        constructor(message, description, status) {
            super(message);
            this.description = description || '';
            this.status = status || 0;
        }
    }

    async function call(method, params) {
        const response = await fetch(
            '/' + encodeURIComponent(database) + '/rpc/', {
                method: 'POST',
                credentials: 'same-origin',
                headers: {'Content-Type': 'application/json'},
                body: JSON.stringify({
                    id: ++rpcId, method: method, params: params}),
            });
        if (response.status === 401 || response.status === 403) {
            throw new RpcError('', '', response.status);
        }
        if (!response.ok) {
            throw new RpcError(
                response.status + ' ' + response.statusText, '',
                response.status);
        }
        const data = await response.json();
        if (data.error) {
            // [name, [message, description, domain]] for a UserError,
            // [name, message] for the others.
            const [, args] = data.error;
            if (Array.isArray(args)) {
                throw new RpcError(String(args[0]), String(args[1] || ''));
            }
            throw new RpcError(String(args));
        }
        return data.result;
    }

    /* Call model.<model>.<method>(...args) with the user's context. */
    async function rpc(model, method, args) {
        if (context === null) {
            context = await call(
                'model.res.user.get_preferences', [true, {}]);
        }
        return call('model.' + model + '.' + method,
            (args || []).concat([context]));
    }

    /* Create an element: el('div', {class: 'x', onclick: f}, child...) */
    function el(tag, attributes, ...children) {
        const node = document.createElement(tag);
        for (const [key, value] of Object.entries(attributes || {})) {
            if (value === null || value === undefined || value === false) {
                continue;
            }
            if (key.startsWith('on')) {
                node.addEventListener(key.substring(2), value);
            } else if (key === 'dataset') {
                Object.assign(node.dataset, value);
            } else {
                node.setAttribute(key, value === true ? '' : value);
            }
        }
        for (const child of children.flat()) {
            if (child === null || child === undefined || child === false) {
                continue;
            }
            // Text always goes in as text: nothing from the server is HTML.
            node.append(child instanceof Node ? child : String(child));
        }
        return node;
    }

    function language() {
        return (context && context.language || 'en').replace('_', '-');
    }

    function money(amount, currency) {
        const value = Number(amount || 0);
        try {
            return new Intl.NumberFormat(language(), {
                maximumFractionDigits: 2, minimumFractionDigits: 0,
            }).format(value) + (currency ? ' ' + currency : '');
        } catch (e) {
            return value.toFixed(2) + (currency ? ' ' + currency : '');
        }
    }

    /* The URL of a record's form in the web client (sao's URL scheme). */
    function formUrl(model, id, viewId, extraContext) {
        let url = '/#' + encodeURIComponent(database) + '/model/' + model +
            '/' + id;
        const params = [];
        if (viewId) {
            params.push('views=' + encodeURIComponent(
                JSON.stringify([viewId])));
        }
        if (extraContext) {
            params.push('context=' + encodeURIComponent(
                JSON.stringify(extraContext)));
        }
        return params.length ? url + ';' + params.join('&') : url;
    }

    /* Show message (and its detail) in the page's alert area. */
    function notify(message, detail, kind) {
        const area = document.getElementById('notice');
        if (!area) {
            return;
        }
        area.replaceChildren(
            el('strong', {}, message),
            detail ? el('span', {class: 'detail'}, ' ' + detail) : null);
        area.className = 'notice ' + (kind || 'error');
        area.hidden = false;
    }

    function clearNotice() {
        const area = document.getElementById('notice');
        if (area) {
            area.hidden = true;
        }
    }

    /* Show error; without a session, go to the web client's login (the
       page has no text of its own to say so before it knows the user). */
    function failed(error, labels) {
        if (error instanceof RpcError && !error.message && error.status) {
            if (labels && labels.session) {
                notify(labels.session);
            } else {
                window.location.assign('/#' + encodeURIComponent(database));
            }
        } else {
            notify(error.message, error.description);
        }
    }

    window.CrmPage = {
        database, rpc, el, money, formUrl, notify, clearNotice, RpcError,
        failed,
        context: () => context,
    };
})();
