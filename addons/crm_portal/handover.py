# Hand-over: move the open work of one employee to another (one leaves).
from trytond.i18n import gettext
from trytond.model import ModelView, fields
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction
from trytond.wizard import Button, StateTransition, StateView, Wizard

# What is handed over: (count field, model, responsible field, domain)
HANDOVER = [
    ('leads', 'sale.opportunity', 'employee',
        [('crm_type', '=', 'lead'), ('lead_status.kind', '=', 'open')]),
    ('deals', 'sale.opportunity', 'employee',
        [('crm_type', '=', 'deal'), ('stage.kind', '=', 'in_progress')]),
    ('activities', 'crm.activity', 'responsible', [('done', '=', False)]),
    ('contacts', 'party.party', 'crm_responsible',
        [('crm_kind', '=', 'person')]),
    ('companies', 'party.party', 'crm_responsible',
        [('crm_kind', '=', 'organisation')]),
    ]


def handover_records(from_employee):
    "Return {name: records} of from_employee to hand over"
    pool = Pool()
    result = {}
    for name, model, field, domain in HANDOVER:
        Model = pool.get(model)
        result[name] = Model.search(
            [(field, '=', int(from_employee))] + domain, order=[('id', 'ASC')])
    return result


def hand_over(from_employee, to_employee):
    """Give every open lead, open deal, undone activity, contact and company
    of from_employee to to_employee; return the counts moved.

    The change of responsible is written like any other, so each record's
    history tells who handed it over and when."""
    pool = Pool()
    if int(from_employee) == int(to_employee):
        raise ValidationError(gettext('crm_portal.msg_handover_same'))
    records = handover_records(from_employee)
    for name, model, field, _ in HANDOVER:
        if records[name]:
            pool.get(model).write(records[name], {field: int(to_employee)})
    return {name: len(r) for name, r in records.items()}


class HandoverStart(ModelView):
    __name__ = 'crm.handover.start'

    company = fields.Many2One('company.company', "Company", required=True)
    from_employee = fields.Many2One(
        'company.employee', "From", required=True,
        domain=[('company', '=', Eval('company', -1))],
        help="The employee whose work is handed over.")
    to_employee = fields.Many2One(
        'company.employee', "To", required=True,
        domain=[
            ('company', '=', Eval('company', -1)),
            ('id', '!=', Eval('from_employee', -1)),
            ],
        help="The employee who takes the work over.")

    @staticmethod
    def default_company():
        return Transaction().context.get('company')


class HandoverConfirm(ModelView):
    __name__ = 'crm.handover.confirm'

    from_employee = fields.Many2One(
        'company.employee', "From", readonly=True)
    to_employee = fields.Many2One('company.employee', "To", readonly=True)
    leads = fields.Integer("Open Leads", readonly=True)
    deals = fields.Integer("Deals in Progress", readonly=True)
    activities = fields.Integer("Undone Activities", readonly=True)
    contacts = fields.Integer("Contacts", readonly=True)
    companies = fields.Integer("Companies", readonly=True)


class Handover(Wizard):
    __name__ = 'crm.handover'

    start = StateView('crm.handover.start',
        'crm_portal.handover_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Next", 'confirm', 'tryton-forward', default=True),
            ])
    confirm = StateView('crm.handover.confirm',
        'crm_portal.handover_confirm_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Hand Over", 'handover', 'tryton-ok', default=True),
            ])
    handover = StateTransition()

    def default_confirm(self, fields):
        if self.start.from_employee == self.start.to_employee:
            raise ValidationError(gettext('crm_portal.msg_handover_same'))
        records = handover_records(self.start.from_employee)
        values = {name: len(r) for name, r in records.items()}
        values['from_employee'] = self.start.from_employee.id
        values['to_employee'] = self.start.to_employee.id
        return values

    def transition_handover(self):
        hand_over(self.start.from_employee, self.start.to_employee)
        return 'end'
