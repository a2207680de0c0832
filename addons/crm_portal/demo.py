# Demo data for a tenant: team, clients, leads, deals, activities.
"""Deterministic demo data (random.Random(42)) for one company.

load_demo(company) runs inside a Transaction whose context has the company;
dates are relative to today so that overdue and due-today activities stay
meaningful.
"""
import datetime
import random
from decimal import Decimal

from trytond.pool import Pool
from trytond.transaction import Transaction

SEED = 42
DEMO_PASSWORD = 'crm-demo'

TEAM = [
    # first name, last name, login, job title key, CRM admin
    ("Анна", "Смирнова", 'a.smirnova', 'head', True),
    ("Дмитрий", "Кузнецов", 'd.kuznetsov', 'manager', False),
    ("Елена", "Попова", 'e.popova', 'manager', False),
    ("Сергей", "Васильев", 's.vasilyev', 'manager', False),
    ("Ольга", "Новикова", 'o.novikova', 'assistant', False),
    ]
MALE_FIRST = ["Александр", "Алексей", "Андрей", "Иван", "Михаил", "Николай",
    "Павел", "Роман", "Артём", "Максим", "Владимир", "Игорь"]
FEMALE_FIRST = ["Мария", "Наталья", "Татьяна", "Ирина", "Екатерина",
    "Светлана", "Юлия", "Анастасия", "Ксения", "Дарья", "Вера", "Галина"]
LAST = ["Иванов", "Петров", "Соколов", "Морозов", "Волков", "Лебедев",
    "Козлов", "Егоров", "Павлов", "Семёнов", "Голубев", "Виноградов",
    "Богданов", "Воробьёв", "Фёдоров", "Михайлов", "Беляев", "Тарасов",
    "Белов", "Комаров", "Орлов", "Киселёв", "Макаров", "Андреев"]
ORG_FORMS = ["ООО", "АО", "ООО", "ПАО", "ООО"]
ORG_NAMES = ["Вектор", "Гранит", "Меридиан", "Орион", "Техностиль",
    "Стройресурс", "Сфера", "Полюс", "Северный ветер", "Альфа-Логистик",
    "Уралмет", "Волга-Трейд", "Инфосистемы", "Байкал", "Медтехника",
    "Зелёный сад", "Агрохолдинг Юг", "Кристалл", "Сибирь Телеком",
    "Балтика Сервис", "Город мастеров", "Эко Продукт"]
CITY_CODES = ['495', '499', '812', '343', '383', '843', '863']
JOB_TITLES = {
    'head': ("Head of Sales", "Руководитель отдела продаж"),
    'manager': ("Sales Manager", "Менеджер по продажам"),
    'assistant': ("Sales Assistant", "Помощник менеджера"),
    }
CONTACT_JOBS = [
    ("CEO", "Генеральный директор"),
    ("Purchasing Manager", "Менеджер по закупкам"),
    ("Chief Accountant", "Главный бухгалтер"),
    ("IT Director", "ИТ-директор"),
    ("Marketing Director", "Директор по маркетингу"),
    ("Office Manager", "Офис-менеджер"),
    ]
LEAD_TITLES = [
    ("Request for a quote", "Запрос коммерческого предложения"),
    ("Website form: CRM for 20 users",
        "Заявка с сайта: CRM на 20 сотрудников"),
    ("Call back about prices", "Перезвонить по ценам"),
    ("Telephony integration question", "Вопрос по интеграции телефонии"),
    ("Webinar sign-up", "Регистрация на вебинар"),
    ("1C integration request", "Запрос на интеграцию с 1С"),
    ("Online chat: demo access", "Онлайн-чат: доступ к демо"),
    ("Partner referral", "Рекомендация партнёра"),
    ("Price list request", "Запрос прайс-листа"),
    ("Implementation consulting", "Консультация по внедрению"),
    ]
DEAL_TITLES = [
    ("CRM implementation", "Внедрение CRM"),
    ("Annual licence renewal", "Продление годовой лицензии"),
    ("Telephony setup", "Настройка телефонии"),
    ("Staff training", "Обучение сотрудников"),
    ("1C exchange setup", "Настройка обмена с 1С"),
    ("Website with web forms", "Сайт с CRM-формами"),
    ("Support contract", "Договор на поддержку"),
    ("Additional users", "Дополнительные пользователи"),
    ]
