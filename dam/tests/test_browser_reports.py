"""The usage dashboard in a real browser (Debian's Chromium, Playwright): a reports user
opens Reports, changes the period, reads the figures, charts and analytics."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Role
from dam import reports, usage
from dam.models import UsageDaily
from dam.pytest_browser import login, screenshot
from dam.testing import AdminFactory, UserFactory, make_asset, make_folder

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
Kind = UsageDaily.Kind


def test_reports_user_reads_the_dashboard(live_server, page):
    admin = AdminFactory(first_name="Grace", last_name="Hopper")
    folder = make_folder("/Brand", actor=admin)
    poster = make_asset(folder, actor=admin, name="Spring Poster.jpg")
    today = timezone.localdate()
    for days_ago in range(0, 30):
        day = today - timedelta(days=days_ago)
        usage.bump(Kind.UPLOAD, user_id=admin.pk, count=(days_ago % 5) + 1, day=day)
        usage.bump(
            Kind.DELIVERY, object_id=poster.pk, count=3, size=(days_ago + 1) * 2**20, day=day
        )
        usage.bump(Kind.ASSET_VIEW, object_id=poster.pk, count=2, day=day)
    usage.bump(Kind.SEARCH, key="spring poster", count=7)
    usage.bump(Kind.SEARCH_EMPTY, key="unicorn", count=2)
    reports.snapshot_take()
    analyst = UserFactory(role=Role.REPORTS, first_name="Ada")

    login(page, live_server.url, analyst.email)
    expect(page.get_by_role("heading", level=1, name="Reports")).to_be_visible()
    expect(page.get_by_role("region", name="Assets", exact=True)).to_contain_text("1 image")
    expect(
        page.get_by_role("img", name=re.compile("^Uploads per day: 91 in total over 30 days"))
    ).to_be_visible()
    page.get_by_label("Period", exact=True).select_option("7d")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_text("usage over last 7 days")).to_be_visible()
    expect(
        page.get_by_role("img", name=re.compile("^Uploads per day: .* over 7 days"))
    ).to_be_visible()
    viewed = page.get_by_role("region", name="Most viewed assets")
    expect(viewed.get_by_role("listitem")).to_have_count(1)
    expect(viewed).to_contain_text("Spring Poster")
    expect(page.get_by_role("region", name="Top searches")).to_contain_text("spring poster")
    expect(page.get_by_role("region", name="Searches with no results")).to_contain_text("unicorn")
    screenshot(page, "reports-dashboard")
    page.get_by_label("From", exact=True).fill("2026-02-01")
    page.get_by_label("To", exact=True).fill("2026-01-01")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("alert")).to_contain_text("The period ends before it starts.")
