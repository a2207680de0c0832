# A visitor's submission of a web form: validation with a message per
# field, spam checks, then intake (the one way into the CRM).
import hashlib
import hmac
import json
import re
import time

from sql.functions import CurrentTimestamp

from trytond.exceptions import UserError
from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, fields
from trytond.modules.crm_portal.automation import savepoint
from trytond.modules.crm_portal.phone import default_regions, normalize_phone
from trytond.modules.crm_portal.public import take_rate
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.transaction import Transaction

from . import formspec
from .formspec import FormSpec
from .site import public_url


UTM = ['utm_source', 'utm_medium', 'utm_campaign', 'utm_content', 'utm_term']
TOKEN_MAX_AGE = 24 * 3600
META_LENGTH = 500
_ATOM = r'[^@\s<>"(),;:]'
EMAIL = re.compile(
    r'^%s{1,64}@%s+\.[^@\s<>"(),;:.]{2,}$' % (_ATOM, _ATOM))


class OriginRefused(Exception):
    "A post from a page whose origin the form does not allow"


class FormError(Exception):
    "A refused submission: errors per field key and a general message"

    def __init__(self, message, errors=None, status=400):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}
        self.status = status


def fill_token(form, now=None):
    "The token telling when the form was shown to the visitor"
    stamp = str(int(now if now is not None else time.time()))
    return '%s.%s' % (stamp, _sign(form, stamp))


def _sign(form, stamp):
    return hmac.new((form.secret or '').encode('utf-8'),
        ('%s:%s' % (form.uuid, stamp)).encode('ascii'),
        hashlib.sha256).hexdigest()[:32]


def _clean(value, limit):
    "One value as text without control characters"
    if value is None:
        return ''
    if isinstance(value, (list, tuple)):
        value = value[0] if value else ''
    value = str(value)
    value = ''.join(c for c in value if c in '\n\t' or c >= ' ')
    return value.strip()[:limit]


