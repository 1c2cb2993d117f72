"""The reports' rollups: settled days are summed once (UsageDayTotal, UsageTop) and a
period's figures and top lists, read from rollups plus the recent days, are exactly what
summing every daily counter gives."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from dam import reports, tasks, usage
from dam.models import UsageDaily, UsageDayTotal, UsageTop

pytestmark = pytest.mark.django_db
Kind = UsageDaily.Kind


def _period(first_ago: int, last_ago: int = 0) -> reports.Period:
    today = timezone.localdate()
    return reports.Period(today - timedelta(first_ago), today - timedelta(last_ago), "test")


def _truth(period, kind: str, limit: int) -> list[tuple]:
    """Every daily counter of the period summed, ranked as the reports rank."""
    by = reports.TOP_BY[kind]
    totals: dict = {}
    for row in UsageDaily.objects.filter(kind=kind, day__gte=period.start, day__lte=period.end):
        key = getattr(row, by)
        totals[key] = totals.get(key, 0) + row.count
    return sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]


def _day_truth(period) -> dict:
    out: dict = {}
    for row in UsageDaily.objects.filter(day__gte=period.start, day__lte=period.end):
        n, b = out.get((row.day, row.kind), (0, 0))
        out[(row.day, row.kind)] = (n + row.count, b + row.bytes)
    return {k: v for k, v in out.items() if v != (0, 0)}


def _random_usage(rng: random.Random, days: int = 40) -> None:
    today = timezone.localdate()
    for ago in range(days):
        day = today - timedelta(ago)
        for _ in range(rng.randint(0, 12)):
            n = rng.randint(1, 9)
            usage.bump(Kind.ASSET_VIEW, object_id=rng.randint(1, 30), count=n, day=day)
            usage.bump(Kind.DOWNLOAD, object_id=rng.randint(1, 30), size=n * 10, day=day)
            usage.bump(Kind.SEARCH, key=f"k{rng.randint(1, 25):03}", count=n, day=day)
            usage.bump(Kind.UPLOAD, user_id=rng.randint(1, 8), day=day)


def test_settled_days_end_an_hour_after_midnight():
    tz = timezone.get_current_timezone()
    half_past = timezone.make_aware(datetime(2026, 3, 10, 0, 30), tz)
    assert str(reports.settled_end(half_past)) == "2026-03-08"  # yesterday still counts
    assert str(reports.settled_end(half_past + timedelta(hours=1))) == "2026-03-09"


@pytest.mark.parametrize("kept", [2, 5, 100])
def test_top_lists_from_rollups_equal_summing_everything(monkeypatch, kept):
    monkeypatch.setattr(reports, "TOP_KEPT", kept)
    rng = random.Random(kept)
    _random_usage(rng)
    periods = [_period(6), _period(29), _period(39), _period(30, 10), _period(2), _period(0)]
    for round_ in range(3):
        for period in periods:
            for limit in (1, 3, 10):
                got = reports.top_totals(period, limit=limit)
                for kind in reports.TOP_BY:
                    assert got[kind] == _truth(period, kind, limit), (round_, period, kind)
        # More today, on keys the rollups (made above) kept and on ones they left out.
        for _ in range(20):
            usage.bump(Kind.ASSET_VIEW, object_id=rng.randint(1, 40), count=rng.randint(1, 30))
            usage.bump(Kind.SEARCH, key=f"k{rng.randint(1, 40):03}", count=rng.randint(1, 30))
    assert UsageTop.objects.filter(complete=False).exists() is (kept < 25)


def test_a_key_only_counted_recently_is_summed_exactly(monkeypatch):
    """Settled: assets 1..10 viewed 100, 90, ... 10 times; the rollup keeps 3 (floor 70).
    Today asset 4 gets 25 more: 95 in all, which only its settled count can tell."""
    monkeypatch.setattr(reports, "TOP_KEPT", 3)
    day = timezone.localdate() - timedelta(5)
    for pk in range(1, 11):
        usage.bump(Kind.ASSET_VIEW, object_id=pk, count=110 - 10 * pk, day=day)
    period = _period(29)
    reports.top_totals(period, kinds=[Kind.ASSET_VIEW])
    rollup = UsageTop.objects.get(kind=Kind.ASSET_VIEW)
    assert rollup.rows == [[1, 100], [2, 90], [3, 80]] and rollup.floor == 70
    assert rollup.complete is False
    usage.bump(Kind.ASSET_VIEW, object_id=4, count=25)
    usage.bump(Kind.ASSET_VIEW, object_id=9, count=5)  # 20 + 5: cannot reach the list
    asked = []
    real_sums = reports._sums
    monkeypatch.setattr(reports, "_sums", lambda *a: asked.append(a[2]) or real_sums(*a))
    top = reports.top_totals(period, kinds=[Kind.ASSET_VIEW], limit=2)[Kind.ASSET_VIEW]
    assert top == [(1, 100), (4, 95)]
    assert asked == [[4]]  # only the doubtful key was looked up
    # A list longer than the rollup keeps is summed whole.
    top = reports.top_totals(period, kinds=[Kind.ASSET_VIEW], limit=5)[Kind.ASSET_VIEW]
    assert top == [(1, 100), (4, 95), (2, 90), (3, 80), (5, 60)]


def test_day_totals_roll_up_settled_days_once():
    rng = random.Random(3)
    _random_usage(rng)
    for period in (_period(39), _period(6), _period(0), _period(20, 15)):
        assert reports.day_totals(period) == _day_truth(period)
    last = reports.settled_end()
    stored = UsageDayTotal.objects.all()
    assert {r.day for r in stored} == set(_period(39).days) - {
        d for d in _period(39).days if d > last
    }  # settled days only
    assert stored.count() == len({r.day for r in stored}) * len(Kind.values)  # zeros too
    UsageDaily.objects.filter(day__lte=last).delete()  # the rollup is what is read now
    assert reports.day_totals(_period(39, 30)) != {}


def test_beat_rolls_up_the_offered_periods_and_forgets_old_ones():
    _random_usage(random.Random(5), days=10)
    stale = UsageTop.objects.create(
        kind=Kind.SEARCH,
        start=_period(60).start,
        end=_period(50).start,
        computed_at=timezone.now() - timedelta(days=8),
    )
    tasks.take_library_snapshot()  # the snapshot, then the rollups
    made = UsageTop.objects.filter(end=reports.settled_end())
    assert made.count() == len(reports.PERIODS) * len(reports.TOP_BY)
    assert not UsageTop.objects.filter(pk=stale.pk).exists()
    assert reports.rollups_refresh() == 0  # nothing left to do until tomorrow
    assert UsageDayTotal.objects.filter(day=reports.settled_end()).count() == len(Kind.values)


def test_dashboard_reads_rollups_without_summing_a_year(client, django_assert_max_num_queries):
    from dam.testing import AdminFactory

    _random_usage(random.Random(9), days=60)
    reports.rollups_refresh()
    client.force_login(AdminFactory())
    client.get("/reports/?period=365d")
    with django_assert_max_num_queries(14) as captured:
        page = client.get("/reports/?period=365d")
    assert page.status_code == 200
    year = str(timezone.localdate() - timedelta(364))
    summing = [
        q["sql"] for q in captured.captured_queries
        if "dam_usagedaily" in q["sql"] and year in q["sql"]
    ]  # fmt: skip
    assert summing == []  # only the recent days' counters are read
    expected = _truth(_period(364), Kind.SEARCH, reports.TOP)
    assert [(r["text"], r["n"]) for r in page.context["top_searches"]] == expected


def test_ties_at_the_floor_rank_as_summing_everything(monkeypatch):
    """Many searches with the same total (text in any script and case): the rollup keeps
    the first by code point order, and the lists still equal the full sums."""
    monkeypatch.setattr(reports, "TOP_KEPT", 2)
    day = timezone.localdate() - timedelta(9)
    keys = ["zebra", "Zebra", "apple", "éclair", "a b", "ab", "日本", "ä", "b"]
    for key in keys:
        usage.bump(Kind.SEARCH, key=key, count=5, day=day)
    period = _period(29)
    for limit in (1, 2, 3, 9):
        assert reports.top_totals(period, limit=limit)[Kind.SEARCH] == _truth(
            period, Kind.SEARCH, limit
        )
    assert UsageTop.objects.get(kind=Kind.SEARCH).rows == [["Zebra", 5], ["a b", 5]]
    for key, n in (("ab", 1), ("b", 2), ("日本", 1), ("new", 6)):
        usage.bump(Kind.SEARCH, key=key, count=n)
        for limit in (1, 2, 3, 5):
            assert reports.top_totals(period, limit=limit)[Kind.SEARCH] == _truth(
                period, Kind.SEARCH, limit
            ), (key, limit)


def test_days_before_anything_was_counted_are_zero_and_not_written():
    assert reports.first_usage_day() is None
    assert reports.day_totals(_period(3000, 2000)) == {}
    usage.bump(Kind.UPLOAD, user_id=1, day=timezone.localdate() - timedelta(20))
    assert reports.first_usage_day() == timezone.localdate() - timedelta(20)
    assert reports.day_totals(_period(3000, 2000)) == {}
    assert UsageDayTotal.objects.count() == 0  # a decade of empty days: nothing written
    assert reports.day_totals(_period(30)) == _day_truth(_period(30))
    assert UsageDayTotal.objects.filter(day__lt=_period(20).start).count() == 0


def test_custom_periods_stop_keeping_rollups_past_a_daily_cap(monkeypatch):
    _random_usage(random.Random(11))
    monkeypatch.setattr(reports, "ROLLUPS_PER_DAY", len(reports.TOP_BY))
    first, second = _period(30, 5), _period(31, 6)
    for period in (first, second, second):
        got = reports.top_totals(period, limit=3)
        assert got[Kind.SEARCH] == _truth(period, Kind.SEARCH, 3)
    assert UsageTop.objects.filter(start=first.start).count() == len(reports.TOP_BY)
    assert not UsageTop.objects.filter(start=second.start).exists()  # summed, not kept
    year = _period(364)  # an offered period is kept whatever custom ones made
    reports.top_totals(year)
    assert UsageTop.objects.filter(start=year.start).count() == len(reports.TOP_BY)


def test_a_backfill_into_settled_days_makes_their_rollups_stale():
    _random_usage(random.Random(13))
    period = _period(29)
    reports.top_totals(period)
    reports.day_totals(period)
    day = timezone.localdate() - timedelta(10)
    assert UsageTop.objects.exists() and UsageDayTotal.objects.filter(day=day).exists()
    usage.bump(Kind.SEARCH, key="k999", count=10_000, day=day)
    usage.bump_many(Kind.DOWNLOAD, {77: (500, 1)}, day=day)
    assert reports.top_totals(period, limit=1)[Kind.SEARCH] == [("k999", 10_000)]
    assert reports.top_totals(period, limit=1)[Kind.DOWNLOAD] == _truth(period, Kind.DOWNLOAD, 1)
    assert reports.day_totals(period) == _day_truth(period)


def test_beat_rolls_up_just_after_the_periods_move():
    from celery.schedules import crontab

    from dam.celery import app

    entry = app.conf.beat_schedule["roll-up-usage"]
    assert entry["task"] == "dam.tasks.roll_up_usage"
    assert isinstance(entry["schedule"], crontab)
    assert entry["schedule"].hour == {0, 1} and entry["schedule"].minute == {1}
    _random_usage(random.Random(17), days=5)
    assert tasks.roll_up_usage() == len(reports.PERIODS) * len(reports.TOP_BY)
