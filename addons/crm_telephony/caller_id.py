# Caller-ID: what a number is in the CRM (contact, company, open lead or
# deal, responsible), by plain SQL on indexed columns.
from sql import Literal
from sql.operators import Exists

from trytond.model.modelstorage import local_cache
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction

from trytond.modules.crm_portal.duplicate import unindexed_order

from .sqlcache import execute

LOOKUP_MODELS = {'contact': 'party.party', 'client': 'party.party',
    'opportunity': 'sale.opportunity', 'responsible': 'company.employee'}


class Call(metaclass=PoolMeta):
    __name__ = 'crm.telephony.call'

    @classmethod
    def lookup(cls, company, e164):
        """What the number is in the CRM: contact, client, open lead or
        deal and the responsible, as records (None when unknown)."""
        found = cls.lookup_ids(company, e164)
        if not any(found.values()):
            return dict.fromkeys(found)
        # records share the transaction's caches: building them costs
        # more than the two indexed statements otherwise
        pool = Pool()
        transaction = Transaction()
        cache = transaction.get_cache()
        local = {}
        records = {}
        for name, id_ in found.items():
            if not id_:
                records[name] = None
                continue
            Model = pool.get(LOOKUP_MODELS[name])
            if Model not in local:
                local[Model] = local_cache(Model, transaction)
            records[name] = Model(id_, _transaction=transaction,
                _transaction_cache=cache, _local_cache=local[Model])
        return records

    @classmethod
    def lookup_ids(cls, company, e164):
        """The ids of contact, client, opportunity and responsible of the
        number (None when unknown).

        Two indexed statements (it runs for every call): the number's
        party with its employer and both responsibles, then the open
        lead/deal of the number or those parties."""
        found = {'contact': None, 'client': None, 'opportunity': None,
            'responsible': None}
        if not e164:
            return found
        contact = client = None
        responsibles = []
        row = execute(['caller'], cls._caller_query,
            company=company, e164=e164).fetchone()
        if row:
            party_id, kind, employer, responsible, employer_responsible = row
            responsibles.append(responsible)
            if kind == 'organisation':
                client = party_id
            else:
                contact, client = party_id, employer or party_id
                if employer:
                    responsibles.append(employer_responsible)
        opportunity, owner = cls._open_opportunity(
            company, e164, contact, client)
        responsibles.append(owner)
        found.update(contact=contact, client=client,
            opportunity=opportunity,
            responsible=next((r for r in responsibles if r), None))
        return found

    @classmethod
    def _caller_query(cls, var):
        """The party of the number (the phone match of
        crm.duplicate.match_parties), its kind, employer and the
        responsibles in the company of the party and of the employer"""
        pool = Pool()
        party = pool.get('party.party').__table__()
        employer = pool.get('party.party').__table__()
        employee = pool.get('company.employee').__table__()
        employer_employee = pool.get('company.employee').__table__()
        mechanism = pool.get('party.contact_mechanism').__table__()
        order = unindexed_order(mechanism.id)
        return (mechanism
            .join(party, condition=mechanism.party == party.id)
            .join(employer, 'LEFT', condition=party.employer == employer.id)
            .join(employee, 'LEFT',
                condition=(party.crm_responsible == employee.id)
                & (employee.company == var('company')))
            .join(employer_employee, 'LEFT',
                condition=(employer.crm_responsible == employer_employee.id)
                & (employer_employee.company == var('company')))
            .select(party.id, party.crm_kind, party.employer, employee.id,
                employer_employee.id,
                where=(mechanism.value_compact == var('e164'))
                & (mechanism.active == Literal(True))
                & (party.active == Literal(True)),
                order_by=[order.asc], limit=1))

    @classmethod
    def _open_opportunity(cls, company, e164, contact, client):
        "(id, employee) of the newest open lead, else deal, of the caller"
        parties = sorted({p for p in [contact, client] if p})
        values = {'p%d' % i: p for i, p in enumerate(parties)}
        row = execute(['opportunity', len(parties), bool(contact)],
            lambda var: cls._opportunity_query(
                var, len(parties), bool(contact)),
            e164=e164, contact=contact, company=company,
            **values).fetchone()
        return row if row else (None, None)

    @classmethod
    def _opportunity_query(cls, var, parties, contact):
        """The newest open lead, else deal, of the number, of the parties
        (p0, p1...) or with contact as its contact person.  Leads count
        unless the company works in simple mode (deals only)."""
        pool = Pool()
        opportunity = pool.get('sale.opportunity').__table__()
        status = pool.get('crm.lead.status').__table__()
        stage = pool.get('crm.pipeline.stage').__table__()
        config = pool.get('crm.configuration.company').__table__()
        who = opportunity.contact_phone_e164 == var('e164')
        if parties:
            who |= opportunity.party.in_(
                [var('p%d' % i) for i in range(parties)])
        if contact:
            who |= opportunity.contact_party == var('contact')
        simple = Exists(config.select(config.id,
                where=(config.company == var('company'))
                & (config.simple_mode == Literal(True))))
        kinds = (((opportunity.crm_type == 'deal')
                & (stage.kind == 'in_progress'))
            | ((opportunity.crm_type == 'lead')
                & (status.kind == 'open') & ~simple))
        return (opportunity
            .join(status, 'LEFT',
                condition=opportunity.lead_status == status.id)
            .join(stage, 'LEFT', condition=opportunity.stage == stage.id)
            .select(opportunity.id, opportunity.employee,
                where=(opportunity.company == var('company'))
                & kinds & who,
                # leads before deals, the newest first (as the intake)
                order_by=[opportunity.crm_type.desc,
                    opportunity.id.desc],
                limit=1))
