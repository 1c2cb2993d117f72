"""`manage.py bench moderation` end to end on a few thousand assets in a throwaway database."""

from __future__ import annotations

import re
import secrets
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command

from dam.management.benchmarks import database as bench_db

ROW = re.compile(r"^\| (.+?) \| ([\d.]+) \| ([\d.]+) \|$", re.M)


@pytest.fixture
def throwaway():
    name = f"dam_bench_test_{secrets.token_hex(4)}"
    target = bench_db.resolve(bench_db.url_for(settings.DATABASES["default"], name), "unused")
    yield target
    bench_db.drop(target, say=lambda _line: None)


def test_bench_moderation_times_each_check(throwaway):
    out = StringIO()
    call_command(
        "bench",
        "moderation",
        "--assets",
        "3000",
        "--repeat",
        "3",
        "--database-url",
        throwaway.url,
        stdout=out,
    )
    text = out.getvalue()
    assert "Building 3,000 assets" in text
    assert "| load the content-safety model (once per worker) |" in text
    rows = {m.group(1): (float(m.group(2)), float(m.group(3))) for m in ROW.finditer(text)}
    assert set(rows) == {
        "nearest perceptual hash among 3,000 assets",
        "content safety on a 1600 × 1067 preview",
        "blur score (1024 px greyscale)",
    }
    assert all(0 < p50 <= p95 for p50, p95 in rows.values())
