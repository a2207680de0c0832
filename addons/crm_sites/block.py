# Blocks of a page: a type from the library, structured content (fields
# and items), style options; validated against the type's rules.
from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, fields, sequence_ordered
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool
from trytond.pyson import Eval, In

from .library import (
    BLOCK_TYPES, CONTENT_FIELDS, ITEM_FIELDS, STYLES, BlockError,
    check_block)

# Which content fields each type shows in the form (the rest is hidden).
SHOWN = {
    'header': {'heading', 'subheading'},
    'hero': {'heading', 'subheading', 'body', 'image_url', 'image_alt',
        'link_label', 'link_url'},
    'text': {'heading', 'subheading', 'body'},
    'image': {'heading', 'subheading', 'image_url', 'image_alt'},
    'video': {'heading', 'subheading', 'video_url'},
    'cta': {'heading', 'subheading', 'link_label', 'link_url'},
    'form': {'heading', 'subheading', 'form'},
    'footer': {'heading', 'body'},
    }
for _type in BLOCK_TYPES:
    SHOWN.setdefault(_type, {'heading', 'subheading', 'link_label'})


def _invisible(name):
    types = [t for t, shown in SHOWN.items() if name in shown]
    return ~In(Eval('type'), types)


class Block(sequence_ordered(), ModelSQL, ModelView):
    "Site Block"
    __name__ = 'crm.site.block'

    page = fields.Many2One(
        'crm.site.page', "Page", required=True, ondelete='CASCADE')
    type = fields.Selection(
        [(k, v.label) for k, v in BLOCK_TYPES.items()], "Type",
        required=True)
    heading = fields.Char("Heading", states={
            'invisible': _invisible('heading')})
    subheading = fields.Char("Subheading", states={
            'invisible': _invisible('subheading')})
    body = fields.Text("Text", states={
            'invisible': _invisible('body')},
        help="In a text block: HTML (formatting, lists, links, tables, "
        "images); anything else is removed.")
    image_url = fields.Char("Image URL", states={
            'invisible': _invisible('image_url')})
    image_alt = fields.Char("Image Description", states={
            'invisible': _invisible('image_alt')},
        help="Read aloud by screen readers.")
    link_label = fields.Char("Button Label", states={
            'invisible': _invisible('link_label')})
    link_url = fields.Char("Button Link", states={
            'invisible': _invisible('link_url')})
    video_url = fields.Char("Video URL", states={
            'invisible': _invisible('video_url')},
        help="A YouTube, Rutube, VK Video or Vimeo address.")
    form = fields.Many2One('crm.site.form', "Form", states={
            'invisible': _invisible('form'),
            'required': Eval('type') == 'form',
            }, ondelete='RESTRICT')
    items = fields.One2Many('crm.site.block.item', 'block', "Items",
        states={
            'invisible': ~In(Eval('type'),
                [k for k, v in BLOCK_TYPES.items() if v.items]),
            })
    style_theme = fields.Selection([
            ('light', "Light"),
            ('dark', "Dark"),
            ('accent', "Accent"),
            ], "Colours", required=True)
    style_align = fields.Selection([
            ('left', "Left"),
            ('center', "Centre"),
            ], "Alignment", required=True)
    style_spacing = fields.Selection([
            ('compact', "Compact"),
            ('normal', "Normal"),
            ('wide', "Wide"),
            ], "Spacing", required=True)
    anchor = fields.Char("Anchor", help="Link to the block with #anchor.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('page')

    @staticmethod
    def default_type():
        return 'text'

    @staticmethod
    def default_style_theme():
        return 'light'

    @staticmethod
    def default_style_align():
        return 'left'

    @staticmethod
    def default_style_spacing():
        return 'normal'

    def get_rec_name(self, name):
        label = dict(self.fields_get(['type'])['type']['selection']).get(
            self.type, self.type)
        return ' '.join(filter(None, [label, self.heading]))

    @classmethod
    def validate_fields(cls, blocks, field_names):
        super().validate_fields(blocks, field_names)
        for block in blocks:
            block.check_content()

    def snapshot(self):
        data = {'type': self.type, 'anchor': self.anchor}
        for name in CONTENT_FIELDS:
            value = getattr(self, name)
            data[name] = value.id if name == 'form' and value else value
        for name in STYLES:
            data[name] = getattr(self, name)
        data['items'] = [
            {n: getattr(i, n) for n in ITEM_FIELDS} for i in self.items]
        return data

    @classmethod
    def from_snapshot(cls, page, sequence, data):
        "Values to create the block of snapshot data on page"
        values = {n: data.get(n) for n in CONTENT_FIELDS + list(STYLES)}
        values.update(
            page=page.id, sequence=sequence, type=data['type'],
            anchor=data.get('anchor'))
        Form = Pool().get('crm.site.form')
        if values.get('form') and not Form.search(
                [('id', '=', values['form'])], limit=1):
            values['form'] = None
        values['items'] = [('create', [
                    {n: i.get(n) for n in ITEM_FIELDS}
                    for i in data.get('items') or []])]
        return values

    def check_content(self):
        "Raise ValidationError when the content does not fit the type"
        try:
            check_block(self.snapshot())
        except BlockError as error:
            label = (self.fields_get([error.field]).get(error.field)
                or Pool().get('crm.site.block.item').fields_get(
                    [error.field]).get(error.field) or {}).get(
                    'string', error.field)
            raise ValidationError(gettext(
                    'crm_sites.msg_block_%s' % error.code,
                    block=self.rec_name, field=label,
                    item=(error.index or 0) + 1,
                    page=self.page.rec_name if self.page else ''))


class Item(sequence_ordered(), ModelSQL, ModelView):
    "Site Block Item"
    __name__ = 'crm.site.block.item'

    block = fields.Many2One(
        'crm.site.block', "Block", required=True, ondelete='CASCADE')
    title = fields.Char("Title")
    subtitle = fields.Char("Subtitle")
    text = fields.Text("Text")
    image_url = fields.Char("Image URL")
    link_url = fields.Char("Link")
    price = fields.Char("Price")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('block')
