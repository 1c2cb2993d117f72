"""`bench reports`: the usage dashboard and the activity report at a million assets and
ten million events.

Builds (once, in `dam_bench_reports`; INSERT ... SELECT, no services) --users users, a
folder with --assets assets, each with a current version and --renditions renditions
(some assets also keep an older version), --events audit events over the last year
(uploads, edits, metadata changes, shares, downloads, moderation, logins...) and a year
of daily usage counters (views, downloads and deliveries of thousands of assets a day,
hundreds of distinct searches a day, uploads by user). Then times, --repeat samples each
after a warm-up: the dashboard page for 30 and 365 days (an admin: figures, charts and
analytics) and for a custom year (its first view rolls the year up, then again), the
activity page unfiltered and filtered, the activity API with its bounded and its exact
count, and the beat jobs that take the library snapshot and roll up the settled days of
the offered periods, once each. Prints a
Markdown table of p50/p95 milliseconds and the queries each page ran.
"""

from __future__ import annotations

import time
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings

from dam.management.benchmarks import (
    Benchmark,
    markdown_table,
    median,
    percentile,
    positive_int,
    register,
)

DATASET_VERSION = 1
VERBS = (
    ("asset.upload", 20), ("asset.update", 25), ("asset.metadata", 10), ("asset.comment", 5),
    ("folder.share", 2), ("collection.add", 3), ("asset.delivery_url", 5),
    ("asset.moderation.approve", 5), ("asset.moderation.reject", 1), ("user.login", 15),
    ("user.invite", 1), ("asset.delete", 4), ("asset.restore", 2), ("asset.move", 2),
)  # fmt: skip
WORDS = ("sunset", "beach", "team", "product", "launch", "logo", "poster", "summer", "city")


def add_arguments(parser) -> None:
    parser.add_argument("--assets", type=positive_int, default=1_000_000)
    parser.add_argument("--events", type=positive_int, default=10_000_000)
    parser.add_argument("--users", type=positive_int, default=1_000)
    parser.add_argument("--renditions", type=int, default=2, help="per asset (default 2)")
    parser.add_argument("--days", type=positive_int, default=365, help="of usage (365)")
    parser.add_argument("--repeat", type=positive_int, default=20)
    parser.add_argument("--warmup", type=int, default=2)


def _signature(options: dict) -> dict:
    keys = ("assets", "events", "users", "renditions", "days")
    return {"benchmark": "reports", "version": DATASET_VERSION, **{k: options[k] for k in keys}}


def _insert(sql: str, args=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, args)


def _columns(model, given: list[str]) -> tuple[str, str, list]:
    """The INSERT's column list, with the model's defaults for the columns not given."""
    from dam.management.benchmarks.access import _missing_defaults

    extra, values = _missing_defaults(model, given)
    placeholders = ", ".join(["%s"] * len(extra))
    return ", ".join(given + extra), (", " + placeholders if extra else ""), values


