"""Overwrite → new version, version history, restore, download and previews per version,
automatic backup and keep-metadata preferences: services and API, paired permissions."""

from __future__ import annotations

import random

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from assets import services
from assets.models import Asset, AssetVersion, Rendition
from dam.models import AuditEvent
from dam.preferences import preferences_get
from dam.testing import AdminFactory, UserFactory, grant, image_bytes, make_folder

pytestmark = pytest.mark.django_db

API = "/api/v1"


def jpeg(name="photo.jpg", width=64, height=48) -> SimpleUploadedFile:
    color = tuple(random.randrange(256) for _ in range(3))
    return SimpleUploadedFile(name, image_bytes(width, height, color=color))


def upload(actor, folder, file=None, **kwargs) -> Asset:
    file = file or jpeg()
    return services.asset_upload(
        actor=actor, file=file, filename=file.name, folder=folder, **kwargs
    )


def set_prefs(**values) -> None:
    prefs = preferences_get()
    for k, v in values.items():
        setattr(prefs, k, v)
    prefs.save()


@pytest.fixture
def admin():
    return AdminFactory()


@pytest.fixture
def world(admin, django_capture_on_commit_callbacks):
    """/Brand (an editor has edit, a viewer has view), /Secret; one overwrite preset."""
    brand = make_folder("/Brand", actor=admin)
    secret = make_folder("/Secret", actor=admin)
    editor, viewer, contributor = UserFactory(), UserFactory(), UserFactory()
    grant(editor, brand, "edit")
    grant(viewer, brand, "view")
    grant(contributor, brand, "contribute")
    preset = services.preset_create(actor=admin, name="replace", overwrite=True)
    with django_capture_on_commit_callbacks(execute=True):
        logo = upload(admin, brand, jpeg("logo.jpg", 80, 60), public_id="brand/logo", tags=["a"])
    return {
        "admin": admin,
        "brand": brand,
        "secret": secret,
        "editor": editor,
        "viewer": viewer,
        "contributor": contributor,
        "preset": preset,
        "logo": logo,
    }


def overwrite(world, actor=None, size=(120, 90), **kwargs) -> Asset:
    kwargs.setdefault("preset", world["preset"])
    return upload(
        actor or world["editor"],
        world["brand"],
        jpeg("logo-v2.jpg", *size),
        public_id=world["logo"].public_id,
        **kwargs,
    )


