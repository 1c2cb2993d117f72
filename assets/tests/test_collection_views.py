"""Collection pages with Django's test client: what each level sees, form errors, and
query counts that do not grow with page size."""

from __future__ import annotations

import json

import pytest
from django.contrib.messages import get_messages

from accounts import policy
from accounts.policy import CollectionLevel
from assets import collection_services as services
from assets.models import Collection, CollectionItem
from dam.testing import AdminFactory, UserFactory, grant, make_asset, make_folder

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(django_capture_on_commit_callbacks):
    admin = AdminFactory()
    brand = make_folder("/Brand", actor=admin)
    curator = UserFactory(can_create_collections=True, can_share_collections=True)
    grant(curator, brand, "edit")
    with django_capture_on_commit_callbacks(execute=True):
        assets = [make_asset(brand, actor=admin, name=f"a{i}.jpg") for i in range(3)]
    collection = services.collection_create(actor=curator, name="Spring picks")
    services.collection_add(actor=curator, collection=collection, ids=[a.pk for a in assets])
    policy.reset_access_cache(curator)
    return {"admin": admin, "brand": brand, "curator": curator, "assets": assets, "c": collection}


def texts(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def invite(world, user, level):
    services.collection_share(
        actor=world["admin"],
        collection=world["c"],
        principal=user,
        level=CollectionLevel.from_label(level),
    )


def detail(world):
    return f"/collections/{world['c'].pk}/"


# -- the list -----------------------------------------------------------------------------
def test_the_list_shows_cards_and_the_create_button_only_with_the_permission(client, world):
    client.force_login(world["curator"])
    page = client.get("/collections/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Spring picks" in html and "3 assets" in html and "New collection" in html
    plain = UserFactory()
    client.force_login(plain)
    html = client.get("/collections/").content.decode()
    assert "No collections yet" in html and "New collection" not in html
    assert "create-collections permission" in html
    html = client.get("/collections/?scope=shared").content.decode()
    assert "Nothing shared with you yet" in html


def test_the_list_keeps_its_query_count_whatever_the_page_size(
    client, world, django_assert_max_num_queries
):
    client.force_login(world["admin"])
    with django_assert_max_num_queries(14) as few:
        client.get("/collections/")
    for i in range(20):
        c = services.collection_create(actor=world["admin"], name=f"Set {i}")
        services.collection_add(actor=world["admin"], collection=c, ids=[world["assets"][0].pk])
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get("/collections/")
    assert page.content.decode().count('class="collection-card"') == 21


def test_creating_with_a_blank_name_reopens_the_dialog_with_the_error(client, world):
    client.force_login(world["curator"])
    response = client.post("/collections/new/", {"name": "  ", "description": "x"})
    assert response.status_code == 422
    html = response.content.decode()
    assert "data-open" in html and "This field is required." in html
    assert Collection.objects.count() == 1
    response = client.post("/collections/new/", {"name": "Launch"})
    created = Collection.objects.get(name="Launch")
    assert response.status_code == 302 and response["Location"] == f"/collections/{created.pk}/"


def test_creating_without_the_permission_is_refused_with_a_message(client, world):
    client.force_login(UserFactory())
    response = client.post("/collections/new/", {"name": "Launch"})
    assert response.status_code == 422
    assert "create-collections permission" in response.content.decode()
    assert not Collection.objects.filter(name="Launch").exists()


# -- one collection ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("level", "shown", "hidden"),
    [
        ("view", [], ["Invite…", "Remove from collection…", "Rename or describe…"]),
        ("collaborate", ["Remove from collection…", "Move to start"], ["Invite…", "Delete…"]),
        ("manage", ["Rename or describe…", "Delete…"], ["Invite…", "Publish…"]),
    ],
)
def test_each_level_sees_its_actions(client, world, level, shown, hidden):
    member = UserFactory()  # no share-collections permission: never Invite or Publish
    invite(world, member, level)
    client.force_login(member)
    html = client.get(detail(world)).content.decode()
    for label in shown:
        assert label in html, label
    for label in hidden:
        assert label not in html, label


def test_the_detail_page_keeps_its_query_count_whatever_the_grid_size(
    client, world, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    client.force_login(world["curator"])
    with django_assert_max_num_queries(30) as few:
        client.get(detail(world))
    with django_capture_on_commit_callbacks(execute=True):
        more = [make_asset(world["brand"], actor=world["admin"]) for _ in range(6)]
    services.collection_add(actor=world["admin"], collection=world["c"], ids=[a.pk for a in more])
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(detail(world))
    assert page.content.decode().count('class="tile tile-') == 9


def test_a_stranger_gets_404_everywhere(client, world):
    client.force_login(UserFactory())
    c = world["c"].pk
    for path in (f"/collections/{c}/", f"/collections/{c}/shares/"):
        assert client.get(path).status_code == 404
    for path in ("edit", "delete", "items", "reorder", "publish"):
        assert client.post(f"/collections/{c}/{path}/", {}).status_code == 404
    assert Collection.objects.filter(pk=c).exists()


def test_rename_errors_reopen_the_dialog_and_keep_the_name(client, world):
    client.force_login(world["curator"])
    response = client.post(f"{detail(world)}edit/", {"name": "x" * 201})
    assert response.status_code == 422 and "data-open" in response.content.decode()
    world["c"].refresh_from_db()
    assert world["c"].name == "Spring picks"
    client.post(f"{detail(world)}edit/", {"name": "Summer", "description": "Sun"})
    world["c"].refresh_from_db()
    assert (world["c"].name, world["c"].description) == ("Summer", "Sun")


def test_remove_and_move_from_the_toolbar(client, world):
    a0, a1, a2 = (a.pk for a in world["assets"])
    client.force_login(world["curator"])
    response = client.post(f"{detail(world)}items/", {"action": "move_first", "ids": [a2]})
    assert "Moved 1 asset to the start." in texts(response)
    order = list(world["c"].items.order_by("position").values_list("asset_id", flat=True))
    assert order == [a2, a0, a1]
    response = client.post(f"{detail(world)}items/", {"action": "remove", "ids": [a0]})
    assert any("Removed 1 asset" in t for t in texts(response))
    assert not CollectionItem.objects.filter(asset_id=a0).exists()
    response = client.post(f"{detail(world)}items/", {"action": "remove"})
    assert "Select at least one asset first." in texts(response)


def test_drag_and_drop_saves_the_page_order(client, world):
    a0, a1, a2 = (a.pk for a in world["assets"])
    client.force_login(world["curator"])
    url = f"{detail(world)}reorder/"
    ok = client.post(url, json.dumps({"order": [a1, a2, a0]}), "application/json")
    assert ok.status_code == 200
    order = list(world["c"].items.order_by("position").values_list("asset_id", flat=True))
    assert order == [a1, a2, a0]
    bad = client.post(url, json.dumps({"order": [a1, 99999]}), "application/json")
    assert bad.status_code == 422 and "Not in this collection" in bad.json()["detail"]
    assert client.post(url, "nonsense", "application/json").status_code == 422
    deep = "[" * 100_000 + "]" * 100_000  # nested past Python's recursion limit
    assert client.post(url, deep, "application/json").status_code == 422
    infinite = client.post(url, '{"order": [1e400]}', "application/json")  # float("inf")
    assert infinite.status_code == 422
    viewer = UserFactory()
    invite(world, viewer, "view")
    client.force_login(viewer)
    refused = client.post(url, json.dumps({"order": [a0, a1, a2]}), "application/json")
    assert refused.status_code == 403


def test_invite_dialog_shows_errors_in_place(client, world):
    client.force_login(world["curator"])
    url = f"{detail(world)}shares/"
    response = client.post(url, {"principal": "nobody", "level": "view"})
    assert response.status_code == 422 and "Choose a user or a group." in response.content.decode()
    teammate = UserFactory(first_name="Tess", last_name="Mate")
    response = client.post(url, {"principal": f"user:{teammate.pk}", "level": "collaborate"})
    assert response.status_code == 200 and "Tess Mate" in response.content.decode()
    response = client.post(url, {"principal": f"user:{world['curator'].pk}", "level": "view"})
    assert "created this collection" in response.content.decode()
    response = client.post(url, {"principal": f"user:{teammate.pk}", "remove": "1"})
    assert "Nobody is invited yet." in response.content.decode()


def test_publish_with_a_past_date_reopens_the_dialog(client, world):
    client.force_login(world["curator"])
    url = f"{detail(world)}publish/"
    response = client.post(url, {"expires_at": "2001-01-01"})
    assert response.status_code == 422
    html = response.content.decode()
    assert "The expiry must be in the future." in html and "data-open" in html
    response = client.post(url, {"expires_at": "2999-01-01", "allow_originals": "on"})
    assert response.status_code == 302
    link = world["c"].links.get()
    assert link.allow_originals and link.expires_at.year == 2999
    response = client.post(url, {"revoke": "1"})
    assert "The public link is revoked; it no longer opens." in texts(response)
    assert client.get(f"/c/{link.token}/").status_code == 404


def test_deleting_says_the_assets_stay(client, world):
    client.force_login(world["curator"])
    response = client.post(f"{detail(world)}delete/")
    assert response["Location"] == "/collections/"
    assert "Collection “Spring picks” deleted. Its 3 assets stay in their folders." in texts(
        response
    )


# -- adding from the library and the asset page -----------------------------------------------
def test_add_from_the_library_bulk_bar(client, world):
    other = services.collection_create(actor=world["curator"], name="Other")
    a0 = world["assets"][0].pk
    client.force_login(world["curator"])
    library = client.get(f"/library/folders/{world['brand'].pk}/").content.decode()
    assert "Add to collection…" in library and "Other" in library
    response = client.post(
        f"/library/folders/{world['brand'].pk}/bulk/",
        {"action": "add_to_collection", "collection": other.pk, "ids": [a0]},
    )
    assert "Added 1 asset to “Other”." in texts(response)
    response = client.post(
        f"/library/folders/{world['brand'].pk}/bulk/",
        {"action": "add_to_collection", "collection": 999999, "ids": [a0]},
    )
    assert "Choose a collection." in texts(response)


def test_add_from_the_asset_page(client, world):
    asset = make_asset(world["brand"], actor=world["admin"], name="new.jpg")
    client.force_login(world["curator"])
    page = client.get(f"/assets/{asset.pk}/").content.decode()
    assert "Add to collection" in page
    response = client.post(f"/assets/{asset.pk}/add-to-collection/", {"collection": world["c"].pk})
    assert "Added 1 asset to “Spring picks”." in texts(response)
    response = client.post(f"/assets/{asset.pk}/add-to-collection/", {"collection": world["c"].pk})
    assert "1 asset already in “Spring picks”." in texts(response)


def test_a_viewer_cannot_add_and_sees_no_add_button(client, world):
    viewer = UserFactory()
    grant(viewer, world["brand"], "view")
    invite(world, viewer, "view")
    asset = world["assets"][0]
    client.force_login(viewer)
    assert "Add to collection" not in client.get(f"/assets/{asset.pk}/").content.decode()
    response = client.post(f"/assets/{asset.pk}/add-to-collection/", {"collection": world["c"].pk})
    assert any("collaborate access" in t for t in texts(response))


def test_an_asset_opened_from_the_collection_leads_back_to_it(client, world):
    asset = world["assets"][0]
    client.force_login(world["curator"])
    html = client.get(f"/assets/{asset.pk}/?collection={world['c'].pk}").content.decode()
    assert f'href="/collections/{world["c"].pk}/">Spring picks</a>' in html
    assert 'href="/collections/" class="active" aria-current="page"' in html
    other = services.collection_create(actor=world["curator"], name="Empty")
    html = client.get(f"/assets/{asset.pk}/?collection={other.pk}").content.decode()
    assert "Empty</a>" not in html  # not in that collection: the folder breadcrumb
    assert 'href="/library/" class="active" aria-current="page"' in html


def test_a_revoked_link_says_so(client, world):
    link = services.collection_publish(actor=world["curator"], collection=world["c"])
    services.collection_unpublish(actor=world["curator"], collection=world["c"])
    response = client.get(f"/c/{link.token}/")
    assert response.status_code == 404
    assert "This link is not available" in response.content.decode()
    assert response["X-Robots-Tag"] == "noindex, nofollow"


def test_bad_principals_and_refusals_show_in_the_invite_dialog(client, world):
    sharer = UserFactory(can_share_collections=True)
    invite(world, sharer, "share")
    client.force_login(sharer)
    url = f"{detail(world)}shares/"
    for principal in ("user:²", "user:99999999999999999999", "group:-1", "user:"):
        response = client.post(url, {"principal": principal, "level": "view"})
        assert response.status_code == 422, principal
    response = client.post(url, {"principal": f"user:{UserFactory().pk}", "level": "manage"})
    assert response.status_code == 422  # htmx swaps 422: the message shows in the dialog
    assert "at most at your own level (share)" in response.content.decode()


def test_folder_share_dialog_refuses_odd_digits_too(client, world):
    client.force_login(world["admin"])
    response = client.post(
        f"/library/folders/{world['brand'].pk}/shares/", {"principal": "user:²", "level": "view"}
    )
    assert response.status_code == 422


def test_edit_and_publish_pages_are_403_below_the_level(client, world):
    collaborator = UserFactory(can_share_collections=True)
    invite(world, collaborator, "view")
    client.force_login(collaborator)
    assert client.post(f"{detail(world)}edit/", {"name": "Mine"}).status_code == 403
    assert client.post(f"{detail(world)}publish/", {}).status_code == 403
    no_permission = UserFactory()
    invite(world, no_permission, "manage")
    client.force_login(no_permission)
    assert client.post(f"{detail(world)}publish/", {}).status_code == 403
    assert client.get(f"{detail(world)}shares/").status_code == 403
    world["c"].refresh_from_db()
    assert world["c"].name == "Spring picks" and not world["c"].links.exists()


def test_zip_of_too_many_is_refused_with_a_message(client, world):
    client.force_login(world["curator"])
    ids = [a.pk for a in world["assets"]] + list(range(10**6, 10**6 + 500))
    response = client.post(f"{detail(world)}items/", {"action": "download", "ids": ids})
    assert "At most 500 assets at a time." in texts(response)
