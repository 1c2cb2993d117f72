"""Moderation in a real browser (Debian's Chromium, Playwright).

A moderator (a media library user with the moderate permission and edit on /Brand) works
the queue: filters pending uploads, sees only those in /Brand, rejects one with a reason
and approves another; the uploader is told (bell, Notifications page, email) and sees the
"Rejected" badge. Bulk decisions from the queue and from the library grid. DESIGN.md
"Moderation". Elements are found by role and accessible name.
"""

from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from assets import services as asset_services
from assets.models import Asset, ModerationStatus
from dam.models import Notification
from dam.pytest_browser import VIEWPORT, login, screenshot
from dam.testing import AdminFactory, UserFactory, grant, image_upload, make_folder
from moderation.models import Decision, DecisionKind, Outcome

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REASON = "Off-brand colours"


# -- helpers ------------------------------------------------------------------------------
def _world():
    """/Brand and /Secret, a manual-moderation preset, a moderator with edit on /Brand
    only, and an uploader with contribute on /Brand."""
    admin = AdminFactory(first_name="Ada", last_name="Admin")
    brand = make_folder("/Brand", actor=admin)
    secret = make_folder("/Secret", actor=admin)
    preset = asset_services.preset_create(actor=admin, name="reviewed", moderation="manual")
    moderator = UserFactory(first_name="Mona", last_name="Moderator", can_moderate_assets=True)
    grant(moderator, brand, "edit")
    uploader = UserFactory(first_name="Uma", last_name="Uploader")
    grant(uploader, brand, "contribute")
    return admin, brand, secret, preset, moderator, uploader


def _upload(actor, folder, preset, filename: str) -> Asset:
    asset = asset_services.asset_upload(
        actor=actor,
        file=image_upload(filename),
        filename=filename,
        folder=folder,
        preset=preset,
    )
    asset.refresh_from_db()
    # Processing runs eagerly after the commit (transactional tests): thumbnails exist.
    assert asset.processing_status == "ready", asset.processing_error
    assert asset.moderation_status == ModerationStatus.PENDING
    return asset


def _new_page(browser):
    context = browser.new_context(viewport=VIEWPORT, locale="en-GB")
    context.set_default_timeout(10_000)
    return context, context.new_page()


def _status(page):
    return page.get_by_role("status")


def _queue(page):
    return page.get_by_role("table", name="Moderation queue")


def _rows(page):
    """The queue's body rows (each named after its asset)."""
    return _queue(page).get_by_role("row").filter(has=page.get_by_role("checkbox"))


def _filter(page, status: str) -> None:
    page.get_by_label("Status").select_option(label=status)
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_label("Status")).to_have_value(status.lower())


def _open_moderation(page) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Moderation").click()
    expect(page.get_by_role("heading", level=1, name="Moderation")).to_be_visible()


