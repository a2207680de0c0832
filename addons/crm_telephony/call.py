# Calls: one record per phone call, whatever connector reported it.
# register/answer/finish are the one API of every connector (REST, AMI,
# webhook, click-to-call): they are idempotent on the call's identifiers.
import datetime
import secrets

from sql import Null

from trytond.exceptions import UserError
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Unique, fields
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction, without_check_access

from trytond.modules.crm_portal.phone import default_regions, normalize_phone

from .configuration import telephony_config
from .sqlcache import execute

RESULTS = [
    (None, ""),
    ('answered', "Answered"),
    ('missed', "Missed"),
    ('busy', "Busy"),
    ('declined', "Declined"),
    ('failed', "Failed"),
    ('voicemail', "Voicemail"),
    ]
# Bitrix24's SIP-like STATUS_CODE of telephony.externalcall.finish
STATUS_RESULTS = {
    '200': 'answered',
    '304': 'missed',
    '480': 'missed',
    '486': 'busy',
    '603': 'declined',
    '603-S': 'missed',
    'VOICEMAIL': 'voicemail',
    }
RESULT_STATUS = {'answered': '200', 'missed': '304', 'busy': '486',
    'declined': '603', 'failed': 'OTHER', 'voicemail': '304'}
# A repeated register of an unfinished call returns it for this long.
REGISTER_WINDOW = datetime.timedelta(minutes=30)


def status_result(code):
    "The result of a STATUS_CODE (failed for codes we do not know)"
    code = str(code or '').strip().upper()
    if not code:
        return None
    return STATUS_RESULTS.get(code, 'failed')


