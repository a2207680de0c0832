# Access by role and hierarchy: scopes per group, entity and action,
# enforced by generated record rules.
from sql import Literal, With

from trytond.cache import Cache
from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, Unique, fields
from trytond.model.exceptions import AccessError
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval, PYSONDecoder, PYSONEncoder
from trytond.transaction import Transaction, without_check_access

from .access_domain import simplify_domain

ENTITIES = [
    ('lead', "Lead"),
    ('deal', "Deal"),
    ('contact', "Contact"),
    ('company', "Company"),
    ('activity', "Activity"),
    ]
ACTIONS = [
    ('read', "Read"),
    ('create', "Create"),
    ('write', "Write"),
    ('delete', "Delete"),
    ('export', "Export"),
    ]
SCOPES = [
    ('none', "None"),
    ('own', "Own"),
    ('subordinates', "Own and Subordinates"),
    ('all', "All"),
    ]
# entity: (model, discriminating clause, responsible field)
ENTITY_DEFS = {
    'lead': ('sale.opportunity', ('crm_type', '=', 'lead'), 'employee'),
    'deal': ('sale.opportunity', ('crm_type', '=', 'deal'), 'employee'),
    'contact': ('party.party', ('crm_kind', '=', 'person'),
        'crm_responsible'),
    'company': ('party.party', ('crm_kind', '=', 'organisation'),
        'crm_responsible'),
    'activity': ('crm.activity', None, 'responsible'),
    }
MODELS = {m for m, _, _ in ENTITY_DEFS.values()}
RULE_ACTIONS = ['read', 'create', 'write', 'delete']


def model_entities(model):
    return [e for e, (m, _, _) in ENTITY_DEFS.items() if m == model]


def scope_domain(entity, scope):
    "Return the PYSON domain of records of entity inside scope, or None"
    _, clause, field = ENTITY_DEFS[entity]
    if scope == 'none':
        return None
    domain = [clause] if clause else []
    if scope == 'own':
        domain.append((field, '=', Eval('crm_employee', -1)))
    elif scope == 'subordinates':
        domain.append((field, 'in', Eval('crm_employees', [-1])))
    return domain


def observer_domain():
    "Deals observed by the current employee"
    return [('crm_type', '=', 'deal'),
        ('observers', '=', Eval('crm_employee', -1))]


def current_employee():
    "The current user's employee: the one of the context, else the user's"
    pool = Pool()
    User = pool.get('res.user')
    transaction = Transaction()
    employee = transaction.context.get('employee')
    if employee is None and transaction.user:
        with without_check_access():
            user = User(transaction.user)
            employee = user.employee.id if user.employee else None
    return employee


