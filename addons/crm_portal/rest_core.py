# Core REST methods: methods, scope, user.current, profile, server.time,
# batch.
import datetime
import re
import time
from urllib.parse import parse_qsl

from trytond import backend
from trytond.i18n import gettext
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction, without_check_access

from .rest import BATCH_MAX, RestError, RestMethod
from .rest_params import ParamsError, parse_php_params

__all__ = ['Rest', 'time_block', 'savepoint']

_REFERENCE_RE = re.compile(r'\$result\[([^\[\]]+)\]((?:\[[^\[\]]*\])*)')


def _iso(timestamp):
    return datetime.datetime.fromtimestamp(timestamp).astimezone().isoformat(
        timespec='seconds')


def time_block(start, finish, processing=None):
    "The `time` block of a Bitrix24 answer (timestamps in seconds)"
    duration = finish - start
    if processing is None:
        processing = duration
    return {
        'start': start,
        'finish': finish,
        'duration': duration,
        'processing': processing,
        'date_start': _iso(start),
        'date_finish': _iso(finish),
        'operating': processing,
        'operating_reset_at': int(finish) + 600,
        }


class savepoint:
    """Run a block in a database savepoint: an exception rolls back only
    what the block wrote, and the transaction's record caches with it."""

    _counter = 0

    def __enter__(self):
        transaction = Transaction()
        savepoint._counter += 1
        self.name = f'crm_rest_{savepoint._counter}'
        self.state = {
            'create': {k: list(v)
                for k, v in transaction.create_records.items()},
            'delete': {k: set(v)
                for k, v in transaction.delete_records.items()},
            'trigger': {k: set(v)
                for k, v in transaction.trigger_records.items()},
            'log': len(transaction.log_records),
            'tasks': len(transaction.tasks),
            'notifications': len(transaction.user_notifications),
            }
        connection = transaction.connection
        cursor = connection.cursor()
        if (backend.name == 'sqlite'
                and not getattr(connection, 'in_transaction', True)):
            # A SAVEPOINT outside a transaction would start one that its
            # RELEASE commits: open the transaction first.
            cursor.execute('BEGIN IMMEDIATE')
        cursor.execute(f'SAVEPOINT {self.name}')
        return self

    def __exit__(self, type, value, traceback):
        transaction = Transaction()
        cursor = transaction.connection.cursor()
        if type is None:
            cursor.execute(f'RELEASE SAVEPOINT {self.name}')
            return False
        cursor.execute(f'ROLLBACK TO SAVEPOINT {self.name}')
        cursor.execute(f'RELEASE SAVEPOINT {self.name}')
        transaction.create_records.clear()
        transaction.create_records.update(self.state['create'])
        transaction.delete_records.clear()
        transaction.delete_records.update(self.state['delete'])
        transaction.trigger_records.clear()
        transaction.trigger_records.update(self.state['trigger'])
        del transaction.log_records[self.state['log']:]
        del transaction.tasks[self.state['tasks']:]
        del transaction.user_notifications[self.state['notifications']:]
        for cache in transaction.cache.values():
            cache.clear()
        transaction.counter += 1
        return False


def _lookup(results, name, path):
    "Resolve $result[name][a][b] among the earlier results"
    if name not in results:
        raise KeyError(name)
    value = results[name]
    for key in re.findall(r'\[([^\[\]]*)\]', path):
        if isinstance(value, list):
            try:
                value = value[int(key)]
            except (ValueError, IndexError):
                raise KeyError(key)
        elif isinstance(value, dict):
            if key in value:
                value = value[key]
            elif key.isdigit() and int(key) in value:
                value = value[int(key)]
            else:
                raise KeyError(key)
        else:
            raise KeyError(key)
    return value


def _scalar(value):
    if value is None:
        return ''
    if value is True:
        return '1'
    if value is False:
        return ''
    return str(value)


def _flatten(key, value):
    "PHP form pairs for a nested value under key"
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _flatten(f'{key}[{k}]', v)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _flatten(f'{key}[{i}]', v)
    else:
        yield key, _scalar(value)


def substitute(pairs, results):
    """Replace $result[...] references in the values of pairs

    A value that is only a reference to a list or dict is expanded into
    PHP form fields (so `ID=$result[list]` passes the list)."""
    substituted = []
    for key, value in pairs:
        match = _REFERENCE_RE.fullmatch(value)
        if match:
            resolved = _lookup(results, match.group(1), match.group(2))
            substituted.extend(_flatten(key, resolved))
            continue
        substituted.append((key, _REFERENCE_RE.sub(
                    lambda m: _scalar(_lookup(results, m.group(1),
                            m.group(2))), value)))
    return substituted


