"""Upload presets: services, the API (admin roles only), uploads with a preset, and the
Settings → Upload presets pages."""

from __future__ import annotations

import random

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import Role
from assets import services
from assets.models import Asset, UploadPreset
from dam.models import AuditEvent
from dam.testing import AdminFactory, UserFactory, grant, image_bytes, make_folder

pytestmark = pytest.mark.django_db

API = "/api/v1"


def jpeg(name="photo.jpg") -> SimpleUploadedFile:
    color = tuple(random.randrange(256) for _ in range(3))
    return SimpleUploadedFile(name, image_bytes(64, 48, color=color))


def upload(actor, folder, file=None, **kwargs) -> Asset:
    file = file or jpeg()
    return services.asset_upload(
        actor=actor, file=file, filename=file.name, folder=folder, **kwargs
    )


def post_json(client, path, data):
    return client.post(path, data, content_type="application/json")


def patch_json(client, path, data):
    return client.patch(path, data, content_type="application/json")


@pytest.fixture
def admin():
    return AdminFactory()


@pytest.fixture
def brand(admin):
    return make_folder("/Brand", actor=admin)


# -- services -----------------------------------------------------------------------
def test_preset_create_update_delete_are_audited(admin, brand):
    preset = services.preset_create(
        actor=admin,
        name="web-images",
        public_id_mode="filename",
        overwrite=True,
        folder=brand,
        tags=["web", " web ", "hero"],
        moderation="auto",
        auto_checks=["blur", "blur", "min_size"],
        access_mode="restricted",
        default_for=["image"],
    )
    assert preset.tags == ["web", "hero"] and preset.auto_checks == ["blur", "min_size"]
    services.preset_update(actor=admin, preset=preset, overwrite=False, tags=[])
    preset.refresh_from_db()
    assert preset.overwrite is False and preset.tags == []
    services.preset_delete(actor=admin, preset=preset)
    assert not UploadPreset.objects.exists()
    verbs = set(AuditEvent.objects.values_list("verb", flat=True))
    assert {"preset.create", "preset.update", "preset.delete"} <= verbs


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "has space"),
        ("name", ""),
        ("public_id_mode", "sequential"),
        ("moderation", "maybe"),
        ("auto_checks", ["mind_reading"]),
        ("access_mode", "secret"),
        ("default_for", ["audio"]),
    ],
)
def test_preset_validation(admin, field, value):
    fields = {"name": "ok", field: value}
    with pytest.raises(services.ValidationFailed) as exc:
        services.preset_create(actor=admin, **fields)
    assert exc.value.field == field


def test_preset_names_are_unique(admin):
    services.preset_create(actor=admin, name="web")
    with pytest.raises(services.Conflict):
        services.preset_create(actor=admin, name="WEB")
    other = services.preset_create(actor=admin, name="print")
    with pytest.raises(services.Conflict):
        services.preset_update(actor=admin, preset=other, name="web")


def test_one_default_preset_per_type(admin):
    services.preset_create(actor=admin, name="images", default_for=["image"])
    with pytest.raises(services.Conflict, match="images"):
        services.preset_create(actor=admin, name="photos", default_for=["video", "image"])
    videos = services.preset_create(actor=admin, name="videos", default_for=["video"])
    with pytest.raises(services.Conflict):
        services.preset_update(actor=admin, preset=videos, default_for=["image"])
    # Keeping its own default is fine.
    services.preset_update(actor=admin, preset=videos, default_for=["video", "raw"])
    assert services.preset_default_for("raw") == videos


@pytest.mark.parametrize("role", [Role.MEDIA_LIBRARY_USER, Role.REPORTS, Role.BILLING])
def test_only_admin_roles_manage_presets(role):
    user = UserFactory(role=role)
    with pytest.raises(services.NotAllowed):
        services.preset_create(actor=user, name="mine")


@pytest.mark.parametrize("role", [Role.TECHNICAL_ADMIN, Role.MEDIA_LIBRARY_ADMIN, Role.ADMIN])
def test_every_admin_role_manages_presets(role):
    services.preset_create(actor=UserFactory(role=role), name="ok")


# -- uploads with a preset ------------------------------------------------------------
def test_preset_applies_folder_tags_access_moderation(admin, brand):
    preset = services.preset_create(
        actor=admin,
        name="review",
        folder=brand,
        tags=["campaign"],
        moderation="manual",
        access_mode="restricted",
    )
    asset = upload(admin, None, tags="mine", preset=preset)
    asset.refresh_from_db()
    assert asset.folder == brand and asset.ancestors == brand.ancestor_ids
    assert asset.tags == ["mine", "campaign"]
    assert asset.access_mode == "restricted" and asset.moderation_status == "pending"
    assert asset.preset == preset
    auto = services.preset_create(
        actor=admin, name="auto", moderation="auto", auto_checks=["min_size"]
    )
    assert upload(admin, brand, preset=auto).moderation_status == "pending"
    none = services.preset_create(actor=admin, name="none")
    assert upload(admin, brand, preset=none).moderation_status == "not_moderated"


