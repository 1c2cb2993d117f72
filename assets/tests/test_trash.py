"""Trash: delete, restore (assets and folders), purge, retention and the orphan sweeper."""

from __future__ import annotations

import os
import time
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from accounts.policy import Level
from assets import services
from assets.models import Asset, AssetVersion, Comment, Folder, Rendition
from dam.celery import app as celery_app
from dam.preferences import preferences_get
from dam.testing import AdminFactory, UserFactory, grant, make_asset, make_folder

pytestmark = pytest.mark.django_db
API = "/api/v1"


@pytest.fixture
def admin():
    return AdminFactory()


@pytest.fixture
def tree(admin):
    logos = make_folder("/Brand/Logos", actor=admin)
    return {
        "admin": admin,
        "brand": logos.parent,
        "logos": logos,
        "logo": make_asset(logos, actor=admin, name="logo.jpg"),
    }


def _blob(asset) -> str:
    return AssetVersion.objects.get(asset=asset).blob_name


def _render(asset) -> None:
    """Renditions are made on commit; tests in a transaction make them directly."""
    services.version_process(version_id=AssetVersion.objects.get(asset=asset).pk)


def _age(name: str, hours: float) -> None:
    path = default_storage.path(name)
    past = time.time() - hours * 3600
    os.utime(path, (past, past))


# -- services ---------------------------------------------------------------------------
def test_delete_needs_manage_and_restore_keeps_everything(tree):
    editor, manager = UserFactory(), UserFactory()
    grant(editor, tree["brand"], "edit")
    grant(manager, tree["brand"], "manage")
    logo = tree["logo"]
    Comment.objects.create(asset=logo, author=editor, body="nice")
    Asset.objects.filter(pk=logo.pk).update(tags=["a"], context={"k": "v"})
    with pytest.raises(services.NotAllowed):
        services.asset_delete(actor=editor, asset=logo)
    services.asset_delete(actor=manager, asset=logo)
    assert not Asset.objects.filter(pk=logo.pk).exists()
    trashed = Asset.all_objects.get(pk=logo.pk)
    assert trashed.deleted_by == manager and trashed.deleted_with is None
    with pytest.raises(services.NotAllowed):
        services.asset_restore(actor=editor, asset=trashed)
    restored = services.asset_restore(actor=manager, asset=trashed)
    assert restored.deleted_at is None and restored.tags == ["a"]
    assert restored.context == {"k": "v"} and restored.comments.count() == 1
    assert restored.versions.count() == 1
    assert default_storage.exists(_blob(restored))


def test_restore_into_trashed_folder_is_refused_naming_the_folder(tree):
    admin, logo = tree["admin"], tree["logo"]
    services.asset_delete(actor=admin, asset=logo)
    services.folder_delete(actor=admin, folder=tree["brand"])
    with pytest.raises(services.Conflict, match="“/Brand” is in the trash; restore it first"):
        services.asset_restore(actor=admin, asset=Asset.all_objects.get(pk=logo.pk))


def test_folder_restore_brings_back_subtree_and_only_assets_deleted_with_it(tree):
    admin, logos = tree["admin"], tree["logos"]
    earlier = make_asset(logos, actor=admin, name="earlier.jpg")
    services.asset_delete(actor=admin, asset=earlier)
    assert services.folder_delete(actor=admin, folder=tree["brand"]) == 1
    with_folder = Asset.all_objects.get(pk=tree["logo"].pk)
    with pytest.raises(services.Conflict, match="deleted with the folder"):
        services.asset_restore(actor=admin, asset=with_folder)
    logos_trashed = Folder.all_objects.get(pk=logos.pk)
    with pytest.raises(services.Conflict, match="restore that folder"):
        services.folder_restore(actor=admin, folder=logos_trashed)
    brand = Folder.all_objects.get(pk=tree["brand"].pk)
    assert services.folder_restore(actor=admin, folder=brand) == 1
    assert Folder.objects.filter(pk=logos.pk).exists()
    assert Asset.objects.filter(pk=tree["logo"].pk).exists()
    assert Asset.all_objects.get(pk=earlier.pk).deleted_at is not None
    # The earlier asset restores on its own now that its folder is back.
    services.asset_restore(actor=admin, asset=Asset.all_objects.get(pk=earlier.pk))
    assert Asset.objects.filter(pk=earlier.pk).exists()


