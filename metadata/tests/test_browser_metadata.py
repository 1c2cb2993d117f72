"""Structured metadata and conditional rules in a real browser (Debian's Chromium).

A master admin builds part of the three-level example in Settings → Metadata; the asset
page's live form, the upload dialog and bulk edit follow the rules (the server's engine
re-renders the form through htmx); the field list reorders by drag and drop and by the
keyboard. Elements are found by role and accessible name, never by CSS class.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from assets.models import Asset
from dam.pytest_browser import login, screenshot
from dam.testing import AdminFactory, UserFactory, grant, image_bytes, make_asset, make_folder
from metadata.demo import build_three_levels
from metadata.models import MetadataField, MetadataRule

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _status(page):
    """The page's flash messages (Django messages, role=status)."""
    return page.get_by_role("status").filter(has_text=re.compile(r"\S"))


def _focused_id(page) -> str:
    return page.evaluate("() => document.activeElement ? document.activeElement.id : ''")


def _pick(page, select, label: str) -> str:
    """Focus a select and choose an option (focus stays on it, as for a keyboard user);
    return its id, which the live form's re-render keeps."""
    select.focus()
    select.select_option(label=label)
    return select.get_attribute("id")


def _new_field(page, label: str, *, values: str = "", hidden: bool = False) -> str:
    """Create a single-select list field from Settings; returns what the "List values"
    box held before typing (a fresh form should hold nothing)."""
    page.get_by_role("link", name="New field").click()
    expect(page.get_by_role("heading", name="New metadata field")).to_be_visible()
    page.get_by_label("Label", exact=True).fill(label)
    page.get_by_label("Single-select list").check()
    box = page.get_by_label("List values")
    prefilled = box.input_value()
    box.fill(values)  # empty: start with the placeholder value
    if hidden:
        page.get_by_label("Hidden unless a rule shows it").check()
    page.get_by_role("button", name="Create field").click()
    expect(_status(page)).to_contain_text(f"Field “{label}” created.")
    expect(page.get_by_role("heading", level=2, name=label)).to_be_visible()
    return prefilled


def test_master_admin_builds_fields_values_and_a_rule_in_settings(live_server, page):
    admin = AdminFactory(first_name="Meta", last_name="Admin")
    login(page, live_server.url, admin.email)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    tabs = page.get_by_role("navigation", name="Settings sections")
    tabs.get_by_role("link", name="Metadata").click()
    expect(tabs.get_by_role("link", name="Metadata")).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("heading", name="No metadata fields yet")).to_be_visible()

    # Category: a new list starts with one placeholder value; rename it, add another.
    prefilled = {"Category": _new_field(page, "Category")}
    values = page.get_by_role("table", name=re.compile("^Values"))
    expect(values.get_by_role("row")).to_have_count(2)  # header + "Value 1"
    values.get_by_role("button", name="Rename Value 1").click()
    rename = page.get_by_label("New label for “Value 1”")
    expect(rename).to_be_focused()
    rename.fill("Employee")
    page.get_by_role("button", name="Save label").click()
    expect(_status(page)).to_contain_text("Renamed to “Employee”.")
    page.get_by_label("New value").fill("Customer")
    page.get_by_role("button", name="Add value").click()
    expect(_status(page)).to_contain_text("Value “Customer” added to Category.")
    values = page.get_by_role("table", name=re.compile("^Values"))
    expect(values.get_by_role("row")).to_have_count(3)
    expect(values.get_by_role("row").nth(1)).to_contain_text("Employee")
    expect(values.get_by_role("row").nth(2)).to_contain_text("Customer")
    screenshot(page, "metadata-field-values")

    # Team: hidden unless a rule shows it, values typed in at creation.
    page.get_by_role("link", name="← All metadata fields").click()
    prefilled["Team"] = _new_field(page, "Team", values="R&D\nSales", hidden=True)
    expect(page.get_by_role("heading", name="No rules")).to_be_visible()
    expect(page.get_by_text("Team always stays hidden")).to_be_visible()

    # The rule editor: Category equals Employee → show.
    page.get_by_role("link", name="Add rule").click()
    expect(page.get_by_role("heading", name="New rule on Team")).to_be_visible()
    page.get_by_label("Rule name").fill("Employees have a team")
    condition = page.get_by_role("group", name="Condition 1")
    expect(condition.get_by_label("Field")).to_have_value("category")
    # "equals" is preselected (changing the test redraws the condition through htmx).
    expect(condition.get_by_label("Test")).to_have_value("equals")
    condition.get_by_label("Value").select_option(label="Employee")
    page.get_by_label("Visibility").select_option(label="Show")
    screenshot(page, "metadata-rule-editor")
    page.get_by_role("button", name="Save rule").click()
    expect(_status(page)).to_contain_text("Rule “Employees have a team” saved.")
    rules = page.get_by_role("list", name="Rules of Team")
    expect(rules.get_by_role("listitem")).to_have_count(1)
    expect(rules.get_by_role("listitem", name="Employees have a team")).to_contain_text("Employee")

    # The field list: order of creation, Team hidden and with rules.
    page.get_by_role("link", name="← All metadata fields").click()
    table = page.get_by_role("table", name=re.compile("^Metadata fields"))
    expect(table.get_by_role("row")).to_have_count(3)
    team_row = table.get_by_role("row", name="Team")
    expect(team_row).to_contain_text("Hidden")
    expect(team_row).to_contain_text("Has rules")
    expect(table.get_by_role("row", name="Category")).not_to_contain_text("Has rules")
    expect(table.get_by_role("row", name="Category")).to_contain_text("2 values")
    screenshot(page, "metadata-field-list")

    category = MetadataField.objects.get(label="Category")
    employee = category.values.get(label="Employee")
    assert list(category.values.values_list("label", flat=True)) == ["Employee", "Customer"]
    team = MetadataField.objects.get(label="Team")
    assert team.hidden and team.type == "enum"
    rule = MetadataRule.objects.get(field=team)
    assert rule.name == "Employees have a team"
    assert rule.conditions == [
        {"field": category.external_id, "op": "equals", "value": employee.external_id}
    ]
    assert [action["type"] for action in rule.actions] == ["show"]
    # A fresh "New field" form must not come with text in "List values" (submitting it
    # unchanged would create a value with that text).
    assert prefilled == {"Category": "", "Team": ""}, prefilled


