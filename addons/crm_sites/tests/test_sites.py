"Sites, pages, versions, forms and their submissions in the database"
import json
import re
import time

from trytond.model.exceptions import ValidationError
from trytond.modules.crm_portal.tests.tools import CrmTestCase, crm_company
from trytond.modules.crm_sites.serve import fill_tokens
from trytond.modules.crm_sites.submission import FormError, fill_token
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

XSS = '<script>alert(1)</script>'


def build(template='services', slug='acme', language='en'):
    Create = Pool().get('crm.site.create', type='wizard')
    company = Transaction().context['company']
    return Create.build(template, 'Acme', slug, language, company)


def the_form(site):
    return [b.form for p in site.pages for b in p.blocks if b.form][0]


def post(form, **values):
    "Valid values of the template form, overridden by values"
    data = {'name': 'Ivan Petrov', 'phone': '+7 916 123-45-67',
        'email': 'ivan@example.com', 'message': 'Call me', '_consent': '1',
        '_t': fill_token(form, time.time() - 60)}
    data.update(values)
    return {k: v for k, v in data.items() if v is not None}


class SitesTestCase(CrmTestCase):
    "Test the sites module"
    modules = ['crm_sites']

    @with_transaction()
    def test_templates_build_whole_sites(self):
        "Each template creates pages with valid blocks and a form"
        for template in ['services', 'product', 'event']:
            with crm_company():
                site = build(template, 'site-' + template, 'ru')
                self.assertEqual(site.home.slug, 'index')
                self.assertGreaterEqual(len(site.pages), 2)
                for page in site.pages:
                    for block in page.blocks:
                        block.check_content()
                form = the_form(site)
                self.assertTrue(form.consent)
                self.assertIn('персональных данных', form.consent_text)

    @with_transaction()
    def test_publish_renders_and_versions(self):
        "Publishing stores the rendered HTML; a draft is not published"
        pool = Pool()
        Page = pool.get('crm.site.page')
        Block = pool.get('crm.site.block')
        with crm_company():
            site = build()
            home = site.home
            self.assertEqual(home.state, 'draft')
            Page.publish([home])
            self.assertEqual(home.state, 'published')
            version = home.published_version
            self.assertEqual(version.number, 1)
            self.assertIn('<form class="crm-form"', version.html)
            self.assertIn('Acme', version.html)

            hero = [b for b in home.blocks if b.type == 'hero'][0]
            Block.write([hero], {'heading': 'New ' + XSS})
            # the visitors still see the published version
            self.assertNotIn('New', home.published_version.html)
            Page.publish([home])
            self.assertEqual(home.published_version.number, 2)
            self.assertIn('New &lt;script&gt;', home.published_version.html)
            self.assertNotIn(XSS, home.published_version.html)

            # restore version 1 into the draft, publish it as version 3
            Version = pool.get('crm.site.page.version')
            first, = [v for v in home.versions if v.number == 1]
            Version.restore([first])
            home = Page(home.id)
            hero = [b for b in home.blocks if b.type == 'hero'][0]
            self.assertEqual(hero.heading, 'Acme')
            self.assertEqual(len(hero.items), 0)
            features = [b for b in home.blocks if b.type == 'features'][0]
            self.assertEqual(len(features.items), 3)
            Page.publish([home])
            self.assertEqual(home.published_version.number, 3)
            self.assertNotIn('New', home.published_version.html)

            Page.unpublish([home])
            self.assertEqual(home.state, 'draft')

    @with_transaction()
    def test_invalid_blocks_refused(self):
        pool = Pool()
        Block = pool.get('crm.site.block')
        with crm_company():
            site = build()
            page = site.home
            for values in [
                    {'type': 'video', 'video_url': 'https://evil.test/v'},
                    {'type': 'cta', 'heading': 'x', 'link_label': 'x',
                        'link_url': 'javascript:alert(1)'},
                    {'type': 'hero'},
                    {'type': 'faq', 'heading': 'x'},
                    ]:
                with self.subTest(values=values):
                    with self.assertRaises(ValidationError):
                        Block.create([dict(values, page=page.id)])

    @with_transaction()
    def test_text_block_sanitised_on_publish(self):
        pool = Pool()
        Page = pool.get('crm.site.page')
        Block = pool.get('crm.site.block')
        with crm_company():
            site = build()
            Block.create([{'page': site.home.id, 'type': 'text',
                        'body': '<p onclick="x()">Hi</p>' + XSS}])
            Page.publish([site.home])
            html = site.home.published_version.html
            self.assertIn('<p>Hi</p>', html)
            self.assertNotIn('<script>alert', html)
            self.assertNotIn('onclick', html)

    @with_transaction()
    def test_duplicate_page_and_site(self):
        pool = Pool()
        Page = pool.get('crm.site.page')
        Site = pool.get('crm.site')
        with crm_company():
            site = build()
            Page.publish([site.home])
            Page.duplicate([site.home])
            copy, = Page.search([('site', '=', site.id),
                    ('slug', '=', 'index-2')])
            self.assertEqual(copy.state, 'draft')
            self.assertEqual(len(copy.blocks), len(site.home.blocks))
            self.assertEqual(copy.versions, ())

            Site.duplicate([site])
            other, = Site.search([('slug', '=', 'acme-2')])
            self.assertEqual(
                sorted(p.slug for p in other.pages),
                sorted(p.slug for p in site.pages))
            self.assertEqual(other.home.slug, 'index')
            self.assertNotEqual(other.secret, site.secret)

    @with_transaction()
    def test_site_fields_checked(self):
        pool = Pool()
        Site = pool.get('crm.site')
        with crm_company():
            site = build()
            Site.write([site], {'domains': 'shop.example.com\nexample.com'})
            other = build(slug='other')
            with self.assertRaises(ValidationError):
                Site.write([other], {'domains': 'example.com'})
            # each refused record is a new one: a refused write is not
            # undone inside this test's transaction
            for n, values in enumerate([{'slug': 'Bad Slug'},
                    {'domains': 'not a domain!'},
                    {'favicon': 'javascript:x'},
                    {'yandex_metrika': '1" onload="x'}]):
                with self.subTest(values=values):
                    with self.assertRaises(ValidationError):
                        Site.create([dict({'name': 'X', 'slug': 'x%s' % n},
                                    **values)])

    @with_transaction()
    def test_submission_creates_lead_with_utm(self):
        "A valid submission goes through intake with UTM and referrer"
        pool = Pool()
        Submission = pool.get('crm.site.form.submission')
        Page = pool.get('crm.site.page')
        with crm_company():
            site = build()
            Page.publish([site.home])
            form = the_form(site)
            submission = Submission.accept(form, post(form,
                    utm_source='yandex', utm_campaign='spring',
                    _referrer='https://ya.ru/'), {
                    'page': site.home.id, 'visitor': 'v' * 32,
                    'first_visit': '2026-01-01T00:00:00Z'})
            lead = submission.opportunity
            self.assertEqual(lead.crm_type, 'lead')
            self.assertEqual(lead.contact_name, 'Ivan Petrov')
            self.assertEqual(lead.utm_source, 'yandex')
            self.assertEqual(lead.utm_campaign, 'spring')
            self.assertEqual(lead.source.code, 'WEBFORM')
            self.assertEqual(submission.page, site.home)
            self.assertEqual(submission.activity.origin, submission)
            self.assertIn('https://ya.ru/', submission.activity.description)
            self.assertIn('2026-01-01', submission.activity.description)
            data = json.loads(submission.data)
            self.assertEqual(data['_consent'], '1')
            self.assertEqual(data['_consent_text'], form.consent_text)

            # the same client again is matched, not duplicated
            again = Submission.accept(form, post(form,
                    message='Second question'), {})
            self.assertEqual(again.opportunity, lead)

    @with_transaction()
    def test_field_errors(self):
        pool = Pool()
        Submission = pool.get('crm.site.form.submission')
        Opportunity = pool.get('sale.opportunity')
        with crm_company():
            form = the_form(build())
            with self.assertRaises(FormError) as context:
                Submission.accept(form, post(form, name='', phone='12',
                        email='not-mail', _consent=''), {})
            self.assertEqual(set(context.exception.errors),
                {'name', 'phone', 'email', '_consent'})
            with self.assertRaises(FormError) as context:
                Submission.accept(form, post(form, message='x' * 5000), {})
            self.assertEqual(set(context.exception.errors), {'message'})
            self.assertEqual(Opportunity.search([]), [])

    @with_transaction()
    def test_spam_refused(self):
        pool = Pool()
        Submission = pool.get('crm.site.form.submission')
        Opportunity = pool.get('sale.opportunity')
        with crm_company():
            form = the_form(build())
            # honeypot: answered as a success, nothing recorded
            self.assertIsNone(Submission.accept(
                    form, post(form, _website='http://spam'), {}))
            for token in [fill_token(form),  # sent at once
                    fill_token(form, time.time() - 3 * 24 * 3600),
                    '123.forged', None]:
                with self.subTest(token=token):
                    with self.assertRaises(FormError):
                        Submission.accept(form, post(form, _t=token), {})
            self.assertEqual(Opportunity.search([]), [])
            self.assertEqual(Submission.search([]), [])

    @with_transaction()
    def test_form_change_applies_to_next_submission(self):
        "What a post reads of its form is kept, and dropped on a change"
        pool = Pool()
        Submission = pool.get('crm.site.form.submission')
        Form = pool.get('crm.site.form')
        Field = pool.get('crm.site.form.field')
        with crm_company():
            form = the_form(build())
            self.assertTrue(Submission.accept(form, post(form), {}))
            message, = [f for f in form.form_fields if f.key == 'message']
            Field.write([message], {'max_length': 5})
            with self.assertRaises(FormError) as context:
                Submission.accept(form, post(form, name='Anna'), {})
            self.assertEqual(set(context.exception.errors), {'message'})
            Form.write([form], {'min_fill_seconds': 120})
            with self.assertRaises(FormError) as context:
                Submission.accept(form, post(form, message='Hi'), {})
            self.assertIn('too fast', context.exception.message)
            Form.write([form], {'active': False})
            self.assertIsNone(Submission.post(form.uuid, post(form), {}))

    @with_transaction()
    def test_form_change_renders_pages_again(self):
        pool = Pool()
        Page = pool.get('crm.site.page')
        Form = pool.get('crm.site.form')
        with crm_company():
            site = build()
            Page.publish([site.home])
            form = the_form(site)
            Form.write([form], {'submit_label': 'Order now'})
            self.assertIn('Order now', site.home.published_version.html)
            html = fill_tokens(site.home.published_version.html)
            self.assertNotIn('__CRM_FORM_TOKEN_', html)
            token = re.search(r'name="_t" value="([^"]+)"', html).group(1)
            # the token served with the page is one the form accepts
            Submission = pool.get('crm.site.form.submission')
            Submission.check_token(form, token, now=time.time() + 60)
            with self.assertRaises(FormError):
                Submission.check_token(form, token)  # at once: too fast

    @with_transaction()
    def test_analytics(self):
        pool = Pool()
        Page = pool.get('crm.site.page')
        Hit = pool.get('crm.site.hit')
        Submission = pool.get('crm.site.form.submission')
        PageReport = pool.get('crm.site.analytics.page')
        CampaignReport = pool.get('crm.site.analytics.campaign')
        with crm_company() as company:
            site = build()
            home = site.home
            self.assertFalse(Hit.record(home.id, 'a'))  # draft: not counted
            Page.publish([home])
            for visitor, campaign in [('a', 'spring'), ('a', 'spring'),
                    ('b', 'spring'), ('c', None), ('d', 'autumn')]:
                self.assertTrue(Hit.record(home.id, visitor, 'ya', campaign))
            form = the_form(site)
            Submission.accept(form, post(form, utm_campaign='spring'),
                {'page': home.id})
            with Transaction().set_context(company=company.id):
                report, = PageReport.search([])
                self.assertEqual(report.page, home)
                self.assertEqual((report.views, report.visitors,
                        report.submissions), (5, 4, 1))
                self.assertEqual(report.conversion, 0.25)
                rows = {r.utm_campaign: r for r in CampaignReport.search([])}
                self.assertEqual((rows['spring'].views,
                        rows['spring'].visitors,
                        rows['spring'].submissions), (3, 2, 1))
                self.assertEqual(rows['spring'].conversion, 0.5)
                self.assertEqual(rows['autumn'].submissions, 0)
