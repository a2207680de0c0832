# Intake: the one service every channel calls to turn an inquiry into CRM
# records (match, deduplicate, create, assign, log).
import datetime
import hashlib
import json
from collections import namedtuple

from sql import Literal
from sql.operators import Or

from trytond.exceptions import UserError
from trytond.i18n import gettext
from trytond.model import Model
from trytond.pool import Pool
from trytond.rpc import RPC
from trytond.tools.email_ import EmailNotValidError, validate_email
from trytond.transaction import Transaction, without_check_access

from .phone import default_regions, normalize_email, normalize_phone

ACTIVITY_TYPES = {
    'CALL': 'call',
    'EMAIL': 'email',
    'CHAT': 'chat',
    'WEBFORM': 'form',
    }
UTM_FIELDS = [
    'utm_source', 'utm_medium', 'utm_campaign', 'utm_content', 'utm_term']
# Keys of data that intake reads itself; the rest is kept in the log only.
KNOWN_KEYS = {
    'name', 'last_name', 'company_name', 'phone', 'email', 'title',
    'message', 'comment', 'external_id', 'responsible', 'origin',
    } | set(UTM_FIELDS)

Inquiry = namedtuple('Inquiry', [
        'company', 'channel', 'key', 'name', 'company_name', 'phone',
        'phone_e164', 'email', 'email_normalized', 'title', 'message',
        'utm', 'responsible', 'origin', 'extra', 'payload'])


def _text(value):
    if value is None:
        return ''
    return str(value).strip()


