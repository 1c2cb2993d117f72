"""Search: the query language compiled to one permission-filtered queryset, plus facets.

Everything starts from `policy.visible_assets(user, minimum=Level.COLLECTION)`: assets
the user sees through folders or shared collections, and nothing else is ever counted or
returned. Free text uses the trigger-maintained `search_vector` (GIN; prefix matching for
words, phrase matching for quoted text); tags, metadata and context use GIN containment
where the operator allows it.
"""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.postgres.search import SearchQueryField, SearchRank
from django.core.exceptions import EmptyResultSet
from django.db import OperationalError, connection, transaction
from django.db.models import BooleanField, F, Q, QuerySet, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Lower
from django.utils import timezone

from accounts import policy
from accounts.policy import Level
from assets.models import AccessMode, Asset, AssetType, ModerationStatus
from assets.search_query import (
    And,
    Compare,
    Not,
    Or,
    QuerySyntaxError,
    Text,
    parse,
    tokenize,
)
from dam.errors import ServiceError

# Every statement of one search stops after this long (a full scan of a rare part of a
# word at ten million assets, a page a million rows deep): an answer, not a stuck worker.
TIMEOUT_MS = settings.DAM_SEARCH_TIMEOUT_MS
SORTS = ("created_at", "-created_at", "display_name", "-bytes", "relevance")
FACET_TAGS = 20
# Matches are counted exactly up to here (best match ranks at most this many), and facets
# count at most FACET_SAMPLE of them: bounded work at any library size.
COUNT_LIMIT = settings.DAM_SEARCH_COUNT_LIMIT
FACET_SAMPLE = settings.DAM_SEARCH_FACET_SAMPLE
# Someone who sees at most this many assets has every match read (and counted exactly).
SMALL_LIBRARY = 20_000
TEXT_CONFIG = "simple"
PREFIX_MIN = 3  # shorter prefixes use PostgreSQL's prefix match
PREFIX_WORDS = 40  # a prefix starting more words than this does too
CHOICES = {
    "type": AssetType.values,
    "moderation_status": ModerationStatus.values,
    "access_mode": AccessMode.values,
}
NUMBERS = ("bytes", "width", "height")
DATES = ("created_at", "updated_at")
UNITS = {"": 1, "b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3, "tb": 1024**4}
RELATIVE = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1),
            "m": timedelta(days=30), "y": timedelta(days=365)}  # fmt: skip
