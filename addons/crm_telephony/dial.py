# Click-to-call from the phone numbers of leads, deals, contacts and
# companies: AMI lines ring the employee's phone through Originate, REST
# lines send OnExternalCallStart to the PBX's handler.
from trytond.exceptions import UserError
from trytond.i18n import gettext
from trytond.model import ModelView, fields
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction
from trytond.wizard import Button, StateTransition, StateView, Wizard


class DialStart(ModelView):
    "Click-to-call"
    __name__ = 'crm.telephony.dial.start'

    company = fields.Many2One('company.company', "Company", readonly=True)
    number = fields.Selection('get_numbers', "Number", required=True)
    numbers = fields.Char("Numbers", readonly=True)
    line = fields.Many2One('crm.telephony.line', "Line", required=True,
        domain=[('company', '=', Eval('company', -1))])

    @fields.depends('numbers')
    def get_numbers(self):
        return [(n, n) for n in (self.numbers or '').split('\n') if n]


class Dial(Wizard):
    "Click-to-call"
    __name__ = 'crm.telephony.dial'

    start = StateView('crm.telephony.dial.start',
        'crm_telephony.dial_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Call", 'dial', 'tryton-ok', default=True),
            ])
    dial = StateTransition()

    def _numbers(self):
        record = self.record
        numbers = []
        if record.__name__ == 'sale.opportunity':
            if record.contact_phone:
                numbers.append(record.contact_phone)
            parties = [record.contact_party, record.party]
        else:
            parties = [record]
        for party in parties:
            for mechanism in (party.contact_mechanisms if party else []):
                if (mechanism.type in {'phone', 'mobile'}
                        and mechanism.value not in numbers):
                    numbers.append(mechanism.value)
        return numbers

    def default_start(self, fields):
        Line = Pool().get('crm.telephony.line')
        company = Transaction().context.get('company')
        numbers = self._numbers()
        if not numbers:
            raise UserError(gettext('crm_telephony.msg_dial_no_number',
                    record=self.record.rec_name))
        lines = Line.search([('company', '=', company)],
            order=[('id', 'ASC')], limit=1)
        return {
            'company': company,
            'numbers': '\n'.join(numbers),
            'number': numbers[0],
            'line': lines[0].id if lines else None,
            }

    def transition_dial(self):
        pool = Pool()
        Call = pool.get('crm.telephony.call')
        Event = pool.get('crm.event')
        Extension = pool.get('crm.telephony.extension')
        context = Transaction().context
        employee = context.get('employee')
        if not employee or not Extension.extension_of(employee):
            raise UserError(gettext('crm_telephony.msg_dial_no_extension'))
        line = self.start.line
        call = Call.register(line.company.id, self.start.number,
            direction='outgoing', line=line, employee=employee,
            connector='click' if line.connector == 'ami' else line.connector,
            crm_create=False, show=False, entity=str(self.record))
        if line.connector == 'ami':
            with Transaction().set_context(queue_name='crm_telephony'):
                Call.__queue__.originate([call])
        else:
            Event.emit_call_start(call, Transaction().user)
        return 'end'
