"""`manage.py bench reports` end to end on a small data set in a throwaway database."""

from __future__ import annotations

import re
import secrets
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command

from dam.management.benchmarks import database as bench_db

ROW = re.compile(r"^\| (.+?) \| ([\d.]+) \| ([\d.]+) \| (\d+) \|$", re.M)


@pytest.fixture
def throwaway():
    name = f"dam_bench_test_{secrets.token_hex(4)}"
    target = bench_db.resolve(bench_db.url_for(settings.DATABASES["default"], name), "unused")
    yield target
    bench_db.drop(target, say=lambda _line: None)


def test_bench_reports_times_the_dashboard_and_the_activity_report(throwaway):
    out = StringIO()
    args = ["--assets", "2000", "--events", "20000", "--users", "40", "--days", "15"]
    call_command(
        "bench", "reports", *args, "--repeat", "2", "--database-url", throwaway.url, stdout=out
    )
    text = out.getvalue()
    assert re.search(r"Data: 2,000 assets, 20,0\d\d audit events", text)
    rows = {m.group(1): float(m.group(2)) for m in ROW.finditer(text)}
    assert "dashboard, 365 days" in rows and "activity, one user" in rows
    assert "dashboard, the same custom year again" in rows
    assert len(rows) == 10 and all(v > 0 for v in rows.values())
    assert "| take the library snapshot (beat, every 15 minutes) |" in text
    assert "| roll up the settled days of every offered period (beat, once a day) |" in text
    assert "| dashboard, a custom year ending 35 days ago: first view (rolls it up) |" in text
