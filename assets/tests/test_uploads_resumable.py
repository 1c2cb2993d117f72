"""Resumable uploads: sessions, raw chunks at Upload-Offset, resume, cancel, completion."""

from __future__ import annotations

import hashlib
import io
import json
import os
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone
from PIL import Image

from accounts.services import api_token_create
from assets import uploads
from assets.models import Asset, UploadSession
from assets.tasks_uploads import sweep_stale_uploads
from dam.testing import AdminFactory, UserFactory, grant, make_folder

pytestmark = pytest.mark.django_db

API = "/api/v1"
CHUNK = 256 * 1024


@pytest.fixture(autouse=True)
def spool(settings, tmp_path, monkeypatch):
    settings.DAM_UPLOAD_SPOOL = tmp_path / "spool"
    monkeypatch.setattr(uploads, "CHUNK_BYTES", CHUNK)
    return settings.DAM_UPLOAD_SPOOL


def noise_png(width=600, height=500) -> bytes:
    """An incompressible PNG: its size is about width × height × 3 bytes."""
    img = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    out = io.BytesIO()
    img.save(out, "PNG", compress_level=1)
    return out.getvalue()


@pytest.fixture
def folder():
    return make_folder("/Uploads")


@pytest.fixture
def user(client, folder):
    user = UserFactory()
    grant(user, folder, "contribute")
    client.force_login(user)
    return user


def create(client, folder, size, filename="noise.png", **extra):
    body = {"filename": filename, "size": size, "folder": folder.pk, **extra}
    return client.post(f"{API}/uploads", json.dumps(body), content_type="application/json")


def put(client, session_id, offset, data, **extra):
    return client.put(
        f"{API}/uploads/{session_id}",
        data,
        content_type="application/octet-stream",
        headers={"Upload-Offset": str(offset)},
        **extra,
    )


class DroppingStream:
    """A request body whose connection drops after `keep` bytes."""

    def __init__(self, data: bytes, keep: int) -> None:
        self.buffer = io.BytesIO(data[:keep])

    def read(self, size=-1) -> bytes:
        chunk = self.buffer.read(size)
        if not chunk:
            raise ConnectionResetError("client went away")
        return chunk

    def readline(self, size=-1) -> bytes:  # pragma: no cover - WSGI interface
        return self.buffer.readline(size)


def send_all(client, session_id, data: bytes, start: int = 0):
    response = None
    offset = start
    while offset < len(data):
        response = put(client, session_id, offset, data[offset : offset + CHUNK])
        assert response.status_code in (200, 201), response.content
        offset = response.json()["offset"]
    return response


def test_create_answers_the_id_offset_and_chunk_size(client, user, folder, spool):
    response = create(client, folder, 1234)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["offset"] == 0
    assert body["size"] == 1234
    assert body["chunk_size"] == CHUNK
    assert (spool / f"{body['id']}.part").exists()
    session = UploadSession.objects.get(pk=body["id"])
    assert (session.user, session.folder, session.filename) == (user, folder, "noise.png")


def test_chunks_complete_into_an_asset_with_the_same_bytes(
    client, user, folder, spool, django_capture_on_commit_callbacks
):
    data = noise_png()
    assert len(data) > 3 * CHUNK  # several chunks
    session_id = create(client, folder, len(data), tags="a, b").json()["id"]

    first = put(client, session_id, 0, data[:CHUNK])
    assert first.status_code == 200
    assert first.json()["offset"] == CHUNK
    assert first["Upload-Offset"] == str(CHUNK)
    assert first.json()["asset"] is None
    status = client.get(f"{API}/uploads/{session_id}")
    assert status.status_code == 200
    assert {k: status.json()[k] for k in ("offset", "size")} == {"offset": CHUNK, "size": len(data)}

    with django_capture_on_commit_callbacks(execute=True):
        last = send_all(client, session_id, data, start=CHUNK)
    assert last.status_code == 201, last.content
    asset_body = last.json()["asset"]
    assert asset_body["bytes"] == len(data)
    assert asset_body["display_name"] == "noise"
    assert asset_body["tags"] == ["a", "b"]
    asset = Asset.objects.get(pk=asset_body["id"])
    version = asset.current_version
    assert version.sha256 == hashlib.sha256(data).hexdigest()
    with default_storage.open(version.blob_name, "rb") as fh:
        assert fh.read() == data
    download = client.get(f"{API}/assets/{asset.pk}/download")
    assert b"".join(download.streaming_content) == data
    session = UploadSession.objects.get(pk=session_id)
    assert session.asset == asset and session.completed_at is not None
    assert not (spool / f"{session_id}.part").exists()


def test_the_last_chunk_sent_again_answers_the_same_asset(client, user, folder):
    data = noise_png(300, 300)
    session_id = create(client, folder, len(data)).json()["id"]
    done = send_all(client, session_id, data)
    again = put(client, session_id, len(data) - len(data) % CHUNK, b"")
    assert again.status_code == 201
    assert again.json()["asset"]["id"] == done.json()["asset"]["id"]
    assert Asset.objects.count() == 1


