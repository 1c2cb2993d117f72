"""Selecting tiles, bulk tags, delete and restore through the trash, comments and edits."""

import pytest
from playwright.sync_api import expect

from assets.models import Asset, Comment
from dam.pytest_browser import login, screenshot
from dam.testing import AdminFactory, UserFactory, grant, make_asset, make_folder

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_bulk_tag_delete_and_restore_from_trash(live_server, page):
    admin = AdminFactory()
    spring = make_folder("/Marketing/Spring", actor=admin)
    poster = make_asset(spring, actor=admin, name="poster.jpg")
    banner = make_asset(spring, actor=admin, name="banner.png")
    make_asset(spring, actor=admin, name="flyer.gif")
    manager = UserFactory()
    grant(manager, spring.parent, "manage")

    login(page, live_server.url, manager.email)
    page.goto(f"{live_server.url}/library/folders/{spring.pk}/")
    toolbar = page.get_by_role("toolbar", name="Bulk actions")
    expect(toolbar).to_be_hidden()
    page.get_by_label("Select poster").check()
    page.get_by_label("Select banner").check()
    expect(toolbar).to_be_visible()
    expect(toolbar).to_contain_text("2 selected")
    screenshot(page, "bulk-selection")

    toolbar.get_by_role("button", name="Add tags…").click()
    dialog = page.get_by_role("dialog", name="Add tags to 2 assets")
    dialog.get_by_label("Tags").fill("summer, print")
    dialog.get_by_role("button", name="Add tags").click()
    expect(page.get_by_text("Tags added to 2 assets.")).to_be_visible()
    assert Asset.objects.get(pk=poster.pk).tags == ["summer", "print"]
    assert Asset.objects.get(pk=banner.pk).tags == ["summer", "print"]

    # Select all, then narrow to one and delete it with the confirm dialog.
    page.get_by_label("Select all on this page").check()
    expect(toolbar).to_contain_text("3 selected")
    page.get_by_label("Select all on this page").uncheck()
    expect(toolbar).to_be_hidden()
    page.get_by_label("Select banner").check()
    toolbar.get_by_role("button", name="Delete…").click()
    confirm = page.get_by_role("dialog", name="Delete 1 asset?")
    expect(confirm).to_be_visible()
    screenshot(page, "bulk-delete-confirm")
    confirm.get_by_role("button", name="Move to trash").click()
    expect(page.get_by_text("Moved 1 asset to the trash.")).to_be_visible()
    expect(page.get_by_label("Select banner")).to_have_count(0)

    page.get_by_role("navigation", name="Trash").get_by_role("link", name="Trash").click()
    expect(page.get_by_role("heading", level=1, name="Trash")).to_be_visible()
    table = page.get_by_role("table", name="Trash")
    expect(table).to_contain_text("banner")
    expect(table).to_contain_text("/Marketing/Spring")
    screenshot(page, "trash-page")
    table.get_by_role("button", name="Restore banner").click()
    expect(page.get_by_text("“banner” restored to Spring.")).to_be_visible()
    expect(page.get_by_role("heading", name="The trash is empty")).to_be_visible()
    screenshot(page, "trash-empty")
    assert Asset.objects.filter(pk=banner.pk).exists()


def test_comment_and_edit_tags_on_the_asset_page(live_server, page):
    admin = AdminFactory()
    spring = make_folder("/Spring", actor=admin)
    poster = make_asset(spring, actor=admin, name="poster.jpg")
    editor = UserFactory(first_name="Eda", last_name="Editor")
    grant(editor, spring, "edit")

    login(page, live_server.url, editor.email)
    page.goto(f"{live_server.url}/assets/{poster.pk}/")
    comments = page.get_by_role("region", name="Comments")
    expect(comments.get_by_text("No comments yet.")).to_be_visible()
    comments.get_by_label("Add a comment").fill("Can we get a version without the logo?")
    comments.get_by_role("button", name="Post comment").click()
    expect(comments.get_by_text("Can we get a version without the logo?")).to_be_visible()
    expect(comments.get_by_text("Eda Editor")).to_be_visible()
    assert Comment.objects.filter(asset=poster, author=editor).count() == 1

    edit = page.get_by_role("region", name="Edit")
    edit.get_by_label("Context").fill("broken line")
    edit.get_by_role("button", name="Save changes").click()
    expect(page.get_by_text("Line 1: write each entry as key=value.")).to_be_visible()
    edit.get_by_label("Tags").fill("spring, hero")
    edit.get_by_label("Context").fill("alt=Red poster")
    edit.get_by_label("Display name").fill("Spring poster")
    edit.get_by_role("button", name="Save changes").click()
    expect(page.get_by_text("Changes saved.")).to_be_visible()
    expect(page.get_by_role("heading", level=1, name="Spring poster")).to_be_visible()
    poster.refresh_from_db()
    assert poster.tags == ["spring", "hero"] and poster.context == {"alt": "Red poster"}
    # Edit level cannot delete: no delete button.
    expect(page.get_by_role("button", name="Delete asset…")).to_have_count(0)
    screenshot(page, "asset-edit-comments")


def test_bulk_actions_stay_in_reach_below_the_fold(live_server, page):
    admin = AdminFactory()
    folder = make_folder("/Many", actor=admin)
    for i in range(10):
        make_asset(folder, actor=admin, name=f"tile-{i:02d}.jpg")
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, live_server.url, admin.email)
    page.goto(f"{live_server.url}/library/folders/{folder.pk}/")
    last = page.get_by_role("checkbox", name="Select tile-00")  # newest first: last tile
    last.scroll_into_view_if_needed()
    last.check()
    toolbar = page.get_by_role("toolbar", name="Bulk actions")
    expect(toolbar).to_contain_text("1 selected")
    assert page.evaluate("window.scrollY") > 1000  # far down the page
    box = toolbar.bounding_box()
    assert box is not None and 56 <= box["y"] < 844  # still on screen, under the top bar
    screenshot(page, "bulk-bar-sticky", full_page=False)
