"""Automation in a real browser (Debian's Chromium, Playwright): an admin makes a rule
"when license expiry is within 7 days: restrict and tag 'expiring'", runs it now, and
sees the run with the asset it touched; a mistake in a search expression shows on its
field."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from assets.models import AccessMode, Asset, AutomationRule
from dam.pytest_browser import login, screenshot
from dam.testing import AdminFactory, make_asset, make_folder
from metadata import services as metadata_services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_creates_a_rule_runs_it_and_sees_the_touched_asset(live_server, page):
    admin = AdminFactory()
    metadata_services.field_create(
        actor=admin, label="License expiry", type="date", external_id="license_expiry"
    )
    brand = make_folder("/Brand", actor=admin)
    soon = (timezone.localdate() + timedelta(days=3)).isoformat()
    later = (timezone.localdate() + timedelta(days=30)).isoformat()
    expiring = make_asset(
        brand, actor=admin, name="hero-banner.jpg", metadata={"license_expiry": soon}
    )
    make_asset(brand, actor=admin, name="evergreen.jpg", metadata={"license_expiry": later})

    login(page, live_server.url, admin.email)
    page.goto(live_server.url + "/settings/upload-presets/")
    page.get_by_role("navigation", name="Settings sections").get_by_role(
        "link", name="Automation"
    ).click()
    expect(page.get_by_role("heading", name="Automation rules 0")).to_be_visible()
    page.get_by_role("link", name="New rule").click()

    page.get_by_label("Name").fill("Expiring licenses")
    # A mistake in a search expression is shown on its field, with its position.
    page.get_by_role("radio", name="An upload matches a search").check()
    expect(page.get_by_label("Date field")).to_be_hidden()
    page.get_by_label("Search expression").fill("tags:raw AND (type:image")
    page.get_by_role("checkbox", name="Restrict access").check()
    page.get_by_role("button", name="Create rule").click()
    expect(page.get_by_role("alert").filter(has_text="never closed")).to_contain_text(
        "at character 14"
    )

    page.get_by_role("radio", name="A date metadata field is reached").check()
    page.get_by_label("Date field").select_option(label="License expiry")
    page.get_by_label("Days ahead").fill("7")
    page.get_by_role("checkbox", name="Add tags").check()
    page.get_by_label("Tags to add").fill("expiring")
    screenshot(page, "automation-rule-form")
    page.get_by_role("button", name="Create rule").click()

    expect(page.get_by_role("heading", name="Expiring licenses")).to_be_visible()
    expect(page.get_by_text("License expiry is within 7 days")).to_be_visible()
    expect(page.get_by_text("No runs yet")).to_be_visible()
    page.get_by_role("button", name="Run now").click()

    expect(page.get_by_role("status").first).to_contain_text("Run queued")
    touched = page.get_by_role("list", name="Assets touched by the run")
    expect(touched.get_by_role("link", name="hero-banner")).to_be_visible()
    expect(page.get_by_text("evergreen")).to_have_count(0)
    expect(page.get_by_role("cell", name="1 done")).to_be_visible()
    screenshot(page, "automation-rule-run")

    asset = Asset.objects.get(pk=expiring.pk)
    assert asset.access_mode == AccessMode.RESTRICTED and asset.tags == ["expiring"]
    touched.get_by_role("link", name="hero-banner").click()
    expect(page).to_have_url(f"{live_server.url}/assets/{expiring.pk}/")

    # The list shows it active with its last run; pausing is one click.
    page.goto(live_server.url + "/settings/automation/")
    row = page.get_by_role("row").filter(has_text="Expiring licenses")
    expect(row).to_contain_text("Active")
    expect(row).to_contain_text("Done · 1 asset")
    row.get_by_role("button", name="Pause Expiring licenses").click()
    expect(page.get_by_role("row").filter(has_text="Expiring licenses")).to_contain_text("Paused")
    assert AutomationRule.objects.get().paused_at is not None
    screenshot(page, "automation-rules")
