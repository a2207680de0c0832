# Hand a conversation to another operator or another line.
from trytond.exceptions import UserError
from trytond.i18n import gettext
from trytond.model import ModelView, fields
from trytond.pool import Pool
from trytond.transaction import without_check_access
from trytond.wizard import Button, StateTransition, StateView, Wizard


class TransferStart(ModelView):
    __name__ = 'crm.openline.transfer.start'

    line = fields.Many2One('crm.openline', "Line", required=True)
    operator = fields.Many2One(
        'company.employee', "Operator",
        help="Leave empty to let the line's rule choose.")


class Transfer(Wizard):
    __name__ = 'crm.openline.transfer'

    start = StateView('crm.openline.transfer.start',
        'crm_openlines.transfer_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Transfer", 'transfer', 'tryton-forward', default=True),
            ])
    transfer = StateTransition()

    def default_start(self, fields):
        return {'line': self.record.line.id}

    def transition_transfer(self):
        conversation = self.record
        if conversation.state == 'closed':
            raise UserError(gettext('crm_openlines.msg_closed',
                    conversation=conversation.rec_name))
        previous = conversation.operator
        values = {'line': self.start.line.id, 'tried': None}
        # The operator could open the conversation; once handed to a line
        # they are not on, they may no longer read it (record rules).
        with without_check_access():
            self._transfer(conversation, previous, values)
        return 'end'

    def _transfer(self, conversation, previous, values):
        pool = Pool()
        Conversation = pool.get('crm.openline.conversation')
        Notify = pool.get('crm.openline.notify')
        Binding = pool.get('crm.openline.binding')
        from .conversation import now
        if self.start.operator:
            values.update({
                    'operator': self.start.operator.id,
                    'state': 'waiting',
                    'offered_at': now(),
                    })
            Conversation.write([conversation], values)
            Binding.assign([Conversation(conversation.id)],
                previous=previous.id if previous else None)
            Notify.offered(conversation, [self.start.operator.id])
        else:
            Conversation.write([conversation], values)
            Conversation.route([Conversation(conversation.id)],
                exclude=previous.id if previous else None)
