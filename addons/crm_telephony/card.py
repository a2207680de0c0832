# The call card: a res.notification shown to the employee while the phone
# rings (sao lists it under the bell and, with the bus on, pops it up),
# removed when the call is answered elsewhere or ends.
import json

from trytond.i18n import gettext
from trytond.model import ModelSQL, fields
from trytond.pool import Pool
from trytond.transaction import without_check_access

from .sqlcache import execute


class Card(ModelSQL):
    "Call Card"
    __name__ = 'crm.telephony.call.card'

    call = fields.Many2One('crm.telephony.call', "Call", required=True,
        ondelete='CASCADE')
    user = fields.Many2One('res.user', "User", required=True,
        ondelete='CASCADE')
    notification = fields.Many2One('res.notification', "Notification",
        ondelete='CASCADE')

    @classmethod
    def show(cls, call, employee):
        "Show the card of call to the users of employee (once each)"
        pool = Pool()
        Extension = pool.get('crm.telephony.extension')
        Notification = pool.get('res.notification')
        with without_check_access():
            users = Extension.user_of(employee)
            shown = {c.user.id for c in cls.search([('call', '=', call.id)])}
            users = [u for u in users if u.id not in shown]
            if not users:
                return []
            label, description = cls.content(call)
            target = call.opportunity or call.contact or call.client or call
            notifications = Notification.create([{
                        'user': u.id,
                        'label': label,
                        'description': description,
                        'icon': 'tryton-public',
                        'model': target.__name__,
                        'records': json.dumps([target.id]),
                        } for u in users])
            return cls.create([{
                        'call': call.id, 'user': u.id, 'notification': n.id,
                        } for u, n in zip(users, notifications)])

    @classmethod
    def content(cls, call):
        "Label and description: who calls, open deals, last activities"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Activity = pool.get('crm.activity')
        client = call.contact or call.client
        name = client.rec_name if client else (
            call.opportunity.rec_name if call.opportunity else None)
        label = gettext('crm_telephony.msg_card_label',
            number=call.phone or '?',
            name=name or gettext('crm_telephony.msg_card_unknown'))
        parts = []
        parties = [p.id for p in [call.contact, call.client] if p]
        if parties:
            deals = Opportunity.search([
                    ('party', 'in', parties),
                    ('crm_type', '=', 'deal'),
                    ('stage_kind', '=', 'in_progress'),
                    ], limit=3)
            if deals:
                parts.append(gettext('crm_telephony.msg_card_deals',
                        deals=', '.join(d.rec_name for d in deals)))
            activities = Activity.search([
                    ('party', 'in', parties),
                    ], limit=2)
            if activities:
                parts.append(gettext('crm_telephony.msg_card_activities',
                        activities=', '.join(
                            a.subject for a in activities)))
        return label, '; '.join(parts) or None

    @classmethod
    def hide(cls, call, keep=None):
        "Remove the cards of call, except those of the employee keep"
        pool = Pool()
        Extension = pool.get('crm.telephony.extension')
        Notification = pool.get('res.notification')
        table = cls.__table__()
        # every finish hides: most calls have no card left (SHOW=0, AMI
        # and webhook calls), so one indexed query decides
        rows = execute(['cards'], lambda var: table.select(
                table.id, table.user, table.notification,
                where=table.call == var('call')),
            call=call.id).fetchall()
        kept = set(Extension.user_ids(keep.id)) if keep and rows else set()
        rows = [r for r in rows if r[1] not in kept]
        if not rows:
            return 0
        with without_check_access():
            cls.delete(cls.browse([r[0] for r in rows]))
            notifications = [r[2] for r in rows if r[2]]
            if notifications:
                Notification.delete(Notification.browse(notifications))
        return len(rows)

    @classmethod
    def hide_card(cls, card):
        "Remove one card"
        Notification = Pool().get('res.notification')
        with without_check_access():
            notification = card.notification
            cls.delete([card])
            if notification:
                Notification.delete([notification])
