# Hot-path SQL of every call event, built once per shape: python-sql costs
# more to build a statement than the indexed lookup costs to run it.
from trytond import backend
from trytond.transaction import Transaction

_CACHE = {}


class Var(str):
    "A placeholder value replaced at execution by values[name]"
    __slots__ = ()

    def __new__(cls, name):
        return super().__new__(cls, '\x00' + name)


def execute(key, build, **values):
    """Execute the statement build(Var) of key with values; return the
    cursor.  build receives Var and returns a python-sql query."""
    key = (backend.name,) + tuple(key)
    compiled = _CACHE.get(key)
    if compiled is None:
        sql, params = tuple(build(Var))
        compiled = _CACHE[key] = (sql, tuple(
                p[1:] if isinstance(p, Var) else None for p in params),
            params)
    sql, names, params = compiled
    args = [values[n] if n is not None else p
        for n, p in zip(names, params)]
    cursor = Transaction().connection.cursor()
    cursor.execute(sql, args)
    return cursor