NUMBER_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$")
RELATIVE_RE = re.compile(r"^(\d{1,5})([hdwmy])$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Letters and digits; "_" splits words as PostgreSQL's parser does (IMG_1234: img, 1234).
WORD_RE = re.compile(r"[^\W_]+", re.UNICODE)
MAX_WORD_BYTES = 2000  # PostgreSQL refuses longer words in a tsquery
FIELDS_HELP = (
    "tags, type, format, folder, bytes, width, height, created_at, updated_at, "
    "moderation_status, access_mode, uploader, metadata.<external ID>, context.<key>"
)


@dataclass
class Params:
    q: str = ""
    expression: str = ""
    folder: object | None = None  # a Folder the user may see
    include_subfolders: bool = True
    type: str = ""
    format: str = ""
    tags: list[str] = field(default_factory=list)
    moderation_status: str = ""
    access_mode: str = ""
    created_by: int | None = None
    sort: str = "-created_at"
    similar: object | None = None  # an Asset the user may see: find visually similar ones
    rank: str = ""  # words for best match when `q` is empty (a query typed in a box)


# -- text -------------------------------------------------------------------------------------
def _words(text: str) -> list[str]:
    words = WORD_RE.findall(text.lower())
    return [w for w in words if len(w.encode()) <= MAX_WORD_BYTES][:30]


def _expand(prefix: str) -> list[str] | None:
    """The words any asset holds that start with `prefix` (SearchLexeme), or None when
    the prefix is short or starts too many: PostgreSQL's own prefix match serves then."""
    from assets.models import SearchLexeme

    if len(prefix) < PREFIX_MIN:
        return None
    # No ORDER BY: the pattern index serves LIKE 'prefix%' but not the collation's order,
    # and all of them are wanted anyway (or none, past PREFIX_WORDS).
    words = SearchLexeme.objects.filter(word__startswith=prefix).order_by()
    found = sorted(words.values_list("word", flat=True)[: PREFIX_WORDS + 1])
    return None if len(found) > PREFIX_WORDS else found


def _lexeme(word: str) -> str:
    """A word as a tsquery literal, quoted (lexemes may hold punctuation)."""
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"


def text_query(text: str, *, phrase: bool = False) -> RawSQL | None:
    """The tsquery of free text: every word, the last as a prefix (the one being typed:
    `beach sun` finds "beach sunset"), or a phrase; None when nothing is left.

    The prefix becomes the words it starts, asked for exactly (see SearchLexeme): the
    GIN index intersects exact words while it reads them, where a prefix has to collect
    every posting list it matches first, which costs far more at a million assets."""
    words = _words(text)
    if not words:
        return None
    if phrase:
        sql, args = f"phraseto_tsquery('{TEXT_CONFIG}', %s)", [" ".join(words)]
    else:
        *rest, last = words
        expanded = _expand(last)
        if expanded is None:
            sql, args = f"to_tsquery('{TEXT_CONFIG}', %s)", [" & ".join([*rest, f"{last}:*"])]
        else:
            exact = " | ".join(_lexeme(w) for w in expanded) or _lexeme(last)
            sql, args = "%s::tsquery", [exact]
            if rest:
                sql = f"(to_tsquery('{TEXT_CONFIG}', %s) && ({sql}))"
                args = [" & ".join(rest), *args]
    return RawSQL(sql, args, output_field=SearchQueryField())


def text_match(text: str, *, phrase: bool = False) -> Q | None:
    """The filter of free text on the search vector, or None."""
    query = text_query(text, phrase=phrase)
    if query is None:
        return None
    sql, args = query.sql, query.params
    return Q(RawSQL(f"assets_asset.search_vector @@ {sql}", args, output_field=BooleanField()))


# -- the language -------------------------------------------------------------------------------
def _error(term: Compare, message: str):
    raise QuerySyntaxError(message, term.position)


def _number(term: Compare, *, units: bool) -> float:
    match = NUMBER_RE.match(term.value.strip())
    unit = match.group(2).lower() if match else None
    if match is None or (unit and (not units or unit not in UNITS)):
        what = "a number like 800 or 10MB" if units else "a number"
        _error(term, f"{term.field} takes {what}, not “{term.value[:40]}”")
    value = float(match.group(1)) * UNITS[unit or ""]
    if value > 2**62:
        _error(term, f"{term.field}: {term.value[:40]} is too large")
    return value


def _when(term: Compare) -> tuple[datetime, datetime | None]:
    """(moment, end of day or None): a date is the whole day; `7d` is 7 days ago."""
    value = term.value.strip().lower()
    try:
        if (m := RELATIVE_RE.match(value)) is not None:
            return timezone.now() - int(m.group(1)) * RELATIVE[m.group(2)], None
        if DATE_RE.match(value):
            try:
                day = datetime.fromisoformat(value)
            except ValueError:
                _error(term, f"“{term.value[:40]}” is not a date")
            start = timezone.make_aware(day, timezone.get_current_timezone())
            return start, start + timedelta(days=1)
    except OverflowError:  # 3000y ago, the day after 9999-12-31
        _error(term, f"{term.field}: “{term.value[:40]}” is out of range")
    _error(term, f"{term.field} takes a date (2026-01-31) or an age (24h, 7d, 2w, 6m, 1y)")
    raise AssertionError  # unreachable


def _compare_range(name: str, op: str, value, end=None) -> Q:
    """`name op value`; with `end`, the value is a span [value, end)."""
    if op in (":", "="):
        return Q(**{f"{name}__gte": value, f"{name}__lt": end}) if end else Q(**{name: value})
    if op == "!=":
        return ~_compare_range(name, "=", value, end)
    lookup = {">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}[op]
    if end is not None and op in (">", "<="):
        value = end  # after that day / up to the end of that day
    return Q(**{f"{name}__{lookup}": value})


def _age_range(name: str, op: str, moment) -> Q:
    """`created_at>7d`: newer than 7 days ago; `<7d`: older."""
    flipped = {">": "gt", ">=": "gte", "<": "lt", "<=": "lte", ":": "gte", "=": "gte"}
    if op == "!=":
        return ~Q(**{f"{name}__gte": moment})
    return Q(**{f"{name}__{flipped[op]}": moment})


def _metadata(term: Compare, key: str, schema) -> Q:
    f = schema.by_id.get(key) or next(
        (x for x in schema.fields if x.external_id.lower() == key.lower()), None
    )
    if f is None:
        _error(term, f"There is no metadata field “{key[:60]}”")
    name = f"metadata__{f.external_id}"
    value = term.value
    if f.is_list:
        if term.op not in (":", "=", "!="):
            _error(term, f"{f.label} is a list: use metadata.{f.external_id}:value")
        wanted = value.strip().casefold()
        option = next(
            (o for o in f.options if wanted in (o.external_id.casefold(), o.label.casefold())),
            None,
        )
        if option is None:
            _error(term, f"{f.label} has no value “{value[:60]}”")
        held = option.external_id if f.type == "enum" else [option.external_id]
        q = Q(metadata__contains={f.external_id: held})  # blocked values match too
        return ~q if term.op == "!=" else q
    if f.type == "number":
        return _compare_range(name, term.op, _number(term, units=False))
    if f.type == "date":
        if not DATE_RE.match(value.strip()):
            _error(term, f"{f.label} takes a date like 2026-01-31")
        return _compare_range(name, term.op, value.strip())
    if term.op == ":":
        return Q(**{f"{name}__icontains": value})
    if term.op in ("=", "!="):
        # Exact in any case, as a term of the search index: `=` and the MD5 of
        # `<key>=<UPPER(value)>` in base64 (migration 0015), so a value few assets hold is
        # an index probe, not a scan. `!=` is its opposite: assets without a value too, as
        # for list fields. (No quote or backslash in the term: quote_literal makes it one
        # tsquery lexeme.)
        held = "assets_asset.search_vector @@ quote_literal(dam_metadata_term(%s, %s))::tsquery"
        q = Q(RawSQL(held, (f.external_id, value), output_field=BooleanField()))
        return ~q if term.op == "!=" else q
    _error(term, f"{f.label} is text: use : (contains) or = (exact)")
    raise AssertionError  # unreachable


def _compare(term: Compare, schema) -> Q:
    name, op, value = term.field, term.op, term.value
    if name == "tags" or name == "tag":
        if op not in (":", "=", "!="):
            _error(term, "tags take : or =")
        q = Q(tags__contains=[value])
        return ~q if op == "!=" else q
    if name in CHOICES or name == "format":
        if op not in (":", "=", "!="):
            _error(term, f"{name} takes : or =")
        wanted = value.lower()
        if name in CHOICES and wanted not in CHOICES[name]:
            _error(term, f"{name} is one of {', '.join(CHOICES[name])}")
        q = Q(**{name: wanted})
        return ~q if op == "!=" else q
    if name == "folder":
        if not policy.is_valid_id(value) or op not in (":", "=", "!="):
            _error(term, "folder takes a folder id, e.g. folder:12 (with its sub-folders)")
        q = Q(ancestors__contains=[int(value)])
        return ~q if op == "!=" else q
    if name in ("uploader", "created_by"):
        if not policy.is_valid_id(value) or op not in (":", "=", "!="):
            _error(term, f"{name} takes a user id")
        q = Q(created_by_id=int(value))
        return ~q if op == "!=" else q
    if name in NUMBERS:
        return _compare_range(name, op, _number(term, units=name == "bytes"))
    if name in DATES:
        moment, end = _when(term)
        if end is None:
            return _age_range(name, op, moment)
        return _compare_range(name, op, moment, end)
    if name.startswith("metadata."):
        return _metadata(term, name.split(".", 1)[1], schema)
    if name.startswith("context."):
        key = term.field.split(".", 1)[1]
        if op == ":":
            return Q(**{f"context__{key}__icontains": value})
        if op in ("=", "!="):
            q = Q(context__contains={key: value})
            return ~q if op == "!=" else q
        _error(term, "context values take : (contains) or = (exact)")
    _error(term, f"Unknown field “{name[:60]}”; fields are {FIELDS_HELP}")
    raise AssertionError  # unreachable


def compile_tree(node, schema) -> Q:
    if isinstance(node, Text):
        match = text_match(node.value, phrase=node.phrase)
        return match if match is not None else Q()
    if isinstance(node, Compare):
        return _compare(node, schema)
    if isinstance(node, Not):
        return ~compile_tree(node.node, schema)
    parts = [compile_tree(n, schema) for n in node.nodes]
    combined = parts[0]
    for part in parts[1:]:
        combined = (combined & part) if isinstance(node, And) else (combined | part)
    return combined


def expression_filter(expression: str, schema=None) -> Q | None:
    """The Q of an expression; QuerySyntaxError (with a position) on a mistake."""
    from metadata import selectors as metadata_selectors

    tree = parse(expression)
    if tree is None:
        return None
    return compile_tree(tree, schema if schema is not None else metadata_selectors.schema_get())


# -- the search ----------------------------------------------------------------------------------
def matching(user, params: Params, schema=None) -> QuerySet:
    """Assets matching `params` that the user may view (folders or shared collections),
    in no particular order: what counts and facets are computed over."""
    qs = policy.visible_assets(user, Asset.objects.all(), minimum=Level.COLLECTION)
    if params.folder is not None:
        if params.include_subfolders:
            qs = qs.filter(ancestors__contains=[params.folder.pk])
        else:
            qs = qs.filter(folder=params.folder)
    for name in ("type", "format", "moderation_status", "access_mode"):
        value = getattr(params, name)
        if value:
            qs = qs.filter(**{name: value.lower() if name == "format" else value})
    if params.tags:
        qs = qs.filter(tags__contains=list(params.tags))
    if params.created_by:
        qs = qs.filter(created_by_id=params.created_by)
    text = text_match(params.q) if params.q else None
    if text is not None:
        qs = qs.filter(text)
    if params.expression:
        extra = expression_filter(params.expression, schema)
        if extra is not None:
            qs = qs.filter(extra)
    if params.similar is not None:
        qs = similar_to(qs, params.similar)
    return qs


def is_ranked(params: Params) -> bool:
    """Best match on words (not look-alikes)."""
    words = params.q or params.rank
    return params.similar is None and params.sort == "relevance" and bool(_words(words))


def _order(params: Params) -> tuple:
    """The page's order: (key expression, key descending, ids descending). The one
    definition both the index walk (`ordered`) and the sort of the ids read (`find`) use."""
    if params.similar is not None:
        return F("distance"), False, True  # closest first
    if is_ranked(params):
        return SearchRank(F("search_vector"), text_query(params.q or params.rank)), True, True
    return {
        "created_at": (F("created_at"), False, False),
        "display_name": (Lower("display_name"), False, False),
        "-bytes": (F("bytes"), True, True),
    }.get(params.sort, (F("created_at"), True, True))


def ordered(qs: QuerySet, params: Params) -> QuerySet:
    """The matches in the page's order."""
    key, desc, ids_desc = _order(params)
    return qs.order_by(key.desc() if desc else key.asc(), "-id" if ids_desc else "id")


def search(user, params: Params) -> QuerySet:
    """Every match the user may view, in the page's order (unbounded: tests and small
    callers; pages and the API use `find`)."""
    return ordered(matching(user, params), params)


@dataclass
class Found:
    rows: QuerySet | SortedIds  # the matches in the page's order, for paging
    count: int  # exact up to COUNT_LIMIT
    exact: bool  # False: more than COUNT_LIMIT match
    facet_ids: list[int]  # what the facets count: every match, or a sample
    sampled: bool  # True: facets count FACET_SAMPLE of the matches
    facets: dict | None = None  # counted while the matches were read (`find`)


def _among(ids: list[int]) -> QuerySet:
    return Asset.objects.filter(
        RawSQL("assets_asset.id = ANY(%s)", (ids,), output_field=BooleanField())
    )


def found_facets(found: Found, schema=None) -> dict:
    """The facets of a search: over every match, or FACET_SAMPLE of them (`sampled`)."""
    if found.facets is not None:
        return found.facets
    return facets(_among(found.facet_ids), schema)


# The planner's settings while it finds the matches, for that one query. An index entry
# costs ten times PostgreSQL's default: GIN prices every key at the average posting list
# of the whole index, so a frequent word, tag or metadata value, or a broad user's
# folders, look far cheaper than they are, and the planner built a 50,000-entry bitmap
# where a scan that stops early is quicker (at 1M assets: two common words 28 to 15 ms;
# for the broad user a list metadata value 38 to 17 ms and all raw files 64 to 28 ms; of
# 24 typical searches for three users none got slower). Someone who sees few assets also
# gets cheap heap pages: their visible rows are a few thousand cached pages, so ANDing in
# a btree over the whole library (type: 200,000 entries for "video") costs more than it
# saves.
PLANNER = {"cpu_index_tuple_cost": "0.05"}
FEW_PLANNER = {**PLANNER, "random_page_cost": "1.1"}


def planned(config: dict[str, str], sql: str) -> str:
    """`sql` run under planner settings `config` and only it: they are changed before
    and put back after, in the same round trip. Statements sent together run in one
    transaction, which the settings end with; inside a caller's transaction they are put
    back to what they were (a failing query aborts the caller's transaction or
    savepoint, which undoes them too). The query's rows are the second result set. (One
    string of several statements needs client-side binding: psycopg's with Django.)"""
    save = ", ".join(
        f"set_config('dam.was_{name}', current_setting('{name}'), true), "
        f"set_config('{name}', '{value}', true)"
        for name, value in config.items()
    )
    restore = ", ".join(
        f"set_config('{name}', current_setting('dam.was_{name}'), true)" for name in config
    )
    return f"SELECT {save}; {sql}; SELECT {restore}"


class SearchTooSlow(ServiceError):
    code = "search_timeout"

    def __init__(self, limit_ms: int) -> None:
        seconds = f"{limit_ms / 1000:g} second{'s' if limit_ms != 1000 else ''}"
        super().__init__(
            f"This search took longer than {seconds} and was stopped. Narrow it: search "
            "in a folder, add a type or a date, or use whole words instead of parts of words."
        )


@contextmanager
def bounded(limit_ms: int | None = None):
    """Statements inside run for at most `limit_ms` each (TIMEOUT_MS), in one transaction
    (a savepoint inside a caller's), then the limit is put back; one that runs longer
    raises SearchTooSlow, with nothing half-done (searches only read)."""
    limit = TIMEOUT_MS if limit_ms is None else limit_ms
    nested = connection.in_atomic_block  # else the limit ends with the transaction
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT current_setting('statement_timeout'), "
                    "set_config('statement_timeout', %s, true)",
                    [f"{int(limit)}ms"],
                )
                was = cursor.fetchone()[0]
            yield
            if nested:  # the caller's transaction goes on: its own limit again
                with connection.cursor() as cursor:
                    cursor.execute("SELECT set_config('statement_timeout', %s, true)", [was])
    except OperationalError as exc:
        from psycopg.errors import QueryCanceled

        if isinstance(exc.__cause__, QueryCanceled):
            raise SearchTooSlow(limit) from exc
        raise


# `_sees_few` hints per access signature: {(limit, roots, collections): (answer, until)}.
_SEES_FEW: dict[tuple, tuple[bool, float]] = {}
SEES_FEW_SECONDS = 300
SEES_FEW_KEPT = 4096


def _sees_few(user) -> bool:
    """Whether the user sees at most SMALL_LIBRARY assets, by the planner's estimate of
    the policy's filter (EXPLAIN, no rows read). A speed hint only: it never decides what
    anyone sees, so it is remembered for a few minutes per access signature (the user's
    granted roots and collections) in this process, sparing a query per search."""
    import time

    access = policy.access_for(user)
    if access.is_admin:
        return False
    roots, shared = access.root_ids(Level.VIEW), sorted(access.collection_levels)
    signature = (SMALL_LIBRARY, tuple(roots), tuple(shared))
    now = time.monotonic()
    hit = _SEES_FEW.get(signature)
    if hit is not None and hit[1] > now:
        return hit[0]
    visible = policy.visible_assets(user, Asset.objects.all(), minimum=Level.COLLECTION)
    try:
        sql, args = visible.order_by().values("pk").query.sql_with_params()
    except EmptyResultSet:  # sees nothing at all
        sql = None
    if sql is None:
        answer = True
    else:
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", args)
            plan = cursor.fetchone()[0]
        plan = plan if isinstance(plan, list) else json.loads(plan)
        answer = plan[0]["Plan"]["Plan Rows"] <= SMALL_LIBRARY
    if len(_SEES_FEW) >= SEES_FEW_KEPT:
        _SEES_FEW.clear()
    _SEES_FEW[signature] = (answer, now + SEES_FEW_SECONDS)
    return answer


class SortedIds:
    """Matches as ids already in the page's order: a slice fetches just those rows."""

    def __init__(self, qs: QuerySet, ids: list[int]) -> None:
        self.qs, self.ids = qs, ids

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, part: slice) -> list:
        wanted = self.ids[part]
        rows = {a.pk: a for a in self.qs.filter(pk__in=wanted)} if wanted else {}
        return [rows[pk] for pk in wanted if pk in rows]

    def __iter__(self):
        return iter(self[:])


