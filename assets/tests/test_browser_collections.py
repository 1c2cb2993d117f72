"""Collections in a real browser: create and fill one, invite a teammate without folder
access, publish and revoke the public link, remove and reorder assets, delete it.

Levels (DESIGN.md): view < share < collaborate < manage; the creator manages. Inviting
and publishing also need the share-collections permission. Elements are found by role and
accessible name.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.policy import CollectionLevel
from assets import collection_services as services
from assets.models import Asset, Collection, CollectionItem, CollectionLink
from dam.pytest_browser import VIEWPORT, login, screenshot
from dam.testing import AdminFactory, UserFactory, grant, make_asset, make_folder

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


# -- helpers ------------------------------------------------------------------------------
def _ready(*assets) -> None:
    """make_asset processes eagerly in tests: every thumbnail is there before the page."""
    for asset in assets:
        asset.refresh_from_db()
        assert asset.processing_status == "ready", asset.processing_error


def _world(names=("one.jpg", "two.jpg")):
    """/Brand with some assets (by an admin) and a curator who may view /Brand and may
    create and share collections."""
    admin = AdminFactory()
    brand = make_folder("/Brand", actor=admin)
    curator = UserFactory(
        first_name="Cora",
        last_name="Curator",
        can_create_collections=True,
        can_share_collections=True,
    )
    grant(curator, brand, "view")
    assets = [make_asset(brand, actor=admin, name=n) for n in names]
    _ready(*assets)
    return admin, brand, curator, assets


def _collection(curator, assets, name="Spring picks") -> Collection:
    collection = services.collection_create(actor=curator, name=name)
    services.collection_add(actor=curator, collection=collection, ids=[a.pk for a in assets])
    return collection


def _invite(curator, collection, user, level: str) -> None:
    services.collection_share(
        actor=curator,
        collection=collection,
        principal=user,
        level=CollectionLevel.from_label(level),
    )


def _grid(page, name="Spring picks"):
    return page.get_by_role("list", name=f"Assets in {name}")


def _order(grid) -> list[str]:
    """The tiles' accessible names (their links), in the order the grid shows them."""
    return [link.get_attribute("aria-label") for link in grid.get_by_role("link").all()]


def _tile(grid, name):
    return grid.get_by_role("listitem").filter(has=grid.page.get_by_role("link", name=name))


def _wait_for_images(page, locator) -> None:
    expect(locator.first).to_be_visible()
    for handle in locator.element_handles():
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=handle)


def _new_page(browser):
    context = browser.new_context(viewport=VIEWPORT, locale="en-GB")
    context.set_default_timeout(10_000)
    return context, context.new_page()


def _status(page):
    return page.get_by_role("status")


