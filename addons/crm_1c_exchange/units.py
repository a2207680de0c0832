# Units of measure by their ОКЕИ code (the Russian classifier 1C uses in
# БазоваяЕдиница Код="796"), mapped to product's units.
UNITS = {
    '796': ('uom_unit', 'шт', "Штука"),
    '166': ('uom_kilogram', 'кг', "Килограмм"),
    '163': ('uom_gram', 'г', "Грамм"),
    '112': ('uom_liter', 'л', "Литр"),
    '006': ('uom_meter', 'м', "Метр"),
    '004': ('uom_centimeter', 'см', "Сантиметр"),
    '003': ('uom_millimeter', 'мм', "Миллиметр"),
    '008': ('uom_kilometer', 'км', "Километр"),
    '055': ('uom_square_meter', 'м2', "Квадратный метр"),
    '113': ('uom_cubic_meter', 'м3', "Кубический метр"),
    '356': ('uom_hour', 'ч', "Час"),
    '355': ('uom_minute', 'мин', "Минута"),
    '359': ('uom_day', 'сут', "Сутки"),
    }
BY_SHORT = {v[1]: k for k, v in UNITS.items()}
BY_XML_ID = {v[0]: k for k, v in UNITS.items()}


def unit_code(code, name):
    "The ОКЕИ code of a БазоваяЕдиница (code attribute, else its text)"
    code = (code or '').strip()
    if code:
        return code.zfill(3) if code.isdigit() else code
    return BY_SHORT.get((name or '').strip().lower().rstrip('.'))


class UnitCache:
    "product.uom ids by ОКЕИ code, read once per batch"

    def __init__(self):
        self._ids = None

    def get(self, code):
        if self._ids is None:
            from trytond.pool import Pool
            ModelData = Pool().get('ir.model.data')
            self._ids = {}
            for okei, (xml_id, _, _) in UNITS.items():
                try:
                    self._ids[okei] = ModelData.get_id('product', xml_id)
                except KeyError:
                    pass
        return self._ids.get(code)

    def code_of(self, uom_id):
        self.get('796')
        for code, value in self._ids.items():
            if value == uom_id:
                return code
        return None
