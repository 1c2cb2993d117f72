"""`manage.py bench access` end to end on a tiny data set in a throwaway database."""

from __future__ import annotations

import re
import secrets
from io import StringIO

import psycopg
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from dam.management.benchmarks import database as bench_db

TINY = ["--assets", "2000", "--folders", "50", "--groups", "5", "--users", "20"]
# | user | page | p50 ms | p95 ms | SQL ms | queries |
ROW = re.compile(
    r"^\| (admin|narrow|broad) \| (.+?) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \| (\d+) \|$", re.M
)


@pytest.fixture
def throwaway():
    name = f"dam_bench_test_{secrets.token_hex(4)}"
    target = bench_db.resolve(bench_db.url_for(settings.DATABASES["default"], name), "unused")
    yield target
    bench_db.drop(target, say=lambda _line: None)


def _exists(target) -> bool:
    with bench_db._server(target) as conn:
        return bench_db._exists(conn, target.name)


def _bench(*args) -> str:
    out = StringIO()
    call_command("bench", "access", *TINY, *args, stdout=out)
    return out.getvalue()


def test_bench_access_builds_measures_reuses_and_drops(throwaway):
    first = _bench("--repeat", "2", "--database-url", throwaway.url)
    assert "Building the data set" in first
    assert "| user | page | p50 ms | p95 ms | SQL ms | queries |" in first

    rows = ROW.findall(first)
    assert {who for who, *_ in rows} == {"admin", "narrow", "broad"}
    queries = {(who, "folders/" in page): int(n) for who, page, *_times, n in rows}
    for restricted in ("narrow", "broad"):
        for folder_page in (False, True):
            admin, other = queries["admin", folder_page], queries[restricted, folder_page]
            assert abs(other - admin) <= 4, (restricted, folder_page, admin, other)
    # The restricted users' asset list goes through the GIN index on ancestors.
    assert "Bitmap Index Scan on asset_ancestors_gin" in first

    second = _bench("--repeat", "1", "--warmup", "0", "--database-url", throwaway.url, "--drop")
    assert "Reusing the data set" in second
    assert "Building" not in second
    assert len(ROW.findall(second)) == len(rows)
    assert not _exists(throwaway)


def test_bench_refuses_the_application_database():
    url = bench_db.url_for(settings.DATABASES["default"], settings.DATABASES["default"]["NAME"])
    with pytest.raises(CommandError, match="may not be the application's database"):
        call_command("bench", "access", "--database-url", url)


def test_bench_refuses_a_database_that_is_not_a_bench_database(throwaway):
    with bench_db._server(throwaway) as conn:
        conn.execute(f'CREATE DATABASE "{throwaway.name}"')
    with psycopg.connect(dbname=throwaway.name, autocommit=True, **throwaway.connect) as conn:
        conn.execute("CREATE TABLE precious (id int)")
    for extra in ([], ["--fresh"], ["--drop"]):
        with pytest.raises(CommandError, match="not a bench database"):
            call_command("bench", "access", *TINY, "--database-url", throwaway.url, *extra)
    assert _exists(throwaway)
    with bench_db._server(throwaway) as conn:  # the fixture refuses it too: drop it here
        bench_db._drop(conn, throwaway.name)


def test_bench_unknown_benchmark_is_a_clear_error():
    with pytest.raises(CommandError, match="invalid choice: 'nope'"):
        call_command("bench", "nope")
