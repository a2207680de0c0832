"""A tenant made with the `crm` command and a real trytond serving it.

Shared by the cross-process tests (REST over HTTP, the web client).
SQLite in a temporary folder by default; with TRYTOND_DATABASE__URI set to
postgresql://... the tenant gets a unique name and is dropped at the end.
"""
import contextlib
import fcntl
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

BIN = Path(sys.executable).parent
CRM = str(BIN / 'crm')
TRYTOND = str(BIN / 'trytond')
ROOT = Path(__file__).resolve().parent.parent
POSTGRESQL = os.environ.get(
    'TRYTOND_DATABASE__URI', '').startswith('postgresql')


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def run_crm(env, *args):
    "Run the crm command; return its output, failing on an error"
    result = subprocess.run([CRM, *args], env=env, capture_output=True,
        text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def create_tenant(env, name, *args):
    """`crm tenant create name *args` for a test that needs a tenant, not
    the command itself: under `make test` (DB_CACHE set) the first tenant
    made with these arguments is saved and the next ones are copies with
    their own admin password (seconds instead of half a minute each)."""
    cache = os.environ.get('TEST_CACHE_DIR') or os.environ.get('DB_CACHE')
    if not cache:
        return run_crm(env, 'tenant', 'create', name, *args)
    folder = Path(cache, 'tenants')
    folder.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha1(repr((args, POSTGRESQL)).encode()).hexdigest()[:16]
    saved = folder / key
    with open(folder / f'.lock-{key}', 'w') as lock:
        # pytest workers wanting the same tenant: one makes it, the other
        # waits and copies it
        fcntl.flock(lock, fcntl.LOCK_EX)
        if saved.exists():
            _restore_tenant(env, name, saved)
            _set_admin_password(env, name)
            return f"tenant {name} copied"
        output = run_crm(env, 'tenant', 'create', name, *args)
        _save_tenant(env, name, saved)
        return output


def _pg_url(env, name):
    return env['TRYTOND_DATABASE__URI'].rstrip('/') + '/' + name


def _sqlite_file(env, name):
    return Path(env['TRYTOND_DATABASE__PATH'], name + '.sqlite')


def _template(saved):
    "The database a tenant is saved as on PostgreSQL (see conftest.py)"
    return os.environ.get('TEST_TEMPLATE_PREFIX', 'tc-') + saved.name


def _copy_database(env, name, template):
    # a copy of a template database: no connection to it may be open
    subprocess.run(['psql', '-q', '-d', _pg_url(env, 'postgres'), '-c',
            f'CREATE DATABASE "{name}" TEMPLATE "{template}"'],
        check=True, timeout=120)


def _save_tenant(env, name, saved):
    partial = saved.with_suffix('.partial')
    if POSTGRESQL:
        _copy_database(env, _template(saved), name)
        partial.write_text(_template(saved))
    else:
        shutil.copyfile(_sqlite_file(env, name), partial)
    partial.rename(saved)


def _restore_tenant(env, name, saved):
    if POSTGRESQL:
        _copy_database(env, name, _template(saved))
    else:
        _sqlite_file(env, name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(saved, _sqlite_file(env, name))


def _set_admin_password(env, name):
    from trytond.res.user import PASSWORD_HASH
    hash_ = PASSWORD_HASH.hash(env['TRYTOND_ADMIN_PASSWORD'])
    if POSTGRESQL:
        # psql quotes :'hash' itself, but only in what it reads
        subprocess.run(['psql', '-q', '-v', f'hash={hash_}', '-d',
                _pg_url(env, name)], input="UPDATE res_user SET "
            "password_hash = :'hash' WHERE login = 'admin';",
            text=True, check=True, timeout=60)
    else:
        import sqlite3
        with contextlib.closing(sqlite3.connect(
                    _sqlite_file(env, name))) as connection, connection:
            connection.execute('UPDATE res_user SET password_hash = ? '
                "WHERE login = 'admin'", (hash_,))


def wait_for(url, process, timeout=120):
    "Poll until the server answers (or died)"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"trytond exited: {process.stderr.read()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("trytond did not start")


def tenant_name(base):
    return f'{base}_{uuid.uuid4().hex[:8]}' if POSTGRESQL else base


def drop_tenant(env, name):
    if POSTGRESQL:
        subprocess.run([sys.executable, '-c',
                'import sys\n'
                'from trytond.modules.crm_portal.cli import (\n'
                '    configure, database_state, drop_database)\n'
                'configure()\n'
                'if database_state(sys.argv[1]):\n'
                '    drop_database(sys.argv[1])\n', name],
            env=env, timeout=120)


@contextlib.contextmanager
def tenant_env(tmp, extra_config='', password='crm-test-pass'):
    "Yield (env, port) for a private configuration in folder tmp"
    path = tmp / 'db'
    path.mkdir(exist_ok=True)
    port = free_port()
    config = tmp / 'trytond.conf'
    uri = os.environ.get('TRYTOND_DATABASE__URI') or 'sqlite://'
    config.write_text(textwrap.dedent(f'''\
        [database]
        uri = {uri}
        path = {path}
        language = en

        [web]
        listen = 127.0.0.1:{port}
        root = {ROOT / 'sao'}

        [password]
        length = 8
        ''') + textwrap.dedent(extra_config))
    env = dict(os.environ, TRYTOND_CONFIG=str(config),
        TRYTOND_DATABASE__PATH=str(path), TRYTOND_ADMIN_PASSWORD=password)
    env.pop('TRYTONPASSFILE', None)
    yield env, port


@contextlib.contextmanager
def serve(env, port, name, ready_path=None):
    "Run trytond for tenant name until the block ends; yield its base URL"
    process = subprocess.Popen(
        [TRYTOND, '-c', env['TRYTOND_CONFIG'], '-d', name], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f'http://127.0.0.1:{port}'
    try:
        wait_for(base + (ready_path or '/'), process)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
