# What a visitor's post needs of a web form, as plain immutable data.
#
# A submission used to read the form, its fields and their translations
# through the ORM on every post; the form changes rarely, so each worker
# keeps this copy in a trytond Cache (crm.site.form.spec) that Form and
# FormField clear on create, write and delete: the clearing reaches the
# other workers through trytond's cache table or channel.
import re
from collections import namedtuple

from trytond.cache import Cache


def origin_list(text):
    "The allowed origins written one a line, normalised"
    origins = []
    for line in re.split(r'[\s,]+', text or ''):
        line = line.strip().rstrip('/')
        if line:
            origins.append(line.lower())
    return origins


FieldSpec = namedtuple('FieldSpec', [
        'key', 'label', 'type', 'required', 'choices', 'default',
        'max_length', 'mapping'])

_FORM_KEYS = [
    'id', 'uuid', 'secret', 'active', 'company', 'name', 'submit_label',
    'consent', 'consent_text', 'success_message', 'redirect_url',
    'responsible', 'allowed_origins', 'min_fill_seconds',
    'accept_plain_post', 'rate_per_hour', 'form_fields']


class FormSpec(namedtuple('FormSpec', _FORM_KEYS)):
    "A form as the public side sees it (ids for company and responsible)"
    __slots__ = ()

    def definition(self):
        "The form as plain data for the renderers and the embed script"
        return {
            'id': self.id,
            'uuid': self.uuid,
            'name': self.name,
            'submit_label': self.submit_label,
            'consent': self.consent,
            'consent_text': self.consent_text,
            'fields': [dict(f._asdict(), choices=list(f.choices))
                for f in self.form_fields],
            }

    def origin_allowed(self, origin, own_origins):
        "Whether a browser page of origin may post this form"
        if not origin:
            return True
        origin = origin.lower().rstrip('/')
        return (origin in {o.lower().rstrip('/') for o in own_origins}
            or origin in self.allowed_origins)


def build(form):
    "The FormSpec of a crm.site.form record (read in its context)"
    return FormSpec(
        id=form.id,
        uuid=form.uuid,
        secret=form.secret or '',
        active=bool(form.active),
        company=form.company.id,
        name=form.name,
        submit_label=form.submit_label,
        consent=bool(form.consent),
        consent_text=form.consent_text or '',
        success_message=form.success_message,
        redirect_url=form.redirect_url or None,
        responsible=form.responsible.id if form.responsible else None,
        allowed_origins=tuple(origin_list(form.allowed_origins)),
        min_fill_seconds=form.min_fill_seconds or 0,
        accept_plain_post=bool(form.accept_plain_post),
        rate_per_hour=form.rate_per_hour,
        form_fields=tuple(FieldSpec(
                key=f.key,
                label=f.label,
                type=f.type,
                required=bool(f.required) and f.type != 'hidden',
                choices=tuple(f.choice_list()),
                default=f.default or '',
                max_length=f.max_length,
                mapping=f.mapping or None)
            for f in form.form_fields))


# (uuid, language) -> FormSpec; a tuple, so Cache keeps it as it is
cache = Cache('crm.site.form.spec', context=False)


class SpecChanges:
    "A model whose changes drop the kept FormSpecs (forms, their fields)"
    __slots__ = ()

    @classmethod
    def create(cls, vlist):
        cache.clear()
        return super().create(vlist)

    @classmethod
    def write(cls, *args):
        super().write(*args)
        cache.clear()

    @classmethod
    def delete(cls, records):
        cache.clear()
        super().delete(records)
