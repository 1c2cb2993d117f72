"""`manage.py bench metadata` end to end on a small schema in a throwaway database."""

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


def test_bench_metadata_times_the_engine_and_the_form(throwaway):
    out = StringIO()
    call_command(
        "bench",
        "metadata",
        "--fields",
        "12",
        "--list-values",
        "150",
        "--rules",
        "15",
        "--repeat",
        "10",
        "--database-url",
        throwaway.url,
        stdout=out,
    )
    text = out.getvalue()
    assert "12 fields (3 lists of 150 values), 15 rules:" in text
    rows = {m.group(1): (float(m.group(2)), float(m.group(3))) for m in ROW.finditer(text)}
    assert set(rows) == {
        "load the schema from PostgreSQL (3 queries)",
        "schema already cached (1 query)",
        "evaluate all rules",
        "write check of an edit",
        "re-render the live form",
    }
    assert all(0 < p50 <= p95 for p50, p95 in rows.values())
