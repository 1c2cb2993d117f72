"""The S3 storage path against a real S3-compatible server (moto in server mode) on
loopback: django-storages and boto3 speak real HTTP to it; nothing is mocked in-process."""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import uuid

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage, storages
from django.test.utils import override_settings

from assets import uploads
from assets.models import Asset, Rendition
from dam.storage import blob_delete, blob_put, open_blob, original_name, sha256_of
from dam.testing import AdminFactory, image_bytes, make_folder

boto3 = pytest.importorskip("boto3")
moto_server = pytest.importorskip("moto.server")

pytestmark = pytest.mark.django_db

CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
REGION = "us-east-1"
# What dam/settings.py sets with DAM_STORAGE=s3 (checked by the last test).
S3_OPTIONS = {"default_acl": None, "querystring_auth": True, "file_overwrite": False}
MAX_MEMORY = 2 * 1024 * 1024


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def s3_server():
    """moto's S3 server on 127.0.0.1 (a thread serving real HTTP); offline by design."""
    for key, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        os.environ.setdefault(key, value)
    port = _free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3(s3_server):
    """A fresh bucket, and the app's default storage pointed at it for one test."""
    bucket = f"dam-test-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=s3_server, region_name=REGION, **CREDENTIALS)
    client.create_bucket(Bucket=bucket)
    storages = {
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": s3_server,
                "region_name": REGION,
                "access_key": "testing",
                "secret_key": "testing",
                **S3_OPTIONS,
            },
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(STORAGES=storages, AWS_S3_MAX_MEMORY_SIZE=MAX_MEMORY):
        yield {"client": client, "bucket": bucket}


def keys(s3) -> set[str]:
    listing = s3["client"].list_objects_v2(Bucket=s3["bucket"])
    return {item["Key"] for item in listing.get("Contents", [])}


def test_storage_helpers_work_on_s3(s3):
    data = os.urandom(300_000)
    fh = io.BytesIO(data)
    sha256, size = sha256_of(fh)
    name, created = blob_put(fh, sha256, size=size)
    assert (name, created) == (original_name(sha256), True)
    assert type(storages["default"]).__name__ == "S3Storage"
    assert keys(s3) == {name}
    head = s3["client"].head_object(Bucket=s3["bucket"], Key=name)
    assert head["ContentLength"] == size
    assert default_storage.exists(name)
    assert default_storage.size(name) == size
    # Same bytes again: one blob, not rewritten.
    assert blob_put(io.BytesIO(data), sha256, size=size) == (name, False)
    with open_blob(name) as blob:
        assert blob.read() == data
    blob_delete(name)
    assert not default_storage.exists(name)
    assert keys(s3) == set()
    blob_delete(name)  # absent: nothing to do, no error


def test_a_short_blob_is_replaced_not_trusted(s3):
    data = os.urandom(5000)
    sha256, size = sha256_of(io.BytesIO(data))
    default_storage.save(original_name(sha256), ContentFile(data[:100]))
    name, created = blob_put(io.BytesIO(data), sha256, size=size)
    assert created
    assert default_storage.size(name) == size


def test_missing_blob_is_file_not_found(s3):
    with pytest.raises(FileNotFoundError):
        open_blob("originals/aa/bb/" + "a" * 64)


def test_large_blobs_are_read_through_disk_not_memory(s3):
    """django-storages buffers an S3 object in a SpooledTemporaryFile; with the default
    AWS_S3_MAX_MEMORY_SIZE (0) that buffer never leaves memory. Ours rolls over to disk."""
    data = os.urandom(MAX_MEMORY + 500_000)
    sha256, size = sha256_of(io.BytesIO(data))
    name, _ = blob_put(io.BytesIO(data), sha256, size=size)
    with open_blob(name) as blob:
        assert blob.read(10) == data[:10]
        assert blob.file._rolled  # on disk


def test_upload_process_and_download_on_s3(s3, client, django_capture_on_commit_callbacks):
    admin = AdminFactory()
    folder = make_folder("/S3", actor=admin)
    client.force_login(admin)
    jpeg = image_bytes(1200, 800)
    with django_capture_on_commit_callbacks(execute=True):  # processing runs eagerly
        response = client.post(
            "/api/v1/assets",
            {"file": ContentFile(jpeg, name="photo.jpg"), "folder": folder.pk},
        )
    assert response.status_code == 201, response.content
    asset = Asset.objects.get(pk=response.json()["id"])
    version = asset.current_version
    assert version.sha256 == hashlib.sha256(jpeg).hexdigest()
    assert version.blob_name == original_name(version.sha256)
    asset.refresh_from_db()
    assert asset.processing_status == "ready", asset.processing_error
    renditions = set(Rendition.objects.filter(version=version).values_list("file_name", flat=True))
    assert renditions
    assert keys(s3) == {version.blob_name, *renditions}

    page = client.get(f"/assets/{asset.pk}/download/")
    assert page.status_code == 200
    assert b"".join(page.streaming_content) == jpeg
    assert "attachment" in page["Content-Disposition"]
    api = client.get(f"/api/v1/assets/{asset.pk}/download")
    assert b"".join(api.streaming_content) == jpeg
    thumb = client.get(f"/assets/{asset.pk}/r/thumb/")
    assert thumb.status_code == 200
    assert b"".join(thumb.streaming_content)[:4] == b"RIFF"


