# Sites: name, address, domains, language, counters; duplicate a site.
import re
import secrets

from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, ModelSQL, ModelView, Unique, fields)
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction

from .pagecache import forget_at_end
from .sanitize import url_is_safe

SLUG = re.compile(r'^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$')
DOMAIN = re.compile(
    r'^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$')
COUNTER = re.compile(r'^[A-Za-z0-9-]{1,40}$')
HOME_SLUG = 'index'


def public_url(site_slug, slug=''):
    "The address of a page of a site on this server (home at the root)"
    database = Transaction().database.name
    return '/%s/sites/%s/%s' % (database, site_slug,
        '' if slug == HOME_SLUG else (slug or ''))


def domain_list(text):
    "The domains written one a line (or separated by spaces, commas)"
    return [d.strip().lower().rstrip('.')
        for d in re.split(r'[\s,]+', text or '') if d.strip()]


class Site(DeactivableMixin, ModelSQL, ModelView):
    "Site"
    __name__ = 'crm.site'

    company = fields.Many2One(
        'company.company', "Company", required=True, ondelete='CASCADE')
    name = fields.Char("Name", required=True)
    slug = fields.Char(
        "Address Name", required=True,
        help="The part of the address after /sites/: lower-case letters, "
        "digits and hyphens.")
    domains = fields.Text(
        "Domains",
        help="The site's own domains, one a line; the reverse proxy sends "
        "them here with their Host header.")
    language = fields.Selection([
            ('ru', "Russian"),
            ('en', "English"),
            ], "Language", required=True)
    favicon = fields.Char("Favicon URL")
    yandex_metrika = fields.Char("Yandex Metrica Counter")
    google_analytics = fields.Char("Google Analytics ID")
    pages = fields.One2Many('crm.site.page', 'site', "Pages")
    home = fields.Many2One(
        'crm.site.page', "Home Page",
        domain=[('site', '=', Eval('id', -1))],
        help="The page at the site's root address.")
    secret = fields.Char("Secret", readonly=True, strip=False)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('slug_unique', Unique(t, t.slug),
                'crm_sites.msg_site_slug_unique'),
            ]
        cls._buttons.update({
                'duplicate': {},
                'open_home': {},
                })

    @staticmethod
    def default_company():
        return Transaction().context.get('company')

    @staticmethod
    def default_language():
        return 'ru'

    @staticmethod
    def default_secret():
        return secrets.token_urlsafe(32)

    @classmethod
    def validate_fields(cls, sites, field_names):
        super().validate_fields(sites, field_names)
        for site in sites:
            if not SLUG.match(site.slug or ''):
                raise ValidationError(gettext(
                        'crm_sites.msg_site_slug_invalid', slug=site.slug))
            for domain in domain_list(site.domains):
                if not DOMAIN.match(domain):
                    raise ValidationError(gettext(
                            'crm_sites.msg_site_domain_invalid',
                            domain=domain))
            if site.favicon and not url_is_safe(site.favicon):
                raise ValidationError(gettext(
                        'crm_sites.msg_url_invalid', url=site.favicon))
            for counter in [site.yandex_metrika, site.google_analytics]:
                if counter and not COUNTER.match(counter):
                    raise ValidationError(gettext(
                            'crm_sites.msg_counter_invalid',
                            counter=counter))
        cls._check_domains_unique(sites)

    @classmethod
    def _check_domains_unique(cls, sites):
        "A domain belongs to one site"
        others = cls.search([('domains', '!=', None)])
        taken = {}
        for site in others:
            for domain in domain_list(site.domains):
                taken.setdefault(domain, site)
        for site in sites:
            for domain in domain_list(site.domains):
                if taken.get(domain, site) != site:
                    raise ValidationError(gettext(
                            'crm_sites.msg_site_domain_taken',
                            domain=domain, site=taken[domain].rec_name))

    @classmethod
    def create(cls, vlist):
        vlist = [v.copy() for v in vlist]
        for values in vlist:
            if values.get('slug'):
                values['slug'] = values['slug'].strip().lower()
            values.setdefault('secret', cls.default_secret())
        return super().create(vlist)

    @classmethod
    def write(cls, *args):
        super().write(*args)
        forget_at_end()
        # What every page shows of its site (name, language, counters...)
        # is part of the rendered HTML: render the published pages again.
        sites = sum(args[0:None:2], [])
        changed = set()
        for values in args[1:None:2]:
            changed.update(values)
        if changed & cls._rendered_fields():
            Page = Pool().get('crm.site.page')
            Page.rerender(Page.search([
                        ('site', 'in', [s.id for s in sites]),
                        ('state', '=', 'published'),
                        ]))

    @classmethod
    def delete(cls, sites):
        super().delete(sites)
        forget_at_end()

    @classmethod
    def _rendered_fields(cls):
        return {'name', 'language', 'favicon', 'yandex_metrika',
            'google_analytics'}

    @classmethod
    def copy(cls, sites, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('domains', None)
        default.setdefault('home', None)
        default.setdefault('pages', None)
        default.setdefault('secret', None)
        new_sites = []
        for site in sites:
            values = default.copy()
            values.setdefault('slug', cls._free_slug(site.slug))
            values.setdefault('name', gettext(
                    'crm_sites.msg_copy_of', name=site.name))
            new, = super().copy([site], default=values)
            new.secret = cls.default_secret()
            new.save()
            cls._copy_pages(site, new)
            new_sites.append(new)
        return new_sites

    @classmethod
    def _copy_pages(cls, site, new):
        Page = Pool().get('crm.site.page')
        pages = Page.copy(list(site.pages), default={
                'site': new.id,
                'slug': lambda data: data['slug'],
                })
        for old, page in zip(site.pages, pages):
            if site.home == old:
                new.home = page
                new.save()

    @classmethod
    def _free_slug(cls, slug):
        for n in range(2, 1000):
            candidate = '%s-%d' % (slug[:55], n)
            if not cls.search([('slug', '=', candidate)], limit=1):
                return candidate
        return '%s-%s' % (slug[:40], secrets.token_hex(4))

    @classmethod
    @ModelView.button
    def duplicate(cls, sites):
        cls.copy(sites)

    @classmethod
    @ModelView.button_action('crm_sites.url_site_open')
    def open_home(cls, sites):
        for site in sites[:1]:
            return {'url': site.public_url()}

    def render_data(self):
        "What the renderer needs of the site"
        with Transaction().set_context(language=self.language):
            skip = gettext('crm_sites.msg_skip_to_content')
        return {
            'name': self.name,
            'language': self.language,
            'favicon': self.favicon,
            'yandex_metrika': self.yandex_metrika,
            'google_analytics': self.google_analytics,
            'skip_label': skip,
            }

    def public_url(self, slug=''):
        "The site's address on this server (relative to its root)"
        return public_url(self.slug, slug)
