"""Folder and asset services: rules, storage, limits, processing, audit."""

from __future__ import annotations

import io
import os
import random
import struct
import zlib

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageFile

from accounts.models import Role
from assets import services
from assets.models import Asset, AssetVersion, Folder, ProcessingStatus, Rendition
from assets.services import Conflict, NotAllowed, TooLarge, ValidationFailed
from dam.models import AuditEvent
from dam.storage import original_name, sha256_of
from dam.testing import AdminFactory, UserFactory, grant, image_bytes, make_folder

pytestmark = pytest.mark.django_db

ADMIN_ROLES = [Role.MASTER_ADMIN, Role.ADMIN, Role.TECHNICAL_ADMIN, Role.MEDIA_LIBRARY_ADMIN]


# -- helpers --------------------------------------------------------------------------
def unique_image(width=64, height=48, fmt="JPEG") -> bytes:
    """Image bytes no other test produces (storage is shared by the whole session)."""
    img = Image.new("RGB", (width, height))
    rng = random.Random()
    img.putdata(
        [(rng.randrange(256), rng.randrange(256), rng.randrange(256))] * (width * height - 64)
        + [(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(64)]
    )
    out = io.BytesIO()
    img.save(out, fmt)
    return out.getvalue()


def upload_file(name="photo.jpg", data: bytes | None = None) -> SimpleUploadedFile:
    fmt = "PNG" if name.lower().endswith(".png") else "JPEG"
    return SimpleUploadedFile(name, data if data is not None else unique_image(fmt=fmt))


def upload(actor, folder, name="photo.jpg", data: bytes | None = None, **kwargs) -> Asset:
    file = upload_file(name, data)
    return services.asset_upload(actor=actor, file=file, filename=name, folder=folder, **kwargs)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims huge dimensions; decoding it would take gigabytes."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        body = kind + payload
        return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def originals_on_disk() -> set[str]:
    names = set()
    for top in (
        default_storage.listdir("originals")[0] if default_storage.exists("originals") else []
    ):
        for mid in default_storage.listdir(f"originals/{top}")[0]:
            names.update(
                f"originals/{top}/{mid}/{f}"
                for f in default_storage.listdir(f"originals/{top}/{mid}")[1]
            )
    return names


@pytest.fixture
def admin():
    return AdminFactory()


@pytest.fixture
def folder(admin):
    return make_folder("/Marketing", actor=admin)


# -- folder_create --------------------------------------------------------------------
def test_folder_create_builds_paths_and_ancestor_ids(admin):
    marketing = services.folder_create(actor=admin, name="Marketing", parent=None)
    spring = services.folder_create(actor=admin, name="  Spring 2025 ", parent=marketing)
    hero = services.folder_create(actor=admin, name="Hero", parent=spring)

    assert (marketing.path, marketing.depth, marketing.parent) == ("/Marketing", 0, None)
    assert marketing.ancestor_ids == [marketing.pk]
    assert spring.name == "Spring 2025"
    assert (spring.path, spring.depth) == ("/Marketing/Spring 2025", 1)
    assert spring.ancestor_ids == [marketing.pk, spring.pk]
    assert (hero.path, hero.depth) == ("/Marketing/Spring 2025/Hero", 2)
    hero.refresh_from_db()
    assert hero.ancestor_ids == [marketing.pk, spring.pk, hero.pk]
    assert hero.created_by == admin


def test_folder_create_is_audited(admin):
    folder = services.folder_create(actor=admin, name="Brand", parent=None)
    event = AuditEvent.objects.get(verb="folder.create")
    assert event.actor == admin
    assert (event.object_type, event.object_id) == ("assets.folder", str(folder.pk))
    assert event.data == {"path": "/Brand"}


@pytest.mark.parametrize("name", ["Marketing", "marketing", " MARKETING "])
def test_duplicate_top_level_folder_is_a_conflict(admin, name):
    services.folder_create(actor=admin, name="Marketing", parent=None)
    with pytest.raises(Conflict) as info:
        services.folder_create(actor=admin, name=name, parent=None)
    assert info.value.status == 409
    assert info.value.field == "name"
    assert "already exists" in info.value.message
    assert Folder.objects.count() == 1


def test_duplicate_sub_folder_is_a_conflict_but_same_name_elsewhere_is_fine(admin):
    a = services.folder_create(actor=admin, name="A", parent=None)
    b = services.folder_create(actor=admin, name="B", parent=None)
    services.folder_create(actor=admin, name="Logos", parent=a)
    with pytest.raises(Conflict):
        services.folder_create(actor=admin, name="logos", parent=a)
    assert services.folder_create(actor=admin, name="Logos", parent=b).path == "/B/Logos"
    assert AuditEvent.objects.filter(verb="folder.create").count() == 4


@pytest.mark.parametrize("name", ["", "   ", None, "a/b", "/", "x" * 256])
def test_bad_folder_names_are_validation_errors(admin, name):
    with pytest.raises(ValidationFailed) as info:
        services.folder_create(actor=admin, name=name, parent=None)
    assert info.value.status == 422
    assert info.value.field == "name"
    assert info.value.message
    assert not Folder.objects.exists()
    assert not AuditEvent.objects.filter(verb="folder.create").exists()


def test_folder_name_of_255_characters_is_fine(admin):
    assert len(services.folder_create(actor=admin, name="x" * 255, parent=None).name) == 255


@pytest.mark.parametrize("role", ADMIN_ROLES)
def test_admin_roles_create_top_level_folders(role):
    user = UserFactory(role=role)
    assert services.folder_create(actor=user, name="Top", parent=None).parent is None


@pytest.mark.parametrize("role", [Role.MEDIA_LIBRARY_USER, Role.REPORTS, Role.BILLING])
def test_other_roles_cannot_create_top_level_folders(role):
    with pytest.raises(NotAllowed) as info:
        services.folder_create(actor=UserFactory(role=role), name="Top", parent=None)
    assert info.value.status == 403
    assert not Folder.objects.exists()


def test_sub_folder_needs_contribute_on_the_parent(folder):
    viewer, contributor = UserFactory(), UserFactory()
    grant(viewer, folder, "view")
    grant(contributor, folder, "contribute")
    with pytest.raises(NotAllowed, match="contribute access"):
        services.folder_create(actor=viewer, name="Mine", parent=folder)
    child = services.folder_create(actor=contributor, name="Mine", parent=folder)
    assert child.path == "/Marketing/Mine"
    assert child.created_by == contributor
    # the grant on the parent cascades, so the new folder is theirs to fill
    grandchild = services.folder_create(actor=contributor, name="Deeper", parent=child)
    assert grandchild.path == "/Marketing/Mine/Deeper"


def test_sub_folder_without_any_access_is_refused(folder):
    with pytest.raises(NotAllowed):
        services.folder_create(actor=UserFactory(), name="Sneaky", parent=folder)
    assert not Folder.objects.filter(name="Sneaky").exists()


# -- asset_upload ---------------------------------------------------------------------
def test_upload_records_the_asset_and_its_first_version(admin, folder):
    data = unique_image(320, 200)
    asset = upload(admin, folder, "Summer Beach.jpg", data)
    sha, size = sha256_of(io.BytesIO(data))

    asset.refresh_from_db()
    assert asset.display_name == "Summer Beach"
    assert asset.original_filename == "Summer Beach.jpg"
    assert (asset.type, asset.format, asset.mime_type) == ("image", "jpg", "image/jpeg")
    assert (asset.width, asset.height, asset.bytes) == (320, 200, size)
    assert asset.folder == folder
    assert asset.ancestors == folder.ancestor_ids
    assert asset.created_by == admin
    assert asset.version == 1
    assert asset.processing_status == ProcessingStatus.PROCESSING
    assert len(asset.public_id) == 20

    version = asset.current_version
    assert (version.number, version.sha256, version.bytes) == (1, sha, size)
    assert version.blob_name == original_name(sha)


def test_original_is_content_addressed_in_storage(admin, folder):
    data = unique_image()
    asset = upload(admin, folder, data=data)
    sha = sha256_of(io.BytesIO(data))[0]
    name = f"originals/{sha[:2]}/{sha[2:4]}/{sha}"
    assert asset.current_version.blob_name == name
    assert default_storage.exists(name)
    with default_storage.open(name, "rb") as fh:
        assert fh.read() == data


def test_same_bytes_twice_make_one_blob(admin, folder):
    data = unique_image()
    before = originals_on_disk()
    first = upload(admin, folder, "a.jpg", data)
    second = upload(admin, folder, "b.jpg", data)
    assert first.pk != second.pk
    assert first.current_version.blob_name == second.current_version.blob_name
    assert originals_on_disk() - before == {first.current_version.blob_name}


def test_display_name_rules(admin, folder):
    assert upload(admin, folder, "IMG_0001.JPG").display_name == "IMG_0001"
    assert upload(admin, folder, "x.jpg", display_name="  Hero shot ").display_name == "Hero shot"
    assert upload(admin, folder, "x.jpg", display_name="   ").display_name == "x"
    assert upload(admin, folder, "noextension").display_name == "noextension"
    long = upload(admin, folder, "x.jpg", display_name="d" * 400)
    assert len(long.display_name) == 255


def test_path_in_file_name_is_dropped(admin, folder):
    asset = upload(admin, folder, "../../etc/passwd.jpg")
    assert asset.original_filename == "passwd.jpg"
    assert asset.display_name == "passwd"


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        (" summer, beach ,,summer, Beach ", ["summer", "beach", "Beach"]),
        (["a", " b ", "", "a"], ["a", "b"]),
        (None, []),
        ("", []),
    ],
)
def test_tags_are_cleaned(admin, folder, given, stored):
    assert upload(admin, folder, tags=given).tags == stored


