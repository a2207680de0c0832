# The exchange log: one session per dialog with 1C, its files and what
# happened to every item that was skipped or failed.
import datetime
import hashlib
import hmac
import secrets

from sql import Literal

from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction

from . import storage

SESSION_LIFETIME = datetime.timedelta(hours=12)
COUNTERS = ['created', 'updated', 'skipped', 'failed']


def token_hash(token):
    return hashlib.sha256(token.encode('utf-8')).hexdigest()


class Session(ModelSQL, ModelView):
    __string__ = "1C Exchange Session"
    __name__ = 'crm.exchange_1c.session'

    company = fields.Many2One(
        'company.company', "Company", required=True, readonly=True,
        ondelete='CASCADE')
    user = fields.Many2One('res.user', "User", readonly=True,
        ondelete='SET NULL')
    direction = fields.Selection([
            ('in', "Started by 1C"),
            ('out', "Scheduled"),
            ], "Direction", readonly=True)
    exchange_type = fields.Selection([
            ('catalog', "Catalog"),
            ('sale', "Orders"),
            ], "Type", readonly=True)
    state = fields.Selection([
            ('open', "Open"),
            ('done', "Done"),
            ('failed', "Failed"),
            ], "State", readonly=True)
    token_hash = fields.Char("Token Hash", readonly=True, strip=False)
    version = fields.Char("Protocol Version", readonly=True)
    last_request = fields.Timestamp("Last Request", readonly=True)
    duration = fields.Function(fields.TimeDelta("Duration"), 'get_duration')
    created = fields.Integer("Created", readonly=True)
    updated = fields.Integer("Updated", readonly=True)
    skipped = fields.Integer("Skipped", readonly=True)
    failed = fields.Integer("Failed", readonly=True)
    requests = fields.Text("Requests", readonly=True)
    files = fields.One2Many(
        'crm.exchange_1c.file', 'session', "Files", readonly=True)
    messages = fields.One2Many(
        'crm.exchange_1c.message', 'session', "Messages", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('company')
        cls._order = [('id', 'DESC')]

    @classmethod
    def default_state(cls):
        return 'open'

    @classmethod
    def default_direction(cls):
        return 'in'

    @classmethod
    def default_created(cls):
        return 0

    default_updated = default_skipped = default_failed = default_created

    def get_rec_name(self, name):
        return '%s %s' % (self.exchange_type or '',
            self.create_date.replace(microsecond=0)
            if self.create_date else '')

    def get_duration(self, name):
        if self.create_date and self.last_request:
            return self.last_request - self.create_date

    @classmethod
    def open(cls, user, company, exchange_type, version=None):
        "Start a session; return it with its secret token"
        token = secrets.token_urlsafe(32)
        session, = cls.create([{
                    'company': company,
                    'user': user,
                    'exchange_type': exchange_type,
                    'token_hash': token_hash(token),
                    'version': version,
                    'last_request': datetime.datetime.now(),
                    }])
        return session, token

    @classmethod
    def find(cls, token):
        "The open session of token, or None"
        if not token:
            return None
        digest = token_hash(token)
        sessions = cls.search([
                ('token_hash', '=', digest),
                ('create_date', '>',
                    datetime.datetime.now() - SESSION_LIFETIME),
                ], limit=1)
        if sessions and hmac.compare_digest(sessions[0].token_hash, digest):
            return sessions[0]
        return None

    def log(self, line):
        "Note a request (or an answer) on the session"
        table = self.__table__()
        cursor = Transaction().connection.cursor()
        stamp = datetime.datetime.now()
        entry = '%s %s\n' % (stamp.strftime('%H:%M:%S'), line[:500])
        cursor.execute(*table.select(table.requests,
                where=table.id == self.id))
        current = cursor.fetchone()[0] or ''
        cursor.execute(*table.update(
                [table.requests, table.last_request],
                [current + entry, stamp],
                where=table.id == self.id))

    def count(self, **counters):
        table = self.__table__()
        cursor = Transaction().connection.cursor()
        columns, values = [], []
        for name, value in counters.items():
            if value:
                column = getattr(table, name)
                columns.append(column)
                values.append(column + Literal(value))
        if columns:
            cursor.execute(*table.update(columns, values,
                    where=table.id == self.id))
            # written in SQL (no read-modify-write): drop cached records
            Transaction().counter += 1

    def note(self, level, text, file=None, external_id=None):
        Message = Pool().get('crm.exchange_1c.message')
        Message.create([{
                    'session': self.id,
                    'file': getattr(file, 'id', file),
                    'level': level,
                    'external_id': (external_id or '')[:200] or None,
                    'text': text,
                    }])
        if level in COUNTERS:
            self.count(**{level: 1})

    @classmethod
    def fail(cls, sessions, reason):
        "Mark sessions failed and tell the responsible accountant"
        pool = Pool()
        Notification = pool.get('res.notification')
        Profile = pool.get('crm.exchange_1c.profile')
        cls.write(sessions, {'state': 'failed'})
        notifications = []
        for session in sessions:
            profile = Profile.get(session.company)
            if profile.responsible:
                notifications.append({
                        'user': profile.responsible.id,
                        'label': gettext('crm_1c_exchange.msg_notify_failed'),
                        'description': reason[:250],
                        'model': cls.__name__,
                        'records': str(session.id),
                        })
        if notifications:
            Notification.create(notifications)

    @classmethod
    def clean(cls):
        "Drop stored files older than each company's retention"
        pool = Pool()
        File = pool.get('crm.exchange_1c.file')
        Profile = pool.get('crm.exchange_1c.profile')
        now = datetime.datetime.now()
        for profile in Profile.search([]):
            files = File.search([
                    ('session.company', '=', profile.company.id),
                    ('create_date', '<',
                        now - datetime.timedelta(days=profile.keep_days)),
                    ('data_id', '!=', None),
                    ])
            File.discard(files)
        stale = cls.search([
                ('state', '=', 'open'),
                ('last_request', '<', now - SESSION_LIFETIME),
                ])
        if stale:
            cls.write(stale, {'state': 'done'})


class File(ModelSQL, ModelView):
    __string__ = "1C Exchange File"
    __name__ = 'crm.exchange_1c.file'

    session = fields.Many2One('crm.exchange_1c.session', "Session",
        required=True, ondelete='CASCADE', readonly=True)
    name = fields.Char("Name", readonly=True)
    archive = fields.Many2One('crm.exchange_1c.file', "Archive",
        readonly=True, ondelete='CASCADE')
    size = fields.Integer("Size", readonly=True)
    data = fields.Binary("Data", filename='name', file_id='data_id',
        readonly=True)
    data_id = fields.Char("Data ID", readonly=True)
    state = fields.Selection([
            ('receiving', "Receiving"),
            ('received', "Received"),
            ('importing', "Importing"),
            ('done', "Done"),
            ('failed', "Failed"),
            ], "State", readonly=True)
    kind = fields.Char("Kind", readonly=True)
    phase = fields.Char("Phase", readonly=True)
    position = fields.Integer("Position", readonly=True)
    partial = fields.Boolean("Changes Only", readonly=True)
    error = fields.Text("Error", readonly=True)
    # The queue task importing the file (ir.queue id; a plain integer: no
    # foreign key to lock against the worker holding the task's row) and
    # the token of the task that owns the file.
    task = fields.Integer("Queue Task", readonly=True)
    task_token = fields.Char("Task Token", readonly=True, strip=False)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('id', 'ASC')]

    @classmethod
    def run_import(cls, files, token, budget=None):
        "The queue task: import files batch by batch (see task.py)"
        from .task import run_import
        for file in files:
            run_import(file.id, token, budget)

    @classmethod
    def default_state(cls):
        return 'receiving'

    @classmethod
    def default_size(cls):
        return 0

    @classmethod
    def default_position(cls):
        return 0

    @classmethod
    def discard(cls, files):
        "Remove the stored data of files, keep the log entries"
        for file in files:
            if file.data_id:
                storage.delete(file.data_id)
        cls.write(files, {'data_id': None})

    @classmethod
    def delete(cls, files):
        for file in files:
            if file.data_id:
                Transaction().atexit(storage.delete, file.data_id)
        super().delete(files)


