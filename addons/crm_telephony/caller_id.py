# Caller-ID: what a number is in the CRM (contact, company, open lead or
# deal, responsible), by plain SQL on indexed columns.
from sql import Literal

from trytond.pool import Pool, PoolMeta

from .sqlcache import execute


class Call(metaclass=PoolMeta):
    __name__ = 'crm.telephony.call'

    @classmethod
    def lookup(cls, company, e164):
        """What the number is in the CRM: contact, client, open lead or
        deal and the responsible.

        Plain SQL on indexed columns (E.164 of contact mechanisms, of
        leads): it runs for every call."""
        pool = Pool()
        Party = pool.get('party.party')
        Employee = pool.get('company.employee')
        Opportunity = pool.get('sale.opportunity')
        found = {'contact': None, 'client': None, 'opportunity': None,
            'responsible': None}
        if not e164:
            return found
        party = Party.__table__()
        employee = Employee.__table__()
        mechanism = pool.get('party.contact_mechanism').__table__()
        contact = client = None
        responsibles = []
        # the phone match of crm.duplicate.match_parties and the party's
        # kind, employer and responsible in one statement
        row = execute(['caller'], lambda var: mechanism
            .join(party, condition=mechanism.party == party.id)
            .join(employee, 'LEFT',
                condition=(party.crm_responsible == employee.id)
                & (employee.company == var('company')))
            .select(party.id, party.crm_kind, party.employer, employee.id,
                where=(mechanism.value_compact == var('e164'))
                & (mechanism.active == Literal(True))
                & (party.active == Literal(True)),
                order_by=[mechanism.id.asc], limit=1),
            company=company, e164=e164).fetchone()
        if row:
            party_id, kind, employer, responsible = row
            if kind == 'organisation':
                client = party_id
            else:
                contact, client = party_id, employer or party_id
            responsibles.append(responsible)
            if client != party_id:
                row = execute(['employer'], lambda var: party.join(employee,
                        condition=(party.crm_responsible == employee.id)
                        & (employee.company == var('company'))
                        ).select(employee.id,
                        where=party.id == var('party')),
                    company=company, party=client).fetchone()
                responsibles.append(row[0] if row else None)
        opportunity, owner = cls._open_opportunity(
            company, e164, contact, client)
        responsibles.append(owner)
        responsible = next((r for r in responsibles if r), None)
        found.update(
            contact=Party(contact) if contact else None,
            client=Party(client) if client else None,
            opportunity=Opportunity(opportunity) if opportunity else None,
            responsible=Employee(responsible) if responsible else None)
        return found

    @classmethod
    def _open_opportunity(cls, company, e164, contact, client):
        "(id, employee) of the newest open lead, else deal, of the caller"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Status = pool.get('crm.lead.status')
        Stage = pool.get('crm.pipeline.stage')
        opportunity = Opportunity.__table__()
        status = Status.__table__()
        stage = Stage.__table__()
        parties = sorted({p for p in [contact, client] if p})
        simple = cls._simple_mode(company)

        def build(var):
            who = opportunity.contact_phone_e164 == var('e164')
            if parties:
                who |= opportunity.party.in_(
                    [var('p%d' % i) for i in range(len(parties))])
            if contact:
                who |= opportunity.contact_party == var('contact')
            kinds = ((opportunity.crm_type == 'deal')
                & (stage.kind == 'in_progress'))
            if not simple:
                kinds |= ((opportunity.crm_type == 'lead')
                    & (status.kind == 'open'))
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
        values = {'p%d' % i: p for i, p in enumerate(parties)}
        row = execute(['opportunity', len(parties), bool(contact), simple],
            build, e164=e164, contact=contact, company=company,
            **values).fetchone()
        return row if row else (None, None)

    @staticmethod
    def _simple_mode(company):
        ConfigurationCompany = Pool().get('crm.configuration.company')
        table = ConfigurationCompany.__table__()
        row = execute(['simple_mode'], lambda var: table.select(
                table.simple_mode, where=table.company == var('company'),
                order_by=[table.id.asc], limit=1),
            company=company).fetchone()
        return bool(row[0]) if row and row[0] is not None else (
            ConfigurationCompany.default_simple_mode())