def test_overlong_tag_is_refused(admin, folder):
    with pytest.raises(ValidationFailed) as info:
        upload(admin, folder, tags=["ok", "t" * 101])
    assert info.value.field == "tags"
    assert not Asset.objects.exists()


@pytest.mark.parametrize("public_id", ["hero", "campaigns/spring-2025/hero_1.v2", "A9", "x" * 255])
def test_valid_public_ids_are_kept(admin, folder, public_id):
    assert upload(admin, folder, public_id=public_id).public_id == public_id


@pytest.mark.parametrize(
    "public_id",
    [
        "../etc/passwd",
        "a/../b",
        "/absolute",
        "-dash-first",
        ".hidden",
        "has space",
        "ünï",
        "x" * 256,
    ],
)
def test_invalid_public_ids_are_refused(admin, folder, public_id):
    with pytest.raises(ValidationFailed) as info:
        upload(admin, folder, public_id=public_id)
    assert info.value.field == "public_id"
    assert "public ID" in info.value.message
    assert not Asset.objects.exists()


def test_duplicate_public_id_is_a_conflict_and_stores_nothing(admin, folder):
    upload(admin, folder, public_id="brand/logo")
    data = unique_image()
    before = originals_on_disk()
    with pytest.raises(Conflict) as info:
        upload(admin, folder, data=data, public_id="brand/logo")
    assert info.value.status == 409
    assert info.value.field == "public_id"
    assert "brand/logo" in info.value.message
    assert Asset.objects.count() == 1
    assert originals_on_disk() == before