def build(options: dict, say) -> dict:
    from accounts.models import Role, User
    from assets import services
    from assets.models import Asset, AssetVersion, Rendition
    from dam.models import AuditEvent, UsageDaily

    steps = {}

    def step(label: str, fn) -> None:
        started = time.perf_counter()
        fn()
        steps[label] = round(time.perf_counter() - started, 1)
        say(f"  {label}: {steps[label]} s")

    admin = User.objects.create_user("bench-admin@example.com", None, role=Role.MASTER_ADMIN)
    User.objects.create_user("bench-reports@example.com", None, role=Role.REPORTS)
    folder = services.folder_create(actor=admin, name="Bench", parent=None)
    n_users = options["users"]

    def users():
        cols, extra, values = _columns(User, ["email", "first_name", "last_name", "role", "status"])
        _insert(
            f"""INSERT INTO accounts_user ({cols})
            SELECT 'user' || n || '@bench.example', 'Bench', 'User ' || n, 'media_library_user',
                   CASE WHEN n %% 10 = 0 THEN 'inactive' ELSE 'active' END{extra}
            FROM generate_series(1::bigint, %s) AS n""",
            [*values, n_users],
        )

    def assets():
        cols, extra, values = _columns(
            Asset,
            ["public_id", "display_name", "folder_id", "ancestors", "type", "format",
             "mime_type", "original_filename", "bytes", "created_by_id", "processing_status",
             "created_at", "updated_at"],
        )  # fmt: skip
        _insert(
            f"""INSERT INTO assets_asset ({cols})
            SELECT 'bench-' || n, 'Bench asset ' || n, %s, ARRAY[%s]::bigint[],
                   (ARRAY['image','image','image','video','raw'])[1 + n %% 5], 'jpg',
                   'image/jpeg', 'b' || n || '.jpg', 100000 + (n * 7919) %% 5000000, %s, 'ready',
                   now() - make_interval(secs => (n * 31) %% 31536000),
                   now() - make_interval(secs => (n * 31) %% 31536000){extra}
            FROM generate_series(1::bigint, %s) AS n""",
            [folder.pk, folder.pk, admin.pk, *values, options["assets"]],
        )

    def versions():
        cols, extra, values = _columns(
            AssetVersion,
            ["asset_id", "number", "blob_name", "sha256", "bytes", "original_filename",
             "mime_type", "format", "created_by_id", "created_at"],
        )  # fmt: skip
        _insert(
            f"""INSERT INTO assets_assetversion ({cols})
            SELECT a.id, v.number, 'originals/' || a.id || '-' || v.number, md5(a.id || '-' ||
                   v.number) || md5(a.id::text), a.bytes, a.original_filename, a.mime_type,
                   a.format, a.created_by_id, a.created_at{extra}
            FROM assets_asset a
            CROSS JOIN LATERAL (SELECT 1 AS number UNION ALL
                                SELECT 0 WHERE a.id %% 10 = 0) v""",
            values,
        )

    def renditions():
        if options["renditions"] <= 0:
            return
        cols, extra, values = _columns(
            Rendition,
            ["version_id", "spec", "file_name", "format", "width", "height", "bytes",
             "created_at"],
        )  # fmt: skip
        _insert(
            f"""INSERT INTO assets_rendition ({cols})
            SELECT v.id, 'spec' || s, 'renditions/' || v.id || '/' || s, 'webp', 480, 320,
                   20000 + (v.id %% 50000), v.created_at{extra}
            FROM assets_assetversion v CROSS JOIN generate_series(1, %s) AS s""",
            [*values, options["renditions"]],
        )

    def events():
        weights = [w for _, w in VERBS]
        cases = []
        edge = 0
        for verb, w in VERBS:
            edge += w
            cases.append(f"WHEN r < {edge} THEN '{verb}'")
        total = sum(weights)
        cols, extra, values = _columns(
            AuditEvent, ["actor_id", "verb", "object_type", "object_id", "data", "ip", "at"]
        )
        lowest = User.objects.order_by("pk").values_list("pk", flat=True).first()
        _insert(
            f"""INSERT INTO dam_auditevent ({cols})
            SELECT %s + (n * 7) %% %s, CASE {" ".join(cases)} END,
                   'assets.asset', (1 + (n * 104729) %% %s)::text, '{{}}'::jsonb, '10.0.0.1',
                   now() - make_interval(secs => (n * 3) %% 31536000){extra}
            FROM (SELECT n, (n * 37) %% {total} AS r FROM generate_series(1::bigint, %s) AS n) s""",
            [lowest, n_users, options["assets"], *values, options["events"]],
        )

    def usage():
        day_cases = [
            (UsageDaily.Kind.ASSET_VIEW, 2000, "object"),
            (UsageDaily.Kind.DOWNLOAD, 500, "object"),
            (UsageDaily.Kind.DELIVERY, 2000, "object"),
            (UsageDaily.Kind.RENDITION, 200, "object"),
            (UsageDaily.Kind.COLLECTION_VIEW, 50, "object"),
            (UsageDaily.Kind.SEARCH, 300, "key"),
            (UsageDaily.Kind.SEARCH_EMPTY, 40, "key"),
            (UsageDaily.Kind.UPLOAD, 100, "user"),
        ]
        words = "(ARRAY[" + ", ".join(f"'{w}'" for w in WORDS) + "])"
        for kind, per_day, by in day_cases:
            obj = "1 + (d * 7919 + n * 104729) %% %s" if by == "object" else "0"
            usr = "1 + (d * 31 + n) %% %s" if by == "user" else "0"
            key = f"{words}[1 + n %% {len(WORDS)}] || ' ' || (n %% 97)" if by == "key" else "''"
            args = [options["assets"]] if by == "object" else []
            args += [n_users] if by == "user" else []
            _insert(
                f"""INSERT INTO dam_usagedaily (day, kind, object_id, user_id, key, count, bytes)
                SELECT current_date - d, %s, {obj}, {usr}, {key}, 1 + (n %% 7),
                       CASE WHEN %s IN ('delivery', 'download') THEN (n %% 900) * 10000 ELSE 0 END
                FROM generate_series(0, %s) AS d CROSS JOIN generate_series(1::bigint, %s) AS n
                ON CONFLICT DO NOTHING""",
                [str(kind), *args, str(kind), options["days"] - 1, per_day],
            )

    for label, fn in (
        (f"users ({n_users:,})", users),
        (f"assets ({options['assets']:,})", assets),
        ("versions (one each, a tenth keep an older one)", versions),
        (f"renditions ({options['renditions']} per version)", renditions),
        (f"audit events ({options['events']:,})", events),
        (f"usage counters ({options['days']} days)", usage),
    ):
        step(label, fn)
    with connection.cursor() as cursor:
        for table in ("accounts_user", "assets_asset", "assets_assetversion",
                      "assets_rendition", "dam_auditevent", "dam_usagedaily"):  # fmt: skip
            cursor.execute(f"VACUUM (ANALYZE) {table}")
    return {"steps": steps, "admin": admin.pk}


