"""Scripted protocol peers on loopback for the open lines tests: the part
of the Telegram Bot API we call (JSON over HTTP) and an SMTP server
speaking the real protocol (RFC 5321), each in a thread of the test."""
import email
import email.policy
import json
import queue
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _BotHandler(BaseHTTPRequestHandler):
    peer = None

    def do_POST(self):
        length = int(self.headers.get('Content-Length') or 0)
        try:
            body = json.loads(self.rfile.read(length) or b'{}')
        except ValueError:
            body = None
        status, answer = self.peer.answer(self.path, body)
        self._send(status, json.dumps(answer).encode(), 'application/json')

    def do_GET(self):
        data = self.peer.download(self.path)
        if data is None:
            self._send(404, b'{"ok":false}', 'application/json')
        else:
            self._send(200, data, 'application/octet-stream')

    def _send(self, status, data, content_type):
        self.send_response(status)
        self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class _Peer:
    "A server of the test in a thread of its own"
    server = None

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever,
            daemon=True).start()
        return self

    def __exit__(self, *args):
        self.server.shutdown()
        self.server.server_close()


class BotAPI(_Peer):
    """POST /bot<token>/<method> answered as the Bot API does:
    sendMessage, answerCallbackQuery, getFile; GET /file/bot<token>/<path>
    downloads a file put with add_file(). fail(n) makes the next n
    sendMessage calls answer 502 Bad Gateway. calls: (method, body) of
    every accepted call."""

    def __init__(self, token):
        self.token = token
        self.calls = queue.Queue()
        self.files = {}
        self.failures = 0
        self.refused = 0
        self._lock = threading.Lock()
        handler = type('Handler', (_BotHandler,), {'peer': self})
        self.server = ThreadingHTTPServer(('127.0.0.1', 0), handler)
        self.url = 'http://127.0.0.1:%s' % self.server.server_address[1]

    def fail(self, count):
        with self._lock:
            self.failures = count

    def add_file(self, file_id, path, data):
        self.files[file_id] = (path, data)

    def answer(self, path, body):
        prefix = '/bot%s/' % self.token
        if not path.startswith(prefix):
            return 401, {'ok': False, 'error_code': 401,
                'description': 'Unauthorized'}
        method = path[len(prefix):]
        if not isinstance(body, dict):
            return 400, {'ok': False, 'error_code': 400,
                'description': 'Bad Request: invalid JSON'}
        if method == 'sendMessage' and 'chat_id' in body:
            with self._lock:
                if self.failures:
                    self.failures -= 1
                    self.refused += 1
                    return 502, {'ok': False, 'error_code': 502,
                        'description': 'Bad Gateway'}
            self.calls.put((method, body))
            return 200, {'ok': True, 'result': {
                    'message_id': self.calls.qsize(), 'date': 1700000000,
                    'chat': {'id': body['chat_id'], 'type': 'private'},
                    'text': body.get('text')}}
        if method == 'answerCallbackQuery' and 'callback_query_id' in body:
            self.calls.put((method, body))
            return 200, {'ok': True, 'result': True}
        if method == 'getFile' and body.get('file_id') in self.files:
            path, data = self.files[body['file_id']]
            return 200, {'ok': True, 'result': {
                    'file_id': body['file_id'], 'file_size': len(data),
                    'file_path': path}}
        return 400, {'ok': False, 'error_code': 400,
            'description': 'Bad Request: %s' % method}

    def download(self, path):
        prefix = '/file/bot%s/' % self.token
        if not path.startswith(prefix):
            return None
        for file_path, data in self.files.values():
            if path[len(prefix):] == file_path:
                return data
        return None


class _SMTPHandler(socketserver.StreamRequestHandler):
    peer = None

    def reply(self, line):
        self.wfile.write((line + '\r\n').encode('ascii'))

    def handle(self):
        self.reply('220 peer.test ESMTP')
        sender, recipients = None, []
        while True:
            line = self.rfile.readline(1000)
            if not line:
                return
            command = line.decode('ascii', 'replace').strip()
            verb = command[:4].upper()
            if verb in {'EHLO', 'HELO'}:
                self.reply('250 peer.test')
            elif verb == 'MAIL':
                sender, recipients = command[10:].strip(' <>'), []
                self.reply('250 OK')
            elif verb == 'RCPT':
                recipients.append(command[8:].strip(' <>'))
                self.reply('250 OK')
            elif verb == 'DATA':
                self.reply('354 End data with <CR><LF>.<CR><LF>')
                lines = []
                while True:
                    data = self.rfile.readline()
                    if data in {b'.\r\n', b'.\n', b''}:
                        break
                    if data.startswith(b'..'):
                        data = data[1:]
                    lines.append(data)
                self.peer.messages.put((sender, recipients,
                        email.message_from_bytes(b''.join(lines),
                            policy=email.policy.default)))
                self.reply('250 OK queued')
            elif verb == 'QUIT':
                self.reply('221 Bye')
                return
            elif verb in {'RSET', 'NOOP'}:
                self.reply('250 OK')
            else:
                self.reply('502 Command not implemented')


class SMTPPeer(_Peer):
    "An SMTP server on loopback; messages: (from, [to], EmailMessage)"

    def __init__(self):
        self.messages = queue.Queue()
        handler = type('Handler', (_SMTPHandler,), {'peer': self})
        self.server = socketserver.ThreadingTCPServer(
            ('127.0.0.1', 0), handler)
        self.server.daemon_threads = True
        self.uri = 'smtp://127.0.0.1:%s' % self.server.server_address[1]


class _HookHandler(BaseHTTPRequestHandler):
    peer = None

    def do_POST(self):
        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(length)
        with self.peer.lock:
            failing = self.peer.failures > 0
            if failing:
                self.peer.failures -= 1
            else:
                self.peer.posts.append(body)
        status = 503 if failing else 200
        self.send_response(status)
        self.send_header('Content-Length', '0')
        self.end_headers()

    def log_message(self, *args):
        pass


class Webhook(_Peer):
    "An integrator's webhook handler: answers 503 to fail(n) next posts"

    def __init__(self):
        self.posts, self.failures = [], 0
        self.lock = threading.Lock()
        handler = type('Handler', (_HookHandler,), {'peer': self})
        self.server = ThreadingHTTPServer(('127.0.0.1', 0), handler)
        self.url = 'http://127.0.0.1:%s/hook' % self.server.server_address[1]

    def fail(self, count):
        with self.lock:
            self.failures = count