def test_empty_public_id_means_a_random_one(admin, folder):
    first = upload(admin, folder, public_id="")
    second = upload(admin, folder, public_id=None)
    assert first.public_id and second.public_id and first.public_id != second.public_id


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("invoice.jpg", b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n", "PDF"),
        ("notes.jpg", b"just some text, not a picture\n" * 20, "content is"),
        ("empty.jpg", b"", "empty"),
        ("truncated.png", b"\x89PNG\r\n\x1a\n", "not an image"),
    ],
)
def test_non_image_content_is_refused_whatever_the_name(admin, folder, name, data, reason):
    """The name says image, the content does not: refused with a reason, nothing stored."""
    before = originals_on_disk()
    with pytest.raises(ValidationFailed) as info:
        upload(admin, folder, name, data)
    assert info.value.field == "file"
    assert reason in info.value.message, info.value.message
    assert not Asset.objects.exists()
    assert originals_on_disk() == before


def test_unsupported_image_format_is_named(admin, folder):
    out = io.BytesIO()
    Image.new("RGB", (10, 10), (1, 2, 3)).save(out, "BMP")
    with pytest.raises(ValidationFailed, match="BMP images are not supported"):
        upload(admin, folder, "picture.jpg", out.getvalue())


def test_png_upload_is_identified_by_content(admin, folder):
    asset = upload(admin, folder, "scan.jpg", unique_image(40, 30, fmt="PNG"))
    assert (asset.format, asset.mime_type) == ("png", "image/png")


