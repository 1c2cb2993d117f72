"""Usage counters (UsageDaily): bumped as things happen, one UPSERT each, so reports read
a few thousand daily rows instead of millions of events. Each kind is counted by one of
object_id, user_id or key (dam.reports.TOP_BY), the others left at their zero.

A counter never fails what it counts: a database error is logged and dropped (a lost
count is better than a lost download); inside a caller's transaction it runs in a
savepoint, so that transaction goes on (see _own_statement)."""

from __future__ import annotations

import logging
import re
from contextlib import nullcontext
from datetime import date

from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from dam.models import UsageDaily

log = logging.getLogger(__name__)
Kind = UsageDaily.Kind
KEY_MAX = 200
_SPACES = re.compile(r"\s+")


def search_key(*parts: str) -> str:
    """A search as counted: its text and expression, lower-cased, spaces collapsed."""
    text = " ".join(p for p in parts if p)
    return _SPACES.sub(" ", text.replace("\x00", "")).strip().lower()[:KEY_MAX]


def _own_statement():
    """A counter's one statement is atomic by itself; inside a caller's transaction it
    runs in a savepoint, so a failure (logged, never raised) leaves that transaction
    usable. Outside one, no BEGIN and COMMIT round trips."""
    return transaction.atomic() if connection.in_atomic_block else nullcontext()


def bump_many(kind: str, counts: dict[int, tuple[int, int]], day: date | None = None) -> None:
    """Several objects' counters at once ({object id: (count, bytes)}), one statement."""
    if not counts:
        return
    table = UsageDaily._meta.db_table
    _backfilled(day)
    day = day or timezone.localdate()
    rows = [(day, str(kind), int(pk), 0, "", int(n), int(b)) for pk, (n, b) in counts.items()]
    try:
        with _own_statement(), connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (day, kind, object_id, user_id, key, count, bytes) "
                f"VALUES {', '.join(['(%s, %s, %s, %s, %s, %s, %s)'] * len(rows))} "
                "ON CONFLICT (day, kind, object_id, user_id, key) DO UPDATE SET "
                f"count = {table}.count + EXCLUDED.count, "
                f"bytes = {table}.bytes + EXCLUDED.bytes",
                [v for row in rows for v in row],
            )
    except DatabaseError:
        log.exception("usage counters %s were not recorded", kind)


def bump(
    kind: str,
    *,
    object_id: int | None = 0,
    user_id: int | None = 0,
    key: str = "",
    count: int = 1,
    size: int = 0,
    day: date | None = None,
) -> None:
    """Add `count` (and `size` bytes) to today's counter of this kind and object (or to
    `day`'s: a backfill, which makes that day's report rollups stale)."""
    table = UsageDaily._meta.db_table
    _backfilled(day)
    values = [
        day or timezone.localdate(),
        str(kind),
        int(object_id or 0),
        int(user_id or 0),
        (key or "")[:KEY_MAX],
        int(count),
        int(size or 0),
    ]
    try:
        with _own_statement(), connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (day, kind, object_id, user_id, key, count, bytes) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (day, kind, object_id, user_id, key) DO UPDATE SET "
                f"count = {table}.count + EXCLUDED.count, "
                f"bytes = {table}.bytes + EXCLUDED.bytes",
                values,
            )
    except DatabaseError:
        log.exception("usage counter %s was not recorded", kind)


def _backfilled(day: date | None) -> None:
    if day is None:  # today's counters (every bump on a request): nothing is rolled up
        return
    from dam import reports

    if day <= reports.settled_end():
        reports.rollups_forget(day)


def search_done(*, q: str, expression: str, matches: int, first_page: bool) -> None:
    """A search's first page by text or expression counts toward the top searches (and,
    when it found nothing, the searches with no results); browsing pages does not."""
    key = search_key(q, expression)
    if not key or not first_page:
        return
    bump(Kind.SEARCH, key=key)
    if matches == 0:
        bump(Kind.SEARCH_EMPTY, key=key)
