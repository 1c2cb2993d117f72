"""Metadata on assets through the API: upload, PATCH, bulk and resumable sessions.

Every write goes through the rules engine (DESIGN.md "Structured metadata and
conditional rules"); setting metadata needs edit level on the folder.
"""

from __future__ import annotations

import json
import random

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from assets import uploads
from assets.models import Asset, UploadSession
from dam.models import AuditEvent
from dam.testing import UserFactory, grant, image_bytes, make_asset, make_folder
from metadata import services
from metadata.models import MetadataValue

pytestmark = pytest.mark.django_db

API = "/api/v1"
DEFAULTS = {"copyright": "no", "source": "Studio"}
QA = {"category": "employee", "team": "rd", "role": "qa", "person": ["jane_kelly"]}


# -- helpers --------------------------------------------------------------------------
def error(response, status: int, code: str | None = None) -> dict:
    """Assert the API.md error shape and return the body."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    expected = {"detail", "code", "errors"} if status == 422 else {"detail", "code"}
    assert set(body) == expected, body
    assert isinstance(body["detail"], str) and body["detail"]
    if code is not None:
        assert body["code"] == code
    if status == 422:
        assert isinstance(body["errors"], dict) and body["errors"]
        for messages in body["errors"].values():
            assert messages and all(isinstance(m, str) and m for m in messages)
    return body


def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.content
    return response.json()


def unique_jpeg() -> SimpleUploadedFile:
    color = tuple(random.randrange(256) for _ in range(3))
    return SimpleUploadedFile("photo.jpg", image_bytes(64, 48, color=color))


def upload(client, folder, metadata=None, **fields):
    data = {"file": unique_jpeg(), "folder": folder.pk, **fields}
    if metadata is not None:
        data["metadata"] = metadata if isinstance(metadata, str) else json.dumps(metadata)
    return client.post(f"{API}/assets", data)


def patch_asset(client, asset, data):
    return client.patch(f"{API}/assets/{asset.pk}", data, content_type="application/json")


def bulk(client, data):
    return client.post(f"{API}/assets/bulk", data, content_type="application/json")


def stored(asset) -> dict:
    return Asset.all_objects.get(pk=asset.pk).metadata


@pytest.fixture
def schema(three_levels, master):
    """The three levels plus Copyright (mandatory, default No), Rating (1 to 5), Caption
    (at most 20 characters) and Source (default Studio)."""
    services.field_create(
        actor=master,
        label="Copyright",
        type="enum",
        values=["Yes", "No"],
        default="No",
        mandatory=True,
    )
    services.field_create(actor=master, label="Rating", type="number", min=1, max=5)
    services.field_create(actor=master, label="Caption", type="string", max=20)
    services.field_create(actor=master, label="Source", type="string", default="Studio")
    return three_levels


@pytest.fixture
def folder(master, schema):
    return make_folder("/Library", actor=master)


@pytest.fixture
def other_folder(master, schema):
    return make_folder("/Elsewhere", actor=master)


def user_with(folder, level):
    user = UserFactory()
    if level:
        grant(user, folder, level)
    return user


@pytest.fixture
def editor(client, folder):
    user = user_with(folder, "edit")
    client.force_login(user)
    return user


@pytest.fixture
def asset(folder, master):
    """An asset with the whole chain: Employee, R&D, QA, Jane Kelly."""
    made = make_asset(folder, actor=master, metadata=QA)
    assert made.metadata == {**QA, **DEFAULTS}
    return made


# -- upload -------------------------------------------------------------------------------
def test_upload_stores_metadata_and_fills_defaults(client, editor, folder):
    values = {**QA, "rating": "4", "caption": "  Team photo "}
    body = ok(upload(client, folder, values), 201)
    expected = {**QA, "rating": 4, "caption": "Team photo", **DEFAULTS}
    assert body["metadata"] == expected
    asset = Asset.objects.get(pk=body["id"])
    assert asset.metadata == expected
    assert ok(client.get(f"{API}/assets/{asset.pk}"))["metadata"] == expected


def test_upload_without_metadata_gets_the_defaults(client, folder):
    """Contribute is enough to upload; the defaults need no edit access."""
    client.force_login(user_with(folder, "contribute"))
    body = ok(upload(client, folder), 201)
    assert body["metadata"] == DEFAULTS
    empty = ok(upload(client, folder, "  "), 201)  # a blank field is no metadata
    assert empty["metadata"] == DEFAULTS


def test_upload_with_a_default_overridden(client, editor, folder):
    body = ok(upload(client, folder, {"copyright": "yes", "source": "Agency"}), 201)
    assert body["metadata"] == {"copyright": "yes", "source": "Agency"}


def test_upload_with_context(client, editor, folder):
    body = ok(upload(client, folder, {"rating": 5}, context=json.dumps({"shoot": "A1"})), 201)
    assert body["context"] == {"shoot": "A1"}
    assert body["metadata"]["rating"] == 5


def test_upload_with_a_mandatory_field_empty_is_422_naming_it(client, editor, folder):
    body = error(upload(client, folder, {"category": "employee", "team": "rd"}), 422)
    assert "metadata.role" in body["errors"], body
    assert body["errors"]["metadata.role"] == ["Role is mandatory."]
    assert "Role is mandatory" in body["detail"]
    assert not Asset.all_objects.exists()


def test_upload_emptying_a_mandatory_default_is_422(client, editor, folder):
    body = error(upload(client, folder, {"copyright": ""}), 422)
    assert body["errors"] == {"metadata.copyright": ["Copyright is mandatory."]}
    assert not Asset.all_objects.exists()


@pytest.mark.parametrize(
    ("values", "key", "words"),
    [
        ({"rating": 9}, "metadata.rating", "5 or less"),
        ({"rating": 0}, "metadata.rating", "1 or more"),
        ({"rating": "-3"}, "metadata.rating", "1 or more"),
        ({"rating": 10**30}, "metadata.rating", "too large"),
        ({"rating": "four"}, "metadata.rating", "is a number"),
        ({"rating": True}, "metadata.rating", "is a number"),
        ({"caption": "x" * 21}, "metadata.caption", "at most 20"),
        ({"caption": "x" * 100_000}, "metadata.caption", "at most"),
        ({"caption": "a\u0000b"}, "metadata.caption", "NUL"),
        ({"caption": ["a"]}, "metadata.caption", "text"),
    ],
)
def test_upload_values_outside_the_field_are_422(client, editor, folder, values, key, words):
    body = error(upload(client, folder, values), 422)
    assert key in body["errors"], body
    assert words in body["errors"][key][0]
    assert not Asset.all_objects.exists()


@pytest.mark.parametrize(
    ("values", "key", "words"),
    [
        ({"category": "robot"}, "metadata.category", "not one of its values"),
        ({"category": ["employee"]}, "metadata.category", "one value ID"),
        ({"person": ["nobody"]}, "metadata.person", "not one of its values"),
        ({"person": "x" * 5000}, "metadata.person", "not one of its values"),
        ({**QA, "person": ["paul_green"]}, "metadata.person", "not an option here"),
        ({"category": "customer", "team": "sales"}, "metadata.team", "does not apply"),
        ({"team": "rd"}, "metadata.team", "does not apply"),
        ({"nope": 1}, "metadata.nope", "no metadata field"),
    ],
)
def test_upload_values_the_rules_do_not_allow_are_422(client, editor, folder, values, key, words):
    body = error(upload(client, folder, values), 422)
    assert key in body["errors"], body
    assert words in body["errors"][key][0]
    assert not Asset.all_objects.exists()


def test_upload_a_blocked_value_is_422(client, editor, folder, master):
    value = MetadataValue.objects.get(external_id="customer")
    services.value_update(actor=master, value=value, blocked=True)
    body = error(upload(client, folder, {"category": "customer"}), 422)
    assert "blocked" in body["errors"]["metadata.category"][0]


def test_upload_reports_every_bad_field_at_once(client, editor, folder):
    body = error(upload(client, folder, {"rating": 9, "category": "robot", "zzz": 1}), 422)
    assert set(body["errors"]) == {"metadata.rating", "metadata.category", "metadata.zzz"}
    assert "2 more problems" in body["detail"]


@pytest.mark.parametrize("raw", ["not json", "[1, 2]", '"text"', "42", "null", "{", "[" * 5000])
def test_upload_metadata_that_is_not_a_json_object_is_422(client, editor, folder, raw):
    body = error(upload(client, folder, raw), 422)
    assert "metadata" in body["errors"], body
    assert not Asset.all_objects.exists()


def test_upload_with_metadata_needs_edit_access(client, folder):
    client.force_login(user_with(folder, "contribute"))
    body = error(upload(client, folder, {"rating": 3}), 403, "forbidden")
    assert "edit access" in body["detail"]
    assert not Asset.all_objects.exists()


def test_upload_into_an_invisible_folder_is_404_even_with_metadata(client, folder, other_folder):
    client.force_login(user_with(other_folder, "manage"))
    error(upload(client, folder, {"rating": 3}), 404, "not_found")
    error(upload(client, folder, {"rating": 99}), 404, "not_found")
    assert not Asset.all_objects.exists()


# -- PATCH /assets/{id} -------------------------------------------------------------------
def test_patch_metadata(client, editor, folder, master):
    asset = make_asset(folder, actor=master)
    assert asset.metadata == DEFAULTS
    values = {
        "category": "employee",
        "team": "rd",
        "role": "devops",
        "person": ["paul_green", "mary_rose"],
    }
    body = ok(patch_asset(client, asset, {"metadata": values}))
    assert body["metadata"] == {**values, **DEFAULTS}
    assert stored(asset) == {**values, **DEFAULTS}
    # Only the fields sent change.
    body = ok(patch_asset(client, asset, {"metadata": {"rating": 2}}))
    assert body["metadata"] == {**values, **DEFAULTS, "rating": 2}
    # null clears one field.
    body = ok(patch_asset(client, asset, {"metadata": {"rating": None, "source": ""}}))
    assert body["metadata"] == {**values, "copyright": "no"}
    assert ok(client.get(f"{API}/assets/{asset.pk}"))["metadata"] == body["metadata"]


@pytest.mark.parametrize(
    ("values", "key", "words"),
    [
        ({"person": ["paul_green"]}, "metadata.person", "not an option here"),
        ({"rating": 6}, "metadata.rating", "5 or less"),
        ({"rating": "lots"}, "metadata.rating", "is a number"),
        ({"caption": "a\u0000"}, "metadata.caption", "NUL"),
        ({"category": "robot"}, "metadata.category", "not one of its values"),
        ({"nope": "x"}, "metadata.nope", "no metadata field"),
        ({"role": None}, "metadata.role", "mandatory"),
        ({"copyright": None}, "metadata.copyright", "mandatory"),
        ({"category": "customer", "team": "sales"}, "metadata.team", "does not apply"),
        ({"person": {"a": 1}}, "metadata.person", "list of value IDs"),
        ({"person": [{"a": 1}]}, "metadata.person", "list of value IDs"),
        ({"category": {"a": 1}}, "metadata.category", "one value ID"),
        ({"caption": [[["deep"]]]}, "metadata.caption", "text"),
    ],
)
def test_patch_invalid_metadata_is_422_and_changes_nothing(
    client, editor, asset, values, key, words
):
    before = stored(asset)
    body = error(patch_asset(client, asset, {"metadata": values}), 422, "validation_error")
    assert key in body["errors"], body
    assert words in body["errors"][key][0]
    assert stored(asset) == before


def test_patch_invalid_metadata_rolls_back_the_other_changes(client, editor, asset):
    body = error(
        patch_asset(client, asset, {"display_name": "Renamed", "metadata": {"rating": 99}}), 422
    )
    assert "metadata.rating" in body["errors"]
    assert Asset.objects.get(pk=asset.pk).display_name != "Renamed"


@pytest.mark.parametrize("metadata", [None, "category=employee", [], ["category"], 5])
def test_patch_metadata_of_the_wrong_type_is_422(client, editor, asset, metadata):
    body = error(patch_asset(client, asset, {"metadata": metadata}), 422)
    assert "metadata" in body["errors"], body
    assert stored(asset) == {**QA, **DEFAULTS}


def test_patch_changing_category_clears_team_and_role(client, editor, asset):
    body = ok(patch_asset(client, asset, {"metadata": {"category": "customer"}}))
    # Team no longer shows for customers, so neither does Role; Jane Kelly stays (Person
    # offers everyone again).
    expected = {"category": "customer", "person": ["jane_kelly"], **DEFAULTS}
    assert body["metadata"] == expected
    assert stored(asset) == expected
    assert ok(client.get(f"{API}/assets/{asset.pk}"))["metadata"] == expected
    event = AuditEvent.objects.filter(verb="asset.update", object_id=str(asset.pk)).first()
    assert event.data["metadata_cleared"] == ["team", "role"]


def test_patch_clearing_team_clears_role_and_changing_role_trims_person(client, editor, asset):
    body = ok(patch_asset(client, asset, {"metadata": {"role": "devops"}}))
    # Jane Kelly is not a Devops person: her value no longer applies.
    assert "person" not in body["metadata"]
    assert body["metadata"]["role"] == "devops"
    body = ok(patch_asset(client, asset, {"metadata": {"team": None}}))
    assert body["metadata"] == {"category": "employee", **DEFAULTS}


def test_patch_keeps_a_blocked_value_the_asset_already_has(client, editor, asset, master):
    value = MetadataValue.objects.get(external_id="jane_kelly")
    services.value_update(actor=master, value=value, blocked=True)
    body = ok(patch_asset(client, asset, {"metadata": {"rating": 3}}))
    assert body["metadata"]["person"] == ["jane_kelly"]
    body = ok(patch_asset(client, asset, {"metadata": {"person": ["jane_kelly", "john_smith"]}}))
    assert body["metadata"]["person"] == ["jane_kelly", "john_smith"]
    # Another asset cannot choose it.
    other = make_asset(asset.folder, actor=master, metadata={**QA, "person": ["john_smith"]})
    body = error(patch_asset(client, other, {"metadata": {"person": ["jane_kelly"]}}), 422)
    assert "blocked" in body["errors"]["metadata.person"][0]


@pytest.mark.parametrize("level", [None, "view", "contribute", "edit", "manage"])
def test_patch_metadata_permissions(client, folder, other_folder, asset, level):
    """No access: 404 (it does not exist for you); view or contribute: 403; edit: 200."""
    user = user_with(folder, level) if level else user_with(other_folder, "manage")
    client.force_login(user)
    response = patch_asset(client, asset, {"metadata": {"rating": 4}})
    if level is None:
        error(response, 404, "not_found")
        error(client.get(f"{API}/assets/{asset.pk}"), 404, "not_found")
    elif level in ("view", "contribute"):
        body = error(response, 403, "forbidden")
        assert "edit" in body["detail"]
        assert ok(client.get(f"{API}/assets/{asset.pk}"))["metadata"] == {**QA, **DEFAULTS}
    else:
        assert ok(response)["metadata"]["rating"] == 4
    expected = (
        {**QA, **DEFAULTS, "rating": 4} if level in ("edit", "manage") else {**QA, **DEFAULTS}
    )
    assert stored(asset) == expected


def test_patch_with_invalid_metadata_by_a_stranger_is_still_404(client, other_folder, asset):
    client.force_login(user_with(other_folder, "manage"))
    error(patch_asset(client, asset, {"metadata": {"nope": 1}}), 404, "not_found")


@pytest.mark.parametrize("asset_id", [10**9, 10**30, 0])
def test_patch_unknown_asset_is_404(client, editor, asset_id):
    response = client.patch(
        f"{API}/assets/{asset_id}", {"metadata": {"rating": 1}}, content_type="application/json"
    )
    error(response, 404, "not_found")


def test_patch_too_many_fields_at_once_is_422(client, editor, asset):
    values = {f"field_{i}": 1 for i in range(501)}
    body = error(patch_asset(client, asset, {"metadata": values}), 422)
    assert "metadata" in body["errors"]
    assert stored(asset) == {**QA, **DEFAULTS}


# -- bulk set_metadata -----------------------------------------------------------------------
def test_bulk_set_metadata_reports_what_it_cleared(client, editor, folder, master, asset):
    second = make_asset(folder, actor=master, metadata={**QA, "role": "devops", "person": []})
    customer = make_asset(folder, actor=master, metadata={"category": "customer"})
    ids = [asset.pk, second.pk, customer.pk]
    body = ok(
        bulk(client, {"ids": ids, "action": "set_metadata", "metadata": {"category": "customer"}})
    )
    assert body["done"] == ids
    assert body["failed"] == {}
    assert body["cleared"] == {str(asset.pk): ["team", "role"], str(second.pk): ["team", "role"]}
    assert stored(asset) == {"category": "customer", "person": ["jane_kelly"], **DEFAULTS}
    assert stored(second) == {"category": "customer", **DEFAULTS}
    assert stored(customer) == {"category": "customer", **DEFAULTS}


def test_bulk_set_metadata_without_clearing(client, editor, asset):
    body = ok(
        bulk(client, {"ids": [asset.pk], "action": "set_metadata", "metadata": {"rating": 1}})
    )
    assert (body["done"], body["failed"], body["cleared"]) == ([asset.pk], {}, {})
    assert stored(asset)["rating"] == 1


def test_bulk_refuses_per_asset_what_the_rules_refuse_there(client, editor, folder, master, asset):
    customer = make_asset(folder, actor=master, metadata={"category": "customer"})
    body = ok(
        bulk(
            client,
            {
                "ids": [asset.pk, customer.pk],
                "action": "set_metadata",
                "metadata": {"role": "devops"},
            },
        )
    )
    assert body["done"] == [asset.pk]
    assert set(body["failed"]) == {str(customer.pk)}
    assert "does not apply" in body["failed"][str(customer.pk)]
    assert stored(customer) == {"category": "customer", **DEFAULTS}
    # Devops trims Jane Kelly (a QA person) from the first asset.
    assert body["cleared"] == {str(asset.pk): ["person"]}
    assert stored(asset)["role"] == "devops" and "person" not in stored(asset)


@pytest.mark.parametrize(
    ("metadata", "key"),
    [
        ({"nope": 1}, "metadata.nope"),
        ({"rating": "lots"}, "metadata.rating"),
        ({"rating": 10**30}, "metadata.rating"),
        ({"category": "robot"}, "metadata.category"),
        ({"caption": "a\u0000"}, "metadata.caption"),
        ({}, "metadata"),
        (None, "metadata"),
        ("category", "metadata"),
        ([{"category": "customer"}], "metadata"),
    ],
)
def test_bulk_with_bad_metadata_refuses_the_whole_request(client, editor, asset, metadata, key):
    payload = {"ids": [asset.pk], "action": "set_metadata"}
    if metadata is not None:
        payload["metadata"] = metadata
    body = error(bulk(client, payload), 422)
    assert key in body["errors"], body
    assert stored(asset) == {**QA, **DEFAULTS}


def test_bulk_set_metadata_permissions(client, master, folder, other_folder, asset):
    """Invisible and missing ids fail alike; view-only is refused with the reason; edit
    works — all in one request."""
    viewable = make_folder("/Viewable", actor=master)
    seen = make_asset(viewable, actor=master, metadata=QA)
    hidden = make_asset(other_folder, actor=master, metadata=QA)
    user = user_with(folder, "edit")
    grant(user, viewable, "view")
    client.force_login(user)
    ids = [asset.pk, seen.pk, hidden.pk, 10**9]
    body = ok(bulk(client, {"ids": ids, "action": "set_metadata", "metadata": {"rating": 5}}))
    assert body["done"] == [asset.pk]
    assert body["failed"][str(hidden.pk)] == "Not found."
    assert body["failed"][str(10**9)] == "Not found."
    assert "edit" in body["failed"][str(seen.pk)]
    assert set(body["failed"]) == {str(seen.pk), str(hidden.pk), str(10**9)}
    assert stored(asset)["rating"] == 5
    assert "rating" not in stored(seen) and "rating" not in stored(hidden)


def test_bulk_by_a_user_without_access_changes_nothing(client, other_folder, asset):
    client.force_login(user_with(other_folder, "manage"))
    body = ok(
        bulk(client, {"ids": [asset.pk], "action": "set_metadata", "metadata": {"rating": 2}})
    )
    assert body == {"done": [], "failed": {str(asset.pk): "Not found."}, "cleared": {}}
    assert stored(asset) == {**QA, **DEFAULTS}


def test_bulk_by_a_viewer_is_refused_per_asset(client, folder, asset):
    client.force_login(user_with(folder, "view"))
    body = ok(
        bulk(client, {"ids": [asset.pk], "action": "set_metadata", "metadata": {"rating": 2}})
    )
    assert body["done"] == []
    assert "edit" in body["failed"][str(asset.pk)]
    assert stored(asset) == {**QA, **DEFAULTS}


# -- resumable upload sessions ---------------------------------------------------------------
@pytest.fixture
def spool(settings, tmp_path):
    settings.DAM_UPLOAD_SPOOL = tmp_path / "spool"
    return settings.DAM_UPLOAD_SPOOL


def start(client, folder, size, **extra):
    body = {"filename": "photo.jpg", "size": size, "folder": folder.pk, **extra}
    return client.post(f"{API}/uploads", json.dumps(body), content_type="application/json")


def send(client, session_id, data):
    return client.put(
        f"{API}/uploads/{session_id}",
        data,
        content_type="application/octet-stream",
        headers={"Upload-Offset": "0"},
    )


def test_resumable_upload_carries_metadata(client, editor, folder, spool):
    data = image_bytes(64, 48)
    assert len(data) < uploads.CHUNK_BYTES
    values = {**QA, "rating": 3}
    session = ok(start(client, folder, len(data), metadata=values), 201)
    assert session["asset"] is None
    done = ok(send(client, session["id"], data), 201)
    assert done["asset"]["metadata"] == {**values, **DEFAULTS}
    assert stored(Asset.objects.get(pk=done["asset"]["id"])) == {**values, **DEFAULTS}


def test_resumable_upload_without_metadata_gets_the_defaults(client, folder, spool):
    client.force_login(user_with(folder, "contribute"))
    data = image_bytes(64, 48)
    session = ok(start(client, folder, len(data)), 201)
    assert ok(send(client, session["id"], data), 201)["asset"]["metadata"] == DEFAULTS


@pytest.mark.parametrize(
    ("metadata", "key"),
    [
        ({"category": "employee", "team": "rd"}, "metadata.role"),
        ({"copyright": None}, "metadata.copyright"),
        ({"rating": 0}, "metadata.rating"),
        ({"rating": 10**30}, "metadata.rating"),
        ({**QA, "person": ["mary_rose"]}, "metadata.person"),
        ({"team": "sales"}, "metadata.team"),
        ({"nope": "x"}, "metadata.nope"),
        ({"caption": "a\u0000"}, "metadata.caption"),
        ("category", "metadata"),
        ([1], "metadata"),
    ],
)
def test_resumable_upload_refuses_bad_metadata_before_any_bytes(
    client, editor, folder, spool, metadata, key
):
    body = error(start(client, folder, 1000, metadata=metadata), 422)
    assert key in body["errors"], body
    assert not UploadSession.objects.exists()


def test_resumable_upload_with_metadata_needs_edit_access(client, folder, spool):
    client.force_login(user_with(folder, "contribute"))
    body = error(start(client, folder, 1000, metadata={"rating": 2}), 403, "forbidden")
    assert "edit access" in body["detail"]
    assert not UploadSession.objects.exists()
    client.force_login(user_with(folder, "view"))
    error(start(client, folder, 1000, metadata={"rating": 2}), 403, "forbidden")
    client.force_login(user_with(folder, None))
    error(start(client, folder, 1000, metadata={"rating": 2}), 404, "not_found")
    assert not UploadSession.objects.exists()


def test_resumable_upload_checks_the_rules_again_at_completion(
    client, editor, folder, spool, master
):
    data = image_bytes(64, 48)
    session = ok(start(client, folder, len(data), metadata=QA), 201)
    # Meanwhile QA stops being a choice.
    services.value_update(
        actor=master, value=MetadataValue.objects.get(external_id="qa"), blocked=True
    )
    body = error(send(client, session["id"], data), 422)
    assert "blocked" in body["detail"]
    assert not Asset.all_objects.exists()


# -- the same engine everywhere ----------------------------------------------------------------
def test_evaluate_and_uploads_agree_about_zero(client, editor, folder, master):
    """0 is a number, not an empty field: the upload check and /metadata/evaluate must read
    it the same way (DESIGN.md: one engine for uploads, edits and the API)."""
    units = services.field_create(actor=master, label="Units", type="number")
    note = services.field_create(actor=master, label="Units note", type="string", hidden=True)
    services.rule_create(
        actor=master,
        field=note,
        name="Counted assets explain",
        conditions=[{"field": units.external_id, "op": "populated"}],
        actions=[{"type": "show"}, {"type": "mandatory"}],
    )
    body = error(upload(client, folder, {"units": 0}), 422)
    assert body["errors"] == {"metadata.units_note": ["Units note is mandatory."]}
    created = ok(upload(client, folder, {"units": 0, "units_note": "none left"}), 201)
    assert created["metadata"]["units"] == 0
    response = client.post(
        f"{API}/metadata/evaluate", {"values": {"units": 0}}, content_type="application/json"
    )
    state = ok(response)["fields"]["units_note"]
    assert (state["visible"], state["mandatory"]) == (True, True), state
