/* Open line chat widget: one <script> tag renders a chat box on any site.
   Messages are shown as text (never as HTML); the visitor token lives in a
   cookie of the site so the conversation follows the visitor's pages. */
(function () {
    'use strict';
    var S = __OPENLINES_SETTINGS__;
    var COOKIE = 'openlines_' + S.channel;
    var after = 0, polling = false, seen = {};

    function cookie() {
        var m = document.cookie.match(
            new RegExp('(?:^|; )' + COOKIE + '=([^;]*)'));
        return m ? decodeURIComponent(m[1]) : null;
    }
    function setCookie(value) {
        document.cookie = COOKIE + '=' + encodeURIComponent(value) +
            '; path=/; max-age=' + (3600 * 24 * 180) + '; SameSite=Lax';
    }
    function post(path, body) {
        body.key = S.key;
        var visitor = cookie();
        if (visitor) { body.visitor = visitor; }
        // text/plain keeps it a simple request (no CORS preflight)
        return fetch(S.base + path, {
            method: 'POST', body: JSON.stringify(body),
            headers: {'Content-Type': 'text/plain;charset=UTF-8'}
        }).then(function (r) {
            return r.json().then(function (data) {
                if (!r.ok) { throw new Error(data.error_description || r.status); }
                return data;
            });
        });
    }
    function el(tag, attrs, text) {
        var node = document.createElement(tag);
        Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
        if (text) { node.textContent = text; }
        return node;
    }

    var box = el('div', {id: 'openlines-widget', style:
        'position:fixed;right:16px;bottom:16px;width:300px;font:14px sans-serif;' +
        'background:#fff;border:1px solid #888;border-radius:6px;z-index:99999;' +
        'box-shadow:0 2px 8px rgba(0,0,0,.3)'});
    var head = el('div', {'class': 'openlines-title', style:
        'background:#2a6ebb;color:#fff;padding:6px 8px;cursor:pointer'}, S.title);
    var body = el('div', {'class': 'openlines-body'});
    var log = el('div', {'class': 'openlines-messages', style:
        'height:220px;overflow-y:auto;padding:6px'});
    var contact = el('div', {'class': 'openlines-contact', style: 'padding:0 6px'});
    var name = el('input', {name: 'name', placeholder: S.labels.name, style: 'width:32%'});
    var phone = el('input', {name: 'phone', placeholder: S.labels.phone, style: 'width:32%'});
    var email = el('input', {name: 'email', placeholder: S.labels.email, style: 'width:32%'});
    contact.append(name, phone, email);
    var form = el('form', {style: 'display:flex;padding:6px'});
    var input = el('textarea', {name: 'text', rows: '2', style: 'flex:1',
        placeholder: S.labels.text});
    var send = el('button', {type: 'submit'}, S.labels.send);
    var file = el('input', {type: 'file', name: 'file', title: S.labels.file,
        style: 'width:80px'});
    var status = el('div', {'class': 'openlines-status', style: 'color:#a00;padding:0 6px'});
    var rating = el('div', {'class': 'openlines-rating', style: 'display:none;padding:6px'});
    form.append(input, file, send);
    body.append(log, contact, form, rating, status);
    box.append(head, body);
    head.addEventListener('click', function () {
        body.style.display = body.style.display === 'none' ? '' : 'none';
    });

    function show(message) {
        if (seen[message.id]) { return; }
        seen[message.id] = true;
        after = Math.max(after, message.id);
        var row = el('div', {'class': 'openlines-message openlines-' +
            message.direction, style: 'margin:3px 0;' +
            (message.direction === 'in' ? 'text-align:right' : '')});
        if (message.author) {
            row.append(el('b', {}, message.author + ': '));
        }
        row.append(document.createTextNode(message.text));
        if (message.attachment) {
            row.append(el('i', {}, ' [' + message.attachment + ']'));
        }
        log.append(row);
        log.scrollTop = log.scrollHeight;
    }
    function showRating(data) {
        if (!data.rating || rating.childNodes.length) { return; }
        rating.style.display = '';
        [1, 2, 3, 4, 5].forEach(function (value) {
            var b = el('button', {type: 'button', 'class': 'openlines-rate'},
                String(value));
            b.addEventListener('click', function () {
                post('/rate', {rating: value}).then(function () {
                    rating.textContent = '\u2605 ' + value;
                });
            });
            rating.append(b);
        });
    }
    function poll() {
        if (polling || !cookie()) { return; }
        polling = true;
        post('/poll', {after: after}).then(function (data) {
            data.messages.forEach(show);
            showRating(data);
            polling = false;
            poll();
        }, function (error) {
            polling = false;
            status.textContent = String(error.message || error);
            setTimeout(poll, 5000);
        });
    }
    form.addEventListener('submit', function (event) {
        event.preventDefault();
        var text = input.value.trim();
        var chosen = file.files && file.files[0];
        if (!text && !chosen) { return; }
        send.disabled = true;
        var message = {text: text, name: name.value, phone: phone.value,
            email: email.value, id: Date.now() + '-' + Math.random()};
        // a file goes base64 in the JSON of /attach (still no preflight)
        var ready = !chosen ? Promise.resolve('/message') : new Promise(
            function (resolve, reject) {
                var reader = new FileReader();
                reader.onload = function () {
                    message.file = {name: chosen.name, type: chosen.type,
                        data: String(reader.result).split(',')[1] || ''};
                    resolve('/attach');
                };
                reader.onerror = reject;
                reader.readAsDataURL(chosen);
            });
        ready.then(function (path) {
            return post(path, message);
        }).then(function (data) {
            setCookie(data.visitor);
            input.value = '';
            file.value = '';
            status.textContent = '';
            send.disabled = false;
            rating.style.display = 'none';
            rating.textContent = '';
            poll();
        }, function (error) {
            status.textContent = S.labels.error + ' ' +
                String(error.message || error);
            send.disabled = false;
        });
    });
    function start() {
        document.body.append(box);
        poll();
    }
    if (document.body) { start(); } else {
        document.addEventListener('DOMContentLoaded', start);
    }
})();
