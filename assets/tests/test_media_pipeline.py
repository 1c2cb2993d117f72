"""Upload -> probe -> store -> process for every accepted type, bad files, a killed worker."""

import io
import os
import signal
import time

import psutil
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from assets import services
from assets.models import Asset, AssetVersion, ProcessingStatus, Rendition
from assets.services import ValidationFailed
from assets.tests.test_media import (
    SVG,
    bomb_png,
    docx_bytes,
    image_bytes,
    pdf_bytes,
    png_with,
    video_bytes,
)
from dam.storage import open_blob, sha256_of
from dam.testing import AdminFactory, make_folder


@pytest.fixture
def admin(db):
    return AdminFactory()


@pytest.fixture
def folder(admin):
    return make_folder("/Media", actor=admin)


def upload(admin, folder, name, data, capture):
    with capture(execute=True):  # on commit -> the (eager) processing task
        asset = services.asset_upload(
            actor=admin, file=SimpleUploadedFile(name, data), filename=name, folder=folder
        )
    return Asset.objects.get(pk=asset.pk)


def exif_jpeg() -> bytes:
    img = Image.new("RGB", (300, 200), (200, 30, 30))
    exif = img.getexif()
    exif[0x010F] = "Atrium Cam"
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif)
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "make", "kind", "fmt", "facts_key"),
    [
        ("a.jpg", lambda tmp: exif_jpeg(), "image", "jpg", "exif"),
        ("a.png", lambda tmp: image_bytes("PNG"), "image", "png", "colors"),
        ("a.gif", lambda tmp: image_bytes("GIF"), "image", "gif", "phash"),
        ("a.webp", lambda tmp: image_bytes("WEBP"), "image", "webp", "phash"),
        ("a.tif", lambda tmp: image_bytes("TIFF"), "image", "tiff", "phash"),
        ("clip.mp4", lambda tmp: video_bytes(tmp, "mp4"), "video", "mp4", "video"),
        ("clip.webm", lambda tmp: video_bytes(tmp, "webm"), "video", "webm", "video"),
        ("doc.pdf", lambda tmp: pdf_bytes(3), "raw", "pdf", "pages"),
        ("r.docx", lambda tmp: docx_bytes(), "raw", "docx", "mime_type"),
        ("d.csv", lambda tmp: b"a,b\n1,2\n3,4\n", "raw", "csv", "mime_type"),
        ("logo.svg", lambda tmp: SVG, "image", "svg", "mime_type"),
    ],
)
def test_each_type_is_processed_to_ready_with_facts_and_renditions(
    admin, folder, tmp_path, django_capture_on_commit_callbacks, name, make, kind, fmt, facts_key
):
    asset = upload(admin, folder, name, make(tmp_path), django_capture_on_commit_callbacks)
    assert asset.processing_status == ProcessingStatus.READY, asset.processing_error
    assert (asset.type, asset.format) == (kind, fmt)
    version = AssetVersion.objects.get(asset=asset)
    assert (version.format, version.width, version.height) == (fmt, asset.width, asset.height)
    assert facts_key in asset.facts and asset.facts == version.facts
    assert {r.spec for r in Rendition.objects.filter(version=version)} == {"thumb", "preview"}
    if "phash" in asset.facts:
        assert asset.phash == asset.facts["phash"]
    if kind == "video":
        assert asset.duration == version.duration == pytest.approx(2.0, abs=0.2)
    if fmt == "pdf":
        assert asset.pages == version.pages == 3
    if fmt == "jpg":
        assert asset.facts["exif"]["make"] == "Atrium Cam"


def test_svg_is_stored_sanitized_and_hashed_as_stored(
    admin, folder, django_capture_on_commit_callbacks
):
    asset = upload(admin, folder, "logo.svg", SVG, django_capture_on_commit_callbacks)
    version = AssetVersion.objects.get(asset=asset)
    with open_blob(version.blob_name) as fh:
        stored = fh.read()
        assert (version.sha256, version.bytes) == sha256_of(fh)
    assert b"comment" not in stored and stored != SVG
    assert asset.bytes == len(stored)


def test_processing_twice_changes_nothing(admin, folder, django_capture_on_commit_callbacks):
    asset = upload(admin, folder, "doc.pdf", pdf_bytes(), django_capture_on_commit_callbacks)
    version = AssetVersion.objects.get(asset=asset)
    before = (
        list(Rendition.objects.filter(version=version).values()),
        AssetVersion.objects.filter(pk=version.pk).values().get(),
        Asset.objects.filter(pk=asset.pk).values().get(),
    )
    services.version_process(version_id=version.pk)
    after = (
        list(Rendition.objects.filter(version=version).values()),
        AssetVersion.objects.filter(pk=version.pk).values().get(),
        Asset.objects.filter(pk=asset.pk).values().get(),
    )
    assert after == before