PARTNER_TITLES = [
    ("Reseller agreement", "Партнёрское соглашение"),
    ("Regional partner onboarding", "Подключение регионального партнёра"),
    ("Joint project", "Совместный проект"),
    ]
LOST_REASONS = [
    ("Price too high", "Слишком дорого"),
    ("Chose a competitor", "Выбрали конкурента"),
    ("Project postponed", "Проект отложен"),
    ("No budget this year", "Нет бюджета в этом году"),
    ]
ACTIVITY_SUBJECTS = {
    'call': [("Call about the offer", "Звонок по предложению"),
        ("Clarify requirements", "Уточнить требования"),
        ("Follow-up call", "Повторный звонок")],
    'meeting': [("Product demo", "Демонстрация продукта"),
        ("Contract negotiation", "Переговоры по договору"),
        ("Kick-off meeting", "Встреча по запуску проекта")],
    'task': [("Prepare the quote", "Подготовить КП"),
        ("Send the contract", "Отправить договор"),
        ("Issue the invoice", "Выставить счёт")],
    'email': [("Send the presentation", "Отправить презентацию"),
        ("Answer the questions", "Ответить на вопросы")],
    }
PRODUCTS = [
    ("CRM licence, user/year", "Лицензия CRM, пользователь/год",
        Decimal('12000')),
    ("Implementation, hour", "Внедрение, час", Decimal('3500')),
    ("Training day", "День обучения", Decimal('45000')),
    ("Support, month", "Поддержка, месяц", Decimal('15000')),
    ]
PARTNER_STAGES = [
    # code, (en, ru), kind, probability, colour
    ('P_NEW', ("Application", "Заявка партнёра"), 'in_progress', 0.1,
        '#39a8ef'),
    ('P_NEGOTIATION', ("Negotiation", "Переговоры"), 'in_progress', 0.4,
        '#2fc6f6'),
    ('P_CONTRACT', ("Contract", "Договор"), 'in_progress', 0.7, '#47e4c2'),
    ('P_WON', ("Partner signed", "Партнёр подключён"), 'won', 1, '#7bd500'),
    ('P_LOST', ("Refused", "Отказ"), 'lost', 0, '#ff5752'),
    ]
UTM_SOURCES = ['yandex', 'google', 'vk', 'telegram', 'newsletter']
UTM_MEDIUMS = ['cpc', 'social', 'email', 'organic', 'referral']
UTM_CAMPAIGNS = ['spring_sale', 'crm_webinar', 'brand', 'retargeting']

_TRANSLIT = dict(zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        ["a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "y", "k", "l",
            "m", "n", "o", "p", "r", "s", "t", "u", "f", "kh", "ts", "ch",
            "sh", "shch", "", "y", "", "e", "yu", "ya"]))


def translit(text):
    "Latin letters for a Russian name (for logins, e-mails, domains)"
    result = []
    for char in text.lower():
        if char in _TRANSLIT:
            result.append(_TRANSLIT[char])
        elif char.isascii() and char.isalnum():
            result.append(char)
        elif char in ' -':
            result.append('-')
    return ''.join(result).strip('-')


def has_demo(company):
    "Whether the company already has CRM data (demo or real)"
    Opportunity = Pool().get('sale.opportunity')
    return bool(Opportunity.search([
                ('company', '=', company.id),
                ], limit=1))