class Message(ModelSQL, ModelView):
    __string__ = "1C Exchange Message"
    __name__ = 'crm.exchange_1c.message'

    session = fields.Many2One('crm.exchange_1c.session', "Session",
        required=True, ondelete='CASCADE', readonly=True)
    file = fields.Many2One('crm.exchange_1c.file', "File",
        ondelete='CASCADE', readonly=True)
    level = fields.Selection([
            ('skipped', "Skipped"),
            ('failed', "Failed"),
            ('info', "Information"),
            ], "Level", readonly=True)
    external_id = fields.Char("1C Id", readonly=True)
    text = fields.Text("Text", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('id', 'ASC')]


class Seen(ModelSQL):
    __string__ = "1C Exchange Seen Item"
    __name__ = 'crm.exchange_1c.seen'

    file = fields.Many2One('crm.exchange_1c.file', "File", required=True,
        ondelete='CASCADE')
    external_id = fields.Char("1C Id", required=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        table = cls.__table__()
        cls._sql_indexes.add(Index(table,
                (table.file, Index.Equality()),
                (table.external_id, Index.Equality())))

    @classmethod
    def add(cls, file_id, external_ids):
        "Remember external_ids as present in a full package (bulk insert)"
        if not external_ids:
            return
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        now = datetime.datetime.now()
        user = Transaction().user
        cursor.execute(*table.insert(
                [table.file, table.external_id, table.create_uid,
                    table.create_date],
                [[file_id, e, user, now] for e in external_ids]))


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.extend([
                ('crm.exchange_1c.session|clean',
                    "Clean 1C Exchange Files"),
                ('crm.exchange_1c.profile|run_scheduled',
                    "Run Scheduled 1C Exchange"),
                ])
