"""Resumable uploads in a real browser: a large file goes in chunks and survives a failed
chunk (Playwright aborts one request, the page retries from the server's offset)."""

from __future__ import annotations

import hashlib
import io
import os

import pytest
from PIL import Image
from playwright.sync_api import expect

from assets import uploads
from assets.models import Asset, UploadSession
from dam.pytest_browser import login, screenshot
from dam.testing import AdminFactory, make_folder

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MIB = 1024 * 1024


def wait_until(page, condition, timeout_ms: int = 10_000) -> None:
    """Poll a Python-side condition while Playwright keeps dispatching route handlers."""
    for _ in range(timeout_ms // 50):
        if condition():
            return
        page.wait_for_timeout(50)
    raise AssertionError("condition not met in time")


def noise_png(width: int, height: int) -> bytes:
    img = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    out = io.BytesIO()
    img.save(out, "PNG", compress_level=1)
    return out.getvalue()


def test_a_large_upload_goes_in_chunks_and_survives_a_failed_chunk(
    live_server, page, tmp_path, settings
):
    settings.DAM_UPLOAD_SPOOL = tmp_path / "spool"
    admin = AdminFactory()
    make_folder("/Video", actor=admin)
    big = tmp_path / "big-noise.png"
    data = noise_png(1000, 1000)  # about 3 MB: three 1 MiB chunks
    assert len(data) > 2 * MIB
    big.write_bytes(data)

    puts: list[int] = []
    aborted: list[int] = []
    status_checks: list[str] = []

    def uploads_route(route, request):
        if request.method != "PUT":
            if request.method == "GET":
                status_checks.append(request.url)
            route.continue_()
            return
        offset = int(request.headers.get("upload-offset", "0"))
        puts.append(offset)
        if offset > 0 and not aborted:
            aborted.append(offset)
            route.abort("connectionreset")  # the network drops this chunk once
        else:
            route.continue_()

    page.route("**/api/v1/uploads/*", uploads_route)

    login(page, live_server.url, admin.email)
    folders = page.get_by_role("complementary", name="Folders")
    with page.expect_navigation():
        folders.get_by_role("link", name="Video", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Video")).to_be_visible()
    page.evaluate(
        """([threshold, size]) => {
            const zone = document.getElementById("drop-zone");
            zone.dataset.chunkThreshold = threshold;
            zone.dataset.chunkSize = size;
        }""",
        [str(MIB), str(MIB)],
    )

    page.get_by_label("Upload files").set_input_files(big)

    queue = page.get_by_role("list", name="Upload queue")
    row = queue.get_by_role("listitem").filter(has_text=big.name)
    expect(row.get_by_role("status")).to_have_text("Uploaded", timeout=30_000)
    bar = page.get_by_role("progressbar", name=f"Upload progress for {big.name}")
    expect(bar).to_have_attribute("value", "100")
    expect(page.get_by_text("1 of 1 uploaded")).to_be_visible()
    grid = page.get_by_role("list", name="Assets in Video")
    expect(grid.get_by_role("listitem")).to_have_count(1)
    expect(grid.get_by_role("link", name="big-noise", exact=True)).to_be_visible()
    screenshot(page, "resumable-upload")

    # Chunks of 1 MiB, the aborted one sent again from the server's offset.
    assert aborted == [MIB]
    assert len(status_checks) == 1  # after the failure it asked the server where to resume
    assert puts[:3] == [0, MIB, MIB]
    assert sorted(set(puts)) == list(range(0, len(data), MIB))
    asset = Asset.objects.get()
    assert asset.current_version.sha256 == hashlib.sha256(data).hexdigest()
    assert asset.bytes == len(data)
    assert UploadSession.objects.get().completed_at is not None
    assert uploads.CHUNK_BYTES >= MIB


def test_cancelling_a_chunked_upload_forgets_it_on_the_server(
    live_server, page, tmp_path, settings
):
    settings.DAM_UPLOAD_SPOOL = tmp_path / "spool"
    admin = AdminFactory()
    make_folder("/Video", actor=admin)
    big = tmp_path / "cancel-me.png"
    big.write_bytes(noise_png(1000, 1000))
    held = []

    def hold_second_chunk(route, request):
        if request.method == "PUT" and request.headers.get("upload-offset") != "0":
            held.append(route)  # never answered until the test lets go
        else:
            route.continue_()

    page.route("**/api/v1/uploads/*", hold_second_chunk)
    login(page, live_server.url, admin.email)
    with page.expect_navigation():
        page.get_by_role("complementary", name="Folders").get_by_role(
            "link", name="Video", exact=True
        ).click()
    page.evaluate(
        """() => {
            const zone = document.getElementById("drop-zone");
            zone.dataset.chunkThreshold = "1048576";
            zone.dataset.chunkSize = "1048576";
        }"""
    )
    page.get_by_label("Upload files").set_input_files(big)
    bar = page.get_by_role("progressbar", name=f"Upload progress for {big.name}")
    wait_until(page, lambda: len(held) == 1)
    expect(bar).not_to_have_attribute("value", "0")
    assert UploadSession.objects.get().received == MIB

    with page.expect_request(lambda r: r.method == "DELETE"):
        page.get_by_role("button", name=f"Cancel upload of {big.name}").click()
    row = page.get_by_role("list", name="Upload queue").get_by_role("listitem")
    expect(row.get_by_role("status")).to_have_text("Cancelled")
    expect(page.get_by_text("0 of 1 uploaded, 1 not uploaded")).to_be_visible()
    held[0].abort()
    wait_until(page, lambda: not UploadSession.objects.exists())
    assert not Asset.objects.exists()
    assert not list((tmp_path / "spool").glob("*.part"))
