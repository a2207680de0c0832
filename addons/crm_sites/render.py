# Blocks to HTML.  Input is plain data (a page snapshot), so a published
# version renders the same way in any worker; every value is escaped or
# sanitised here, at the one place where HTML is produced.
from .library import BLOCK_TYPES
from .sanitize import clean_html, esc, safe_url, video_embed_url

__all__ = ['render_page', 'render_form', 'render_form_page', 'token_marker',
    'ASSETS']

# Relative to the page (/<db>/sites/<site>/<slug> or /<slug> on a domain):
# one level up is where the shared assets and the form endpoints live.
ASSETS = '../_static/'
FORM_ACTION = '../_form/'


def token_marker(uuid):
    "Placeholder of the fill-time token, replaced when the page is served"
    return '__CRM_FORM_TOKEN_%s__' % uuid


def _classes(block):
    return ' '.join([
            'blk', 'blk-%s' % block['type'],
            'theme-%s' % (block.get('style_theme') or 'light'),
            'align-%s' % (block.get('style_align') or 'left'),
            'space-%s' % (block.get('style_spacing') or 'normal'),
            ])


def _heading(block, level='h2'):
    out = ''
    if block.get('heading'):
        out += '<%s>%s</%s>' % (level, esc(block['heading']), level)
    if block.get('subheading'):
        out += '<p class="lead">%s</p>' % esc(block['subheading'])
    return out


def _text(value):
    "Plain text with its line breaks"
    return '<br>'.join(esc(line) for line in str(value or '').splitlines())


def _items(block):
    return block.get('items') or []


def _header(block, site):
    links = ''.join(
        '<li><a href="%s">%s</a></li>' % (
            safe_url(i.get('link_url')), esc(i.get('title')))
        for i in _items(block))
    return ('<div class="wrap bar"><a class="brand" href="./">%s</a>'
        '<nav aria-label="%s"><ul>%s</ul></nav></div>') % (
        esc(block.get('heading')), esc(block.get('subheading') or 'Menu'),
        links)


def _hero(block, site):
    out = '<div class="wrap">' + _heading(block, 'h1')
    if block.get('body'):
        out += '<p>%s</p>' % _text(block['body'])
    if block.get('link_label'):
        out += '<p><a class="button" href="%s">%s</a></p>' % (
            safe_url(block.get('link_url')), esc(block['link_label']))
    out += '</div>'
    if block.get('image_url'):
        out += '<img class="hero-img" src="%s" alt="%s">' % (
            safe_url(block['image_url'], ''), esc(block.get('image_alt')))
    return out


def _textblock(block, site):
    return '<div class="wrap">%s<div class="rich">%s</div></div>' % (
        _heading(block), clean_html(block.get('body')))


def _image(block, site):
    caption = ''
    if block.get('subheading'):
        caption = '<figcaption>%s</figcaption>' % esc(block['subheading'])
    return ('<div class="wrap">%s<figure><img src="%s" alt="%s" '
        'loading="lazy">%s</figure></div>') % (
        _heading(block), safe_url(block.get('image_url'), ''),
        esc(block.get('image_alt')), caption)


def _cards(block, inner):
    cards = ''.join('<li class="card">%s</li>' % inner(i)
        for i in _items(block))
    return '<div class="wrap">%s<ul class="grid">%s</ul></div>' % (
        _heading(block), cards)


def _gallery(block, site):
    return _cards(block, lambda i: (
            '<figure><img src="%s" alt="%s" loading="lazy">'
            '<figcaption>%s</figcaption></figure>') % (
            safe_url(i.get('image_url'), ''), esc(i.get('title')),
            esc(i.get('title'))))


def _features(block, site):
    return _cards(block, lambda i: '<h3>%s</h3><p>%s</p>' % (
            esc(i.get('title')), _text(i.get('text'))))


def _pricing(block, site):
    def card(i):
        out = '<h3>%s</h3><p class="price">%s</p><p>%s</p>' % (
            esc(i.get('title')), esc(i.get('price')), _text(i.get('text')))
        if i.get('link_url'):
            out += '<p><a class="button" href="%s">%s</a></p>' % (
                safe_url(i['link_url']),
                esc(i.get('subtitle') or block.get('link_label') or '→'))
        return out
    return _cards(block, card)


def _testimonials(block, site):
    return _cards(block, lambda i: (
            '<blockquote><p>%s</p><footer>%s%s</footer></blockquote>') % (
            _text(i.get('text')), esc(i.get('title')),
            (', ' + esc(i['subtitle'])) if i.get('subtitle') else ''))


def _faq(block, site):
    entries = ''.join(
        '<details><summary>%s</summary><p>%s</p></details>' % (
            esc(i.get('title')), _text(i.get('text')))
        for i in _items(block))
    return '<div class="wrap">%s%s</div>' % (_heading(block), entries)


