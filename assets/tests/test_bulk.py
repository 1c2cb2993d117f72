"""Bulk actions and the zip download: each asset checked through the policy."""

from __future__ import annotations

import io
import zipfile

import pytest

from assets import services
from assets.models import Asset
from dam.testing import AdminFactory, UserFactory, grant, make_asset, make_folder

pytestmark = pytest.mark.django_db
API = "/api/v1"


@pytest.fixture
def tree():
    admin = AdminFactory()
    logos = make_folder("/Brand/Logos", actor=admin)
    secret = make_folder("/Secret", actor=admin)
    return {
        "admin": admin,
        "brand": logos.parent,
        "logos": logos,
        "secret": secret,
        "a": make_asset(logos, actor=admin, name="a.jpg"),
        "b": make_asset(logos, actor=admin, name="b.png"),
        "hidden": make_asset(secret, actor=admin, name="hidden.gif"),
    }


def bulk(client, data):
    return client.post(f"{API}/assets/bulk", data, content_type="application/json")


def test_bulk_tags_with_mixed_visible_and_invisible_ids(client, tree):
    editor = UserFactory()
    grant(editor, tree["brand"], "edit")
    client.force_login(editor)
    ids = [tree["a"].pk, tree["b"].pk, tree["hidden"].pk, 999_999_999]
    response = bulk(client, {"ids": ids, "action": "add_tags", "tags": ["summer", "x"]})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["done"] == [tree["a"].pk, tree["b"].pk]
    assert body["failed"] == {str(tree["hidden"].pk): "Not found.", "999999999": "Not found."}
    assert Asset.objects.get(pk=tree["a"].pk).tags == ["summer", "x"]
    assert Asset.objects.get(pk=tree["hidden"].pk).tags == []
    body = bulk(client, {"ids": [tree["a"].pk], "action": "remove_tags", "tags": "x"}).json()
    assert body["done"] == [tree["a"].pk]
    assert Asset.objects.get(pk=tree["a"].pk).tags == ["summer"]


def test_bulk_checks_each_level(client, tree):
    viewer = UserFactory()
    grant(viewer, tree["brand"], "view")
    client.force_login(viewer)
    body = bulk(client, {"ids": [tree["a"].pk], "action": "delete"}).json()
    assert body["done"] == [] and "manage" in body["failed"][str(tree["a"].pk)]
    assert Asset.objects.filter(pk=tree["a"].pk).exists()


def test_bulk_delete_and_move_with_access(client, tree):
    manager = UserFactory()
    grant(manager, tree["brand"], "manage")
    grant(manager, tree["secret"], "contribute")
    client.force_login(manager)
    body = bulk(client, {"ids": [tree["a"].pk], "action": "delete"}).json()
    assert body == {"done": [tree["a"].pk], "failed": {}, "cleared": {}}
    assert Asset.all_objects.get(pk=tree["a"].pk).deleted_at is not None
    body = bulk(
        client, {"ids": [tree["b"].pk], "action": "move", "folder": tree["secret"].pk}
    ).json()
    assert body == {"done": [tree["b"].pk], "failed": {}, "cleared": {}}
    assert Asset.objects.get(pk=tree["b"].pk).ancestors == [tree["secret"].pk]


def test_bulk_set_metadata_needs_fields_to_change(client, tree):
    client.force_login(tree["admin"])
    response = bulk(client, {"ids": [tree["a"].pk], "action": "set_metadata", "metadata": {}})
    assert response.status_code == 422
    assert response.json()["errors"] == {"metadata": ["Choose at least one field to change."]}


def test_bulk_request_errors(client, tree):
    client.force_login(tree["admin"])
    assert bulk(client, {"ids": [], "action": "delete"}).status_code == 422
    assert bulk(client, {"ids": [1], "action": "explode"}).status_code == 422
    assert bulk(client, {"ids": [tree["a"].pk], "action": "add_tags"}).status_code == 422
    assert bulk(client, {"ids": [tree["a"].pk], "action": "move"}).status_code == 422
    too_many = list(range(1, services.BULK_MAX_IDS + 2))
    assert bulk(client, {"ids": too_many, "action": "delete"}).status_code == 422


def _zip(response) -> zipfile.ZipFile:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/zip"
    assert response.streaming
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def test_zip_download_streams_visible_originals_with_safe_unique_names(client, tree):
    admin = tree["admin"]
    services.asset_update(actor=admin, asset=tree["a"], display_name="../../etc/passwd")
    services.asset_update(actor=admin, asset=tree["b"], display_name="..\\..\\etc/passwd")
    twin = make_asset(tree["logos"], actor=admin, name="c.jpg", display_name="../../etc/passwd")
    viewer = UserFactory()
    grant(viewer, tree["brand"], "view")
    client.force_login(viewer)
    ids = [tree["a"].pk, tree["b"].pk, twin.pk, tree["hidden"].pk]
    response = client.post(
        f"{API}/assets/bulk/download", {"ids": ids}, content_type="application/json"
    )
    archive = _zip(response)
    names = archive.namelist()
    assert names == ["etc_passwd.jpg", "etc_passwd.png", "etc_passwd (2).jpg"]
    assert all("/" not in n and "\\" not in n and not n.startswith(".") for n in names)
    assert archive.testzip() is None
    assert archive.read("etc_passwd.jpg")[:2] == b"\xff\xd8"


def test_zip_download_404_without_access(client, tree):
    client.force_login(UserFactory())
    response = client.post(
        f"{API}/assets/bulk/download", {"ids": [tree["a"].pk]}, content_type="application/json"
    )
    assert response.status_code == 404


# -- pages --------------------------------------------------------------------------------
def test_page_bulk_404_without_access_and_works_with_access(client, tree):
    url = f"/library/folders/{tree['logos'].pk}/bulk/"
    data = {"ids": [tree["a"].pk], "action": "add_tags", "tags_add_tags": "blue"}
    client.force_login(UserFactory())
    assert client.post(url, data).status_code == 404
    editor = UserFactory()
    grant(editor, tree["brand"], "edit")
    client.force_login(editor)
    response = client.post(url, {**data, "ids": [tree["a"].pk, tree["hidden"].pk]}, follow=True)
    assert Asset.objects.get(pk=tree["a"].pk).tags == ["blue"]
    text = response.content.decode()
    assert "Tags added to 1 asset." in text and "1 asset could not be changed: Not found." in text


def test_page_bulk_download_streams_a_zip(client, tree):
    viewer = UserFactory()
    grant(viewer, tree["brand"], "view")
    client.force_login(viewer)
    url = f"/library/folders/{tree['logos'].pk}/bulk/"
    ids = [tree["a"].pk, tree["b"].pk, tree["hidden"].pk]
    archive = _zip(client.post(url, {"ids": ids, "action": "download"}))
    assert archive.namelist() == ["a.jpg", "b.png"]


def test_page_move_targets_lists_only_contribute_folders(client, tree):
    user = UserFactory()
    grant(user, tree["brand"], "view")
    grant(user, tree["logos"], "contribute")
    client.force_login(user)
    body = client.get("/library/move-targets/").content.decode()
    assert "/Brand/Logos" in body and "Secret" not in body