def test_a_dropped_connection_keeps_what_arrived_and_the_upload_resumes(client, user, folder):
    data = noise_png()
    session_id = create(client, folder, len(data)).json()["id"]
    assert put(client, session_id, 0, data[:CHUNK]).status_code == 200
    # The second chunk's connection drops after 100,000 of its bytes.
    chunk = data[CHUNK : 2 * CHUNK]
    put(
        client,
        session_id,
        CHUNK,
        b"",
        CONTENT_LENGTH=str(len(chunk)),
        **{"wsgi.input": DroppingStream(chunk, 100_000)},
    )
    offset = client.get(f"{API}/uploads/{session_id}").json()["offset"]
    assert offset == CHUNK + 100_000
    # A client that retries the whole chunk hears where to resume.
    retry = put(client, session_id, CHUNK, chunk)
    assert retry.status_code == 409
    assert retry.json()["offset"] == offset

    last = send_all(client, session_id, data, start=offset)
    assert last.status_code == 201
    asset = Asset.objects.get(pk=last.json()["asset"]["id"])
    assert asset.current_version.sha256 == hashlib.sha256(data).hexdigest()


def test_bytes_past_the_offset_from_a_crashed_write_are_discarded(client, user, folder, spool):
    data = noise_png(300, 300)
    session_id = create(client, folder, len(data)).json()["id"]
    assert put(client, session_id, 0, data[:CHUNK]).status_code == 200
    with open(spool / f"{session_id}.part", "ab") as fh:
        fh.write(b"garbage that was never committed")
    last = send_all(client, session_id, data, start=CHUNK)
    asset = Asset.objects.get(pk=last.json()["asset"]["id"])
    assert asset.current_version.sha256 == hashlib.sha256(data).hexdigest()


def test_wrong_offset_is_409_with_the_current_offset(client, user, folder):
    session_id = create(client, folder, 3 * CHUNK).json()["id"]
    assert put(client, session_id, 0, b"x" * 1000).status_code == 200
    for wrong in (0, 999, 5000):
        response = put(client, session_id, wrong, b"y" * 10)
        assert response.status_code == 409
        body = response.json()
        assert body["offset"] == 1000
        assert body["code"] == "offset_mismatch"
        assert "1,000" in body["detail"]
        assert response["Upload-Offset"] == "1000"
    assert UploadSession.objects.get(pk=session_id).received == 1000


def test_offset_header_is_required(client, user, folder):
    session_id = create(client, folder, 100).json()["id"]
    response = client.put(
        f"{API}/uploads/{session_id}", b"abc", content_type="application/octet-stream"
    )
    assert response.status_code == 422
    assert "Upload-Offset" in response.json()["errors"]


def test_a_chunk_larger_than_allowed_is_413_and_past_the_size_422(client, user, folder):
    session_id = create(client, folder, 3 * CHUNK).json()["id"]
    assert put(client, session_id, 0, b"x" * (CHUNK + 1)).status_code == 413
    small = create(client, folder, 10).json()["id"]
    response = put(client, small, 0, b"x" * 11)
    assert response.status_code == 422
    assert UploadSession.objects.get(pk=small).received == 0


def test_cancel_removes_the_session_and_its_bytes(
    client, user, folder, spool, django_capture_on_commit_callbacks
):
    session_id = create(client, folder, 3 * CHUNK).json()["id"]
    put(client, session_id, 0, b"x" * 1000)
    assert (spool / f"{session_id}.part").stat().st_size == 1000
    with django_capture_on_commit_callbacks(execute=True):
        response = client.delete(f"{API}/uploads/{session_id}")
    assert response.status_code == 204
    assert not (spool / f"{session_id}.part").exists()
    assert not UploadSession.objects.filter(pk=session_id).exists()
    assert client.get(f"{API}/uploads/{session_id}").status_code == 404


def test_another_user_gets_404_on_every_route(client, user, folder):
    session_id = create(client, folder, 3 * CHUNK).json()["id"]
    put(client, session_id, 0, b"x" * 1000)
    other = UserFactory()
    grant(other, folder, "manage")
    client.force_login(other)
    assert client.get(f"{API}/uploads/{session_id}").status_code == 404
    assert put(client, session_id, 1000, b"y" * 10).status_code == 404
    assert client.delete(f"{API}/uploads/{session_id}").status_code == 404
    assert client.get(f"{API}/uploads/not-a-uuid").status_code in (404, 422)
    assert UploadSession.objects.get(pk=session_id).received == 1000


def test_create_needs_contribute_and_a_visible_folder(client, folder):
    viewer = UserFactory()
    grant(viewer, folder, "view")
    client.force_login(viewer)
    assert create(client, folder, 100).status_code == 403
    client.force_login(UserFactory())
    assert create(client, folder, 100).status_code == 404
    assert not UploadSession.objects.exists()


def test_over_the_limit_is_413(client, user, folder, settings):
    settings.DAM_MAX_UPLOAD_BYTES = 1000
    response = create(client, folder, 1001)
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert create(client, folder, 1000).status_code == 201
    assert create(client, folder, 0).status_code == 422


