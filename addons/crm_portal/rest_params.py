# Parameters of REST calls: PHP-style form fields, query strings and JSON.
"""Bitrix24 clients send parameters the way PHP reads them:

    fields[TITLE]=x&fields[PHONE][0][VALUE]=+7...&select[]=*&start=50

parse_php_params() turns such (key, value) pairs into nested dicts and
lists. A level whose keys are all consecutive integers from 0 (or that is
filled only with `[]`) becomes a list, as PHP's json_encode would show it.
"""
import json
import re
from urllib.parse import parse_qsl

__all__ = ['ParamsError', 'parse_php_params', 'parse_query', 'parse_body',
    'merge_params', 'MAX_DEPTH']

MAX_DEPTH = 32
_KEY_RE = re.compile(r'\[([^\[\]]*)\]')


class ParamsError(ValueError):
    "Parameters that cannot be read"


def split_key(key):
    """Split 'a[b][0][]' into ['a', 'b', '0', '']

    PHP keeps what follows an unbalanced bracket as part of the name; a
    trailing garbage after the last ']' is ignored as PHP does."""
    key = key.strip()
    start = key.find('[')
    if start <= 0 or ']' not in key[start:]:
        return [key]
    parts = [key[:start]]
    position = start
    while position < len(key) and key[position] == '[':
        match = _KEY_RE.match(key, position)
        if not match:
            break
        parts.append(match.group(1))
        position = match.end()
    if len(parts) > MAX_DEPTH:
        raise ParamsError(f"parameter '{key[:80]}' is nested too deeply")
    return parts


class _Array(dict):
    "A PHP array: ordered keys, '[]' appends after the largest integer key"

    def next_index(self):
        indexes = [k for k in self if isinstance(k, int)]
        return max(indexes) + 1 if indexes else 0


def _key(part):
    if part.isdigit() and (part == '0' or not part.startswith('0')):
        return int(part)
    if part.startswith('-') and part[1:].isdigit() and part[1] != '0':
        return int(part)
    return part


def parse_php_params(pairs):
    """Return the nested dict of (key, value) pairs read as PHP reads them

    A later value replaces an earlier one with the same key, `[]` appends.
    """
    root = _Array()
    for key, value in pairs:
        if not isinstance(key, str) or not key:
            continue
        parts = split_key(key)
        node = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if part == '' and i > 0:
                name = node.next_index()
            else:
                name = _key(part)
            if last:
                node[name] = value
            else:
                child = node.get(name)
                if not isinstance(child, _Array):
                    child = node[name] = _Array()
                node = child
    return _convert(root, top=True)


def _convert(value, top=False):
    if not isinstance(value, _Array):
        return value
    items = {k: _convert(v) for k, v in value.items()}
    if (not top and items
            and list(items) == list(range(len(items)))):
        return list(items.values())
    return {str(k): v for k, v in items.items()}


def parse_query(query):
    "Parse a query string (str or bytes) into nested parameters"
    if isinstance(query, bytes):
        query = query.decode('utf-8', 'replace')
    return parse_php_params(parse_qsl(query or '', keep_blank_values=True))


def parse_body(data, content_type):
    """Parse a request body by its content type

    JSON must be an object; anything else that is not empty is read as a
    form-encoded body."""
    content_type = (content_type or '').split(';')[0].strip().lower()
    if not data:
        return {}
    if isinstance(data, bytes):
        try:
            text = data.decode('utf-8')
        except UnicodeDecodeError:
            raise ParamsError("the request body is not UTF-8")
    else:
        text = data
    if content_type.endswith('json') or (
            not content_type and text.lstrip().startswith('{')):
        try:
            value = json.loads(text)
        except ValueError as exception:
            raise ParamsError(f"the JSON body cannot be read: {exception}")
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ParamsError("the JSON body must be an object")
        return value
    return parse_query(text)


def merge_params(*sources):
    "Merge parameter dicts: later sources win, nested dicts are merged"
    result = {}
    for source in sources:
        for key, value in (source or {}).items():
            if (isinstance(value, dict)
                    and isinstance(result.get(key), dict)):
                result[key] = merge_params(result[key], value)
            else:
                result[key] = value
    return result