class Call(ModelSQL, ModelView):
    "Phone Call"
    __name__ = 'crm.telephony.call'
    _rec_name = 'call_id'

    company = fields.Many2One(
        'company.company', "Company", required=True, readonly=True)
    call_id = fields.Char("Call ID", required=True, readonly=True,
        help="The identifier the PBX uses for the call (CALL_ID).")
    external_id = fields.Char("External ID", readonly=True,
        help="The PBX's own identifier (AMI Linkedid, webhook id).")
    connector = fields.Selection([
            ('rest', "REST"),
            ('ami', "Asterisk AMI"),
            ('webhook', "Webhook"),
            ('click', "Click-to-call"),
            ], "Connector", required=True, readonly=True)
    line = fields.Many2One('crm.telephony.line', "Line", readonly=True,
        ondelete='SET NULL')
    direction = fields.Selection([
            ('incoming', "Incoming"),
            ('outgoing', "Outgoing"),
            ], "Direction", required=True, readonly=True)
    phone = fields.Char("Client Number", readonly=True)
    phone_e164 = fields.Char("Client Number (E.164)", readonly=True)
    caller = fields.Function(fields.Char("Caller"), 'get_ends')
    callee = fields.Function(fields.Char("Callee"), 'get_ends')
    extension = fields.Char("Extension", readonly=True)
    employee = fields.Many2One('company.employee', "Employee",
        readonly=True, ondelete='SET NULL')
    responsible = fields.Many2One('company.employee', "Responsible",
        readonly=True, ondelete='SET NULL',
        help="The employee in charge of the client, offered the call "
        "first.")
    state = fields.Selection([
            ('ringing', "Ringing"),
            ('answered', "In Progress"),
            ('finished', "Finished"),
            ], "State", required=True, readonly=True)
    start = fields.DateTime("Start", required=True, readonly=True)
    answer_date = fields.DateTime("Answered", readonly=True)
    end = fields.DateTime("End", readonly=True)
    duration = fields.Integer("Talk Time (s)", readonly=True)
    wait = fields.Integer("Wait Time (s)", readonly=True)
    result = fields.Selection(RESULTS, "Result", readonly=True)
    status_code = fields.Char("Status Code", readonly=True)
    failed_reason = fields.Char("Failure Reason", readonly=True)
    cost = fields.Numeric("Cost", digits=(16, 4), readonly=True)
    cost_currency = fields.Char("Cost Currency", readonly=True)
    recording = fields.Binary("Recording", readonly=True,
        file_id='recording_id', filename='recording_name')
    recording_id = fields.Char("Recording ID", readonly=True)
    recording_name = fields.Char("Recording File", readonly=True)
    recording_date = fields.DateTime("Recorded On", readonly=True)
    recording_source = fields.Char("Recording Source", readonly=True,
        help="The URL or PBX file name the recording comes from.")
    opportunity = fields.Many2One('sale.opportunity', "Lead or Deal",
        readonly=True, ondelete='SET NULL')
    contact = fields.Many2One('party.party', "Contact", readonly=True,
        ondelete='SET NULL',
        context={'company': Eval('company', -1)}, depends={'company'})
    client = fields.Many2One('party.party', "Company", readonly=True,
        ondelete='SET NULL',
        context={'company': Eval('company', -1)}, depends={'company'})
    lead_created = fields.Boolean("Lead Created", readonly=True)
    activity = fields.Many2One('crm.activity', "Activity", readonly=True,
        ondelete='SET NULL')
    callback_task = fields.Many2One('crm.activity', "Call-back Task",
        readonly=True, ondelete='SET NULL')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('call_id_unique', Unique(t, t.company, t.call_id),
                'crm_telephony.msg_call_id_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.external_id, Index.Equality()),
                    where=t.external_id != Null),
                Index(t, (t.phone_e164, Index.Equality()),
                    (t.state, Index.Equality())),
                # the repeated-register check matches the raw number too
                Index(t, (t.phone, Index.Equality()),
                    where=t.state != 'finished'),
                Index(t, (t.start, Index.Range())),
                Index(t, (t.callback_task, Index.Equality()),
                    where=t.callback_task != Null),
                })
        cls._order = [('start', 'DESC'), ('id', 'DESC')]

    @staticmethod
    def default_company():
        return Transaction().context.get('company')

    def get_ends(self, name):
        ours = self.extension or (self.line.number if self.line else None)
        if (name == 'caller') == (self.direction == 'incoming'):
            return self.phone
        return ours

    def get_rec_name(self, name):
        return '%s %s' % (self.phone or '?', self.start or '')

    @classmethod
    def search_rec_name(cls, name, clause):
        return ['OR', ('phone', *clause[1:]), ('call_id', *clause[1:])]

    # -- look-ups (caller-ID: caller_id.py)

    @classmethod
    def find_open(cls, company, call_id):
        "The call of company with call_id or raise UserError"
        table = cls.__table__()
        row = execute(['find_open'], lambda var: table.select(table.id,
                where=(table.company == var('company'))
                & (table.call_id == var('call_id')),
                limit=1),
            company=int(company), call_id=str(call_id or '').strip()
            ).fetchone()
        if not row:
            raise UserError(gettext('crm_telephony.msg_call_not_found',
                    call_id=str(call_id)[:100]))
        return cls(row[0])

    # -- the connector API

    @classmethod
    def register(cls, company, number, direction='incoming', line=None,
            extension=None, employee=None, external_id=None,
            connector='rest', start=None, crm_create=None, strict=True,
            show=True, entity=None):
        """Find or create the call and return it.

        number is the client's number; a malformed one raises UserError
        when strict (an anonymous caller of a PBX is not strict).
        crm_create None follows the company switch.  entity ("model,id")
        forces the CRM record the call belongs to."""
        pool = Pool()
        Extension = pool.get('crm.telephony.extension')
        company = int(company)
        number = str(number or '').strip()
        # a number with its country code reads the same in every region:
        # the regions (two queries) are for national numbers only
        regions = [] if number.startswith('+') else default_regions(company)
        e164 = normalize_phone(number, regions) if number else None
        if strict and not e164:
            raise UserError(gettext('crm_telephony.msg_invalid_number',
                    number=number[:50]))
        if employee is None and extension:
            employee = Extension.employee_of(company, extension)
        if employee is not None and not isinstance(employee, int):
            employee = employee.id
        line_id = line.id if line else None

        existing = cls._find_registered(company, connector, external_id,
            e164 or number, direction, employee, line_id)
        if existing:
            return existing

        found = cls.lookup_ids(company, e164)
        if entity:
            found.update({k: v.id if v else None
                    for k, v in cls._entity(entity).items()})
        now = datetime.datetime.now()
        values = {
            'company': company,
            'call_id': 'externalCall.%s.%d' % (
                secrets.token_hex(16), int(now.timestamp())),
            'external_id': external_id or None,
            'connector': connector,
            'line': line_id,
            'direction': direction,
            'phone': number or None,
            'phone_e164': e164,
            'extension': extension or (
                Extension.extension_of(employee) if employee else None),
            'employee': employee,
            'state': 'ringing',
            'start': start or now,
            'lead_created': False,
            }
        values.update(found)
        call, = cls.create([values])

        known = found['contact'] or found['client'] or found['opportunity']
        if not known and e164:
            if crm_create is None:
                crm_create = telephony_config(company)['call_create_leads']
            if crm_create:
                call._create_lead()
        if (direction == 'incoming' and call.opportunity
                and call.opportunity.crm_type == 'deal'):
            Automation = pool.get('crm.automation')
            Automation.fire('call_incoming', [call.opportunity])
        if show:
            target = call.employee or (
                call.responsible if direction == 'incoming' else None)
            if target:
                pool.get('crm.telephony.call.card').show(call, target)
        return call

    @classmethod
    def _find_registered(cls, company, connector, external_id, number,
            direction, employee, line):
        "The call a repeated register means (indexed SQL: every call)"
        table = cls.__table__()
        if external_id:
            def build(var):
                where = ((table.company == var('company'))
                    & (table.external_id == var('external_id')))
                if line:
                    where &= table.line == var('line')
                else:
                    where &= table.connector == var('connector')
                return table.select(table.id, where=where,
                    order_by=[table.id.desc], limit=1)
            key = ['registered_external', bool(line)]
        else:
            def build(var):
                where = ((table.company == var('company'))
                    & (table.state != 'finished')
                    & ((table.phone_e164 == var('number'))
                        | (table.phone == var('number')))
                    & (table.direction == var('direction'))
                    & (table.connector == var('connector'))
                    & (table.start >= var('since')))
                # NULL is not equal to NULL in SQL: one shape each
                for name in ['employee', 'line']:
                    column = getattr(table, name)
                    where &= (column == var(name)
                        if values[name] is not None else column == Null)
                return table.select(table.id, where=where,
                    order_by=[table.id.desc], limit=1)
            key = ['registered', employee is None, line is None]
        values = dict(company=company, external_id=external_id,
            line=line, connector=connector, number=number,
            direction=direction, employee=employee,
            since=datetime.datetime.now() - REGISTER_WINDOW)
        row = execute(key, build, **values).fetchone()
        return cls(row[0]) if row else None

    @classmethod
    def _entity(cls, entity):
        "contact/client/opportunity of a 'model,id' reference"
        pool = Pool()
        model, id_ = entity.split(',')
        record = pool.get(model)(int(id_))
        if model == 'sale.opportunity':
            return {'opportunity': record,
                'contact': record.contact_party, 'client': record.party,
                'responsible': record.employee}
        if record.crm_kind == 'organisation':
            return {'client': record, 'responsible': record.crm_responsible}
        return {'contact': record, 'client': record.employer,
            'responsible': record.crm_responsible}

    def _create_lead(self):
        "Create a lead for an unknown number through the intake"
        Intake = Pool().get('crm.intake')
        result = Intake.submit('CALL', {
                'phone': self.phone,
                'external_id': self.call_id,
                'responsible': self.employee.id if self.employee else (
                    self.line.default_employee.id
                    if self.line and self.line.default_employee else None),
                'origin': str(self),
                }, company=self.company.id)
        self.opportunity = result['opportunity']
        self.activity = result['activity']
        self.lead_created = bool(result['created'])
        if self.opportunity and self.opportunity.employee:
            self.responsible = self.opportunity.employee
        self.save()

    @classmethod
    def answer(cls, calls, extension=None, employee=None, when=None):
        "The call is answered (by extension or employee)"
        pool = Pool()
        Extension = pool.get('crm.telephony.extension')
        Card = pool.get('crm.telephony.call.card')
        when = when or datetime.datetime.now()
        for call in calls:
            if call.state == 'finished':
                continue
            if employee is None and extension:
                employee = Extension.employee_of(call.company.id, extension)
            if call.state != 'answered':
                call.state = 'answered'
                call.answer_date = when
            if employee:
                call.employee = employee
            if extension:
                call.extension = extension
            call.save()
            # the cards of the others disappear: someone answered
            Card.hide(call, keep=call.employee)

    @classmethod
    def finish(cls, call, result=None, status_code=None, duration=None,
            answer=None, end=None, cost=None, cost_currency=None,
            employee=None, failed_reason=None, record_url=None,
            correction=False):
        """End the call and log it on the timeline.

        A second finish raises UserError, unless correction (the PBX's
        call detail record) which only fixes the times and result."""
        pool = Pool()
        Card = pool.get('crm.telephony.call.card')
        if call.state == 'finished' and not correction:
            raise UserError(gettext('crm_telephony.msg_call_finished',
                    call_id=call.call_id))
        was_finished = call.state == 'finished'
        if result is None:
            result = status_result(status_code)
        if result is None:
            result = 'answered' if (duration or answer) else 'missed'
        if status_code is None:
            status_code = RESULT_STATUS.get(result)
        end = end or (call.end if was_finished else None) \
            or datetime.datetime.now()
        if result == 'answered':
            if answer is None and duration is not None:
                answer = end - datetime.timedelta(seconds=int(duration))
            answer = answer or call.answer_date or end
            answer = max(answer, call.start)
        else:
            answer = None
        if duration is None:
            duration = int((end - answer).total_seconds()) if answer else 0
        call.state = 'finished'
        call.result = result
        call.status_code = str(status_code) if status_code else None
        call.answer_date = answer
        call.end = max(end, call.start)
        call.duration = max(int(duration), 0)
        call.wait = max(int(((answer or call.end) - call.start)
                .total_seconds()), 0)
        if cost is not None:
            call.cost = cost
            call.cost_currency = cost_currency
        if failed_reason:
            call.failed_reason = str(failed_reason)[:200]
        if employee:
            call.employee = employee
            if call.lead_created and call.opportunity:
                # Bitrix24: the lead created by register goes to USER_ID
                call.opportunity.employee = call.employee
                call.opportunity.save()
        # the activity first: then the call is written once
        call._log_activity()
        call.save()
        if not was_finished:
            call._missed_task()
            Card.hide(call)
            if record_url:
                call.queue_recording(record_url)
        return call

    # -- timeline

    def _activity_subject(self):
        name = ('crm_telephony.msg_call_subject_incoming'
            if self.direction == 'incoming'
            else 'crm_telephony.msg_call_subject_outgoing')
        return gettext(name, number=self.phone or '?')

    def _activity_description(self):
        Call = self.__class__
        results = dict(Call.fields_get(['result'])['result']['selection'])
        return gettext('crm_telephony.msg_call_description',
            result=results.get(self.result, ''),
            duration=self.duration or 0, wait=self.wait or 0)

    def _log_activity(self):
        "Create or update the call activity (the caller saves the call)"
        Activity = Pool().get('crm.activity')
        values = {
            'type': 'call',
            'direction': self.direction,
            'subject': self._activity_subject(),
            'description': self._activity_description(),
            'deadline': self.start,
            'done': True,
            'responsible': (self.employee or self.responsible or (
                    self.line.default_employee if self.line else None)),
            }
        values['responsible'] = (
            values['responsible'].id if values['responsible'] else None)
        with without_check_access():
            if self.activity:
                Activity.write([self.activity], values)
            else:
                party = self.contact or self.client
                values.update({
                        'company': self.company.id,
                        'opportunity': (
                            self.opportunity.id if self.opportunity
                            else None),
                        'party': party.id if party else None,
                        'origin': str(self),
                        })
                self.activity, = Activity.create([values])

    def _missed_task(self):
        "One call-back task per number while it is open"
        Activity = Pool().get('crm.activity')
        if (self.result != 'missed' or self.direction != 'incoming'
                or not telephony_config(
                    self.company.id)['call_missed_tasks']):
            return
        key = self.phone_e164 or self.phone
        with without_check_access():
            if key:
                others = self.search([
                        ('company', '=', self.company.id),
                        ('phone_e164' if self.phone_e164 else 'phone',
                            '=', key),
                        ('callback_task', '!=', None),
                        ('callback_task.done', '=', False),
                        ], limit=1)
                if others:
                    self.callback_task = others[0].callback_task
                    self.save()
                    return
            responsible = (self.responsible or self.employee or (
                    self.line.default_employee if self.line else None))
            party = self.contact or self.client
            self.callback_task, = Activity.create([{
                        'company': self.company.id,
                        'type': 'task',
                        'subject': gettext(
                            'crm_telephony.msg_callback_subject',
                            number=self.phone or '?'),
                        'deadline': datetime.datetime.now(),
                        'responsible': (
                            responsible.id if responsible else None),
                        'opportunity': (
                            self.opportunity.id if self.opportunity
                            else None),
                        'party': party.id if party else None,
                        'origin': str(self),
                        'done': False,
                        }])
            self.save()

    # -- reporting helpers

    def as_statistic(self):
        "The call as voximplant.statistic.get / externalcall.finish give it"
        return {
            'CALL_ID': self.call_id,
            'CALL_TYPE': 2 if self.direction == 'incoming' else 1,
            'PHONE_NUMBER': self.phone,
            'CALL_DURATION': self.duration or 0,
            'CALL_START_DATE': self.start,
            'CALL_FAILED_CODE': self.status_code,
            'CALL_FAILED_REASON': self.failed_reason,
            'CALL_STATUS': 1 if self.result == 'answered' else 0,
            'CALL_RESULT': self.result,
            'COST': str(self.cost) if self.cost is not None else None,
            'COST_CURRENCY': self.cost_currency,
            'CRM_ACTIVITY_ID': self.activity.id if self.activity else None,
            'CRM_ENTITY_TYPE': self.entity_type(),
            'CRM_ENTITY_ID': self.entity_id(),
            'PORTAL_NUMBER': self.line.number if self.line else None,
            'PORTAL_USER_ID': None,
            'RECORD_FILE_ID': self.id if self.recording_id else None,
            }

    def entity_type(self):
        if self.opportunity:
            return self.opportunity.crm_type.upper()
        if self.contact:
            return 'CONTACT'
        if self.client:
            return 'COMPANY'

    def entity_id(self):
        record = self.opportunity or self.contact or self.client
        return record.id if record else None