def test_routes_need_credentials_and_take_a_bearer_token(client, folder):
    assert create(client, folder, 100).status_code == 401
    admin = AdminFactory()
    _, raw = api_token_create(user=admin, name="t")
    headers = {"Authorization": f"Bearer {raw}"}
    data = noise_png(200, 200)
    created = client.post(
        f"{API}/uploads",
        json.dumps({"filename": "t.png", "size": len(data), "folder": folder.pk}),
        content_type="application/json",
        headers=headers,
    )
    assert created.status_code == 201
    session_id = created.json()["id"]
    offset = 0
    while offset < len(data):
        response = client.put(
            f"{API}/uploads/{session_id}",
            data[offset : offset + CHUNK],
            content_type="application/octet-stream",
            headers={**headers, "Upload-Offset": str(offset)},
        )
        offset = response.json()["offset"]
    assert response.status_code == 201


def test_a_refused_file_ends_the_session_with_the_reason(
    client, user, folder, spool, django_capture_on_commit_callbacks
):
    data = b"MZ" + os.urandom(3000)
    session_id = create(client, folder, len(data), filename="tool.exe").json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        response = put(client, session_id, 0, data)
    assert response.status_code == 422, response.content
    assert response.json()["detail"]
    assert not UploadSession.objects.filter(pk=session_id).exists()
    assert not (spool / f"{session_id}.part").exists()
    assert not Asset.objects.exists()


def test_one_chunk_larger_than_the_form_memory_limit_streams(client, user, folder, monkeypatch):
    """8 MiB chunks exceed DATA_UPLOAD_MAX_MEMORY_SIZE: the body is read as a stream."""
    monkeypatch.setattr(uploads, "CHUNK_BYTES", 8 * 1024 * 1024)
    data = noise_png(1400, 1400)
    assert 5 * 1024 * 1024 < len(data) <= 8 * 1024 * 1024
    session_id = create(client, folder, len(data)).json()["id"]
    response = put(client, session_id, 0, data)
    assert response.status_code == 201, response.content


def test_a_preset_name_is_checked_and_passed_on(client, user, folder):
    from assets.models import UploadPreset

    assert create(client, folder, 100, preset="nope").status_code == 422
    UploadPreset.objects.create(name="tagged", tags=["from-preset"])
    data = noise_png(200, 200)
    session_id = create(client, folder, len(data), preset="tagged").json()["id"]
    last = send_all(client, session_id, data)
    assert last.status_code == 201, last.content
    assert "from-preset" in last.json()["asset"]["tags"]


def test_sweep_removes_idle_sessions_and_stray_spool_files(client, user, folder, spool):
    stale = create(client, folder, 3 * CHUNK).json()["id"]
    fresh = create(client, folder, 3 * CHUNK).json()["id"]
    put(client, stale, 0, b"x" * 10)
    long_ago = timezone.now() - timedelta(hours=25)
    UploadSession.objects.filter(pk=stale).update(updated_at=long_ago)
    stray = spool / "00000000-0000-0000-0000-000000000000.part"
    stray.write_bytes(b"left over")
    os.utime(stray, (long_ago.timestamp(), long_ago.timestamp()))
    not_ours = spool / "notes.part"
    not_ours.write_bytes(b"?")
    os.utime(not_ours, (long_ago.timestamp(), long_ago.timestamp()))

    counts = sweep_stale_uploads()

    assert counts == {"sessions": 1, "files": 2}
    assert not UploadSession.objects.filter(pk=stale).exists()
    assert not (spool / f"{stale}.part").exists()
    assert not stray.exists()
    assert not_ours.exists()
    assert UploadSession.objects.filter(pk=fresh).exists()
    assert (spool / f"{fresh}.part").exists()


def test_beat_runs_the_sweep():
    from dam.celery import app

    entries = {e["task"] for e in app.conf.beat_schedule.values()}
    assert "assets.tasks_uploads.sweep_stale_uploads" in entries


def test_a_spool_that_lost_bytes_asks_for_them_again(client, user, folder, spool):
    data = noise_png(300, 300)
    session_id = create(client, folder, len(data)).json()["id"]
    assert put(client, session_id, 0, data[:CHUNK]).status_code == 200
    (spool / f"{session_id}.part").write_bytes(data[:1000])  # a restored, older disk
    response = put(client, session_id, CHUNK, data[CHUNK : 2 * CHUNK])
    assert response.status_code == 409
    assert response.json()["offset"] == 1000
    assert client.get(f"{API}/uploads/{session_id}").json()["offset"] == 1000
    last = send_all(client, session_id, data, start=1000)
    asset = Asset.objects.get(pk=last.json()["asset"]["id"])
    assert asset.current_version.sha256 == hashlib.sha256(data).hexdigest()


def test_revoked_access_stops_the_upload(client, user, folder):
    from accounts.models import FolderUserGrant

    session_id = create(client, folder, 3 * CHUNK).json()["id"]
    FolderUserGrant.objects.filter(user=user).delete()
    assert put(client, session_id, 0, b"x" * 10).status_code == 403
    assert UploadSession.objects.get(pk=session_id).received == 0