def test_folder_restore_refuses_a_name_taken_since(tree):
    admin = tree["admin"]
    services.folder_delete(actor=admin, folder=tree["brand"])
    make_folder("/Brand", actor=admin)
    with pytest.raises(services.Conflict, match="exists there now"):
        services.folder_restore(actor=admin, folder=Folder.all_objects.get(pk=tree["brand"].pk))


def test_purge_keeps_a_blob_shared_by_another_asset(tree, django_capture_on_commit_callbacks):
    admin, logos = tree["admin"], tree["logos"]
    logo = tree["logo"]
    twin = make_asset(logos, actor=admin, name="logo.jpg")  # same bytes, same blob
    assert _blob(twin) == _blob(logo)
    _render(logo)
    rendition_files = list(
        Rendition.objects.filter(version__asset=logo).values_list("file_name", flat=True)
    )
    assert rendition_files
    services.asset_delete(actor=admin, asset=logo)
    with django_capture_on_commit_callbacks(execute=True):
        services.asset_purge(actor=admin, asset=Asset.all_objects.get(pk=logo.pk))
    assert not Asset.all_objects.filter(pk=logo.pk).exists()
    assert default_storage.exists(_blob(twin))
    assert not any(default_storage.exists(n) for n in rendition_files)
    name = _blob(twin)
    services.asset_delete(actor=admin, asset=twin)
    with django_capture_on_commit_callbacks(execute=True):
        services.asset_purge(actor=admin, asset=Asset.all_objects.get(pk=twin.pk))
    assert not default_storage.exists(name)


def test_purge_deletes_blobs_only_after_commit(tree, django_capture_on_commit_callbacks):
    admin, logo = tree["admin"], tree["logo"]
    name = _blob(logo)
    services.asset_delete(actor=admin, asset=logo)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.asset_purge(actor=admin, asset=Asset.all_objects.get(pk=logo.pk))
    assert default_storage.exists(name)  # not yet: the transaction has not committed
    for callback in callbacks:
        callback()
    assert not default_storage.exists(name)


def test_purge_refuses_live_assets_and_needs_manage(tree):
    editor = UserFactory()
    grant(editor, tree["brand"], "edit")
    with pytest.raises(services.ValidationFailed):
        services.asset_purge(actor=tree["admin"], asset=tree["logo"])
    services.asset_delete(actor=tree["admin"], asset=tree["logo"])
    with pytest.raises(services.NotAllowed):
        services.asset_purge(actor=editor, asset=Asset.all_objects.get(pk=tree["logo"].pk))


def test_folder_purge_removes_subtree_rows_and_blobs(tree, django_capture_on_commit_callbacks):
    admin = tree["admin"]
    name = _blob(tree["logo"])
    services.folder_delete(actor=admin, folder=tree["brand"])
    brand = Folder.all_objects.get(pk=tree["brand"].pk)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.folder_purge(actor=admin, folder=brand) == 1
    assert not Folder.all_objects.filter(pk__in=[brand.pk, tree["logos"].pk]).exists()
    assert not Asset.all_objects.filter(pk=tree["logo"].pk).exists()
    assert not default_storage.exists(name)


