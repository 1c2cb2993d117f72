"""Reports: usage counters bumped where things happen, library snapshots, the storage
alert, periods, the dashboard's figures and analytics against known data, and who may
see them."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import Role, UserStatus
from assets import delivery
from assets.models import Asset, AssetVersion, Rendition
from dam import charts, reports, usage
from dam.models import LibrarySnapshot, Notification, Preferences, UsageDaily
from dam.testing import AdminFactory, UserFactory, grant, make_asset, make_folder

pytestmark = pytest.mark.django_db
API = "/api/v1"
Kind = UsageDaily.Kind


def _count(kind, **fields) -> int:
    rows = UsageDaily.objects.filter(kind=kind, **fields)
    return sum(r.count for r in rows)


def _bytes(kind, **fields) -> int:
    return sum(r.bytes for r in UsageDaily.objects.filter(kind=kind, **fields))


@pytest.fixture
def library():
    admin = AdminFactory()
    folder = make_folder("/Brand", actor=admin)
    photo = make_asset(folder, actor=admin, name="hero.jpg", public_id="brand/hero")
    Asset.objects.filter(pk=photo.pk).update(processing_status="ready")
    photo.refresh_from_db()
    return {"admin": admin, "folder": folder, "photo": photo}


# -- counters ------------------------------------------------------------------------------
def test_bump_adds_up_in_one_row_per_day_and_key():
    day = date(2026, 3, 1)
    usage.bump(Kind.DOWNLOAD, object_id=7, size=100, day=day)
    usage.bump(Kind.DOWNLOAD, object_id=7, size=50, day=day)
    usage.bump(Kind.DOWNLOAD, object_id=8, day=day)
    row = UsageDaily.objects.get(kind=Kind.DOWNLOAD, object_id=7)
    assert (row.count, row.bytes) == (2, 150)
    assert UsageDaily.objects.count() == 2
    assert usage.search_key("  Red   Poster ", "tags:x\x00") == "red poster tags:x"
    assert len(usage.search_key("a" * 500)) == usage.KEY_MAX


def test_things_that_happen_are_counted(client, library):
    admin, folder, photo = library["admin"], library["folder"], library["photo"]
    client.force_login(admin)
    assert client.get(f"/assets/{photo.pk}/").status_code == 200
    assert _count(Kind.ASSET_VIEW, object_id=photo.pk) == 1
    version = photo.versions.get()
    assert client.get(f"{API}/assets/{photo.pk}/download").status_code == 200
    assert _count(Kind.DOWNLOAD, object_id=photo.pk) == 1
    assert _bytes(Kind.DOWNLOAD, object_id=photo.pk) == version.bytes
    client.post(f"{API}/assets/bulk/download", {"ids": [photo.pk]}, content_type="application/json")
    assert _count(Kind.DOWNLOAD, object_id=photo.pk) == 2
    # Delivery: bytes served, a 304 serves none; a new rendition is counted once.
    first = client.get("/d/brand/hero")
    assert _count(Kind.DELIVERY, object_id=photo.pk) == 1
    assert _bytes(Kind.DELIVERY, object_id=photo.pk) == version.bytes
    client.get("/d/brand/hero", HTTP_IF_NONE_MATCH=first["ETag"])
    assert _count(Kind.DELIVERY, object_id=photo.pk) == 1
    signed = delivery.signed_url(photo, expires_in=60, transformation="w_32")
    client.get(signed["url"].split("localhost:8000", 1)[1])
    client.get(signed["url"].split("localhost:8000", 1)[1])
    assert _count(Kind.RENDITION, object_id=photo.pk) == 1
    rendition = Rendition.objects.get(version=version, spec__startswith="d:")
    assert _bytes(Kind.DELIVERY, object_id=photo.pk) == version.bytes + 2 * rendition.bytes
    # Searches: the first page only; empty ones apart; browsing without text is not.
    client.get("/search/", {"q": "Hero"})
    client.get("/search/", {"q": "hero", "page": "2"})
    client.get(f"{API}/search", {"q": "nothing-like-this"})
    client.get(f"{API}/search", {"type": "image"})
    assert _count(Kind.SEARCH, key="hero") == 1
    assert _count(Kind.SEARCH_EMPTY) == 1 and _count(Kind.SEARCH) == 2
    # Collections, private and published.
    from assets import collection_services

    collection = collection_services.collection_create(actor=admin, name="Launch")
    client.get(f"/collections/{collection.pk}/")
    assert _count(Kind.COLLECTION_VIEW, object_id=collection.pk) == 1
    # Uploads count with the upload, by uploader (the fixture's photo is the first).
    make_asset(folder, actor=admin, name="second.jpg")
    assert _count(Kind.UPLOAD, user_id=admin.pk) == 2


# -- snapshots and the storage alert --------------------------------------------------------
def test_snapshot_counts_the_library(library):
    admin, folder = library["admin"], library["folder"]
    make_asset(folder, actor=admin, name="b.png")
    UserFactory(status=UserStatus.INACTIVE)
    UserFactory(status=UserStatus.INVITED)
    version = AssetVersion.objects.filter(asset=library["photo"]).get()
    old = AssetVersion.objects.create(
        asset=library["photo"], number=0, blob_name="x", sha256="0" * 64, bytes=1234,
        original_filename="old.jpg", mime_type="image/jpeg", format="jpg",
        created_by=admin,
    )  # fmt: skip
    Rendition.objects.create(version=version, spec="thumb", file_name="r", format="webp",
                             width=1, height=1, bytes=77)  # fmt: skip
    snap = reports.snapshot_take()
    assert snap.assets_by_type == {"image": 2} and snap.asset_count == 2
    current = sum(AssetVersion.objects.exclude(pk=old.pk).values_list("bytes", flat=True))
    assert (snap.original_bytes, snap.version_bytes) == (current, 1234)
    assert (snap.rendition_bytes, snap.rendition_count) == (77, 1)
    assert snap.users_by_status == {"active": 1, "inactive": 1, "invited": 1}
    assert snap.seats_used == 2
    assert snap.storage_bytes == current + 1234 + 77
    again = reports.snapshot_take()
    assert again.pk == snap.pk and LibrarySnapshot.objects.count() == 1  # one row a day


def test_storage_alert_is_sent_once_and_rearms(library, django_capture_on_commit_callbacks):
    second = AdminFactory(role=Role.ADMIN)
    UserFactory()  # not an admin: not told
    Preferences.objects.update_or_create(pk=1, defaults={"storage_alert_bytes": 1})
    with django_capture_on_commit_callbacks(execute=True):
        reports.snapshot_take()
    assert len(mail.outbox) == 1
    assert set(mail.outbox[0].to) == {library["admin"].email, second.email}
    assert "Storage alert" in mail.outbox[0].subject
    assert Notification.objects.filter(kind="storage_alert").count() == 2
    with django_capture_on_commit_callbacks(execute=True):
        reports.snapshot_take()
    assert len(mail.outbox) == 1  # once, not every 15 minutes
    Preferences.objects.filter(pk=1).update(storage_alert_bytes=10**15)
    reports.snapshot_take()
    assert Preferences.objects.get(pk=1).storage_alert_sent_at is None  # re-armed
    Preferences.objects.filter(pk=1).update(storage_alert_bytes=1)
    with django_capture_on_commit_callbacks(execute=True):
        reports.snapshot_take()
    assert len(mail.outbox) == 2


# -- periods and charts ---------------------------------------------------------------------------
def test_periods_read_and_refuse():
    today = timezone.localdate()
    period, error = reports.period_from({"period": "7d"})
    assert error is None and (period.start, period.end) == (today - timedelta(6), today)
    assert len(period.days) == 7
    period, error = reports.period_from({"from": "2026-01-01", "to": "2026-01-31"})
    assert error is None and len(period.days) == 31
    bads = ({"period": "12y"}, {"from": "yesterday"}, {"from": "2026-02-01", "to": "2026-01-01"},
            {"from": "1900-01-01", "to": "2026-01-01"}, {"from": "2026-01-01\x00"})  # fmt: skip
    for bad in bads:
        period, error = reports.period_from(bad)
        assert error and len(period.days) == 30, bad


def test_charts_are_accessible_svg():
    series = [(date(2026, 1, d), d * 10) for d in range(1, 8)]
    svg = charts.bars(series, title="Uploads per day")
    assert svg.startswith("<svg") and svg.count("<rect") == 7
    assert 'role="img"' in svg and "Uploads per day: 280 in total over 7 days" in svg
    assert "2026-01-07: 70" in svg
    empty = charts.line([], title="Storage used")
    assert "no data yet" in empty
    hostile = charts.bars([(date(2026, 1, 1), 1)], title='<script>"x"</script>')
    assert "<script>" not in hostile


# -- the page -------------------------------------------------------------------------------------
def _seed_usage(library):
    photo = library["photo"]
    today = timezone.localdate()
    for days_ago, n in ((0, 3), (1, 2), (40, 100)):
        day = today - timedelta(days=days_ago)
        usage.bump(Kind.ASSET_VIEW, object_id=photo.pk, count=n, day=day)
        usage.bump(Kind.DELIVERY, object_id=photo.pk, count=n, size=n * 1000, day=day)
    usage.bump(Kind.DOWNLOAD, object_id=photo.pk, count=4, size=10, day=today)
    usage.bump(Kind.DOWNLOAD, object_id=999_999, count=9, day=today)  # purged since
    usage.bump(Kind.SEARCH, key="red poster", count=5, day=today)
    usage.bump(Kind.SEARCH, key="blue", count=2, day=today)
    usage.bump(Kind.SEARCH_EMPTY, key="unicorn", count=1, day=today)
    usage.bump(Kind.UPLOAD, user_id=library["admin"].pk, count=6, day=today)
    usage.bump(Kind.RENDITION, object_id=photo.pk, count=2, day=today)


def test_dashboard_figures_against_known_data(client, library):
    _seed_usage(library)
    reports.snapshot_take()
    client.force_login(library["admin"])
    page = client.get("/reports/?period=7d")
    assert page.status_code == 200
    ctx = page.context
    assert ctx["totals"][Kind.DELIVERY] == {"count": 5, "bytes": 5000}  # the 40-day-old left out
    assert ctx["totals"][Kind.UPLOAD]["count"] == 7  # 6, and the fixture's photo
    assert ctx["totals"][Kind.RENDITION]["count"] == 2
    assert [(r["id"], r["n"]) for r in ctx["most_viewed"]] == [(library["photo"].pk, 5)]
    assert [(r["id"], r["n"]) for r in ctx["most_downloaded"]] == [
        (999_999, 9), (library["photo"].pk, 4)
    ]  # fmt: skip
    assert ctx["most_downloaded"][0]["asset"] is None  # shown as "a deleted asset"
    assert [(r["text"], r["n"]) for r in ctx["top_searches"]] == [("red poster", 5), ("blue", 2)]
    assert [r["text"] for r in ctx["empty_searches"]] == ["unicorn"]
    assert [(r["user"], r["n"]) for r in ctx["uploaders"]] == [(library["admin"], 7)]
    body = page.content.decode()
    assert "Most viewed assets" in body and "A deleted asset" in body and "red poster" in body
    wide = client.get("/reports/?period=90d").context
    assert wide["totals"][Kind.DELIVERY] == {"count": 105, "bytes": 105000}
    custom = client.get(f"/reports/?from={timezone.localdate() - timedelta(40)}&to="
                        f"{timezone.localdate() - timedelta(40)}").context  # fmt: skip
    assert custom["totals"][Kind.ASSET_VIEW]["count"] == 100
    bad = client.get("/reports/?from=soon")
    assert bad.status_code == 422 and "Dates are written" in bad.content.decode()


def test_who_sees_the_dashboard_and_the_analytics(client, library):
    _seed_usage(library)
    folder = library["folder"]
    member = UserFactory()
    grant(member, folder, "manage")
    client.force_login(member)
    assert client.get("/reports/").status_code == 404
    for role, analytics in ((Role.REPORTS, True), (Role.BILLING, False), (Role.ADMIN, True),
                            (Role.TECHNICAL_ADMIN, True)):  # fmt: skip
        client.force_login(UserFactory(role=role))
        page = client.get("/reports/")
        assert page.status_code == 200, role
        assert ("Analytics" in page.content.decode()) is analytics, role
        assert "Bandwidth served" in page.content.decode()


def test_dashboard_queries_do_not_grow(client, library, django_assert_max_num_queries):
    _seed_usage(library)
    reports.snapshot_take()
    reports.rollups_refresh()  # as beat does: a long period's settled days are rolled up
    client.force_login(library["admin"])
    client.get("/reports/")
    with django_assert_max_num_queries(14):
        assert client.get("/reports/?period=365d").status_code == 200
    for i in range(30):  # many more assets, searches and users: the same queries
        usage.bump(Kind.ASSET_VIEW, object_id=10_000 + i)
        usage.bump(Kind.SEARCH, key=f"word {i}")
        usage.bump(Kind.UPLOAD, user_id=UserFactory().pk)
    with django_assert_max_num_queries(14):
        assert client.get("/reports/?period=365d").status_code == 200


def test_the_storage_alert_threshold_is_a_preference(client, library):
    client.force_login(library["admin"])  # a master admin
    url = f"{API}/preferences"
    done = client.patch(url, {"storage_alert_bytes": 5 * 1024**3}, content_type="application/json")
    assert done.status_code == 200 and done.json()["storage_alert_bytes"] == 5 * 1024**3
    for bad in (0, -1, True, "lots"):
        refused = client.patch(url, {"storage_alert_bytes": bad}, content_type="application/json")
        assert refused.status_code == 422, bad
    cleared = client.patch(url, {"storage_alert_bytes": None}, content_type="application/json")
    assert cleared.json()["storage_alert_bytes"] is None
    form = {"trash_retention_days": 30, "storage_alert_bytes": "1.5"}
    assert client.post("/accounts/preferences/", form).status_code == 302
    assert Preferences.objects.get(pk=1).storage_alert_bytes == int(1.5 * 1024**3)
    page = client.get("/settings/").content.decode()
    assert 'value="1.5"' in page and "Storage alert (GB)" in page


def test_a_counter_that_fails_is_logged_and_leaves_the_callers_transaction_usable(caplog):
    """Inside a transaction a counter runs in a savepoint: an out-of-range count is logged
    (never raised) and the caller's transaction goes on."""
    from django.db import connection

    Kind = UsageDaily.Kind
    usage.bump(Kind.SEARCH, key="fine")
    with caplog.at_level("ERROR", logger="dam.usage"):
        usage.bump(Kind.SEARCH, key="huge", count=2**63)  # bigint out of range
        usage.bump_many(Kind.DOWNLOAD, {1: (2**63, 0)})
    assert "were not recorded" in caplog.text
    with connection.cursor() as cursor:  # the transaction was not aborted
        cursor.execute("SELECT 1")
    assert UsageDaily.objects.filter(key="fine", count=1).exists()
    assert not UsageDaily.objects.filter(key="huge").exists()


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_a_counter_is_one_statement():
    """No BEGIN/COMMIT around a counter when nothing else is in a transaction; a failure
    is logged and the connection stays usable."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    Kind = UsageDaily.Kind
    with CaptureQueriesContext(connection) as captured:
        usage.bump(Kind.SEARCH, key="kittens")
    assert [q["sql"].split()[0] for q in captured.captured_queries] == ["INSERT"]
    usage.bump(Kind.SEARCH, key="huge", count=2**63)
    usage.bump(Kind.SEARCH, key="kittens")
    assert UsageDaily.objects.get(key="kittens").count == 2