class Scope(ModelSQL, ModelView):
    __name__ = 'crm.access.scope'

    group = fields.Many2One(
        'res.group', "Role", required=True, ondelete='CASCADE')
    entity = fields.Selection(ENTITIES, "Entity", required=True)
    action = fields.Selection(ACTIONS, "Action", required=True)
    scope = fields.Selection(SCOPES, "Scope", required=True,
        help="Own: the responsible is me.\n"
        "Own and Subordinates: the responsible is me or an employee "
        "I supervise, at any depth.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('group_entity_action_unique',
                Unique(t, t.group, t.entity, t.action),
                'crm_portal.msg_access_scope_unique'),
            ]
        cls._order = [
            ('group', 'ASC'), ('entity', 'ASC'), ('action', 'ASC'),
            ('id', 'ASC')]

    @staticmethod
    def default_scope():
        return 'own'

    @classmethod
    def on_modification(cls, mode, scopes, field_names=None):
        super().on_modification(mode, scopes, field_names=field_names)
        if mode != 'delete':
            cls.update_rules(cls._keys(scopes))

    @classmethod
    def on_write(cls, scopes, values):
        # The former group, entity or action lose their rule too.
        keys = cls._keys(scopes)
        return super().on_write(scopes, values) + [
            lambda: cls.update_rules(keys)]

    @classmethod
    def on_delete(cls, scopes):
        keys = cls._keys(scopes)
        return super().on_delete(scopes) + [lambda: cls.update_rules(keys)]

    @staticmethod
    def _keys(scopes):
        return {(s.group.id, ENTITY_DEFS[s.entity][0], s.action)
            for s in scopes if s.action in RULE_ACTIONS}

    @classmethod
    @without_check_access
    def update_rules(cls, keys=None):
        """Generate the record rules of (group id, model, action) keys

        Each key has one rule group, applied to the members of the group,
        with one rule per entity of the model whose scope is not none.
        An entity without a scope for the group counts as none."""
        pool = Pool()
        RuleGroup = pool.get('ir.rule.group')
        Rule = pool.get('ir.rule')
        Group = pool.get('res.group')
        encoder = PYSONEncoder(sort_keys=True)
        if keys is None:
            keys = {(s.group.id, ENTITY_DEFS[s.entity][0], s.action)
                for s in cls.search([('action', 'in', RULE_ACTIONS)])}
            keys |= {cls._parse_key(g.crm_access_key)
                for g in RuleGroup.search(
                    [('crm_access_key', '!=', None)])}
        for group_id, model, action in sorted(keys):
            key = f'{group_id}:{model}:{action}'
            entities = model_entities(model)
            scopes = {s.entity: s.scope for s in cls.search([
                        ('group', '=', group_id),
                        ('action', '=', action),
                        ('entity', 'in', entities),
                        ])}
            rule_groups = RuleGroup.search([('crm_access_key', '=', key)])
            if not scopes:
                RuleGroup.delete(rule_groups)
                continue
            domains = []
            for entity in entities:
                domain = scope_domain(entity, scopes.get(entity, 'none'))
                if domain is not None:
                    domains.append(domain)
            if (action == 'read' and 'deal' in entities
                    and scopes.get('deal', 'none') != 'all'):
                domains.append(observer_domain())
            if not domains:
                domains.append([('id', '=', -1)])
            if len(entities) > 1 and all(
                    scopes.get(e) == 'all' for e in entities):
                domains = [[]]
            group = Group(group_id)
            labels = {
                'model': pool.get(model).__names__()['model'],
                'action': dict(ACTIONS)[action],
                'group': group.name,
                }
            name = gettext('crm_portal.msg_access_rule_name', **labels)
            if name == 'crm_portal.msg_access_rule_name':
                # While the module is being set up its messages are not
                # readable yet: the scopes of access.xml arrive before.
                name = 'CRM access: %(action)s %(model)s (%(group)s)' % labels
            values = {
                'name': name,
                'model': model,
                'global_p': False,
                'default_p': False,
                }
            for perm in RULE_ACTIONS:
                values['perm_%s' % perm] = perm == action
            if rule_groups:
                rule_group, *others = rule_groups
                RuleGroup.delete(others)
                Rule.delete(rule_group.rules)
                RuleGroup.write([rule_group], values)
            else:
                values['crm_access_key'] = key
                values['groups'] = [('add', [group_id])]
                rule_group, = RuleGroup.create([values])
            Rule.create([{
                        'rule_group': rule_group.id,
                        'domain': encoder.encode(d),
                        } for d in domains])

    @staticmethod
    def _parse_key(key):
        group_id, model, action = key.split(':')
        return int(group_id), model, action

    @classmethod
    def export_domain(cls, model):
        """Return the domain of records of model the current user may
        export, or None when no scope limits them"""
        pool = Pool()
        User = pool.get('res.user')
        Rule = pool.get('ir.rule')
        transaction = Transaction()
        if not transaction.user or not transaction.check_access:
            return None
        groups = User.get_groups()
        entities = model_entities(model)
        with without_check_access():
            scopes = cls.search([
                    ('group', 'in', groups),
                    ('action', '=', 'export'),
                    ('entity', 'in', entities),
                    ])
        if not scopes:
            return None
        best = {}
        order = [s for s, _ in SCOPES]
        for scope in scopes:
            current = best.get(scope.entity, 'none')
            if order.index(scope.scope) > order.index(current):
                best[scope.entity] = scope.scope
        if all(best.get(e) == 'all' for e in entities):
            return None
        domain = ['OR']
        for entity in entities:
            clause = scope_domain(entity, best.get(entity, 'none'))
            if clause is not None:
                domain.append(clause)
        if len(domain) == 1:
            domain.append([('id', '=', -1)])
        decoder = PYSONDecoder(Rule._get_context(model))
        return decoder.decode(PYSONEncoder().encode(domain))

    @classmethod
    def check_export(cls, Model, records):
        "Raise AccessError if a record may not be exported"
        domain = cls.export_domain(Model.__name__)
        if domain is None or not records:
            return
        ids = [r.id for r in records]
        with without_check_access():
            allowed = {r.id for r in Model.search(
                        [('id', 'in', ids), domain], order=[])}
        forbidden = [i for i in ids if i not in allowed]
        if forbidden:
            raise AccessError(gettext(
                    'crm_portal.msg_access_export_refused',
                    ids=', '.join(map(str, forbidden[:5])),
                    **Model.__names__()))


class ExportMixin:
    "Refuse to export records outside the export scope"
    __slots__ = ()

    @classmethod
    def export_data(cls, records, fields_names, header=False):
        Pool().get('crm.access.scope').check_export(cls, records)
        return super().export_data(records, fields_names, header=header)

    @classmethod
    def export_data_domain(
            cls, domain, fields_names, offset=0, limit=None, order=None,
            header=False):
        Scope = Pool().get('crm.access.scope')
        export_domain = Scope.export_domain(cls.__name__)
        if export_domain is not None:
            domain = [domain, export_domain]
        return super().export_data_domain(
            domain, fields_names, offset=offset, limit=limit, order=order,
            header=header)


