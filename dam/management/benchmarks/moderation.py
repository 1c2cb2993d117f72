"""`bench moderation`: what the automatic checks cost per upload.

Builds --assets assets with random 64-bit perceptual hashes (one INSERT ... SELECT), then
times, --repeat samples each: the near-duplicate query (nearest hash by Hamming
distance, in PostgreSQL), the content-safety model on a generated 1600 x 1067 preview
(after the one-time model load, timed separately), and the blur score. Prints a Markdown
table of p50 and p95 in milliseconds.
"""

from __future__ import annotations

import random
import time

from django.contrib.auth import get_user_model
from django.db import connection

from dam.management.benchmarks import (
    Benchmark,
    markdown_table,
    median,
    percentile,
    positive_int,
    register,
)


def add_arguments(parser) -> None:
    parser.add_argument(
        "--assets", type=positive_int, default=1_000_000, help="assets (default 1,000,000)"
    )
    parser.add_argument("--repeat", type=positive_int, default=20, help="samples (default 20)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (7)")


def build(options: dict) -> None:
    from accounts.models import Role
    from assets import services
    from assets.models import Asset
    from dam.management.benchmarks.access import _missing_defaults

    admin = get_user_model().objects.create_user(
        "bench-moderation@example.com", None, role=Role.MASTER_ADMIN
    )
    folder = services.folder_create(actor=admin, name="Bench", parent=None)
    given = [
        "public_id",
        "display_name",
        "folder_id",
        "ancestors",
        "type",
        "format",
        "mime_type",
        "original_filename",
        "phash",
        "created_by_id",
    ]
    extra, values = _missing_defaults(Asset, given)
    columns = ", ".join(given + extra)
    placeholders = ", ".join(["%s"] * len(extra))
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(%s)", [(options["seed"] % 1000) / 1000])
        cursor.execute(
            f"""
            INSERT INTO assets_asset ({columns})
            SELECT 'bench-' || n, 'Bench ' || n, %s, ARRAY[%s]::bigint[], 'image', 'jpg',
                   'image/jpeg', 'b' || n || '.jpg',
                   lpad(to_hex((random() * 9223372036854775807)::bigint), 16, '0'),
                   %s{", " + placeholders if extra else ""}
            FROM generate_series(1, %s) AS n
            """,  # column names come from the model; values are parameters
            [folder.pk, folder.pk, admin.pk, *values, options["assets"]],
        )
        cursor.execute("VACUUM (ANALYZE) assets_asset")


def _sample(fn, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return samples


def _preview():
    from PIL import Image, ImageDraw

    rnd = random.Random(3)
    img = Image.new("RGB", (1600, 1067), (230, 200, 120))
    draw = ImageDraw.Draw(img)
    for _ in range(80):
        x, y, r = rnd.randrange(1600), rnd.randrange(1067), rnd.randrange(10, 200)
        colour = tuple(rnd.randrange(256) for _ in range(3))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    return img


def run(out, options: dict, db) -> None:
    from assets.models import Asset
    from moderation import checks

    say = out.write
    db.reset()
    db.migrate()
    say(f"Building {options['assets']:,} assets with random perceptual hashes in {db.name}…")
    started = time.perf_counter()
    build(options)
    say(f"Built in {time.perf_counter() - started:.1f} s.")
    rng = random.Random(options["seed"])
    probes = [Asset(pk=-1, phash=f"{rng.getrandbits(64):016x}") for _ in range(100)]
    pick = iter(range(10**9))
    image = _preview()
    loading = time.perf_counter()
    checks.detector()
    load_ms = (time.perf_counter() - loading) * 1000
    repeat = options["repeat"]
    rows = [("load the content-safety model (once per worker)", f"{load_ms:.1f}", "")]
    for label, fn in (
        (
            f"nearest perceptual hash among {options['assets']:,} assets",
            lambda: checks.nearest_duplicate(probes[next(pick) % len(probes)]),
        ),
        ("content safety on a 1600 × 1067 preview", lambda: checks.safety_score(image)),
        ("blur score (1024 px greyscale)", lambda: checks.blur_score(image)),
    ):
        fn()  # warm up
        samples = _sample(fn, repeat)
        rows.append(
            (label, f"{median(samples) * 1000:.1f}", f"{percentile(samples, 95) * 1000:.1f}")
        )
    say("\n" + markdown_table(["operation", "p50 ms", "p95 ms"], rows, numeric=(1, 2)))


register(
    Benchmark(
        name="moderation",
        help="Time the automatic moderation checks (near-duplicates at scale, the model, blur).",
        add_arguments=add_arguments,
        run=run,
        default_database="dam_bench_moderation",
    )
)
