# What the AMI connector and the JSON webhook write: operations keyed by
# the PBX's call id, applied idempotently (repeated or late events do not
# duplicate calls, activities or tasks).
import datetime

from trytond.exceptions import UserError
from trytond.i18n import gettext
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction

from .pbx_user import as_pbx

WEBHOOK_EVENTS = {'call.started', 'call.answered', 'call.ended'}
WEBHOOK_RESULTS = {'answered', 'missed', 'busy', 'declined', 'failed',
    'voicemail'}


class Call(metaclass=PoolMeta):
    __name__ = 'crm.telephony.call'

    @classmethod
    def _pbx_call(cls, line, data, connector):
        "The call of data['external_id'] on line, registered if new"
        calls = cls.search([
                ('line', '=', line.id),
                ('external_id', '=', data['external_id']),
                ], limit=1)
        if calls:
            return calls[0]
        click = cls._click_call(line, data)
        if click:
            return click
        with Transaction().set_context(company=line.company.id):
            return cls.register(line.company.id, data.get('number'),
                direction=data.get('direction') or 'incoming', line=line,
                extension=data.get('extension'),
                external_id=data['external_id'], connector=connector,
                start=data.get('start'), strict=False,
                # AMI shows the card to the extension it rings; a cloud
                # PBX's webhook says no more than "started"
                show=connector == 'webhook')

    @classmethod
    def _click_call(cls, line, data):
        "The click-to-call call the PBX now reports (adopt its id)"
        from trytond.modules.crm_portal.phone import (
            default_regions, normalize_phone)
        if data.get('direction') != 'outgoing' or not data.get('number'):
            return None
        e164 = normalize_phone(data['number'],
            default_regions(line.company.id))
        calls = cls.search([
                ('line', '=', line.id),
                ('connector', '=', 'click'),
                ('external_id', '=', None),
                ('state', '!=', 'finished'),
                ('phone_e164', '=', e164 or data['number']),
                ('start', '>=', datetime.datetime.now()
                    - datetime.timedelta(minutes=30)),
                ], order=[('id', 'DESC')], limit=1)
        if calls:
            call, = calls
            call.external_id = data['external_id']
            call.save()
            return call

    @classmethod
    def ami_apply(cls, line_id, kind, data):
        "Apply one operation of ami_protocol.CallTracker"
        pool = Pool()
        Line = pool.get('crm.telephony.line')
        Extension = pool.get('crm.telephony.extension')
        Card = pool.get('crm.telephony.call.card')
        line = Line(line_id)
        company = line.company
        data = dict(data)
        if data.get('cdr'):
            data = cls._pbx_times(company, data)
        # the connector process is trusted with its lines; what the PBX
        # says is written as the PBX user (pbx_user.py)
        with as_pbx(company.id):
            call = cls._pbx_call(line, data, 'ami')
            if kind == 'ring':
                employee = Extension.employee_of(company.id, data['ringing'])
                if employee and call.state == 'ringing':
                    Card.show(call, employee)
            elif kind == 'answer':
                cls.answer([call], extension=data.get('answered_by'),
                    when=data.get('answer'))
            elif kind == 'transfer':
                call.apply_transfer(data.get('transfer'),
                    data.get('transferred_by'), data.get('transferred_to'))
            elif kind == 'recording':
                call._pbx_recording(line, data['recording'])
            elif kind == 'finish':
                if call.state == 'finished' and not data.get('cdr'):
                    return call
                extension = data.get('extension')
                employee = (Extension.employee_of(company.id, extension)
                    if extension else None)
                cls.finish(call, result=data.get('result'),
                    answer=data.get('answer'), end=data.get('end'),
                    duration=data.get('billsec'), employee=employee,
                    correction=call.state == 'finished')
                if extension and not call.extension:
                    call.extension = extension
                    call.save()
                if (call.recording_source and not call.recording_id
                        and line.recording_url):
                    call._pbx_recording(line, call.recording_source)
            return call

    @staticmethod
    def _pbx_times(company, data):
        "Cdr times are the PBX's local time: make them naive UTC"
        from trytond.tools import timezone as tz
        if not company.timezone:
            return data
        zone = tz.get_tzinfo(company.timezone)
        for name in ['start', 'answer', 'end']:
            value = data.get(name)
            if value:
                data[name] = value.replace(tzinfo=zone).astimezone(
                    datetime.timezone.utc).replace(tzinfo=None)
        return data

    def _pbx_recording(self, line, filename):
        "Remember the PBX's file; fetch it once the call is over"
        if self.state != 'finished' or not line.recording_url:
            self.recording_source = str(filename)[:500]
            self.save()
            return
        name = str(filename).rsplit('/', 1)[-1]
        self.queue_recording(line.recording_url.replace('{file}', name))

    @classmethod
    def webhook_apply(cls, line, payload):
        """Apply a cloud PBX's JSON event and return the call.

        payload: event (call.started, call.answered, call.ended),
        call_id, direction, from, to, extension, start/answer/end
        (ISO 8601), duration, result, recording_url."""
        if not isinstance(payload, dict):
            raise UserError(gettext('crm_telephony.msg_webhook_invalid',
                    reason='object'))
        event = str(payload.get('event') or '')
        external_id = str(payload.get('call_id') or '').strip()[:100]
        if event not in WEBHOOK_EVENTS or not external_id:
            raise UserError(gettext('crm_telephony.msg_webhook_invalid',
                    reason='event/call_id'))
        direction = payload.get('direction') or 'incoming'
        if direction not in {'incoming', 'outgoing'}:
            raise UserError(gettext('crm_telephony.msg_webhook_invalid',
                    reason='direction'))
        number = payload.get('from') if direction == 'incoming' else (
            payload.get('to'))
        data = {
            'external_id': external_id,
            'direction': direction,
            'number': str(number or '').strip()[:50] or None,
            'extension': str(payload.get('extension') or '').strip()[:20]
            or None,
            'start': cls._webhook_time(payload, 'start'),
            }
        with Transaction().set_context(company=line.company.id):
            call = cls._pbx_call(line, data, 'webhook')
            if event == 'call.answered':
                cls.answer([call], extension=data['extension'],
                    when=cls._webhook_time(payload, 'answer'))
            elif event == 'call.ended':
                if call.state == 'finished':
                    return call
                result = payload.get('result')
                if result is not None and result not in WEBHOOK_RESULTS:
                    raise UserError(gettext(
                            'crm_telephony.msg_webhook_invalid',
                            reason='result'))
                duration = payload.get('duration')
                if duration is not None:
                    try:
                        duration = max(int(duration), 0)
                    except (TypeError, ValueError):
                        raise UserError(gettext(
                                'crm_telephony.msg_webhook_invalid',
                                reason='duration'))
                cls.finish(call, result=result, duration=duration,
                    end=cls._webhook_time(payload, 'end'),
                    record_url=payload.get('recording_url'))
        return call

    @staticmethod
    def _webhook_time(payload, name):
        value = payload.get(name)
        if not value:
            return None
        try:
            value = datetime.datetime.fromisoformat(
                str(value).replace('Z', '+00:00'))
        except ValueError:
            raise UserError(gettext('crm_telephony.msg_webhook_invalid',
                    reason=name))
        if value.tzinfo:
            value = value.astimezone(datetime.timezone.utc).replace(
                tzinfo=None)
        return value

    @classmethod
    def originate(cls, calls):
        "Ring the employee's phone, then the client (AMI; queue task)"
        from .ami import originate
        for call in calls:
            if not call.line or call.line.connector != 'ami':
                continue
            originate(call.line, call.extension, call.phone_e164
                or call.phone, call_id=call.call_id)
