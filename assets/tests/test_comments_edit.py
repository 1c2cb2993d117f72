"""Comments and editing an asset's name, tags, context and folder (service and API)."""

from __future__ import annotations

import pytest

from accounts.models import User
from assets import services
from assets.models import Asset
from dam.testing import AdminFactory, UserFactory, grant, make_asset, make_folder

pytestmark = pytest.mark.django_db
API = "/api/v1"


@pytest.fixture
def tree():
    admin = AdminFactory()
    logos = make_folder("/Brand/Logos", actor=admin)
    return {
        "admin": admin,
        "brand": logos.parent,
        "logos": logos,
        "other": make_folder("/Other", actor=admin),
        "logo": make_asset(logos, actor=admin, name="logo.jpg"),
    }


def patch(client, path, data):
    return client.patch(path, data, content_type="application/json")


# -- comments ---------------------------------------------------------------------------
def test_comment_service_checks_body(tree):
    viewer = UserFactory()
    grant(viewer, tree["brand"], "view")
    with pytest.raises(services.ValidationFailed):
        services.comment_create(actor=viewer, asset=tree["logo"], body="   ")
    with pytest.raises(services.ValidationFailed):
        services.comment_create(actor=viewer, asset=tree["logo"], body="x" * 5001)
    comment = services.comment_create(actor=viewer, asset=tree["logo"], body=" Looks good ")
    assert comment.body == "Looks good" and comment.author == viewer


def test_comments_404_without_access_and_work_with_view(client, tree):
    url = f"{API}/assets/{tree['logo'].pk}/comments"
    client.force_login(UserFactory())
    assert client.get(url).status_code == 404
    assert client.post(url, {"body": "hi"}, content_type="application/json").status_code == 404
    viewer = UserFactory(first_name="Vic", last_name="Viewer")
    grant(viewer, tree["brand"], "view")
    client.force_login(viewer)
    response = client.post(url, {"body": "First!"}, content_type="application/json")
    assert response.status_code == 201, response.content
    assert response.json()["author_name"] == "Vic Viewer"
    bad = client.post(url, {"body": ""}, content_type="application/json")
    assert bad.status_code == 422 and "body" in bad.json()["errors"]
    assert [c["body"] for c in client.get(url).json()] == ["First!"]


# -- edits ----------------------------------------------------------------------------------
def test_update_service_needs_edit_and_cleans_values(tree):
    contributor, editor = UserFactory(), UserFactory()
    grant(contributor, tree["brand"], "contribute")
    grant(editor, tree["brand"], "edit")
    logo = tree["logo"]
    with pytest.raises(services.NotAllowed):
        services.asset_update(actor=contributor, asset=logo, display_name="New")
    with pytest.raises(services.ValidationFailed):
        services.asset_update(actor=editor, asset=logo, context={"bad key!": "v"})
    with pytest.raises(services.ValidationFailed):
        services.asset_update(actor=editor, asset=logo, context={"k": {"nested": 1}})
    services.asset_update(
        actor=editor,
        asset=logo,
        display_name=" Logo 2026 ",
        tags=["brand", " brand", "blue"],
        context={"campaign": "spring", "year": 2026},
    )
    logo.refresh_from_db()
    assert logo.display_name == "Logo 2026" and logo.tags == ["brand", "blue"]
    assert logo.context == {"campaign": "spring", "year": "2026"}


def test_patch_404_without_access_and_edits_with_access(client, tree):
    url = f"{API}/assets/{tree['logo'].pk}"
    client.force_login(UserFactory())
    assert patch(client, url, {"display_name": "x"}).status_code == 404
    editor = UserFactory()
    grant(editor, tree["brand"], "edit")
    client.force_login(editor)
    response = patch(client, url, {"display_name": "Renamed", "tags": ["a", "b"]})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["display_name"] == "Renamed" and body["tags"] == ["a", "b"]
    # Access control needs the delivery-URL permission too; a refused edit changes nothing.
    both = {"context": {"alt": "A logo"}, "access_mode": "restricted"}
    assert patch(client, url, both).status_code == 403
    assert client.get(url).json()["context"] == {}
    User.objects.filter(pk=editor.pk).update(can_use_delivery_urls=True)
    response = patch(client, url, both)
    assert response.json()["context"] == {"alt": "A logo"}
    assert response.json()["access_mode"] == "restricted"
    response = patch(client, url, {"metadata": {"x": 1}})
    assert response.status_code == 422 and "metadata.x" in response.json()["errors"]
    assert patch(client, url, {"display_name": ""}).status_code == 422


