"""The activity report in a real browser (Debian's Chromium, Playwright): an admin filters
by a user and an action group, downloads the CSV of that view, downloads an asset's
original and finds that download in the asset's History on its page."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from dam.pytest_browser import login, screenshot
from dam.testing import AdminFactory, UserFactory, grant, make_asset, make_folder

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_filter_the_activity_download_csv_and_open_an_asset_history(live_server, page):
    admin = AdminFactory(first_name="Ada", last_name="Admin")
    folder = make_folder("/Campaigns", actor=admin)
    uploader = UserFactory(first_name="Uma", last_name="Uploader", role="media_library_admin")
    grant(uploader, folder, "edit")
    asset = make_asset(folder, actor=uploader, name="spring-hero.jpg")
    make_asset(folder, actor=uploader, name="spring-banner.png")
    make_asset(folder, actor=admin, name="admin-own.jpg")
    UserFactory(first_name="Ivy", last_name="Left", status="inactive")

    login(page, live_server.url, admin.email)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Activity").click()
    expect(page.get_by_role("heading", name="Activity", exact=True)).to_be_visible()
    filters = page.get_by_role("search", name="Filter activity")
    expect(filters.get_by_label("User")).to_contain_text("Ivy Left")
    expect(filters.get_by_label("User")).to_contain_text("(inactive)")
    screenshot(page, "activity-all")

    filters.get_by_label("User").select_option(label=f"Uma Uploader ({uploader.email})")
    filters.get_by_label("Action").select_option(label="All uploads")
    filters.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("heading", name="2 events")).to_be_visible()
    table = page.get_by_role("table", name="2 events")
    expect(table.get_by_role("link", name="spring-hero")).to_be_visible()
    expect(table.get_by_role("link", name="spring-banner")).to_be_visible()
    expect(table.get_by_text("admin-own")).to_have_count(0)
    screenshot(page, "activity-filtered")

    with page.expect_download() as info:
        page.get_by_role("link", name="Download CSV").click()
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    text = Path(download.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["verb"] for r in rows] == ["asset.upload", "asset.upload"]
    assert {r["object_name"] for r in rows} == {"spring-hero", "spring-banner"}
    assert {r["actor_email"] for r in rows} == {uploader.email}

    table.get_by_role("link", name="spring-hero").click()
    expect(page.get_by_role("heading", name="spring-hero").first).to_be_visible()
    with page.expect_download() as original:
        page.get_by_role("link", name="Download original").click()
    assert original.value.suggested_filename == "spring-hero.jpg"
    history = page.locator("details#history")
    history.get_by_text("History", exact=True).click()
    listing = history.get_by_role("table", name="History of spring-hero")
    expect(listing).to_be_visible()
    expect(listing).to_contain_text("Uploaded")
    expect(listing).to_contain_text("Uma Uploader")
    expect(listing).to_contain_text("Downloaded version 1")  # the download just made
    expect(listing.get_by_role("row").filter(has_text="Downloaded")).to_contain_text("Ada Admin")
    screenshot(page, "asset-history")
    assert asset.pk


def test_with_many_users_the_user_filter_suggests_as_you_type(live_server, page, monkeypatch):
    from dam import activity

    monkeypatch.setattr(activity, "USER_LIST_MAX", 2)  # as with thousands of users
    admin = AdminFactory(first_name="Ada", last_name="Admin")
    UserFactory(first_name="Bo", last_name="Other")
    folder = make_folder("/Archive", actor=admin)
    gone = UserFactory(first_name="Ivy", last_name="Left", role="media_library_admin")
    grant(gone, folder, "edit")
    make_asset(folder, actor=gone, name="old-flyer.jpg")
    make_asset(folder, actor=admin, name="admin-own.jpg")
    gone.status = "inactive"
    gone.save(update_fields=["status"])

    login(page, live_server.url, admin.email)
    page.goto(f"{live_server.url}/activity/")
    filters = page.get_by_role("search", name="Filter activity")
    field = filters.get_by_role("combobox", name="User")
    field.press_sequentially("Iv", delay=50)
    option = page.locator("#activity-user-options option")
    expect(option).to_have_count(1)
    tag = option.get_attribute("value")
    assert tag == f"Ivy Left <{gone.email}> #{gone.pk}"
    field.fill(tag)
    filters.get_by_role("button", name="Filter").click()
    table = page.get_by_role("table", name=re.compile(r"\d+ events?"))
    expect(table.get_by_role("link", name="old-flyer")).to_be_visible()
    expect(table.get_by_text("admin-own")).to_have_count(0)
    expect(field).to_have_value(tag)
    screenshot(page, "activity-typed-user")
