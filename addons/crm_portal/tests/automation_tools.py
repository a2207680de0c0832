"Deals, pipelines and rules for the automation tests"

from trytond.pool import Pool
from trytond.transaction import Transaction


def run_tasks(limit=100):
    "Run the queued tasks as the worker would after the commit"
    Queue = Pool().get('ir.queue')
    transaction = Transaction()
    count = 0
    while transaction.tasks:
        count += 1
        assert count <= limit, "tasks keep coming"
        Queue(transaction.tasks.pop(0)).run()
    return count


def default_pipeline(company):
    return Pool().get('crm.pipeline').create_standard(company.id)


def stage_of(pipeline, code):
    stage, = [s for s in pipeline.stages if s.code == code]
    return stage


def make_party(name, kind='person', email=None):
    Party = Pool().get('party.party')
    values = {'name': name, 'crm_kind': kind,
        'addresses': [('create', [{}])]}
    if email:
        values['contact_mechanisms'] = [
            ('create', [{'type': 'email', 'value': email}])]
    party, = Party.create([values])
    return party


def make_deal(pipeline, **values):
    Opportunity = Pool().get('sale.opportunity')
    values.setdefault('description', "Roof repair")
    values.setdefault('pipeline', pipeline.id)
    values.setdefault('stage', stage_of(pipeline, 'NEW').id)
    if 'party' not in values:
        values['party'] = make_party("Client", 'organisation').id
    with Transaction().set_context(crm_type='deal'):
        deal, = Opportunity.create([values])
    return deal


def make_rule(pipeline, code, **values):
    Rule = Pool().get('crm.automation.rule')
    values.setdefault('name', "Rule")
    values['pipeline'] = pipeline.id
    values['stage'] = stage_of(pipeline, code).id
    rule, = Rule.create([values])
    return rule


def move_deal(deal, pipeline, code, **values):
    Opportunity = Pool().get('sale.opportunity')
    values['stage'] = stage_of(pipeline, code).id
    Opportunity.write([deal], values)
    return Opportunity(deal.id)


def executions_of(deal):
    Execution = Pool().get('crm.automation.execution')
    return Execution.search(
        [('opportunity', '=', deal.id)], order=[('id', 'ASC')])


def activities_of(deal, type_=None):
    Activity = Pool().get('crm.activity')
    domain = [('opportunity', '=', deal.id)]
    if type_:
        domain.append(('type', '=', type_))
    return Activity.search(domain, order=[('id', 'ASC')])


def make_user(employee, login):
    User = Pool().get('res.user')
    user, = User.create([{
                'name': employee.rec_name,
                'login': login,
                'companies': [('add', [employee.company.id])],
                'company': employee.company.id,
                'employees': [('add', [employee.id])],
                'employee': employee.id,
                }])
    return user
