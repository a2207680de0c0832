# What was sent to 1C, what 1C confirmed, and the statuses it sent back.
import datetime

from sql import Null
from sql.conditionals import Coalesce

from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.pool import Pool
from trytond.tools import grouped_slice
from trytond.transaction import Transaction

from . import bulk

SALE_STATES = ('quotation', 'confirmed', 'processing', 'done')
INVOICE_STATES = ('validated', 'posted', 'paid')


class Export(ModelSQL, ModelView):
    __string__ = "1C Exchange Document"
    __name__ = 'crm.exchange_1c.export'

    company = fields.Many2One('company.company', "Company", required=True,
        readonly=True, ondelete='CASCADE')
    document_model = fields.Char("Model", required=True, readonly=True)
    document_id = fields.Integer("Record", required=True, readonly=True)
    document = fields.Function(fields.Reference("Document", selection=[
                ('sale.sale', "Sale"),
                ('account.invoice', "Invoice"),
                ]), 'get_document')
    external_id = fields.Char("1C Id", required=True, readonly=True)
    stamp = fields.Timestamp("Version Confirmed", readonly=True)
    exported_at = fields.Timestamp("Confirmed at", readonly=True)
    pending_session = fields.Many2One('crm.exchange_1c.session',
        "Pending Session", readonly=True, ondelete='SET NULL')
    pending_stamp = fields.Timestamp("Version Sent", readonly=True)
    paid = fields.Boolean("Paid", readonly=True)
    payment_date = fields.Char("Payment Date", readonly=True)
    payment_number = fields.Char("Payment Number", readonly=True)
    shipped = fields.Boolean("Shipped", readonly=True)
    posted = fields.Boolean("Posted", readonly=True)
    order_status = fields.Char("Order Status", readonly=True)
    status_date = fields.Timestamp("Status Received", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('company')
        table = cls.__table__()
        cls._sql_indexes.update({
                Index(table,
                    (table.document_model, Index.Equality()),
                    (table.document_id, Index.Equality())),
                Index(table, (table.external_id, Index.Equality())),
                })

    def get_document(self, name):
        return '%s,%s' % (self.document_model, self.document_id)

    @staticmethod
    def external_id_of(model, record_id):
        return '%s-%s' % ({'sale.sale': 'CRM-S'}.get(model, 'CRM-I'),
            record_id)

    @classmethod
    def changed(cls, company, model):
        "Ids and versions of the documents of model 1C has not confirmed"
        pool = Pool()
        Document = pool.get(model)
        document = Document.__table__()
        export = cls.__table__()
        cursor = Transaction().connection.cursor()
        stamp = Coalesce(document.write_date, document.create_date)
        if model == 'sale.sale':
            where = document.state.in_(SALE_STATES)
        else:
            where = (document.state.in_(INVOICE_STATES)
                & (document.type == 'out'))
        cursor.execute(*document.join(export, 'LEFT', condition=(
                    (export.document_model == model)
                    & (export.document_id == document.id)))
            .select(document.id, stamp,
                where=where & (document.company == company)
                & ((export.id == Null) | (export.stamp == Null)
                    | (export.stamp < stamp)),
                order_by=document.id))
        return cursor.fetchall()

    @classmethod
    def mark_pending(cls, session, model, versions):
        """Remember which versions session sent (confirmed on success): one
        statement per slice of documents, not a write per document"""
        table = cls.__table__()
        document = Pool().get(model).__table__()
        cursor = Transaction().connection.cursor()
        stamps = dict(versions)
        existing = set()
        # the version is the document's stamp read with it (changed())
        stamp = document.select(
            Coalesce(document.write_date, document.create_date),
            where=document.id == table.document_id)
        for sub in grouped_slice(list(stamps)):
            sub = list(sub)
            cursor.execute(*table.select(table.document_id,
                    where=(table.document_model == model)
                    & table.document_id.in_(sub)))
            existing.update(i for i, in cursor)
            cursor.execute(*table.update(
                    [table.pending_session, table.pending_stamp],
                    [session.id, stamp],
                    where=(table.document_model == model)
                    & table.document_id.in_(sub)))
        rows = [{'company': session.company.id, 'document_model': model,
                'document_id': i, 'external_id': cls.external_id_of(model, i),
                'pending_session': session.id, 'pending_stamp': stamps[i]}
            for i in stamps if i not in existing]
        if rows:
            bulk.create([cls.__name__], lambda: bulk.insert(cls, rows),
                lambda: cls.create(rows))

    @classmethod
    def confirm(cls, session):
        "1C took the documents session sent: they are exported"
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.update(
                [table.stamp, table.exported_at, table.pending_session],
                [table.pending_stamp, datetime.datetime.now(), Null],
                where=table.pending_session == session.id))
        return cursor.rowcount