def test_live_form_on_the_asset_page_follows_the_rules(live_server, page):
    admin = AdminFactory(first_name="Meta", last_name="Admin")
    build_three_levels(admin)
    folder = make_folder("/People", actor=admin)
    asset = make_asset(folder, actor=admin, name="portrait.jpg")

    login(page, live_server.url, admin.email)
    page.goto(f"{live_server.url}/assets/{asset.pk}/")
    md = page.get_by_role("region", name="Metadata")
    category = md.get_by_label("Category")
    expect(category).to_be_visible()
    expect(md.get_by_label("Team")).to_have_count(0)
    expect(md.get_by_label(re.compile("^Role"))).to_have_count(0)
    person = md.get_by_role("group", name="Person")
    expect(person.get_by_role("checkbox")).to_have_count(4)

    # Category = Employee: the server's engine re-renders the form, and Team appears.
    picked = _pick(page, category, "Employee")
    team = md.get_by_label("Team")
    expect(team).to_be_visible()
    assert _focused_id(page) == picked, "focus left the control the user just changed"
    expect(md.get_by_label("Category")).to_be_focused()

    # Team = R&D: Role appears, marked mandatory.
    picked = _pick(page, team, "R&D")
    role = md.get_by_role("combobox", name="Role (required)")
    expect(role).to_be_visible()
    expect(role).to_have_attribute("aria-required", "true")
    assert _focused_id(page) == picked, "focus left the control the user just changed"
    screenshot(page, "metadata-live-form-role-mandatory")

    # Saving without Role is refused, naming Role; what was entered stays.
    md.get_by_role("button", name="Save metadata").click()
    md = page.get_by_role("region", name="Metadata")
    expect(md.get_by_role("alert")).to_contain_text("Please fix the metadata errors below.")
    expect(md.get_by_text("Role is mandatory.")).to_be_visible()
    role = md.get_by_role("combobox", name="Role (required)")
    expect(role).to_have_attribute("aria-invalid", "true")
    expect(md.get_by_label("Category")).to_have_value("employee")
    expect(md.get_by_label("Team")).to_have_value("rd")
    screenshot(page, "metadata-live-form-error")
    asset.refresh_from_db()
    assert asset.metadata == {}

    # Role = QA: Person offers only John Smith and Jane Kelly.
    _pick(page, role, "QA")
    person = md.get_by_role("group", name="Person")
    expect(person.get_by_role("checkbox")).to_have_count(2)
    expect(person.get_by_role("checkbox", name="John Smith")).to_be_visible()
    expect(person.get_by_role("checkbox", name="Jane Kelly")).to_be_visible()
    expect(person.get_by_role("checkbox", name="Paul Green")).to_have_count(0)
    person.get_by_role("checkbox", name="John Smith").check()
    md.get_by_role("button", name="Save metadata").click()
    expect(_status(page)).to_contain_text("Metadata saved.")
    md = page.get_by_role("region", name="Metadata")
    expect(md.get_by_label("Category")).to_have_value("employee")
    expect(md.get_by_label("Team")).to_have_value("rd")
    expect(md.get_by_role("combobox", name="Role (required)")).to_have_value("qa")
    expect(md.get_by_role("checkbox", name="John Smith")).to_be_checked()
    expect(md.get_by_role("checkbox", name="Jane Kelly")).not_to_be_checked()
    screenshot(page, "metadata-live-form-saved")
    asset.refresh_from_db()
    assert asset.metadata == {
        "category": "employee",
        "team": "rd",
        "role": "qa",
        "person": ["john_smith"],
    }

    # Category = Customer: Team (and Role under it) no longer apply and are cleared.
    _pick(page, md.get_by_label("Category"), "Customer")
    expect(md.get_by_label("Team")).to_have_count(0)
    expect(md.get_by_label(re.compile("^Role"))).to_have_count(0)
    md.get_by_role("button", name="Save metadata").click()
    status = _status(page)
    expect(status).to_contain_text("Metadata saved.")
    expect(status).to_contain_text(re.compile(r"Cleared Team, Role\b.*no longer apply"))
    screenshot(page, "metadata-live-form-cleared")
    asset.refresh_from_db()
    assert asset.metadata == {"category": "customer", "person": ["john_smith"]}