def _team(block, site):
    def card(i):
        image = ''
        if i.get('image_url'):
            image = '<img src="%s" alt="%s" loading="lazy">' % (
                safe_url(i['image_url'], ''), esc(i.get('title')))
        return '%s<h3>%s</h3><p>%s</p><p>%s</p>' % (
            image, esc(i.get('title')), esc(i.get('subtitle')),
            _text(i.get('text')))
    return _cards(block, card)


def _contacts(block, site):
    rows = ''.join('<dt>%s</dt><dd>%s</dd>' % (
            esc(i.get('title')),
            ('<a href="%s">%s</a>' % (safe_url(i['link_url']),
                    _text(i.get('text'))))
            if i.get('link_url') else _text(i.get('text')))
        for i in _items(block))
    return '<div class="wrap">%s<address><dl>%s</dl></address></div>' % (
        _heading(block), rows)


def _video(block, site):
    player = video_embed_url(block.get('video_url'))
    if not player:
        return '<div class="wrap">%s</div>' % _heading(block)
    return ('<div class="wrap">%s<div class="video"><iframe src="%s" '
        'title="%s" loading="lazy" allowfullscreen '
        'referrerpolicy="strict-origin-when-cross-origin" '
        'sandbox="allow-scripts allow-same-origin allow-presentation">'
        '</iframe></div></div>') % (
        _heading(block), esc(player),
        esc(block.get('heading') or block.get('image_alt') or 'Video'))


def _cta(block, site):
    return ('<div class="wrap">%s<p><a class="button" href="%s">%s</a>'
        '</p></div>') % (_heading(block), safe_url(block.get('link_url')),
        esc(block.get('link_label')))


def _form(block, site, form_state=None):
    form = block.get('form')
    if not form:
        return '<div class="wrap">%s</div>' % _heading(block)
    state = (form_state or {}).get(form['uuid'])
    return '<div class="wrap">%s%s</div>' % (
        _heading(block), render_form(form, state, page=site.get('page_id')))


def _footer(block, site):
    links = ''.join(
        '<li>%s</li>' % (('<a href="%s">%s</a>' % (
                        safe_url(i['link_url']), esc(i.get('title'))))
            if i.get('link_url') else esc(i.get('title')))
        for i in _items(block))
    return '<div class="wrap">%s<ul class="links">%s</ul><p>%s</p></div>' % (
        _heading(block, 'h2'), links, _text(block.get('body')))


RENDERERS = {
    'header': _header, 'hero': _hero, 'text': _textblock, 'image': _image,
    'gallery': _gallery, 'features': _features, 'pricing': _pricing,
    'testimonials': _testimonials, 'faq': _faq, 'team': _team,
    'contacts': _contacts, 'video': _video, 'cta': _cta, 'form': _form,
    'footer': _footer,
    }
assert set(RENDERERS) == set(BLOCK_TYPES)


def render_block(block, site, form_state=None):
    kind = BLOCK_TYPES[block['type']]
    anchor = block.get('anchor')
    attrs = ' class="%s"' % _classes(block)
    if anchor:
        attrs += ' id="%s"' % esc(anchor)
    if block['type'] == 'form':
        inner = _form(block, site, form_state)
    else:
        inner = RENDERERS[block['type']](block, site)
    return '<%s%s>%s</%s>' % (kind.semantic, attrs, inner, kind.semantic)


def _field(form, field, values, errors):
    key = field['key']
    ident = 'f-%s-%s' % (form['uuid'][:8], key)
    value = values.get(key, field.get('default') or '')
    required = ' required' if field.get('required') else ''
    error = errors.get(key)
    described = ''
    message = ''
    if error:
        described = ' aria-invalid="true" aria-describedby="%s-err"' % ident
        message = '<span class="err" id="%s-err">%s</span>' % (
            ident, esc(error))
    label = esc(field['label']) + (' *' if field.get('required') else '')
    kind = field['type']
    if kind == 'hidden':
        return '<input type="hidden" name="%s" value="%s">' % (
            esc(key), esc(value))
    if kind == 'checkbox':
        checked = ' checked' if value not in ('', None, False) else ''
        return ('<div class="fld chk"><label><input type="checkbox" '
            'name="%s" value="1"%s%s%s> %s</label>%s</div>') % (
            esc(key), checked, required, described, label, message)
    if kind == 'choice':
        options = '<option value=""></option>' + ''.join(
            '<option%s>%s</option>' % (
                ' selected' if c == value else '', esc(c))
            for c in field.get('choices') or [])
        control = '<select id="%s" name="%s"%s%s>%s</select>' % (
            ident, esc(key), required, described, options)
    elif kind == 'text':
        control = '<textarea id="%s" name="%s" rows="4"%s%s>%s</textarea>' % (
            ident, esc(key), required, described, esc(value))
    else:
        input_type = {'phone': 'tel', 'email': 'email'}.get(kind, 'text')
        autocomplete = {'phone': 'tel', 'email': 'email',
            'name': 'name'}.get(kind, 'off')
        control = ('<input id="%s" type="%s" name="%s" value="%s" '
            'autocomplete="%s"%s%s>') % (ident, input_type, esc(key),
            esc(value), autocomplete, required, described)
    return '<div class="fld"><label for="%s">%s</label>%s%s</div>' % (
        ident, label, control, message)


