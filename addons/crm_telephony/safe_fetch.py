# Fetching a URL a PBX or a REST caller gave us, without letting it reach
# the server's own network (SSRF): only http/https, every address the host
# resolves to must be public unless the line's administrator listed the
# host or network as an internal PBX, the connection goes to the address
# that was checked (no DNS rebinding), redirects are checked the same way.
import http.client
import ipaddress
import socket
import urllib.parse

from trytond.exceptions import UserError
from trytond.i18n import gettext

MAX_REDIRECTS = 3
REDIRECTS = {301, 302, 303, 307, 308}
# Content types a PBX serves recordings with (the bytes are checked too)
AUDIO_TYPES = {'application/octet-stream', 'binary/octet-stream',
    'application/ogg', 'video/ogg', ''}


def refused(url, reason):
    return UserError(gettext('crm_telephony.msg_fetch_refused',
            url=str(url)[:200], reason=reason))


def parse_allowed(text):
    "(host names, networks) of an admin's list: names, IPs or CIDRs"
    names, networks = set(), []
    for item in (text or '').replace(',', ' ').split():
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            names.add(item.lower().rstrip('.'))
    return names, networks


def internal(address):
    "Loopback, private, link-local, multicast, reserved or not global"
    mapped = getattr(address, 'ipv4_mapped', None)
    if mapped:
        address = mapped
    return (address.is_loopback or address.is_private
        or address.is_link_local or address.is_multicast
        or address.is_reserved or address.is_unspecified
        or not address.is_global)


def checked_address(url, host, port, allowed):
    "The address to connect to, once all the host's addresses passed"
    names, networks = allowed
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise refused(url, gettext('crm_telephony.msg_fetch_resolve',
                host=host))
    addresses = [ipaddress.ip_address(i[4][0].split('%', 1)[0])
        for i in infos]
    if not addresses:
        raise refused(url, gettext('crm_telephony.msg_fetch_resolve',
                host=host))
    if host.lower().rstrip('.') not in names:
        for address in addresses:
            if internal(address) and not any(
                    address in n for n in networks):
                raise refused(url, gettext(
                        'crm_telephony.msg_fetch_internal',
                        host=host, address=str(address)))
    return addresses[0]


class _Pinned:
    "Connect to the checked address, speak to the host by its name"

    def connect(self):
        sock = socket.create_connection(
            (str(self.address), self.port), self.timeout)
        if isinstance(self, http.client.HTTPSConnection):
            sock = self._context.wrap_socket(sock, server_hostname=self.host)
        self.sock = sock


class _HTTP(_Pinned, http.client.HTTPConnection):
    pass


class _HTTPS(_Pinned, http.client.HTTPSConnection):
    pass


def fetch(url, limit, allowed_hosts='', timeout=60,
        user_agent='crm_telephony'):
    """The body of url (at most limit bytes, an audio content type) or
    UserError with the reason"""
    allowed = parse_allowed(allowed_hosts)
    for _ in range(MAX_REDIRECTS + 1):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in {'http', 'https'} or not parts.hostname:
            raise refused(url, gettext('crm_telephony.msg_fetch_scheme'))
        try:
            port = parts.port or (443 if parts.scheme == 'https' else 80)
        except ValueError:
            raise refused(url, gettext('crm_telephony.msg_fetch_scheme'))
        address = checked_address(url, parts.hostname, port, allowed)
        Connection = _HTTPS if parts.scheme == 'https' else _HTTP
        connection = Connection(parts.hostname, port, timeout=timeout)
        connection.address = address
        path = parts.path or '/'
        if parts.query:
            path += '?' + parts.query
        try:
            connection.request('GET', path, headers={
                    'User-Agent': user_agent, 'Accept': 'audio/*'})
            reply = connection.getresponse()
            if reply.status in REDIRECTS:
                location = reply.getheader('Location') or ''
                url = urllib.parse.urljoin(url, location)
                continue
            if reply.status != 200:
                raise refused(url, gettext('crm_telephony.msg_fetch_status',
                        status=reply.status))
            content_type = (reply.getheader('Content-Type') or '').split(
                ';', 1)[0].strip().lower()
            if not (content_type.startswith('audio/')
                    or content_type in AUDIO_TYPES):
                raise refused(url, gettext('crm_telephony.msg_fetch_type',
                        type=content_type[:100]))
            length = reply.getheader('Content-Length') or ''
            if length.isdigit() and int(length) > limit:
                raise too_large(int(length), limit)
            data = reply.read(limit + 1)
        except OSError as exception:
            raise refused(url, gettext('crm_telephony.msg_fetch_network',
                    error=str(exception)[:200]))
        finally:
            connection.close()
        if len(data) > limit:
            raise too_large(len(data), limit)
        return data
    raise refused(url, gettext('crm_telephony.msg_fetch_redirects',
            count=MAX_REDIRECTS))


def too_large(size, limit):
    return UserError(gettext('crm_telephony.msg_recording_too_large',
            size=size // (1024 * 1024), limit=limit // (1024 * 1024)))
