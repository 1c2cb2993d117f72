"""Layout and keyboard in a real browser (Debian's Chromium, Playwright).

On a phone (390x844) no page scrolls sideways: the top bar fits, tables scroll inside their
card, tab bars inside themselves; the side navigation is a drawer behind a Menu button.
On a laptop (1366x860) the side navigation is a column and there is no Menu button.
Menus built on <details> close with Escape and give the focus back to their summary; a
dialog opened from such a menu gives it back to the menu when it closes. Elements are found
by role and accessible name.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from accounts import services as account_services
from assets import services as asset_services
from dam.pytest_browser import login, screenshot
from dam.testing import AdminFactory, UserFactory, image_upload, make_asset, make_folder

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


def _world():
    """An admin with a folder of assets, one waiting for moderation, an API token with a
    long name, and a few users with long names."""
    admin = AdminFactory(first_name="Ada", last_name="Administrator-Longname")
    brand = make_folder("/Brand", actor=admin)
    make_folder("/Brand/Campaigns 2026", actor=admin)
    make_asset(brand, actor=admin, name="kitten-day.jpg", tags=["kitten"])
    make_asset(brand, actor=admin, name="kitten-night.jpg", tags=["kitten"])
    preset = asset_services.preset_create(actor=admin, name="reviewed", moderation="manual")
    asset_services.asset_upload(
        actor=admin,
        file=image_upload("waiting-for-review.jpg"),
        filename="waiting-for-review.jpg",
        folder=brand,
        preset=preset,
    )
    account_services.api_token_create(user=admin, name="Deploy token for the public website")
    for n in range(2):
        UserFactory(first_name=f"Someone{n}", last_name="Withaverylongsurname")
    return admin, brand


def _no_sideways_scroll(page, name):
    wide, screen = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert wide <= screen, f"{name}: the page is {wide}px wide on a {screen}px screen"


def test_on_a_phone_no_page_scrolls_sideways(live_server, page):
    admin, brand = _world()
    page.set_viewport_size(PHONE)
    login(page, live_server.url, admin.email)

    pages = [
        (f"/library/folders/{brand.pk}/", "heading", "Brand"),
        ("/search/?q=kitten", "heading", "2 results"),
        ("/settings/", "table", re.compile(r"^Users \d+$")),
        ("/moderation/", "table", "Moderation queue"),
        ("/accounts/profile/", "table", "Your API tokens"),
    ]
    for url, role, name in pages:
        page.goto(live_server.url + url)
        expect(page.get_by_role(role, name=name, exact=isinstance(name, str))).to_be_visible()
        _no_sideways_scroll(page, url)
        # The top bar keeps its search box, bell and user menu on the screen.
        for control in (
            page.get_by_role("combobox", name="Search the library"),
            page.get_by_role("link", name="Notifications"),
            page.get_by_label(f"User menu for {admin.email}"),
        ):
            box = control.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], url
    screenshot(page, "layout-phone-profile")

    # A wide table scrolls inside its card: its last column is reached by scrolling the table.
    page.goto(live_server.url + "/moderation/")
    approve = page.get_by_role("button", name="Approve waiting-for-review")
    approve.scroll_into_view_if_needed()
    expect(approve).to_be_in_viewport()
    _no_sideways_scroll(page, "/moderation/ scrolled")
    screenshot(page, "layout-phone-moderation")

    # The search form stacks: the text box gets the width of the screen, not a sliver.
    page.goto(live_server.url + "/search/?q=kitten")
    text_box = page.get_by_label("Search text").bounding_box()
    assert text_box["width"] > PHONE["width"] * 0.7
    screenshot(page, "layout-phone-search")


def test_the_menu_button_opens_the_navigation_on_a_phone_only(live_server, page):
    admin = AdminFactory(first_name="Ada")
    page.set_viewport_size(PHONE)
    login(page, live_server.url, admin.email)
    page.goto(live_server.url + "/library/")

    menu = page.get_by_role("button", name="Menu")
    nav = page.get_by_role("navigation", name="Main")
    expect(menu).to_be_visible()
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(nav).to_be_hidden()

    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(nav.get_by_role("link", name="Settings")).to_be_visible()
    expect(nav.get_by_role("link", name="Media Library")).to_be_focused()
    screenshot(page, "layout-phone-menu")
    page.keyboard.press("Escape")
    expect(nav).to_be_hidden()
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(menu).to_be_focused()

    page.keyboard.press("Enter")  # the button again, from the keyboard
    expect(nav).to_be_visible()
    nav.get_by_role("link", name="Collections").click()
    expect(page).to_have_url(re.compile(r"/collections/$"))
    expect(page.get_by_role("heading", level=1, name="Collections")).to_be_visible()
    expect(nav).to_be_hidden()
    _no_sideways_scroll(page, "/collections/")

    # On a laptop the navigation is a column and there is no Menu button.
    page.set_viewport_size({"width": 1366, "height": 860})
    expect(menu).to_be_hidden()
    expect(nav).to_be_visible()
    expect(nav.get_by_role("link", name="Collections")).to_be_visible()


def test_escape_closes_menus_and_focus_comes_back(live_server, page):
    admin = AdminFactory(first_name="Ada")
    brand = make_folder("/Brand", actor=admin)
    login(page, live_server.url, admin.email)
    page.goto(f"{live_server.url}/library/folders/{brand.pk}/")
    expect(page.get_by_role("heading", level=1, name="Brand")).to_be_visible()

    folder_menu = page.get_by_label("Folder actions")
    folder_menu.click()
    share = page.get_by_role("button", name="Share…")
    expect(share).to_be_visible()
    share.focus()
    page.keyboard.press("Escape")
    expect(share).to_be_hidden()
    expect(folder_menu).to_be_focused()

    user_menu = page.get_by_label(f"User menu for {admin.email}")
    user_menu.click()
    profile = page.get_by_role("link", name="Profile")
    expect(profile).to_be_visible()
    page.keyboard.press("Escape")
    expect(profile).to_be_hidden()
    expect(user_menu).to_be_focused()

    # A dialog opened from the menu: closing it puts the focus back on the menu's summary
    # (the menu item that opened it is hidden by then), not at the top of the page.
    folder_menu.click()
    share.click()
    dialog = page.get_by_role("dialog", name="Share “Brand”")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(folder_menu).to_be_focused()

    # Keyboard focus on a checkbox shows a clear ring.
    page.goto(live_server.url + "/accounts/profile/")
    page.get_by_label("Last name").focus()
    page.keyboard.press("Tab")
    checkbox = page.get_by_role("checkbox", name="Email me when a folder is shared with me")
    expect(checkbox).to_be_focused()
    ring = checkbox.evaluate(
        "el => ['outlineStyle', 'outlineWidth', 'outlineColor'].map((k) => getComputedStyle(el)[k])"
    )
    assert ring[0] == "solid" and float(ring[1].removesuffix("px")) >= 3, ring
    alpha = re.search(r"rgba\([^)]*,\s*([\d.]+)\)", ring[2])
    assert alpha is None or float(alpha.group(1)) >= 0.6, ring
