# Operators: an employee is available for new conversations or away, and
# says so through "My Operator Status".
from trytond.exceptions import UserError
from trytond.i18n import gettext
from trytond.model import ModelView, fields
from trytond.pool import Pool, PoolMeta
from trytond.transaction import without_check_access
from trytond.wizard import Button, StateTransition, StateView, Wizard

from trytond.modules.crm_portal.access import current_employee

STATUSES = [
    ('available', "Available"),
    ('away', "Away"),
    ]


class Employee(metaclass=PoolMeta):
    __name__ = 'company.employee'

    openline_status = fields.Selection(
        STATUSES, "Operator Status", required=True,
        help="Only available operators are offered new conversations.")

    @classmethod
    def default_openline_status(cls):
        return 'available'


class StatusStart(ModelView):
    __name__ = 'crm.openline.status.start'

    status = fields.Selection(STATUSES, "Status", required=True)


class Status(Wizard):
    __name__ = 'crm.openline.status'

    start = StateView('crm.openline.status.start',
        'crm_openlines.status_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Set", 'set_', 'tryton-ok', default=True),
            ])
    set_ = StateTransition()

    def _employee(self):
        Employee = Pool().get('company.employee')
        employee = current_employee()
        if not employee:
            raise UserError(gettext('crm_openlines.msg_no_employee'))
        return Employee(employee)

    def default_start(self, fields):
        return {'status': self._employee().openline_status}

    def transition_set_(self):
        Employee = Pool().get('company.employee')
        # An operator sets their own status, which the employee record's
        # access rights would not let a CRM user write.
        with without_check_access():
            Employee.write([self._employee()], {'openline_status':
                    self.start.status})
        return 'end'