def test_beat_purge_respects_retention(tree, django_capture_on_commit_callbacks):
    admin, logos = tree["admin"], tree["logos"]
    prefs = preferences_get()
    prefs.trash_retention_days = 10
    prefs.save()
    old = make_asset(logos, actor=admin, name="old.png")
    recent = make_asset(logos, actor=admin, name="recent.gif")
    for asset in (old, recent):
        services.asset_delete(actor=admin, asset=asset)
    Asset.all_objects.filter(pk=old.pk).update(deleted_at=timezone.now() - timedelta(days=11))
    Asset.all_objects.filter(pk=recent.pk).update(deleted_at=timezone.now() - timedelta(days=9))
    other = make_folder("/Old", actor=admin)
    services.folder_delete(actor=admin, folder=other)
    Folder.all_objects.filter(pk=other.pk).update(deleted_at=timezone.now() - timedelta(days=30))
    old_blob = _blob(old)
    with django_capture_on_commit_callbacks(execute=True):
        counts = celery_app.tasks["assets.tasks.purge_expired_trash"].delay().get()
    assert counts == {"assets": 1, "folders": 1}
    assert not Asset.all_objects.filter(pk=old.pk).exists()
    assert Asset.all_objects.filter(pk=recent.pk).exists()
    assert Asset.objects.filter(pk=tree["logo"].pk).exists()
    assert not Folder.all_objects.filter(pk=other.pk).exists()
    assert not default_storage.exists(old_blob)
    # Idempotent: a second run finds nothing.
    assert services.trash_purge_expired() == {"assets": 0, "folders": 0}


def test_orphan_sweeper_removes_only_old_unreferenced_blobs(tree):
    referenced = _blob(tree["logo"])
    _age(referenced, 48)
    old_orphan = default_storage.save("originals/ab/cd/" + "ab" * 32, ContentFile(b"old"))
    new_orphan = default_storage.save("originals/ef/01/" + "ef" * 32, ContentFile(b"new"))
    old_rendition = default_storage.save("renditions/999999/v1/thumb.webp", ContentFile(b"x"))
    _age(old_orphan, 48)
    _age(old_rendition, 48)
    _render(tree["logo"])
    kept_rendition = Rendition.objects.filter(version__asset=tree["logo"]).first().file_name
    _age(kept_rendition, 48)
    counts = celery_app.tasks["assets.tasks.sweep_orphan_blobs"].delay(24).get()
    assert counts["originals"] >= 1 and counts["renditions"] >= 1
    assert default_storage.exists(referenced)
    assert default_storage.exists(kept_rendition)
    assert default_storage.exists(new_orphan)
    assert not default_storage.exists(old_orphan)
    assert not default_storage.exists(old_rendition)
    default_storage.delete(new_orphan)


def test_beat_schedule_registers_both_tasks():
    tasks = {entry["task"] for entry in celery_app.conf.beat_schedule.values()}
    assert {"assets.tasks.purge_expired_trash", "assets.tasks.sweep_orphan_blobs"} <= tasks


# -- API ----------------------------------------------------------------------------------
def test_delete_404_without_access_and_204_with_manage(client, tree):
    stranger = UserFactory()
    client.force_login(stranger)
    assert client.delete(f"{API}/assets/{tree['logo'].pk}").status_code == 404
    viewer = UserFactory()
    grant(viewer, tree["brand"], "view")
    client.force_login(viewer)
    assert client.delete(f"{API}/assets/{tree['logo'].pk}").status_code == 403
    manager = UserFactory()
    grant(manager, tree["brand"], "manage")
    client.force_login(manager)
    assert client.delete(f"{API}/assets/{tree['logo'].pk}").status_code == 204
    assert client.get(f"{API}/assets/{tree['logo'].pk}").status_code == 404


def test_trash_lists_only_what_the_caller_may_restore(client, tree):
    admin = tree["admin"]
    secret = make_folder("/Secret", actor=admin)
    hidden = make_asset(secret, actor=admin, name="hidden.png")
    services.asset_delete(actor=admin, asset=hidden)
    services.asset_delete(actor=admin, asset=tree["logo"])
    old = make_folder("/Brand/Old", actor=admin)
    make_asset(old, actor=admin, name="o.gif")
    services.folder_delete(actor=admin, folder=old)
    manager, viewer = UserFactory(), UserFactory()
    grant(manager, tree["brand"], "manage")
    grant(viewer, tree["brand"], "view")

    client.force_login(viewer)
    body = client.get(f"{API}/trash").json()
    assert body["count"] == 0 and body["results"] == []

    client.force_login(manager)
    body = client.get(f"{API}/trash?page_size=1").json()
    assert body["count"] == 2 and body["next"]
    items = body["results"] + client.get(body["next"]).json()["results"]
    assert {(i["kind"], i["name"]) for i in items} == {("asset", "logo"), ("folder", "Old")}
    folder_item = next(i for i in items if i["kind"] == "folder")
    assert folder_item["assets"] == 1 and folder_item["path"] == "/Brand/Old"

    client.force_login(admin)
    assert client.get(f"{API}/trash").json()["count"] == 3


