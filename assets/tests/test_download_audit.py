"""Every original served is audited (asset.download: who, which version, its bytes and
how) and counted in the usage reports, on every route: the asset page, an older
version, the API, the bulk zip, a collection's zip and a public link. A refused
download records nothing. The activity report and the asset's History say it."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from accounts.services import api_token_create
from assets.collection_services import collection_add, collection_create, collection_publish
from assets.models import AccessMode, Asset
from dam.models import AuditEvent, Preferences, UsageDaily
from dam.testing import AdminFactory, UserFactory, grant, make_asset, make_folder

pytestmark = pytest.mark.django_db
API = "/api/v1"


@pytest.fixture
def world():
    admin = AdminFactory()
    folder = make_folder("/Press", actor=admin)
    photo = make_asset(folder, actor=admin, name="launch.jpg")
    other = make_asset(folder, actor=admin, name="team.jpg")
    hidden = make_asset(make_folder("/Secret", actor=admin), actor=admin, name="x.jpg")
    Asset.objects.update(processing_status="ready")  # what a public link shows
    photo.refresh_from_db()
    viewer = UserFactory(first_name="Vera", last_name="Viewer")
    grant(viewer, folder, "view")
    return {"admin": admin, "photo": photo, "other": other, "hidden": hidden, "viewer": viewer}


def _downloads(**fields):
    return list(AuditEvent.objects.filter(verb="asset.download", **fields).order_by("id"))


def _drain(response) -> bytes:
    return b"".join(response.streaming_content)


def _counted(asset) -> int:
    rows = UsageDaily.objects.filter(kind=UsageDaily.Kind.DOWNLOAD, object_id=asset.pk)
    return sum(r.count for r in rows)


def test_the_page_download_is_audited_and_counted(client, world):
    photo, viewer = world["photo"], world["viewer"]
    client.force_login(viewer)
    response = client.get(f"/assets/{photo.pk}/download/")
    assert response.status_code == 200 and _drain(response)
    (event,) = _downloads()
    assert event.actor == viewer and event.object_type == "assets.asset"
    assert event.object_id == str(photo.pk) and event.ip == "127.0.0.1"
    assert event.data == {"version": 1, "bytes": photo.bytes, "via": "page"}
    assert _counted(photo) == 1
    version = client.get(f"/assets/{photo.pk}/versions/1/download/")
    assert version.status_code == 200
    assert [e.data["via"] for e in _downloads()] == ["page", "page"]


def test_an_invisible_or_blocked_download_records_nothing(client, world):
    viewer, photo = world["viewer"], world["photo"]
    client.force_login(viewer)
    assert client.get(f"/assets/{world['hidden'].pk}/download/").status_code == 404
    Preferences.objects.update_or_create(pk=1, defaults={"block_restricted_downloads": True})
    Asset.objects.filter(pk=photo.pk).update(access_mode=AccessMode.RESTRICTED)
    assert client.get(f"/assets/{photo.pk}/download/").status_code == 403
    assert client.get(f"{API}/assets/{photo.pk}/download").status_code == 403
    assert _downloads() == [] and _counted(photo) == 0


def test_api_downloads_are_audited_as_the_token_user(client, world):
    viewer, photo = world["viewer"], world["photo"]
    _token, secret = api_token_create(actor=viewer, user=viewer, name="ci")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    assert client.get(f"{API}/assets/{photo.pk}/download", **auth).status_code == 200
    url = f"{API}/assets/{photo.pk}/download?version=1"
    assert client.get(url, **auth).status_code == 200
    events = _downloads()
    assert [(e.actor_id, e.data["via"]) for e in events] == [(viewer.pk, "api")] * 2
    assert _counted(photo) == 2


def test_a_zip_audits_each_original_in_one_insert(client, world, django_assert_max_num_queries):
    viewer, photo, other = world["viewer"], world["photo"], world["other"]
    client.force_login(viewer)
    ids = [photo.pk, other.pk, world["hidden"].pk]  # the hidden one is left out
    response = client.post(
        f"{API}/assets/bulk/download", json.dumps({"ids": ids}), content_type="application/json"
    )
    assert response.status_code == 200
    _drain(response)
    events = _downloads()
    assert sorted(int(e.object_id) for e in events) == sorted([photo.pk, other.pk])
    assert {e.data["via"] for e in events} == {"zip"} and {e.actor_id for e in events} == {
        viewer.pk
    }
    assert _counted(photo) == 1 and _counted(world["hidden"]) == 0
    from assets.services import downloads_record

    many = [(photo.pk, 1, 10)] * 300
    with django_assert_max_num_queries(4):  # the audit rows and the counters: one each
        downloads_record(actor=viewer, served=many, via="zip")


def test_a_collection_zip_and_a_public_link_download_are_audited(client, world):
    admin, photo = world["admin"], world["photo"]
    collection = collection_create(actor=admin, name="Launch")
    collection_add(actor=admin, collection=collection, ids=[photo.pk])
    client.force_login(admin)
    zipped = client.post(
        f"/collections/{collection.pk}/items/", {"action": "download", "ids": [photo.pk]}
    )
    assert zipped.status_code == 200
    _drain(zipped)
    assert [(e.actor_id, e.data["via"]) for e in _downloads()] == [(admin.pk, "zip")]
    link = collection_publish(actor=admin, collection=collection, allow_originals=True)
    client.logout()
    public = client.get(f"/c/{link.token}/a/{photo.pk}/download/")
    assert public.status_code == 200
    _drain(public)
    last = _downloads()[-1]
    assert last.actor_id is None and last.data["via"] == "public link"


def test_the_activity_report_and_history_say_who_downloaded_what(client, world):
    admin, viewer, photo = world["admin"], world["viewer"], world["photo"]
    client.force_login(viewer)
    _drain(client.get(f"/assets/{photo.pk}/download/"))
    collection = collection_create(actor=admin, name="Launch")
    collection_add(actor=admin, collection=collection, ids=[photo.pk])
    link = collection_publish(actor=admin, collection=collection, allow_originals=True)
    client.logout()
    _drain(client.get(f"/c/{link.token}/a/{photo.pk}/download/"))
    client.force_login(admin)
    page = client.get("/activity/?group=downloads")
    body = page.content.decode()
    assert page.status_code == 200
    assert "Downloaded version 1" in body and "Vera Viewer" in body
    assert "Downloaded version 1 by public link" in body and "Someone with a public link" in body
    rows = client.get(f"{API}/activity?group=downloads").json()["results"]
    assert {r["action"] for r in rows} == {
        "Downloaded version 1",
        "Downloaded version 1 by public link",
    }
    history = client.get(reverse("asset_history", args=[photo.pk]))
    assert "Downloaded version 1" in history.content.decode()


def test_a_zip_audits_only_what_it_holds_and_each_asset_once(client, world):
    from assets.models import AssetVersion

    admin, photo, other = world["admin"], world["photo"], world["other"]
    AssetVersion.objects.filter(asset=other).update(number=99)  # no current version row
    collection = collection_create(actor=admin, name="Launch")
    collection_add(actor=admin, collection=collection, ids=[photo.pk, other.pk])
    client.force_login(admin)
    ids = [photo.pk, photo.pk, other.pk]  # a repeated id is one file
    zipped = client.post(f"/collections/{collection.pk}/items/", {"action": "download", "ids": ids})
    assert zipped.status_code == 200
    _drain(zipped)
    assert [int(e.object_id) for e in _downloads()] == [photo.pk]
    assert _counted(photo) == 1 and _counted(other) == 0


def test_a_public_link_visitor_is_audited_once_an_hour_but_always_counted(client, world):
    admin, photo = world["admin"], world["photo"]
    collection = collection_create(actor=admin, name="Launch")
    collection_add(actor=admin, collection=collection, ids=[photo.pk])
    link = collection_publish(actor=admin, collection=collection, allow_originals=True)
    for _ in range(3):
        _drain(client.get(f"/c/{link.token}/a/{photo.pk}/download/"))
    assert len(_downloads()) == 1 and _counted(photo) == 3
    _drain(client.get(f"/c/{link.token}/a/{photo.pk}/download/", REMOTE_ADDR="203.0.113.9"))
    assert [e.ip for e in _downloads()] == ["127.0.0.1", "203.0.113.9"]
