// crm_sites: a CRM web form on any site.
//   <script src="https://crm.example/DB/sites/_static/embed.js"
//           data-form="FORM-ID" data-mode="inline|popup"
//           data-label="Contact us"></script>
// The form is built with DOM calls (text never becomes markup) and posts
// as JSON to the CRM, which answers only origins the form allows.
(function () {
    'use strict';
    var script = document.currentScript;
    if (!script) {
        return;
    }
    var uuid = script.getAttribute('data-form');
    var mode = script.getAttribute('data-mode') || 'inline';
    var base = script.src.replace(/_static\/embed\.js(\?.*)?$/, '');
    var endpoint = base + '_form/' + encodeURIComponent(uuid);
    var params = new URLSearchParams(window.location.search);
    var utm = ['utm_source', 'utm_medium', 'utm_campaign', 'utm_content',
        'utm_term'];
    var firstVisit;
    try {
        firstVisit = window.localStorage.getItem('crm_first_visit');
        if (!firstVisit) {
            firstVisit = new Date().toISOString();
            window.localStorage.setItem('crm_first_visit', firstVisit);
        }
    } catch (e) {
        firstVisit = '';
    }

    function el(tag, attrs, text) {
        var node = document.createElement(tag);
        Object.keys(attrs || {}).forEach(function (key) {
            node.setAttribute(key, attrs[key]);
        });
        if (text) {
            node.textContent = text;
        }
        return node;
    }

    function build(def) {
        var form = el('form', {'class': 'crm-form crm-embed', 'novalidate': ''});
        var notice = el('p', {'class': 'notice', 'role': 'alert', 'hidden': ''});
        form.appendChild(notice);
        var errors = {};
        var fields = def.fields.slice();
        if (def.consent) {
            fields.push({key: '_consent', label: def.consent_text,
                type: 'checkbox', required: true});
        }
        fields.forEach(function (field) {
            var id = 'crm-' + uuid.slice(0, 8) + '-' + field.key;
            var label = field.label + (field.required ? ' *' : '');
            var control;
            if (field.type === 'hidden') {
                form.appendChild(el('input', {type: 'hidden', name: field.key,
                    value: field['default'] || ''}));
                return;
            }
            var box = el('div', {'class': 'fld'});
            if (field.type === 'checkbox') {
                var wrap = el('label');
                control = el('input', {type: 'checkbox', name: field.key,
                    value: '1', id: id});
                wrap.appendChild(control);
                wrap.appendChild(document.createTextNode(' ' + label));
                box.appendChild(wrap);
            } else {
                box.appendChild(el('label', {'for': id}, label));
                if (field.type === 'choice') {
                    control = el('select', {id: id, name: field.key});
                    control.appendChild(el('option', {value: ''}));
                    (field.choices || []).forEach(function (choice) {
                        control.appendChild(el('option', {value: choice}, choice));
                    });
                } else if (field.type === 'text') {
                    control = el('textarea', {id: id, name: field.key, rows: '4'});
                } else {
                    control = el('input', {id: id, name: field.key,
                        type: {phone: 'tel', email: 'email'}[field.type] || 'text'});
                }
                box.appendChild(control);
            }
            if (field.required) {
                control.setAttribute('aria-required', 'true');
            }
            var error = el('span', {'class': 'err', id: id + '-err', hidden: ''});
            box.appendChild(error);
            errors[field.key] = [control, error];
            form.appendChild(box);
        });
        var honeypot = el('div', {'class': 'crm-hp', 'aria-hidden': 'true',
            style: 'position:absolute;left:-10000px'});
        honeypot.appendChild(el('input', {name: '_website', tabindex: '-1',
            autocomplete: 'off'}));
        form.appendChild(honeypot);
        var button = el('button', {type: 'submit'}, def.submit_label || 'Send');
        form.appendChild(button);

        form.addEventListener('submit', function (event) {
            event.preventDefault();
            var data = {_t: def.token, _referrer: document.referrer,
                _first_visit: firstVisit, _location: window.location.href};
            utm.forEach(function (name) {
                if (params.get(name)) {
                    data[name] = params.get(name);
                }
            });
            Array.prototype.forEach.call(form.elements, function (input) {
                if (!input.name) {
                    return;
                }
                if (input.type === 'checkbox') {
                    data[input.name] = input.checked ? '1' : '';
                } else {
                    data[input.name] = input.value;
                }
            });
            button.disabled = true;
            fetch(endpoint, {method: 'POST', mode: 'cors',
                headers: {'Content-Type': 'application/json',
                    'Accept': 'application/json'},
                body: JSON.stringify(data)})
                .then(function (response) {
                    return response.json().then(function (body) {
                        return {ok: response.ok, body: body};
                    });
                })
                .then(function (result) {
                    button.disabled = false;
                    Object.keys(errors).forEach(function (key) {
                        errors[key][0].removeAttribute('aria-invalid');
                        errors[key][1].hidden = true;
                    });
                    var body = result.body || {};
                    if (result.ok && body.redirect) {
                        window.location.assign(body.redirect);
                        return;
                    }
                    Object.keys(body.errors || {}).forEach(function (key) {
                        if (errors[key]) {
                            errors[key][0].setAttribute('aria-invalid', 'true');
                            errors[key][1].textContent = body.errors[key];
                            errors[key][1].hidden = false;
                        }
                    });
                    notice.textContent = body.message || body.error_description || '';
                    notice.className = 'notice ' + (result.ok ? 'good' : 'bad');
                    notice.hidden = !notice.textContent;
                    if (result.ok) {
                        form.reset();
                    }
                })
                .catch(function () {
                    button.disabled = false;
                    notice.textContent = def.error_message || 'Error';
                    notice.className = 'notice bad';
                    notice.hidden = false;
                });
        });
        return form;
    }

    function show(def) {
        var form = build(def);
        if (mode === 'popup') {
            var opener = el('button', {type: 'button', 'class': 'crm-open'},
                script.getAttribute('data-label') || def.name);
            var dialog = el('dialog', {'class': 'crm-dialog',
                'aria-label': def.name});
            var close = el('button', {type: 'button', 'class': 'crm-close',
                'aria-label': def.close_label || 'Close'}, '×');
            close.addEventListener('click', function () { dialog.close(); });
            dialog.appendChild(close);
            dialog.appendChild(form);
            opener.addEventListener('click', function () { dialog.showModal(); });
            script.parentNode.insertBefore(dialog, script.nextSibling);
            script.parentNode.insertBefore(opener, script.nextSibling);
        } else {
            script.parentNode.insertBefore(form, script.nextSibling);
        }
    }

    fetch(endpoint + '.json', {mode: 'cors'})
        .then(function (response) { return response.json(); })
        .then(show);
}());