def find(
    user, params: Params, *, exact_count: bool = False, schema=None, with_facets: bool = True
) -> Found:
    """The search as pages and the API run it, in bounded work at any library size.

    First up to COUNT_LIMIT + 1 matches are read in no order, so PostgreSQL takes its
    cheapest way to them (the one GIN index for text, tags, metadata and folders; a scan
    that stops early for a common word), and sorted by the page's key in the same query,
    which also counts the facets over the first FACET_SAMPLE of them (the rows it has
    just read, not a second visit). When that is every match, pages slice those ids;
    when more match, the page walks the sort's index, which finds its rows quickly
    because matches are common. Someone who sees few assets (SMALL_LIBRARY) gets every
    match read instead, and so an exact count: for them walking the index would pass
    over a whole library of rows they cannot see. Best match ranks the matches read.
    `exact_count` counts every match when more than the limit match, and best match then
    ranks them all (work in proportion to the matches: the API's default, which the
    contract's `count` means; pages show "more than" instead). `with_facets=False` leaves
    the facets out (empty)."""

    if schema is None:
        from metadata import selectors as metadata_selectors

        schema = metadata_selectors.schema_get()
    matches = matching(user, params, schema)
    few = _sees_few(user)
    collect = SMALL_LIBRARY if few else COUNT_LIMIT
    key, desc, ids_desc = _order(params)
    order = f"k {'DESC' if desc else 'ASC'}, pk {'DESC' if ids_desc else 'ASC'}"
    columns = FACETED if with_facets else ()
    read = matches.order_by().annotate(k=key).values("pk", "k", *columns)[: collect + 1]
    try:
        sql, args = read.query.sql_with_params()
    except EmptyResultSet:  # nothing can match (no access, a look-alike without a hash)
        sql = None
    ids: list[int] = []
    counted: dict = {"type": {}, "format": {}, "tags": {}}
    if sql is not None:
        sample, facet_sql = "", ""
        if with_facets:  # over `s`, the first FACET_SAMPLE of the matches read
            parts, facet_args = _facet_parts(schema)
            sample = f", s AS MATERIALIZED (SELECT * FROM m ORDER BY {order} LIMIT %s)"
            facet_sql = f" UNION ALL SELECT x.*, NULL FROM ({' UNION ALL '.join(parts)}) x"
            args = [*args, FACET_SAMPLE, *facet_args]
        query = (
            f"WITH m AS MATERIALIZED ({sql}){sample} "
            f"SELECT NULL::text, NULL::text, NULL::bigint, array_agg(pk ORDER BY {order}) "
            f"FROM m{facet_sql}"
        )
        with connection.cursor() as cursor:
            cursor.execute(planned(FEW_PLANNER if few else PLANNER, query), args)
            cursor.nextset()
            rows = cursor.fetchall()
        ids = rows[0][3] or []
        counted = _facet_dict(row[:3] for row in rows[1:])
    complete = len(ids) <= collect
    shown = matches.defer(*NOT_SHOWN)
    if complete or (is_ranked(params) and not exact_count):
        rows = SortedIds(shown, ids[:collect])
    else:  # best match over every match when every match is counted
        rows = ordered(shown, params)
    count, exact = min(len(ids), collect), complete
    if exact_count and not complete:
        count, exact = matches.order_by().count(), True
    return Found(
        rows=rows,
        count=count,
        exact=exact,
        facet_ids=ids[:FACET_SAMPLE],
        sampled=len(ids) > FACET_SAMPLE,
        facets=counted,
    )


