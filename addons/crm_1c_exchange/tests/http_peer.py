"""A scripted 1C HTTP service on 127.0.0.1: GET /catalog answers the
CommerceML package set on the peer, POST /orders records the orders
document; HTTP basic auth as 1C's published HTTP services ask."""
import http.server
import threading

from .soap_peer import authorised


class Peer:
    """catalog: the bytes answered; status and content_type of the answer;
    length: send Content-Length (without it, the body ends with the
    connection); redirect: a Location answered with 302 instead"""

    def __init__(self, catalog=b'', user='ws', password='ws-pass'):
        self.catalog = catalog
        self.status = 200
        self.content_type = 'application/xml'
        self.length = True
        self.redirect = None
        self.orders_status = 200
        self.user, self.password = user, password
        self.received = []
        self.unauthorised = 0

    def __enter__(self):
        peer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def authorised(self):
                return authorised(self, peer)

            def do_GET(self):
                if not self.authorised():
                    return
                if self.path != '/base/hs/crm/catalog':
                    self.send_error(404)
                    return
                if peer.redirect:
                    self.send_response(302)
                    self.send_header('Location', peer.redirect)
                    self.send_header('Content-Length', '0')
                    self.end_headers()
                    return
                self.send_response(peer.status)
                self.send_header('Content-Type', peer.content_type)
                if peer.length:
                    self.send_header('Content-Length',
                        str(len(peer.catalog)))
                self.end_headers()
                try:
                    self.wfile.write(peer.catalog)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading: too large

            def do_POST(self):
                if not self.authorised():
                    return
                data = self.rfile.read(int(self.headers['Content-Length']))
                if self.path != '/base/hs/crm/orders':
                    self.send_error(404)
                    return
                peer.received.append((self.headers['Content-Type'], data))
                self.send_response(peer.orders_status)
                self.send_header('Content-Length', '0')
                self.end_headers()

        self.server = http.server.ThreadingHTTPServer(('127.0.0.1', 0),
            Handler)
        port = self.server.server_address[1]
        self.base = f'http://127.0.0.1:{port}/base/hs/crm'
        self.catalog_url = self.base + '/catalog'
        self.orders_url = self.base + '/orders'
        self.thread = threading.Thread(target=self.server.serve_forever,
            daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *args):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
