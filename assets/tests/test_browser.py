"""The Media Library in a real browser (Debian's Chromium through Playwright).

Elements are found by role and accessible name, the way a person (or a screen reader)
finds them; no CSS classes. Run against pytest-django's `live_server`.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from assets.models import Asset
from dam.pytest_browser import login, screenshot
from dam.testing import (
    PASSWORD,
    AdminFactory,
    UserFactory,
    grant,
    image_bytes,
    make_asset,
    make_folder,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Thumbnails come from a real worker process; allow for its first task being slow.
THUMBNAIL_TIMEOUT_MS = 30_000
FITS_IN_FRAME = """img => {
  const r = img.getBoundingClientRect(), f = img.parentElement.getBoundingClientRect();
  return r.top >= f.top - 0.5 && r.bottom <= f.bottom + 0.5
    && r.left >= f.left - 0.5 && r.right <= f.right + 0.5;
}"""


def _url(live_server, path: str) -> str:
    return f"{live_server.url}{path}"


def _upload_row(page, filename: str):
    """The row of the upload list that belongs to one file."""
    bar = page.get_by_role("progressbar", name=f"Upload progress for {filename}")
    queue = page.get_by_role("list", name="Upload queue")
    return queue.get_by_role("listitem").filter(has_text=filename), bar


def _open_folder(page, *names: str) -> None:
    """Follow the Folders tree to a folder and wait until its page (and upload.js) loaded."""
    folders = page.get_by_role("complementary", name="Folders")
    for name in names:
        with page.expect_navigation():
            folders.get_by_role("link", name=name, exact=True).click()
    expect(page.get_by_role("heading", level=1, name=names[-1])).to_be_visible()


def _facts(page) -> dict[str, str]:
    """The asset page's Details list as {term: definition}."""
    details = page.get_by_role("region", name="Details")
    terms = details.get_by_role("term").all_inner_texts()
    definitions = details.get_by_role("definition").all_inner_texts()
    assert len(terms) == len(definitions), (terms, definitions)
    return {t.strip(): d.strip() for t, d in zip(terms, definitions, strict=True)}


def test_admin_uploads_two_images_and_sees_thumbnails(live_server, real_worker, page, tmp_path):
    admin = AdminFactory(first_name="Ada", last_name="Lovelace")
    make_folder("/Campaigns/Spring", actor=admin)
    sunset = tmp_path / "sunset-red.jpg"
    sunset.write_bytes(image_bytes(1200, 800, color=(220, 80, 50)))
    ocean = tmp_path / "ocean-blue.png"
    ocean.write_bytes(image_bytes(600, 900, color=(40, 110, 200), fmt="PNG"))

    login(page, live_server.url, admin.email)
    expect(page.get_by_role("heading", level=1, name="Media Library")).to_be_visible()
    _open_folder(page, "Campaigns", "Spring")
    grid = page.get_by_role("list", name="Assets in Spring")
    expect(grid.get_by_role("listitem")).to_have_count(0)
    expect(page.get_by_role("heading", name="No assets here yet")).to_be_visible()

    page.get_by_label("Upload files").set_input_files([sunset, ocean])

    for filename in (sunset.name, ocean.name):
        row, bar = _upload_row(page, filename)
        expect(row.get_by_role("status")).to_have_text("Uploaded")
        expect(bar).to_have_attribute("value", "100")
        expect(row.get_by_role("button", name=f"Cancel upload of {filename}")).to_be_hidden()
    expect(page.get_by_text("2 of 2 uploaded")).to_be_visible()

    # The tiles poll every second until the real worker has made the thumbnails.
    expect(grid.get_by_role("listitem")).to_have_count(2)
    for display_name in ("sunset-red", "ocean-blue"):
        thumb = grid.get_by_role("img", name=display_name, exact=True)
        expect(thumb).to_be_visible(timeout=THUMBNAIL_TIMEOUT_MS)
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle()
        )
        # The whole thumbnail shows: portrait images are not cropped by the tile's frame.
        assert thumb.evaluate(FITS_IN_FRAME), f"{display_name} thumbnail overflows its tile"
    expect(grid.get_by_role("img", name="Processing")).to_have_count(0)
    assert "process_version[" in real_worker["log"].read_text()
    assert set(Asset.objects.values_list("processing_status", flat=True)) == {"ready"}
    screenshot(page, "library-thumbnails")

    grid.get_by_role("link", name="sunset-red", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="sunset-red")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/assets/\d+/$"))
    preview = page.get_by_role("img", name="Preview of sunset-red")
    expect(preview).to_be_visible()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=preview.element_handle()
    )
    facts = _facts(page)
    assert facts["Type"] == "Image"
    assert facts["Format"] == "JPG"
    assert facts["Dimensions"] == "1200 × 800 px"
    assert facts["Uploaded by"] == "Ada Lovelace"
    assert facts["Folder"] == "/Campaigns/Spring"
    assert facts["File name"] == "sunset-red.jpg"
    breadcrumb = page.get_by_role("navigation", name="Breadcrumb")
    expect(breadcrumb.get_by_role("link", name="Spring")).to_be_visible()
    screenshot(page, "asset-detail")