def test_request_folder_wins_over_preset_folder(admin, brand):
    other = make_folder("/Other", actor=admin)
    preset = services.preset_create(actor=admin, name="p", folder=brand)
    assert upload(admin, other, preset=preset).folder == other


def test_no_folder_anywhere_is_a_field_error(admin):
    with pytest.raises(services.ValidationFailed) as exc:
        upload(admin, None)
    assert exc.value.field == "folder"


def test_preset_folder_the_uploader_cannot_see_is_refused_without_naming_it(admin):
    secret = make_folder("/Secret Plans", actor=admin)
    preset = services.preset_create(actor=admin, name="secret", folder=secret)
    user = UserFactory()
    with pytest.raises(services.ValidationFailed) as exc:
        upload(user, None, preset=preset)
    assert "Secret" not in exc.value.message


def test_public_id_from_file_name_gets_a_suffix_when_taken(admin, brand):
    preset = services.preset_create(actor=admin, name="names", public_id_mode="filename")
    first = upload(admin, brand, jpeg("Summer Sale!.JPG"), preset=preset)
    assert first.public_id == "summer-sale"
    second = upload(admin, brand, jpeg("Summer Sale!.JPG"), preset=preset)
    assert second.public_id.startswith("summer-sale-") and second.pk != first.pk
    assert len(second.public_id) == len("summer-sale-") + 6


def test_public_id_from_file_name_overwrites_when_the_preset_allows(admin, brand):
    preset = services.preset_create(
        actor=admin, name="names", public_id_mode="filename", overwrite=True
    )
    first = upload(admin, brand, jpeg("hero.jpg"), preset=preset)
    again = upload(admin, brand, jpeg("hero.jpg"), preset=preset)
    assert again.pk == first.pk and again.version == 2 and again.overwritten
    # Without edit level, the same name gets a suffix instead.
    contributor = UserFactory()
    grant(contributor, brand, "contribute")
    third = upload(contributor, brand, jpeg("hero.jpg"), preset=preset)
    assert third.pk != first.pk and third.public_id.startswith("hero-")


def test_random_public_id_by_default(admin, brand):
    preset = services.preset_create(actor=admin, name="rnd")
    asset = upload(admin, brand, jpeg("hero.jpg"), preset=preset)
    assert asset.public_id != "hero" and len(asset.public_id) == 20


def test_deleting_a_preset_keeps_assets(admin, brand):
    preset = services.preset_create(actor=admin, name="gone", tags=["t"])
    asset = upload(admin, brand, preset=preset)
    services.preset_delete(actor=admin, preset=preset)
    asset.refresh_from_db()
    assert asset.preset is None and asset.tags == ["t"]


# -- API ----------------------------------------------------------------------------
PRESET_KEYS = {
    "id",
    "name",
    "public_id_mode",
    "overwrite",
    "folder",
    "tags",
    "moderation",
    "auto_checks",
    "check_settings",
    "access_mode",
    "default_for",
    "created_at",
    "updated_at",
}


def test_api_preset_crud(client, admin, brand):
    client.force_login(admin)
    created = post_json(
        client,
        f"{API}/upload-presets",
        {
            "name": "web",
            "public_id_mode": "filename",
            "overwrite": True,
            "folder": brand.pk,
            "tags": ["a"],
            "moderation": "manual",
            "auto_checks": [],
            "access_mode": "restricted",
            "default_for": ["image"],
        },
    )
    assert created.status_code == 201, created.content
    assert set(created.json()) == PRESET_KEYS
    assert created.json()["folder"] == brand.pk
    listed = client.get(f"{API}/upload-presets")
    assert [p["name"] for p in listed.json()] == ["web"]
    got = client.get(f"{API}/upload-presets/web")
    assert got.status_code == 200 and got.json()["default_for"] == ["image"]
    patched = patch_json(client, f"{API}/upload-presets/web", {"folder": None, "tags": None})
    assert patched.status_code == 200, patched.content
    assert patched.json()["folder"] is None and patched.json()["tags"] == []
    assert patched.json()["overwrite"] is True
    assert client.delete(f"{API}/upload-presets/web").status_code == 204
    assert client.get(f"{API}/upload-presets/web").status_code == 404


def test_api_presets_paired_admin_and_non_admin(client, admin):
    services.preset_create(actor=admin, name="web")
    user = UserFactory()
    client.force_login(user)
    assert client.get(f"{API}/upload-presets").status_code == 403
    assert client.get(f"{API}/upload-presets/web").status_code == 403
    assert post_json(client, f"{API}/upload-presets", {"name": "x"}).status_code == 403
    assert patch_json(client, f"{API}/upload-presets/web", {"overwrite": True}).status_code == 403
    assert client.delete(f"{API}/upload-presets/web").status_code == 403
    client.force_login(admin)
    assert client.get(f"{API}/upload-presets").status_code == 200
    assert client.get(f"{API}/upload-presets/web").status_code == 200
    assert client.get(f"{API}/upload-presets/nope").status_code == 404
    assert patch_json(client, f"{API}/upload-presets/nope", {}).status_code == 404
    assert client.delete(f"{API}/upload-presets/nope").status_code == 404


