"The block library renders every type; what a user writes stays inert"
import unittest

from trytond.modules.crm_sites.library import (
    BLOCK_TYPES, BlockError, check_block)
from trytond.modules.crm_sites.render import render_form, render_page
from trytond.modules.crm_sites.sanitize import (
    clean_html, url_is_safe, video_embed_url)

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'
FORM = {'uuid': 'a' * 32, 'name': 'Call me', 'submit_label': 'Send',
    'consent': True, 'consent_text': 'I agree',
    'fields': [
        {'key': 'name', 'label': 'Name', 'type': 'name', 'required': True},
        {'key': 'phone', 'label': 'Phone', 'type': 'phone'},
        {'key': 'size', 'label': 'Size', 'type': 'choice',
            'choices': ['S', 'M']},
        {'key': 'src', 'label': 'Src', 'type': 'hidden', 'default': 'x'},
        ]}


def sample(kind):
    block = {'type': kind, 'heading': 'Heading ' + kind,
        'subheading': 'Sub', 'body': '<p>Body</p>',
        'image_url': 'https://example.com/a.png', 'image_alt': 'Alt',
        'link_label': 'Go', 'link_url': '#form',
        'video_url': 'https://www.youtube.com/watch?v=aqz-KE-bpKQ',
        'form': FORM,
        'items': [{'title': 'Item', 'text': 'Text', 'price': '10',
                'image_url': 'https://example.com/i.png',
                'link_url': 'https://example.com'}]}
    return block


class RenderTestCase(unittest.TestCase):

    def test_library_has_the_issue_types(self):
        self.assertGreaterEqual(len(BLOCK_TYPES), 15)
        self.assertTrue({'header', 'hero', 'text', 'image', 'gallery',
                'features', 'pricing', 'testimonials', 'faq', 'team',
                'contacts', 'video', 'cta', 'form', 'footer'}
            <= set(BLOCK_TYPES))

    def test_every_type_renders_its_content(self):
        for kind in BLOCK_TYPES:
            with self.subTest(kind=kind):
                block = sample(kind)
                check_block(dict(block, form=1))
                html = render_page({'name': 'S', 'language': 'en'},
                    {'id': 1, 'title': 'T', 'blocks': [block]})
                self.assertIn('blk-%s' % kind, html)
                if kind not in {'footer'}:
                    self.assertIn('Heading ' + kind, html)
        html = render_page({'name': 'S', 'language': 'ru'}, {'id': 1,
                'title': 'T', 'seo_description': 'D', 'blocks': [
                    sample('header'), sample('hero'), sample('footer')]})
        self.assertTrue(html.startswith('<!DOCTYPE html><html lang="ru">'))
        self.assertIn('<meta name="description" content="D">', html)
        # landmarks: header before main, footer after it
        self.assertLess(html.index('<header'), html.index('<main'))
        self.assertLess(html.index('</main>'), html.index('<footer'))

    def test_script_in_any_field_is_inert(self):
        for kind in BLOCK_TYPES:
            block = sample(kind)
            for name in ['heading', 'subheading', 'image_alt',
                    'link_label']:
                block[name] = XSS
            block['items'] = [{'title': XSS, 'text': XSS, 'price': XSS,
                    'subtitle': XSS}]
            html = render_page({'name': XSS}, {'id': 1, 'title': XSS,
                    'blocks': [block]})
            with self.subTest(kind=kind):
                self.assertNotIn('<script>alert', html)
                self.assertNotIn('<img src=x', html)

    def test_text_block_html_is_sanitised(self):
        html = clean_html('<p onclick="x()">Hi <a href="javascript:x()">'
            'l</a><b>b</b></p><script>x()</script><iframe src="//e"></iframe>'
            '<style>p{}</style>')
        self.assertEqual(html.count('<p>'), 1)
        self.assertIn('<b>b</b>', html)
        for bad in ['onclick', 'javascript:', '<script', '<iframe',
                '<style']:
            self.assertNotIn(bad, html)

    def test_unsafe_urls(self):
        for url in ['javascript:alert(1)', 'JaVaScRiPt:x', 'data:text/html,x',
                '//evil.example/x', 'https://a" onmouseover="x',
                'vbscript:x']:
            self.assertFalse(url_is_safe(url), url)
        for url in ['https://example.com/x?y=1', '/path', '#anchor',
                'mailto:a@b.c', 'tel:+7495', 'page-2']:
            self.assertTrue(url_is_safe(url), url)
        with self.assertRaises(BlockError) as context:
            check_block(dict(sample('cta'), link_url='javascript:x'))
        self.assertEqual(context.exception.code, 'url')

    def test_video_hosts_allow_list(self):
        self.assertEqual(
            video_embed_url('https://youtu.be/aqz-KE-bpKQ'),
            'https://www.youtube-nocookie.com/embed/aqz-KE-bpKQ')
        self.assertEqual(video_embed_url('https://rutube.ru/video/abc123/'),
            'https://rutube.ru/play/embed/abc123')
        self.assertEqual(video_embed_url('https://vimeo.com/123456'),
            'https://player.vimeo.com/video/123456')
        for url in ['https://evil.example/watch?v=x',
                'http://www.youtube.com/watch?v=aqz-KE-bpKQ',
                'https://www.youtube.com/watch?v=<script>',
                'https://youtube.com.evil.example/embed/abc']:
            self.assertIsNone(video_embed_url(url), url)
        with self.assertRaises(BlockError) as context:
            check_block(dict(sample('video'),
                    video_url='https://evil.example/v.mp4'))
        self.assertEqual(context.exception.code, 'video')

    def test_block_rules(self):
        with self.assertRaises(BlockError) as context:
            check_block({'type': 'hero'})
        self.assertEqual(context.exception.field, 'heading')
        with self.assertRaises(BlockError) as context:
            check_block({'type': 'pricing', 'items': [{'title': 'A'}]})
        self.assertEqual((context.exception.code, context.exception.field),
            ('item_required', 'price'))
        with self.assertRaises(BlockError):
            check_block({'type': 'faq', 'items': []})
        with self.assertRaises(BlockError):
            check_block({'type': 'unknown'})

    def test_form_keeps_values_and_shows_errors(self):
        html = render_form(FORM, {
                'values': {'name': '<b>Ann</b>', 'size': 'M',
                    'utm_campaign': 'spring'},
                'errors': {'phone': 'Not a phone'},
                'message': 'Fix it'})
        self.assertIn('value="&lt;b&gt;Ann&lt;/b&gt;"', html)
        self.assertIn('<option selected>M</option>', html)
        self.assertIn('aria-invalid="true"', html)
        self.assertIn('Not a phone', html)
        self.assertIn('name="utm_campaign" value="spring"', html)
        self.assertIn('name="_consent"', html)
        self.assertIn('name="_website"', html)
        self.assertIn('__CRM_FORM_TOKEN_' + 'a' * 32, html)