# -- 1. reject one with a reason, approve another; the uploader is told ------------------
def test_moderator_rejects_and_approves_and_the_uploader_is_told(live_server, page, browser):
    admin, brand, secret, preset, moderator, uploader = _world()
    teal = _upload(uploader, brand, preset, "Teal Poster.jpg")
    orange = _upload(uploader, brand, preset, "Orange Flyer.jpg")
    hidden = _upload(admin, secret, preset, "Hidden Plan.jpg")
    mail.outbox.clear()

    login(page, live_server.url, moderator.email)
    _open_moderation(page)
    _filter(page, "Pending")
    rows = _rows(page)
    expect(rows).to_have_count(2)
    expect(_queue(page).get_by_role("row", name="Teal Poster")).to_be_visible()
    expect(_queue(page).get_by_role("row", name="Orange Flyer")).to_be_visible()
    expect(_queue(page).get_by_role("row", name="Hidden Plan")).to_have_count(0)
    expect(page.get_by_text("Hidden Plan")).to_have_count(0)
    teal_row = _queue(page).get_by_role("row", name="Teal Poster")
    expect(teal_row).to_contain_text("Uma Uploader")
    expect(teal_row).to_contain_text("Pending")
    expect(teal_row).to_contain_text("Not decided yet")
    screenshot(page, "moderation-queue-pending")

    # Reject "Teal Poster" with a reason through its dialog.
    teal_row.get_by_role("button", name="Reject Teal Poster").click()
    dialog = page.get_by_role("dialog", name="Reject “Teal Poster”?")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Reason")).to_be_focused()
    dialog.get_by_label("Reason").fill(REASON)
    screenshot(page, "moderation-reject-dialog", full_page=False)
    dialog.get_by_role("button", name="Reject", exact=True).click()
    expect(_status(page)).to_contain_text("Rejected 1 asset.")
    expect(dialog).to_be_hidden()

    # Approve "Orange Flyer" with its own button.
    orange_row = _queue(page).get_by_role("row", name="Orange Flyer")
    orange_row.get_by_role("button", name="Approve Orange Flyer", exact=True).click()
    expect(_status(page)).to_contain_text("Approved 1 asset.")
    # Still on the pending filter: nothing left to review.
    expect(page.get_by_role("heading", name="Nothing waiting for review")).to_be_visible()

    teal.refresh_from_db()
    orange.refresh_from_db()
    hidden.refresh_from_db()
    assert teal.moderation_status == ModerationStatus.REJECTED
    assert orange.moderation_status == ModerationStatus.APPROVED
    assert hidden.moderation_status == ModerationStatus.PENDING
    decision = Decision.objects.get(asset=teal)
    assert (decision.kind, decision.outcome, decision.reason, decision.decided_by) == (
        DecisionKind.MANUAL,
        Outcome.REJECT,
        REASON,
        moderator,
    )

    # "Rejected": the rejected one, with its reason and who decided.
    _filter(page, "Rejected")
    expect(_rows(page)).to_have_count(1)
    row = _queue(page).get_by_role("row", name="Teal Poster")
    expect(row).to_contain_text("Rejected")
    expect(row).to_contain_text(REASON)
    expect(row).to_contain_text("Mona Moderator")
    expect(row.get_by_role("button", name="Approve Teal Poster", exact=True)).to_be_visible()
    expect(row.get_by_role("button", name="Reject Teal Poster")).to_have_count(0)
    screenshot(page, "moderation-queue-rejected")

    # "Approved": the approved one.
    _filter(page, "Approved")
    expect(_rows(page)).to_have_count(1)
    expect(_queue(page).get_by_role("row", name="Orange Flyer")).to_contain_text("Approved")

    # The uploader was emailed once, about the rejection, with the reason.
    assert len(mail.outbox) == 1, [m.subject for m in mail.outbox]
    email = mail.outbox[0]
    assert email.to == [uploader.email]
    assert "Teal Poster" in email.subject
    assert REASON in email.body
    assert f"/assets/{teal.pk}/" in email.body

    # The uploader: the bell, the Notifications page, the asset's badge.
    context, other = _new_page(browser)
    try:
        login(other, live_server.url, uploader.email)
        bell = other.get_by_role("link", name="Notifications: 1 new")
        expect(bell).to_be_visible()
        # A contributor does not moderate: no Moderation entry in the navigation.
        expect(
            other.get_by_role("navigation", name="Main").get_by_role("link", name="Moderation")
        ).to_have_count(0)
        bell.click()
        expect(other.get_by_role("heading", level=1, name="Notifications")).to_be_visible()
        items = other.get_by_role("list", name="Notifications").get_by_role("listitem")
        expect(items).to_have_count(1)
        expect(items.first).to_contain_text("New")
        expect(items.first).to_contain_text("“Teal Poster” was rejected")
        expect(items.first).to_contain_text(REASON)
        expect(items.first).to_contain_text("Mona Moderator")
        screenshot(other, "moderation-notifications")
        # Seen: the bell no longer counts it.
        expect(other.get_by_role("link", name="Notifications", exact=True)).to_be_visible()
        assert not Notification.objects.filter(user=uploader, read_at__isnull=True).exists()

        items.first.get_by_role("link", name=re.compile("Teal Poster")).click()
        heading = other.get_by_role("heading", level=1, name=re.compile("^Teal Poster"))
        expect(heading).to_be_visible()
        expect(heading).to_contain_text("Rejected")
        screenshot(other, "moderation-uploader-asset-rejected")
    finally:
        context.close()