class Rest(metaclass=PoolMeta):
    __name__ = 'crm.rest'

    @classmethod
    def methods(cls):
        methods = super().methods()
        for method in [
                RestMethod('methods', cls.rest_methods, None,
                    "Names of the methods the token may call",
                    {'scope': "only the methods of this scope",
                        'full': "1 to list every method of the tenant"},
                    readonly=True),
                RestMethod('scope', cls.rest_scope, None,
                    "Scopes of the token",
                    {'full': "1 to list every scope"}, readonly=True),
                RestMethod('user.current', cls.rest_user_current, 'user',
                    "The user of the token", readonly=True),
                RestMethod('profile', cls.rest_profile, None,
                    "Basic profile of the user of the token",
                    readonly=True),
                RestMethod('server.time', cls.rest_server_time, None,
                    "Current time of the server, ISO 8601", readonly=True),
                RestMethod('batch', cls.rest_batch, None,
                    "Run up to 50 commands in one request",
                    {'cmd': "dict (or list) of 'method?query' strings; "
                        "$result[name][FIELD] refers to earlier results",
                        'halt': "1 to stop at the first error"}),
                ]:
            methods[method.name] = method
        return methods

    @classmethod
    def rest_methods(cls, params):
        full = str(params.get('full', '')).lower() in {'1', 'true', 'y'}
        scope = params.get('scope')
        names = []
        for method in cls.methods().values():
            if scope and method.scope != scope:
                continue
            if not full and not cls.allowed(method):
                continue
            names.append(method.name)
        return sorted(names)

    @classmethod
    def rest_scope(cls, params):
        pool = Pool()
        Token = pool.get('crm.webhook.token')
        full = str(params.get('full', '')).lower() in {'1', 'true', 'y'}
        every = [s for s, _ in Token.scopes.selection]
        scopes = cls.token_scopes()
        if full or scopes is None:
            return every
        return [s for s in every if s in scopes]

    @classmethod
    def _rest_user(cls):
        pool = Pool()
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        with without_check_access():
            user = User(Transaction().user)
            admin_groups = {
                ModelData.get_id('res', 'group_admin'),
                ModelData.get_id('crm_portal', 'group_crm_admin'),
                }
            name = (user.name or '').strip()
            first, _, last = name.partition(' ')
            return {
                'ID': str(user.id),
                'ACTIVE': bool(user.active),
                'NAME': first,
                'LAST_NAME': last.strip(),
                'SECOND_NAME': '',
                'EMAIL': user.email or '',
                'LOGIN': user.login,
                'ADMIN': bool(admin_groups & {g.id for g in user.groups}),
                'LANGUAGE_ID': user.language.code if user.language else '',
                'TIME_ZONE': (user.company.timezone
                    if user.company and user.company.timezone else ''),
                'TIME_ZONE_OFFSET': int(
                    datetime.datetime.now().astimezone().utcoffset()
                    .total_seconds()),
                'WORK_POSITION': '',
                }

    @classmethod
    def rest_user_current(cls, params):
        info = cls._rest_user()
        info.pop('ADMIN')
        return info

    @classmethod
    def rest_profile(cls, params):
        info = cls._rest_user()
        return {k: info[k] for k in ['ID', 'ADMIN', 'NAME', 'LAST_NAME',
                'EMAIL', 'TIME_ZONE', 'TIME_ZONE_OFFSET']}

    @classmethod
    def rest_server_time(cls, params):
        return datetime.datetime.now().astimezone().isoformat(
            timespec='seconds')

    @classmethod
    def _batch_commands(cls, params):
        commands = params.get('cmd')
        if isinstance(commands, list):
            commands = {str(i): c for i, c in enumerate(commands)}
            as_list = True
        elif isinstance(commands, dict):
            commands = {str(k): c for k, c in commands.items()}
            as_list = all(k.isdigit() for k in commands) and list(
                commands) == [str(i) for i in range(len(commands))]
        else:
            raise RestError('INVALID_ARG_VALUE', gettext(
                    'crm_portal.msg_rest_batch_cmd_required'))
        if not commands:
            raise RestError('INVALID_ARG_VALUE', gettext(
                    'crm_portal.msg_rest_batch_cmd_required'))
        if len(commands) > BATCH_MAX:
            raise RestError('INVALID_ARG_VALUE', gettext(
                    'crm_portal.msg_rest_batch_too_many',
                    count=len(commands), maximum=BATCH_MAX))
        for name, command in commands.items():
            if not isinstance(command, str) or not command.strip():
                raise RestError('INVALID_ARG_VALUE', gettext(
                        'crm_portal.msg_rest_batch_cmd_invalid',
                        name=name))
        return commands, as_list

    @classmethod
    def rest_batch(cls, params):
        commands, as_list = cls._batch_commands(params)
        halt = str(params.get('halt', '0')).lower() in {'1', 'true', 'y'}
        results, errors, totals, nexts, times = {}, {}, {}, {}, {}
        for name, command in commands.items():
            start = time.time()
            method_name, _, query = command.strip().partition('?')
            try:
                if method_name.strip().lower() == 'batch':
                    raise RestError('ERROR_BATCH_METHOD_NOT_ALLOWED', gettext(
                            'crm_portal.msg_rest_batch_nested'))
                try:
                    pairs = substitute(
                        parse_qsl(query, keep_blank_values=True), results)
                except KeyError as exception:
                    raise RestError('ERROR_BATCH_REFERENCE', gettext(
                            'crm_portal.msg_rest_batch_reference',
                            name=name, reference=str(exception.args[0])))
                try:
                    command_params = parse_php_params(pairs)
                except ParamsError as exception:
                    raise RestError('INVALID_REQUEST', str(exception))
                with savepoint():
                    result, extra = cls.call(method_name, command_params)
            except RestError as exception:
                errors[name] = exception.as_dict()
                times[name] = time_block(start, time.time())
                if halt:
                    break
                continue
            results[name] = result
            if 'total' in extra:
                totals[name] = extra['total']
            if 'next' in extra:
                nexts[name] = extra['next']
            times[name] = time_block(start, time.time())

        def shape(values):
            # As PHP's json_encode: a list when keyed 0..n-1 (or empty).
            if not values:
                return []
            if as_list and list(values) == [
                    str(i) for i in range(len(values))]:
                return list(values.values())
            return values
        return {
            'result': shape(results),
            'result_error': shape(errors),
            'result_total': shape(totals),
            'result_next': shape(nexts),
            'result_time': shape(times),
            }