def render_form(form, state=None, page=None, action=None):
    """The form as HTML; state holds the visitor's values and the errors
    of a refused submission, shown next to their fields."""
    state = state or {}
    values = state.get('values') or {}
    errors = state.get('errors') or {}
    fields_html = ''.join(_field(form, f, values, errors)
        for f in form['fields'])
    if form.get('consent'):
        fields_html += _field(form, {
                'key': '_consent', 'label': form.get('consent_text') or '',
                'type': 'checkbox', 'required': True}, values, errors)
    notice = ''
    if state.get('message'):
        notice = '<p class="notice %s" role="alert">%s</p>' % (
            'bad' if errors or state.get('refused') else 'good',
            esc(state['message']))
    hidden = ''.join(
        '<input type="hidden" name="%s" value="%s">' % (name, esc(value))
        for name, value in [
            ('_t', token_marker(form['uuid'])),
            ('_page', page or ''),
            ('utm_source', values.get('utm_source', '')),
            ('utm_medium', values.get('utm_medium', '')),
            ('utm_campaign', values.get('utm_campaign', '')),
            ('utm_content', values.get('utm_content', '')),
            ('utm_term', values.get('utm_term', '')),
            ('_referrer', values.get('_referrer', '')),
            ])
    # The honeypot: hidden from people (and screen readers), not bots.
    honeypot = ('<div class="crm-hp" aria-hidden="true"><label>Website '
        '<input type="text" name="_website" tabindex="-1" '
        'autocomplete="off"></label></div>')
    return ('<form class="crm-form" method="post" action="%s" '
        'data-form="%s" accept-charset="utf-8">%s%s%s%s'
        '<p><button type="submit">%s</button></p></form>') % (
        esc(action or FORM_ACTION + form['uuid']), esc(form['uuid']),
        notice, hidden, honeypot, fields_html,
        esc(form.get('submit_label') or 'Send'))


def _head(site, title, description='', keywords=''):
    meta = ''
    if description:
        meta += '<meta name="description" content="%s">' % esc(description)
    if keywords:
        meta += '<meta name="keywords" content="%s">' % esc(keywords)
    if site.get('favicon'):
        meta += '<link rel="icon" href="%s">' % safe_url(site['favicon'])
    counters = ''
    for attr, key in [('data-ym', 'yandex_metrika'),
            ('data-ga', 'google_analytics')]:
        if site.get(key):
            counters += ' %s="%s"' % (attr, esc(site[key]))
    return ('<!DOCTYPE html><html lang="%s"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, '
        'initial-scale=1"><title>%s</title>%s'
        '<link rel="stylesheet" href="%ssite.css">'
        '<script src="%ssite.js" defer data-page="%s"%s></script>'
        '</head>') % (
        esc(site.get('language') or 'en'), esc(title), meta, ASSETS,
        ASSETS, esc(site.get('page_id') or ''), counters)


def render_page(site, page, form_state=None):
    """The page as a complete HTML document.

    site: name, language, favicon, yandex_metrika, google_analytics;
    page: id, title, seo_description, seo_keywords, blocks (dicts with a
    form dict for form blocks)."""
    site = dict(site, page_id=page.get('id'))
    tops, mains, bottoms = [], [], []
    for block in page.get('blocks') or []:
        if block.get('type') not in BLOCK_TYPES:
            continue
        html = render_block(block, site, form_state)
        {'header': tops, 'footer': bottoms}.get(
            block['type'], mains).append(html)
    title = page.get('title') or site.get('name') or ''
    return ''.join([
            _head(site, title, page.get('seo_description'),
                page.get('seo_keywords')),
            '<body><a class="skip" href="#main">%s</a>' % esc(
                site.get('skip_label') or 'Skip to content'),
            ''.join(tops),
            '<main id="main">', ''.join(mains), '</main>',
            ''.join(bottoms),
            '</body></html>'])


def render_form_page(site, form, state=None, title=None):
    "A page holding only the form (answer to a plain post from elsewhere)"
    body = ('<main id="main"><section class="blk blk-form theme-light '
        'align-left space-normal"><div class="wrap"><h1>%s</h1>%s</div>'
        '</section></main>') % (
        esc(title or form.get('name')),
        render_form(form, state) if form.get('fields') is not None else
        '<p class="notice good" role="status">%s</p>' % esc(
            (state or {}).get('message')))
    return _head(site, title or form.get('name') or '') + (
        '<body>%s</body></html>' % body)