def _time(client: Client, url: str, repeat: int, warmup: int) -> dict:
    for _ in range(warmup):
        client.get(url)
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        samples.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} answered {response.status_code}")
    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    return {
        "p50": median(samples) * 1000,
        "p95": percentile(samples, 95) * 1000,
        "queries": len(captured.captured_queries),
    }


def run(out, options: dict, db) -> None:
    import json

    from accounts.models import User
    from dam import reports
    from dam.models import AuditEvent, UsageDaily, UsageDayTotal, UsageTop

    say = out.write
    wanted = _signature(options)
    info = db.built(wanted)
    if info is None:
        db.reset()
        db.migrate()
        say(f"Building the reports data set in {db.name}…")
        started = time.perf_counter()
        info = build(options, say)
        info["build_seconds"] = round(time.perf_counter() - started, 1)
        db.mark_built(wanted, info)
    else:
        db.migrate()
        say(f"Reusing the data set in {db.name} (built {info['built_at']}).")
    admin = User.objects.get(pk=info["admin"])
    analyst = User.objects.get(email="bench-reports@example.com")
    started = time.perf_counter()
    snapshot = reports.snapshot_take()
    snapshot_ms = (time.perf_counter() - started) * 1000
    UsageTop.objects.all().delete()  # time beat's rollups from nothing
    UsageDayTotal.objects.all().delete()
    started = time.perf_counter()
    reports.rollups_refresh()
    rollups_ms = (time.perf_counter() - started) * 1000
    someone = User.objects.filter(email__endswith="@bench.example").order_by("pk")[5]
    pages = [
        ("dashboard, 30 days (admin: figures, charts, analytics)", admin, "/reports/?period=30d"),
        ("dashboard, 365 days", admin, "/reports/?period=365d"),
        ("dashboard, 30 days (reports role)", analyst, "/reports/?period=30d"),
        ("activity, newest first", admin, "/activity/"),
        ("activity, one user", admin, f"/activity/?user={someone.pk}"),
        (
            "activity, an action group and dates",
            admin,
            "/activity/?group=uploads&since=2026-01-01&until=2026-06-30",
        ),
        ("activity, one asset", admin, "/activity/?object_type=assets.asset&object_id=4242"),
        ("activity API, bounded count", admin, "/api/v1/activity?exact_count=false"),
        ("activity API, exact count (10M)", admin, "/api/v1/activity"),
    ]
    today = snapshot.day
    custom = f"/reports/?from={today - timedelta(400)}&to={today - timedelta(35)}"
    rows = []
    with override_settings(ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "testserver"]):
        clients = {}
        for label, user, url in pages:
            if user.pk not in clients:
                clients[user.pk] = Client()
                clients[user.pk].force_login(user)
            r = _time(clients[user.pk], url, options["repeat"], options["warmup"])
            rows.append((label, f"{r['p50']:.1f}", f"{r['p95']:.1f}", r["queries"]))
        started = time.perf_counter()  # no rollup covers a custom period yet
        clients[admin.pk].get(custom)
        custom_ms = (time.perf_counter() - started) * 1000
        r = _time(clients[admin.pk], custom, options["repeat"], 0)
    rows.insert(2, ("dashboard, a custom year ending 35 days ago: first view (rolls it up)",
                    f"{custom_ms:.1f}", "", ""))  # fmt: skip
    rows.insert(3, ("dashboard, the same custom year again", f"{r['p50']:.1f}",
                    f"{r['p95']:.1f}", r["queries"]))  # fmt: skip
    rows.append(("take the library snapshot (beat, every 15 minutes)", f"{snapshot_ms:.1f}",
                 "", ""))  # fmt: skip
    rows.append(("roll up the settled days of every offered period (beat, once a day)",
                 f"{rollups_ms:.1f}", "", ""))  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        size = cursor.fetchone()[0]
    say("")
    say("## bench reports")
    say("")
    say(
        f"Data: {snapshot.asset_count:,} assets, {AuditEvent.objects.count():,} audit events, "
        f"{UsageDaily.objects.count():,} daily usage counters ({options['days']} days), "
        f"{User.objects.count():,} users; database {size // 2**20:,} MB"
        + (f", built in {info['build_seconds']:.0f} s" if "build_seconds" in info else "")
        + f". {options['repeat']} timed requests each after {options['warmup']} warm-up, "
        f"in process, PostgreSQL {connection.pg_version // 10000}."
    )
    say("")
    say(markdown_table(["page", "p50 ms", "p95 ms", "queries"], rows, numeric=(1, 2, 3)))
    say("")
    say("Build steps: " + json.dumps(info.get("steps", {})))


register(
    Benchmark(
        name="reports",
        help=(
            "Build 1,000,000 assets, 10,000,000 audit events and a year of usage counters, "
            "and time the usage dashboard and the activity report."
        ),
        add_arguments=add_arguments,
        run=run,
        default_database="dam_bench_reports",
    )
)