def test_api_preset_errors(client, admin):
    client.force_login(admin)
    post_json(client, f"{API}/upload-presets", {"name": "a", "default_for": ["image"]})
    clash = post_json(client, f"{API}/upload-presets", {"name": "b", "default_for": ["image"]})
    assert clash.status_code == 409 and clash.json()["code"] == "conflict"
    dup = post_json(client, f"{API}/upload-presets", {"name": "a"})
    assert dup.status_code == 409
    bad = post_json(client, f"{API}/upload-presets", {"name": "bad name"})
    assert bad.status_code == 422 and "name" in bad.json()["errors"]
    bad_mode = post_json(client, f"{API}/upload-presets", {"name": "c", "moderation": "x"})
    assert bad_mode.status_code == 422
    no_folder = post_json(client, f"{API}/upload-presets", {"name": "d", "folder": 10**9})
    assert no_folder.status_code == 422 and "folder" in no_folder.json()["errors"]
    null_name = patch_json(client, f"{API}/upload-presets/a", {"name": None})
    assert null_name.status_code == 422


def test_api_upload_with_preset_and_preset_folder(client, admin, brand):
    services.preset_create(actor=admin, name="to-brand", folder=brand, tags=["p"])
    client.force_login(admin)
    response = client.post(f"{API}/assets", {"file": jpeg(), "preset": "to-brand", "tags": "u"})
    assert response.status_code == 201, response.content
    assert response.json()["folder"] == brand.pk
    assert response.json()["tags"] == ["u", "p"]
    missing = client.post(f"{API}/assets", {"file": jpeg()})
    assert missing.status_code == 422 and "folder" in missing.json()["errors"]


def test_openapi_describes_presets_and_versions(client, admin):
    client.force_login(admin)
    paths = client.get(f"{API}/openapi.json").json()["paths"]
    assert "/api/v1/upload-presets" in paths
    assert "/api/v1/upload-presets/{name}" in paths
    assert "/api/v1/assets/{asset_id}/versions" in paths
    assert "/api/v1/assets/{asset_id}/versions/{version}/restore" in paths


# -- pages --------------------------------------------------------------------------
def test_presets_page_paired(client, admin):
    services.preset_create(actor=admin, name="web")
    client.force_login(UserFactory())
    assert client.get("/settings/upload-presets/").status_code == 404
    assert client.get("/settings/upload-presets/web/edit/").status_code == 404
    assert client.post("/settings/upload-presets/web/delete/").status_code == 404
    client.force_login(admin)
    page = client.get("/settings/upload-presets/")
    assert page.status_code == 200
    assert b"Upload presets" in page.content and b"web" in page.content


def test_technical_admin_sees_only_the_presets_tab(client):
    client.force_login(UserFactory(role=Role.TECHNICAL_ADMIN))
    page = client.get("/settings/upload-presets/").content.decode()
    assert "Upload presets" in page and ">Users<" not in page


def test_presets_page_create_edit_delete(client, admin, brand):
    client.force_login(admin)
    response = client.post(
        "/settings/upload-presets/new/",
        {
            "name": "web",
            "public_id_mode": "filename",
            "overwrite": "on",
            "folder": "/Brand",
            "tags": "a, b",
            "moderation": "none",
            "access_mode": "public",
            "default_for": ["image"],
        },
    )
    assert response.status_code == 302, response.content
    preset = UploadPreset.objects.get(name="web")
    assert preset.overwrite and preset.folder == brand and preset.tags == ["a", "b"]
    bad = client.post(
        "/settings/upload-presets/new/",
        {
            "name": "other",
            "public_id_mode": "random",
            "moderation": "none",
            "access_mode": "public",
            "default_for": ["image"],
            "folder": "/Nowhere",
        },
    )
    assert bad.status_code == 422
    assert "No folder has this path." in bad.content.decode()
    clash = client.post(
        "/settings/upload-presets/new/",
        {
            "name": "other",
            "public_id_mode": "random",
            "moderation": "none",
            "access_mode": "public",
            "default_for": ["image"],
        },
    )
    assert clash.status_code == 422 and "already the default" in clash.content.decode()
    edit = client.get("/settings/upload-presets/web/edit/")
    assert edit.status_code == 200 and b"/Brand" in edit.content
    saved = client.post(
        "/settings/upload-presets/web/edit/",
        {
            "name": "web",
            "public_id_mode": "random",
            "moderation": "manual",
            "access_mode": "public",
        },
    )
    assert saved.status_code == 302
    preset.refresh_from_db()
    assert not preset.overwrite and preset.moderation == "manual" and preset.folder is None
    assert client.post("/settings/upload-presets/web/delete/").status_code == 302
    assert not UploadPreset.objects.exists()


def test_library_upload_panel_lists_presets(client, admin, brand):
    services.preset_create(actor=admin, name="web", default_for=["image"])
    client.force_login(admin)
    page = client.get(f"/library/folders/{brand.pk}/").content.decode()
    assert 'id="upload-preset"' in page and 'data-default-image="web"' in page
