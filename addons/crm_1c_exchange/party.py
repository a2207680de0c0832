# Counterparties of 1C: matched by INN/KPP, then by name; created when
# unknown; exported with their tax identifiers. INN and KPP are party
# identifiers, as crm_portal's documents read them (ru_vat / ru_kpp).
from stdnum.ru import inn as ru_inn

from trytond.model import fields
from trytond.pool import Pool, PoolMeta

from trytond.modules.crm_portal.document import INN_TYPES, KPP_TYPES

from .product import copy_default


class Party(metaclass=PoolMeta):
    __name__ = 'party.party'
    exchange_1c_id = fields.Char("1C Id", readonly=True)

    @classmethod
    def copy(cls, parties, default=None):
        return super().copy(parties, default=copy_default(default))

    def _identifier(self, types):
        for identifier in self.identifiers:
            if identifier.type in types:
                return identifier.code
        return None

    @property
    def inn(self):
        return self._identifier(INN_TYPES)

    @property
    def kpp(self):
        return self._identifier(KPP_TYPES)


def match_counterparty(values):
    """Return the party of the 1C counterparty values (id, inn, kpp, name,
    full_name), creating it when unknown; with whether it was created"""
    pool = Pool()
    Party = pool.get('party.party')
    Identifier = pool.get('party.identifier')
    ext_id = values.get('id')
    inn = (values.get('inn') or '').strip()
    kpp = (values.get('kpp') or '').strip()
    name = (values.get('name') or values.get('full_name') or '').strip()
    if ext_id:
        parties = Party.search([('exchange_1c_id', '=', ext_id)], limit=1)
        if parties:
            return parties[0], False
    if inn:
        identifiers = Identifier.search([
                ('type', 'in', list(INN_TYPES)), ('code', '=', inn)],
            order=[('id', 'ASC')])
        parties = [i.party for i in identifiers]
        if kpp:
            with_kpp = [p for p in parties if p.kpp == kpp]
            without = [p for p in parties if not p.kpp]
            parties = with_kpp or without or parties
        if parties:
            return parties[0], False
    if name and not inn:
        parties = Party.search([('name', '=', name)], limit=1)
        if parties:
            return parties[0], False
    identifiers = []
    if inn and ru_inn.is_valid(inn):
        identifiers.append({'type': 'ru_vat', 'code': inn})
        if kpp and len(kpp) == 9 and kpp[:4].isdigit():
            identifiers.append({'type': 'ru_kpp', 'code': kpp})
    party, = Party.create([{
                'name': values.get('full_name') or name or inn or ext_id,
                'exchange_1c_id': ext_id or None,
                'identifiers': [('create', identifiers)],
                }])
    return party, True
