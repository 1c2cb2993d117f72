"""Access and delivery in a real browser (Debian's Chromium, Playwright).

An admin restricts a public asset on its page, makes a signed URL for a named
transformation and copies it; the signed URL works in a fresh browser context (no
session), and the plain URL that worked before is refused. Elements are found by role
and accessible name.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from assets.models import Asset, DeliveryPreset
from dam.pytest_browser import login, screenshot
from dam.testing import AdminFactory, make_asset, make_folder

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_restricts_an_asset_and_shares_a_signed_url(live_server, page, browser, settings):
    settings.DAM_BASE_URL = live_server.url
    admin = AdminFactory(first_name="Ada", last_name="Lovelace")
    folder = make_folder("/Campaigns", actor=admin)
    asset = make_asset(folder, actor=admin, name="launch.jpg", public_id="campaigns/launch")
    assert Asset.objects.get(pk=asset.pk).processing_status == "ready"
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)

    login(page, live_server.url, admin.email)
    # Settings → Delivery presets: a named transformation.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    tabs = page.get_by_role("navigation", name="Settings sections")
    tabs.get_by_role("link", name="Delivery presets").click()
    expect(page.get_by_role("heading", name="No delivery presets yet")).to_be_visible()
    page.get_by_label("Name", exact=True).fill("card")
    page.get_by_label("Transformation", exact=True).fill("w_200,h_100,c_fill,f_nope")
    page.get_by_role("button", name="Create preset").click()
    expect(page.get_by_text("Format (f_) is one of jpg, png, webp, auto.")).to_be_visible()
    page.get_by_label("Transformation", exact=True).fill("c_fill,h_100,w_200,f_png")
    page.get_by_role("button", name="Create preset").click()
    expect(page.get_by_role("status")).to_contain_text("Preset t_card created.")
    expect(page.get_by_role("textbox", name="Transformation of t_card")).to_have_value(
        "w_200,h_100,c_fill,f_png"
    )
    screenshot(page, "delivery-presets")
    assert DeliveryPreset.objects.filter(name="card").exists()
    page.goto(f"{live_server.url}/assets/{asset.pk}/")
    card = page.get_by_role("region", name="Access and delivery")
    expect(card.get_by_role("heading", level=2)).to_have_text("Access and delivery Public")
    delivery_urls = card.get_by_role("list", name="Delivery URLs")
    plain_url = delivery_urls.get_by_role("textbox", name="Original").input_value()
    assert plain_url == f"{live_server.url}/d/campaigns/launch"
    expect(delivery_urls.get_by_role("textbox", name="t_card")).to_have_value(
        f"{live_server.url}/d/t_card/campaigns/launch"
    )

    # Restrict it.
    card.get_by_role("radio", name="Restricted").check()
    card.get_by_role("button", name="Save access").click()
    expect(page.get_by_role("status")).to_contain_text("Access saved.")
    card = page.get_by_role("region", name="Access and delivery")
    expect(card.get_by_role("heading", level=2)).to_have_text("Access and delivery Restricted")
    expect(card.get_by_text("plain delivery URLs are refused")).to_be_visible()
    assert Asset.objects.get(pk=asset.pk).access_mode == "restricted"

    # A signed URL for the card preset, valid for a day, copied to the clipboard.
    card.get_by_label("Transformation", exact=True).select_option("t_card")
    card.get_by_label("Expires in").select_option(label="1 day")
    card.get_by_role("button", name="Create signed URL").click()
    signed_input = card.get_by_role("textbox", name="Signed URL")
    expect(signed_input).to_have_value(
        re.compile(r"/d/t_card/campaigns/launch\?expires=\d+&token=")
    )
    card.get_by_role("button", name="Copy signed URL").click()
    expect(card.get_by_role("button", name="Copied")).to_be_visible()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == signed_input.input_value()
    screenshot(page, "asset-delivery-restricted")

    # A fresh browser context: no session, no cookies.
    stranger = browser.new_context()
    try:
        other = stranger.new_page()
        response = other.goto(copied)
        assert response.status == 200 and response.headers["content-type"] == "image/png"
        assert response.headers["x-content-type-options"] == "nosniff"
        refused = other.goto(plain_url)
        assert refused.status == 404
        tampered = other.goto(copied.replace("t_card", "w_900"))
        assert tampered.status == 403
    finally:
        stranger.close()
