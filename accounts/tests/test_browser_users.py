"""Settings → Users and Groups in a real browser (Debian's Chromium through Playwright).

Found by role and accessible name; run against pytest-django's in-process live_server,
so Django's locmem outbox holds the emails the app sends.
"""

from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from accounts.models import User, UserStatus
from accounts.tests.conftest import link_path
from dam.pytest_browser import DEFAULT_TIMEOUT_MS, VIEWPORT, login, screenshot
from dam.testing import AdminFactory, GroupFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NEW_PASSWORD = "violet-harbour-lantern-58"


def _row(page, email: str):
    return page.get_by_role("row").filter(has_text=email)


def _open_user(page, live_server, email: str) -> None:
    page.goto(f"{live_server.url}/settings/")
    page.get_by_role("link", name=email).click()
    expect(page.get_by_text(email).first).to_be_visible()


def _confirm(page, opener: str, dialog_title: str, button: str) -> None:
    page.get_by_role("button", name=opener, exact=True).click()
    dialog = page.get_by_role("dialog", name=dialog_title)
    expect(dialog).to_be_visible()
    screenshot(page, f"users-confirm-{opener.lower().replace(' ', '-')}", full_page=False)
    with page.expect_navigation():
        dialog.get_by_role("button", name=button, exact=True).click()


def test_admin_invites_two_users_and_one_sets_a_password(live_server, page, browser):
    mail.outbox = []
    admin = AdminFactory(first_name="Ada", last_name="Admin")
    design = GroupFactory(name="Design")
    login(page, live_server.url, admin.email)
    page.get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", level=1, name="Settings")).to_be_visible()
    page.get_by_role("link", name="Add users").click()

    first = page.get_by_role("group", name="User 1")
    first.get_by_label("Email (user 1)").fill("nina@example.com")
    first.get_by_label("First name").fill("Nina")
    first.get_by_label("Last name").fill("Novak")
    first.get_by_label("Groups").select_option(label="Design")
    first.get_by_label("Create collections").check()
    second = page.get_by_role("group", name="User 2")
    second.get_by_label("Email (user 2)").fill("omar@example.com")
    second.get_by_label("Role").select_option(label="Reports")
    screenshot(page, "users-add-form")
    page.get_by_role("button", name="Send invitations").click()

    expect(page.get_by_text("Invited 2 users")).to_be_visible()
    for email in ("nina@example.com", "omar@example.com"):
        expect(_row(page, email).get_by_text("Invited")).to_be_visible()
    expect(_row(page, "nina@example.com").get_by_text("Design")).to_be_visible()
    screenshot(page, "users-list-invited")
    assert sorted(m.to[0] for m in mail.outbox) == ["nina@example.com", "omar@example.com"]
    invite = next(m for m in mail.outbox if m.to == ["nina@example.com"])
    assert User.objects.get(email="nina@example.com").groups.get() == design

    # Nina follows the link in a browser of her own.
    context = browser.new_context(viewport=VIEWPORT, locale="en-GB")
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    nina = context.new_page()
    try:
        nina.goto(live_server.url + link_path(invite))
        expect(nina.get_by_role("heading", name="Welcome! Set your password")).to_be_visible()
        screenshot(nina, "users-set-password")
        nina.get_by_label("New password").fill(NEW_PASSWORD)
        nina.get_by_label("Confirm password").fill(NEW_PASSWORD)
        nina.get_by_role("button", name="Set password").click()
        expect(nina.get_by_role("heading", level=1, name="Media Library")).to_be_visible()
        # The link was single use.
        nina.goto(live_server.url + link_path(invite))
        expect(nina.get_by_role("heading", name="This link no longer works")).to_be_visible()
    finally:
        context.close()
    assert User.objects.get(email="nina@example.com").status == UserStatus.ACTIVE


def test_force_logout_sends_the_next_click_to_the_login_page(live_server, page, browser):
    admin = AdminFactory()
    victim = UserFactory(email="vic@example.com")
    context = browser.new_context(viewport=VIEWPORT, locale="en-GB")
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    other = context.new_page()
    try:
        login(other, live_server.url, victim.email)
        expect(other.get_by_role("heading", level=1, name="Media Library")).to_be_visible()

        login(page, live_server.url, admin.email)
        _open_user(page, live_server, victim.email)
        _confirm(page, "Force logout", "Force logout?", "Force logout")
        expect(page.get_by_text("was signed out of every session")).to_be_visible()

        other.get_by_role("link", name="Collections").click()
        expect(other).to_have_url(re.compile(r"/accounts/login/"))
        expect(other.get_by_role("heading", name="Log in")).to_be_visible()
    finally:
        context.close()


def test_reset_password_and_delete(live_server, page):
    mail.outbox = []
    admin = AdminFactory()
    UserFactory(email="rita@example.com", first_name="Rita")
    UserFactory(email="dan@example.com", first_name="Dan")
    login(page, live_server.url, admin.email)

    _open_user(page, live_server, "rita@example.com")
    _confirm(page, "Reset password", "Reset password?", "Reset password")
    expect(page.get_by_text("emailed a link to set a new password")).to_be_visible()
    expect(page.get_by_text("Password reset", exact=True).first).to_be_visible()
    assert [m.to for m in mail.outbox] == [["rita@example.com"]]
    screenshot(page, "users-after-reset")

    _open_user(page, live_server, "dan@example.com")
    _confirm(page, "Delete user", "Delete this user?", "Delete user")
    expect(page.get_by_text("is now inactive")).to_be_visible()
    expect(_row(page, "dan@example.com").get_by_text("Inactive")).to_be_visible()
    expect(_row(page, "rita@example.com").get_by_text("Password reset")).to_be_visible()
    screenshot(page, "users-list-after-delete")


def test_groups_create_and_add_a_member(live_server, page):
    admin = AdminFactory()
    UserFactory(email="mia@example.com", first_name="Mia", last_name="Moss")
    login(page, live_server.url, admin.email)
    page.goto(f"{live_server.url}/settings/")
    page.get_by_role("link", name="Groups").click()
    expect(page.get_by_role("heading", name="No groups yet")).to_be_visible()
    page.get_by_label("New group name").fill("Photographers")
    page.get_by_role("button", name="Create group").click()
    expect(page.get_by_role("heading", name=re.compile("Photographers"))).to_be_visible()
    page.get_by_label("Add member").select_option(label="mia@example.com (Mia Moss)")
    page.get_by_role("button", name="Add", exact=True).click()
    members = page.get_by_role("table", name="Members of Photographers")
    expect(members.get_by_text("mia@example.com")).to_be_visible()
    expect(page.get_by_text("1 member", exact=True)).to_be_visible()
    screenshot(page, "groups-detail")
    page.get_by_role("link", name="All groups").click()
    expect(_row(page, "Photographers")).to_contain_text("1")
    screenshot(page, "groups-list")