# -- 2. bulk: reject two from the queue, approve from the library grid -------------------
def test_bulk_reject_in_the_queue_and_bulk_approve_in_the_library(live_server, page):
    _, brand, _, preset, moderator, uploader = _world()
    red = _upload(uploader, brand, preset, "Red Badge.jpg")
    blue = _upload(uploader, brand, preset, "Blue Badge.jpg")
    green = _upload(uploader, brand, preset, "Green Badge.jpg")
    mail.outbox.clear()

    login(page, live_server.url, moderator.email)
    _open_moderation(page)
    expect(_rows(page)).to_have_count(3)
    toolbar = page.get_by_role("toolbar", name="Decide on the selection")
    expect(toolbar).to_be_hidden()
    page.get_by_role("checkbox", name="Select Red Badge").check()
    page.get_by_role("checkbox", name="Select Blue Badge").check()
    expect(toolbar).to_be_visible()
    expect(toolbar).to_contain_text("2 selected")
    screenshot(page, "moderation-queue-selected")
    toolbar.get_by_role("button", name="Reject selected…").click()
    dialog = page.get_by_role("dialog", name="Reject 2 assets?")
    expect(dialog).to_be_visible()
    screenshot(page, "moderation-bulk-reject-dialog", full_page=False)
    dialog.get_by_role("button", name="Reject", exact=True).click()
    expect(_status(page)).to_contain_text("Rejected 2 assets.")

    for asset in (red, blue, green):
        asset.refresh_from_db()
    assert red.moderation_status == ModerationStatus.REJECTED
    assert blue.moderation_status == ModerationStatus.REJECTED
    assert green.moderation_status == ModerationStatus.PENDING
    # No reason given: the uploader is told so, once per asset.
    assert sorted(m.subject for m in mail.outbox) == [
        "“Blue Badge” was rejected",
        "“Red Badge” was rejected",
    ]
    assert all("No reason was given." in m.body for m in mail.outbox)

    # Pending now holds only the third; "Rejected" both others.
    expect(_rows(page)).to_have_count(1)
    expect(_queue(page).get_by_role("row", name="Green Badge")).to_be_visible()
    _filter(page, "Rejected")
    expect(_rows(page)).to_have_count(2)
    for name in ("Red Badge", "Blue Badge"):
        expect(_queue(page).get_by_role("row", name=name)).to_contain_text("Rejected")

    # The library grid: badges on the tiles, bulk "Approve" on one.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Media Library").click()
    folders = page.get_by_role("complementary", name="Folders")
    folders.get_by_role("link", name="Brand", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Brand")).to_be_visible()
    grid = page.get_by_role("list", name="Assets in Brand")
    expect(grid.get_by_role("listitem")).to_have_count(3)

    def tile(name):
        return grid.get_by_role("listitem").filter(has=page.get_by_role("link", name=name))

    expect(tile("Red Badge")).to_contain_text("Rejected")
    expect(tile("Green Badge")).to_contain_text("Pending")
    page.get_by_role("checkbox", name="Select Red Badge").check()
    bulk = page.get_by_role("toolbar", name="Bulk actions")
    expect(bulk).to_contain_text("1 selected")
    expect(bulk.get_by_role("button", name="Reject…")).to_be_visible()
    screenshot(page, "moderation-library-selected")
    bulk.get_by_role("button", name="Approve", exact=True).click()
    expect(_status(page)).to_contain_text("Approved 1 asset.")
    expect(tile("Red Badge")).not_to_contain_text("Rejected")
    expect(tile("Blue Badge")).to_contain_text("Rejected")
    red.refresh_from_db()
    assert red.moderation_status == ModerationStatus.APPROVED
    # An override of the earlier human rejection, kept in the history.
    latest = Decision.objects.filter(asset=red).order_by("-created_at", "-id").first()
    assert latest.outcome == Outcome.APPROVE and latest.overrides is not None
    assert Decision.objects.filter(asset=red).count() == 2

    # The asset page's Moderation card shows both decisions.
    tile("Red Badge").get_by_role("link", name="Red Badge").click()
    card = page.get_by_role("region", name=re.compile("^Moderation"))
    history = card.get_by_role("list", name="Moderation history")
    expect(history.get_by_role("listitem")).to_have_count(2)
    expect(history.get_by_role("listitem").first).to_contain_text("Approved")
    expect(history.get_by_role("listitem").last).to_contain_text("Rejected")
    expect(card).to_contain_text("Approved")
    screenshot(page, "moderation-asset-card")