SUGGEST_LIMIT = 6  # assets offered under the top bar's box while typing
SUGGEST_MIN_CHARS = 2
SUGGEST_TIMEOUT_MS = 2_000  # past it the box offers the full search instead


BOX_FIELDS = frozenset(
    {"tags", "tag", "type", "format", "folder", "uploader", "created_by", *NUMBERS, *DATES,
     *CHOICES}
)  # fmt: skip


_BOX_TERM = re.compile(
    r"(?:^|[\s(])(?:" + "|".join(sorted(BOX_FIELDS)) + r"|metadata\.[\w-]+|context\.[\w-]+)"
    r"(?:>=|<=|!=|:|=|>|<)"
)


def _known_field(token) -> bool:
    return token.kind == "compare" and (
        token.field in BOX_FIELDS or token.field.startswith(("metadata.", "context."))
    )


def box_is_query(text: str) -> bool:
    """Whether a search box's text is the query language rather than words: it has a term
    of a known field (`tags:kitten`, `metadata.region=emea`; a mistake in one is shown,
    not searched for as words), or AND, OR or NOT between words that parse (`kitten OR
    puppy`). Text that only looks alike stays words: "Re: budget", "Portland OR", and
    text in capitals ("NOT FOR SALE")."""
    text = text[:2000]
    try:
        tokens = tokenize(text)
    except QuerySyntaxError as exc:  # a field's term gone wrong, or just odd text
        return bool(_BOX_TERM.search(text[: exc.position + 1]))
    if any(_known_field(t) for t in tokens):
        return True
    if not any(t.kind in ("AND", "OR", "NOT") for t in tokens):
        return False
    words = [t.value for t in tokens if t.kind in ("word", "phrase")]
    if not words or all(w == w.upper() for w in words):  # capitals: a heading, not a query
        return False
    try:
        parse(text)
    except QuerySyntaxError:
        return False
    return True