def test_a_truncated_jpeg_is_accepted_then_fails_with_a_reason(
    admin, folder, django_capture_on_commit_callbacks
):
    """The header is fine (size known, limits checked), so the upload is accepted; the
    pixels are not, so processing marks the asset failed with a reason, not a spinner."""
    data = Image.effect_noise((800, 600), 60).convert("RGB")
    out = io.BytesIO()
    data.save(out, "JPEG", quality=90)
    truncated = out.getvalue()[: len(out.getvalue()) // 2]
    asset = upload(admin, folder, "cut.jpg", truncated, django_capture_on_commit_callbacks)
    assert asset.processing_status == ProcessingStatus.FAILED
    assert "could not be decoded" in asset.processing_error
    assert not Rendition.objects.filter(version__asset=asset).exists()


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("a.png", png_with(b"Comment\x00<html><script>alert(1)</script>"), "polyglot"),
        ("bomb.png", bomb_png(), "pixels"),
        ("x.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>1</script></svg>', "script"),
        ("x.svg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="x()"/>', "event handlers"),
        ("invoice.jpg", pdf_bytes(), "content is PDF"),
        ("tool.png", b"\x7fELF\x02\x01\x01" + b"\x00" * 100, "Executable"),
        ("setup.exe", b"MZ" + b"\x00" * 100, "not accepted"),
        ("page.txt", b"<!doctype html><html></html>", "HTML"),
    ],
)
def test_bad_files_are_refused_at_upload_and_nothing_is_stored(admin, folder, name, data, reason):
    with pytest.raises(ValidationFailed, match=reason) as info:
        services.asset_upload(
            actor=admin, file=SimpleUploadedFile(name, data), filename=name, folder=folder
        )
    assert info.value.field == "file"
    assert not Asset.objects.exists()


# -- a worker killed mid-task ------------------------------------------------------


def _wait_until(predicate, timeout=90.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def big_png() -> bytes:
    """About 2 s of decoding (PNG has no draft mode): long enough to kill the worker in."""
    img = Image.linear_gradient("L").resize((9000, 9000)).convert("RGB")
    out = io.BytesIO()
    img.save(out, "PNG", compress_level=1)
    return out.getvalue()


@pytest.mark.pipeline
def test_a_worker_killed_mid_task_is_redelivered_and_completes(real_worker):
    from django.db import transaction

    admin = AdminFactory()
    folder = make_folder("/Killed", actor=admin)
    worker = psutil.Process(real_worker["process"].pid)
    log = real_worker["log"]
    start = len(log.read_text())
    with transaction.atomic():
        asset = services.asset_upload(
            actor=admin,
            file=SimpleUploadedFile("big.png", big_png()),
            filename="big.png",
            folder=folder,
        )

    def busy_child():
        for child in worker.children():
            try:
                if child.cpu_percent(interval=0.05) > 50:
                    return child
            except psutil.NoSuchProcess:
                continue
        return None

    assert _wait_until(lambda: "process_version[" in log.read_text()[start:], 30), log.read_text()
    found = []
    assert _wait_until(lambda: found.append(busy_child()) or found[-1] is not None, 20)
    victim = found[-1]
    assert Asset.objects.get(pk=asset.pk).processing_status == ProcessingStatus.PROCESSING
    os.kill(victim.pid, signal.SIGKILL)

    def lost():
        return "WorkerLostError" in log.read_text()[start:] or "signal 9" in log.read_text()[start:]

    assert _wait_until(lost, 30), log.read_text()[start:]

    def done():
        return Asset.objects.get(pk=asset.pk).processing_status != ProcessingStatus.PROCESSING

    assert _wait_until(done, 120), log.read_text()[start:]
    asset = Asset.objects.get(pk=asset.pk)
    assert asset.processing_status == ProcessingStatus.READY, asset.processing_error
    assert Rendition.objects.filter(version__asset=asset).count() == 2
    assert default_storage.exists(Rendition.objects.filter(version__asset=asset)[0].file_name)
    assert log.read_text()[start:].count("process_version[") >= 2  # received twice


def test_svg_previews_as_itself_inert(client, admin, folder, django_capture_on_commit_callbacks):
    from django.urls import reverse

    asset = upload(admin, folder, "logo.svg", SVG, django_capture_on_commit_callbacks)
    client.force_login(admin)
    response = client.get(reverse("assets:rendition", args=[asset.pk, "thumb"]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert "sandbox" in response["Content-Security-Policy"]
    body = b"".join(response.streaming_content)
    assert body.startswith(b"<svg") or b"<svg" in body[:200]
    assert b"<script" not in body