def test_pixel_limit_is_checked_before_decoding(admin, folder, settings, monkeypatch):
    settings.DAM_MAX_IMAGE_PIXELS = 1_000_000

    def no_decoding(self, *args, **kwargs):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    img = Image.new("L", (4000, 3000), 128)
    out = io.BytesIO()
    img.save(out, "PNG")
    with pytest.raises(ValidationFailed) as info:
        upload(admin, folder, "big.png", out.getvalue())
    assert info.value.field == "file"
    assert info.value.message == ("The image is 4000×3000 pixels; the limit is 1,000,000 pixels.")
    assert not Asset.objects.exists()


def test_decompression_bomb_header_is_refused_without_decoding(admin, folder, monkeypatch):
    def no_decoding(self, *args, **kwargs):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(ValidationFailed, match="pixels") as info:
        upload(admin, folder, "bomb.png", png_header_only(60_000, 60_000))
    assert info.value.field == "file"
    assert not Asset.objects.exists()


def test_image_at_the_pixel_limit_is_accepted(admin, folder, settings):
    settings.DAM_MAX_IMAGE_PIXELS = 64 * 48
    assert upload(admin, folder, data=unique_image(64, 48)).width == 64


def test_size_limit_is_too_large(admin, folder, settings):
    data = unique_image(200, 200)
    settings.DAM_MAX_UPLOAD_BYTES = len(data) - 1
    before = originals_on_disk()
    with pytest.raises(TooLarge) as info:
        upload(admin, folder, data=data)
    assert info.value.status == 413
    assert f"{len(data) - 1:,}-byte limit" in info.value.message
    assert not Asset.objects.exists()
    assert originals_on_disk() == before

    settings.DAM_MAX_UPLOAD_BYTES = len(data)
    assert upload(admin, folder, data=data).bytes == len(data)


def test_size_limit_applies_to_files_that_do_not_declare_a_size(admin, folder, settings):
    data = unique_image(200, 200)
    settings.DAM_MAX_UPLOAD_BYTES = 100
    stream = io.BytesIO(data)  # no .size attribute: the service measures while hashing
    with pytest.raises(TooLarge):
        services.asset_upload(actor=admin, file=stream, filename="s.jpg", folder=folder)
    assert not Asset.objects.exists()


def test_upload_needs_contribute(folder):
    viewer, contributor, stranger = UserFactory(), UserFactory(), UserFactory()
    grant(viewer, folder, "view")
    grant(contributor, folder, "contribute")
    with pytest.raises(NotAllowed) as info:
        upload(viewer, folder)
    assert info.value.status == 403
    assert "contribute access to upload" in info.value.message
    with pytest.raises(NotAllowed):
        upload(stranger, folder)
    assert not Asset.objects.exists()

    asset = upload(contributor, folder)
    assert asset.created_by == contributor


def test_upload_into_a_sub_folder_inherits_the_grant(folder, admin):
    sub = services.folder_create(actor=admin, name="Sub", parent=folder)
    user = UserFactory()
    grant(user, folder, "contribute")
    asset = upload(user, sub)
    assert asset.ancestors == [folder.pk, sub.pk]


def test_upload_is_audited(admin, folder):
    data = unique_image()
    asset = upload(admin, folder, data=data)
    event = AuditEvent.objects.get(verb="asset.upload")
    assert event.actor == admin
    assert (event.object_type, event.object_id) == ("assets.asset", str(asset.pk))
    assert event.data == {
        "folder": folder.pk,
        "bytes": len(data),
        "sha256": sha256_of(io.BytesIO(data))[0],
    }