def ranking_words(expression: str) -> str:
    """The words an expression asks for (not under NOT), for best match of a query typed
    in a search box."""
    try:
        tree = parse(expression[:2000])
    except QuerySyntaxError:
        return ""
    found: list[str] = []

    def walk(node) -> None:
        if isinstance(node, Text):
            found.append(node.value)
        elif isinstance(node, (And, Or)):
            for child in node.nodes:
                walk(child)

    walk(tree)
    return " ".join(found)[:500]


def _mistake(expression: str, schema) -> QuerySyntaxError | None:
    try:
        expression_filter(expression, schema)
    except QuerySyntaxError as exc:
        return exc
    return None


def take_box_query(
    params: Params, schema, typed: str = ""
) -> tuple[QuerySyntaxError | None, QuerySyntaxError | None]:
    """When a search box's text (`params.q`) is the query language (box_is_query), it
    becomes part of `params.expression` and its words rank best match. Returns the
    mistakes of the box and of the `typed` expression, each checked alone, so a mistake's
    position is counted in its own field."""
    box = params.q
    if not box_is_query(box):
        return None, None
    errors = _mistake(box, schema), _mistake(typed, schema) if typed else None
    params.q, params.rank = "", ranking_words(box)
    params.expression = f"({box}) ({params.expression})" if params.expression else f"({box})"
    return errors


