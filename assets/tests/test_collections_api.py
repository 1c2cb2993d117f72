"""Collections through the JSON API (API.md "Collections"), and every asset route a
collection viewer may and may not use. Permission checks come in pairs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import policy
from accounts.models import Role
from assets import collection_services as services
from assets.models import Asset, Collection, CollectionLink
from dam.testing import AdminFactory, GroupFactory, UserFactory, grant, make_asset, make_folder

pytestmark = pytest.mark.django_db
API = "/api/v1"


def error(response, status, code=None):
    assert response.status_code == status, response.content
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    if code:
        assert body["code"] == code
    return body


@pytest.fixture
def world(django_capture_on_commit_callbacks):
    admin = AdminFactory()
    brand = make_folder("/Brand", actor=admin)
    secret = make_folder("/Secret", actor=admin)
    curator = UserFactory(can_create_collections=True, can_share_collections=True)
    grant(curator, brand, "view")
    with django_capture_on_commit_callbacks(execute=True):  # renditions, eagerly
        a1 = make_asset(brand, actor=admin, name="one.jpg")
        a2 = make_asset(brand, actor=admin, name="two.jpg")
        hidden = make_asset(secret, actor=admin, name="hidden.jpg")
    collection = services.collection_create(actor=curator, name="Spring picks")
    services.collection_add(actor=curator, collection=collection, ids=[a1.pk, a2.pk])
    services.collection_add(actor=admin, collection=collection, ids=[hidden.pk])
    policy.reset_access_cache(curator)
    return {
        "admin": admin,
        "brand": brand,
        "curator": curator,
        "a1": a1,
        "a2": a2,
        "hidden": hidden,
        "collection": collection,
    }


def as_user(client, user):
    client.force_login(user)
    return client


def url(world, suffix=""):
    return f"{API}/collections/{world['collection'].pk}{suffix}"


def invite(world, user, level):
    from accounts.policy import CollectionLevel

    services.collection_share(
        actor=world["admin"],
        collection=world["collection"],
        principal=user,
        level=CollectionLevel.from_label(level),
    )


# -- authentication --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/collections"),
        ("post", "/collections"),
        ("get", "/collections/1"),
        ("patch", "/collections/1"),
        ("delete", "/collections/1"),
        ("get", "/collections/1/assets"),
        ("post", "/collections/1/assets"),
        ("get", "/collections/1/shares"),
        ("put", "/collections/1/shares"),
        ("post", "/collections/1/publish"),
        ("delete", "/collections/1/publish"),
    ],
)
def test_every_collection_route_needs_credentials(client, method, path):
    error(getattr(client, method)(API + path), 401, "not_authenticated")


# -- list, create, get, patch, delete ------------------------------------------------------
def test_list_shows_what_each_user_may_see(client, world):
    body = as_user(client, world["curator"]).get(f"{API}/collections").json()
    assert body["count"] == 1
    row = body["results"][0]
    assert row["name"] == "Spring picks" and row["asset_count"] == 3
    assert row["my_level"] == "manage" and row["published"] is False
    assert row["created_by"]["id"] == world["curator"].pk and row["created_by"]["active"]
    assert row["cover_ids"] == [world["a1"].pk, world["a2"].pk, world["hidden"].pk]

    stranger = UserFactory()
    assert as_user(client, stranger).get(f"{API}/collections").json()["count"] == 0
    error(client.get(url(world)), 404, "not_found")


def test_list_scopes_search_and_pages(client, world):
    teammate = UserFactory(can_create_collections=True)
    invite(world, teammate, "view")
    services.collection_create(actor=teammate, name="Own work")
    as_user(client, teammate)
    names = lambda q: [c["name"] for c in client.get(f"{API}/collections{q}").json()["results"]]  # noqa: E731
    assert set(names("")) == {"Spring picks", "Own work"}
    assert names("?scope=mine") == ["Own work"]
    assert names("?scope=shared") == ["Spring picks"]
    assert names("?q=spring") == ["Spring picks"]
    page = client.get(f"{API}/collections?page_size=1").json()
    assert page["count"] == 2 and len(page["results"]) == 1 and page["next"]
    error(client.get(f"{API}/collections?scope=everything"), 422)
    error(client.get(f"{API}/collections?page_size=500"), 422)
    error(client.get(f"{API}/collections?q=" + "x" * 300), 422)


def test_listing_does_not_grow_queries_with_the_number_of_collections(
    client, world, django_assert_max_num_queries
):
    admin = world["admin"]
    as_user(client, admin)
    with django_assert_max_num_queries(8):
        assert client.get(f"{API}/collections").status_code == 200
    for i in range(12):
        c = services.collection_create(actor=admin, name=f"C{i}")
        services.collection_add(actor=admin, collection=c, ids=[world["a1"].pk, world["a2"].pk])
    with django_assert_max_num_queries(8):
        body = client.get(f"{API}/collections").json()
    assert body["count"] == 13


def test_create_needs_the_permission_and_a_good_name(client, world):
    plain = UserFactory()
    as_user(client, plain)
    body = error(client.post(f"{API}/collections", {"name": "X"}, "application/json"), 403)
    assert "create-collections" in body["detail"]

    allowed = UserFactory(can_create_collections=True)
    as_user(client, allowed)
    created = client.post(
        f"{API}/collections",
        {"name": "Launch", "description": "For the launch"},
        "application/json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["my_level"] == "manage" and created.json()["asset_count"] == 0
    for bad in ({"name": ""}, {"name": "x" * 201}, {"name": "a\x00b"}, {"name": 5}, {}, [], 7):
        body = error(client.post(f"{API}/collections", bad, "application/json"), 422)
        assert body["code"] == "validation_error"
    assert Collection.objects.filter(created_by=allowed).count() == 1


def test_patch_and_delete_need_manage(client, world):
    collaborator = UserFactory()
    invite(world, collaborator, "collaborate")
    as_user(client, collaborator)
    error(client.patch(url(world), {"name": "Mine"}, "application/json"), 403, "forbidden")
    error(client.delete(url(world)), 403, "forbidden")

    as_user(client, world["curator"])
    changed = client.patch(url(world), {"description": "Best of spring"}, "application/json")
    assert changed.status_code == 200 and changed.json()["description"] == "Best of spring"
    assert changed.json()["name"] == "Spring picks"
    error(client.patch(url(world), {"name": " "}, "application/json"), 422)
    error(client.patch(url(world), [], "application/json"), 422)
    assert client.delete(url(world)).status_code == 204
    assert Asset.objects.count() == 3
    error(client.get(url(world)), 404)


@pytest.mark.parametrize("bad_id", ["0", "abc", "99999999999999999999", "-1"])
def test_bad_collection_ids_are_404_or_422_never_500(client, world, bad_id):
    as_user(client, world["admin"])
    response = client.get(f"{API}/collections/{bad_id}")
    assert response.status_code in (404, 422)


# -- assets in a collection ------------------------------------------------------------------
def test_assets_list_in_collection_order_hides_invisible_folders(client, world):
    viewer = UserFactory()
    invite(world, viewer, "view")
    as_user(client, viewer)
    body = client.get(url(world, "/assets")).json()
    assert [a["id"] for a in body["results"]] == [
        world["a1"].pk,
        world["a2"].pk,
        world["hidden"].pk,
    ]
    assert {a["folder"] for a in body["results"]} == {None}  # no folder access: no folder id
    as_user(client, world["curator"])
    folders = [a["folder"] for a in client.get(url(world, "/assets")).json()["results"]]
    assert folders == [world["brand"].pk, world["brand"].pk, None]


def test_add_remove_and_reorder(client, world):
    extra = make_asset(world["brand"], actor=world["admin"], name="three.jpg")
    as_user(client, world["curator"])
    added = client.post(
        url(world, "/assets"), {"ids": [extra.pk, world["a1"].pk, 999999]}, "application/json"
    ).json()
    assert added == {
        "added": [extra.pk],
        "already": [world["a1"].pk],
        "failed": {"999999": "Not found."},
    }
    order = client.put(
        url(world, "/assets/order"),
        {"ids": [extra.pk], "before": world["a1"].pk},
        "application/json",
    )
    assert order.status_code == 200
    assert order.json()["ids"][:2] == [extra.pk, world["a1"].pk]
    removed = client.generic(
        "DELETE", url(world, "/assets"), f'{{"ids": [{extra.pk}]}}', "application/json"
    )
    assert removed.json() == {"removed": [extra.pk]}
    assert Asset.objects.filter(pk=extra.pk).exists()
    for bad in ({"ids": []}, {"ids": "1"}, {"ids": [0]}, {}, {"ids": list(range(1, 600))}):
        error(client.post(url(world, "/assets"), bad, "application/json"), 422)


def test_adding_needs_collaborate(client, world):
    sharer = UserFactory(can_share_collections=True)
    grant(sharer, world["brand"], "view")
    invite(world, sharer, "share")
    as_user(client, sharer)
    body = error(
        client.post(url(world, "/assets"), {"ids": [world["a1"].pk]}, "application/json"), 403
    )
    assert "collaborate access" in body["detail"]


# -- invites ------------------------------------------------------------------------------
def test_invites_need_share_level_and_the_share_permission(client, world):
    teammate, group = UserFactory(), GroupFactory(name="Designers")
    manager_without_permission = UserFactory()
    invite(world, manager_without_permission, "manage")
    as_user(client, manager_without_permission)
    body = error(client.get(url(world, "/shares")), 403)
    assert "share-collections permission" in body["detail"]
    payload = {"principal": {"type": "user", "id": teammate.pk}, "level": "view"}
    error(client.put(url(world, "/shares"), payload, "application/json"), 403)
    error(client.post(url(world, "/publish"), {}, "application/json"), 403)

    as_user(client, world["curator"])
    shares = client.put(url(world, "/shares"), payload, "application/json")
    assert shares.status_code == 200, shares.content
    group_payload = {"principal": {"type": "group", "id": group.pk}, "level": "collaborate"}
    shares = client.put(url(world, "/shares"), group_payload, "application/json").json()
    assert {(s["principal"]["type"], s["level"]) for s in shares} == {
        ("user", "view"),
        ("user", "manage"),
        ("group", "collaborate"),
    }
    assert client.get(url(world, "/shares")).json() == shares
    gone = client.delete(url(world, f"/shares/group/{group.pk}"))
    assert gone.status_code == 204
    error(client.delete(url(world, f"/shares/group/{group.pk}")), 404)
    error(client.delete(url(world, "/shares/robot/1")), 404)


@pytest.mark.parametrize(
    "payload",
    [
        {"principal": {"type": "user", "id": 999999}, "level": "view"},
        {"principal": {"type": "robot", "id": 1}, "level": "view"},
        {"principal": {"type": "user"}, "level": "view"},
        {"level": "view"},
        {"principal": {"type": "user", "id": 1}, "level": "owner"},
        {"principal": {"type": "user", "id": 1}, "level": "edit"},
        [],
    ],
)
def test_bad_invites_are_422(client, world, payload):
    as_user(client, world["curator"])
    error(client.put(url(world, "/shares"), payload, "application/json"), 422)


def test_an_invite_above_your_own_level_is_refused(client, world):
    sharer = UserFactory(can_share_collections=True)
    invite(world, sharer, "share")
    as_user(client, sharer)
    payload = {"principal": {"type": "user", "id": UserFactory().pk}, "level": "collaborate"}
    body = error(client.put(url(world, "/shares"), payload, "application/json"), 403)
    assert "your own level" in body["detail"]


# -- publishing ---------------------------------------------------------------------------
def test_publish_revoke_and_the_public_page(client, world):
    as_user(client, world["curator"])
    error(client.get(url(world, "/publish")), 404)
    later = (timezone.now() + timedelta(days=3)).isoformat()
    link = client.post(url(world, "/publish"), {"expires_at": later}, "application/json")
    assert link.status_code == 200, link.content
    body = link.json()
    assert body["url"].endswith(f"/c/{body['token']}/") and body["expires_at"]
    assert client.get(url(world)).json()["published"] is True
    assert client.get(url(world, "/publish")).json()["token"] == body["token"]

    client.logout()
    page = client.get(f"/c/{body['token']}/")
    assert page.status_code == 200 and b"Spring picks" in page.content
    assert page["X-Robots-Tag"] == "noindex, nofollow"
    for asset in ("a1", "a2", "hidden"):  # public, not moderated, processed
        pk = world[asset].pk
        assert client.get(f"/c/{body['token']}/a/{pk}/").status_code == 200
        assert client.get(f"/c/{body['token']}/a/{pk}/r/thumb/").status_code == 200
        download = client.get(f"/c/{body['token']}/a/{pk}/download/")
        assert download.status_code == 200
        assert download["Content-Disposition"].startswith("attachment")
        assert download["Content-Type"] == "image/webp"  # originals not allowed
    outsider = make_asset(world["brand"], actor=world["admin"], name="not-in.jpg")
    assert client.get(f"/c/{body['token']}/a/{outsider.pk}/").status_code == 404
    assert client.get(f"/c/{body['token']}/a/{outsider.pk}/r/thumb/").status_code == 404

    as_user(client, world["curator"])
    assert client.delete(url(world, "/publish")).status_code == 204
    error(client.delete(url(world, "/publish")), 404)
    client.logout()
    assert client.get(f"/c/{body['token']}/").status_code == 404
    assert client.get(f"/c/{body['token']}/a/{world['a1'].pk}/download/").status_code == 404


def test_originals_only_when_the_link_allows_them(client, world):
    link = services.collection_publish(
        actor=world["curator"], collection=world["collection"], allow_originals=True
    )
    download = client.get(f"/c/{link.token}/a/{world['a1'].pk}/download/")
    assert download.status_code == 200 and download["Content-Type"] == "image/jpeg"


def test_pending_rejected_and_restricted_assets_never_go_out(client, world):
    link = services.collection_publish(actor=world["curator"], collection=world["collection"])
    Asset.objects.filter(pk=world["a1"].pk).update(moderation_status="rejected")
    Asset.objects.filter(pk=world["a2"].pk).update(access_mode="restricted")
    page = client.get(f"/c/{link.token}/")
    assert page.status_code == 200
    for key in ("a1", "a2"):
        pk = world[key].pk
        assert client.get(f"/c/{link.token}/a/{pk}/").status_code == 404
        assert client.get(f"/c/{link.token}/a/{pk}/download/").status_code == 404
        assert client.get(f"/c/{link.token}/a/{pk}/r/preview/").status_code == 404


def test_expired_links_are_404(client, world):
    link = services.collection_publish(actor=world["curator"], collection=world["collection"])
    CollectionLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(1))
    assert client.get(f"/c/{link.token}/").status_code == 404
    assert client.get("/c/not-a-real-token-at-all-0123456789/").status_code == 404


@pytest.mark.parametrize("expires_at", ["2001-01-01T00:00:00Z", "soon", 5, "9999-12-31T00:00:00Z"])
def test_bad_expiry_is_422(client, world, expires_at):
    as_user(client, world["curator"])
    error(client.post(url(world, "/publish"), {"expires_at": expires_at}, "application/json"), 422)
    assert not CollectionLink.objects.exists()


# -- every asset route for someone who sees the asset only through a collection -----------
def test_collection_viewer_routes_in_pairs(client, world):
    viewer = UserFactory()
    hidden = world["hidden"]
    as_user(client, viewer)
    # Without the invite: invisible everywhere.
    for path in (
        f"{API}/assets/{hidden.pk}",
        f"{API}/assets/{hidden.pk}/download",
        f"/assets/{hidden.pk}/",
        f"/assets/{hidden.pk}/download/",
        f"/assets/{hidden.pk}/r/thumb/",
    ):
        assert client.get(path).status_code == 404, path
    invite(world, viewer, "view")
    # With it: detail, download, thumbnail and preview work ...
    assert client.get(f"{API}/assets/{hidden.pk}").json()["folder"] is None
    assert client.get(f"{API}/assets/{hidden.pk}/download").status_code == 200
    page = client.get(f"/assets/{hidden.pk}/")
    assert page.status_code == 200
    assert b"Comments" not in page.content and b"Versions" not in page.content
    assert b"/Secret" not in page.content
    assert client.get(f"/assets/{hidden.pk}/download/").status_code == 200
    assert client.get(f"/assets/{hidden.pk}/r/thumb/").status_code == 200
    assert client.get(f"/assets/{hidden.pk}/r/preview/").status_code == 200
    zipped = client.post(f"{API}/assets/bulk/download", {"ids": [hidden.pk]}, "application/json")
    assert zipped.status_code == 200 and zipped["Content-Type"] == "application/zip"
    # ... and nothing more: comments, versions, edits, trash are 403 (visible, not allowed).
    for method, path, body in (
        ("get", f"{API}/assets/{hidden.pk}/comments", None),
        ("post", f"{API}/assets/{hidden.pk}/comments", {"body": "hi"}),
        ("get", f"{API}/assets/{hidden.pk}/versions", None),
        ("patch", f"{API}/assets/{hidden.pk}", {"display_name": "x"}),
        ("delete", f"{API}/assets/{hidden.pk}", None),
        ("get", f"{API}/assets/{hidden.pk}/download?version=1", None),
    ):
        kwargs = {"data": body, "content_type": "application/json"} if body else {}
        response = getattr(client, method)(path, **kwargs)
        assert response.status_code == 403, (method, path, response.content)
        assert "shared collection" in response.json()["detail"]
    bulk = client.post(
        f"{API}/assets/bulk",
        {"ids": [hidden.pk], "action": "add_tags", "tags": ["x"]},
        "application/json",
    ).json()
    assert bulk["done"] == [] and "shared collection" in bulk["failed"][str(hidden.pk)]
    hidden.refresh_from_db()
    assert hidden.display_name != "x" and hidden.tags == [] and hidden.deleted_at is None
    # The library (folder lists) never shows them.
    assert client.get(f"{API}/folders").json()["count"] == 0


def test_collection_zip_download_for_a_viewer(client, world):
    viewer = UserFactory()
    invite(world, viewer, "view")
    as_user(client, viewer)
    response = client.post(
        f"/collections/{world['collection'].pk}/items/",
        {"action": "download", "ids": [world["hidden"].pk, world["a1"].pk]},
    )
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    b"".join(response.streaming_content)


def test_reports_users_never_reach_collections(client, world):
    reports = UserFactory(role=Role.REPORTS)
    as_user(client, reports)
    assert client.get(f"{API}/collections").json()["count"] == 0
    error(client.get(url(world)), 404)
    assert client.get("/collections/").status_code == 404


# -- regressions from review ------------------------------------------------------------
def test_hostile_tokens_are_404_not_500(client, world):
    for token in ("a" * 30 + "%00", "a" * 30 + "%2F..", "é" * 30, "a" * 65):
        assert client.get(f"/c/{token}/").status_code == 404


def test_admin_shared_scope_counts_each_asset_once(client, world):
    admin = AdminFactory(role=Role.ADMIN)
    g1, g2 = GroupFactory(), GroupFactory()
    admin.groups.add(g1, g2)
    from accounts.policy import CollectionLevel

    for group in (g1, g2):
        services.collection_share(
            actor=world["admin"],
            collection=world["collection"],
            principal=group,
            level=CollectionLevel.VIEW,
        )
    as_user(client, admin)
    shared = client.get(f"{API}/collections?scope=shared").json()["results"]
    assert [c["asset_count"] for c in shared] == [3]


def test_a_date_only_expiry_lasts_to_the_end_of_that_day(client, world):
    as_user(client, world["curator"])
    today = timezone.now().date().isoformat()
    body = client.post(url(world, "/publish"), {"expires_at": today}, "application/json").json()
    assert body["expires_at"].startswith(f"{today}T23:59:59")


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/assets", {"ids": [True]}),
        ("/assets", {"ids": ["1"]}),
        ("/publish", {"allow_originals": "yes"}),
    ],
)
def test_loose_types_are_refused(client, world, path, payload):
    as_user(client, world["curator"])
    error(client.post(url(world, path), payload, "application/json"), 422)


def test_an_unchanged_invite_writes_no_audit_row(world):
    from accounts.policy import CollectionLevel
    from dam.models import AuditEvent

    teammate = UserFactory()
    invite(world, teammate, "view")
    before = AuditEvent.objects.filter(verb="collection.share").count()
    services.collection_share(
        actor=world["admin"],
        collection=world["collection"],
        principal=teammate,
        level=CollectionLevel.VIEW,
    )
    assert AuditEvent.objects.filter(verb="collection.share").count() == before


def test_a_trashed_asset_is_gone_for_collection_viewers(client, world):
    from assets import services as asset_services

    viewer = UserFactory()
    invite(world, viewer, "view")
    asset_services.asset_delete(actor=world["admin"], asset=world["hidden"])
    as_user(client, viewer)
    error(client.get(f"{API}/assets/{world['hidden'].pk}"), 404)
    error(client.post(f"{API}/assets/{world['hidden'].pk}/restore"), 404)
    error(client.delete(f"{API}/trash/{world['hidden'].pk}"), 404)


def test_a_live_link_says_not_found_for_a_file_it_does_not_show(client, world):
    link = services.collection_publish(actor=world["curator"], collection=world["collection"])
    outsider = make_asset(world["brand"], actor=world["admin"], name="outside.jpg")
    response = client.get(f"/c/{link.token}/a/{outsider.pk}/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "does not show that file" in html and f"/c/{link.token}/" in html
    assert client.get(f"/c/{link.token}/a/{world['a1'].pk}/r/thumb/")["Cache-Control"] == (
        "private, no-cache"
    )