def test_wrong_password_shows_error_and_stays_on_login(live_server, page):
    user = UserFactory()

    page.goto(_url(live_server, "/accounts/login/"))
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD + "-wrong")
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_role("alert")).to_have_text(
        "That email and password do not match an active account."
    )
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.get_by_label("Email")).to_have_value(user.email)
    expect(page.get_by_role("navigation", name="Main")).to_have_count(0)
    screenshot(page, "login-error")


def test_user_without_grants_sees_empty_library_and_no_admin_nav(live_server, page):
    make_folder("/Private")
    user = UserFactory()

    login(page, live_server.url, user.email)

    expect(page.get_by_role("heading", level=1, name="Media Library")).to_be_visible()
    expect(page.get_by_role("heading", name="Your library is empty")).to_be_visible()
    folders = page.get_by_role("complementary", name="Folders")
    expect(folders).to_contain_text("No folders yet")
    expect(page.get_by_role("main")).to_contain_text("No folders are shared with you yet")
    expect(folders.get_by_role("link")).to_have_count(0)
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Media Library")).to_have_attribute("aria-current", "page")
    expect(nav.get_by_role("link", name="Settings")).to_have_count(0)
    expect(nav.get_by_role("link", name="Reports")).to_have_count(0)
    expect(page.get_by_text("New folder")).to_have_count(0)
    screenshot(page, "library-empty")


def test_viewer_sees_shared_folder_but_cannot_upload(live_server, page):
    admin = AdminFactory()
    brand = make_folder("/Brand", actor=admin)
    make_folder("/Finance", actor=admin)
    make_asset(brand, actor=admin, name="logo.png")
    user = UserFactory()
    grant(user, brand, "view")

    login(page, live_server.url, user.email)
    folders = page.get_by_role("complementary", name="Folders")
    expect(folders.get_by_role("link", name="Brand")).to_be_visible()
    expect(folders.get_by_role("link", name="Finance")).to_have_count(0)
    _open_folder(page, "Brand")

    expect(page.get_by_role("list", name="Assets in Brand").get_by_role("listitem")).to_have_count(
        1
    )
    expect(page.get_by_label("Upload files")).to_have_count(0)
    expect(page.get_by_text("Upload", exact=True)).to_have_count(0)
    expect(page.get_by_text("New folder")).to_have_count(0)
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Settings")).to_have_count(0)
    expect(nav.get_by_role("link", name="Reports")).to_have_count(0)


def test_admin_sees_settings_and_reports_in_main_nav(live_server, page):
    admin = AdminFactory()

    login(page, live_server.url, admin.email)

    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Settings")).to_be_visible()
    expect(nav.get_by_role("link", name="Reports")).to_be_visible()
    nav.get_by_role("link", name="Reports").click()
    expect(page).to_have_url(re.compile(r"/reports/$"))
    expect(nav.get_by_role("link", name="Reports")).to_have_attribute("aria-current", "page")


