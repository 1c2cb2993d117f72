"""Reports: the library's totals (daily snapshots taken by beat), usage over a period
(daily counters), analytics (most viewed and downloaded assets, collection views,
searches, uploads by user) and the storage alert.

Everything a report page shows comes from LibrarySnapshot (one row a day), the rollups of
settled days (UsageDayTotal: a row per day and kind; UsageTop: a period's top totals)
and the recent days' UsageDaily counters, so the dashboard reads a few thousand rows
whatever the library's size, the number of events or the length of the period."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta

from django.db import connection, transaction
from django.db.models import Count, F, Sum
from django.db.models.functions import Collate
from django.utils import timezone

from dam.models import LibrarySnapshot, UsageDaily, UsageDayTotal, UsageTop

log = logging.getLogger(__name__)
Kind = UsageDaily.Kind
PERIODS = {"7d": 7, "30d": 30, "90d": 90, "365d": 365}
DEFAULT_PERIOD = "30d"
MAX_DAYS = 3660
TOP = 10


# -- snapshots ---------------------------------------------------------------------------------
def snapshot_take(now=None) -> LibrarySnapshot:
    """Count the library now and keep it as today's snapshot (the day's latest wins);
    then check the storage alert. A few aggregate queries: seconds at a million assets,
    run by beat every 15 minutes, never by a page view once one exists."""
    from accounts.models import User
    from accounts.services import seats_used
    from assets.models import Asset, AssetVersion, Rendition
    from dam.preferences import preferences_get

    now = now or timezone.now()
    by_type = dict(Asset.objects.values_list("type").annotate(n=Count("id")).order_by())
    versions = AssetVersion.objects.filter(blob_released_at__isnull=True, asset__deleted_at=None)
    current = versions.filter(number=F("asset__version")).aggregate(s=Sum("bytes"))["s"] or 0
    older = versions.exclude(number=F("asset__version")).aggregate(s=Sum("bytes"))["s"] or 0
    renditions = Rendition.objects.aggregate(s=Sum("bytes"), n=Count("id"))
    users = dict(User.objects.values_list("status").annotate(n=Count("id")).order_by())
    prefs = preferences_get()
    fields = {
        "taken_at": now,
        "assets_by_type": by_type,
        "asset_count": sum(by_type.values()),
        "original_bytes": current,
        "version_bytes": older,
        "rendition_bytes": renditions["s"] or 0,
        "rendition_count": renditions["n"] or 0,
        "users_by_status": users,
        "seats_used": seats_used(),
        "seat_limit": prefs.seat_limit,
    }
    snapshot, _ = LibrarySnapshot.objects.update_or_create(
        day=timezone.localdate(now), defaults=fields
    )
    storage_alert_check(snapshot)
    return snapshot


def latest_snapshot() -> LibrarySnapshot:
    """The latest snapshot; on a fresh installation (none yet) one is taken now."""
    snapshot = LibrarySnapshot.objects.order_by("-day").first()
    return snapshot if snapshot is not None else snapshot_take()


def storage_alert_check(snapshot: LibrarySnapshot) -> bool:
    """Email the admins once when storage passes the preference's threshold; re-arm when
    it drops below. Returns whether an alert was sent now."""
    from dam.models import Preferences
    from dam.preferences import preferences_get

    prefs = preferences_get()
    limit = prefs.storage_alert_bytes
    used = snapshot.storage_bytes
    if not limit or used < limit:
        if prefs.storage_alert_sent_at is not None:
            Preferences.objects.filter(pk=prefs.pk).update(storage_alert_sent_at=None)
        return False
    with transaction.atomic():
        claimed = Preferences.objects.filter(pk=prefs.pk, storage_alert_sent_at=None).update(
            storage_alert_sent_at=timezone.now()
        )
        if claimed:  # one sender, even with two beat processes
            transaction.on_commit(lambda: _send_storage_alert(used, limit), robust=True)
    return bool(claimed)


def _send_storage_alert(used: int, limit: int) -> None:
    from django.conf import settings
    from django.core.mail import send_mail
    from django.template.defaultfilters import filesizeformat
    from django.urls import reverse

    from accounts.models import Role, User, UserStatus
    from dam.services import notify

    admins = User.objects.filter(
        role__in=[Role.MASTER_ADMIN, Role.ADMIN], status=UserStatus.ACTIVE, is_active=True
    )
    link = settings.DAM_BASE_URL.rstrip("/") + reverse("reports")
    text = (
        f"The library now uses {filesizeformat(used)} of storage, past the alert "
        f"threshold of {filesizeformat(limit)}."
    )
    for admin in admins:
        notify(user=admin, kind="storage_alert", message=text, link=reverse("reports"))
    recipients = [a.email for a in admins]
    if recipients:
        try:
            send_mail(
                "Storage alert: the library passed its threshold",
                f"{text}\n\nSee the usage dashboard: {link}\n",
                None,
                recipients,
            )
        except OSError:
            log.exception("the storage alert email could not be sent")


# -- a period -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive
    label: str

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]


def period_from(get) -> tuple[Period, str | None]:
    """The period a report shows (`period=7d|30d|90d|365d`, or `from`/`to` dates), and an
    error message for a period it could not read (the default is shown then)."""
    today = timezone.localdate()
    name = get.get("period", "") or ""
    start_text, end_text = get.get("from", "") or "", get.get("to", "") or ""
    if start_text or end_text:
        try:
            start = date.fromisoformat(start_text) if start_text else today - timedelta(29)
            end = date.fromisoformat(end_text) if end_text else today
        except ValueError:
            return _named(DEFAULT_PERIOD, today), "Dates are written 2026-01-31."
        if end < start:
            return _named(DEFAULT_PERIOD, today), "The period ends before it starts."
        if (end - start).days >= MAX_DAYS:
            return _named(DEFAULT_PERIOD, today), "A period is at most ten years."
        return Period(start, end, f"{start.isoformat()} to {end.isoformat()}"), None
    if name and name not in PERIODS:
        return _named(DEFAULT_PERIOD, today), "Choose one of the periods offered."
    return _named(name or DEFAULT_PERIOD, today), None


def _named(name: str, today: date) -> Period:
    days = PERIODS[name]
    return Period(today - timedelta(days=days - 1), today, f"Last {days} days")


# -- usage over a period -------------------------------------------------------------------
# A day's counters are settled once nothing can be counted into it any more: from 1 a.m.
# the next day (a request that began before midnight has finished by then). Settled days
# are read from rollups (UsageDayTotal, UsageTop: made by beat, or by the first page that
# needs them); the recent, unsettled days (today, and yesterday until 1 a.m.) live.
SETTLE_DELAY = timedelta(hours=1)
TOP_KEPT = 100  # totals kept per rollup of a top list
ROLLUPS_PER_DAY = 600  # custom periods' top lists kept a day; past it they are summed
TOP_BY = {  # what each analytics list ranks
    Kind.ASSET_VIEW: "object_id",
    Kind.DOWNLOAD: "object_id",
    Kind.COLLECTION_VIEW: "object_id",
    Kind.SEARCH: "key",
    Kind.SEARCH_EMPTY: "key",
    Kind.UPLOAD: "user_id",
}


def settled_end(now=None) -> date:
    """The last settled day."""
    return timezone.localdate((now or timezone.now()) - SETTLE_DELAY) - timedelta(days=1)


def _split(period: Period) -> tuple[Period | None, Period | None]:
    """The period's settled days (read from rollups) and its recent days (read live)."""
    last = settled_end()
    settled = Period(period.start, min(period.end, last), "") if period.start <= last else None
    first_recent = max(period.start, last + timedelta(days=1))
    recent = Period(first_recent, period.end, "") if first_recent <= period.end else None
    return settled, recent