def test_restore_and_purge_routes_pair(client, tree):
    logo = tree["logo"]
    services.asset_delete(actor=tree["admin"], asset=logo)
    stranger, editor, manager = UserFactory(), UserFactory(), UserFactory()
    grant(editor, tree["brand"], "edit")
    grant(manager, tree["brand"], "manage")
    for user, status in ((stranger, 404), (editor, 403)):
        client.force_login(user)
        assert client.post(f"{API}/assets/{logo.pk}/restore").status_code == status
        assert client.delete(f"{API}/trash/{logo.pk}").status_code == status
    client.force_login(manager)
    response = client.post(f"{API}/assets/{logo.pk}/restore")
    assert response.status_code == 200 and response.json()["id"] == logo.pk
    # A live asset is not in the trash: nothing to restore or purge.
    assert client.post(f"{API}/assets/{logo.pk}/restore").status_code == 404
    assert client.delete(f"{API}/trash/{logo.pk}").status_code == 404
    client.delete(f"{API}/assets/{logo.pk}")
    assert client.delete(f"{API}/trash/{logo.pk}").status_code == 204
    assert not Asset.all_objects.filter(pk=logo.pk).exists()


def test_restore_into_trashed_folder_answers_409(client, tree):
    admin = tree["admin"]
    services.asset_delete(actor=admin, asset=tree["logo"])
    services.folder_delete(actor=admin, folder=tree["logos"])
    client.force_login(admin)
    response = client.post(f"{API}/assets/{tree['logo'].pk}/restore")
    assert response.status_code == 409
    assert "/Brand/Logos" in response.json()["detail"]


def test_folder_restore_and_purge_routes_pair(client, tree):
    admin = tree["admin"]
    services.folder_delete(actor=admin, folder=tree["logos"])
    stranger, manager = UserFactory(), UserFactory()
    grant(manager, tree["brand"], "manage")
    client.force_login(stranger)
    assert client.post(f"{API}/folders/{tree['logos'].pk}/restore").status_code == 404
    assert client.delete(f"{API}/trash/folders/{tree['logos'].pk}").status_code == 404
    client.force_login(manager)
    response = client.post(f"{API}/folders/{tree['logos'].pk}/restore")
    assert response.status_code == 200 and response.json()["path"] == "/Brand/Logos"
    assert Asset.objects.filter(pk=tree["logo"].pk).exists()
    client.delete(f"{API}/folders/{tree['logos'].pk}")
    assert client.delete(f"{API}/trash/folders/{tree['logos'].pk}").status_code == 204
    assert not Folder.all_objects.filter(pk=tree["logos"].pk).exists()
    assert Level.MANAGE  # the level named in the brief


def test_trash_page_query_count_does_not_grow_with_items(
    client, tree, django_assert_max_num_queries
):
    admin = tree["admin"]
    for i in range(6):
        services.asset_delete(
            actor=admin, asset=make_asset(tree["logos"], actor=admin, name=f"t{i}.png")
        )
        services.folder_delete(actor=admin, folder=make_folder(f"/Brand/F{i}", actor=admin))
    manager = UserFactory()
    grant(manager, tree["brand"], "manage")
    client.force_login(manager)
    with django_assert_max_num_queries(12):
        body = client.get(f"{API}/trash?page_size=50").json()
    assert body["count"] == 12
    with django_assert_max_num_queries(14):
        assert client.get("/library/trash/").status_code == 200
