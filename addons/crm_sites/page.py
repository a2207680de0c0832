# Pages: SEO fields, blocks, draft or published, versions with restore,
# preview of the draft.
import hashlib
import hmac
import json
import re
import time

from trytond.i18n import gettext
from trytond.model import (
    ModelSQL, ModelView, Unique, Workflow, fields, sequence_ordered)
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction

from .pagecache import forget_at_end
from .render import render_page
from .site import SLUG

PREVIEW_SECONDS = 3600


def preview_signature(secret, page_id, expires):
    message = ('%s:%s' % (page_id, expires)).encode('ascii')
    return hmac.new((secret or '').encode('utf-8'), message,
        hashlib.sha256).hexdigest()[:40]


class Page(sequence_ordered(), Workflow, ModelSQL, ModelView):
    "Site Page"
    __name__ = 'crm.site.page'

    site = fields.Many2One(
        'crm.site', "Site", required=True, ondelete='CASCADE')
    slug = fields.Char(
        "Address Name", required=True,
        states={'readonly': Eval('state') == 'published'},
        help="The last part of the page's address; \"index\" is the home "
        "page.")
    title = fields.Char("Title", required=True)
    seo_description = fields.Text("SEO Description")
    seo_keywords = fields.Char("SEO Keywords")
    blocks = fields.One2Many('crm.site.block', 'page', "Blocks")
    state = fields.Selection([
            ('draft', "Draft"),
            ('published', "Published"),
            ], "State", readonly=True, required=True, sort=False)
    published_version = fields.Many2One(
        'crm.site.page.version', "Published Version", readonly=True,
        ondelete='SET NULL',
        domain=[('page', '=', Eval('id', -1))])
    versions = fields.One2Many(
        'crm.site.page.version', 'page', "Versions", readonly=True,
        order=[('number', 'DESC')])
    url = fields.Function(fields.Char("Address"), 'get_url')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('site_slug_unique', Unique(t, t.site, t.slug),
                'crm_sites.msg_page_slug_unique'),
            ]
        cls._transitions |= {
            ('draft', 'published'),
            ('published', 'published'),
            ('published', 'draft'),
            }
        cls._buttons.update({
                'publish': {'icon': 'tryton-ok'},
                'unpublish': {
                    'invisible': Eval('state') != 'published',
                    'icon': 'tryton-back',
                    },
                'preview': {'icon': 'tryton-public'},
                'duplicate': {},
                })

    @staticmethod
    def default_state():
        return 'draft'

    def get_url(self, name):
        return self.site.public_url(self.slug)

    def get_rec_name(self, name):
        return '%s: %s' % (self.site.rec_name, self.title)

    @classmethod
    def validate_fields(cls, pages, field_names):
        super().validate_fields(pages, field_names)
        for page in pages:
            if not SLUG.match(page.slug or '') or page.slug.startswith('_'):
                raise ValidationError(gettext(
                        'crm_sites.msg_page_slug_invalid', slug=page.slug))

    @classmethod
    def create(cls, vlist):
        vlist = [v.copy() for v in vlist]
        for values in vlist:
            if values.get('slug'):
                values['slug'] = values['slug'].strip().lower()
        return super().create(vlist)

    @classmethod
    def write(cls, *args):
        super().write(*args)
        # what visitors get changes with the state, address or version
        forget_at_end()

    @classmethod
    def delete(cls, pages):
        super().delete(pages)
        forget_at_end()

    @classmethod
    def copy(cls, pages, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('versions', None)
        default.setdefault('published_version', None)
        default.setdefault('state', 'draft')
        result = []
        for page in pages:
            values = default.copy()
            if 'site' not in default:
                values.setdefault('slug', cls._free_slug(page))
                values.setdefault('title', gettext(
                        'crm_sites.msg_copy_of', name=page.title))
            result.extend(super().copy([page], default=values))
        return result

    @classmethod
    def _free_slug(cls, page):
        base = re.sub(r'-\d+$', '', page.slug)[:55]
        for n in range(2, 1000):
            candidate = '%s-%d' % (base, n)
            if not cls.search([
                        ('site', '=', page.site.id),
                        ('slug', '=', candidate),
                        ], limit=1):
                return candidate
        raise ValidationError(gettext(
                'crm_sites.msg_page_slug_unique'))

    def snapshot(self):
        "The page's content as plain data (what a version keeps)"
        return {
            'slug': self.slug,
            'title': self.title,
            'seo_description': self.seo_description,
            'seo_keywords': self.seo_keywords,
            'blocks': [b.snapshot() for b in self.blocks],
            }

    @classmethod
    def render(cls, page_id, snapshot, site, form_state=None):
        "HTML of snapshot (a version's or the draft's) on site"
        Form = Pool().get('crm.site.form')
        data = dict(snapshot, id=page_id)
        form_ids = {b['form'] for b in data['blocks'] if b.get('form')}
        forms = Form.definitions(form_ids)
        data['blocks'] = [
            dict(b, form=forms.get(b.get('form'))) for b in data['blocks']]
        return render_page(site.render_data(), data, form_state)

    @classmethod
    @ModelView.button
    @Workflow.transition('published')
    def publish(cls, pages):
        Version = Pool().get('crm.site.page.version')
        for page in pages:
            for block in page.blocks:
                block.check_content()
            snapshot = page.snapshot()
            number = max([v.number for v in page.versions] or [0]) + 1
            version = Version(
                page=page, number=number,
                snapshot=json.dumps(snapshot, ensure_ascii=False),
                html=cls.render(page.id, snapshot, page.site))
            version.save()
            page.published_version = version
        cls.save(pages)

    @classmethod
    @ModelView.button
    @Workflow.transition('draft')
    def unpublish(cls, pages):
        pass

    @classmethod
    @ModelView.button_action('crm_sites.url_page_preview')
    def preview(cls, pages):
        for page in pages[:1]:
            return {'url': page.preview_url()}

    def preview_url(self, now=None):
        expires = int((now or time.time()) + PREVIEW_SECONDS)
        return '/%s/sites/_preview/%s-%s-%s' % (
            Transaction().database.name, self.id, expires,
            preview_signature(self.site.secret, self.id, expires))

    @classmethod
    @ModelView.button
    def duplicate(cls, pages):
        cls.copy(pages)

    @classmethod
    def rerender(cls, pages):
        "Render the published version of pages again (their form changed)"
        Version = Pool().get('crm.site.page.version')
        Version.rerender([p.published_version for p in pages
                if p.state == 'published' and p.published_version])


class Version(ModelSQL, ModelView):
    "Site Page Version"
    __name__ = 'crm.site.page.version'

    page = fields.Many2One(
        'crm.site.page', "Page", required=True, ondelete='CASCADE',
        readonly=True)
    number = fields.Integer("Number", required=True, readonly=True)
    snapshot = fields.Text("Content", readonly=True)
    # The rendered page, kept in the database: every worker serves the
    # same HTML and publishing replaces it (see README, "Cache").
    html = fields.Text("HTML", readonly=True)
    title = fields.Function(fields.Char("Title"), 'get_title')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('page')
        cls._order.insert(0, ('number', 'DESC'))
        cls._buttons.update({
                'restore': {'icon': 'tryton-undo'},
                })

    def get_title(self, name):
        return json.loads(self.snapshot or '{}').get('title')

    def get_rec_name(self, name):
        return '%s #%s' % (self.page.rec_name, self.number)

    @classmethod
    @ModelView.button
    def restore(cls, versions):
        "Put the content of the version back into its page's draft"
        pool = Pool()
        Page = pool.get('crm.site.page')
        Block = pool.get('crm.site.block')
        for version in versions:
            page = version.page
            data = json.loads(version.snapshot)
            Block.delete(list(page.blocks))
            Page.write([page], {
                    'title': data.get('title'),
                    'seo_description': data.get('seo_description'),
                    'seo_keywords': data.get('seo_keywords'),
                    })
            Block.create([Block.from_snapshot(page, i, b)
                    for i, b in enumerate(data.get('blocks') or [])])

    @classmethod
    def write(cls, *args):
        super().write(*args)
        forget_at_end()

    @classmethod
    def rerender(cls, versions):
        for version in versions:
            version.html = version.page.render(
                version.page.id, json.loads(version.snapshot),
                version.page.site)
        cls.save(versions)
