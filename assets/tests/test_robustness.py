"""Failure paths: lost tasks, broken files, missing blobs, hostile sizes, hidden ancestors."""

from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from assets import services
from assets.models import Asset, AssetVersion, Folder, ProcessingStatus
from dam.testing import AdminFactory, UserFactory, grant, image_upload, make_asset, make_folder

pytestmark = pytest.mark.django_db
API = "/api/v1"


@pytest.fixture
def admin():
    return AdminFactory()


def test_a_broker_outage_does_not_fail_a_committed_upload(
    admin, monkeypatch, django_capture_on_commit_callbacks
):
    from assets import tasks

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(tasks.process_version, "delay", broker_down)
    folder = make_folder("/Inbox", actor=admin)
    with django_capture_on_commit_callbacks(execute=True):
        asset = make_asset(folder, actor=admin)
    assert Asset.objects.get(pk=asset.pk).processing_status == ProcessingStatus.PROCESSING


def test_stuck_versions_are_sent_again(admin, monkeypatch):
    from assets import tasks

    sent = []
    monkeypatch.setattr(tasks.process_version, "delay", lambda vid: sent.append(vid))
    folder = make_folder("/Inbox", actor=admin)
    asset = make_asset(folder, actor=admin)
    Asset.objects.filter(pk=asset.pk).update(
        processing_status=ProcessingStatus.PROCESSING,
        updated_at=timezone.now() - timedelta(hours=1),
    )
    fresh = make_asset(folder, actor=admin, name="fresh.jpg")
    Asset.objects.filter(pk=fresh.pk).update(processing_status=ProcessingStatus.PROCESSING)

    assert services.versions_requeue_stuck(older_than_minutes=10) == 1
    assert sent == [AssetVersion.objects.get(asset=asset).pk]
    assert services.versions_requeue_stuck(older_than_minutes=10) == 0  # clock was reset


def test_any_decoder_error_marks_the_asset_failed(admin, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("decoder bug")

    monkeypatch.setattr(services, "render_specs", explode)
    asset = make_asset(make_folder("/Inbox", actor=admin), actor=admin)
    services.version_process(version_id=AssetVersion.objects.get(asset=asset).pk)
    asset.refresh_from_db()
    assert asset.processing_status == ProcessingStatus.FAILED
    assert "could not be decoded" in asset.processing_error


def test_exhausted_retries_mark_the_asset_failed(admin, monkeypatch):
    from assets import tasks

    monkeypatch.setattr(tasks.process_version, "delay", lambda vid: None)
    asset = make_asset(make_folder("/Inbox", actor=admin), actor=admin)
    version = AssetVersion.objects.get(asset=asset)
    tasks.process_version.on_failure(FileNotFoundError(), "task-id", (version.pk,), {}, None)
    asset.refresh_from_db()
    assert asset.processing_status == ProcessingStatus.FAILED


def test_a_failed_upload_never_removes_a_blob_another_row_uses(admin):
    folder = make_folder("/Inbox", actor=admin)
    upload = image_upload("same.jpg")
    first = services.asset_upload(
        actor=admin, file=upload, filename="same.jpg", folder=folder, public_id="hero"
    )
    blob = AssetVersion.objects.get(asset=first).blob_name
    upload.seek(0)
    with pytest.raises(services.Conflict):
        services.asset_upload(
            actor=admin, file=upload, filename="same.jpg", folder=folder, public_id="hero"
        )
    assert default_storage.exists(blob)


def test_a_truncated_blob_is_replaced_not_trusted(admin):
    folder = make_folder("/Inbox", actor=admin)
    upload = image_upload("cut.jpg")
    from dam.storage import original_name, sha256_of

    digest, size = sha256_of(upload)
    name = original_name(digest)
    if default_storage.exists(name):
        default_storage.delete(name)
    default_storage.save(name, __import__("io").BytesIO(b"half"))
    services.asset_upload(actor=admin, file=upload, filename="cut.jpg", folder=folder)
    assert default_storage.size(name) == size


def test_missing_original_is_404_not_500(client, admin):
    asset = make_asset(make_folder("/Inbox", actor=admin), actor=admin)
    default_storage.delete(AssetVersion.objects.get(asset=asset).blob_name)
    client.force_login(admin)
    assert client.get(reverse("assets:download", args=[asset.pk])).status_code == 404
    response = client.get(f"{API}/assets/{asset.pk}/download")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_huge_page_numbers_are_422(client, admin):
    client.force_login(admin)
    response = client.get(f"{API}/folders", {"page": 10**20})
    assert response.status_code == 422
    response = client.get(f"{API}/folders", {"page": 10**7})
    assert response.status_code == 422 and "page" in response.json()["errors"]


def test_paths_too_long_for_the_index_are_422(client, admin):
    client.force_login(admin)
    parent = None
    for _ in range(2):
        body = {"name": "文" * 255, "parent": parent}
        response = client.post(f"{API}/folders", body, content_type="application/json")
        assert response.status_code == 201, response.content
        parent = response.json()["id"]
    response = client.post(
        f"{API}/folders", {"name": "字" * 255, "parent": parent}, content_type="application/json"
    )
    assert response.status_code == 422 and "name" in response.json()["errors"]


def test_folder_names_are_unique_ignoring_case_in_the_database(admin):
    make_folder("/Photos", actor=admin)
    with pytest.raises(IntegrityError), transaction.atomic():
        Folder.objects.create(name="photos", path="/photos")


def test_asset_page_hides_invisible_ancestors(client, admin):
    press = make_folder("/Secret Merger/Press", actor=admin)
    asset = make_asset(press, actor=admin)
    user = UserFactory()
    grant(user, press, "view")
    client.force_login(user)
    html = client.get(reverse("assets:detail", args=[asset.pk])).text
    assert "Secret Merger" not in html
    assert "/Press" in html


@pytest.mark.parametrize(
    "public_id", ["a//b", "a/./b", "a/../b", "trailing/", "w_100/hero", "t_small/x", "/lead"]
)
def test_public_ids_that_would_be_ambiguous_are_refused(admin, public_id):
    folder = make_folder("/Inbox", actor=admin)
    upload = image_upload("x.jpg")
    with pytest.raises(services.ValidationFailed):
        services.asset_upload(
            actor=admin, file=upload, filename="x.jpg", folder=folder, public_id=public_id
        )


@pytest.mark.parametrize("public_id", ["hero", "brand/logos/main", "w_100", "spring-2027.v2"])
def test_plain_public_ids_are_accepted(admin, public_id):
    folder = make_folder("/Inbox", actor=admin)
    upload = image_upload("x.jpg")
    asset = services.asset_upload(
        actor=admin, file=upload, filename="x.jpg", folder=folder, public_id=public_id
    )
    assert asset.public_id == public_id