class _Demo:

    def __init__(self, company):
        self.pool = Pool()
        self.company = company
        self.rng = random.Random(SEED)
        language = Transaction().language or 'en'
        self.ru = language.startswith('ru')
        self.now = datetime.datetime.now().replace(microsecond=0)
        self.today = self.now.date()

    def text(self, pair):
        return pair[1] if self.ru else pair[0]

    def phone(self, mobile=False):
        rng = self.rng
        if mobile:
            return '+7 9%02d %03d-%02d-%02d' % (rng.randint(10, 99),
                rng.randint(100, 999), rng.randint(0, 99), rng.randint(0, 99))
        return '+7 %s %03d-%02d-%02d' % (rng.choice(CITY_CODES),
            rng.randint(200, 999), rng.randint(0, 99), rng.randint(0, 99))

    def person_name(self):
        rng = self.rng
        last = rng.choice(LAST)
        if rng.random() < 0.5:
            return rng.choice(MALE_FIRST), last
        # Russian female surnames take -a.
        return rng.choice(FEMALE_FIRST), last + 'а'

    def get_sources(self):
        Source = self.pool.get('crm.source')
        return Source.search([])

    def load(self):
        pool = self.pool
        ModelData = pool.get('ir.model.data')
        Pipeline = pool.get('crm.pipeline')

        self.sources = self.get_sources()
        self.admin_employee = self.get_admin_employee()
        self.standard = Pipeline.get_default(self.company.id, create=True)
        self.partners = self.create_partner_pipeline()
        self.team = self.create_team(ModelData)
        self.employees = [self.admin_employee] + self.team
        self.companies, self.contacts = self.create_clients()
        self.products = self.create_products(ModelData)
        leads = self.create_leads()
        deals = self.create_deals(leads)
        self.create_activities(leads, deals)

    def get_admin_employee(self):
        pool = self.pool
        User = pool.get('res.user')
        Employee = pool.get('company.employee')
        employee_id = Transaction().context.get('employee')
        if employee_id:
            return Employee(employee_id)
        admin, = User.search([('login', '=', 'admin')])
        return admin.employee

    def create_partner_pipeline(self):
        Pipeline = self.pool.get('crm.pipeline')
        pipeline, = Pipeline.create([{
                    'name': self.text(("Partners", "Партнёры")),
                    'company': self.company.id,
                    'sequence': 20,
                    'stages': [('create', [{
                                    'code': code,
                                    'name': self.text(name),
                                    'kind': kind,
                                    'probability': probability,
                                    'color': color,
                                    'sequence': i,
                                    } for i, (code, name, kind, probability,
                                    color) in enumerate(PARTNER_STAGES)])],
                    }])
        return pipeline

    def create_team(self, ModelData):
        pool = self.pool
        Party = pool.get('party.party')
        Employee = pool.get('company.employee')
        User = pool.get('res.user')
        group_crm = ModelData.get_id('crm_portal', 'group_crm')
        group_crm_admin = ModelData.get_id('crm_portal', 'group_crm_admin')
        parties = Party.create([{
                    'name': f"{first} {last}",
                    'crm_kind': 'person',
                    'job_title': self.text(JOB_TITLES[job]),
                    'contact_mechanisms': [('create', [
                                {'type': 'email',
                                    'value': f"{login}@demo.example"},
                                {'type': 'mobile',
                                    'value': self.phone(mobile=True)},
                                ])],
                    } for first, last, login, job, _ in TEAM])
        employees = Employee.create([{
                    'party': party.id,
                    'company': self.company.id,
                    } for party in parties])
        existing = {u.login for u in User.search([
                    ('login', 'in', [t[2] for t in TEAM]),
                    ('active', 'in', [True, False]),
                    ])}
        User.create([{
                    'name': party.name,
                    'login': login,
                    'email': f"{login}@demo.example",
                    'password': DEMO_PASSWORD,
                    'companies': [('add', [self.company.id])],
                    'company': self.company.id,
                    'employees': [('add', [employee.id])],
                    'employee': employee.id,
                    'groups': [('add', [group_crm]
                            + ([group_crm_admin] if admin else []))],
                    } for (_, _, login, _, admin), party, employee
                in zip(TEAM, parties, employees) if login not in existing])
        return employees

    def create_clients(self):
        rng = self.rng
        Party = self.pool.get('party.party')
        names = rng.sample(ORG_NAMES, 20)
        company_values = []
        for name in names:
            domain = translit(name) + rng.choice(['.ru', '.ru', '.com'])
            company_values.append({
                    'name': f"{rng.choice(ORG_FORMS)} «{name}»",
                    'crm_kind': 'organisation',
                    'crm_responsible': rng.choice(self.employees).id,
                    'crm_source': rng.choice(self.sources).id,
                    'contact_mechanisms': [('create', [
                                {'type': 'phone', 'value': self.phone()},
                                {'type': 'email', 'value': f"info@{domain}"},
                                {'type': 'website',
                                    'value': f"https://{domain}"},
                                ])],
                    'addresses': [('create', [{}])],
                    })
        companies = Party.create(company_values)

        contact_values = []
        for company in companies:
            domain = company.contact_mechanisms[1].value.split('@')[1]
            for job in rng.sample(CONTACT_JOBS, 2):
                first, last = self.person_name()
                email = f"{translit(first)}.{translit(last)}@{domain}"
                contact_values.append({
                        'name': f"{first} {last}",
                        'crm_kind': 'person',
                        'employer': company.id,
                        'job_title': self.text(job),
                        'crm_responsible': company.crm_responsible.id,
                        'contact_mechanisms': [('create', [
                                    {'type': 'mobile',
                                        'value': self.phone(mobile=True)},
                                    {'type': 'email', 'value': email},
                                    ])],
                        })
        contacts = Party.create(contact_values)
        return companies, contacts

    def create_products(self, ModelData):
        pool = self.pool
        Template = pool.get('product.template')
        unit = ModelData.get_id('product', 'uom_unit')
        hour = ModelData.get_id('product', 'uom_hour')
        day = ModelData.get_id('product', 'uom_day')
        units = [unit, hour, day, unit]
        templates = Template.create([{
                    'name': self.text((en, ru)),
                    'type': 'service',
                    'salable': True,
                    'list_price': price,
                    'default_uom': uom,
                    'sale_uom': uom,
                    'products': [('create', [{}])],
                    } for (en, ru, price), uom in zip(PRODUCTS, units)])
        self.prices = {t.products[0].id: price
            for t, (_, _, price) in zip(templates, PRODUCTS)}
        return [t.products[0] for t in templates]

    def date_back(self, days):
        return self.today - datetime.timedelta(
            days=self.rng.randint(0, days))

    def create_leads(self):
        rng = self.rng
        pool = self.pool
        Opportunity = pool.get('sale.opportunity')
        Status = pool.get('crm.lead.status')
        statuses = {s.code: s for s in Status.search([])}
        # Mostly fresh and in-process leads, some processed, converted, junk.
        plan = (['NEW'] * 15 + ['IN_PROCESS'] * 14 + ['PROCESSED'] * 6
            + ['CONVERTED'] * 10 + ['JUNK'] * 5)
        values = []
        for i, code in enumerate(plan):
            status = statuses.get(code) or Status.get_first('open')
            first, last = self.person_name()
            company_name = rng.choice(ORG_NAMES)
            domain = translit(company_name) + '.ru'
            source = rng.choice(self.sources)
            row = {
                'crm_type': 'lead',
                'company': self.company.id,
                'currency': self.company.currency.id,
                'description': self.text(rng.choice(LEAD_TITLES)),
                'lead_status': status.id,
                'source': source.id,
                'contact_name': f"{first} {last}",
                'contact_company_name': f"ООО «{company_name}»",
                'contact_phone': self.phone(mobile=rng.random() < 0.7),
                'contact_email': f"{translit(first)}@{domain}",
                'employee': (rng.choice(self.employees).id
                    if rng.random() < 0.9 else None),
                'start_date': self.date_back(60),
                'amount': Decimal(rng.choice([0, 50000, 120000, 300000])),
                }
            if rng.random() < 0.6:
                row.update({
                        'utm_source': rng.choice(UTM_SOURCES),
                        'utm_medium': rng.choice(UTM_MEDIUMS),
                        'utm_campaign': rng.choice(UTM_CAMPAIGNS),
                        'utm_content': f"ad{rng.randint(1, 9)}",
                        'utm_term': rng.choice(['crm', 'crm система',
                                'учёт клиентов', None]),
                        })
            if code == 'JUNK':
                row['lost_reason'] = self.text(
                    ("Spam or duplicate", "Спам или дубль"))
            values.append(row)
        return Opportunity.create(values)

    def create_deals(self, leads):
        rng = self.rng
        pool = self.pool
        Opportunity = pool.get('sale.opportunity')
        converted = [l for l in leads if l.lead_status.code == 'CONVERTED']
        standard_stages = list(self.standard.stages)
        partner_stages = list(self.partners.stages)
        plan = []
        for stage in standard_stages:
            count = {'in_progress': 3, 'won': 4, 'lost': 3}[stage.kind]
            plan += [(self.standard, stage)] * count
        for stage in partner_stages:
            count = {'in_progress': 2, 'won': 3, 'lost': 2}[stage.kind]
            plan += [(self.partners, stage)] * count
        values = []
        for i, (pipeline, stage) in enumerate(plan):
            client = rng.choice(self.companies)
            contacts = [c for c in self.contacts if c.employer == client]
            titles = PARTNER_TITLES if pipeline == self.partners else (
                DEAL_TITLES)
            lines = []
            amount = Decimal(rng.randrange(30000, 1500000, 5000))
            if pipeline == self.standard and rng.random() < 0.6:
                amount = Decimal(0)
                for product in rng.sample(self.products, rng.randint(1, 3)):
                    quantity = rng.randint(1, 20)
                    lines.append({
                            'product': product.id,
                            'quantity': quantity,
                            'unit': product.sale_uom.id,
                            })
                    amount += self.prices[product.id] * quantity
            row = {
                'crm_type': 'deal',
                'company': self.company.id,
                'currency': self.company.currency.id,
                'description': (self.text(rng.choice(titles))
                    + f" — {client.name}"),
                'party': client.id,
                'contact_party': rng.choice(contacts).id if contacts else None,
                'pipeline': pipeline.id,
                'stage': stage.id,
                'conversion_probability': stage.probability,
                'employee': rng.choice(self.employees).id,
                'source': rng.choice(self.sources).id,
                'amount': amount,
                'start_date': self.date_back(90),
                'lines': [('create', lines)] if lines else [],
                }
            if stage.kind == 'lost':
                row['lost_reason'] = self.text(rng.choice(LOST_REASONS))
            if i < len(converted):
                lead = converted[i]
                row['origin_lead'] = lead.id
                row['source'] = lead.source.id
                for name in ['utm_source', 'utm_medium', 'utm_campaign']:
                    row[name] = getattr(lead, name)
            values.append(row)
        return Opportunity.create(values)

    def create_activities(self, leads, deals):
        rng = self.rng
        Activity = self.pool.get('crm.activity')
        open_leads = [l for l in leads if l.lead_status.kind == 'open']
        open_deals = [d for d in deals if d.stage_kind == 'in_progress']
        closed = [d for d in deals if d.stage_kind != 'in_progress']
        end_of_day = datetime.datetime.combine(
            self.today, datetime.time(23, 59))
        plan = (['done'] * 34 + ['overdue'] * 14 + ['today'] * 8
            + ['planned'] * 20 + ['none'] * 4)
        values = []
        for kind in plan:
            if kind == 'done':
                record = rng.choice(closed + open_deals + leads)
            else:
                record = rng.choice(open_deals + open_leads)
            type_ = rng.choice(['call', 'call', 'meeting', 'task', 'email'])
            if kind in {'done', 'overdue'}:
                deadline = self.now - datetime.timedelta(
                    days=rng.randint(1, 20), hours=rng.randint(0, 8))
            elif kind == 'today':
                minutes = (end_of_day - self.now).total_seconds() // 60
                deadline = (self.now + datetime.timedelta(
                        minutes=rng.randint(1, max(int(minutes), 1)))
                    if minutes > 1 else end_of_day)
                deadline = min(deadline, end_of_day)
            elif kind == 'planned':
                deadline = datetime.datetime.combine(
                    self.today + datetime.timedelta(days=rng.randint(1, 14)),
                    datetime.time(rng.randint(7, 15), rng.choice([0, 30])))
            else:
                deadline = None
            responsible = (self.admin_employee if kind == 'today'
                else (record.employee or rng.choice(self.employees)))
            party = getattr(record, 'contact_party', None) or record.party
            row = {
                'company': self.company.id,
                'type': type_,
                'subject': self.text(rng.choice(ACTIVITY_SUBJECTS[type_])),
                'deadline': deadline,
                'responsible': responsible.id if responsible else None,
                'opportunity': record.id,
                'party': party.id if party else None,
                'done': kind == 'done',
                }
            if type_ in {'call', 'email'}:
                row['direction'] = rng.choice(['incoming', 'outgoing'])
            if type_ == 'meeting' and deadline:
                row['end'] = deadline + datetime.timedelta(hours=1)
            values.append(row)
        return Activity.create(values)


def load_demo(company):
    "Create the demo data of company; return nothing"
    _Demo(company).load()
