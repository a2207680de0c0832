# Simplification of the record-rule domains of the CRM access scopes:
# the rules of several roles are OR-ed, and a cheaper equivalent domain
# makes a cheaper query on every list.


def is_leaf(domain):
    return (isinstance(domain, (list, tuple)) and len(domain) > 2
        and isinstance(domain[0], str) and domain[0] not in {'AND', 'OR'}
        and isinstance(domain[1], str))


def _is_true(domain):
    return (isinstance(domain, (list, tuple)) and not is_leaf(domain)
        and (not domain or list(domain) == ['AND']))


def _conjunction(domain):
    "The leaves of domain if it is a plain AND of leaves, else None"
    if is_leaf(domain):
        return [tuple(domain)]
    items = list(domain)
    if items and items[0] == 'AND':
        items = items[1:]
    if items and all(is_leaf(i) for i in items):
        return [tuple(i) for i in items]
    return None


def _merge(alternatives, position):
    """Merge the alternatives that are the same AND of leaves but for the
    value of the leaf at position, an '=' or 'in' on the same field"""
    merged, keys = [], {}
    for item in alternatives:
        leaves = _conjunction(item)
        clause = leaves[position] if leaves else None
        if (clause is None or len(clause) != 3
                or clause[1] not in {'=', 'in'}
                or (clause[1] == '=' and clause[2] is None)
                or (clause[1] == 'in' and (
                        not isinstance(clause[2], (list, tuple))
                        or None in clause[2]))):
            if item not in merged:
                merged.append(item)
            continue
        rest = list(leaves)
        del rest[position]
        key = (repr(rest), clause[0])
        values = {clause[2]} if clause[1] == '=' else set(clause[2])
        if key in keys:
            merged[keys[key]][2].update(values)
        else:
            keys[key] = len(merged)
            merged.append((rest, clause[0], values))
    result = []
    for item in merged:
        if isinstance(item, tuple):
            rest, field, values = item
            if len(values) == 1:
                clause = (field, '=', next(iter(values)))
            else:
                clause = (field, 'in', sorted(values, key=repr))
            item = list(rest)
            item.insert(position if position >= 0 else len(item), clause)
        result.append(item)
    return result


def simplify_domain(domain):
    """Return domain with the same meaning and a cheaper query.

    Rules of several roles are OR-ed: an alternative that is always true
    makes the whole OR true, nested ORs are flattened, repeated
    alternatives dropped, and alternatives differing only by the values of
    their last clause, then of their first ('=' or 'in' on the same
    field), merged into one 'in': own and subordinates of leads and deals
    become one condition. Cached domains are frozen into tuples: both
    lists and tuples are read."""
    if not isinstance(domain, (list, tuple)) or is_leaf(domain):
        return domain
    domain = list(domain)
    if domain and domain[0] == 'OR':
        items = []
        for item in domain[1:]:
            item = simplify_domain(item)
            if _is_true(item):
                return []
            if (isinstance(item, list) and item and item[0] == 'OR'):
                items.extend(item[1:])
            else:
                items.append(item)
        items = _merge(_merge(items, -1), 0)
        if len(items) == 1:
            item, = items
            return [item] if is_leaf(item) else item
        return ['OR'] + items
    operator = domain[:1] if domain and domain[0] == 'AND' else []
    items = [simplify_domain(d) for d in domain[len(operator):]]
    items = [d for d in items if not _is_true(d)]
    if not items:
        return []
    return operator + items