def suggestions(user, text: str, *, limit: int = SUGGEST_LIMIT) -> list[Asset] | None:
    """The assets that best match what is being typed (the last word as a prefix, or a
    query as in the search box), for the top bar's box: the search's own matching,
    permission filter and best-match order, without facets or a count. None when there is
    nothing to look for yet (fewer than SUGGEST_MIN_CHARS, no word)."""
    text = text.replace("\x00", "").strip()[:500]
    if len(text) < SUGGEST_MIN_CHARS or not _words(text):
        return None
    from metadata import selectors as metadata_selectors

    schema = metadata_selectors.schema_get()
    params = Params(q=text, sort="relevance")
    if any(take_box_query(params, schema)):
        return []  # a query still being typed
    found = find(user, params, schema=schema, with_facets=False)
    return list(found.rows[:limit])


SIMILAR_WITHIN = 16  # of 64 bits: beyond this, pictures rarely look alike


def similar_to(qs: QuerySet, asset) -> QuerySet:
    """Assets that look like `asset` (perceptual-hash distance at most SIMILAR_WITHIN),
    annotated with `distance`; the asset itself and assets without a hash are left out."""
    from django.db.models import IntegerField

    if not asset.phash:  # nothing looks like it; `distance` still exists for the sort
        return qs.annotate(distance=Value(0, output_field=IntegerField())).none()
    distance = RawSQL(
        "bit_count(('x' || assets_asset.phash)::bit(64) # ('x' || %s)::bit(64))",
        [asset.phash],
        output_field=IntegerField(),
    )
    return (
        qs.exclude(pk=asset.pk)
        .exclude(phash="")
        .annotate(distance=distance)
        .filter(distance__lte=SIMILAR_WITHIN)
    )


