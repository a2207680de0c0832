# CRM web forms: fields, mapping to the lead/deal/contact, consent,
# success message or redirect, responsible, allowed origins, spam limits.
import re
import secrets
import uuid
from urllib.parse import urlsplit

from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, ModelSQL, ModelView, Unique, fields, sequence_ordered)
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction

from . import formspec
from .formspec import SpecChanges, origin_list
from .sanitize import url_is_safe

KEY = re.compile(r'^[a-z][a-z0-9_]{0,39}$')
# What a form field may fill in: the keys crm.intake.submit reads.
MAPPINGS = [
    (None, ""),
    ('name', "Contact Name"),
    ('last_name', "Contact Last Name"),
    ('company_name', "Company Name"),
    ('phone', "Phone"),
    ('email', "E-Mail"),
    ('title', "Lead or Deal Title"),
    ('message', "Comment"),
    ]
FIELD_TYPES = [
    ('name', "Name"),
    ('phone', "Phone"),
    ('email', "E-Mail"),
    ('text', "Text"),
    ('choice', "Choice"),
    ('checkbox', "Checkbox"),
    ('hidden', "Hidden"),
    ]


class Form(SpecChanges, DeactivableMixin, ModelSQL, ModelView):
    "Web Form"
    __name__ = 'crm.site.form'

    company = fields.Many2One(
        'company.company', "Company", required=True, ondelete='CASCADE')
    name = fields.Char("Name", required=True, translate=True)
    uuid = fields.Char("Identifier", required=True, readonly=True)
    secret = fields.Char("Secret", readonly=True, strip=False)
    form_fields = fields.One2Many(
        'crm.site.form.field', 'form', "Fields")
    submit_label = fields.Char("Button Label", required=True, translate=True)
    consent = fields.Boolean(
        "Ask for Consent",
        help="A checkbox the visitor must tick to agree to the processing "
        "of personal data (required by law in Russia).")
    consent_text = fields.Text("Consent Text", translate=True, states={
            'invisible': ~Eval('consent'),
            'required': Eval('consent', False),
            })
    success_message = fields.Text(
        "Success Message", translate=True, required=True)
    redirect_url = fields.Char(
        "Redirect To", help="Open this address after a successful "
        "submission instead of showing the message.")
    responsible = fields.Many2One(
        'company.employee', "Responsible",
        domain=[('company', '=', Eval('company', -1))],
        help="Leave empty to let intake choose (client's manager or the "
        "team's turn).")
    allowed_origins = fields.Text(
        "Allowed Origins",
        help="The sites that may embed the form, one a line, as "
        "https://example.com; this server's own pages are always allowed.")
    min_fill_seconds = fields.Integer(
        "Minimum Fill Time", required=True,
        help="Submissions made faster than this (in seconds) after the "
        "form was shown are refused as spam.")
    accept_plain_post = fields.Boolean(
        "Accept Plain HTML Posts",
        help="Accept posts without the fill-time token, from a plain HTML "
        "form copied to another site.")
    rate_per_hour = fields.Integer(
        "Submissions per Hour per Address", required=True)
    embed_code = fields.Function(fields.Text("Embed Code"), 'get_embed_code')
    submissions = fields.One2Many(
        'crm.site.form.submission', 'form', "Submissions", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('uuid_unique', Unique(t, t.uuid),
                'crm_sites.msg_form_uuid_unique'),
            ]

    @staticmethod
    def default_company():
        return Transaction().context.get('company')

    @staticmethod
    def default_uuid():
        return uuid.uuid4().hex

    @staticmethod
    def default_secret():
        return secrets.token_urlsafe(32)

    @staticmethod
    def default_consent():
        return True

    @staticmethod
    def default_min_fill_seconds():
        return 3

    @staticmethod
    def default_accept_plain_post():
        return False

    @staticmethod
    def default_rate_per_hour():
        return 20

    @classmethod
    def default_submit_label(cls):
        return gettext('crm_sites.msg_form_default_submit')

    @classmethod
    def default_success_message(cls):
        return gettext('crm_sites.msg_form_default_success')

    def get_embed_code(self, name):
        base = '/%s/sites/_static/embed.js' % Transaction().database.name
        return ('<script src="https://YOUR-CRM%s" data-form="%s" '
            'data-mode="inline"></script>') % (base, self.uuid)

    @classmethod
    def validate_fields(cls, forms, field_names):
        super().validate_fields(forms, field_names)
        for form in forms:
            if form.redirect_url and not (url_is_safe(form.redirect_url)
                    and urlsplit(form.redirect_url).scheme in {
                        'http', 'https', ''}):
                raise ValidationError(gettext(
                        'crm_sites.msg_url_invalid', url=form.redirect_url))
            for origin in origin_list(form.allowed_origins):
                parts = urlsplit(origin)
                if (parts.scheme not in {'http', 'https'}
                        or not parts.netloc or parts.path or parts.query):
                    raise ValidationError(gettext(
                            'crm_sites.msg_form_origin_invalid',
                            origin=origin))
            if (form.min_fill_seconds or 0) < 0 or (
                    form.rate_per_hour or 0) < 1:
                raise ValidationError(gettext(
                        'crm_sites.msg_form_limits_invalid',
                        form=form.rec_name))
            keys = [f.key for f in form.form_fields]
            if len(keys) != len(set(keys)):
                raise ValidationError(gettext(
                        'crm_sites.msg_form_field_key_unique',
                        form=form.rec_name))
            if not any(f.mapping in {'name', 'phone', 'email',
                        'company_name'} for f in form.form_fields):
                raise ValidationError(gettext(
                        'crm_sites.msg_form_contact_required',
                        form=form.rec_name))

    @classmethod
    def copy(cls, forms, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('uuid', lambda data: cls.default_uuid())
        default.setdefault('secret', lambda data: cls.default_secret())
        default.setdefault('submissions', None)
        return super().copy(forms, default=default)

    @classmethod
    def write(cls, *args):
        super().write(*args)
        cls._rerender_pages(sum(args[0:None:2], []))

    @classmethod
    def _rerender_pages(cls, forms):
        "The pages showing forms render them again"
        pool = Pool()
        Page = pool.get('crm.site.page')
        if not forms:
            return
        Page.rerender(Page.search([
                    ('state', '=', 'published'),
                    ('blocks.form', 'in', [f.id for f in forms]),
                    ]))

    def definition(self):
        "The form as plain data for the renderers and the embed script"
        return formspec.build(self).definition()

    @classmethod
    def definitions(cls, ids):
        return {f.id: f.definition() for f in cls.browse(sorted(ids))
            if f.active}

    @classmethod
    def spec(cls, uuid):
        """The FormSpec of the form uuid (active or not) in the context's
        language, or None; kept per worker until a form changes"""
        if not (isinstance(uuid, str) and len(uuid) == 32
                and all(c in '0123456789abcdef' for c in uuid)):
            return None
        key = (uuid, Transaction().language)
        spec = formspec.cache.get(key)
        if spec is None:
            with Transaction().set_context(active_test=False):
                forms = cls.search([('uuid', '=', uuid)], limit=1)
            if not forms:
                return None
            spec = formspec.cache.set(key, formspec.build(forms[0]))
        return spec


class FormField(SpecChanges, sequence_ordered(), ModelSQL, ModelView):
    "Web Form Field"
    __name__ = 'crm.site.form.field'

    form = fields.Many2One(
        'crm.site.form', "Form", required=True, ondelete='CASCADE')
    label = fields.Char("Label", required=True, translate=True)
    key = fields.Char(
        "Key", required=True,
        help="The field's name in the submission: lower-case letters, "
        "digits and underscores.")
    type = fields.Selection(FIELD_TYPES, "Type", required=True)
    required = fields.Boolean("Required", states={
            'invisible': Eval('type') == 'hidden'})
    choices = fields.Text("Choices", translate=True, states={
            'invisible': Eval('type') != 'choice',
            'required': Eval('type') == 'choice',
            }, help="One a line.")
    default = fields.Char("Value", states={
            'invisible': Eval('type') != 'hidden'},
        help="What the hidden field sends.")
    max_length = fields.Integer("Maximum Length", required=True)
    mapping = fields.Selection(MAPPINGS, "Fills In",
        help="The lead, deal or contact field this field fills in; "
        "any other field is written on the timeline.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('form')

    @staticmethod
    def default_type():
        return 'text'

    @staticmethod
    def default_max_length():
        return 1000

    @fields.depends('type', 'mapping', 'key', 'label')
    def on_change_type(self):
        if self.type in {'name', 'phone', 'email'} and not self.mapping:
            self.mapping = self.type
        if not self.key and self.type:
            self.key = self.type

    @classmethod
    def validate_fields(cls, form_fields, field_names):
        super().validate_fields(form_fields, field_names)
        for field in form_fields:
            if not KEY.match(field.key or '') or field.key.startswith('_') \
                    or field.key.startswith('utm_'):
                raise ValidationError(gettext(
                        'crm_sites.msg_form_field_key_invalid',
                        key=field.key))
            if not 1 <= (field.max_length or 0) <= 10000:
                raise ValidationError(gettext(
                        'crm_sites.msg_form_field_length_invalid',
                        field=field.label))

    def choice_list(self):
        return [c.strip() for c in (self.choices or '').splitlines()
            if c.strip()]
