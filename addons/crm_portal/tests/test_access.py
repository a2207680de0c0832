import unittest
from contextlib import contextmanager

from trytond.model.exceptions import AccessError
from trytond.modules.company.tests import (
    create_company, create_employee, set_company)
from trytond.pool import Pool
from trytond.tests.test_tryton import (
    activate_module, drop_db, with_transaction)
from trytond.transaction import Transaction

ENTITIES = ['lead', 'deal', 'contact', 'company', 'activity']
OWNERS = ['manager', 'user', 'sub', 'other']


def model_of(entity):
    return {
        'lead': 'sale.opportunity',
        'deal': 'sale.opportunity',
        'contact': 'party.party',
        'company': 'party.party',
        'activity': 'crm.activity',
        }[entity]


def values_of(entity, company, employee, label):
    if entity in {'lead', 'deal'}:
        values = {
            'crm_type': entity,
            'company': company.id,
            'employee': employee.id if employee else None,
            'description': label,
            }
        if entity == 'deal':
            # A deal has a client: the company's own party will do.
            values['party'] = company.party.id
        return values
    if entity in {'contact', 'company'}:
        return {
            'name': label,
            'crm_kind': 'person' if entity == 'contact' else 'organisation',
            'crm_responsible': employee.id if employee else None,
            }
    return {
        'company': company.id,
        'subject': label,
        'responsible': employee.id if employee else None,
        }


def write_values(entity):
    if entity in {'lead', 'deal'}:
        return {'description': "Changed"}
    if entity in {'contact', 'company'}:
        return {'name': "Changed"}
    return {'subject': "Changed"}


class AccessMixin:

    def setup_world(self):
        """A company with a 3-level hierarchy:
        manager > user > sub, and other outside it; a CRM user, a CRM
        manager and a CRM administrator."""
        pool = Pool()
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        Employee = pool.get('company.employee')
        company = create_company()
        employees = {n: create_employee(company, n.title())
            for n in OWNERS + ['admin']}
        Employee.write([employees['user']], {
                'supervisor': employees['manager'].id})
        Employee.write([employees['sub']], {
                'supervisor': employees['user'].id})
        groups = {
            'user': 'group_crm',
            'manager': 'group_crm_manager',
            'admin': 'group_crm_admin',
            }
        users = {}
        for role, group in groups.items():
            users[role], = User.create([{
                        'name': role.title(),
                        'login': 'crm_' + role,
                        'companies': [('add', [company.id])],
                        'company': company.id,
                        'employees': [('add', [employees[role].id])],
                        'employee': employees[role].id,
                        'groups': [('add', [
                                    ModelData.get_id('crm_portal', group)])],
                        }])
        return company, employees, users

    def create_records(self, company, employees, entity, label=''):
        "Create one record of entity per owner, as root"
        pool = Pool()
        Model = pool.get(model_of(entity))
        records = {}
        for owner in OWNERS:
            records[owner], = Model.create([values_of(
                        entity, company, employees[owner],
                        f'{entity} {owner} {label}')])
        if entity in {'lead', 'deal'}:
            # Only cancelled opportunities may be deleted.
            Model.write(list(records.values()), {'state': 'cancelled'})
        return records

    @contextmanager
    def as_user(self, user):
        transaction = Transaction()
        with transaction.set_user(user.id), transaction.set_context(
                company=user.company.id if user.company else None,
                companies=[c.id for c in user.companies],
                employee=user.employee.id if user.employee else None,
                _check_access=True):
            yield

    def allowed(self, user, entity, action, record, company, employees):
        "Return whether user may do action on record (or create for owner)"
        Model = Pool().get(model_of(entity))
        try:
            with self.as_user(user):
                if action == 'read':
                    Model.read([record.id], ['id', 'rec_name'])
                elif action == 'write':
                    Model.write([Model(record.id)], write_values(entity))
                elif action == 'delete':
                    Model.delete([Model(record.id)])
                elif action == 'create':
                    Model.create([values_of(
                                entity, company, record, "New")])
                elif action == 'export':
                    Model.export_data([Model(record.id)], ['id'])
        except AccessError:
            return False
        return True

    def set_scope(self, group, entity, action, scope):
        pool = Pool()
        Scope = pool.get('crm.access.scope')
        ModelData = pool.get('ir.model.data')
        group_id = ModelData.get_id('crm_portal', group)
        scopes = Scope.search([
                ('group', '=', group_id),
                ('entity', '=', entity),
                ('action', '=', action),
                ])
        if scopes:
            Scope.write(scopes, {'scope': scope})
        else:
            Scope.create([{
                        'group': group_id, 'entity': entity,
                        'action': action, 'scope': scope}])