# -- services: overwrite -------------------------------------------------------------
def test_overwrite_makes_version_two_current(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        asset = overwrite(world)
    assert asset.pk == world["logo"].pk and asset.overwritten
    asset.refresh_from_db()
    assert asset.version == 2
    assert (asset.width, asset.height, asset.original_filename) == (120, 90, "logo-v2.jpg")
    assert asset.processing_status == "ready"
    versions = list(asset.versions.order_by("number"))
    assert [v.number for v in versions] == [1, 2]
    assert versions[0].sha256 != versions[1].sha256
    assert asset.bytes == versions[1].bytes
    # Renditions: made for the new version; the old version keeps its own.
    assert Rendition.objects.filter(version=versions[0]).count() == 2
    assert Rendition.objects.filter(version=versions[1]).count() == 2
    assert AuditEvent.objects.filter(verb="asset.new_version", object_id=str(asset.pk)).exists()


def test_overwrite_needs_preset_with_overwrite(world, admin):
    with pytest.raises(services.Conflict, match="already exists"):
        overwrite(world, preset=None)
    plain = services.preset_create(actor=admin, name="plain")
    with pytest.raises(services.Conflict, match="already exists"):
        overwrite(world, preset=plain)
    assert Asset.objects.get(pk=world["logo"].pk).version == 1


def test_overwrite_needs_edit_level(world):
    with pytest.raises(services.Conflict):
        overwrite(world, actor=world["contributor"])
    assert AssetVersion.objects.filter(asset=world["logo"]).count() == 1


def test_overwrite_of_an_invisible_asset_is_the_same_conflict(world, admin):
    hidden = upload(admin, world["secret"], public_id="secret/plan")
    with pytest.raises(services.Conflict) as invisible:
        upload(world["editor"], world["brand"], public_id=hidden.public_id, preset=world["preset"])
    with pytest.raises(services.Conflict) as plain:
        upload(world["editor"], world["brand"], public_id=world["logo"].public_id)
    assert str(invisible.value) == f"An asset with public ID “{hidden.public_id}” already exists."
    assert (
        str(plain.value) == f"An asset with public ID “{world['logo'].public_id}” already exists."
    )
    assert "Secret" not in str(invisible.value)


def test_overwrite_of_a_trashed_asset_is_a_conflict(world, admin):
    services.asset_delete(actor=admin, asset=world["logo"])
    with pytest.raises(services.Conflict):
        overwrite(world)


def test_keep_metadata_on_new_version(world):
    services.asset_update(
        actor=world["editor"], asset=world["logo"], context={"k": "v"}, display_name="Logo"
    )
    set_prefs(keep_metadata_on_new_version=True)
    asset = overwrite(world, tags="b")
    asset.refresh_from_db()
    assert asset.tags == ["a"] and asset.context == {"k": "v"} and asset.display_name == "Logo"


def test_new_upload_values_win_without_keep_metadata(world):
    services.asset_update(actor=world["editor"], asset=world["logo"], context={"k": "v"})
    set_prefs(keep_metadata_on_new_version=False)
    asset = overwrite(world, tags="b,c")
    asset.refresh_from_db()
    assert asset.tags == ["b", "c"] and asset.context == {} and asset.display_name == "logo-v2"


def test_backup_on_keeps_replaced_blob(world, django_capture_on_commit_callbacks):
    set_prefs(automatic_backup=True)
    v1 = world["logo"].current_version
    with django_capture_on_commit_callbacks(execute=True):
        overwrite(world)
    v1.refresh_from_db()
    assert v1.blob_released_at is None
    assert default_storage.exists(v1.blob_name)


def test_backup_off_releases_replaced_blob_after_commit(world, django_capture_on_commit_callbacks):
    set_prefs(automatic_backup=False)
    v1 = world["logo"].current_version
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        overwrite(world)
    v1.refresh_from_db()
    assert v1.blob_released_at is not None
    assert default_storage.exists(v1.blob_name), "deleted before the commit"
    for callback in callbacks:
        callback()
    assert not default_storage.exists(v1.blob_name)


def test_backup_off_keeps_a_blob_another_asset_uses(
    world, admin, django_capture_on_commit_callbacks
):
    set_prefs(automatic_backup=False)
    v1 = world["logo"].current_version
    with default_storage.open(v1.blob_name, "rb") as fh:
        same = SimpleUploadedFile("twin.jpg", fh.read())
    upload(admin, world["secret"], same)  # same bytes, same blob
    with django_capture_on_commit_callbacks(execute=True):
        overwrite(world)
    v1.refresh_from_db()
    assert v1.blob_released_at is not None
    assert default_storage.exists(v1.blob_name)


# -- services: restore ---------------------------------------------------------------
def test_restore_makes_a_new_version_pointing_at_the_old_blob(
    world, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        overwrite(world)
    with django_capture_on_commit_callbacks(execute=True):
        asset = services.asset_version_restore(actor=world["editor"], asset=world["logo"], number=1)
    asset.refresh_from_db()
    v1, v3 = asset.versions.get(number=1), asset.versions.get(number=3)
    assert asset.version == 3 and v3.restored_from == 1
    assert v3.blob_name == v1.blob_name and v3.sha256 == v1.sha256
    assert (asset.width, asset.height) == (80, 60)
    assert asset.processing_status == "ready"
    assert Rendition.objects.filter(version=v3).count() == 2


def test_restore_needs_edit_and_an_existing_kept_version(world):
    overwrite(world)
    with pytest.raises(services.NotAllowed):
        services.asset_version_restore(actor=world["viewer"], asset=world["logo"], number=1)
    with pytest.raises(services.NotFound):
        services.asset_version_restore(actor=world["editor"], asset=world["logo"], number=9)
    with pytest.raises(services.Conflict, match="already the current"):
        services.asset_version_restore(actor=world["editor"], asset=world["logo"], number=2)


def test_restore_of_a_released_version_is_refused(world):
    set_prefs(automatic_backup=False)
    overwrite(world)
    with pytest.raises(services.Conflict, match="not kept"):
        services.asset_version_restore(actor=world["editor"], asset=world["logo"], number=1)


# -- API ----------------------------------------------------------------------------
def test_api_overwrite_answers_200_and_new_upload_201(client, world):
    client.force_login(world["editor"])
    created = client.post(
        f"{API}/assets", {"file": jpeg(), "folder": world["brand"].pk, "preset": "replace"}
    )
    assert created.status_code == 201, created.content
    replaced = client.post(
        f"{API}/assets",
        {
            "file": jpeg("logo2.jpg"),
            "folder": world["brand"].pk,
            "preset": "replace",
            "public_id": world["logo"].public_id,
        },
    )
    assert replaced.status_code == 200, replaced.content
    assert replaced.json()["id"] == world["logo"].pk and replaced.json()["version"] == 2


def test_api_conflict_without_overwrite_and_invisible_same_answer(client, world, admin):
    hidden = upload(admin, world["secret"], public_id="secret/x")
    client.force_login(world["editor"])

    def post(public_id, preset="replace"):
        data = {"file": jpeg(), "folder": world["brand"].pk, "public_id": public_id}
        data["preset"] = preset
        return client.post(f"{API}/assets", data)

    invisible = post(hidden.public_id)
    assert invisible.status_code == 409
    visible = post(world["logo"].public_id, preset="")
    assert visible.status_code == 409
    assert invisible.json()["code"] == visible.json()["code"] == "conflict"
    assert invisible.json()["detail"].replace(hidden.public_id, "X") == visible.json()[
        "detail"
    ].replace(world["logo"].public_id, "X")


def test_api_unknown_preset_is_422(client, world):
    client.force_login(world["editor"])
    response = client.post(
        f"{API}/assets", {"file": jpeg(), "folder": world["brand"].pk, "preset": "nope"}
    )
    assert response.status_code == 422
    assert "preset" in response.json()["errors"]


def test_versions_list_paired(client, world):
    overwrite(world)
    client.force_login(world["viewer"])
    response = client.get(f"{API}/assets/{world['logo'].pk}/versions")
    assert response.status_code == 200, response.content
    body = response.json()
    assert [v["version"] for v in body] == [2, 1]
    assert [v["current"] for v in body] == [True, False]
    assert {"version", "bytes", "sha256", "created_by", "created_at", "current"} <= set(body[0])
    assert body[0]["created_by"] == world["editor"].pk

    client.force_login(UserFactory())
    stranger = client.get(f"{API}/assets/{world['logo'].pk}/versions")
    missing = client.get(f"{API}/assets/{10**9}/versions")
    assert stranger.status_code == missing.status_code == 404
    assert stranger.json() == missing.json()


def test_version_restore_paired(client, world):
    overwrite(world)
    url = f"{API}/assets/{world['logo'].pk}/versions/1/restore"
    client.force_login(UserFactory())
    assert client.post(url).status_code == 404
    client.force_login(world["viewer"])
    assert client.post(url).status_code == 403
    client.force_login(world["editor"])
    response = client.post(url)
    assert response.status_code == 200, response.content
    assert response.json()["version"] == 3
    assert client.post(f"{API}/assets/{world['logo'].pk}/versions/99/restore").status_code == 404


def test_version_restore_of_released_version_is_409(client, world):
    set_prefs(automatic_backup=False)
    overwrite(world)
    client.force_login(world["editor"])
    response = client.post(f"{API}/assets/{world['logo'].pk}/versions/1/restore")
    assert response.status_code == 409
    assert "not kept" in response.json()["detail"]


def test_version_download_paired(client, world, django_capture_on_commit_callbacks):
    v1 = world["logo"].current_version
    overwrite(world)
    url = f"{API}/assets/{world['logo'].pk}/download?version=1"
    client.force_login(UserFactory())
    assert client.get(url).status_code == 404
    client.force_login(world["viewer"])
    response = client.get(url)
    assert response.status_code == 200
    assert 'filename="logo.jpg"' in response["Content-Disposition"]
    with default_storage.open(v1.blob_name, "rb") as fh:
        assert b"".join(response.streaming_content) == fh.read()
    current = client.get(f"{API}/assets/{world['logo'].pk}/download")
    assert 'filename="logo-v2.jpg"' in current["Content-Disposition"]
    assert client.get(f"{API}/assets/{world['logo'].pk}/download?version=7").status_code == 404


def test_released_version_download_is_410(client, world, django_capture_on_commit_callbacks):
    set_prefs(automatic_backup=False)
    with django_capture_on_commit_callbacks(execute=True):
        overwrite(world)
    client.force_login(world["viewer"])
    response = client.get(f"{API}/assets/{world['logo'].pk}/download?version=1")
    assert response.status_code == 410
    assert response.json()["code"] == "gone" and "not kept" in response.json()["detail"]


# -- pages --------------------------------------------------------------------------
def test_version_rendition_paired(client, world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        overwrite(world)
    url = f"/assets/{world['logo'].pk}/versions/1/r/thumb/"
    client.force_login(UserFactory())
    assert client.get(url).status_code == 404
    client.force_login(world["viewer"])
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/webp"
    assert client.get(f"/assets/{world['logo'].pk}/versions/5/r/thumb/").status_code == 404


def test_version_page_download_paired(client, world):
    overwrite(world)
    url = f"/assets/{world['logo'].pk}/versions/1/download/"
    client.force_login(UserFactory())
    assert client.get(url).status_code == 404
    client.force_login(world["viewer"])
    assert client.get(url).status_code == 200


def test_asset_page_lists_versions_and_restore_for_editors(client, world):
    overwrite(world)
    client.force_login(world["viewer"])
    page = client.get(f"/assets/{world['logo'].pk}/").content.decode()
    assert "Versions" in page and "Version 2" in page and "Version 1" in page
    assert "Restore" not in page
    client.force_login(world["editor"])
    page = client.get(f"/assets/{world['logo'].pk}/").content.decode()
    assert "Restore version 1" in page


def test_page_restore_paired(client, world):
    overwrite(world)
    url = f"/assets/{world['logo'].pk}/versions/1/restore/"
    client.force_login(UserFactory())
    assert client.post(url).status_code == 404
    client.force_login(world["viewer"])
    assert client.post(url).status_code == 403
    client.force_login(world["editor"])
    response = client.post(url)
    assert response.status_code == 302
    assert Asset.objects.get(pk=world["logo"].pk).version == 3


def test_versions_list_query_count_does_not_grow(client, world, django_assert_max_num_queries):
    client.force_login(world["viewer"])
    url = f"{API}/assets/{world['logo'].pk}/versions"
    client.get(url)  # warm the session
    overwrite(world)
    with django_assert_max_num_queries(8):
        assert len(client.get(url).json()) == 2
    for _ in range(3):
        overwrite(world)
    with django_assert_max_num_queries(8):
        assert len(client.get(url).json()) == 5


def test_asset_page_query_count_does_not_grow_with_versions(
    client, world, django_assert_max_num_queries
):
    client.force_login(world["viewer"])
    url = f"/assets/{world['logo'].pk}/"
    overwrite(world)
    client.get(url)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as two:
        client.get(url)
    for _ in range(3):
        overwrite(world)
    with CaptureQueriesContext(connection) as five:
        client.get(url)
    assert len(five) == len(two)
