"""Folder sharing and management in Chromium: what admins do and what members then see."""

import re

import pytest
from playwright.sync_api import expect

from assets.models import Asset, Folder
from dam.pytest_browser import login, screenshot
from dam.testing import AdminFactory, GroupFactory, UserFactory, make_asset, make_folder

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _open(page, live_server, folder):
    page.goto(f"{live_server.url}/library/folders/{folder.pk}/")
    page.wait_for_load_state("load")
    expect(page.get_by_role("heading", level=1, name=folder.name)).to_be_visible()


def _folder_action(page, name):
    page.get_by_label("Folder actions").click()
    page.get_by_role("button", name=name).click()


def test_admin_shares_with_group_and_member_sees_exactly_that_subtree(live_server, page, browser):
    admin = AdminFactory()
    spring = make_folder("/Marketing/Spring", actor=admin)
    make_folder("/Marketing/Spring/Week 1", actor=admin)
    make_folder("/Marketing/Autumn", actor=admin)
    make_folder("/Finance", actor=admin)
    make_asset(spring, actor=admin, name="poster.jpg")
    designers = GroupFactory(name="Designers")
    member = UserFactory(first_name="Mia", last_name="Member")
    member.groups.add(designers)

    login(page, live_server.url, admin.email)
    _open(page, live_server, spring)
    _folder_action(page, "Share…")
    dialog = page.get_by_role("dialog", name="Share “Spring”")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_text("Only admins can see this folder so far.")).to_be_visible()
    dialog.get_by_label("User or group").select_option(label="Designers")
    dialog.get_by_label("Access level").select_option("contribute")
    dialog.get_by_role("button", name="Share", exact=True).click()
    shares = dialog.get_by_role("table", name="Current shares")
    expect(shares).to_contain_text("Designers")
    expect(shares).to_contain_text("Contribute")
    expect(shares).to_contain_text("This folder")
    screenshot(page, "share-dialog")
    dialog.get_by_role("button", name="Done").click()
    expect(dialog).to_be_hidden()

    context = browser.new_context(viewport={"width": 1366, "height": 860})
    member_page = context.new_page()
    try:
        login(member_page, live_server.url, member.email)
        folders = member_page.get_by_role("complementary", name="Folders")
        expect(folders.get_by_role("link")).to_have_text(["Spring"])
        member_page.get_by_role("link", name="Spring", exact=True).first.click()
        expect(member_page.get_by_role("heading", level=1, name="Spring")).to_be_visible()
        expect(folders.get_by_role("link")).to_have_text(["Spring", "Week 1"])
        expect(member_page.get_by_role("button", name="Upload", exact=True)).to_be_visible()
        expect(member_page.get_by_alt_text("poster")).to_have_count(1)
        expect(member_page.get_by_label("Folder actions")).to_have_count(0)
        screenshot(member_page, "member-sees-subtree")
        member_page.goto(f"{live_server.url}/library/folders/{spring.parent_id}/")
        expect(member_page.get_by_role("heading", name="We can’t find that page")).to_be_visible()
    finally:
        context.close()


def test_lowering_an_inherited_level_is_refused_in_the_dialog(live_server, page):
    admin = AdminFactory()
    spring = make_folder("/Marketing/Spring", actor=admin)
    designers = GroupFactory(name="Designers")
    login(page, live_server.url, admin.email)

    _open(page, live_server, spring.parent)
    _folder_action(page, "Share…")
    dialog = page.get_by_role("dialog", name="Share “Marketing”")
    dialog.get_by_label("User or group").select_option(label="Designers")
    dialog.get_by_label("Access level").select_option("edit")
    dialog.get_by_role("button", name="Share", exact=True).click()
    expect(dialog.get_by_role("table", name="Current shares")).to_contain_text("Edit")

    _open(page, live_server, spring)
    _folder_action(page, "Share…")
    dialog = page.get_by_role("dialog", name="Share “Spring”")
    expect(dialog).to_contain_text("Inherited from /Marketing")
    dialog.get_by_label("User or group").select_option(label="Designers")
    dialog.get_by_label("Access level").select_option("view")
    dialog.get_by_role("button", name="Share", exact=True).click()
    expect(dialog.get_by_role("alert")).to_contain_text("already has edit access from “/Marketing”")
    assert designers.foldergroupgrant_set.count() == 1


def test_rename_move_and_delete_a_folder(live_server, page):
    admin = AdminFactory()
    spring = make_folder("/Marketing/Spring", actor=admin)
    brand = make_folder("/Brand", actor=admin)
    make_asset(spring, actor=admin)
    login(page, live_server.url, admin.email)

    _open(page, live_server, spring)
    _folder_action(page, "Rename…")
    dialog = page.get_by_role("dialog", name="Rename folder")
    dialog.get_by_label("New name").fill("Spring 2027")
    dialog.get_by_role("button", name="Rename").click()
    expect(page.get_by_role("heading", level=1, name="Spring 2027")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Folder renamed to “Spring 2027”.")

    _folder_action(page, "Move…")
    dialog = page.get_by_role("dialog", name="Move “Spring 2027”")
    destination = dialog.get_by_label("Destination", exact=True)
    expect(destination.get_by_role("option", name="Top level of the library")).to_have_count(1)
    dialog.get_by_label("Find a destination").fill("bra")
    expect(destination.get_by_role("option")).to_have_text(["/Brand"])
    destination.select_option(label="/Brand")
    dialog.get_by_role("button", name="Move").click()
    expect(page.get_by_role("status")).to_contain_text("Folder moved to “/Brand/Spring 2027”.")
    breadcrumb = page.get_by_role("navigation", name="Breadcrumb")
    expect(breadcrumb).to_contain_text("Brand")
    assert Asset.objects.get().ancestors == [brand.pk, spring.pk]

    _folder_action(page, "Delete…")
    dialog = page.get_by_role("dialog", name="Delete “Spring 2027”?")
    expect(dialog).to_contain_text("move to the trash")
    screenshot(page, "delete-folder-confirm")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert Folder.objects.filter(pk=spring.pk).exists()
    _folder_action(page, "Delete…")
    dialog.get_by_role("button", name="Delete folder").click()
    expect(page).to_have_url(re.compile(rf"/library/folders/{brand.pk}/$"))
    expect(page.get_by_role("status")).to_contain_text("1 asset moved to the trash")
    assert not Folder.objects.filter(pk=spring.pk).exists()
    assert not Asset.objects.exists() and Asset.all_objects.count() == 1
