"""Upload presets and version history in a real browser (Debian's Chromium, Playwright).

An admin makes an overwrite preset in Settings, uploads a file with it, uploads a new
file under the same public ID, sees two versions on the asset page, and restores version 1
(which becomes version 3). Elements are found by role and accessible name.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from assets.models import Asset
from dam.pytest_browser import login, screenshot
from dam.testing import AdminFactory, image_bytes, make_folder

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _upload(page, path, expected_status: str) -> None:
    page.wait_for_load_state("load")  # the upload script (deferred) listens from here on
    page.get_by_label("Upload files").set_input_files(path)
    queue = page.get_by_role("list", name="Upload queue")
    row = queue.get_by_role("listitem").filter(has_text=path.name).last
    expect(row.get_by_role("status")).to_have_text(expected_status)


def test_admin_overwrites_with_a_preset_and_restores_version_one(live_server, page, tmp_path):
    admin = AdminFactory(first_name="Grace", last_name="Hopper")
    make_folder("/Campaigns", actor=admin)
    first = tmp_path / "Spring Poster.jpg"
    first.write_bytes(image_bytes(1200, 800, color=(220, 80, 50)))

    login(page, live_server.url, admin.email)

    # Settings → Upload presets → New preset
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    tabs = page.get_by_role("navigation", name="Settings sections")
    tabs.get_by_role("link", name="Upload presets").click()
    expect(tabs.get_by_role("link", name="Upload presets")).to_have_attribute(
        "aria-current", "page"
    )
    expect(page.get_by_role("heading", name="No upload presets yet")).to_be_visible()
    page.get_by_role("link", name="New preset").click()
    page.get_by_label("Name", exact=True).fill("replace")
    page.get_by_label("From the file name").check()
    page.get_by_label(re.compile("^Overwrite")).check()
    page.get_by_label("Tags", exact=True).fill("campaign")
    page.get_by_label("Images").check()
    screenshot(page, "preset-form")
    page.get_by_role("button", name="Create preset").click()
    expect(page.get_by_role("status")).to_contain_text("Upload preset “replace” created.")
    table = page.get_by_role("table", name=re.compile("Upload presets"))
    row = table.get_by_role("row").filter(has_text="replace")
    expect(row).to_contain_text("From the file name")
    expect(row).to_contain_text("Yes")
    screenshot(page, "presets-list")

    # Upload with the preset (preselected: it is the default for images).
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Media Library").click()
    folders = page.get_by_role("complementary", name="Folders")
    folders.get_by_role("link", name="Campaigns", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Campaigns")).to_be_visible()
    page.get_by_text("Upload options", exact=False).click()  # the preset lives there
    preset_select = page.get_by_label("Preset")
    expect(preset_select).to_have_value("auto")
    preset_select.select_option("replace")
    _upload(page, first, "Uploaded")
    asset = Asset.objects.get()
    assert asset.public_id == "spring-poster" and asset.tags == ["campaign"]

    # A new file under the same name: the preset overwrites it as version 2.
    second_dir = tmp_path / "new"
    second_dir.mkdir()
    second = second_dir / "Spring Poster.jpg"
    second.write_bytes(image_bytes(600, 900, color=(40, 110, 200)))
    # "Default for the file type" picks the image default: the same preset.
    preset_select.select_option("auto")
    _upload(page, second, "Uploaded as version 2")
    screenshot(page, "library-preset-overwrite")
    expect(
        page.get_by_role("list", name="Assets in Campaigns").get_by_role("listitem")
    ).to_have_count(1)

    page.get_by_role("list", name="Assets in Campaigns").get_by_role(
        "link", name="Spring Poster"
    ).click()
    expect(page.get_by_role("heading", level=1, name="Spring Poster")).to_be_visible()
    versions = page.get_by_role("list", name="Versions of Spring Poster")
    expect(versions.get_by_role("listitem")).to_have_count(2)
    v2 = versions.get_by_role("listitem", name="Version 2")
    expect(v2).to_contain_text("Current")
    expect(v2).to_contain_text("Grace Hopper")
    v1 = versions.get_by_role("listitem", name="Version 1")
    expect(v1).not_to_contain_text("Current")
    thumb = v1.get_by_role("img", name="Version 1 preview")
    expect(thumb).to_be_visible()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle()
    )
    expect(v1.get_by_role("link", name="Download version 1")).to_be_visible()
    expect(v2.get_by_role("button", name="Restore version 2")).to_have_count(0)
    screenshot(page, "versions-two")

    v1.get_by_role("button", name="Restore version 1").click()
    dialog = page.get_by_role("dialog", name="Restore version 1?")
    expect(dialog).to_be_visible()
    screenshot(page, "versions-restore-dialog", full_page=False)
    dialog.get_by_role("button", name="Restore version 1").click()

    expect(page.get_by_role("status")).to_contain_text("Version 1 restored as version 3.")
    versions = page.get_by_role("list", name="Versions of Spring Poster")
    expect(versions.get_by_role("listitem")).to_have_count(3)
    v3 = versions.get_by_role("listitem", name="Version 3")
    expect(v3).to_contain_text("Current")
    expect(v3).to_contain_text("restored from version 1")
    expect(v3).to_contain_text("1200 × 800 px")
    thumb = v3.get_by_role("img", name="Version 3 preview")
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle()
    )
    expect(versions.get_by_role("listitem", name="Version 2")).not_to_contain_text("Current")
    asset.refresh_from_db()
    assert asset.version == 3 and (asset.width, asset.height) == (1200, 800)
    screenshot(page, "versions-restored")
