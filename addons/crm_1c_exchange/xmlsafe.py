# Reading XML and zip files that come from outside (DESIGN.md §11): no DTD,
# no entities, no network, no huge text nodes, streamed; zip entries
# checked for count, sizes, ratio and names before anything is extracted.
import posixpath
import re
import zipfile

from lxml import etree

PROLOG_LIMIT = 64 * 1024
_DOCTYPE = re.compile(rb'<!\s*(DOCTYPE|ENTITY)', re.IGNORECASE)


class UnsafeInput(ValueError):
    "An input refused before or while reading it; args[0] is a message id"


def check_prolog(fp):
    """Refuse a document with a DTD or entity declaration: they come before
    the root element, so the prolog is enough."""
    head = fp.read(PROLOG_LIMIT)
    fp.seek(0)
    if _DOCTYPE.search(head):
        raise UnsafeInput('msg_xml_dtd')
    if not head.strip():
        raise UnsafeInput('msg_xml_empty')


def localname(element):
    tag = element.tag
    if not isinstance(tag, str):
        return ''
    return tag.rsplit('}', 1)[-1]


def iterparse(fp, tags, events=('end',)):
    "Stream the elements named tags (any namespace) from fp"
    check_prolog(fp)
    return etree.iterparse(fp, events=events,
        tag=['{*}' + t for t in tags] + list(tags),
        resolve_entities=False, no_network=True, huge_tree=False,
        load_dtd=False, dtd_validation=False, remove_comments=True,
        remove_pis=True)


def release(element):
    "Free what has been read so far (bounded memory)"
    element.clear(keep_tail=False)
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]


def child(element, name):
    for sub in element:
        if localname(sub) == name:
            return sub
    return None


def children(element, name):
    return [s for s in element if localname(s) == name]


def text(element, name, default=''):
    sub = child(element, name) if name else element
    if sub is None or sub.text is None:
        return default
    return sub.text.strip()


def path_text(element, *names):
    for name in names[:-1]:
        element = child(element, name)
        if element is None:
            return ''
    return text(element, names[-1])


def safe_name(name):
    """The relative path of an uploaded or zipped file, or None when it
    points outside the exchange folder (absolute, '..', drive, backslash).
    1C sends images as import_files/xx/name.jpg."""
    if not name or '\\' in name or '\x00' in name or ':' in name:
        return None
    if name.startswith('/'):
        return None
    normal = posixpath.normpath(name)
    if normal.startswith('..') or normal != name.rstrip('/'):
        return None
    parts = normal.split('/')
    if len(parts) > 1 and parts[0] != 'import_files':
        return None
    return normal


def check_zip(fp, max_entries, max_total, max_ratio):
    """Return the ZipFile and its file entries once every check passed"""
    try:
        archive = zipfile.ZipFile(fp)
    except (zipfile.BadZipFile, OSError, EOFError):
        raise UnsafeInput('msg_zip_invalid')
    entries = [i for i in archive.infolist() if not i.is_dir()]
    if len(entries) > max_entries:
        raise UnsafeInput('msg_zip_entries')
    total = 0
    for info in entries:
        if safe_name(info.filename) is None:
            raise UnsafeInput('msg_zip_path')
        if info.flag_bits & 0x1:
            raise UnsafeInput('msg_zip_invalid')
        total += info.file_size
        if info.file_size > max_ratio * max(info.compress_size, 1024):
            raise UnsafeInput('msg_zip_bomb')
    if total > max_total:
        raise UnsafeInput('msg_zip_bomb')
    return archive, entries


class LimitedReader:
    "Read an entry, refusing more bytes than it declared (a lying header)"

    def __init__(self, fp, limit):
        self.fp, self.left = fp, limit

    def read(self, size=-1):
        data = self.fp.read(1024 * 1024)
        self.left -= len(data)
        if self.left < 0:
            raise UnsafeInput('msg_zip_bomb')
        return data
