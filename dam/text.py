"""Small text helpers shared by pages and services: wording, and names compared in any case."""

from __future__ import annotations


def plural(n: int, word: str) -> str:
    """ "1 asset", "3 assets"."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def same_name(field: str, value: str):
    """A filter for names equal to `value` in any case, as the unique constraints on
    `Lower(field)` see them and as `iexact` (UPPER) does: "İstanbul" and "istanbul" are
    the same name to lower(), not to upper()."""
    from django.db.models import Q, Value
    from django.db.models.functions import Lower
    from django.db.models.lookups import Exact

    return Q(**{f"{field}__iexact": value}) | Q(Exact(Lower(field), Lower(Value(value))))