# -- 1. create a collection and add assets from the library ------------------------------
def test_create_a_collection_and_add_assets_from_the_library(live_server, page):
    _, _, curator, (one, two) = _world()

    login(page, live_server.url, curator.email)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Collections").click()
    expect(page.get_by_role("heading", level=1, name="Collections")).to_be_visible()
    expect(page.get_by_role("heading", name="No collections yet")).to_be_visible()
    screenshot(page, "collections-empty")

    # A blank name: the dialog comes back open with the error, nothing is created.
    page.get_by_role("button", name="New collection").first.click()
    dialog = page.get_by_role("dialog", name="New collection")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Create collection").click()
    dialog = page.get_by_role("dialog", name="New collection")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("alert")).to_contain_text("required")
    expect(dialog.get_by_label("Name")).to_have_attribute("aria-invalid", "true")
    screenshot(page, "collections-new-blank-error", full_page=False)
    assert Collection.objects.count() == 0

    dialog.get_by_label("Name").fill("Spring picks")
    dialog.get_by_label("Description").fill("Hero shots for the spring campaign")
    dialog.get_by_role("button", name="Create collection").click()
    expect(_status(page)).to_contain_text("Collection “Spring picks” created.")
    expect(page.get_by_role("heading", level=1, name="Spring picks")).to_be_visible()
    expect(page.get_by_role("heading", name="This collection is empty")).to_be_visible()
    collection = Collection.objects.get()
    assert collection.name == "Spring picks" and collection.created_by == curator

    # The library: select two tiles in Brand, "Add to collection…".
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Media Library").click()
    folders = page.get_by_role("complementary", name="Folders")
    folders.get_by_role("link", name="Brand", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Brand")).to_be_visible()
    page.get_by_label("Select one").check()
    page.get_by_label("Select two").check()
    toolbar = page.get_by_role("toolbar", name="Bulk actions")
    expect(toolbar).to_contain_text("2 selected")
    toolbar.get_by_role("button", name="Add to collection…").click()
    add = page.get_by_role("dialog", name="Add 2 assets to a collection")
    expect(add).to_be_visible()
    add.get_by_label("Collection").select_option(label="Spring picks")
    screenshot(page, "collections-add-dialog", full_page=False)
    add.get_by_role("button", name="Add to collection").click()
    expect(_status(page)).to_contain_text("Added 2 assets to “Spring picks”.")
    assert set(CollectionItem.objects.values_list("asset_id", flat=True)) == {one.pk, two.pk}

    # The collection page shows both.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Collections").click()
    cards = page.get_by_role("list", name="Collections")
    card = cards.get_by_role("listitem").filter(has_text="Spring picks")
    expect(card).to_have_count(1)
    expect(card).to_contain_text("2 assets")
    expect(card).to_contain_text("Manage")
    screenshot(page, "collections-list")

    card.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1, name="Spring picks")).to_be_visible()
    grid = _grid(page)
    expect(grid.get_by_role("listitem")).to_have_count(2)
    assert sorted(_order(grid)) == ["one", "two"]
    _wait_for_images(page, grid.get_by_role("img", name=re.compile("^(one|two)$")))
    expect(
        page.get_by_role("paragraph").filter(has_text="Hero shots for the spring campaign")
    ).to_be_visible()
    screenshot(page, "collection-detail")