# Who is inside each scope, seen from each role's employee
VISIBLE = {
    'user': {
        'none': set(),
        'own': {'user'},
        'subordinates': {'user', 'sub'},
        'all': set(OWNERS),
        },
    'manager': {
        'none': set(),
        'own': {'manager'},
        'subordinates': {'manager', 'user', 'sub'},
        'all': set(OWNERS),
        },
    }
# The default scopes loaded as data
DEFAULTS = {
    'user': {
        'lead': dict(read='own', create='all', write='own', delete='own',
            export='own'),
        'deal': dict(read='own', create='all', write='own', delete='own',
            export='own'),
        'contact': dict(read='all', create='all', write='own', delete='own',
            export='own'),
        'company': dict(read='all', create='all', write='own', delete='own',
            export='own'),
        'activity': dict(read='all', create='all', write='own',
            delete='own', export='own'),
        },
    'manager': {
        'lead': dict(read='subordinates', create='all', write='subordinates',
            delete='subordinates', export='subordinates'),
        'deal': dict(read='subordinates', create='all', write='subordinates',
            delete='subordinates', export='subordinates'),
        'contact': dict(read='all', create='all', write='subordinates',
            delete='subordinates', export='subordinates'),
        'company': dict(read='all', create='all', write='subordinates',
            delete='subordinates', export='subordinates'),
        'activity': dict(read='all', create='all', write='subordinates',
            delete='own', export='subordinates'),
        },
    'admin': {e: {a: 'all' for a in
            ['read', 'create', 'write', 'delete', 'export']}
        for e in ENTITIES},
    }
VISIBLE['admin'] = {'all': set(OWNERS)}


