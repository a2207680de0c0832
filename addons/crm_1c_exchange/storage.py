# Uploaded and extracted files live in trytond's filestore, written and read
# in chunks: a 100 MB catalog never sits in a worker's memory, and any
# worker can continue a session another one started.
import os
import uuid

from trytond.filestore import filestore
from trytond.transaction import Transaction

CHUNK = 1024 * 1024


def _prefix():
    return Transaction().database.name


def new_id():
    return str(uuid.uuid4())


def path(file_id):
    return filestore._filename(file_id, _prefix())


def append(file_id, size, stream, limit):
    """Append stream to the file at offset size (what the database knows:
    a part written by a transaction that rolled back is overwritten).
    Return the new size, or None when it would exceed limit."""
    filename = path(file_id)
    os.makedirs(os.path.dirname(filename), mode=0o770, exist_ok=True)
    mode = 'r+b' if os.path.exists(filename) else 'w+b'
    with open(filename, mode) as fp:
        fp.truncate(size)
        fp.seek(size)
        while True:
            chunk = stream.read(CHUNK)
            if not chunk:
                break
            size += len(chunk)
            if size > limit:
                return None
            fp.write(chunk)
    return size


def copy_from(file_id, source, limit):
    "Write the file-like source to file_id; None when over limit"
    return append(file_id, 0, source, limit)


def open_file(file_id):
    return open(path(file_id), 'rb')


def delete(file_id):
    filestore.delete(file_id, _prefix())
