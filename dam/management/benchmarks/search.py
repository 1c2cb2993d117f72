"""`bench search`: search at 10,000 and at 1,000,000 assets, restricted users vs admin.

The library is `bench access`'s (folders in a tree, groups, users, grants; the same three
users: admin, narrow, broad), with searchable assets: names and file names from a skewed
vocabulary (some words common, some rare), three tags each (one of 200 on a power law,
a topic, a word), and structured metadata in six fields (a region list, a channels
multi-list, a licence-expiry date, a budget number, a photographer and a description).
The database triggers keep every asset's search vector while it is inserted.

With --small N (default 10,000) the command first builds and measures an N-asset library
with the same folders, users and grants in a second database (`<name>_small`), then the
--assets one, and prints one table: p50/p95 server time of each typical query (the JSON
API, in process, with the count and facets it answers with) per user and size, the
growth from the small to the large library and each restricted user's p95 against the
admin's, followed by the three targets of issue 8 and whether they hold.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import time
from urllib.parse import urlencode

import django
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import CommandError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings

from dam.management.benchmarks import (
    Benchmark,
    access,
    markdown_table,
    median,
    ms,
    percentile,
    register,
)
from dam.management.benchmarks import database as bench_db

DATASET_VERSION = 3  # 2: rows written in id order; 3: text metadata indexed as written
RESULT_PREFIX = "@@bench-search-result "
USERS = access.DESIGNATED  # admin, narrow, broad
WORDS = (
    "sunset", "beach", "mountain", "city", "portrait", "team", "office", "product",
    "launch", "summer", "winter", "spring", "autumn", "coffee", "night", "river",
    "forest", "studio", "festival", "harbour", "market", "skyline", "garden", "bridge",
    "desert", "island", "lake", "meadow", "museum", "ocean", "park", "rain", "road",
    "snow", "stadium", "street", "temple", "tower", "valley", "village", "waterfall",
    "workshop", "airport", "bakery", "canyon", "castle", "glacier", "kitchen",
)  # fmt: skip
REGIONS = ("emea", "amer", "apac", "latam")
CHANNELS = ("web", "print", "social", "email", "tv", "outdoor", "retail", "events")
PHOTOGRAPHERS = (
    "Ana Silva", "Ben Okafor", "Chen Wei", "Dana Kowalski", "Eli Haddad",
    "Fatima Noor", "Gus Larsen", "Hana Sato", "Ivan Petrov", "Jade Moreau",
)  # fmt: skip
# The typical queries: (label, API query string parameters).
QUERIES = (
    ("text, a common word", {"q": "sunset"}),
    ("text as you type (prefix)", {"q": "mou"}),
    ("text, two words", {"q": "beach summer"}),
    ("text, a rare word, best match first", {"q": "kitchen", "sort": "relevance"}),
    ("a tag", {"tags": "tag-5"}),
    ("a list metadata value", {"expression": "metadata.region=emea"}),
    ("a text metadata value, any case", {"expression": 'metadata.photographer="ana silva"'}),
    (
        "metadata number and date ranges",
        {"expression": "metadata.budget>=50000 AND metadata.license_expiry<2027-01-01"},
    ),
    ("tags, type and age", {"expression": "tags:tag-1 AND type:image AND created_at>90d"}),
    (
        "OR, NOT, size",
        {
            "expression": "(metadata.channels:social OR metadata.channels:print) "
            "AND NOT format:png AND bytes>1MB"
        },
    ),
    ("all videos, by name", {"type": "video", "sort": "display_name"}),
)
PAGE_SIZE = 48
# As the search page asks: a page of 48, matches counted up to 1,000 (the API's default
# counts every match: its time grows with the matches, see the README).
BOUNDED = {"page_size": PAGE_SIZE, "exact_count": "false"}
# Issue 8's targets.
RESTRICTED_VS_ADMIN = 1.3
NARROW_VS_BROAD = 3.0
GROWTH = 3.0


def add_arguments(parser) -> None:
    access.add_arguments(parser)
    parser.add_argument(
        "--small",
        type=int,
        default=10_000,
        help="also build and measure a library of this many assets first, in "
        "<database>_small, and compare (default 10000; 0: only --assets)",
    )


def validate(options: dict) -> None:
    access.validate(options)
    if options["small"] < 0:
        raise CommandError("--small cannot be negative.")
    if options["small"] and options["small"] >= options["assets"]:
        raise CommandError("--small must be fewer assets than --assets.")


def signature(options: dict) -> dict:
    return {**access.signature(options), "benchmark": "search", "version": DATASET_VERSION}


# -- the data set -------------------------------------------------------------------------
def _pick(values, skew: float = 2.0) -> str:
    """SQL picking one of `values` per row, the first ones most often (power law)."""
    literal = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
    return f"(ARRAY[{literal}])[1 + floor(power(random(), {skew}) * {len(values)})::int]"


def _cycle(values, over: str = "t.id") -> str:
    literal = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
    return f"(ARRAY[{literal}])[1 + ({over}) %% {len(values)}]"


def asset_columns() -> dict[str, str]:
    word = _pick(WORDS)
    return {
        "display_name": f"initcap({word}) || ' ' || {word} || ' ' || t.id",
        "original_filename": f"{word} || '_' || lpad(t.id::text, 7, '0') || '.' || k.format",
        "tags": (
            "ARRAY['tag-' || floor(power(random(), 3) * 200)::int, 'topic-' || t.id %% 13, "
            f"{word}]::varchar(100)[]"
        ),
        "metadata": (
            "jsonb_build_object("
            f"'region', {_cycle(REGIONS)}, "
            f"'channels', jsonb_build_array({_cycle(CHANNELS)}, "
            f"{_cycle(CHANNELS, 't.id / 8 + 3')}), "
            "'license_expiry', to_char(date '2026-01-01' + (t.id * 7 %% 1095)::int, "
            "'YYYY-MM-DD'), "
            "'budget', (t.id * 7919) %% 100000, "
            f"'photographer', {_cycle(PHOTOGRAPHERS, 't.id / 3')}, "
            f"'description', {word} || ' and ' || {word} || ' for the ' || {word} "
            "|| ' campaign')"
        ),
    }


def _fields(admin) -> None:
    from accounts.models import Role
    from metadata import services

    admin.role = Role.MASTER_ADMIN  # in memory only: master admins define fields

    def values(ids):
        return [{"external_id": v, "label": v.upper() if len(v) <= 4 else v.title()} for v in ids]

    services.field_create(
        actor=admin, label="Region", type="enum", external_id="region", values=values(REGIONS)
    )
    services.field_create(
        actor=admin, label="Channels", type="set", external_id="channels", values=values(CHANNELS)
    )
    services.field_create(
        actor=admin, label="Licence expiry", type="date", external_id="license_expiry"
    )
    services.field_create(actor=admin, label="Budget", type="number", external_id="budget")
    services.field_create(
        actor=admin, label="Photographer", type="string", external_id="photographer"
    )
    services.field_create(
        actor=admin, label="Description", type="string", external_id="description"
    )


def _build(options: dict, db, say) -> dict:
    wanted = signature(options)
    info = db.built(wanted)
    if info is not None:
        db.migrate()
        expected = {k: options[k] for k in ("assets", "folders", "groups", "users")}
        if access._counts() == expected:
            say(f"Reusing the data set in {db.name} (built {info['built_at']}).")
            return {**info, "reused": True}
        say("Row counts differ from the recorded data set; rebuilding.")
    say(f"Building {options['assets']:,} searchable assets in {db.name}…")
    db.reset()
    db.migrate()
    started = time.perf_counter()
    plan = access.make_plan(options)
    built = access.build(  # fields first: the search trigger indexes text values
        plan,
        options,
        say,
        asset_columns(),
        before_assets=lambda: _fields(get_user_model().objects.get(pk=plan.ids["admin"])),
    )
    info = {
        "steps": built["steps"],
        "build_seconds": round(time.perf_counter() - started, 1),
        "ids": plan.ids,
    }
    db.mark_built(wanted, info)
    say(f"Built in {info['build_seconds']:.1f} s.")
    return {**info, "reused": False}


# -- measuring ------------------------------------------------------------------------------
def _get(client: Client, url: str):
    response = client.get(url, secure=bool(settings.SECURE_SSL_REDIRECT))
    if response.status_code != 200:
        raise CommandError(f"GET {url} answered {response.status_code}: {response.content}")
    return response


def measure(options: dict, info: dict, say) -> dict:
    """Time every (user, query) pair in rounds: each round runs every pair once, so a
    slow moment of the machine falls on all of them alike, not on one user's block."""
    User = get_user_model()
    users = {who: User.objects.get(pk=info["ids"][who]) for who in USERS}
    clients = {}
    for who in USERS:
        clients[who] = Client()
        clients[who].force_login(users[who])
    pairs = [
        (who, label, f"/api/v1/search?{urlencode({**params, **BOUNDED})}")
        for who in USERS
        for label, params in QUERIES
    ]
    say(f"Measuring {len(QUERIES)} queries × {len(USERS)} users, "
        f"{options['warmup']} + {options['repeat']} rounds…")  # fmt: skip
    samples: dict[str, list[float]] = {f"{label}|{who}": [] for who, label, _url in pairs}
    results = {}
    with override_settings(ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "testserver"]):
        for _ in range(options["warmup"]):
            for who, _label, url in pairs:
                _get(clients[who], url)
        for _ in range(options["repeat"]):
            for who, label, url in pairs:
                start = time.perf_counter()
                _get(clients[who], url)
                samples[f"{label}|{who}"].append(time.perf_counter() - start)
        for who, label, url in pairs:
            with CaptureQueriesContext(connection) as captured:
                body = _get(clients[who], url).json()
            times = samples[f"{label}|{who}"]
            results[f"{label}|{who}"] = {
                "p50": median(times),
                "p95": percentile(times, 95),
                "queries": len(captured.captured_queries),
                "count": body["count"],
                "exact": body["count_exact"],
            }
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_database_size(current_database()), current_setting('shared_buffers'), "
            "pg_table_size('assets_asset')"
        )
        size, shared_buffers, table = cursor.fetchone()
    return {
        "assets": access._counts()["assets"],
        "visible": {who: _visible(users[who]) for who in USERS},
        "results": results,
        "database_mb": round(size / 1024 / 1024),
        "table_mb": round(table / 1024 / 1024),
        "shared_buffers": shared_buffers,
        "build_seconds": info["build_seconds"],
        "reused": info["reused"],
        "load": os.getloadavg()[0],
    }


