# "Create Site from Template": the site, its pages and blocks, and a
# contact form, in one action; publishes nothing (the user checks first).
import re

from trytond.i18n import gettext
from trytond.model import ModelView, fields
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool
from trytond.transaction import Transaction
from trytond.wizard import (
    Button, StateAction, StateTransition, StateView, Wizard)

from .templates import TEMPLATES, form_values, pages_of


class CreateStart(ModelView):
    "Create Site from Template"
    __name__ = 'crm.site.create.start'

    template = fields.Selection(
        list(TEMPLATES.items()), "Template", required=True)
    name = fields.Char("Name", required=True)
    slug = fields.Char(
        "Address Name", required=True,
        help="Lower-case letters, digits and hyphens.")
    language = fields.Selection([
            ('ru', "Russian"),
            ('en', "English"),
            ], "Language", required=True)
    company = fields.Many2One('company.company', "Company", required=True)

    @staticmethod
    def default_template():
        return 'services'

    @staticmethod
    def default_language():
        return 'ru'

    @staticmethod
    def default_company():
        return Transaction().context.get('company')

    @fields.depends('name', 'slug')
    def on_change_name(self):
        if self.name and not self.slug:
            slug = re.sub(r'[^a-z0-9]+', '-', self.name.lower()).strip('-')
            self.slug = slug[:60] or None


class Create(Wizard):
    "Create Site from Template"
    __name__ = 'crm.site.create'

    start = StateView('crm.site.create.start',
        'crm_sites.site_create_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Create", 'create_', 'tryton-ok', default=True),
            ])
    create_ = StateTransition()
    open_ = StateAction('crm_sites.act_site_form')

    def transition_create_(self):
        site = self.build(self.start.template, self.start.name,
            self.start.slug, self.start.language, self.start.company)
        self.start.slug = site.slug
        return 'open_'

    @classmethod
    def build(cls, template, name, slug, language, company):
        "Create the site of template; return it"
        pool = Pool()
        Site = pool.get('crm.site')
        Page = pool.get('crm.site.page')
        Form = pool.get('crm.site.form')
        slug = (slug or '').strip().lower()
        if Site.search([('slug', '=', slug)], limit=1):
            raise ValidationError(gettext(
                    'crm_sites.msg_site_slug_unique'))
        company_id = company.id if hasattr(company, 'id') else company
        form_data = form_values(language, name)
        form_data['company'] = company_id
        form_data['form_fields'] = [('create', form_data['form_fields'])]
        form, = Form.create([form_data])
        site, = Site.create([{
                    'company': company_id,
                    'name': name,
                    'slug': slug,
                    'language': language,
                    }])
        pages = []
        for sequence, page in enumerate(pages_of(template, language, name)):
            blocks = []
            for index, block in enumerate(page['blocks']):
                block = dict(block, sequence=index + 1)
                if block.get('form') is True:
                    block['form'] = form.id
                items = block.pop('items', [])
                block['items'] = [('create', [
                            dict(i, sequence=n + 1)
                            for n, i in enumerate(items)])]
                blocks.append(block)
            pages.append({
                    'site': site.id,
                    'sequence': sequence + 1,
                    'slug': page['slug'],
                    'title': page['title'],
                    'seo_description': page.get('seo_description'),
                    'blocks': [('create', blocks)],
                    })
        pages = Page.create(pages)
        site.home = pages[0]
        site.save()
        return site

    def do_open_(self, action):
        Site = Pool().get('crm.site')
        sites = Site.search([('slug', '=', self.start.slug)], limit=1)
        return action, {'res_id': [s.id for s in sites]}