# -- 2. invite a teammate without folder access -------------------------------------------
def test_invited_teammate_views_and_downloads_without_folder_access(live_server, page, browser):
    _, _, curator, assets = _world(("one.jpg", "two.jpg", "elsewhere.jpg"))
    collection = _collection(curator, assets[:2])
    outside = assets[2]  # in /Brand too, but in no collection
    teammate = UserFactory(first_name="Tim", last_name="Mate")

    login(page, live_server.url, curator.email)
    page.goto(f"{live_server.url}/collections/{collection.pk}/")
    page.get_by_role("button", name="Invite…").click()
    dialog = page.get_by_role("dialog", name="Invite teammates to “Spring picks”")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_text("Nobody is invited yet.")).to_be_visible()
    dialog.get_by_label("User or group").select_option(f"user:{teammate.pk}")
    dialog.get_by_label("Access level").select_option(label="View")
    dialog.get_by_role("button", name="Invite", exact=True).click()
    invited = dialog.get_by_role("table", name="Invited")
    expect(invited).to_contain_text("Tim Mate")
    expect(invited.get_by_role("row").filter(has_text="Tim Mate")).to_contain_text("View")
    screenshot(page, "collection-invite-dialog", full_page=False)
    dialog.get_by_role("button", name="Done").click()
    expect(dialog).to_be_hidden()

    context, other = _new_page(browser)
    try:
        login(other, live_server.url, teammate.email)
        other.get_by_role("navigation", name="Main").get_by_role("link", name="Collections").click()
        other.get_by_role("navigation", name="Which collections").get_by_role(
            "link", name="Shared with me"
        ).click()
        cards = other.get_by_role("list", name="Collections")
        card = cards.get_by_role("listitem").filter(has_text="Spring picks")
        expect(card).to_contain_text("2 assets")
        expect(card).to_contain_text("View")
        screenshot(other, "collections-shared-with-me")
        card.get_by_role("link").click()
        expect(other.get_by_role("heading", level=1, name="Spring picks")).to_be_visible()
        expect(_grid(other).get_by_role("listitem")).to_have_count(2)
        # View level: no toolbar actions that change the collection, no sharing, no menu.
        for name in ("Invite…", "Publish…", "Move to start", "Remove from collection…"):
            expect(other.get_by_role("button", name=name)).to_have_count(0)
        expect(other.get_by_label("Collection actions")).to_have_count(0)
        expect(other.get_by_role("img", name=re.compile("^Drag "))).to_have_count(0)

        _grid(other).get_by_role("link", name="one").click()
        expect(other.get_by_role("heading", level=1, name="one")).to_be_visible()
        preview = other.get_by_role("img", name="Preview of one")
        _wait_for_images(other, preview)
        with other.expect_download() as info:
            other.get_by_role("link", name="Download original").click()
        download = info.value
        assert download.suggested_filename == "one.jpg"
        assert download.failure() is None
        expect(other.get_by_role("region", name="Details")).to_be_visible()
        expect(other.get_by_role("region", name="Comments")).to_have_count(0)
        expect(other.get_by_role("heading", name=re.compile("^Versions"))).to_have_count(0)
        expect(other.get_by_role("region", name="Edit")).to_have_count(0)
        expect(other.get_by_role("region", name="Delete")).to_have_count(0)
        expect(other.get_by_role("button", name="Delete asset…")).to_have_count(0)
        expect(other.get_by_text("Add to collection", exact=True)).to_have_count(0)
        screenshot(other, "collection-asset-as-viewer")

        # Nothing beyond the collection: an asset outside it is not found.
        assert other.goto(f"{live_server.url}/assets/{outside.pk}/").status == 404
        assert other.goto(f"{live_server.url}/assets/{outside.pk}/download/").status == 404

        # The library: no folders at all.
        other.goto(f"{live_server.url}/library/")
        folders = other.get_by_role("complementary", name="Folders")
        expect(folders.get_by_role("link")).to_have_count(0)
        expect(folders.get_by_text("No folders yet.")).to_be_visible()
        screenshot(other, "collection-viewer-library")
    finally:
        context.close()


def test_manage_invite_without_the_share_permission_cannot_invite_or_publish(live_server, page):
    _, _, curator, assets = _world()
    collection = _collection(curator, assets)
    manager = UserFactory()  # no share-collections permission
    _invite(curator, collection, manager, "manage")

    login(page, live_server.url, manager.email)
    page.goto(f"{live_server.url}/collections/{collection.pk}/")
    expect(page.get_by_role("heading", level=1, name="Spring picks")).to_be_visible()
    expect(page.get_by_text("your access:")).to_contain_text("Manage")
    expect(page.get_by_label("Collection actions")).to_be_visible()
    expect(page.get_by_role("button", name="Invite…")).to_have_count(0)
    expect(page.get_by_role("button", name="Publish…")).to_have_count(0)
    expect(page.get_by_role("button", name="Public link…")).to_have_count(0)
    screenshot(page, "collection-manage-without-share")


