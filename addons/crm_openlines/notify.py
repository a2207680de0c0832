# Tell operators a conversation is offered to them: a notification in the
# web client (res.notification goes out on the bus).
import json

from trytond.i18n import gettext
from trytond.model import Model
from trytond.pool import Pool
from trytond.transaction import without_check_access


class Notify(Model):
    "Open Line Notifications"
    __name__ = 'crm.openline.notify'

    @classmethod
    def offered(cls, conversation, employees):
        pool = Pool()
        Notification = pool.get('res.notification')
        User = pool.get('res.user')
        with without_check_access():
            users = User.search([('employees', 'in', list(employees))])
            Notification.create([{
                        'user': user.id,
                        'label': gettext('crm_openlines.msg_offer_label',
                            line=conversation.line.rec_name),
                        'description': gettext(
                            'crm_openlines.msg_offer_description',
                            client=conversation.client_label),
                        'icon': 'tryton-chat',
                        'model': 'crm.openline.conversation',
                        'records': json.dumps([conversation.id]),
                        } for user in users])