def _visible(user) -> int:
    from accounts import policy
    from accounts.policy import Level

    return policy.visible_assets(user, minimum=Level.COLLECTION).count()


# -- the report -------------------------------------------------------------------------------
def _count(r: dict) -> str:
    return f"{r['count']:,}" if r["exact"] else f"{r['count']:,}+"


def report(sizes: list[dict], options: dict, say) -> None:
    small, large = (sizes[0], sizes[-1]) if len(sizes) > 1 else (None, sizes[0])
    say("")
    say("## bench search")
    say("")
    parts = []
    for s in sizes:
        seen = ", ".join(f"{who} {s['visible'][who]:,}" for who in USERS)
        built = "reused" if s["reused"] else f"built in {s['build_seconds']:.0f} s"
        parts.append(
            f"{s['assets']:,} assets (visible: {seen}; database {s['database_mb']:,} MB, {built})"
        )
    say(
        f"Data: {' and '.join(parts)}, in {options['folders']:,} folders with "
        f"{options['groups']} groups and {options['users']:,} users. Server time of "
        f"`GET /api/v1/search` (page of {PAGE_SIZE}, bounded count and facets), in process, "
        f"{options['repeat']} rounds (each times every query of every user once) after "
        f"{options['warmup']} warm-up rounds. PostgreSQL "
        f"{connection.pg_version // 10000} (shared_buffers {large['shared_buffers']}; the "
        f"assets table is {large['table_mb']:,} MB), Django {django.get_version()}, Python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs."
    )
    say("")
    headers = ["query", "user"]
    if small:
        headers += [f"{small['assets']:,}: p50 ms", "p95 ms", "matches"]
    headers += [f"{large['assets']:,}: p50 ms", "p95 ms", "matches", "queries"]
    if small:
        headers.append("p95 growth")
    headers.append("p95 vs admin")
    rows, worst = [], {"admin": (0.0, ""), "spread": (0.0, ""), "growth": (0.0, "")}
    for label, _params in QUERIES:
        admin_p95 = large["results"][f"{label}|admin"]["p95"]
        for who in USERS:
            r = large["results"][f"{label}|{who}"]
            row = [label if who == "admin" else "", who]
            if small:
                s = small["results"][f"{label}|{who}"]
                row += [ms(s["p50"]), ms(s["p95"]), _count(s)]
            row += [ms(r["p50"]), ms(r["p95"]), _count(r), r["queries"]]
            if small:
                growth = r["p95"] / s["p95"]
                row.append(f"{growth:.2f}×")
                if growth > worst["growth"][0]:
                    worst["growth"] = (growth, f"{label}, {who}")
            vs = r["p95"] / admin_p95
            row.append("" if who == "admin" else f"{vs:.2f}×")
            if who != "admin" and vs > worst["admin"][0]:
                worst["admin"] = (vs, f"{label}, {who}")
            rows.append(row)
        n, b = (large["results"][f"{label}|{who}"]["p95"] for who in ("narrow", "broad"))
        spread = max(n, b) / min(n, b)
        if spread > worst["spread"][0]:
            worst["spread"] = (spread, label)
    numeric = set(range(2, len(headers)))
    say(markdown_table(headers, rows, numeric=numeric))
    say("")
    checks = [
        ("a restricted user's p95 within", RESTRICTED_VS_ADMIN, "of the admin's", "admin"),
        ("narrowest and broadest users' p95 within", NARROW_VS_BROAD, "of each other", "spread"),
    ]
    if small:
        checks.append(
            (f"{large['assets'] // small['assets']}× the assets costing under", GROWTH,
             "the p95", "growth")
        )  # fmt: skip
    say("Targets (worst case over the queries):")
    say("")
    for before, limit, after, key in checks:
        value, where = worst[key]
        verdict = "met" if value <= limit else "**missed**"
        say(f"- {before} {limit}× {after}: worst {value:.2f}× ({where}): {verdict}.")


