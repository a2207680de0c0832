"""The production layout in small, on this machine: several trytond web
workers behind a round-robin reverse proxy, one trytond-cron and one
trytond-worker, all on one PostgreSQL (deploy/README.md).

Used by tests/test_scale.py and bench/workers.py. Each web worker is a
`trytond` process with its own port (its configuration is a copy of the
tenant's with another [web] listen); the proxy is a small threaded HTTP
forwarder on the loopback interface standing in for nginx or HAProxy.
"""
import base64
import http.client
import http.server
import itertools
import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from tenant_server import BIN, free_port

TRYTOND = str(BIN / 'trytond')
TRYTOND_CRON = str(BIN / 'trytond-cron')
TRYTOND_WORKER = str(BIN / 'trytond-worker')
# Shared by every process of the cluster: tasks go to the queue, cache
# and pool changes travel by LISTEN/NOTIFY (PostgreSQL).
CLUSTER_CONFIG = """
    [queue]
    worker = True

    [cache]
    clean_timeout = 0
    """
HOP_HEADERS = {'connection', 'keep-alive', 'transfer-encoding', 'te',
    'trailer', 'upgrade', 'proxy-authorization', 'proxy-authenticate'}


class _Proxy(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, address, ports):
        super().__init__(address, _ProxyHandler)
        self.ports = list(ports)
        self._cycle = itertools.cycle(self.ports)
        self._lock = threading.Lock()
        self.counts = {p: 0 for p in self.ports}

    def next_port(self):
        with self._lock:
            port = next(self._cycle)
            self.counts[port] += 1
            return port


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.0'

    def log_message(self, format, *args):
        pass

    def _forward(self):
        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items()
            if k.lower() not in HOP_HEADERS}
        headers['X-Forwarded-For'] = self.client_address[0]
        port = self.server.next_port()
        connection = http.client.HTTPConnection('127.0.0.1', port,
            timeout=300)
        try:
            connection.request(self.command, self.path, body, headers)
            response = connection.getresponse()
            data = response.read()
        except OSError:
            self.send_error(502)
            return
        finally:
            connection.close()
        self.send_response(response.status, response.reason)
        for key, value in response.getheaders():
            if key.lower() not in HOP_HEADERS | {'content-length'}:
                self.send_header(key, value)
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward


def start_proxy(ports):
    "Start a round-robin proxy over ports; return it and its base URL"
    proxy = _Proxy(('127.0.0.1', 0), ports)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    return proxy, f'http://127.0.0.1:{proxy.server_address[1]}'


class Cluster:
    """Web workers, a proxy, a cron and a queue worker for databases.

    env is the tenant environment of tenant_server.tenant_env (its
    configuration must include CLUSTER_CONFIG)."""

    def __init__(self, env, databases, web_workers=2, cron=True,
            queue=True):
        self.env = env
        self.databases = list(databases)
        self.web_workers = web_workers
        self.with_cron = cron
        self.with_queue = queue
        self.processes = {}
        self.proxy = None
        self.base = None

    def _config_for(self, port):
        source = Path(self.env['TRYTOND_CONFIG'])
        # Behind one reverse proxy, as deploy/trytond.conf: the client's
        # address is the one the proxy puts in X-Forwarded-For.
        text = re.sub(r'(?m)^listen = .*$',
            f'listen = 127.0.0.1:{port}\nnum_proxies = 1',
            source.read_text())
        path = source.with_name(f'trytond-{port}.conf')
        path.write_text(text)
        return str(path)

    def _spawn(self, key, args):
        log = open(Path(self.env['TRYTOND_CONFIG']).with_name(
                f'{key}.log'), 'a')
        # A session of its own: stopping it stops its pool's children.
        process = subprocess.Popen(args, env=self.env,
            stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
        log.close()
        self.processes[key] = process
        return process

    def log(self, key):
        path = Path(self.env['TRYTOND_CONFIG']).with_name(f'{key}.log')
        return path.read_text()[-4000:] if path.exists() else ''

    def start(self):
        ports = []
        for i in range(self.web_workers):
            port = free_port()
            process = self._spawn(f'web{i}', [TRYTOND, '-c',
                    self._config_for(port), '-d', *self.databases])
            ports.append((port, process))
        for i, (port, process) in enumerate(ports):
            _wait(f'http://127.0.0.1:{port}/', process,
                lambda: self.log(f'web{i}'))
        self.proxy, self.base = start_proxy([p for p, _ in ports])
        if self.with_cron:
            self.start_cron()
        if self.with_queue:
            self.start_queue_worker()
        return self

    def start_cron(self):
        return self._spawn('cron', [TRYTOND_CRON, '-c',
                self.env['TRYTOND_CONFIG'], '-n', '1', '-d',
                *self.databases])

    def start_queue_worker(self):
        return self._spawn('queue', [TRYTOND_WORKER, '-c',
                self.env['TRYTOND_CONFIG'], '-n', '1', '-d',
                *self.databases])

    def kill(self, key):
        "Kill a process and its children as a crash would (SIGKILL)"
        process = self.processes.pop(key)
        _signal_group(process, signal.SIGKILL)
        process.wait()

    def stop(self):
        for process in self.processes.values():
            _signal_group(process, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait()
        self.processes.clear()
        if self.proxy:
            stop_proxy(self.proxy)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()


def stop_proxy(proxy):
    proxy.shutdown()
    proxy.server_close()


def _wait(url, process, log, timeout=180):
    "Poll url until the process answers (any HTTP status) or dies"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"trytond exited: {log()}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"trytond did not start: {log()}")


def _signal_group(process, signum):
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass


# -- clients --

def post_json(url, data, headers=None, timeout=300, source=None):
    """Return (status, decoded JSON body or text).

    source: the client's own address, one of loopback's 127.x.y.z (so
    many visitors come from as many addresses through the proxy)."""
    if source:
        return _post_from(source, url, data, headers, timeout)
    request = urllib.request.Request(url, data=json.dumps(data).encode(),
        headers={'Content-Type': 'application/json', **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        body = error.read()
        try:
            return error.code, json.loads(body)
        except ValueError:
            return error.code, body.decode('utf-8', 'replace')


def _post_from(source, url, data, headers, timeout):
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port,
        timeout=timeout, source_address=(source, 0))
    try:
        connection.request('POST', parts.path, json.dumps(data).encode(),
            {'Content-Type': 'application/json', **(headers or {})})
        response = connection.getresponse()
        status, body = response.status, response.read()
    finally:
        connection.close()
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body.decode('utf-8', 'replace')


class RpcSession:
    "A JSON-RPC session of a Tryton user (what the web client speaks)"

    def __init__(self, base, database, login, password):
        self.url = f'{base}/{database}/rpc/'
        status, body = post_json(self.url, {'id': 0,
                'method': 'common.db.login',
                'params': [login, {'password': password}, 'en']})
        assert status == 200 and 'result' in body, body
        user_id, session = body['result'][:2]
        token = base64.b64encode(
            f'{login}:{user_id}:{session}'.encode()).decode()
        self.headers = {'Authorization': f'Session {token}'}
        self.user_id = user_id

    def call(self, method, *params, context=None):
        "Return (status, body) of model method params"
        return post_json(self.url, {'id': 1, 'method': method,
                'params': [*params, context or {}]}, self.headers)
