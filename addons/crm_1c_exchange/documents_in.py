# Documents 1C sends back on type=sale: the orders and invoices we sent,
# with the requisites 1C keeps on them (paid, payment date and number,
# shipped, posted, status). Paid invoices are marked paid, the deal moves
# through automation, the timeline gets an activity.
import datetime

from trytond.i18n import gettext
from trytond.pool import Pool, PoolMeta
from trytond.transaction import without_check_access

from .party import match_counterparty
from .xmlsafe import child, children, text

TRUE = {'true', '1', 'да', 'yes'}
REQUISITES = {
    'оплачен': 'paid', 'заказ оплачен': 'paid',
    'дата оплаты по 1с': 'payment_date', 'дата оплаты': 'payment_date',
    'номер оплаты по 1с': 'payment_number', 'номер оплаты': 'payment_number',
    'отгружен': 'shipped', 'проведен': 'posted',
    'статус заказа': 'order_status', 'статус заказа ид': 'order_status',
    'статуса заказа ид': 'order_status',
    }


def read_document(element):
    requisites = {}
    node = child(element, 'ЗначенияРеквизитов')
    if node is not None:
        for item in children(node, 'ЗначениеРеквизита'):
            key = REQUISITES.get(text(item, 'Наименование').lower())
            if key:
                requisites[key] = text(item, 'Значение')
    counterparties = []
    node = child(element, 'Контрагенты')
    if node is not None:
        for item in children(node, 'Контрагент'):
            counterparties.append({
                    'id': text(item, 'Ид'),
                    'name': text(item, 'Наименование'),
                    'full_name': text(item, 'ПолноеНаименование')
                    or text(item, 'ОфициальноеНаименование'),
                    'inn': text(item, 'ИНН'),
                    'kpp': text(item, 'КПП'),
                    'role': text(item, 'Роль'),
                    })
    return {
        'id': text(element, 'Ид'),
        'number': text(element, 'Номер'),
        'operation': text(element, 'ХозОперация'),
        'requisites': requisites,
        'counterparties': counterparties,
        }


class DocumentsBatch:

    def __init__(self, session, file):
        self.session, self.file = session, file
        self.counts = {'created': 0, 'updated': 0, 'skipped': 0}

    def apply(self, documents):
        for document in documents:
            self.apply_one(document)
        return self.counts

    def find(self, document):
        pool = Pool()
        Export = pool.get('crm.exchange_1c.export')
        Sale = pool.get('sale.sale')
        Invoice = pool.get('account.invoice')
        company = self.session.company.id
        exports = Export.search([('external_id', '=', document['id']),
                ('company', '=', company)], limit=1)
        if exports:
            return exports[0]
        number = document['number']
        if not number:
            return None
        operation = document['operation'].lower()
        candidates = []
        if 'счет' not in operation and 'счёт' not in operation:
            candidates += [('sale.sale', s.id) for s in Sale.search([
                        ('number', '=', number), ('company', '=', company)])]
        if 'заказ' not in operation:
            candidates += [('account.invoice', i.id) for i in Invoice.search([
                        ('number', '=', number), ('type', '=', 'out'),
                        ('company', '=', company)])]
        if len(candidates) != 1:
            return None
        model, record_id = candidates[0]
        export, = Export.create([{'company': company,
                    'document_model': model, 'document_id': record_id,
                    'external_id': document['id']
                    or Export.external_id_of(model, record_id)}])
        return export

    def apply_one(self, document):
        pool = Pool()
        Export = pool.get('crm.exchange_1c.export')
        for counterparty in document['counterparties']:
            if counterparty['role'] and counterparty['role'] != 'Покупатель':
                continue
            party, created = match_counterparty(counterparty)
            if created:
                self.counts['created'] += 1
        export = self.find(document)
        if export is None:
            self.session.note('skipped', gettext(
                    'crm_1c_exchange.msg_document_unknown',
                    number=document['number'] or document['id']),
                self.file, document['id'])
            return
        req = document['requisites']
        values = {}
        for key in ('payment_date', 'payment_number', 'order_status'):
            if key in req and getattr(export, key) != (req[key] or None):
                values[key] = req[key] or None
        for key in ('paid', 'shipped', 'posted'):
            if key in req:
                flag = req[key].strip().lower() in TRUE
                if bool(getattr(export, key)) != flag:
                    values[key] = flag
        if not values:
            self.counts['skipped'] += 1
            return
        values['status_date'] = datetime.datetime.now()
        Export.write([export], values)
        self.counts['updated'] += 1
        if values.get('paid'):
            self.paid(export)
        self.timeline(export, values)

    def invoices_of(self, export):
        pool = Pool()
        Sale = pool.get('sale.sale')
        Invoice = pool.get('account.invoice')
        if export.document_model == 'account.invoice':
            return Invoice.browse([export.document_id])
        return [i for i in Sale(export.document_id).invoices
            if i.type == 'out']

    def deals_of(self, export):
        pool = Pool()
        Sale = pool.get('sale.sale')
        Opportunity = pool.get('sale.opportunity')
        sales = ([Sale(export.document_id)]
            if export.document_model == 'sale.sale'
            else list(self.invoices_of(export)[0].sales))
        return [s.origin for s in sales if isinstance(s.origin, Opportunity)]

    def paid(self, export):
        "Mark the invoices paid; the deal moves through automation"
        pool = Pool()
        Invoice = pool.get('account.invoice')
        Automation = pool.get('crm.automation')
        invoices = [i for i in self.invoices_of(export)
            if i.state == 'posted']
        if invoices:
            with without_check_access():
                Invoice.paid(invoices)
        else:
            # No posted invoice here (1C issues them): the payment still
            # moves the deal.
            deals = self.deals_of(export)
            if deals:
                with without_check_access():
                    Automation.fire('invoice_paid', [d.id for d in deals])

    def timeline(self, export, values):
        pool = Pool()
        Activity = pool.get('crm.activity')
        deals = self.deals_of(export)
        record = pool.get(export.document_model)(export.document_id)
        parts = []
        labels = {
            'paid': gettext('crm_1c_exchange.msg_status_paid'),
            'shipped': gettext('crm_1c_exchange.msg_status_shipped'),
            'posted': gettext('crm_1c_exchange.msg_status_posted'),
            }
        for key, label in labels.items():
            if values.get(key):
                parts.append(label)
        for key in ('payment_date', 'payment_number', 'order_status'):
            if values.get(key):
                parts.append('%s: %s' % (
                        export.__class__._fields[key].string, values[key]))
        subject = gettext('crm_1c_exchange.msg_status_subject',
            document=record.rec_name)
        deal = deals[0] if deals else None
        party = getattr(record, 'party', None)
        Activity.create([{
                    'company': export.company.id,
                    'type': 'note',
                    'subject': subject[:250],
                    'description': '\n'.join(parts),
                    'deadline': datetime.datetime.now(),
                    'done': True,
                    'opportunity': deal.id if deal else None,
                    'party': party.id if party else None,
                    'origin': str(export),
                    }])


class Activity(metaclass=PoolMeta):
    __name__ = 'crm.activity'

    @classmethod
    def _get_origin(cls):
        return super()._get_origin() + ['crm.exchange_1c.export']


__all__ = ['read_document', 'DocumentsBatch', 'Activity']
