"""`manage.py bench search` end to end on small libraries in throwaway databases."""

from __future__ import annotations

import re
import secrets
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from dam.management.benchmarks import database as bench_db
from dam.management.benchmarks import search as bench_search

pytestmark = pytest.mark.django_db


@pytest.fixture
def throwaway():
    name = f"dam_bench_test_{secrets.token_hex(4)}"
    target = bench_db.resolve(bench_db.url_for(settings.DATABASES["default"], name), "unused")
    yield target
    small = bench_db.resolve(
        bench_db.url_for(settings.DATABASES["default"], f"{name}_small"), "unused"
    )
    for each in (target, small):
        bench_db.drop(each, say=lambda _line: None)


def run(url: str, *extra: str) -> str:
    out = StringIO()
    call_command(
        "bench",
        "search",
        *("--assets", "1500", "--small", "150", "--folders", "60", "--groups", "6"),
        *("--users", "12", "--repeat", "2", "--warmup", "0", "--database-url", url),
        *extra,
        stdout=out,
    )
    return out.getvalue()


def test_bench_search_times_every_query_for_each_user_at_both_sizes(throwaway):
    text = run(throwaway.url)
    assert "[150] Building 150 searchable assets" in text
    assert "Building 1,500 searchable assets" in text
    table = [line for line in text.splitlines() if line.startswith("| ")]
    assert table[0].startswith("| query | user | 150: p50 ms | p95 ms | matches | 1,500: p50")
    rows = table[1:]
    assert len(rows) == len(bench_search.QUERIES) * 3
    labels = [r.split(" | ")[0].removeprefix("| ") for r in rows[::3]]
    assert labels == [label for label, _params in bench_search.QUERIES]
    assert [r.split(" | ")[1] for r in rows[:3]] == ["admin", "narrow", "broad"]
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        small_p50, small_p95, large_p50, large_p95 = map(
            float, (cells[2], cells[3], cells[5], cells[6])
        )
        assert 0 < small_p50 <= small_p95 and 0 < large_p50 <= large_p95
        assert re.fullmatch(r"[\d,]+\+?", cells[4]) and re.fullmatch(r"[\d,]+\+?", cells[7])
    # The admin sees every match; restricted users never more than the admin.
    for i in range(0, len(rows), 3):
        admin, narrow, broad = (
            int(rows[i + j].split(" | ")[7].rstrip("+").replace(",", "")) for j in range(3)
        )
        assert narrow <= admin and broad <= admin
    assert text.count(": met.") + text.count(": **missed**.") == 3

    again = run(throwaway.url, "--small", "0")  # the large library is reused
    assert "Reusing the data set" in again and "[150]" not in again


def test_bench_search_refuses_a_small_size_not_below_the_large():
    with pytest.raises(CommandError, match="--small must be fewer"):
        call_command("bench", "search", "--assets", "100", "--small", "100")
