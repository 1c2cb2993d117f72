"""Reports: the library's totals (daily snapshots taken by beat), usage over a period
(daily counters), analytics (most viewed and downloaded assets, collection views,
searches, uploads by user) and the storage alert.

Everything a report page shows comes from LibrarySnapshot (one row a day) and UsageDaily
(a row per day, kind and object), so the dashboard reads at most a few thousand rows
whatever the library's size or the number of events."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta

from django.db import transaction
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from dam.models import LibrarySnapshot, UsageDaily

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
def _usage(period: Period):
    return UsageDaily.objects.filter(day__gte=period.start, day__lte=period.end)


def daily_series(period: Period, kind: str, field: str = "count") -> list[tuple[date, int]]:
    """[(day, total)] for every day of the period (zeros included)."""
    rows = dict(
        _usage(period).filter(kind=kind).values_list("day").annotate(n=Sum(field)).order_by()
    )
    return [(day, int(rows.get(day, 0) or 0)) for day in period.days]


def totals(period: Period) -> dict[str, dict[str, int]]:
    """{kind: {"count": n, "bytes": b}} over the period."""
    rows = _usage(period).values("kind").annotate(n=Sum("count"), b=Sum("bytes")).order_by()
    out = {k: {"count": 0, "bytes": 0} for k in Kind.values}
    for row in rows:
        out[row["kind"]] = {"count": int(row["n"] or 0), "bytes": int(row["b"] or 0)}
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
def _top(period: Period, kind: str, by: str, limit: int = TOP) -> list[tuple]:
    return list(
        _usage(period)
        .filter(kind=kind)
        .values_list(by)
        .annotate(n=Sum("count"))
        .order_by("-n", by)[:limit]
    )


def top_assets(period: Period, kind: str, limit: int = TOP) -> list[dict]:
    """The most viewed or downloaded assets: [{asset (or None when purged), id, n}]."""
    from assets.models import Asset

    rows = _top(period, kind, "object_id", limit)
    assets = Asset.all_objects.only("display_name", "deleted_at").in_bulk([pk for pk, _ in rows])
    return [{"id": pk, "asset": assets.get(pk), "n": n} for pk, n in rows]


def top_collections(period: Period, limit: int = TOP) -> list[dict]:
    from assets.models import Collection

    rows = _top(period, Kind.COLLECTION_VIEW, "object_id", limit)
    found = Collection.objects.only("name").in_bulk([pk for pk, _ in rows])
    return [{"id": pk, "collection": found.get(pk), "n": n} for pk, n in rows]


def top_searches(period: Period, *, empty: bool = False, limit: int = TOP) -> list[dict]:
    kind = Kind.SEARCH_EMPTY if empty else Kind.SEARCH
    rows = _top(period, kind, "key", limit)
    return [{"text": key, "n": n} for key, n in rows]


def uploads_by_user(period: Period, limit: int = TOP) -> list[dict]:
    from accounts.models import User

    rows = _top(period, Kind.UPLOAD, "user_id", limit)
    users = User.objects.only("email", "first_name", "last_name", "status").in_bulk(
        [pk for pk, _ in rows]
    )
    return [{"id": pk, "user": users.get(pk), "n": n} for pk, n in rows]


def has_usage(period: Period) -> bool:
    return _usage(period).filter(~Q(count=0)).exists()
