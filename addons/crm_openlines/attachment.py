# Files clients send (widget upload, Telegram document/photo, e-mail MIME
# part): checked against the size and type limits before they are stored
# in the filestore with the message. Pure functions: no database.
import fnmatch
import mimetypes
import os

from trytond.config import config

DEFAULT_MAX = 10 * 1024 * 1024
# What an operator may safely download and open: no HTML or scripts that a
# browser would run, no executables.
DEFAULT_TYPES = ' '.join([
        'image/png', 'image/jpeg', 'image/gif', 'image/webp',
        'application/pdf', 'text/plain', 'text/csv', 'audio/*', 'video/*',
        'application/zip', 'application/msword', 'application/vnd.ms-*',
        'application/vnd.openxmlformats-officedocument.*',
        'application/vnd.oasis.opendocument.*',
        ])


class AttachmentRefused(ValueError):
    "A file over the size limit or of a type not allowed"

    def __init__(self, message, **values):
        super().__init__(message)
        self.message = message
        self.values = values


def max_size():
    "Largest file stored ([crm_openlines] attachment_max, bytes)"
    return config.getint('crm_openlines', 'attachment_max',
        default=DEFAULT_MAX)


def allowed_types():
    "MIME type patterns accepted ([crm_openlines] attachment_types)"
    return config.get('crm_openlines', 'attachment_types',
        default=DEFAULT_TYPES).split()


def clean_name(name, default='attachment'):
    "A file name without folders or control characters"
    name = os.path.basename(str(name or '').replace('\\', '/'))
    name = ''.join(c for c in name if c.isprintable()).strip()
    return name[:200] or default


def file_type(name, declared=None):
    """The MIME type of a file: the one the channel declared, else the
    one of its name's extension"""
    declared = str(declared or '').split(';')[0].strip().lower()
    if declared and declared != 'application/octet-stream':
        return declared
    guessed, _ = mimetypes.guess_type(name)
    return guessed or 'application/octet-stream'


def check(name, data, declared=None):
    """Return (name, type, data) of an acceptable file or raise
    AttachmentRefused"""
    name = clean_name(name)
    type_ = file_type(name, declared)
    size = len(data or b'')
    if size > max_size():
        raise AttachmentRefused('msg_attachment_too_large', name=name,
            limit=max_size())
    if not any(fnmatch.fnmatchcase(type_, p) for p in allowed_types()):
        raise AttachmentRefused('msg_attachment_type', name=name,
            type=type_)
    return name, type_, bytes(data or b'')