class Intake(Model):
    "Inquiry intake: the entry point of every channel"
    __name__ = 'crm.intake'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__rpc__.update({
                'submit': RPC(readonly=False),
                })

    @classmethod
    def submit(cls, channel, data, company=None):
        """Turn an inquiry from channel into CRM records.

        channel is a source code (WEBFORM, CALL, CHAT, EMAIL, 1C...) and
        data a dict with name, last_name, company_name, phone, email,
        title, message (or comment), utm_*, external_id, responsible
        (employee id) and any extra key (kept in the log).
        Return a dict: opportunity, party, activity (ids or None),
        created and duplicate_submission (booleans)."""
        transaction = Transaction()
        if company is None:
            company = transaction.context.get('company')
        company = int(company) if company is not None else None
        if company is None or company < 0:
            raise UserError(gettext('crm_portal.msg_intake_company_required'))
        channel = _text(channel).upper()
        if not channel:
            raise UserError(gettext('crm_portal.msg_intake_channel_required'))
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise UserError(gettext('crm_portal.msg_intake_data_invalid'))
        with transaction.set_context(company=company):
            config = cls._config(company)
            inquiry = cls._read_inquiry(
                channel, data, company, config['regions'])
            return cls._process(inquiry, config)

    @classmethod
    def _read_inquiry(cls, channel, data, company, regions):
        "Normalise data into an Inquiry or raise UserError"
        name = ' '.join(filter(None, [
                    _text(data.get('name')), _text(data.get('last_name'))]))
        company_name = _text(data.get('company_name'))
        phone = _text(data.get('phone'))
        email = _text(data.get('email'))
        if not (name or company_name or phone or email):
            raise UserError(gettext('crm_portal.msg_intake_empty'))
        phone_e164 = (
            normalize_phone(phone, regions)
            if phone else None)
        email_normalized = normalize_email(email)
        title = _text(data.get('title'))
        message = _text(data.get('message')) or _text(data.get('comment'))
        responsible = data.get('responsible')
        if responsible in ('', 0):
            responsible = None
        if responsible is not None:
            try:
                responsible = int(responsible)
            except (TypeError, ValueError):
                raise UserError(gettext(
                        'crm_portal.msg_intake_responsible_invalid',
                        employee=responsible))
        external_id = _text(data.get('external_id'))
        if external_id:
            key = external_id
        else:
            # Without the channel's identifier, the same inquiry on the
            # same day is a repeat (double click, retried request); the
            # same words a week later are a new request of the client.
            key = hashlib.sha256(json.dumps([
                        channel, name.lower(), company_name.lower(),
                        phone_e164 or phone, email_normalized or email.lower(),
                        title, message,
                        datetime.datetime.now(
                            datetime.timezone.utc).date().isoformat(),
                        ], ensure_ascii=False).encode('utf-8')).hexdigest()
        return Inquiry(
            company=company,
            channel=channel,
            key=key,
            name=name,
            company_name=company_name,
            phone=phone,
            phone_e164=phone_e164,
            email=email,
            email_normalized=email_normalized,
            title=title,
            message=message,
            utm={f: _text(data.get(f)) or None for f in UTM_FIELDS},
            responsible=responsible,
            origin=data.get('origin') or None,
            extra={str(k): _text(v) for k, v in data.items()
                if k not in KNOWN_KEYS
                and isinstance(v, (str, int, float))
                and not isinstance(v, bool) and _text(v)},
            payload=cls._payload(data))

    @staticmethod
    def _payload(data):
        "A JSON-safe copy of data for the log"
        payload = {}
        for key, value in data.items():
            if not isinstance(value, (str, int, float, bool, type(None))):
                value = str(value)
            payload[str(key)] = value
        return payload

    @classmethod
    def _process(cls, inquiry, config):
        pool = Pool()
        Submission = pool.get('crm.intake.submission')

        responsible = cls._check_responsible(inquiry)
        source = cls._source(inquiry.channel)
        # The log and the team turn are bookkeeping of the intake itself,
        # not records the caller edits: they ignore the caller's rights.
        # A repeated inquiry is caught by the unique key of the log.
        with without_check_access():
            submission = Submission.reserve(
                inquiry.company, inquiry.channel, inquiry.key,
                source=source.id if source else None,
                payload=inquiry.payload)
        if isinstance(submission, dict):
            return submission

        simple_mode = bool(config['simple_mode'])
        matched = cls._match_party(inquiry)
        contact, client = cls._client(matched)
        opportunity = cls._match_opportunity(
            inquiry, contact, client, simple_mode)

        created = False
        if opportunity:
            outcome = 'attached'
            responsible = (responsible
                or cls._client_responsible(inquiry, contact, client)
                or opportunity.employee)
            if not responsible:
                responsible = cls._next_responsible(inquiry)
            if responsible and not opportunity.employee:
                opportunity.employee = responsible
                opportunity.save()
        elif matched or config['intake_create_unknown']:
            outcome = 'created'
            created = True
            responsible = (responsible
                or cls._client_responsible(inquiry, contact, client))
            if not responsible:
                responsible = cls._next_responsible(inquiry)
            if simple_mode:
                if not client:
                    contact, client = cls._create_client(
                        inquiry, source, responsible)
                opportunity = cls._create_opportunity(
                    inquiry, 'deal', source, contact, client, responsible)
            else:
                opportunity = cls._create_opportunity(
                    inquiry, 'lead', source, contact, client, responsible)
        else:
            outcome = 'ignored'

        activity = None
        if opportunity or client:
            activity = cls._create_activity(
                inquiry, source, opportunity, contact or client, responsible)

        party = contact or client
        submission.record_result(
            opportunity=opportunity, party=party, activity=activity,
            created=created, outcome=outcome)
        return {
            'opportunity': opportunity.id if opportunity else None,
            'party': party.id if party else None,
            'activity': activity.id if activity else None,
            'created': created,
            'duplicate_submission': False,
            }

    # The look-ups below run on every inquiry: each is one plain SQL query
    # on indexed columns, filtered on the company explicitly.

    @classmethod
    def _config(cls, company):
        "Settings of company, with its phone regions"
        pool = Pool()
        ConfigurationCompany = pool.get('crm.configuration.company')
        config = ConfigurationCompany.__table__()
        cursor = Transaction().connection.cursor()
        values = {
            'simple_mode': ConfigurationCompany.default_simple_mode(),
            'intake_create_unknown': (
                ConfigurationCompany.default_intake_create_unknown()),
            }
        cursor.execute(*config.select(
                config.simple_mode, config.intake_create_unknown,
                where=config.company == company,
                order_by=[config.id.asc], limit=1))
        row = cursor.fetchone()
        if row:
            simple_mode, create_unknown = row
            if simple_mode is not None:
                values['simple_mode'] = bool(simple_mode)
            if create_unknown is not None:
                values['intake_create_unknown'] = bool(create_unknown)
        values['regions'] = default_regions(company)
        return values

    @classmethod
    def _source(cls, channel):
        "The active source of code channel"
        Source = Pool().get('crm.source')
        table = Source.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(
                table.id,
                where=(table.code == channel)
                & (table.active == Literal(True)),
                order_by=[table.sequence.asc, table.id.asc], limit=1))
        row = cursor.fetchone()
        return Source(row[0]) if row else None

    @classmethod
    def _check_responsible(cls, inquiry):
        Employee = Pool().get('company.employee')
        if inquiry.responsible is None:
            return None
        employees = Employee.search([
                ('id', '=', inquiry.responsible),
                ('company', '=', inquiry.company),
                ], limit=1)
        if not employees:
            raise UserError(gettext(
                    'crm_portal.msg_intake_responsible_invalid',
                    employee=inquiry.responsible))
        return employees[0]

    @staticmethod
    def _client_responsible(inquiry, contact, client):
        "The employee in charge of the client in the inquiry's company"
        for party in [contact, client]:
            employee = party.crm_responsible if party else None
            if employee and employee.company.id == inquiry.company:
                return employee

    @classmethod
    def _next_responsible(cls, inquiry):
        TeamMember = Pool().get('crm.intake.team.member')
        with without_check_access():
            return TeamMember.next_employee(inquiry.company)

    @classmethod
    def _match_party(cls, inquiry):
        "Return the party whose phone or e-mail is the inquiry's"
        pool = Pool()
        Duplicate = pool.get('crm.duplicate')
        Party = pool.get('party.party')
        # A phone identifies better than an e-mail shared by a team.
        ids = Duplicate.match_parties(
            [inquiry.phone_e164, inquiry.email_normalized])
        return Party(ids[0]) if ids else None

    @staticmethod
    def _client(party):
        "Return the contact person and the client (its employer or itself)"
        if not party:
            return None, None
        if party.crm_kind == 'organisation':
            return None, party
        return party, (party.employer or party)

    @classmethod
    def _match_opportunity(cls, inquiry, contact, client, simple_mode):
        "Return the open lead or deal the inquiry belongs to"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Status = pool.get('crm.lead.status')
        Stage = pool.get('crm.pipeline.stage')
        opportunity = Opportunity.__table__()
        status = Status.__table__()
        stage = Stage.__table__()
        who = []
        if inquiry.phone_e164:
            who.append(opportunity.contact_phone_e164 == inquiry.phone_e164)
        if inquiry.email_normalized:
            who.append(opportunity.contact_email == inquiry.email_normalized)
        parties = {p.id for p in [contact, client] if p}
        if parties:
            who.append(opportunity.party.in_(sorted(parties)))
        if contact:
            who.append(opportunity.contact_party == contact.id)
        if not who:
            return None
        kinds = ((opportunity.crm_type == 'deal')
            & (stage.kind == 'in_progress'))
        if not simple_mode:
            kinds |= ((opportunity.crm_type == 'lead')
                & (status.kind == 'open'))
        cursor = Transaction().connection.cursor()
        cursor.execute(*opportunity
            .join(status, 'LEFT',
                condition=opportunity.lead_status == status.id)
            .join(stage, 'LEFT',
                condition=opportunity.stage == stage.id)
            .select(opportunity.id,
                where=(opportunity.company == inquiry.company)
                & kinds & Or(who),
                # leads before deals, the newest first
                order_by=[opportunity.crm_type.desc, opportunity.id.desc],
                limit=1))
        row = cursor.fetchone()
        return Opportunity(row[0]) if row else None

    @classmethod
    def _create_client(cls, inquiry, source, responsible):
        "Create the contact (and its company) of an unknown client"
        Party = Pool().get('party.party')
        employer = None
        if inquiry.company_name:
            employers = Party.search([
                    ('crm_kind', '=', 'organisation'),
                    ('name', '=', inquiry.company_name),
                    ], order=[('id', 'ASC')], limit=1)
            if employers:
                employer, = employers
            else:
                employer = Party(
                    name=inquiry.company_name,
                    crm_kind='organisation',
                    crm_source=source,
                    crm_responsible=responsible)
        mechanisms = []
        if inquiry.phone:
            mechanisms.append({'type': 'phone', 'value': inquiry.phone})
        if inquiry.email_normalized:
            try:
                validate_email(inquiry.email_normalized)
            except EmailNotValidError:
                # Kept on the deal (contact_email) as written.
                pass
            else:
                mechanisms.append(
                    {'type': 'email', 'value': inquiry.email_normalized})
        contact = Party(
            name=(inquiry.name or inquiry.email_normalized or inquiry.phone
                or inquiry.company_name),
            crm_kind='person',
            employer=employer,
            crm_source=source,
            crm_responsible=responsible,
            contact_mechanisms=mechanisms)
        contact.save()
        return contact, (contact.employer or contact)

    @classmethod
    def _title(cls, inquiry, source):
        if inquiry.title:
            return inquiry.title
        return gettext('crm_portal.msg_intake_title',
            channel=source.name if source else inquiry.channel,
            name=(inquiry.name or inquiry.company_name or inquiry.phone
                or inquiry.email))

    @classmethod
    def _create_opportunity(
            cls, inquiry, crm_type, source, contact, client, responsible):
        Opportunity = Pool().get('sale.opportunity')
        values = {
            'company': inquiry.company,
            'crm_type': crm_type,
            'description': cls._title(inquiry, source),
            'contact_name': inquiry.name or None,
            'contact_company_name': inquiry.company_name or None,
            'contact_phone': inquiry.phone or None,
            'contact_email': inquiry.email or None,
            'source': source.id if source else None,
            'party': client.id if client else None,
            'contact_party': contact.id if contact else None,
            'employee': responsible.id if responsible else None,
            'comment': inquiry.message or None,
            }
        values.update(inquiry.utm)
        with Transaction().set_context(crm_type=crm_type):
            opportunity, = Opportunity.create([values])
        return opportunity

    @classmethod
    def _create_activity(
            cls, inquiry, source, opportunity, party, responsible):
        Activity = Pool().get('crm.activity')
        # data['origin'] links the channel's own record ("model,id")
        origin = inquiry.origin
        if origin and str(origin).split(',', 1)[0] not in dict(
                Activity.get_origins()):
            origin = None
        # what the form asked beyond the usual fields goes on the timeline
        extra = '\n'.join(
            '%s: %s' % (k, v) for k, v in sorted(inquiry.extra.items()))
        description = '\n\n'.join(
            filter(None, [inquiry.message, extra])) or None
        activity, = Activity.create([{
                    'company': inquiry.company,
                    'type': ACTIVITY_TYPES.get(inquiry.channel, 'note'),
                    'direction': 'incoming',
                    'subject': inquiry.title or gettext(
                        'crm_portal.msg_intake_subject',
                        channel=source.name if source else inquiry.channel),
                    'description': description,
                    'deadline': datetime.datetime.now(),
                    'opportunity': opportunity.id if opportunity else None,
                    'party': party.id if party else None,
                    'responsible': responsible.id if responsible else None,
                    'origin': origin,
                    }])
        return activity