def test_a_resumable_upload_lands_in_s3(
    s3, client, tmp_path, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.DAM_UPLOAD_SPOOL = tmp_path / "spool"
    monkeypatch.setattr(uploads, "CHUNK_BYTES", 64 * 1024)
    admin = AdminFactory()
    folder = make_folder("/S3", actor=admin)
    client.force_login(admin)
    data = image_bytes(900, 700, fmt="PNG")
    body = {"filename": "chunked.png", "size": len(data), "folder": folder.pk}
    session = client.post("/api/v1/uploads", json.dumps(body), content_type="application/json")
    session_id = session.json()["id"]
    offset = 0
    with django_capture_on_commit_callbacks(execute=True):
        while offset < len(data):
            response = client.put(
                f"/api/v1/uploads/{session_id}",
                data[offset : offset + 64 * 1024],
                content_type="application/octet-stream",
                headers={"Upload-Offset": str(offset)},
            )
            assert response.status_code in (200, 201), response.content
            offset = response.json()["offset"]
    assert response.status_code == 201
    asset = Asset.objects.get(pk=response.json()["asset"]["id"])
    key = asset.current_version.blob_name
    stored = s3["client"].get_object(Bucket=s3["bucket"], Key=key)["Body"].read()
    assert stored == data


def test_settings_for_s3_match_what_these_tests_use(tmp_path):
    """DAM_STORAGE=s3 configures S3Storage with the options the fixture above mirrors."""
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "import json; print(json.dumps([s.STORAGES['default']['BACKEND'], s.AWS_DEFAULT_ACL, "
        "s.AWS_QUERYSTRING_AUTH, s.AWS_S3_FILE_OVERWRITE, s.AWS_S3_MAX_MEMORY_SIZE]))"
    )
    env = {
        **os.environ,
        "DAM_STORAGE": "s3",
        "AWS_STORAGE_BUCKET_NAME": "bucket",
        "DJANGO_SETTINGS_MODULE": "dam.settings",
    }
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    backend, acl, querystring, overwrite, max_memory = json.loads(
        out.stdout.strip().splitlines()[-1]
    )
    assert backend == "storages.backends.s3.S3Storage"
    assert (acl, querystring, overwrite) == (None, True, False)
    assert 0 < max_memory <= MAX_MEMORY


def test_delivery_on_s3_redirects_to_a_short_lived_presigned_url(s3, client):
    """The app checks access and makes the rendition (kept in the bucket); S3 sends the
    bytes from a presigned URL that carries the content type."""
    import urllib.request

    from assets import delivery

    admin = AdminFactory()
    folder = make_folder("/S3", actor=admin)
    asset = make_asset_on_s3(admin, folder)
    response = client.get(f"/d/{asset.public_id}")
    assert response.status_code == 302 and response["Cache-Control"] == "no-store"
    from urllib.parse import parse_qs, urlsplit

    query = parse_qs(urlsplit(response["Location"]).query)
    lasts = int(query["X-Amz-Expires"][0]) if "X-Amz-Expires" in query else None
    if lasts is None:  # signature version 2: an absolute expiry
        import time

        lasts = int(query["Expires"][0]) - time.time()
    assert 0 < lasts <= 61
    with urllib.request.urlopen(response["Location"]) as fetched:  # loopback moto server
        assert fetched.read()[:3] == b"\xff\xd8\xff"
        assert fetched.headers["Content-Type"] == "image/jpeg"
    signed = delivery.signed_url(asset, expires_in=60, transformation="w_40,f_png")
    parts = signed["url"].split("/d/", 1)[1]
    response = client.get(f"/d/{parts}")
    assert response.status_code == 302
    rendition = Rendition.objects.get(version__asset=asset, spec__startswith="d:")
    assert rendition.file_name in keys(s3)
    with urllib.request.urlopen(response["Location"]) as fetched:
        assert fetched.headers["Content-Type"] == "image/png"


def make_asset_on_s3(admin, folder):
    from assets import services

    upload = ContentFile(image_bytes(320, 200), name="s3-photo.jpg")
    asset = services.asset_upload(
        actor=admin, file=upload, filename=upload.name, folder=folder, public_id="s3/photo"
    )
    Asset.objects.filter(pk=asset.pk).update(processing_status="ready", width=320, height=200)
    asset.refresh_from_db()
    return asset
