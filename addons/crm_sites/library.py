# The library of block types: what each type needs and how it validates.
# Pure Python (no database): the page renderer and the tests use it as is.
from collections import OrderedDict, namedtuple

from .sanitize import url_is_safe, video_embed_url

__all__ = ['BLOCK_TYPES', 'CONTENT_FIELDS', 'ITEM_FIELDS', 'STYLES',
    'check_block']

BlockType = namedtuple('BlockType', [
        'label', 'required', 'items', 'min_items', 'semantic'])

# Order is the order of the selection in the client.
BLOCK_TYPES = OrderedDict([
        ('header', BlockType("Navigation Header", {'heading'}, True, 0,
                'header')),
        ('hero', BlockType("Hero", {'heading'}, False, 0, 'section')),
        ('text', BlockType("Text", {'body'}, False, 0, 'section')),
        ('image', BlockType("Image", {'image_url', 'image_alt'}, False, 0,
                'section')),
        ('gallery', BlockType("Gallery", set(), True, 1, 'section')),
        ('features', BlockType("Features", set(), True, 1, 'section')),
        ('pricing', BlockType("Pricing Table", set(), True, 1, 'section')),
        ('testimonials', BlockType("Testimonials", set(), True, 1,
                'section')),
        ('faq', BlockType("FAQ", set(), True, 1, 'section')),
        ('team', BlockType("Team", set(), True, 1, 'section')),
        ('contacts', BlockType("Contacts", set(), True, 1, 'section')),
        ('video', BlockType("Video", {'video_url'}, False, 0, 'section')),
        ('cta', BlockType("Call to Action", {'heading', 'link_label',
                    'link_url'}, False, 0, 'section')),
        ('form', BlockType("Form", {'form'}, False, 0, 'section')),
        ('footer', BlockType("Footer", set(), True, 0, 'footer')),
        ])
CONTENT_FIELDS = ['heading', 'subheading', 'body', 'image_url', 'image_alt',
    'link_label', 'link_url', 'video_url', 'form']
ITEM_FIELDS = ['title', 'subtitle', 'text', 'image_url', 'link_url', 'price']
STYLES = {
    'style_theme': ['light', 'dark', 'accent'],
    'style_align': ['left', 'center'],
    'style_spacing': ['compact', 'normal', 'wide'],
    }
# Which item fields each type's items need.
ITEM_REQUIRED = {
    'header': {'title', 'link_url'},
    'gallery': {'image_url', 'title'},
    'features': {'title'},
    'pricing': {'title', 'price'},
    'testimonials': {'text', 'title'},
    'faq': {'title', 'text'},
    'team': {'title'},
    'contacts': {'title', 'text'},
    'footer': {'title'},
    }
MAX_TEXT = 20000


class BlockError(ValueError):
    "A block whose content does not fit its type: (code, field)"

    def __init__(self, code, field=None, index=None):
        super().__init__(code, field, index)
        self.code = code
        self.field = field
        self.index = index


def _filled(value):
    return value not in (None, '', False)


def check_block(block):
    """Raise BlockError when block (a dict) does not fit its type.

    Codes: type, required, url, video, items, item_required, style, size.
    """
    kind = BLOCK_TYPES.get(block.get('type'))
    if not kind:
        raise BlockError('type', 'type')
    for name in sorted(kind.required):
        if not _filled(block.get(name)):
            raise BlockError('required', name)
    for name in ['image_url', 'link_url']:
        if not url_is_safe(block.get(name)):
            raise BlockError('url', name)
    if _filled(block.get('video_url')) or block['type'] == 'video':
        if not video_embed_url(block.get('video_url')):
            raise BlockError('video', 'video_url')
    for name, values in STYLES.items():
        if block.get(name) not in values + [None]:
            raise BlockError('style', name)
    for name in CONTENT_FIELDS:
        value = block.get(name)
        if isinstance(value, str) and len(value) > MAX_TEXT:
            raise BlockError('size', name)
    items = block.get('items') or []
    if kind.items:
        if len(items) < kind.min_items:
            raise BlockError('items', 'items')
        required = ITEM_REQUIRED.get(block['type'], set())
        for index, item in enumerate(items):
            for name in sorted(required):
                if not _filled(item.get(name)):
                    raise BlockError('item_required', name, index)
            for name in ['image_url', 'link_url']:
                if not url_is_safe(item.get(name)):
                    raise BlockError('url', name, index)