FACETED = ("type", "format", "tags", "metadata")  # the columns facets group by
NOT_SHOWN = ("search_vector",)  # read for matching only: pages never load it


def _facet_parts(schema) -> tuple[list[str], list]:
    """SQL counting the rows of a CTE `s` (FACETED columns) by type, format, top tags and
    each list metadata field's top values: (key, value, n) rows, with their arguments.
    One pass over `s` per facet, by the field's JSON shape (a scalar for single-select,
    an array for multi-select)."""
    top = "GROUP BY 2 ORDER BY 3 DESC, 2 LIMIT %s"
    parts = [
        "SELECT 'type', s.type::text, count(*) FROM s GROUP BY 2",
        "SELECT 'format', s.format::text, count(*) FROM s GROUP BY 2",
        f"(SELECT 'tags', x.v::text, count(*) FROM (SELECT unnest(s.tags) AS v FROM s) x {top})",
    ]
    args: list = [FACET_TAGS]
    for f in schema.fields:
        if f.type == "enum":
            parts.append(
                "(SELECT %s::text, x.v, count(*) FROM (SELECT s.metadata ->> %s AS v FROM s) x"
                f" WHERE x.v IS NOT NULL {top})"
            )
            args += [f"metadata.{f.external_id}", f.external_id, FACET_TAGS]
        elif f.type == "set":
            parts.append(
                "(SELECT %s::text, x.v, count(*) FROM (SELECT jsonb_array_elements_text("
                "s.metadata -> %s) AS v FROM s WHERE jsonb_typeof(s.metadata -> %s) = 'array')"
                f" x {top})"
            )
            args += [f"metadata.{f.external_id}", f.external_id, f.external_id, FACET_TAGS]
    return parts, args