def test_upload_dialog_describes_the_files_under_the_rules(live_server, page, tmp_path):
    admin = AdminFactory()
    build_three_levels(admin)
    folder = make_folder("/Team photos", actor=admin)
    editor = UserFactory(first_name="Eda", last_name="Editor")
    grant(editor, folder, "edit")
    photo = tmp_path / "team-photo.jpg"
    photo.write_bytes(image_bytes(800, 600, color=(40, 120, 90)))

    login(page, live_server.url, editor.email)
    page.goto(f"{live_server.url}/library/folders/{folder.pk}/")
    expect(page.get_by_role("heading", level=1, name="Team photos")).to_be_visible()
    page.get_by_label("Upload files").set_input_files(photo)

    dialog = page.get_by_role("dialog", name="Describe 1 file")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("list", name="Files to upload")).to_contain_text("team-photo.jpg")
    category = dialog.get_by_label("Category")
    expect(category).to_be_focused()
    expect(dialog.get_by_label("Team")).to_have_count(0)
    _pick(page, category, "Employee")
    team = dialog.get_by_label("Team")
    _pick(page, team, "R&D")
    role = dialog.get_by_role("combobox", name="Role (required)")
    expect(role).to_be_visible()

    # Role left empty: the server's check refuses, the dialog stays open with the message.
    dialog.get_by_role("button", name="Start upload").click()
    expect(dialog.get_by_text("Role is mandatory.")).to_be_visible()
    expect(dialog.get_by_role("combobox", name="Role (required)")).to_have_attribute(
        "aria-invalid", "true"
    )
    expect(dialog.get_by_role("combobox", name="Role (required)")).to_be_focused()
    expect(dialog).to_be_visible()
    screenshot(page, "metadata-upload-dialog-error", full_page=False)
    assert not Asset.objects.exists()

    _pick(page, dialog.get_by_role("combobox", name="Role (required)"), "Devops")
    person = dialog.get_by_role("group", name="Person")
    expect(person.get_by_role("checkbox")).to_have_count(2)
    expect(person.get_by_role("checkbox", name="Paul Green")).to_be_visible()
    expect(person.get_by_role("checkbox", name="John Smith")).to_have_count(0)
    person.get_by_role("checkbox", name="Mary Rose").check()
    screenshot(page, "metadata-upload-dialog", full_page=False)
    dialog.get_by_role("button", name="Start upload").click()
    expect(dialog).to_be_hidden()
    row = page.get_by_role("list", name="Upload queue").get_by_role("listitem")
    expect(row.filter(has_text="team-photo.jpg").get_by_role("status")).to_have_text("Uploaded")
    asset = Asset.objects.get()
    assert asset.folder_id == folder.pk
    assert asset.metadata == {
        "category": "employee",
        "team": "rd",
        "role": "devops",
        "person": ["mary_rose"],
    }
    page.get_by_role("link", name="team-photo").first.click()
    md = page.get_by_role("region", name="Metadata")
    expect(md.get_by_role("combobox", name="Role (required)")).to_have_value("devops")
    expect(md.get_by_role("checkbox", name="Mary Rose")).to_be_checked()