class RuleGroup(metaclass=PoolMeta):
    __name__ = 'ir.rule.group'

    crm_access_key = fields.Char(
        "CRM Access Key", readonly=True,
        help="Set on the rules generated from the CRM access scopes.")


_simplified = {}


class Rule(metaclass=PoolMeta):
    __name__ = 'ir.rule'

    _crm_subordinates_cache = Cache(
        'crm_portal.access.subordinates', context=False)

    @classmethod
    def _get_context(cls, model_name):
        context = super()._get_context(model_name)
        if model_name in MODELS:
            employee = current_employee()
            context['crm_employee'] = employee if employee is not None else -1
            context['crm_employees'] = cls.crm_employees(employee)
        return context

    @classmethod
    def domain_get(cls, model_name, mode='read'):
        domain = super().domain_get(model_name, mode=mode)
        if not domain or model_name not in MODELS:
            return domain
        # The domain is cached: simplify each cached domain once.
        cached = _simplified.get(id(domain))
        if cached is not None and cached[0] is domain:
            return cached[1]
        if len(_simplified) > 1000:
            _simplified.clear()
        simplified = simplify_domain(domain)
        _simplified[id(domain)] = (domain, simplified)
        return simplified

    @classmethod
    def _crm_keyed_models(cls):
        "The models whose rules read the user's employee (extended by modules)"
        return MODELS

    @classmethod
    def _get_cache_key(cls, model_names):
        key = super()._get_cache_key(model_names)
        if cls._crm_keyed_models().intersection(model_names):
            key = (*key, Transaction().user, current_employee())
        return key

    @classmethod
    def crm_employees(cls, employee):
        "Return the ids of employee and its subordinates at any depth"
        if employee is None:
            return [-1]
        ids = cls._crm_subordinates_cache.get(employee)
        if ids is not None:
            return ids
        Employee = Pool().get('company.employee')
        table = Employee.__table__()
        cursor = Transaction().connection.cursor()
        tree = With('id', recursive=True)
        tree.query = table.select(
            table.id, where=table.id == Literal(employee))
        tree.query |= table.join(
            tree, condition=table.supervisor == tree.id).select(table.id)
        tree.query.all_ = False  # UNION stops on a cycle
        cursor.execute(*tree.select(tree.id, with_=[tree]))
        ids = sorted(i for i, in cursor)
        return cls._crm_subordinates_cache.set(employee, ids)


class Employee(metaclass=PoolMeta):
    __name__ = 'company.employee'

    @classmethod
    def on_modification(cls, mode, employees, field_names=None):
        pool = Pool()
        Rule = pool.get('ir.rule')
        super().on_modification(mode, employees, field_names=field_names)
        if field_names is None or 'supervisor' in field_names:
            Rule._crm_subordinates_cache.clear()
            Rule._domain_get_cache.clear()


class User(metaclass=PoolMeta):
    __name__ = 'res.user'

    @classmethod
    def on_modification(cls, mode, users, field_names=None):
        pool = Pool()
        Rule = pool.get('ir.rule')
        super().on_modification(mode, users, field_names=field_names)
        if field_names is None or field_names & {'employee', 'employees'}:
            Rule._domain_get_cache.clear()


class Observer(ModelSQL):
    __name__ = 'crm.deal.observer'

    opportunity = fields.Many2One(
        'sale.opportunity', "Deal", required=True, ondelete='CASCADE')
    employee = fields.Many2One(
        'company.employee', "Employee", required=True, ondelete='CASCADE')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('opportunity_employee_unique',
                Unique(t, t.opportunity, t.employee),
                'crm_portal.msg_deal_observer_unique'),
            ]
        cls.__access__.add('opportunity')


class Opportunity(ExportMixin, metaclass=PoolMeta):
    __name__ = 'sale.opportunity'

    observers = fields.Many2Many(
        'crm.deal.observer', 'opportunity', 'employee', "Observers",
        domain=[('company', '=', Eval('company', -1))],
        states={'invisible': Eval('crm_type') != 'deal'},
        help="Employees who may read the deal outside their access scope.")


class Party(ExportMixin, metaclass=PoolMeta):
    __name__ = 'party.party'


class Activity(ExportMixin, metaclass=PoolMeta):
    __name__ = 'crm.activity'

    @classmethod
    def check_modification(cls, mode, activities, values=None,
            external=False):
        pool = Pool()
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        super().check_modification(
            mode, activities, values=values, external=external)
        if mode != 'delete' or not external:
            return
        admin = ModelData.get_id('crm_portal', 'group_crm_admin')
        if admin in User.get_groups():
            return
        employee = current_employee()
        for activity in activities:
            if (activity.responsible is None
                    or activity.responsible.id != employee):
                raise AccessError(gettext(
                        'crm_portal.msg_activity_delete_others',
                        activity=activity.rec_name))
