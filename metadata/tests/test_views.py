"""Pages: Settings → Metadata, the live form endpoint, the asset page's metadata panel,
the upload dialog's check and bulk edit. Permission pairs: invisible is 404, visible works."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from accounts.models import Role
from assets.models import Asset
from dam.testing import UserFactory, grant, make_asset, make_folder
from metadata import services
from metadata.models import MetadataField, MetadataRule

pytestmark = pytest.mark.django_db


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


# -- Settings → Metadata --------------------------------------------------------------
SETTINGS_URLS = [
    ("metadata:fields", []),
    ("metadata:field_create", []),
    ("metadata:field", ["team"]),
    ("metadata:rule_create", ["team"]),
]


@pytest.mark.parametrize("role", [Role.ADMIN, Role.TECHNICAL_ADMIN, Role.MEDIA_LIBRARY_USER])
def test_settings_pages_do_not_exist_for_other_roles(client, three_levels, role):
    client.force_login(UserFactory(role=role))
    for name, args in SETTINGS_URLS:
        assert client.get(reverse(name, args=args)).status_code == 404
    rule = three_levels["rules"]["team"]
    assert client.get(reverse("metadata:rule", args=[rule.pk])).status_code == 404
    assert client.post(reverse("metadata:field_delete", args=["team"])).status_code == 404


def test_settings_pages_for_master_admins(client, master, three_levels):
    client.force_login(master)
    for name, args in SETTINGS_URLS:
        assert client.get(reverse(name, args=args)).status_code == 200
    page = client.get(reverse("metadata:fields")).text
    assert page.count("Has rules") == 3  # Team, Role, Person
    assert 'data-copy="category"' in page
    detail = client.get(reverse("metadata:field", args=["role"])).text
    assert (
        "R&amp;D has roles" in detail
        and "When Team equals “R&amp;D”: show; make mandatory." in detail
    )
    assert "Read by rules of other fields" in detail and "QA people" in detail
    assert client.get(reverse("metadata:field", args=["nope"])).status_code == 404


def test_create_a_field_from_the_form(client, master):
    client.force_login(master)
    url = reverse("metadata:field_create")
    response = client.post(
        url,
        {
            "label": "Region",
            "type": "set",
            "values": "EMEA\nAmericas\n\nAPAC\n",
            "default": "EMEA, APAC",
        },
    )
    assert response.status_code == 302 and response["Location"].endswith("/fields/region/")
    field = MetadataField.objects.get(external_id="region")
    assert list(field.values.values_list("label", flat=True)) == ["EMEA", "Americas", "APAC"]
    assert field.default == ["emea", "apac"]
    refused = client.post(
        url, {"label": "Secret", "type": "string", "hidden": "on", "default": "x"}
    )
    assert refused.status_code == 422
    assert "A hidden field cannot start with a default" in refused.text
    assert 'value="Secret"' in refused.text  # nothing typed is lost
    assert client.post(url, {"label": "", "type": "string"}).status_code == 422
    assert client.post(url, {"label": "X\x00", "type": "string"}).status_code == 422


def test_edit_delete_and_move_fields(client, master, three_levels):
    client.force_login(master)
    url = reverse("metadata:field", args=["person"])
    saved = client.post(url, {"label": "People", "default_values": ["jane_kelly"]})
    assert saved.status_code == 302
    person = MetadataField.objects.get(external_id="person")
    assert (person.label, person.default) == ("People", ["jane_kelly"])
    refused = client.post(url, {"label": "People", "mandatory": "on", "hidden": "on"})
    assert refused.status_code == 422 and "cannot start mandatory" in refused.text
    denied = client.post(reverse("metadata:field_delete", args=["role"]), follow=True)
    assert any("“QA people” (on People)" in m for m in messages_of(denied))
    assert MetadataField.objects.filter(external_id="role").exists()
    moved = client.post(reverse("metadata:field_move", args=["person"]), {"to": "top"})
    assert moved.status_code == 302
    assert MetadataField.objects.order_by("position").first().external_id == "person"
    assert (
        client.post(reverse("metadata:field_move", args=["person"]), {"to": "x"}).status_code == 400
    )
    gone = client.post(reverse("metadata:field_delete", args=["person"]), follow=True)
    assert "Field “People” deleted." in messages_of(gone)


def test_the_delete_dialog_says_how_many_assets_hold_the_field(
    client, master, three_levels, monkeypatch
):
    folder = make_folder("/Holders", actor=master)
    url = reverse("metadata:field", args=["person"])
    client.force_login(master)
    assert "No asset holds a value of this field." in client.get(url).text
    for _ in range(2):
        make_asset(folder, actor=master, metadata={"person": ["john_smith"]})
    assert "2 assets hold a value of this field" in client.get(url).text
    monkeypatch.setattr(services, "USING_COUNTED", 1)  # counted up to a limit
    assert "More than 1 assets hold a value of this field" in client.get(url).text


def test_drag_and_drop_reorder_endpoint(client, master, three_levels):
    client.force_login(master)
    url = reverse("metadata:fields_reorder")
    order = ["person", "role", "team", "category"]
    response = client.post(url, json.dumps({"order": order}), content_type="application/json")
    assert response.status_code == 200
    assert list(MetadataField.objects.values_list("external_id", flat=True)) == order
    bad = client.post(url, "not json", content_type="application/json")
    assert bad.status_code == 422 and bad.json()["code"] == "validation_error"
    deep = "[" * 100_000 + "]" * 100_000  # nested past Python's recursion limit
    assert client.post(url, deep, content_type="application/json").status_code == 422
    assert (
        client.post(url, json.dumps({"order": ["x"]}), content_type="application/json").status_code
        == 422
    )


def test_values_add_rename_block_and_move_from_the_page(client, master, three_levels):
    client.force_login(master)
    add = reverse("metadata:value_add", args=["team"])
    assert client.post(add, {"label": "Support"}).status_code == 302
    duplicate = client.post(add, {"label": "support"})
    assert duplicate.status_code == 422 and "already has the value" in duplicate.text
    edit = reverse("metadata:value_edit", args=["team", "support"])
    row = client.get(edit)
    assert row.status_code == 200 and 'name="label"' in row.text
    client.post(edit, {"action": "rename", "label": "Customer support"})
    client.post(edit, {"action": "block"})
    client.post(edit, {"action": "top"})
    values = list(three_levels["team"].values.values_list("label", "blocked"))
    assert values[0] == ("Customer support", True)
    assert client.post(edit, {"action": "explode"}).status_code == 400
    filtered = client.get(reverse("metadata:field", args=["team"]), {"q": "sal"}).text
    assert "<td>Sales</td>" in filtered and "<td>Customer support</td>" not in filtered


def test_rule_editor_creates_and_edits_rules(client, master, three_levels):
    client.force_login(master)
    url = reverse("metadata:rule_create", args=["person"])
    page = client.get(url)
    assert page.status_code == 200 and "New rule on Person" in page.text
    # "Add condition" redraws the form with one more row, saving nothing.
    redraw = client.post(
        url,
        {
            "name": "Both",
            "c-count": "1",
            "c-0-field": "role",
            "c-0-op": "populated",
            "add_condition": "1",
        },
    )
    assert redraw.status_code == 200 and 'name="c-1-field"' in redraw.text
    saved = client.post(
        url,
        {
            "name": "Sales people",
            "match": "any",
            "c-count": "2",
            "c-0-field": "team",
            "c-0-op": "equals",
            "c-0-values": "sales",
            "c-1-field": "category",
            "c-1-op": "empty",
            "a-options": "add_options",
            "a-options-values": ["mary_rose"],
            "a-default": "on",
            "a-default-values": ["mary_rose"],
            "save": "1",
        },
    )
    assert saved.status_code == 302, saved.text
    rule = MetadataRule.objects.get(name="Sales people")
    assert rule.match == "any"
    assert rule.conditions == [
        {"field": "team", "op": "equals", "value": "sales"},
        {"field": "category", "op": "empty", "value": None},
    ]
    assert rule.actions == [
        {"type": "set_default", "values": ["mary_rose"]},
        {"type": "add_options", "values": ["mary_rose"]},
    ]
    refused = client.post(
        reverse("metadata:rule", args=[rule.pk]),
        {"name": "", "c-count": "1", "c-0-field": "team", "c-0-op": "populated", "save": "1"},
    )
    assert refused.status_code == 422 and "Give the rule a name." in refused.text
    client.post(reverse("metadata:rule_move", args=[rule.pk]), {"to": "top"})
    assert MetadataRule.objects.filter(field__external_id="person").order_by("position")[0] == rule
    reorder = reverse("metadata:rules_reorder", args=["person"])
    ids = list(
        MetadataRule.objects.filter(field__external_id="person").values_list("pk", flat=True)
    )
    ok = client.post(reorder, json.dumps({"order": ids[::-1]}), content_type="application/json")
    assert ok.status_code == 200
    client.post(reverse("metadata:rule_delete", args=[rule.pk]))
    assert not MetadataRule.objects.filter(pk=rule.pk).exists()


# -- the live form ---------------------------------------------------------------------
@pytest.fixture
def staff(master, three_levels):
    folder = make_folder("/Staff", actor=master)
    asset = make_asset(folder, actor=master, metadata={"category": "employee"})
    editor, viewer = UserFactory(), UserFactory()
    grant(editor, folder, "edit")
    grant(viewer, folder, "view")
    return {"folder": folder, "asset": asset, "editor": editor, "viewer": viewer}


def live(client, **data):
    return client.post(reverse("metadata:form"), data)


def test_live_form_follows_the_rules(client, staff):
    client.force_login(staff["editor"])
    asset = staff["asset"]
    first = live(client, **{"md-mode": "edit", "md-ctx": "asset-md", "md-asset": asset.pk})
    assert first.status_code == 200
    assert 'id="asset-md-team"' in first.text and 'id="asset-md-role"' not in first.text
    second = live(
        client,
        **{
            "md-mode": "edit",
            "md-ctx": "asset-md",
            "md-asset": asset.pk,
            "md-shown": ["category", "team", "person"],
            "md-category": "employee",
            "md-team": "rd",
        },
    )
    assert 'id="asset-md-role"' in second.text and "(required)" in second.text
    third = live(
        client,
        **{
            "md-mode": "upload",
            "md-ctx": "upload-md",
            "md-folder": staff["folder"].pk,
            "md-shown": ["category", "team", "role", "person"],
            "md-category": "employee",
            "md-team": "rd",
            "md-role": "devops",
        },
    )
    assert "Paul Green" in third.text and "John Smith" not in third.text
    assert live(client, **{"md-mode": "weird"}).status_code == 400
    assert live(client, **{"md-mode": "edit", "md-ctx": "<x>"}).status_code == 400


def test_live_form_permission_pairs(client, staff, master):
    asset = staff["asset"]
    stranger = UserFactory()
    client.force_login(stranger)
    assert live(client, **{"md-mode": "edit", "md-asset": asset.pk}).status_code == 404
    assert live(client, **{"md-mode": "upload", "md-folder": staff["folder"].pk}).status_code == 404
    client.force_login(staff["viewer"])
    assert live(client, **{"md-mode": "edit", "md-asset": asset.pk}).status_code == 403
    client.force_login(staff["editor"])
    assert live(client, **{"md-mode": "edit", "md-asset": asset.pk}).status_code == 200
    client.force_login(UserFactory(role=Role.REPORTS))
    assert live(client, **{"md-mode": "edit", "md-asset": asset.pk}).status_code == 404


def test_bulk_form_shows_shared_values_and_marks_mixed_ones(client, staff, master):
    other = make_asset(staff["folder"], actor=master, metadata={"category": "customer"})
    hidden = make_asset(make_folder("/Hidden", actor=master), actor=master)
    client.force_login(staff["editor"])
    response = live(
        client,
        **{"md-mode": "bulk", "md-ctx": "bulk-md", "ids": [staff["asset"].pk, other.pk, hidden.pk]},
    )
    assert "Keep the different values" in response.text and "Clear on all selected" in response.text
    same = live(client, **{"md-mode": "bulk", "md-ctx": "bulk-md", "ids": [staff["asset"].pk]})
    assert 'id="bulk-md-team"' in same.text  # Employee shared: Team shows


# -- the asset page ----------------------------------------------------------------------
def test_asset_page_metadata_panel(client, staff, master):
    url = reverse("assets:detail", args=[staff["asset"].pk])
    client.force_login(staff["viewer"])
    page = client.get(url).text
    assert "Save metadata" not in page and "<dt>Category</dt><dd>" in page and "Employee" in page
    client.force_login(staff["editor"])
    page = client.get(url).text
    assert "Save metadata" in page and 'id="asset-md-team"' in page


def test_asset_metadata_save_pairs_and_messages(client, staff):
    asset = staff["asset"]
    url = reverse("assets:metadata", args=[asset.pk])
    client.force_login(UserFactory())
    assert (
        client.post(url, {"md-shown": ["category"], "md-category": "customer"}).status_code == 404
    )
    client.force_login(staff["viewer"])
    assert (
        client.post(url, {"md-shown": ["category"], "md-category": "customer"}).status_code == 403
    )
    client.force_login(staff["editor"])
    refused = client.post(
        url, {"md-shown": ["category", "team"], "md-category": "employee", "md-team": "rd"}
    )
    assert refused.status_code == 422
    assert "Role is mandatory." in refused.text and 'aria-invalid="true"' in refused.text
    saved = client.post(
        url,
        {
            "md-shown": ["category", "team", "role"],
            "md-category": "employee",
            "md-team": "rd",
            "md-role": "qa",
        },
        follow=True,
    )
    assert "Metadata saved." in messages_of(saved)
    asset.refresh_from_db()
    assert asset.metadata == {"category": "employee", "team": "rd", "role": "qa"}
    changed = client.post(url, {"md-shown": ["category"], "md-category": "customer"}, follow=True)
    assert "Cleared Team, Role: no longer apply after this change." in messages_of(changed)


def test_asset_page_queries_do_not_grow_with_fields(client, master, django_assert_max_num_queries):
    folder = make_folder("/Q", actor=master)
    asset = make_asset(folder, actor=master)
    client.force_login(master)
    counts = []
    for n in (1, 12):
        while MetadataField.objects.count() < n:
            i = MetadataField.objects.count()
            services.field_create(actor=master, label=f"F{i}", type="enum", values=["a", "b", "c"])
        with django_assert_max_num_queries(22) as captured:
            assert client.get(reverse("assets:detail", args=[asset.pk])).status_code == 200
        counts.append(len(captured))
    assert counts[0] == counts[1]


# -- upload dialog and bulk edit --------------------------------------------------------
def test_upload_check_returns_the_values_or_the_form_with_errors(client, staff):
    url = reverse("assets:upload_metadata", args=[staff["folder"].pk])
    client.force_login(UserFactory())
    assert client.post(url, {}).status_code == 404
    client.force_login(staff["editor"])
    refused = client.post(
        url, {"md-shown": ["category", "team"], "md-category": "employee", "md-team": "rd"}
    )
    assert refused.status_code == 422 and "Role is mandatory." in refused.text
    ok = client.post(url, {"md-shown": ["category", "person"], "md-category": "customer"})
    assert ok.status_code == 200
    assert ok.json() == {"metadata": {"person": None, "category": "customer"}}


def test_bulk_metadata_view(client, staff, master):
    folder = staff["folder"]
    second = make_asset(
        folder, actor=master, metadata={"category": "employee", "team": "rd", "role": "qa"}
    )
    url = reverse("assets:bulk_metadata", args=[folder.pk])
    client.force_login(staff["editor"])
    nothing = client.post(url, {"ids": [staff["asset"].pk, second.pk]}, follow=True)
    assert "Nothing changed" in messages_of(nothing)[0]
    done = client.post(
        url,
        {
            "ids": [staff["asset"].pk, second.pk],
            "md-shown": ["category"],
            "md-category": "customer",
        },
        follow=True,
    )
    texts = messages_of(done)
    assert "Metadata changed on 2 assets." in texts
    assert "Cleared Team on 1 asset: it no longer applies after the change." in texts
    assert "Cleared Role on 1 asset: it no longer applies after the change." in texts
    assert Asset.objects.get(pk=second.pk).metadata == {"category": "customer"}
    client.force_login(UserFactory())
    assert client.post(url, {"ids": [second.pk]}).status_code == 404