def test_upload_queues_processing_after_commit(admin, folder, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        asset = upload(admin, folder, data=unique_image(800, 600))
    assert len(callbacks) == 1
    asset.refresh_from_db()
    assert asset.processing_status == ProcessingStatus.READY
    assert set(Rendition.objects.filter(version__asset=asset).values_list("spec", flat=True)) == {
        "thumb",
        "preview",
    }


# -- version_process ------------------------------------------------------------------
def test_version_process_makes_renditions_once(admin, folder):
    asset = upload(admin, folder, data=unique_image(2000, 1000))
    version = asset.current_version
    services.version_process(version_id=version.pk)

    asset.refresh_from_db()
    assert asset.processing_status == ProcessingStatus.READY
    assert asset.processing_error == ""
    renditions = {r.spec: r for r in version.renditions.all()}
    assert set(renditions) == {"thumb", "preview"}
    assert (renditions["thumb"].width, renditions["thumb"].height) == (480, 240)
    assert (renditions["preview"].width, renditions["preview"].height) == (1600, 800)
    for rendition in renditions.values():
        assert rendition.format == "webp"
        assert default_storage.exists(rendition.file_name)
        assert default_storage.size(rendition.file_name) == rendition.bytes
    assert AuditEvent.objects.filter(verb="asset.processed", object_id=str(asset.pk)).count() == 1

    before = {
        r.pk: (r.spec, r.file_name, r.bytes, r.created_at)
        for r in Rendition.objects.filter(version=version)
    }
    mtimes = {
        name: os.path.getmtime(default_storage.path(name)) for _, name, _, _ in before.values()
    }
    services.version_process(version_id=version.pk)
    after = {
        r.pk: (r.spec, r.file_name, r.bytes, r.created_at)
        for r in Rendition.objects.filter(version=version)
    }
    assert after == before
    assert {n: os.path.getmtime(default_storage.path(n)) for n in mtimes} == mtimes
    assert AuditEvent.objects.filter(verb="asset.processed", object_id=str(asset.pk)).count() == 1


def test_large_jpeg_gets_a_480_pixel_thumbnail(admin, folder):
    data = image_bytes(6000, 4000, color=tuple(random.randrange(256) for _ in range(3)))
    asset = upload(admin, folder, "huge.jpg", data)
    services.version_process(version_id=asset.current_version.pk)
    thumb = Rendition.objects.get(version__asset=asset, spec="thumb")
    preview = Rendition.objects.get(version__asset=asset, spec="preview")
    assert (thumb.width, thumb.height) == (480, 320)
    assert (preview.width, preview.height) == (1600, 1067)
    with default_storage.open(thumb.file_name, "rb") as fh, Image.open(fh) as img:
        assert img.format == "WEBP"
        assert img.size == (480, 320)


def test_small_images_are_not_upscaled(admin, folder):
    asset = upload(admin, folder, data=unique_image(300, 200, fmt="PNG"), name="s.png")
    services.version_process(version_id=asset.current_version.pk)
    sizes = {r.spec: (r.width, r.height) for r in Rendition.objects.filter(version__asset=asset)}
    assert sizes == {"thumb": (300, 200), "preview": (300, 200)}


def test_exif_orientation_is_applied(admin, folder):
    img = Image.new("RGB", (600, 300), (10, 120, 200))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif)
    asset = upload(admin, folder, "phone.jpg", out.getvalue())
    services.version_process(version_id=asset.current_version.pk)
    thumb = Rendition.objects.get(version__asset=asset, spec="thumb")
    assert (thumb.width, thumb.height) == (240, 480)


def test_damaged_file_marks_the_asset_failed_without_raising(admin, folder):
    data = unique_image(800, 600)
    asset = upload(admin, folder, "damaged.jpg", data[: len(data) // 2])
    services.version_process(version_id=asset.current_version.pk)  # no exception
    asset.refresh_from_db()
    assert asset.processing_status == ProcessingStatus.FAILED
    assert asset.processing_error == "The file could not be decoded; it may be damaged."
    assert not Rendition.objects.filter(version__asset=asset).exists()
    event = AuditEvent.objects.get(verb="asset.processing_failed")
    assert event.object_id == str(asset.pk)
    assert event.data == {"reason": asset.processing_error}


def test_processing_a_vanished_version_does_nothing(admin, folder):
    asset = upload(admin, folder)
    version_id = asset.current_version.pk
    AssetVersion.objects.filter(pk=version_id).delete()
    services.version_process(version_id=version_id)
    asset.refresh_from_db()
    assert asset.processing_status == ProcessingStatus.PROCESSING


def test_missing_blob_raises_so_the_task_retries(admin, folder):
    asset = upload(admin, folder)
    version = asset.current_version
    default_storage.delete(version.blob_name)
    with pytest.raises(FileNotFoundError):
        services.version_process(version_id=version.pk)
    asset.refresh_from_db()
    assert asset.processing_status == ProcessingStatus.PROCESSING
