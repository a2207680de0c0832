# Database side of the public site: find the site and the published HTML
# with plain SQL (one query a page view), fill the forms' tokens.
import functools
import hashlib
import re
import threading
import time

from sql import Literal
from sql.conditionals import Case

from trytond.pool import Pool
from trytond.transaction import Transaction

from .site import HOME_SLUG
from .render import token_marker
from .site import domain_list
from .submission import fill_token

TOKEN_MARKER = re.compile(r'__CRM_FORM_TOKEN_([0-9a-f]{32})__')
# uuid -> secret of forms: both never change once created, so a worker
# may keep them without invalidation.
_secrets = {}
_secrets_lock = threading.Lock()
MAX_SECRETS = 10000


class SiteRow(dict):
    __getattr__ = dict.get


def _site_columns(site):
    return [site.id, site.company, site.slug, site.secret, site.domains,
        site.yandex_metrika, site.google_analytics, site.home, site.language]


def _site_row(row):
    if not row:
        return None
    keys = ['id', 'company', 'slug', 'secret', 'domains', 'yandex_metrika',
        'google_analytics', 'home', 'language']
    return SiteRow(zip(keys, row))


def site_by_slug(slug):
    Site = Pool().get('crm.site')
    site = Site.__table__()
    cursor = Transaction().connection.cursor()
    cursor.execute(*site.select(*_site_columns(site),
            where=(site.slug == slug) & (site.active == Literal(True)),
            limit=1))
    return _site_row(cursor.fetchone())


def site_by_host(host):
    "The active site whose domains list host"
    Site = Pool().get('crm.site')
    site = Site.__table__()
    host = (host or '').split(':')[0].strip().lower().rstrip('.')
    if not host:
        return None
    cursor = Transaction().connection.cursor()
    cursor.execute(*site.select(*_site_columns(site),
            where=site.domains.like('%' + host.replace('%', '') + '%')
            & (site.active == Literal(True))))
    for row in cursor:
        found = _site_row(row)
        if host in domain_list(found.domains):
            return found
    return None


def published_page(site, slug):
    "(page id, cached HTML) of the published page slug of site, or None"
    pool = Pool()
    Page = pool.get('crm.site.page')
    Version = pool.get('crm.site.page.version')
    page = Page.__table__()
    version = Version.__table__()
    where = (page.site == site.id) & (page.state == 'published')
    order_by = [page.id.asc]
    if slug:
        where &= page.slug == slug
    else:
        where &= (page.id == (site.home or -1)) | (page.slug == HOME_SLUG)
        order_by = [Case((page.id == (site.home or -1), 0), else_=1),
            page.id.asc]
    cursor = Transaction().connection.cursor()
    cursor.execute(*page.join(version,
            condition=page.published_version == version.id
            ).select(page.id, version.html, version.snapshot,
            where=where, order_by=order_by, limit=1))
    return cursor.fetchone()


def published_pages(site):
    "(slug, last change) of the published pages of site"
    pool = Pool()
    Page = pool.get('crm.site.page')
    Version = pool.get('crm.site.page.version')
    page = Page.__table__()
    version = Version.__table__()
    cursor = Transaction().connection.cursor()
    cursor.execute(*page.join(version,
            condition=page.published_version == version.id
            ).select(page.slug, version.create_date,
            where=(page.site == site.id) & (page.state == 'published'),
            order_by=[page.sequence.asc, page.id.asc]))
    return list(cursor)


def form_secrets(uuids):
    missing = [u for u in uuids if u not in _secrets]
    if missing:
        Form = Pool().get('crm.site.form')
        form = Form.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*form.select(form.uuid, form.secret,
                where=form.uuid.in_(missing)))
        with _secrets_lock:
            if len(_secrets) > MAX_SECRETS:
                _secrets.clear()
            _secrets.update(dict(cursor))
    return {u: _secrets.get(u) for u in uuids}


def token_uuids(html):
    "The forms of html that need a fill-time token"
    return sorted(set(TOKEN_MARKER.findall(html)))


def fill_tokens(html, found=None, now=None):
    """Put a fresh fill-time token in every form of html; found maps the
    forms to their secrets (looked up in the database when None)"""
    uuids = token_uuids(html)
    if not uuids:
        return html
    if found is None:
        found = form_secrets(uuids)
    stamp = int(now if now is not None else time.time())
    for uuid in uuids:
        token = ''
        if found.get(uuid):
            token = _token(uuid, found[uuid], stamp)
        html = html.replace(token_marker(uuid), token)
    return html


@functools.lru_cache(maxsize=256)
def _token(uuid, secret, stamp):
    "The token of a form for a second (the same for every view in it)"
    return fill_token(SiteRow(uuid=uuid, secret=secret), stamp)


def page_etag(html, now=None):
    """ETag of a page: its stored HTML (hashed once) and the hour, so a
    browser keeps a page it has (and its form's token) for an hour at most:
    a token stays valid a day (submission.TOKEN_MAX_AGE)"""
    hour = int(now if now is not None else time.time()) // 3600
    return '%s-%s' % (_html_hash(html), hour)


@functools.lru_cache(maxsize=512)
def _html_hash(html):
    return hashlib.sha256(html.encode('utf-8')).hexdigest()[:24]


def public_user():
    "The user the public site works as (never root)"
    ModelData = Pool().get('ir.model.data')
    return ModelData.get_id('crm_sites', 'user_public')