# -- 3. publish and revoke ------------------------------------------------------------------
def test_publish_open_logged_out_then_revoke(live_server, page, browser):
    _, _, curator, assets = _world()
    collection = _collection(curator, assets)

    login(page, live_server.url, curator.email)
    page.goto(f"{live_server.url}/collections/{collection.pk}/")
    page.get_by_role("button", name="Publish…").click()
    dialog = page.get_by_role("dialog", name="Publish “Spring picks”")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label(re.compile("^Expires on"))).to_have_value("")
    screenshot(page, "collection-publish-dialog", full_page=False)
    dialog.get_by_role("button", name="Publish", exact=True).click()
    expect(_status(page)).to_contain_text("Published. Anyone with the link can view")
    expect(page.get_by_text("Published", exact=True)).to_be_visible()

    page.get_by_role("button", name="Public link…").click()
    dialog = page.get_by_role("dialog", name="Public link")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_text("Does not expire.")).to_be_visible()
    url = dialog.get_by_label("Anyone with this link can view the collection").input_value()
    link = CollectionLink.objects.get(collection=collection)
    assert url == f"{live_server.url}/c/{link.token}/"
    assert len(link.token) >= 20
    screenshot(page, "collection-public-link-dialog", full_page=False)
    dialog.get_by_role("button", name="Cancel").click()

    context, anon = _new_page(browser)
    try:
        response = anon.goto(url)
        assert response.status == 200
        expect(anon.get_by_role("heading", level=1, name="Spring picks")).to_be_visible()
        grid = _grid(anon)
        expect(grid.get_by_role("listitem")).to_have_count(2)
        assert sorted(_order(grid)) == ["one", "two"]
        _wait_for_images(anon, grid.get_by_role("img"))
        expect(anon.get_by_role("link", name="Log in")).to_have_count(0)
        screenshot(anon, "public-collection")

        grid.get_by_role("link", name="two").click()
        expect(anon.get_by_role("heading", level=1, name="two")).to_be_visible()
        _wait_for_images(anon, anon.get_by_role("img", name="two"))
        with anon.expect_download() as info:
            anon.get_by_role("link", name="Download web-size image").click()
        download = info.value
        assert download.failure() is None
        assert download.suggested_filename == "two.webp"  # previews only by default
        asset_url = anon.url
        screenshot(anon, "public-asset")

        # Revoke: the confirm dialog, then both URLs answer 404.
        page.get_by_role("button", name="Public link…").click()
        page.get_by_role("dialog", name="Public link").get_by_role(
            "button", name="Revoke link…"
        ).click()
        confirm = page.get_by_role("dialog", name="Revoke the public link?")
        expect(confirm).to_be_visible()
        screenshot(page, "collection-revoke-confirm", full_page=False)
        confirm.get_by_role("button", name="Revoke link", exact=True).click()
        expect(_status(page)).to_contain_text("The public link is revoked")
        expect(page.get_by_role("button", name="Publish…")).to_be_visible()
        link.refresh_from_db()
        assert link.revoked_at is not None

        assert anon.goto(url).status == 404
        screenshot(anon, "public-collection-revoked")
        assert anon.goto(asset_url).status == 404
    finally:
        context.close()