def _usage(period: Period, kinds=None):
    # The kinds lead the (kind, day) index: every kind unless told.
    return UsageDaily.objects.filter(
        kind__in=list(kinds or Kind.values), day__gte=period.start, day__lte=period.end
    )


def day_totals(period: Period) -> dict[tuple[date, str], tuple[int, int]]:
    """{(day, kind): (count, bytes)} for the days of the period that counted anything."""
    settled, recent = _split(period)
    rows = _settled_day_totals(settled) if settled is not None else []
    if recent is not None:
        rows += _usage(recent).values_list("day", "kind").annotate(n=Sum("count"), b=Sum("bytes"))
    return {(day, kind): (int(n or 0), int(b or 0)) for day, kind, n, b in rows if n or b}


def _settled_day_totals(settled: Period) -> list[tuple]:
    """The settled days' totals, rolling up the days not rolled up yet."""
    rows = list(
        UsageDayTotal.objects.filter(day__gte=settled.start, day__lte=settled.end).values_list(
            "day", "kind", "count", "bytes"
        )
    )
    have = {row[0] for row in rows}
    missing = [day for day in settled.days if day not in have]
    if missing:  # days before anything was counted are zero, and not written
        first = first_usage_day()
        missing = [day for day in missing if first is not None and day >= first]
    return rows + _fill_day_totals(missing) if missing else rows


