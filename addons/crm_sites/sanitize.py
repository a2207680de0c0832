# What may come out of a block into a public page: sanitised HTML (nh3),
# safe link targets and video players from an allow-list of hosts.
import re
from html import escape
from urllib.parse import parse_qs, urlsplit

import nh3

__all__ = ['clean_html', 'safe_url', 'url_is_safe', 'video_embed_url',
    'esc', 'VIDEO_HOSTS']

# What a text block may contain: text formatting, lists, links, tables,
# images.  No script, style, iframe, form or event attribute survives.
ALLOWED_TAGS = {
    'p', 'br', 'hr', 'h2', 'h3', 'h4', 'strong', 'b', 'em', 'i', 'u', 's',
    'small', 'mark', 'sub', 'sup', 'blockquote', 'q', 'cite', 'code', 'pre',
    'ul', 'ol', 'li', 'dl', 'dt', 'dd', 'a', 'img', 'figure', 'figcaption',
    'table', 'thead', 'tbody', 'tr', 'th', 'td', 'caption', 'span', 'div',
    }
ALLOWED_ATTRIBUTES = {
    'a': {'href', 'title'},
    'img': {'src', 'alt', 'width', 'height', 'loading'},
    'th': {'colspan', 'rowspan', 'scope'},
    'td': {'colspan', 'rowspan'},
    'ol': {'start'},
    }
URL_SCHEMES = {'http', 'https', 'mailto', 'tel'}

# Players that may be embedded, and how a page URL becomes the player URL.
VIDEO_HOSTS = {
    'www.youtube.com', 'youtube.com', 'm.youtube.com', 'youtu.be',
    'www.youtube-nocookie.com', 'rutube.ru', 'vk.com', 'vkvideo.ru',
    'player.vimeo.com', 'vimeo.com',
    }
_ID = re.compile(r'^[A-Za-z0-9_-]{3,64}$')


def esc(value):
    "Text as HTML: every markup character inert"
    return escape('' if value is None else str(value), quote=True)


def clean_html(value):
    "User HTML reduced to the allowed tags and attributes"
    if not value:
        return ''
    return nh3.clean(str(value), tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES, url_schemes=URL_SCHEMES,
        link_rel='noopener noreferrer nofollow', strip_comments=True)


def url_is_safe(url):
    """Whether url may be a link or image target: http(s), mailto, tel, a
    path or an anchor; never javascript:, data: or a protocol-relative
    URL pointing anywhere."""
    if url is None:
        return True
    url = str(url).strip()
    if not url:
        return True
    if any(c in url for c in '\x00\r\n\t<>"\'`\\') or url.startswith('//'):
        return False
    parts = urlsplit(url)
    if parts.scheme:
        return parts.scheme.lower() in URL_SCHEMES and (
            parts.scheme.lower() in {'mailto', 'tel'} or bool(parts.netloc))
    return True


def safe_url(url, fallback='#'):
    "url when it is safe, else fallback (escaped for an attribute)"
    if url and url_is_safe(url):
        return esc(str(url).strip())
    return fallback


def video_embed_url(url):
    "The player URL of a video page on an allowed host, or None"
    if not url or not url_is_safe(url):
        return None
    parts = urlsplit(str(url).strip())
    if parts.scheme != 'https':
        return None
    host = (parts.hostname or '').lower()
    if host not in VIDEO_HOSTS:
        return None
    path = parts.path.strip('/').split('/')
    query = parse_qs(parts.query)
    video = None
    if host == 'youtu.be':
        video = path[0] if path else None
        return _player('https://www.youtube-nocookie.com/embed/', video)
    if host.endswith('youtube.com') or host.endswith('youtube-nocookie.com'):
        if path and path[0] in {'embed', 'shorts', 'live'} and len(path) > 1:
            video = path[1]
        elif path == ['watch']:
            video = (query.get('v') or [None])[0]
        return _player('https://www.youtube-nocookie.com/embed/', video)
    if host == 'rutube.ru':
        if len(path) > 1 and path[0] in {'video', 'play'}:
            video = path[-1] if path[0] == 'video' else path[-1]
        return _player('https://rutube.ru/play/embed/', video)
    if host in {'vimeo.com', 'player.vimeo.com'}:
        video = path[-1] if path else None
        if video and not video.isdigit():
            return None
        return _player('https://player.vimeo.com/video/', video)
    if host in {'vk.com', 'vkvideo.ru'}:
        if path == ['video_ext.php']:
            oid = (query.get('oid') or [''])[0]
            vid = (query.get('id') or [''])[0]
            if re.match(r'^-?\d+$', oid) and vid.isdigit():
                return ('https://vk.com/video_ext.php?oid=%s&id=%s'
                    % (oid, vid))
        return None
    return None


def _player(prefix, video):
    if video and _ID.match(video):
        return prefix + video
    return None


def video_frame_hosts():
    "Hosts of the players, for the Content-Security-Policy"
    return ['https://www.youtube-nocookie.com', 'https://rutube.ru',
        'https://player.vimeo.com', 'https://vk.com']