class AccessTestCase(AccessMixin, unittest.TestCase):
    "Test access by role and hierarchy"

    @classmethod
    def setUpClass(cls):
        # never on a database left by another class: Tryton would cache it
        drop_db()
        activate_module('crm_portal')

    @with_transaction()
    def test_default_role_matrix(self):
        "Each role, entity and action follows the default scopes"
        company, employees, users = self.setup_world()
        with set_company(company):
            for role in ['user', 'manager', 'admin']:
                for entity in ENTITIES:
                    for action in ['read', 'write', 'export', 'create',
                            'delete']:
                        scope = DEFAULTS[role][entity][action]
                        expected = VISIBLE[role][scope]
                        records = self.create_records(
                            company, employees, entity)
                        for owner in OWNERS:
                            target = (employees[owner]
                                if action == 'create' else records[owner])
                            with self.subTest(role=role, entity=entity,
                                    action=action, owner=owner):
                                self.assertEqual(
                                    self.allowed(users[role], entity,
                                        action, target, company, employees),
                                    owner in expected)

    @with_transaction()
    def test_scope_matrix(self):
        "Every scope of every entity and action is enforced for a role"
        company, employees, users = self.setup_world()
        with set_company(company):
            for role, group in [
                    ('user', 'group_crm'),
                    ('manager', 'group_crm_manager')]:
                for entity in ENTITIES:
                    records = self.create_records(company, employees, entity)
                    actions = ['read', 'write', 'create', 'export']
                    if entity != 'activity':
                        actions.append('delete')
                    for action in actions:
                        for scope in ['none', 'own', 'subordinates', 'all']:
                            if action == 'delete':
                                records = self.create_records(
                                    company, employees, entity, scope)
                            self.set_scope(group, entity, action, scope)
                            if role == 'manager':
                                # The manager is also a CRM user: narrow
                                # that role so it does not widen the result.
                                self.set_scope(
                                    'group_crm', entity, action, 'none')
                            expected = VISIBLE[role][scope]
                            for owner in OWNERS:
                                target = (employees[owner]
                                    if action == 'create'
                                    else records[owner])
                                with self.subTest(role=role, entity=entity,
                                        action=action, scope=scope,
                                        owner=owner):
                                    self.assertEqual(
                                        self.allowed(users[role], entity,
                                            action, target, company,
                                            employees),
                                        owner in expected)

    @with_transaction()
    def test_list_filters_and_read_refuses(self):
        "A list shows the scope only; reading outside it is an error"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        company, employees, users = self.setup_world()
        with set_company(company):
            deals = self.create_records(company, employees, 'deal')
            with self.as_user(users['user']):
                found = Opportunity.search([('crm_type', '=', 'deal')])
                self.assertEqual(found, [deals['user']])
                with self.assertRaises(AccessError):
                    Opportunity.read(
                        [deals['user'].id, deals['other'].id],
                        ['description'])
            with self.as_user(users['manager']):
                found = Opportunity.search([('crm_type', '=', 'deal')])
                self.assertEqual(
                    set(found),
                    {deals['manager'], deals['user'], deals['sub']})
                # Export by domain keeps to the export scope.
                rows = Opportunity.export_data_domain(
                    [('crm_type', '=', 'deal')], ['description'])
                self.assertEqual(len(rows), 3)

    @with_transaction()
    def test_hierarchy_change(self):
        "A new subordinate is seen by the manager at once"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Employee = pool.get('company.employee')
        company, employees, users = self.setup_world()
        with set_company(company):
            deals = self.create_records(company, employees, 'deal')
            with self.as_user(users['manager']):
                self.assertNotIn(deals['other'], Opportunity.search([]))
            Employee.write([employees['other']], {
                    'supervisor': employees['sub'].id})
            with self.as_user(users['manager']):
                self.assertIn(deals['other'], Opportunity.search([]))

    @with_transaction()
    def test_observers(self):
        "An observer reads a deal outside the scope but may not write it"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        company, employees, users = self.setup_world()
        with set_company(company):
            deals = self.create_records(company, employees, 'deal')
            deal = deals['other']
            self.assertFalse(self.allowed(
                    users['user'], 'deal', 'read', deal, company, employees))
            Opportunity.write([deal], {
                    'observers': [('add', [employees['user'].id])]})
            self.assertTrue(self.allowed(
                    users['user'], 'deal', 'read', deal, company, employees))
            self.assertFalse(self.allowed(
                    users['user'], 'deal', 'write', deal, company, employees))
            with self.as_user(users['user']):
                self.assertIn(deal, Opportunity.search([]))

    @with_transaction()
    def test_activity_delete_others(self):
        "A CRM user may not delete another's activity; an administrator may"
        pool = Pool()
        Activity = pool.get('crm.activity')
        company, employees, users = self.setup_world()
        with set_company(company):
            # Even with an "all" delete scope history stays.
            self.set_scope('group_crm', 'activity', 'delete', 'all')
            activity, = Activity.create([values_of(
                        'activity', company, employees['other'], "Call")])
            with self.as_user(users['user']):
                with self.assertRaises(AccessError) as cm:
                    Activity.delete([Activity(activity.id)])
                self.assertIn("Call", str(cm.exception))
            own, = Activity.create([values_of(
                        'activity', company, employees['user'], "Mine")])
            with self.as_user(users['user']):
                Activity.delete([Activity(own.id)])
            with self.as_user(users['admin']):
                Activity.delete([Activity(activity.id)])
            self.assertFalse(Activity.search([('id', '=', activity.id)]))

    @with_transaction()
    def test_party_rules_spare_other_users(self):
        "Users outside the CRM groups keep their party access"
        pool = Pool()
        User = pool.get('res.user')
        Party = pool.get('party.party')
        company, employees, users = self.setup_world()
        clerk, = User.create([{'name': "Clerk", 'login': 'clerk'}])
        with set_company(company):
            parties = self.create_records(company, employees, 'company')
            with self.as_user(clerk):
                Party.write([Party(parties['other'].id)], {'name': "Ok"})
                self.assertEqual(
                    Party(parties['other'].id).name, "Ok")


    @with_transaction()
    def test_audit_entries_follow_record_rules(self):
        "The history of a record is read only by who may read the record"
        pool = Pool()
        Opportunity = pool.get('sale.opportunity')
        Party = pool.get('party.party')
        Entry = pool.get('crm.audit.entry')
        company, employees, users = self.setup_world()
        with set_company(company):
            deals = self.create_records(company, employees, 'deal')
            Opportunity.write(list(deals.values()), {'amount': 42})
            # Parties are read by all CRM roles, their writes by own scope.
            self.set_scope('group_crm', 'company', 'read', 'own')
            parties = self.create_records(company, employees, 'company')
            Party.write(list(parties.values()), {'job_title': "Buyer"})
            logged = {r: Entry.search([('resource', '=', str(r))])
                for r in [*deals.values(), *parties.values()]}
            self.assertTrue(all(logged.values()))

            def seen(user):
                "The records whose entries user finds by a search"
                with self.as_user(user):
                    entries = Entry.search([])
                    resources = {e['resource'] for e in Entry.read(
                            [e.id for e in entries], ['resource'])}
                return {r for r in logged if str(r) in resources}

            self.assertEqual(seen(users['user']), {
                    deals['user'], parties['user']})
            self.assertEqual(seen(users['manager']), {
                    deals['manager'], deals['user'], deals['sub'],
                    *parties.values()})
            self.assertEqual(
                seen(users['admin']), set(logged))

            with self.as_user(users['user']):
                # Reading another's entry by id is refused.
                with self.assertRaises(AccessError):
                    Entry.read([logged[deals['other']][0].id], ['new_value'])
                # The history in the form shows the own record's changes.
                deal = Opportunity(deals['user'].id)
                self.assertEqual(
                    [(e.field, e.new_value) for e in deal.history
                        if e.field == 'amount'],
                    [('amount', '42')])
            # A wider scope shows the entries at once.
            self.set_scope('group_crm', 'deal', 'read', 'all')
            self.assertIn(deals['other'], seen(users['user']))