def first_usage_day() -> date | None:
    """The first day any counter was bumped: the earliest of each kind, by index."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT min((SELECT min(day) FROM {UsageDaily._meta.db_table} WHERE kind = k)) "
            "FROM unnest(%s::text[]) AS k",
            [list(Kind.values)],
        )
        return cursor.fetchone()[0]


def _fill_day_totals(days: list[date]) -> list[tuple]:
    """Roll up settled days: a row for every kind, zeros too, so a day is done once."""
    counted = {
        (day, kind): (n, b)
        for day, kind, n, b in UsageDaily.objects.filter(kind__in=Kind.values, day__in=days)
        .values_list("day", "kind")
        .annotate(n=Sum("count"), b=Sum("bytes"))
        .order_by()
    }
    rows = [(day, kind, *counted.get((day, kind), (0, 0))) for day in days for kind in Kind.values]
    UsageDayTotal.objects.bulk_create(
        [UsageDayTotal(day=d, kind=k, count=n, bytes=b) for d, k, n, b in rows],
        ignore_conflicts=True,
        batch_size=2000,
    )
    return rows


def daily_series(totals_by_day: dict, period: Period, kind: str, field: str = "count"):
    """[(day, total)] for every day of the period (zeros included)."""
    at = 0 if field == "count" else 1
    return [(day, totals_by_day.get((day, kind), (0, 0))[at]) for day in period.days]


def totals(totals_by_day: dict) -> dict[str, dict[str, int]]:
    """{kind: {"count": n, "bytes": b}} over the period of `day_totals`."""
    out = {k: {"count": 0, "bytes": 0} for k in Kind.values}
    for (_day, kind), (n, b) in totals_by_day.items():
        out[kind]["count"] += n
        out[kind]["bytes"] += b
    return out


def storage_series(period: Period) -> list[tuple[date, int]]:
    """Storage used on each day of the period that has a snapshot."""
    rows = LibrarySnapshot.objects.filter(day__gte=period.start, day__lte=period.end)
    return [
        (s.day, s.storage_bytes)
        for s in rows.order_by("day").only(
            "day", "original_bytes", "version_bytes", "rendition_bytes"
        )
    ]


# -- analytics -------------------------------------------------------------------------------
def top_totals(period: Period, kinds=tuple(TOP_BY), limit: int = TOP) -> dict[str, list]:
    """{kind: [(key, total), ...]}: the `limit` largest totals of each kind over the
    period, largest first (ties by key), exactly as if every daily counter were summed.

    The settled days' top TOP_KEPT (UsageTop) plus the recent days' counters give each
    kept key's exact total. A key only counted recently may also have settled counts
    (at most the rollup's floor): those that could then reach the list are summed
    exactly by index. Every other key totals at most the floor and ranks after the kept
    keys of that total; only a list that needs more than the rollup kept, or that ends
    on the floor with a key the rollup did not keep, sums the period whole."""
    settled, recent = _split(period)
    live: dict[str, dict] = {kind: {} for kind in kinds}
    if recent is not None:
        for kind, obj, user, key, n in (
            _usage(recent, kinds)
            .values_list("kind", "object_id", "user_id", "key")
            .annotate(n=Sum("count"))
            .order_by()
        ):
            by = TOP_BY[kind]
            key = obj if by == "object_id" else user if by == "user_id" else key
            live[kind][key] = live[kind].get(key, 0) + int(n)
    rollups = _rollups(settled, kinds)[0] if settled is not None else {}
    out = {}
    for kind in kinds:
        out[kind] = _merged_top(kind, settled, rollups.get(kind), live[kind], period, limit)
    return out


def _ranked(totals: dict, limit: int) -> list[tuple]:
    return sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]


def _merged_top(kind, settled, rollup, live: dict, period: Period, limit: int) -> list[tuple]:
    if rollup is None:  # nothing settled in the period
        return _ranked(live, limit)
    kept = dict(rollup.rows)
    merged = {key: n + live.get(key, 0) for key, n in kept.items()}
    recent_only = {key: n for key, n in live.items() if key not in kept}
    if rollup.complete:
        return _ranked(merged | recent_only, limit)
    ranked = _ranked(merged, limit)
    if len(ranked) < limit:  # a longer list than the rollup keeps
        return _summed_top(period, kind, limit)
    bar = ranked[-1][1]
    doubtful = [key for key, n in recent_only.items() if n + rollup.floor >= bar]
    if doubtful:
        earlier = _sums(kind, settled, doubtful)
        merged.update({key: recent_only[key] + earlier.get(key, 0) for key in doubtful})
        ranked = _ranked(merged, limit)
    # Any other key totals at most the floor and, at the floor, sorts after the kept keys
    # that total it: the list is exact unless it ends on the floor with another key.
    last_key, last_n = ranked[-1]
    if last_n == rollup.floor and kept.get(last_key) != last_n:
        return _summed_top(period, kind, limit)
    return ranked


def _summed_top(period: Period, kind: str, limit: int) -> list[tuple]:
    """Ranked in SQL as _ranked ranks in Python: ties by key, text in code point order."""
    by = TOP_BY[kind]
    order = Collate(by, "C") if by == "key" else by
    rows = (
        _usage(period, [kind])
        .values_list(by)
        .annotate(n=Sum("count"))
        .order_by("-n", order)[:limit]
    )
    return [(key, int(n)) for key, n in rows]


def _sums(kind: str, settled: Period, keys: list) -> dict:
    """The settled totals of a few keys, by the (kind, object, user, key, day) index."""
    by = TOP_BY[kind]
    lead = {"object_id": 0, "user_id": 0} if by == "key" else {"object_id": 0}
    lead = {} if by == "object_id" else lead
    rows = (
        _usage(settled, [kind])
        .filter(**lead, **{f"{by}__in": keys})
        .values_list(by)
        .annotate(n=Sum("count"))
        .order_by()
    )
    return {key: int(n) for key, n in rows}


def _rollups(settled: Period, kinds) -> tuple[dict[str, UsageTop], int]:
    """The settled days' top lists, made now for the kinds that have none yet (kept,
    unless custom periods already made ROLLUPS_PER_DAY today), and how many were made."""
    found = {
        r.kind: r
        for r in UsageTop.objects.filter(kind__in=kinds, start=settled.start, end=settled.end)
    }
    made = [rollup_compute(kind, settled) for kind in kinds if kind not in found]
    if made and (_offered(settled) or _custom_rollups_today() < ROLLUPS_PER_DAY):
        UsageTop.objects.bulk_create(made, ignore_conflicts=True)
    return found | {r.kind: r for r in made}, len(made)


def _offered(settled: Period) -> bool:
    """Whether these are the settled days of a period the dashboard offers today."""
    today = timezone.localdate()
    days = (today - settled.start).days + 1
    return settled.end == settled_end() and days in PERIODS.values()


def _custom_rollups_today() -> int:
    last = settled_end()
    starts = [timezone.localdate() - timedelta(days=d - 1) for d in PERIODS.values()]
    day_ago = timezone.now() - timedelta(days=1)
    offered = UsageTop.objects.filter(end=last, start__in=starts)
    return UsageTop.objects.filter(computed_at__gte=day_ago).exclude(pk__in=offered).count()


def rollups_forget(day: date) -> None:
    """Counters were added to a settled day (a backfill): its rollups are stale."""
    UsageDayTotal.objects.filter(day=day).delete()
    UsageTop.objects.filter(start__lte=day, end__gte=day).delete()


def rollup_compute(kind: str, settled: Period) -> UsageTop:
    """Sum a kind's counters over settled days and keep the largest TOP_KEPT totals (not
    saved)."""
    rows = _summed_top(settled, kind, TOP_KEPT + 1)
    complete = len(rows) <= TOP_KEPT
    return UsageTop(
        kind=kind,
        start=settled.start,
        end=settled.end,
        rows=[list(r) for r in rows[:TOP_KEPT]],
        floor=0 if complete else rows[TOP_KEPT][1],
        complete=complete,
        computed_at=timezone.now(),
    )


def rollups_refresh(now=None) -> int:
    """Beat's part: roll up the settled days of every period the dashboard offers, so no
    page view sums a year of counters; drop top lists made over a week ago (the offered
    periods' have moved on by then; a custom period's is made again when viewed).
    Returns how many top lists were made."""
    last = settled_end(now)
    today = timezone.localdate(now)
    longest = Period(today - timedelta(days=max(PERIODS.values()) - 1), last, "")
    if longest.start <= last:
        _settled_day_totals(longest)
    made = 0
    for days in PERIODS.values():
        settled = Period(today - timedelta(days=days - 1), last, "")
        if settled.start > last:
            continue
        made += _rollups(settled, tuple(TOP_BY))[1]
    week_ago = (now or timezone.now()) - timedelta(days=7)
    UsageTop.objects.filter(computed_at__lt=week_ago).delete()
    return made


def top_assets(rows: list[tuple]) -> list[dict]:
    """The most viewed or downloaded assets: [{asset (or None when purged), id, n}]."""
    from assets.models import Asset

    assets = Asset.all_objects.only("display_name", "deleted_at").in_bulk([pk for pk, _ in rows])
    return [{"id": pk, "asset": assets.get(pk), "n": n} for pk, n in rows]


def top_collections(rows: list[tuple]) -> list[dict]:
    from assets.models import Collection

    found = Collection.objects.only("name").in_bulk([pk for pk, _ in rows])
    return [{"id": pk, "collection": found.get(pk), "n": n} for pk, n in rows]


def top_searches(rows: list[tuple]) -> list[dict]:
    return [{"text": key, "n": n} for key, n in rows]


def uploads_by_user(rows: list[tuple]) -> list[dict]:
    from accounts.models import User

    users = User.objects.only("email", "first_name", "last_name", "status").in_bulk(
        [pk for pk, _ in rows]
    )
    return [{"id": pk, "user": users.get(pk), "n": n} for pk, n in rows]


def analytics(period: Period) -> dict[str, list[dict]]:
    """The dashboard's analytics lists over the period."""
    tops = top_totals(period)
    return {
        "most_viewed": top_assets(tops[Kind.ASSET_VIEW]),
        "most_downloaded": top_assets(tops[Kind.DOWNLOAD]),
        "top_collections": top_collections(tops[Kind.COLLECTION_VIEW]),
        "top_searches": top_searches(tops[Kind.SEARCH]),
        "empty_searches": top_searches(tops[Kind.SEARCH_EMPTY]),
        "uploaders": uploads_by_user(tops[Kind.UPLOAD]),
    }
