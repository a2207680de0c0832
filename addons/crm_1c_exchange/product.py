# Products, categories and price lists remember their 1C Ид: every import
# finds them again by it (idempotent).
from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.pool import PoolMeta
from trytond.pyson import Eval


def copy_default(default, *names):
    """The default of a copy: a copy is a record of ours, not 1C's; found
    again by the Ид, it would take the next import's values instead of the
    original"""
    default = default.copy() if default is not None else {}
    for name in ('exchange_1c_id',) + names:
        default.setdefault(name, None)
    return default


def _index(cls):
    table = cls.__table__()
    cls._sql_indexes.add(Index(table,
            (table.exchange_1c_id, Index.Equality()),
            where=table.exchange_1c_id != None))  # noqa: E711


class Category(metaclass=PoolMeta):
    __name__ = 'product.category'
    exchange_1c_id = fields.Char("1C Id", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        _index(cls)

    @classmethod
    def copy(cls, categories, default=None):
        return super().copy(categories, default=copy_default(default))


class Template(metaclass=PoolMeta):
    __name__ = 'product.template'
    exchange_1c_id = fields.Char("1C Id", readonly=True)
    exchange_1c_tax_rate = fields.Char("1C Tax Rate", readonly=True)
    exchange_1c_properties = fields.One2Many(
        'crm.exchange_1c.product.property', 'template', "1C Properties",
        readonly=True)
    # sha1 of the values the last import made the good of: an unchanged
    # good of the next package is skipped without being read
    exchange_1c_hash = fields.Char("1C Hash", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        _index(cls)

    @classmethod
    def copy(cls, templates, default=None):
        # the lines are what 1C sent for the good, not the user's to create
        # (only the import and the administrators write them)
        return super().copy(templates, default=copy_default(default,
                'exchange_1c_hash', 'exchange_1c_properties'))


class Product(metaclass=PoolMeta):
    __name__ = 'product.product'
    exchange_1c_id = fields.Char("1C Id", readonly=True,
        help="Ид of the good, or Ид#Ид of one of its characteristics.")
    exchange_1c_quantity = fields.Float("1C Quantity", readonly=True,
        help="Stock reported by 1C.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        _index(cls)
        # the import checks the codes of new products (unique among the
        # active ones): without it, a scan of all products a batch on SQLite
        table = cls.__table__()
        cls._sql_indexes.add(Index(table, (table.code, Index.Equality())))

    @classmethod
    def copy(cls, products, default=None):
        return super().copy(products, default=copy_default(default,
                'exchange_1c_quantity'))


class PriceListLine(metaclass=PoolMeta):
    __name__ = 'product.price_list.line'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        # the import reads the lines of a batch's products: the price list
        # index alone reads all the lines of the list each batch
        table = cls.__table__()
        cls._sql_indexes.add(Index(table,
                (table.product, Index.Equality()),
                where=table.product != None))  # noqa: E711


class PriceList(metaclass=PoolMeta):
    __name__ = 'product.price_list'
    exchange_1c_id = fields.Char("1C Price Type Id", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        _index(cls)

    @classmethod
    def copy(cls, price_lists, default=None):
        return super().copy(price_lists, default=copy_default(default))


class Property(ModelSQL, ModelView):
    __string__ = "1C Property"
    __name__ = 'crm.exchange_1c.property'
    external_id = fields.Char("1C Id", required=True, readonly=True)
    name = fields.Char("Name", required=True)
    values = fields.One2Many(
        'crm.exchange_1c.property.value', 'property', "Values")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        table = cls.__table__()
        cls._sql_indexes.add(
            Index(table, (table.external_id, Index.Equality())))


class PropertyValue(ModelSQL, ModelView):
    __string__ = "1C Property Value"
    __name__ = 'crm.exchange_1c.property.value'
    property = fields.Many2One('crm.exchange_1c.property', "Property",
        required=True, ondelete='CASCADE')
    external_id = fields.Char("1C Id", required=True, readonly=True)
    name = fields.Char("Value")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        table = cls.__table__()
        cls._sql_indexes.add(
            Index(table, (table.external_id, Index.Equality())))


class ProductProperty(ModelSQL, ModelView):
    __string__ = "1C Property of a Good"
    __name__ = 'crm.exchange_1c.product.property'
    # indexed by Tryton as the reverse of template.exchange_1c_properties
    template = fields.Many2One('product.template', "Product",
        required=True, ondelete='CASCADE')
    property = fields.Many2One('crm.exchange_1c.property', "Property",
        required=True, ondelete='CASCADE')
    # a line without its value means nothing: it goes with it
    value = fields.Many2One('crm.exchange_1c.property.value', "Value",
        ondelete='CASCADE',
        domain=[('property', '=', Eval('property', -1))])
    text = fields.Char("Text",
        help="The value as 1C sent it when it is not one of the values of "
        "the property (a string or a number).")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order.insert(0, ('property', 'ASC'))

    def get_rec_name(self, name):
        value = self.value.rec_name if self.value else self.text
        return '%s: %s' % (self.property.rec_name, value or '')

    @classmethod
    def search_rec_name(cls, name, clause):
        _, operator, operand, *extra = clause
        if operator.startswith('!') or operator.startswith('not '):
            bool_op = 'AND'
        else:
            bool_op = 'OR'
        return [bool_op,
            ('property.name', operator, operand, *extra),
            ('value.name', operator, operand, *extra),
            ('text', operator, operand, *extra),
            ]