class Submission(ModelSQL, ModelView):
    "Web Form Submission"
    __name__ = 'crm.site.form.submission'

    form = fields.Many2One(
        'crm.site.form', "Form", required=True, ondelete='CASCADE',
        readonly=True)
    company = fields.Many2One(
        'company.company', "Company", required=True, readonly=True)
    page = fields.Many2One(
        'crm.site.page', "Page", readonly=True, ondelete='SET NULL')
    visitor = fields.Char("Visitor", readonly=True)
    first_visit = fields.Char("First Visit", readonly=True)
    referrer = fields.Char("Referrer", readonly=True)
    utm_source = fields.Char("UTM Source", readonly=True)
    utm_medium = fields.Char("UTM Medium", readonly=True)
    utm_campaign = fields.Char("UTM Campaign", readonly=True)
    utm_content = fields.Char("UTM Content", readonly=True)
    utm_term = fields.Char("UTM Term", readonly=True)
    data = fields.Text("Data", readonly=True)
    opportunity = fields.Many2One(
        'sale.opportunity', "Lead or Deal", readonly=True,
        ondelete='SET NULL')
    party = fields.Many2One(
        'party.party', "Contact", readonly=True, ondelete='SET NULL',
        context={'company': Eval('company', -1)}, depends={'company'})
    activity = fields.Many2One(
        'crm.activity', "Activity", readonly=True, ondelete='SET NULL')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order.insert(0, ('create_date', 'DESC'))

    def get_rec_name(self, name):
        return '%s #%s' % (self.form.rec_name, self.id)

    @classmethod
    def check_token(cls, form, token, now=None):
        "Raise FormError for a missing, forged, stale or too quick token"
        form = cls._spec(form)
        if not token and form.accept_plain_post:
            return
        age = cls.token_age(form, token, now)
        if age is None:
            raise FormError(gettext('crm_sites.msg_submit_reload'))
        if age < form.min_fill_seconds:
            raise FormError(gettext('crm_sites.msg_submit_too_fast'))

    @classmethod
    def token_age(cls, form, token, now=None):
        """Seconds since the form was shown with token; None for a missing,
        forged or stale one"""
        form = cls._spec(form)
        now = now if now is not None else time.time()
        stamp, _, signature = str(token or '').partition('.')
        if (not stamp.isdigit() or not hmac.compare_digest(
                    signature.encode('ascii', 'replace'),
                    _sign(form, stamp).encode('ascii'))):
            return None
        age = now - int(stamp)
        return age if age <= TOKEN_MAX_AGE else None

    @staticmethod
    def _spec(form):
        "The FormSpec of form (a crm.site.form record or already a spec)"
        if isinstance(form, FormSpec):
            return form
        return (Pool().get('crm.site.form').spec(form.uuid)
            or formspec.build(form))

    @classmethod
    def read_values(cls, form, values):
        """Return (intake data, visitor values) of the form's fields, or
        raise FormError with a message for each wrong field."""
        form = cls._spec(form)
        errors = {}
        data = {}
        extra = {}
        kept = {}
        regions = None
        for field in form.form_fields:
            raw = values.get(field.key)
            if field.type == 'hidden':
                value = field.default or ''
            elif field.type == 'checkbox':
                value = '1' if _clean(raw, 10) not in {'', '0'} else ''
            else:
                value = _clean(raw, 100000)
            kept[field.key] = value
            if len(value) > field.max_length:
                errors[field.key] = gettext(
                    'crm_sites.msg_field_too_long', limit=field.max_length)
                continue
            if not value:
                if field.required and field.type != 'hidden':
                    errors[field.key] = gettext(
                        'crm_sites.msg_field_required')
                continue
            if field.type == 'email':
                # syntax only: no DNS look-up on a public request
                if not EMAIL.match(value):
                    errors[field.key] = gettext(
                        'crm_sites.msg_field_email_invalid')
                    continue
            elif field.type == 'phone':
                if regions is None:
                    regions = default_regions(form.company)
                if not normalize_phone(value, regions):
                    errors[field.key] = gettext(
                        'crm_sites.msg_field_phone_invalid')
                    continue
            elif field.type == 'choice':
                if value not in field.choices:
                    errors[field.key] = gettext(
                        'crm_sites.msg_field_choice_invalid')
                    continue
            if field.mapping:
                if field.mapping in data:
                    data[field.mapping] += ' ' + value
                else:
                    data[field.mapping] = value
            else:
                extra[field.label] = (
                    gettext('crm_sites.msg_yes') if field.type == 'checkbox'
                    else value)
        if form.consent:
            consent = _clean(values.get('_consent'), 10) not in {'', '0'}
            kept['_consent'] = '1' if consent else ''
            if not consent:
                errors['_consent'] = gettext(
                    'crm_sites.msg_field_consent_required')
        if errors:
            raise FormError(
                gettext('crm_sites.msg_submit_invalid'), errors)
        if not any(data.get(k) for k in
                ['name', 'phone', 'email', 'company_name']):
            raise FormError(gettext('crm_sites.msg_submit_empty'))
        data.update(extra)
        return data, kept

    @classmethod
    def post(cls, uuid, values, meta, origin=None, own_origins=(),
            address=''):
        """All a visitor's post of the form uuid does in the database (the
        route's transaction, as the public user).  Return the form's
        FormSpec, or None when there is no such active form.  Raise
        OriginRefused, or FormError: the rate slot taken stays taken, the
        rest is undone."""
        Form = Pool().get('crm.site.form')
        form = Form.spec(uuid)
        if not form or not form.active:
            return None
        if not form.origin_allowed(origin, own_origins):
            raise OriginRefused
        if not take_rate('sites.form:%s:%s' % (form.id, address),
                rate=form.rate_per_hour / 3600,
                burst=min(form.rate_per_hour, 10)):
            raise FormError(gettext('crm_sites.msg_submit_rate_limited'),
                status=429)
        with savepoint('crm_sites_form'), Transaction().set_context(
                company=form.company):
            cls.accept(form, values, meta)
        return form

    @classmethod
    def accept(cls, form, values, meta):
        """Validate values posted to form and hand them to intake.

        meta: page (id), visitor, first_visit, referrer, address, now.
        Return the submission, or None for a spam trap (answered as a
        success without a trace).  Raise FormError for what the visitor
        must correct."""
        pool = Pool()
        Intake = pool.get('crm.intake')
        form = cls._spec(form)
        if _clean(values.get('_website'), 200):
            return None
        cls.check_token(form, values.get('_t'), meta.get('now'))
        data, kept = cls.read_values(form, values)
        utm = {k: _clean(values.get(k) or meta.get(k), 200) or None
            for k in UTM}
        page_id, page_url = cls._page(form, meta.get('page'))
        referrer = _clean(values.get('_referrer') or meta.get('referrer'),
            META_LENGTH) or None
        first_visit = _clean(values.get('_first_visit')
            or meta.get('first_visit'), 40) or None
        record = {k: v for k, v in kept.items()}
        if form.consent:
            record['_consent_text'] = form.consent_text
        submission = cls._insert({
                'form': form.id,
                'company': form.company,
                'page': page_id,
                'visitor': _clean(meta.get('visitor'), 64) or None,
                'first_visit': first_visit,
                'referrer': referrer,
                'data': json.dumps(record, ensure_ascii=False),
                **utm,
                })
        data.update({k: v for k, v in utm.items() if v})
        for label, value in [
                ('msg_extra_form', form.name),
                ('msg_extra_page', page_url or _clean(
                        values.get('_location'), META_LENGTH)),
                ('msg_extra_referrer', referrer),
                ('msg_extra_first_visit', first_visit),
                ]:
            if value:
                data[gettext('crm_sites.' + label)] = value
        if form.responsible:
            data['responsible'] = form.responsible
        data['origin'] = str(submission)
        try:
            result = Intake.submit('WEBFORM', data, form.company)
        except UserError as exception:
            raise FormError(exception.message)
        # the links back are bookkeeping of the submission itself
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.update(
                [table.opportunity, table.party, table.activity],
                [result.get('opportunity'), result.get('party'),
                    result.get('activity')],
                where=table.id == submission.id))
        # what was read of the submission before must not come from cache
        for cache in Transaction().cache.values():
            if cls.__name__ in cache:
                cache[cls.__name__].pop(submission.id, None)
        return cls(submission.id)

    @classmethod
    def _insert(cls, values):
        """Record a submission: one INSERT of values checked above (the
        log of the form, like intake's own log; no client edits it)"""
        table = cls.__table__()
        transaction = Transaction()
        cursor = transaction.connection.cursor()
        columns = [getattr(table, k) for k in values]
        insert = table.insert(
            columns + [table.create_uid, table.create_date],
            [list(values.values()) + [transaction.user, CurrentTimestamp()]])
        if transaction.database.has_returning():
            insert.returning = [table.id]
            cursor.execute(*insert)
            submission_id, = cursor.fetchone()
        else:
            cursor.execute(*insert)
            submission_id = transaction.database.lastid(cursor)
        return cls(submission_id)

    @classmethod
    def _page(cls, form, page_id):
        """(id, address) of the page of the form's company the submission
        came from, or (None, None): one query, no record to read"""
        pool = Pool()
        Page = pool.get('crm.site.page')
        Site = pool.get('crm.site')
        if not page_id:
            return None, None
        page = Page.__table__()
        site = Site.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*page.join(site, condition=page.site == site.id
                ).select(page.id, site.slug, page.slug,
                where=(page.id == int(page_id))
                & (site.company == form.company)))
        row = cursor.fetchone()
        if not row:
            return None, None
        page_id, site_slug, slug = row
        return page_id, public_url(site_slug, slug)


class Activity(metaclass=PoolMeta):
    __name__ = 'crm.activity'

    @classmethod
    def _get_origin(cls):
        return super()._get_origin() + ['crm.site.form.submission']


def visitor_of(cookie):
    "The visitor id kept in the crm_v cookie (hex, then first-visit time)"
    value = (cookie or '')[:80]
    ident, _, stamp = value.partition('.')
    if not (ident and all(c in '0123456789abcdef' for c in ident)
            and len(ident) == 32):
        return None, None
    first = None
    if stamp.isdigit():
        first = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(int(stamp)))
    return ident, first