def test_patch_move_needs_edit_on_source_and_contribute_on_target(client, tree):
    url = f"{API}/assets/{tree['logo'].pk}"
    user = UserFactory()
    grant(user, tree["brand"], "edit")
    client.force_login(user)
    # The target is invisible: the same answer as a folder that does not exist.
    response = patch(client, url, {"folder": tree["other"].pk})
    assert response.status_code == 422 and response.json()["errors"]["folder"] == [
        "No such folder."
    ]
    grant(user, tree["other"], "view")
    assert patch(client, url, {"folder": tree["other"].pk}).status_code == 403
    grant(user, tree["other"], "contribute")
    response = patch(client, url, {"folder": tree["other"].pk})
    assert response.status_code == 200 and response.json()["folder"] == tree["other"].pk
    moved = Asset.objects.get(pk=tree["logo"].pk)
    assert moved.ancestors == tree["other"].ancestor_ids
    # Now only contribute where it is: moving it back needs edit there.
    assert patch(client, url, {"folder": tree["logos"].pk}).status_code == 403


# -- pages --------------------------------------------------------------------------------
def test_page_comment_and_edit_pair(client, tree):
    logo = tree["logo"]
    client.force_login(UserFactory())
    assert client.post(f"/assets/{logo.pk}/comments/", {"body": "hi"}).status_code == 404
    assert client.post(f"/assets/{logo.pk}/edit/", {"display_name": "x"}).status_code == 404
    assert client.post(f"/assets/{logo.pk}/delete/").status_code == 404
    viewer = UserFactory()
    grant(viewer, tree["brand"], "view")
    client.force_login(viewer)
    assert client.post(f"/assets/{logo.pk}/comments/", {"body": "hi"}).status_code == 302
    assert client.post(f"/assets/{logo.pk}/edit/", {"display_name": "x"}).status_code == 403
    page = client.get(f"/assets/{logo.pk}/").content.decode()
    assert "hi" in page and "Save changes" not in page and "Delete asset…" not in page
    bad = client.post(f"/assets/{logo.pk}/comments/", {"body": "  "})
    assert bad.status_code == 422 and "Write a comment first." in bad.content.decode()
    editor = UserFactory()
    grant(editor, tree["brand"], "edit")
    client.force_login(editor)
    data = {"display_name": "Logo", "tags": "a, b", "context": "alt=Logo\nnot a pair"}
    bad = client.post(f"/assets/{logo.pk}/edit/", data)
    assert (
        bad.status_code == 422 and "Line 2: write each entry as key=value." in bad.content.decode()
    )
    data["context"] = "alt=Logo"
    assert client.post(f"/assets/{logo.pk}/edit/", data).status_code == 302
    logo.refresh_from_db()
    assert (logo.display_name, logo.tags, logo.context) == ("Logo", ["a", "b"], {"alt": "Logo"})
    assert client.post(f"/assets/{logo.pk}/delete/").status_code == 403


def test_page_trash_pair(client, tree):
    admin, logo = tree["admin"], tree["logo"]
    services.asset_delete(actor=admin, asset=logo)
    services.folder_delete(actor=admin, folder=tree["other"])
    viewer = UserFactory()
    grant(viewer, tree["brand"], "view")
    client.force_login(viewer)
    page = client.get("/library/trash/").content.decode()
    assert "The trash is empty" in page
    assert client.post(f"/library/trash/asset/{logo.pk}/restore/").status_code == 403
    assert client.post(f"/library/trash/folder/{tree['other'].pk}/purge/").status_code == 404
    assert client.post(f"/library/trash/bogus/{logo.pk}/purge/").status_code == 404
    manager = UserFactory()
    grant(manager, tree["brand"], "manage")
    client.force_login(manager)
    page = client.get("/library/trash/").content.decode()
    assert "logo" in page and "Other" not in page
    assert client.post(f"/library/trash/asset/{logo.pk}/restore/").status_code == 302
    assert Asset.objects.filter(pk=logo.pk).exists()
    client.force_login(admin)
    assert "Other" in client.get("/library/trash/").content.decode()
    assert client.post(f"/library/trash/folder/{tree['other'].pk}/purge/").status_code == 302