def test_bulk_edit_clears_dependent_values(live_server, page):
    admin = AdminFactory()
    build_three_levels(admin)
    folder = make_folder("/Staff", actor=admin)
    held = {"category": "employee", "team": "sales"}
    alice = make_asset(folder, actor=admin, name="alice.jpg", metadata=held)
    bob = make_asset(folder, actor=admin, name="bob.jpg", metadata=held)
    carol = make_asset(folder, actor=admin, name="carol.jpg", metadata=held)

    login(page, live_server.url, admin.email)
    page.goto(f"{live_server.url}/library/folders/{folder.pk}/")
    page.get_by_label("Select alice").check()
    page.get_by_label("Select bob").check()
    toolbar = page.get_by_role("toolbar", name="Bulk actions")
    expect(toolbar).to_contain_text("2 selected")
    toolbar.get_by_role("button", name="Edit metadata…").click()

    dialog = page.get_by_role("dialog", name="Edit metadata of 2 assets")
    expect(dialog).to_be_visible()
    category = dialog.get_by_label("Category")
    expect(category).to_have_value("employee")  # the value both assets share
    expect(dialog.get_by_label("Team")).to_have_value("sales")
    _pick(page, category, "Customer")
    expect(dialog.get_by_label("Team")).to_have_count(0)
    expect(dialog.get_by_label(re.compile("^Role"))).to_have_count(0)
    screenshot(page, "metadata-bulk-dialog", full_page=False)
    dialog.get_by_role("button", name="Apply to selection").click()

    status = _status(page)
    expect(status).to_contain_text("Metadata changed on 2 assets.")
    expect(status).to_contain_text(
        "Cleared Team on 2 assets: it no longer applies after the change."
    )
    screenshot(page, "metadata-bulk-cleared")
    for asset in (alice, bob):
        asset.refresh_from_db()
        assert asset.metadata == {"category": "customer"}, asset.metadata
    carol.refresh_from_db()
    assert carol.metadata == held  # not selected: untouched


def _field_order(table) -> list[str]:
    rows = table.get_by_role("row").all()
    return [r.get_attribute("aria-label") for r in rows if r.get_attribute("aria-label")]


def test_reorder_fields_by_drag_and_drop_and_by_keyboard(live_server, page):
    admin = AdminFactory()
    build_three_levels(admin)

    login(page, live_server.url, admin.email)
    page.goto(f"{live_server.url}/settings/metadata/")
    table = page.get_by_role("table", name=re.compile("^Metadata fields"))
    expect(table.get_by_role("row")).to_have_count(5)
    assert _field_order(table) == ["Category", "Team", "Role", "Person"]

    # Drag Person's handle onto the top half of Category's row: Person goes first.
    handle = table.get_by_role("img", name="Drag Person to reorder")
    target = table.get_by_role("row", name="Category")
    box = target.bounding_box()
    handle.drag_to(target, target_position={"x": box["width"] / 2, "y": 3})
    expect(page.get_by_text("New order saved.")).to_be_visible()
    assert _field_order(table) == ["Person", "Category", "Team", "Role"]
    screenshot(page, "metadata-fields-dragged")

    page.reload()
    table = page.get_by_role("table", name=re.compile("^Metadata fields"))
    expect(table.get_by_role("row")).to_have_count(5)
    assert _field_order(table) == ["Person", "Category", "Team", "Role"]
    assert list(MetadataField.objects.values_list("label", flat=True)) == [
        "Person",
        "Category",
        "Team",
        "Role",
    ]

    # The Move menu by keyboard: Person → Move to bottom.
    menu = table.get_by_role("row", name="Person")
    menu.get_by_label("Move Person").focus()
    page.keyboard.press("Enter")
    expect(menu.get_by_role("button", name="Move to top")).to_have_count(0)  # already first
    bottom = menu.get_by_role("button", name="Move to bottom")
    expect(bottom).to_be_visible()
    page.keyboard.press("Tab")
    expect(menu.get_by_role("button", name="Move down")).to_be_focused()
    page.keyboard.press("Tab")
    expect(bottom).to_be_focused()
    screenshot(page, "metadata-fields-move-menu", full_page=False)
    page.keyboard.press("Enter")
    expect(_status(page)).to_contain_text("Moved “Person”.")
    table = page.get_by_role("table", name=re.compile("^Metadata fields"))
    expect(table.get_by_role("row")).to_have_count(5)
    assert _field_order(table) == ["Category", "Team", "Role", "Person"]

    # And Role to the top, also by keyboard.
    role_row = table.get_by_role("row", name="Role")
    role_row.get_by_label("Move Role").focus()
    page.keyboard.press("Enter")
    top = role_row.get_by_role("button", name="Move to top")
    top.focus()
    page.keyboard.press("Enter")
    expect(_status(page)).to_contain_text("Moved “Role”.")
    page.reload()
    table = page.get_by_role("table", name=re.compile("^Metadata fields"))
    expect(table.get_by_role("row")).to_have_count(5)
    assert _field_order(table) == ["Role", "Category", "Team", "Person"]
    assert list(MetadataField.objects.values_list("label", flat=True)) == [
        "Role",
        "Category",
        "Team",
        "Person",
    ]