def _facet_dict(rows) -> dict:
    out: dict[str, dict[str, int]] = {"type": {}, "format": {}, "tags": {}}
    for key, value, n in sorted(rows, key=lambda r: (r[0], -r[2], r[1])):
        out.setdefault(key, {})[value] = n
    return out


def facets(qs: QuerySet, schema=None) -> dict:
    """Counts of the assets of `qs` (visible ones: a search's matches, or `find`'s facet
    sample) by type, format, top tags and, for each list metadata field, its top values
    (`metadata.<external ID>`: {value ID: n}), in one query that reads the rows once."""

    if schema is None:
        from metadata import selectors as metadata_selectors

        schema = metadata_selectors.schema_get()
    try:
        sql, params = qs.order_by().values(*FACETED).query.sql_with_params()
    except EmptyResultSet:
        return _facet_dict([])
    parts, args = _facet_parts(schema)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH s AS MATERIALIZED ({sql}) " + " UNION ALL ".join(parts), [*params, *args]
        )
        return _facet_dict(cursor.fetchall())


# -- saved searches ----------------------------------------------------------------------------
SAVED_MAX = 200
SAVED_KEYS = (
    "q", "expression", "type", "format", "tags", "moderation_status", "access_mode",
    "sort", "similar",
)  # fmt: skip


def saved_query(raw: str) -> str:
    """The search's own query string (known keys only, no page), checked: a mistake in
    the expression is refused now, not when someone runs it."""
    from django.http import QueryDict

    from dam.errors import ValidationFailed

    if not isinstance(raw, str) or len(raw) > 3000 or "\x00" in raw:
        raise ValidationFailed("The search is too long to save.", field="query")
    given = QueryDict(raw.lstrip("?"))
    kept = QueryDict(mutable=True)
    for key in SAVED_KEYS:
        value = given.get(key, "").strip()
        if value:
            kept[key] = value
    if not kept:
        raise ValidationFailed("Search for something first, then save it.", field="query")
    try:
        parse(kept.get("expression", ""))
    except QuerySyntaxError as exc:
        raise ValidationFailed(f"The query has a mistake: {exc}", field="query") from None
    return kept.urlencode()


def saved_search_create(*, actor, name, query: str):
    from django.db import IntegrityError, transaction

    from assets.models import SavedSearch
    from dam.errors import Conflict, ValidationFailed
    from dam.services import audit_record

    if not policy.can_use_library(actor):
        raise ValidationFailed("Your role does not search the library.")
    name = (name or "").strip() if isinstance(name, str) else ""
    if not name or len(name) > 100 or "\x00" in name:
        raise ValidationFailed("Name the search (at most 100 characters).", field="name")
    query = saved_query(query)
    if SavedSearch.objects.filter(user=actor).count() >= SAVED_MAX:
        raise Conflict(f"You have {SAVED_MAX} saved searches; delete one first.")
    try:
        with transaction.atomic():
            saved = SavedSearch.objects.create(user=actor, name=name, query=query)
            audit_record(actor=actor, verb="search.save", obj=saved, data={"query": query})
    except IntegrityError:
        raise Conflict(f"You already have a saved search named “{name}”.", field="name") from None
    return saved


def saved_search_delete(*, actor, saved) -> None:
    from dam.services import audit_record

    if saved.user_id != actor.pk:
        from django.http import Http404

        raise Http404("No such saved search.")
    audit_record(actor=actor, verb="search.unsave", obj=saved, data={"name": saved.name})
    saved.delete()
