"""Hostile input on the asset routes of issue 4: never a 500."""

import pytest

from dam.testing import AdminFactory, make_asset, make_folder

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "body",
    [
        {"ids": "x", "action": "delete"},
        {"ids": [1, "a"], "action": "add_tags", "tags": ["x"]},
        {"ids": [10**30], "action": "delete"},
        {"ids": [], "action": "move"},
        {"action": "nope", "ids": [1]},
        {"ids": [1], "action": "add_tags", "tags": "a\x00b"},
        {"ids": [1] * 100000, "action": "delete"},
    ],
)
def test_bulk_never_500(client, body):
    client.force_login(AdminFactory())
    r = client.post("/api/v1/assets/bulk", body, content_type="application/json")
    assert r.status_code < 500, r.content


@pytest.mark.parametrize("ids", [[], [10**30], "x", [1, 2]])
def test_zip_never_500(client, ids):
    client.force_login(AdminFactory())
    r = client.post("/api/v1/assets/bulk/download", {"ids": ids}, content_type="application/json")
    assert r.status_code < 500, r.content


@pytest.mark.parametrize("offset", ["abc", "-1", "99999999999999999999999", ""])
def test_upload_offset_never_500(client, offset):
    admin = AdminFactory()
    f = make_folder("/P", actor=admin)
    client.force_login(admin)
    r = client.post(
        "/api/v1/uploads",
        {"filename": "a.jpg", "size": 10, "folder": f.pk},
        content_type="application/json",
    )
    assert r.status_code == 201, r.content
    sid = r.json()["id"]
    r = client.put(
        f"/api/v1/uploads/{sid}",
        b"0123456789",
        content_type="application/offset+octet-stream",
        headers={"Upload-Offset": offset},
    )
    assert r.status_code < 500, r.content
    assert client.get("/api/v1/uploads/not-a-uuid").status_code in (404, 422)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/assets/99999999999999999999/versions",
        "/api/v1/assets/1/versions/99999999999/restore",
        "/api/v1/trash?page=0",
        "/api/v1/assets/1/comments",
    ],
)
def test_misc_never_500(client, path):
    client.force_login(AdminFactory())
    r = client.get(path) if "restore" not in path else client.post(path)
    assert r.status_code < 500, r.content


def test_comment_nul_and_patch_junk(client):
    admin = AdminFactory()
    a = make_asset(make_folder("/C", actor=admin), actor=admin)
    client.force_login(admin)
    assert (
        client.post(
            f"/api/v1/assets/{a.pk}/comments", {"body": "a\x00b"}, content_type="application/json"
        ).status_code
        < 500
    )
    for body in [
        {"tags": "x"},
        {"context": [1]},
        {"display_name": "\x00"},
        {"folder": 10**30},
        {"context": {"k": "\x00"}},
    ]:
        r = client.patch(f"/api/v1/assets/{a.pk}", body, content_type="application/json")
        assert r.status_code < 500, (body, r.content)


@pytest.mark.parametrize(
    "body",
    [
        {"public_id": "a\x00b"},
        {"display_name": "a\x00b"},
        {"tags": "a\x00b"},
        {"preset": "x\x00"},
    ],
)
def test_upload_session_fields_with_nul_are_422(client, body):
    admin = AdminFactory()
    folder = make_folder("/N", actor=admin)
    client.force_login(admin)
    payload = {"filename": "a.jpg", "size": 10, "folder": folder.pk, **body}
    r = client.post("/api/v1/uploads", payload, content_type="application/json")
    assert r.status_code == 422, r.content


def test_preset_names_with_nul_are_unknown(client):
    from dam.testing import image_upload

    admin = AdminFactory()
    folder = make_folder("/N", actor=admin)
    client.force_login(admin)
    r = client.post(
        "/api/v1/assets", {"file": image_upload(), "folder": folder.pk, "preset": "x\x00"}
    )
    assert r.status_code == 422
    assert client.get("/api/v1/upload-presets/a%00b").status_code == 404


def test_bulk_move_page_with_a_bad_folder_is_a_message(client):
    admin = AdminFactory()
    folder = make_folder("/B", actor=admin)
    asset = make_asset(folder, actor=admin)
    client.force_login(admin)
    from django.urls import reverse

    for bad in ("abc", "-1", "99999999999999999999999"):
        r = client.post(
            reverse("assets:bulk", args=[folder.pk]),
            {"action": "move", "ids": [asset.pk], "folder": bad},
        )
        assert r.status_code < 500
