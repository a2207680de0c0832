# Transfers: an employee passes a call on (Asterisk BlindTransfer and
# AttendedTransfer).  The employee who ends up with the call becomes the
# call's employee; who transferred it, and how, stays on the call and on
# its timeline activity.
from trytond.i18n import gettext
from trytond.model import fields
from trytond.pool import Pool, PoolMeta


class Call(metaclass=PoolMeta):
    __name__ = 'crm.telephony.call'

    transfer = fields.Selection([
            (None, ""),
            ('blind', "Blind"),
            ('attended', "Attended"),
            ], "Transfer", readonly=True)
    transferred_by = fields.Many2One('company.employee', "Transferred By",
        readonly=True, ondelete='SET NULL')
    transferred_from = fields.Char("Transferred From", readonly=True,
        help="The extension that passed the call on.")

    def apply_transfer(self, kind, by, to):
        """The call was passed from extension by to extension to (kind:
        blind or attended)"""
        pool = Pool()
        Extension = pool.get('crm.telephony.extension')
        Card = pool.get('crm.telephony.call.card')
        company = self.company.id
        target = Extension.employee_of(company, to) if to else None
        self.transfer = kind
        self.transferred_from = by
        self.transferred_by = (Extension.employee_of(company, by)
            if by else None)
        if to:
            self.extension = to
        if target:
            self.employee = target
        if self.state == 'finished':
            # a late event: the timeline says it too
            self._log_activity()
        self.save()
        if target and self.state != 'finished':
            Card.hide(self, keep=target)
            Card.show(self, target)

    def _activity_description(self):
        description = super()._activity_description()
        if self.transfer:
            kinds = dict(self.__class__.fields_get(
                    ['transfer'])['transfer']['selection'])
            description += ' ' + gettext(
                'crm_telephony.msg_call_transferred',
                kind=kinds.get(self.transfer, ''),
                by=(self.transferred_by.rec_name if self.transferred_by
                    else (self.transferred_from or '?')),
                to=(self.employee.rec_name if self.employee
                    else (self.extension or '?')))
        return description