def test_an_expired_public_link_is_not_found(live_server, page):
    _, _, curator, assets = _world()
    collection = _collection(curator, assets)
    link = services.collection_publish(actor=curator, collection=collection)
    url = f"{live_server.url}/c/{link.token}/"
    assert page.goto(url).status == 200
    expect(page.get_by_role("heading", level=1, name="Spring picks")).to_be_visible()

    CollectionLink.objects.filter(pk=link.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    assert page.goto(url).status == 404
    assert page.goto(f"{url}a/{assets[0].pk}/").status == 404
    assert page.goto(f"{url}a/{assets[0].pk}/download/").status == 404


# -- 4. remove and reorder --------------------------------------------------------------------
def test_collaborator_removes_and_reorders(live_server, page):
    names = ("one.jpg", "two.jpg", "three.jpg", "four.jpg")
    _, brand, curator, assets = _world(names)
    one, two, three, four = assets
    collection = _collection(curator, assets)
    collaborator = UserFactory()
    grant(collaborator, brand, "view")
    _invite(curator, collection, collaborator, "collaborate")

    login(page, live_server.url, collaborator.email)
    page.goto(f"{live_server.url}/collections/{collection.pk}/")
    grid = _grid(page)
    expect(grid.get_by_role("listitem")).to_have_count(4)
    assert _order(grid) == ["one", "two", "three", "four"]
    expect(page.get_by_role("button", name="Invite…")).to_have_count(0)
    expect(page.get_by_label("Collection actions")).to_have_count(0)

    # Remove "two" with the confirm dialog: it leaves the collection, not the library.
    page.get_by_label("Select two").check()
    toolbar = page.get_by_role("toolbar", name="Bulk actions")
    expect(toolbar).to_contain_text("1 selected")
    toolbar.get_by_role("button", name="Remove from collection…").click()
    confirm = page.get_by_role("dialog", name="Remove 1 asset from “Spring picks”?")
    expect(confirm).to_be_visible()
    screenshot(page, "collection-remove-confirm", full_page=False)
    confirm.get_by_role("button", name="Remove from collection").click()
    expect(_status(page)).to_contain_text("Removed 1 asset from the collection")
    grid = _grid(page)
    expect(grid.get_by_role("listitem")).to_have_count(3)
    assert _order(grid) == ["one", "three", "four"]
    assert Asset.objects.filter(pk=two.pk, deleted_at__isnull=True).exists()

    # Move to start / Move to end with a selected tile.
    page.get_by_label("Select four").check()
    toolbar.get_by_role("button", name="Move to start").click()
    expect(_status(page)).to_contain_text("Moved 1 asset to the start.")
    assert _order(_grid(page)) == ["four", "one", "three"]
    page.get_by_label("Select one").check()
    toolbar.get_by_role("button", name="Move to end").click()
    expect(_status(page)).to_contain_text("Moved 1 asset to the end.")
    assert _order(_grid(page)) == ["four", "three", "one"]

    # Drag "one" by its handle onto the left half of "four": it goes first.
    grid = _grid(page)
    handle = grid.get_by_role("img", name="Drag one to reorder")
    target = _tile(grid, "four")
    box = target.bounding_box()
    handle.drag_to(target, target_position={"x": 8, "y": box["height"] / 2})
    expect(page.get_by_text("New order saved.")).to_be_visible()
    assert _order(grid) == ["one", "four", "three"]
    screenshot(page, "collection-dragged")
    page.reload()
    grid = _grid(page)
    expect(grid.get_by_role("listitem")).to_have_count(3)
    assert _order(grid) == ["one", "four", "three"]
    ordered = CollectionItem.objects.filter(collection=collection).order_by("position", "id")
    assert list(ordered.values_list("asset_id", flat=True)) == [one.pk, four.pk, three.pk]

    # "two" is still in the library.
    page.goto(f"{live_server.url}/library/folders/{brand.pk}/")
    expect(page.get_by_label("Select two")).to_have_count(1)


# -- 5. delete --------------------------------------------------------------------------------
def test_manager_deletes_the_collection_and_the_assets_stay(live_server, page):
    _, brand, curator, assets = _world()
    collection = _collection(curator, assets)

    login(page, live_server.url, curator.email)
    page.goto(f"{live_server.url}/collections/{collection.pk}/")
    page.get_by_label("Collection actions").click()
    page.get_by_role("button", name="Delete…").click()
    confirm = page.get_by_role("dialog", name="Delete “Spring picks”?")
    expect(confirm).to_be_visible()
    expect(confirm).to_contain_text("Its 2 assets stay in their folders.")
    screenshot(page, "collection-delete-confirm", full_page=False)
    confirm.get_by_role("button", name="Delete collection").click()
    expect(_status(page)).to_contain_text(
        "Collection “Spring picks” deleted. Its 2 assets stay in their folders."
    )
    expect(page.get_by_role("heading", level=1, name="Collections")).to_be_visible()
    expect(page.get_by_role("list", name="Collections")).to_have_count(0)
    expect(page.get_by_role("heading", name="No collections yet")).to_be_visible()
    assert not Collection.objects.filter(pk=collection.pk).exists()
    assert Asset.objects.filter(pk__in=[a.pk for a in assets], deleted_at__isnull=True).count() == 2

    page.goto(f"{live_server.url}/library/folders/{brand.pk}/")
    expect(page.get_by_label("Select one")).to_have_count(1)
    expect(page.get_by_label("Select two")).to_have_count(1)
