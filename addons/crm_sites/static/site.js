// crm_sites: published pages. Fills the form's UTM and referrer fields from
// the address the visitor came with and counts the view.
(function () {
    'use strict';
    var script = document.currentScript;
    var page = script && script.getAttribute('data-page');
    var params = new URLSearchParams(window.location.search);
    var utm = ['utm_source', 'utm_medium', 'utm_campaign', 'utm_content',
        'utm_term'];
    function fill() {
        document.querySelectorAll('form.crm-form').forEach(function (form) {
            utm.forEach(function (name) {
                var input = form.elements[name];
                if (input && !input.value && params.get(name)) {
                    input.value = params.get(name).slice(0, 200);
                }
            });
            var referrer = form.elements._referrer;
            if (referrer && !referrer.value) {
                referrer.value = document.referrer.slice(0, 500);
            }
        });
    }
    if (document.readyState === 'loading') {
        document.addEventListener('DOMContentLoaded', fill);
    } else {
        fill();
    }
    // Counters of the site (their hosts are allowed by the page's CSP).
    function load(src) {
        var tag = document.createElement('script');
        tag.async = true;
        tag.src = src;
        document.head.appendChild(tag);
    }
    var ymId = script && script.getAttribute('data-ym');
    if (ymId) {
        window.ym = window.ym || function () {
            (window.ym.a = window.ym.a || []).push(arguments);
        };
        window.ym.l = Date.now();
        load('https://mc.yandex.ru/metrika/tag.js');
        window.ym(Number(ymId), 'init', {clickmap: true, trackLinks: true});
    }
    var gaId = script && script.getAttribute('data-ga');
    if (gaId) {
        window.dataLayer = window.dataLayer || [];
        window.gtag = function () { window.dataLayer.push(arguments); };
        window.gtag('js', new Date());
        window.gtag('config', gaId);
        load('https://www.googletagmanager.com/gtag/js?id=' +
            encodeURIComponent(gaId));
    }
    if (page && navigator.sendBeacon) {
        var data = new FormData();
        data.append('page', page);
        data.append('utm_campaign', params.get('utm_campaign') || '');
        data.append('utm_source', params.get('utm_source') || '');
        navigator.sendBeacon('../_hit', data);
    }
}());