def test_rejected_upload_shows_error_and_adds_no_tile(live_server, page, tmp_path):
    admin = AdminFactory()
    make_folder("/Inbox", actor=admin)
    fake = tmp_path / "holiday.jpg"
    fake.write_text("This is a text file pretending to be a JPEG.\n")

    login(page, live_server.url, admin.email)
    _open_folder(page, "Inbox")

    page.get_by_label("Upload files").set_input_files(fake)

    row, _bar = _upload_row(page, "holiday.jpg")
    # The reason names what the content really is.
    expect(row.get_by_role("status")).to_contain_text("named “.jpg” but its content is")
    expect(page.get_by_text("0 of 1 uploaded, 1 not uploaded")).to_be_visible()
    grid = page.get_by_role("list", name="Assets in Inbox")
    expect(grid.get_by_role("listitem")).to_have_count(0)
    expect(page.get_by_role("heading", name="No assets here yet")).to_be_visible()
    assert not Asset.objects.exists()
    screenshot(page, "upload-rejected")

    page.get_by_role("button", name="Clear finished").click()
    expect(page.get_by_role("list", name="Upload queue")).to_be_hidden()

    page.reload()
    expect(page.get_by_role("list", name="Assets in Inbox").get_by_role("listitem")).to_have_count(
        0
    )


def test_friendly_404_for_unknown_url_and_hidden_asset(live_server, page):
    admin = AdminFactory()
    secret = make_asset(make_folder("/Secret", actor=admin), actor=admin, name="plan.jpg")
    shared = make_folder("/Shared", actor=admin)
    user = UserFactory()
    grant(user, shared, "edit")
    login(page, live_server.url, user.email)

    response = page.goto(_url(live_server, "/no-such-page/"))
    assert response.status == 404
    expect(page.get_by_role("heading", name="We can’t find that page")).to_be_visible()
    expect(page.get_by_role("link", name="Go to the start page")).to_be_visible()
    screenshot(page, "not-found")

    response = page.goto(_url(live_server, f"/assets/{secret.pk}/"))
    assert response.status == 404
    expect(page.get_by_role("heading", name="We can’t find that page")).to_be_visible()
    expect(page.get_by_text("plan")).to_have_count(0)

    page.get_by_role("link", name="Go to the start page").click()
    expect(page.get_by_role("heading", level=1, name="Media Library")).to_be_visible()


def test_log_out_from_user_menu_returns_to_login(live_server, page):
    user = UserFactory(first_name="Lin", last_name="Okafor")
    login(page, live_server.url, user.email)

    # The menu is a <details>; its <summary> has no ARIA role, only an accessible name.
    page.get_by_label(f"User menu for {user.email}").click()
    log_out = page.get_by_role("button", name="Log out")
    expect(log_out).to_be_visible()
    screenshot(page, "user-menu")
    log_out.click()

    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.goto(_url(live_server, "/library/"))
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/library/$"))


def test_tags_typed_next_to_upload_go_with_the_files(live_server, page, tmp_path):
    admin = AdminFactory()
    make_folder("/Inbox", actor=admin)
    clip = tmp_path / "brochure.pdf"
    from PIL import Image

    Image.new("RGB", (300, 400), (30, 90, 160)).save(clip, "PDF")

    login(page, live_server.url, admin.email)
    _open_folder(page, "Inbox")
    page.get_by_text("Upload options", exact=False).click()
    page.get_by_label("Tags for uploads").fill("summer, launch")
    expect(page.get_by_text("Upload options: 2 tags")).to_be_visible()  # said when closed too
    page.get_by_label("Upload files").set_input_files(clip)
    row, _bar = _upload_row(page, "brochure.pdf")
    expect(row.get_by_role("status")).to_have_text("Uploaded")
    asset = Asset.objects.get()
    assert asset.tags == ["summer", "launch"]
    assert (asset.type, asset.format) == ("raw", "pdf")