def run(out, options: dict, db) -> None:
    say = out.write
    logging.getLogger("axes").setLevel(logging.WARNING)
    part = options.get("part")
    sizes = []
    if not part and options["small"]:
        sizes.append(_run_small(options, say))
    info = _build(options, db, say)
    measured = measure(options, info, say)
    if part:
        say(RESULT_PREFIX + json.dumps(measured))
        return
    sizes.append(measured)
    report(sizes, options, say)


def _run_small(options: dict, say) -> dict:
    """Build and measure the small library in its own bench database (a child process)."""
    name = f"{connection.settings_dict['NAME']}_small"
    target = bench_db.resolve(bench_db.url_for(settings.DATABASES["default"], name), name)
    bench_db.prepare(target, fresh=False, say=say)
    found = []

    def write(line: str) -> None:
        if line.startswith(RESULT_PREFIX):
            found.append(json.loads(line.removeprefix(RESULT_PREFIX)))
        else:
            say(f"  [{options['small']:,}] {line}")

    child = {**options, "assets": options["small"], "small": 0, "part": "small"}
    child.pop("verbosity", None)
    bench_db.run_child(target, "search", child, write)
    if not found:
        raise CommandError("The small run printed no result.")
    return found[0]


register(
    Benchmark(
        name="search",
        help=(
            "Build searchable libraries of 10,000 and 1,000,000 assets (10,000 folders, "
            "groups, users, metadata, tags) and time typical searches of restricted users "
            "against an admin."
        ),
        add_arguments=add_arguments,
        run=run,
        validate=validate,
        default_database="dam_bench_search",
    )
)
