"""`bench access`: the permission-filtered library pages at scale, restricted users vs admin.

Builds (once; later runs reuse it) a library of --folders folders in a tree up to five
levels deep, --groups groups, --users users and --assets assets whose `ancestors` arrays
are copied from their folders in SQL, then measures with Django's test client, in
process, the library root and a full folder page for three users:

- admin: an admin role, no grants needed (the unfiltered baseline);
- narrow: a media library user with direct grants on two small subtrees;
- broad: a media library user in three groups granted on large subtrees.

It prints a Markdown table (p50/p95 server time, time in SQL, query count), the slowest
query of each page (with EXPLAIN ANALYZE from 5 ms up) and, for the bare SQL of "all my
visible assets, newest first, 48" and its count, timings and EXPLAIN ANALYZE plans that
show how the `ancestors && roots` filter runs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import random
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import django
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management import CommandError
from django.db import connection, transaction
from django.db.models import Count
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse
from django.utils import timezone
from psycopg import sql

from accounts import policy
from accounts.models import FolderGroupGrant, FolderUserGrant, Role, UserStatus
from accounts.policy import Level
from assets.models import Asset, Folder
from dam.management.benchmarks import (
    Benchmark,
    markdown_table,
    median,
    ms,
    percentile,
    positive_int,
    register,
)

# Bump when the generator changes, so an old bench database is rebuilt, not reused.
DATASET_VERSION = 2  # 2: rows written in id order, as uploads arrive
MAX_DEPTH = 5  # folder depths 0..4
LEVELS = (Level.VIEW, Level.CONTRIBUTE, Level.EDIT, Level.MANAGE)
LEVEL_WEIGHTS = (40, 25, 20, 15)
# Where random group grants land, by folder depth: mostly mid-tree, a few top-level.
GRANT_DEPTH_WEIGHTS = (3, 12, 25, 30, 30)
TOP_NAMES = (
    "Marketing",
    "Brand",
    "Product",
    "Sales",
    "Events",
    "Press",
    "Social",
    "Web",
    "Retail",
    "Partners",
    "Photography",
    "Video",
    "Design",
    "People",
    "Legal",
    "Support",
    "Campaigns",
    "Packaging",
    "Internal",
    "Archive",
)
SUB_NAMES = (
    "Campaign",
    "Project",
    "Shoot",
    "Season",
    "Region",
    "Launch",
    "Selects",
    "Finals",
    "Drafts",
    "Masters",
    "Social cuts",
    "Print",
    "Web assets",
    "Lookbook",
    "Event",
)
# (type, format, MIME type, display-name prefix) by asset id % 10.
KINDS = (
    ("image", "jpg", "image/jpeg", "IMG_"),
    ("image", "jpg", "image/jpeg", "IMG_"),
    ("image", "jpg", "image/jpeg", "DSC_"),
    ("image", "png", "image/png", "Graphic "),
    ("image", "png", "image/png", "Banner "),
    ("image", "webp", "image/webp", "Web "),
    ("image", "jpg", "image/jpeg", "Photo "),
    ("video", "mp4", "video/mp4", "Clip "),
    ("video", "mov", "video/quicktime", "Footage "),
    ("raw", "pdf", "application/pdf", "Brochure "),
)
DESIGNATED = ("admin", "narrow", "broad")
# A page's slowest query gets its EXPLAIN ANALYZE printed from this median time up.
SLOW_QUERY_SECONDS = 0.005
USER_COLUMNS = (
    *("id", "email", "first_name", "last_name", "role", "password", "status"),
    *("is_active", "is_superuser", "date_joined"),
)
FOLDER_COLUMNS = (
    *("id", "parent_id", "name", "path", "ancestor_ids", "depth"),
    *("created_by_id", "created_at"),
)


def add_arguments(parser) -> None:
    data = parser.add_argument_group("data set (changing any of these rebuilds it)")
    data.add_argument("--assets", type=positive_int, default=1_000_000, help="default 1000000")
    data.add_argument("--folders", type=positive_int, default=10_000, help="default 10000")
    data.add_argument("--groups", type=positive_int, default=200, help="default 200")
    data.add_argument("--users", type=positive_int, default=1_000, help="default 1000")
    data.add_argument(
        "--top-folders", type=positive_int, default=20, help="top-level folders (default 20)"
    )
    data.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    run = parser.add_argument_group("measurement")
    run.add_argument(
        "--repeat", type=positive_int, default=30, help="timed requests per page (default 30)"
    )
    run.add_argument(
        "--warmup", type=int, default=3, help="untimed requests before timing (default 3)"
    )


def validate(options: dict) -> None:
    if options["users"] < len(DESIGNATED):
        raise CommandError(f"--users must be at least {len(DESIGNATED)} (admin, narrow, broad).")
    if options["groups"] < 3:
        raise CommandError("--groups must be at least 3 (the broad user's groups).")
    if options["folders"] < 2:
        raise CommandError("--folders must be at least 2.")
    if options["warmup"] < 0:
        raise CommandError("--warmup cannot be negative.")


def signature(options: dict) -> dict:
    keys = ("assets", "folders", "groups", "users", "top_folders", "seed")
    return {"benchmark": "access", "version": DATASET_VERSION, **{k: options[k] for k in keys}}


# -- the plan: every row except the assets, decided in Python from the seed --------------
@dataclass(frozen=True)
class PlannedFolder:
    id: int
    parent_id: int | None
    name: str
    path: str
    ancestors: tuple[int, ...]
    depth: int


@dataclass
class Plan:
    folders: list[PlannedFolder] = field(default_factory=list)
    by_depth: list[list[PlannedFolder]] = field(default_factory=list)
    asset_counts: dict[int, int] = field(default_factory=dict)
    users: list[tuple[int, str, str, str, str]] = field(default_factory=list)
    groups: list[tuple[int, str]] = field(default_factory=list)
    memberships: list[tuple[int, int]] = field(default_factory=list)
    group_grants: dict[tuple[int, int], Level] = field(default_factory=dict)
    user_grants: dict[tuple[int, int], Level] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)


def _level_sizes(total: int, top: int) -> list[int]:
    """Folders per depth: `top` roots, then a constant branching factor down to MAX_DEPTH."""
    rest, levels = total - top, MAX_DEPTH - 1
    lo, hi = 0.0, float(max(rest, 1))
    for _ in range(100):
        factor = (lo + hi) / 2
        if top * sum(factor**d for d in range(1, levels + 1)) < rest:
            lo = factor
        else:
            hi = factor
    sizes = [top]
    for depth in range(1, levels + 1):
        if rest <= 0:
            break
        size = rest if depth == levels else min(rest, max(1, round(top * factor**depth)))
        sizes.append(size)
        rest -= size
    return sizes


def make_plan(options: dict) -> Plan:
    rng = random.Random(options["seed"])
    plan = Plan()
    n_folders = options["folders"]
    top = min(options["top_folders"], max(1, n_folders // 5))

    # Folders, breadth first, so ids grow with depth and parents exist before children.
    next_id = 1
    for depth, size in enumerate(_level_sizes(n_folders, top)):
        level = []
        for i in range(size):
            if depth == 0:
                base = TOP_NAMES[i % len(TOP_NAMES)]
                name = base if i < len(TOP_NAMES) else f"{base} {i // len(TOP_NAMES) + 1}"
                folder = PlannedFolder(next_id, None, name, f"/{name}", (next_id,), 0)
            else:
                parent = rng.choice(plan.by_depth[depth - 1])
                name = f"{rng.choice(SUB_NAMES)} {next_id}"
                folder = PlannedFolder(
                    next_id,
                    parent.id,
                    name,
                    f"{parent.path}/{name}",
                    (*parent.ancestors, next_id),
                    depth,
                )
            level.append(folder)
            next_id += 1
        plan.by_depth.append(level)
        plan.folders.extend(level)

    # Assets per folder: log-normal, so some folders are big and many are small.
    n_assets = options["assets"]
    weights = [rng.lognormvariate(0, 1) for _ in plan.folders]
    scale = n_assets / sum(weights)
    exact = [w * scale for w in weights]
    counts = [int(x) for x in exact]
    by_remainder = sorted(range(len(exact)), key=lambda i: exact[i] - counts[i], reverse=True)
    for i in by_remainder[: n_assets - sum(counts)]:
        counts[i] += 1
    plan.asset_counts = {f.id: n for f, n in zip(plan.folders, counts, strict=True) if n}

    # Users: three designated ones, then mostly media library users, every 50th an admin.
    admin_roles = (Role.ADMIN.value, Role.MEDIA_LIBRARY_ADMIN.value, Role.TECHNICAL_ADMIN.value)
    plan.users = [
        (1, "admin@bench.example", "Ada", "Admin", Role.ADMIN.value),
        (2, "narrow@bench.example", "Nora", "Narrow", Role.MEDIA_LIBRARY_USER.value),
        (3, "broad@bench.example", "Bruno", "Broad", Role.MEDIA_LIBRARY_USER.value),
    ]
    plan.ids = dict(zip(DESIGNATED, (1, 2, 3), strict=True))
    for uid in range(4, options["users"] + 1):
        role = admin_roles[uid // 50 % 3] if uid % 50 == 0 else Role.MEDIA_LIBRARY_USER.value
        plan.users.append((uid, f"user{uid:05d}@bench.example", "Bench", f"User {uid}", role))

    n_groups = options["groups"]
    plan.groups = [(gid, f"Team {gid:03d}") for gid in range(1, n_groups + 1)]
    broad_groups = (1, 2, 3)
    plan.memberships = [(plan.ids["broad"], gid) for gid in broad_groups]
    for uid in range(4, options["users"] + 1):
        k = min(n_groups, rng.randint(1, 5))
        plan.memberships += [(uid, gid) for gid in rng.sample(range(1, n_groups + 1), k)]

    _plan_grants(plan, rng, n_groups, broad_groups, options["users"])
    return plan


def _plan_grants(plan: Plan, rng, n_groups: int, broad_groups, n_users: int) -> None:
    depths = plan.by_depth
    tops = depths[0]
    d1 = depths[1] if len(depths) > 1 else []
    d2 = depths[2] if len(depths) > 2 else []

    def outside(folders, roots):
        return [f for f in folders if not set(f.ancestors) & set(roots)]

    # The broad user's groups: whole top-level folders plus several large subtrees.
    g1, g2, g3 = broad_groups
    big = [f.id for f in tops[:3]]
    tiers = ((g1, Level.MANAGE), (g1, Level.EDIT), (g2, Level.VIEW))
    for (gid, level), folder in zip(tiers, tops[:3], strict=False):
        plan.group_grants[gid, folder.id] = level
    second = outside(d1, big)[:2]
    for folder in second:
        plan.group_grants[g2, folder.id] = Level.CONTRIBUTE
    for folder in outside(d2, big + [f.id for f in second])[:4]:
        plan.group_grants[g3, folder.id] = Level.VIEW
    inside = [f for f in d1 if tops and f.ancestors[0] == tops[0].id][:1]
    for folder in inside:  # redundant under g1's grant: the policy collapses it
        plan.group_grants[g3, folder.id] = Level.EDIT

    # The narrow user: direct grants on the two fullest folders one level above the leaves.
    deepest = max(0, len(depths) - 2)
    fullest = sorted(depths[deepest], key=lambda f: (-plan.asset_counts.get(f.id, 0), f.id))
    chosen = fullest[:1]
    chosen += [f for f in fullest[1:] if f.ancestors[0] != chosen[0].ancestors[0]][:1]
    for folder, level in zip(chosen, (Level.VIEW, Level.CONTRIBUTE), strict=False):
        plan.user_grants[plan.ids["narrow"], folder.id] = level

    # Every other group: three to seven grants on random folders at random levels.
    weights = GRANT_DEPTH_WEIGHTS[: len(depths)]
    for gid in range(4, n_groups + 1):
        for _ in range(rng.randint(3, 7)):
            depth = rng.choices(range(len(weights)), weights)[0]
            folder = rng.choice(depths[depth])
            plan.group_grants[gid, folder.id] = rng.choices(LEVELS, LEVEL_WEIGHTS)[0]

    # One media library user in ten also has one or two direct grants, deeper down.
    deep = [f for level in depths[2:] for f in level] or plan.folders
    for uid, _email, _first, _last, role in plan.users[3:]:
        if role == Role.MEDIA_LIBRARY_USER and rng.random() < 0.1:
            for _ in range(rng.randint(1, 2)):
                folder = rng.choice(deep)
                plan.user_grants[uid, folder.id] = rng.choices(LEVELS, LEVEL_WEIGHTS)[0]


# -- the build: COPY for the plan, one INSERT ... SELECT for the assets ---------------------
def _missing_defaults(model, provided: Iterable[str]) -> tuple[list[str], list]:
    """NOT NULL columns the build does not set itself, with their model defaults.

    Keeps the build working when someone adds a column with a default to these models.
    """
    provided = set(provided)
    columns, values = [], []
    for f in model._meta.local_concrete_fields:
        if f.column in provided or f.null or f.primary_key or f.has_db_default():
            continue
        if f.has_default():
            value = f.get_default()
        elif getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            value = timezone.now()
        elif f.empty_strings_allowed:
            value = ""
        else:
            raise CommandError(
                f"bench access does not know how to fill {model.__name__}.{f.name} (NOT NULL, "
                "no default); teach dam/management/benchmarks/access.py about it."
            )
        columns.append(f.column)
        values.append(f.get_db_prep_save(value, connection))
    return columns, values


def _copy(cursor, model, columns: Sequence[str], rows: Iterable[Sequence]) -> int:
    extra_columns, extra_values = _missing_defaults(model, columns)
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(model._meta.db_table),
        sql.SQL(", ").join(map(sql.Identifier, [*columns, *extra_columns])),
    )
    n = 0
    with cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row((*row, *extra_values))
            n += 1
    return n


def _reset_sequence(cursor, model) -> None:
    table = model._meta.db_table
    cursor.execute(
        sql.SQL("SELECT setval(pg_get_serial_sequence(%s, 'id'), max(id)) FROM {}").format(
            sql.Identifier(table)
        ),
        [table],
    )


def _drop_secondary_indexes(cursor, table: str) -> list[str]:
    """Drop the indexes no constraint owns; return their definitions to recreate."""
    cursor.execute(
        "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i"
        " JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = %s::regclass"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)",
        [table],
    )
    rows = cursor.fetchall()
    for name, _definition in rows:
        cursor.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
    return [definition for _name, definition in rows]


def _drop_foreign_keys(cursor, table: str) -> list[tuple[str, str]]:
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid = %s::regclass AND contype = 'f'",
        [table],
    )
    rows = cursor.fetchall()
    for name, _definition in rows:
        cursor.execute(
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                sql.Identifier(table), sql.Identifier(name)
            )
        )
    return rows


class _Steps:
    """`with step("label"):` times a build step and prints it."""

    def __init__(self, say) -> None:
        self.say = say
        self.times: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, label: str):
        start = time.perf_counter()
        yield
        self.record(label, time.perf_counter() - start)

    def record(self, label: str, seconds: float) -> None:
        self.times[label] = round(seconds, 2)
        self.say(f"  {label}: {seconds:.1f} s")


def build(
    plan: Plan, options: dict, say, asset_columns: dict | None = None, before_assets=None
) -> dict:
    """Load the plan. `asset_columns` overrides the SQL expressions of asset columns (see
    `_insert_assets`), e.g. `bench search` gives its assets words, tags and metadata;
    `before_assets()` runs once the users and folders exist (its metadata fields)."""
    User = get_user_model()
    memberships = User.groups.through
    permission = {
        level: Permission.objects.get(content_type__app_label="assets", codename=level.codename).pk
        for level in LEVELS
    }
    now = timezone.now()
    step = _Steps(say)
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as wrapper:
        cursor = wrapper.cursor  # psycopg's own cursor, for COPY
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        cursor.execute("SET LOCAL jit = off")  # compiling costs more than it saves here
        with step(f"users, groups, memberships ({len(plan.memberships):,})"):
            _copy(
                cursor,
                User,
                USER_COLUMNS,
                (
                    (*u, "!bench-no-login", UserStatus.ACTIVE.value, True, False, now)
                    for u in plan.users
                ),
            )
            _copy(cursor, Group, ["id", "name"], plan.groups)
            _copy(cursor, memberships, ["user_id", "group_id"], plan.memberships)
        with step(f"folders ({len(plan.folders):,})"):
            _copy(
                cursor,
                Folder,
                FOLDER_COLUMNS,
                (
                    (f.id, f.parent_id, f.name, f.path, list(f.ancestors), f.depth, 1, now)
                    for f in plan.folders
                ),
            )
        with step(f"grants ({len(plan.group_grants):,} group, {len(plan.user_grants):,} user)"):
            _copy(
                cursor,
                FolderGroupGrant,
                ["group_id", "content_object_id", "permission_id"],
                ((g, f, permission[lv]) for (g, f), lv in plan.group_grants.items()),
            )
            _copy(
                cursor,
                FolderUserGrant,
                ["user_id", "content_object_id", "permission_id"],
                ((u, f, permission[lv]) for (u, f), lv in plan.user_grants.items()),
            )
            for model in (User, Group, Folder):
                _reset_sequence(cursor, model)
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # check the small tables now

        if before_assets is not None:
            before_assets()
        table = Asset._meta.db_table
        with step(f"assets ({options['assets']:,}, indexes and foreign keys off)"):
            indexes = _drop_secondary_indexes(cursor, table)
            foreign_keys = _drop_foreign_keys(cursor, table)
            _insert_assets(cursor, plan, options, now, asset_columns or {})
            _reset_sequence(cursor, Asset)
        with step(f"asset indexes ({len(indexes)}) and foreign keys ({len(foreign_keys)})"):
            for definition in indexes:
                cursor.execute(definition)
            for name, definition in foreign_keys:
                cursor.execute(
                    sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
                        sql.Identifier(table), sql.Identifier(name), sql.SQL(definition)
                    )
                )
        committing = time.perf_counter()
    step.record("commit", time.perf_counter() - committing)
    with step("vacuum analyze"), connection.cursor() as cursor:
        for model in (User, Group, memberships, Folder, FolderGroupGrant, FolderUserGrant, Asset):
            cursor.execute(
                sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(model._meta.db_table))
            )
    # A list, not a dict: jsonb does not keep key order.
    steps = list(step.times.items())
    return {"build_seconds": round(time.perf_counter() - started, 1), "steps": steps}


def _insert_assets(cursor, plan: Plan, options: dict, now, overrides: dict) -> None:
    """One INSERT ... SELECT of every asset. Column expressions may use `t.id` (1..n, in
    creation order), `t.folder_id`, `t.created_at`, `k.type`/`k.format`/`k.prefix` (the
    kind, by id % 10) and random() (seeded); `%%` is a literal percent sign. Rows are
    written in id order, so the table lies in creation order as a library's uploads do
    (not grouped by kind, which would cluster each type and metadata value on disk)."""
    cursor.execute(
        "CREATE TEMP TABLE bench_asset_counts (folder_id bigint, n integer) ON COMMIT DROP"
    )
    with cursor.copy("COPY bench_asset_counts (folder_id, n) FROM STDIN") as copy:
        for item in plan.asset_counts.items():
            copy.write_row(item)
    cursor.execute("ANALYZE bench_asset_counts")
    cursor.execute(
        "CREATE TEMP TABLE bench_kinds (k integer, type text, format text, mime text,"
        " prefix text) ON COMMIT DROP"
    )
    with cursor.copy("COPY bench_kinds (k, type, format, mime, prefix) FROM STDIN") as copy:
        for k, kind in enumerate(KINDS):
            copy.write_row((k, *kind))
    cursor.execute("SELECT setseed(%s)", [(options["seed"] % 1000) / 1000])

    exprs = {
        "id": "t.id",
        "public_id": "'bench-' || lpad(t.id::text, 8, '0')",
        "display_name": "k.prefix || lpad(t.id::text, 7, '0')",
        "folder_id": "t.folder_id",
        "ancestors": "t.ancestor_ids",
        "type": "k.type",
        "format": "k.format",
        "mime_type": "k.mime",
        "original_filename": "k.prefix || lpad(t.id::text, 7, '0') || '.' || k.format",
        "bytes": "20000 + (t.id * 7919) %% 9000000",
        "width": "CASE WHEN k.type = 'raw' THEN NULL ELSE 640 + (t.id * 37) %% 5000 END",
        "height": "CASE WHEN k.type = 'raw' THEN NULL ELSE 480 + (t.id * 53) %% 3000 END",
        "duration": "CASE WHEN k.type = 'video' THEN 5 + t.id %% 300 END",
        "tags": "ARRAY['tag-' || t.id %% 97, 'topic-' || t.id %% 13]::varchar(100)[]",
        "metadata": "'{}'::jsonb",
        "context": "'{}'::jsonb",
        "access_mode": "CASE WHEN t.id %% 10 = 3 THEN 'restricted' ELSE 'public' END",
        "moderation_status": (
            "CASE WHEN t.id %% 10 = 0 THEN 'approved' WHEN t.id %% 50 = 1 THEN 'pending'"
            " ELSE 'not_moderated' END"
        ),
        "processing_status": "'ready'",
        "processing_error": "''",
        "version": "1",
        "created_by_id": "1 + (t.id * 7) %% %(users)s",
        "created_at": "t.created_at",
        "updated_at": "t.created_at",
        **overrides,
    }
    extra_columns, extra_values = _missing_defaults(Asset, exprs)
    params = {"users": options["users"], "start": now - timedelta(days=3 * 365)}
    params["span"] = now - params["start"]
    for i, (column, value) in enumerate(zip(extra_columns, extra_values, strict=True)):
        exprs[column] = f"%(extra{i})s"
        params[f"extra{i}"] = value
    statement = f"""
        INSERT INTO {connection.ops.quote_name(Asset._meta.db_table)}
            ({", ".join(connection.ops.quote_name(c) for c in exprs)})
        SELECT {", ".join(exprs.values())}
        FROM (
            SELECT row_number() OVER (ORDER BY s.created_at, s.folder_id, s.g) AS id,
                   s.folder_id, s.ancestor_ids, s.created_at
            FROM (
                SELECT f.id AS folder_id, f.ancestor_ids, g.g,
                       %(start)s::timestamptz + random() * %(span)s::interval AS created_at
                FROM bench_asset_counts c
                JOIN {connection.ops.quote_name(Folder._meta.db_table)} f ON f.id = c.folder_id
                CROSS JOIN LATERAL generate_series(1, c.n) AS g(g)
            ) s
        ) t
        JOIN bench_kinds k ON k.k = t.id %% 10
        ORDER BY t.id
    """
    cursor.execute(statement, params)


# -- measuring ---------------------------------------------------------------------------
def _counts() -> dict[str, int]:
    User = get_user_model()
    return {
        "assets": Asset._base_manager.count(),
        "folders": Folder._base_manager.count(),
        "groups": Group.objects.count(),
        "users": User._base_manager.count(),
    }


def _sizes() -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_total_relation_size(%s::regclass),"
            " coalesce(pg_relation_size(to_regclass('asset_ancestors_gin')), 0),"
            " pg_database_size(current_database())",
            [Asset._meta.db_table],
        )
        table, gin, database = cursor.fetchone()
    folders = Folder._base_manager
    return {
        "asset_table": table,
        "ancestors_gin": gin,
        "database": database,
        "group_grants": FolderGroupGrant.objects.count(),
        "user_grants": FolderUserGrant.objects.count(),
        "max_depth": max(folders.values_list("depth", flat=True), default=0),
        "top_folders": folders.filter(parent__isnull=True).count(),
    }


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:,.0f} MB"


@dataclass
class PageResult:
    samples: list[float]
    sql_samples: list[float]
    queries: list[str]
    slowest: tuple[float, str] | None


def _time_page(user, url: str, options: dict) -> PageResult:
    """Warm up, then time `repeat` requests (and the SQL inside them), then count queries."""
    client = Client()
    client.force_login(user)
    secure = bool(settings.SECURE_SSL_REDIRECT)

    def get():
        response = client.get(url, secure=secure)
        if response.status_code != 200:
            raise CommandError(f"GET {url} as {user.email} answered {response.status_code}.")

    per_query: list[float] = []

    def timed_execute(execute, sql_text, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql_text, params, many, context)
        finally:
            per_query.append(time.perf_counter() - start)

    for _ in range(options["warmup"]):
        get()
    samples, sql_samples, by_position = [], [], []
    with connection.execute_wrapper(timed_execute):
        for _ in range(options["repeat"]):
            per_query.clear()
            start = time.perf_counter()
            get()
            samples.append(time.perf_counter() - start)
            sql_samples.append(sum(per_query))
            by_position.append(list(per_query))
    with CaptureQueriesContext(connection) as captured:
        get()
    queries = [q["sql"] for q in captured.captured_queries]
    slowest = None
    if by_position and all(len(times) == len(queries) for times in by_position):
        medians = [median(times) for times in zip(*by_position, strict=True)]
        if medians:
            i = max(range(len(medians)), key=medians.__getitem__)
            slowest = (medians[i], queries[i])
    return PageResult(samples, sql_samples, queries, slowest)


def _fullest_visible(user, ranked: list[tuple[int, int]], chains: dict[int, list[int]]):
    """The visible folder holding the most assets directly (so its grid page is full)."""
    access = policy.access_for(user)
    for folder_id, n in ranked:
        if access.level_on_chain(chains[folder_id]) >= Level.VIEW:
            return folder_id, n
    return None, 0


_SCAN = re.compile(r"^\s*(?:->\s*)?(.*?(?:Scan|BitmapAnd|BitmapOr).*?)\s+\(cost=", re.M)


def _explain_sql(query: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {query}")
        return "\n".join(row[0] for row in cursor.fetchall())


def _explain(run) -> tuple[str, str]:
    """Run the ORM call once capturing its SQL, then EXPLAIN ANALYZE exactly that SQL."""
    with CaptureQueriesContext(connection) as captured:
        run()
    query = captured.captured_queries[-1]["sql"]
    return query, _explain_sql(query)


def _timed(run, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return median(samples)


def _plan_summary(plan: str) -> str:
    scans = [m.group(1) for m in _SCAN.finditer(plan)]
    return "; ".join(dict.fromkeys(scans)) or "no scan"


def _short(query: str, limit: int = 240) -> str:
    """A query for a table cell: the SELECT list elided, at most `limit` characters."""
    query = re.sub(r"^SELECT .*? FROM ", "SELECT … FROM ", query, count=1)
    query = query.replace("|", "\\|")
    return query if len(query) <= limit else query[: limit - 1] + "…"


def measure(options: dict, info: dict, say) -> None:
    from assets import views as asset_views

    page_size = getattr(asset_views, "PAGE_SIZE", 48)
    User = get_user_model()
    users = {who: User.objects.get(pk=info["ids"][who]) for who in DESIGNATED}
    ranked = list(
        Asset.objects.values_list("folder_id")
        .annotate(n=Count("pk"))
        .order_by("-n", "folder_id")
        .values_list("folder_id", "n")
    )
    chains = dict(Folder.objects.values_list("id", "ancestor_ids"))
    folder_of = {who: _fullest_visible(users[who], ranked, chains) for who in ("narrow", "broad")}

    root = reverse("assets:library")
    cases = [
        ("admin", root),
        ("admin", folder_of["broad"]),
        ("admin", folder_of["narrow"]),
        ("narrow", root),
        ("narrow", folder_of["narrow"]),
        ("broad", root),
        ("broad", folder_of["broad"]),
    ]
    rows, slow = [], []
    load_before = os.getloadavg()[0]
    say("")
    say(f"Measuring {len(cases)} pages, {options['warmup']} + {options['repeat']} requests each…")
    with override_settings(ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "testserver"]):
        for who, page in cases:
            if isinstance(page, tuple):
                folder_id, n = page
                if folder_id is None:
                    continue
                url = reverse("assets:folder", args=[folder_id])
                label = f"folder `{url}` ({n:,} assets, {min(n, page_size)} tiles)"
            else:
                url, label = page, f"root `{page}`"
            result = _time_page(users[who], url, options)
            rows.append(
                (
                    who,
                    label,
                    ms(median(result.samples)),
                    ms(percentile(result.samples, 95)),
                    ms(median(result.sql_samples)),
                    len(result.queries),
                )
            )
            if result.slowest:
                slow.append((who, url, *result.slowest))
    load_after = os.getloadavg()[0]

    # The bare SQL of the permission filter: all my visible assets, newest first.
    sql_rows, plans = [], []
    for who in DESIGNATED:
        user = users[who]
        visible = policy.visible_assets(user).order_by("-created_at", "-id")
        roots = policy.access_for(user).root_ids()
        first = _explain(lambda v=visible: list(v[:page_size]))
        counted = _explain(lambda v=visible: v.count())
        n_visible = visible.count()
        list_ms = _timed(lambda v=visible: list(v[:page_size]), options["repeat"])
        count_ms = _timed(lambda v=visible: v.count(), max(3, options["repeat"] // 3))
        sql_rows.append(
            (
                who,
                "all (admin)" if policy.is_admin_role(user) else len(roots),
                f"{n_visible:,} ({n_visible / max(1, info['counts']['assets']):.1%})",
                ms(list_ms),
                _plan_summary(first[1]),
                ms(count_ms),
                _plan_summary(counted[1]),
                "yes" if "asset_ancestors_gin" in first[1] + counted[1] else "no",
            )
        )
        if who != "admin":
            plans.append((f"{who}, all visible assets, newest {page_size}", *first))
            plans.append((f"{who}, count of all visible assets", *counted))

    # The slowest query of each page, explained when it is worth a look.
    slow_rows = []
    for who, url, seconds, query in slow:
        slow_rows.append((who, f"`{url}`", ms(seconds), f"`{_short(query)}`"))
        if seconds >= SLOW_QUERY_SECONDS:
            plans.append((f"{who}, slowest query of {url}", query, _explain_sql(query)))
    load = (load_before, load_after)
    _report(options, info, rows, sql_rows, slow_rows, plans, load, say)


def _report(options, info, rows, sql_rows, slow_rows, plans, load, say) -> None:
    counts, sizes = info["counts"], info["sizes"]
    grants = info["grants"]
    say("")
    say("## bench access")
    say("")
    say(
        f"Data: {counts['assets']:,} assets in {counts['folders']:,} folders "
        f"({sizes['top_folders']} top-level, depth 0–{sizes['max_depth']}), "
        f"{counts['groups']:,} groups, {counts['users']:,} users "
        f"({info['admin_roles']} with admin roles), {info['memberships']:,} group "
        f"memberships, {sizes['group_grants']:,} group grants, {sizes['user_grants']:,} direct "
        f"user grants. Asset table {_mb(sizes['asset_table'])} (ancestors GIN index "
        f"{_mb(sizes['ancestors_gin'])}), database {_mb(sizes['database'])}."
    )
    reuse = f" (reused; built {info['built_at']})" if info.get("reused") else ""
    steps = "; ".join(f"{label} {seconds:.1f} s" for label, seconds in info["steps"])
    say(f"Build time: {info['build_seconds']:.1f} s{reuse}: {steps}.")
    say(
        f"Server time per request, in process (Django test client, force_login): "
        f'{options["repeat"]} requests after {options["warmup"]} warm-ups; "SQL ms" is the '
        f"median time spent in queries. PostgreSQL {connection.pg_version // 10000}, Django "
        f"{django.get_version()}, Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"load average {load[0]:.1f} before and {load[1]:.1f} after measuring."
    )
    say("")
    say(
        markdown_table(
            ("user", "page", "p50 ms", "p95 ms", "SQL ms", "queries"), rows, numeric={2, 3, 4, 5}
        )
    )
    say("")
    say(
        "Users: **admin** has an admin role (no filter); **narrow** is a media library user "
        f"with {grants['narrow']} direct grants on small subtrees "
        f"({info['roots']['narrow']} roots); **broad** is a media library user in "
        f"{grants['broad_groups']} groups with {grants['broad']} grants on large subtrees "
        f"({info['roots']['broad']} roots after collapsing)."
    )
    say("")
    say("Slowest query of each page (median):")
    say("")
    say(markdown_table(("user", "page", "ms", "query"), slow_rows, numeric={2}))
    say("")
    say("Permission-filtered asset list, SQL only (all visible assets, newest first):")
    say("")
    say(
        markdown_table(
            ("user", "roots", "visible assets", "newest ms", "plan", "count ms", "plan", "GIN"),
            sql_rows,
            numeric={3, 5},
        )
    )
    for title, query, plan in plans:
        say("")
        say(f"EXPLAIN (ANALYZE, BUFFERS), {title}:")
        say("")
        say("```")
        say(query)
        say(plan)
        say("```")


def run(out, options: dict, db) -> None:
    say = out.write
    # force_login fires user_logged_in; django-axes logs every one at INFO.
    logging.getLogger("axes").setLevel(logging.WARNING)
    wanted = signature(options)
    info = db.built(wanted)
    if info is not None:
        db.migrate()  # new migrations apply to the reused data
        expected = {k: options[k] for k in ("assets", "folders", "groups", "users")}
        if _counts() != expected:
            say("Row counts differ from the recorded data set; rebuilding.")
            info = None
    if info is None:
        say(f"Building the data set in {db.name}…")
        db.reset()
        db.migrate()
        started = time.perf_counter()
        plan = make_plan(options)
        say(f"  plan: {time.perf_counter() - started:.1f} s")
        built = build(plan, options, say)
        built["build_seconds"] = round(time.perf_counter() - started, 1)
        info = {
            **built,
            "ids": plan.ids,
            "memberships": len(plan.memberships),
            "admin_roles": sum(1 for u in plan.users if u[4] != Role.MEDIA_LIBRARY_USER),
            "grants": {
                "narrow": sum(1 for (u, _f) in plan.user_grants if u == plan.ids["narrow"]),
                "broad": sum(1 for (g, _f) in plan.group_grants if g in (1, 2, 3)),
                "broad_groups": 3,
            },
        }
        db.mark_built(wanted, info)
        say(f"Built in {info['build_seconds']:.1f} s.")
        info["reused"] = False
    else:
        info["reused"] = True
        say(f"Reusing the data set in {db.name} (built {info['built_at']}).")
    User = get_user_model()
    info["counts"] = _counts()
    info["sizes"] = _sizes()
    info["roots"] = {
        who: len(policy.access_for(User.objects.get(pk=info["ids"][who])).root_ids())
        for who in ("narrow", "broad")
    }
    measure(options, info, say)


register(
    Benchmark(
        name="access",
        help=(
            "Build 10,000 folders, 200 groups, 1,000 users and 1,000,000 assets in a bench "
            "database and time the library pages of restricted users against an admin."
        ),
        add_arguments=add_arguments,
        run=run,
        validate=validate,
    )
)
