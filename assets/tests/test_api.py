"""The JSON API: every route, the error shape, permissions, OpenAPI and docs."""

from __future__ import annotations

import io
import random

import pytest
from django.contrib.staticfiles import finders
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts.services import api_token_create
from assets.models import Asset
from dam.testing import (
    AdminFactory,
    GroupFactory,
    UserFactory,
    grant,
    image_bytes,
    image_upload,
    make_asset,
    make_folder,
)

pytestmark = pytest.mark.django_db

API = "/api/v1"
ASSET_KEYS = {
    "id",
    "public_id",
    "display_name",
    "folder",
    "type",
    "format",
    "bytes",
    "width",
    "height",
    "duration",
    "tags",
    "metadata",
    "context",
    "access_mode",
    "public_from",
    "public_until",
    "expires_at",
    "moderation_status",
    "version",
    "created_by",
    "created_at",
    "updated_at",
    "thumbnail_url",
    "delivery_url",
}
FOLDER_KEYS = {"id", "name", "parent", "path", "my_level", "created_at"}


# -- helpers --------------------------------------------------------------------------
def error(response, status: int, code: str | None = None) -> dict:
    """Assert the API.md error shape and return the body."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    expected = {"detail", "code", "errors"} if status == 422 else {"detail", "code"}
    assert set(body) == expected, body
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["code"], str) and body["code"]
    if code is not None:
        assert body["code"] == code
    if status == 422:
        assert isinstance(body["errors"], dict) and body["errors"]
        for field, messages in body["errors"].items():
            assert isinstance(field, str)
            assert messages and all(isinstance(m, str) and m for m in messages)
    return body


def post_json(client, path, data, **kwargs):
    return client.post(path, data, content_type="application/json", **kwargs)


def folder_names(response) -> list[str]:
    """Names in a GET /folders page ({"count", "next", "previous", "results"})."""
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] >= len(body["results"])
    for item in body["results"]:
        assert set(item) == FOLDER_KEYS
    return [item["name"] for item in body["results"]]


def unique_jpeg(width=64, height=48) -> SimpleUploadedFile:
    color = tuple(random.randrange(256) for _ in range(3))
    return SimpleUploadedFile("photo.jpg", image_bytes(width, height, color=color))


@pytest.fixture
def admin():
    return AdminFactory()


@pytest.fixture
def tree(admin):
    """/Brand, /Brand/Logos, /Secret, with one asset in Logos and one in Secret."""
    logos = make_folder("/Brand/Logos", actor=admin)
    secret = make_folder("/Secret", actor=admin)
    return {
        "admin": admin,
        "brand": logos.parent,
        "logos": logos,
        "secret": secret,
        "logo": make_asset(logos, actor=admin, name="logo.jpg"),
        "hidden": make_asset(secret, actor=admin, name="hidden.jpg"),
    }


@pytest.fixture
def viewer(tree, client):
    """A media library user with view on /Brand, logged in on `client`."""
    user = UserFactory()
    grant(user, tree["brand"], "view")
    client.force_login(user)
    return user


@pytest.fixture
def stranger(client):
    user = UserFactory()
    client.force_login(user)
    return user


# -- authentication -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/me"),
        ("get", "/folders"),
        ("post", "/folders"),
        ("get", "/folders/1"),
        ("post", "/assets"),
        ("get", "/assets/1"),
        ("get", "/assets/1/download"),
    ],
)
def test_every_route_needs_credentials(client, method, path):
    body = error(getattr(client, method)(API + path), 401, "not_authenticated")
    assert "credentials" in body["detail"]


def test_bearer_token_works_on_every_route(client, tree):
    _, raw = api_token_create(user=tree["admin"], name="t")
    headers = {"Authorization": f"Bearer {raw}"}
    assert client.get(f"{API}/me", headers=headers).status_code == 200
    assert client.get(f"{API}/folders", headers=headers).status_code == 200
    assert client.get(f"{API}/folders/{tree['brand'].pk}", headers=headers).status_code == 200
    assert client.get(f"{API}/assets/{tree['logo'].pk}", headers=headers).status_code == 200
    download = client.get(f"{API}/assets/{tree['logo'].pk}/download", headers=headers)
    assert download.status_code == 200
    created = post_json(client, f"{API}/folders", {"name": "Tokens"}, headers=headers)
    assert created.status_code == 201
    uploaded = client.post(
        f"{API}/assets", {"file": unique_jpeg(), "folder": tree["logos"].pk}, headers=headers
    )
    assert uploaded.status_code == 201, uploaded.content


# -- GET /me --------------------------------------------------------------------------
def test_me(client):
    user = UserFactory(can_share_collections=True)
    group = GroupFactory(name="Design")
    user.groups.add(group)
    client.force_login(user)
    body = client.get(f"{API}/me").json()
    assert body["email"] == user.email
    assert body["role"] == "media_library_user"
    assert body["status"] == "active"
    assert body["groups"] == [{"id": group.pk, "name": "Design"}]
    assert body["permissions"]["share_collections"] is True
    assert set(body["permissions"]) == {
        "create_collections",
        "share_collections",
        "moderate_assets",
        "delivery_url_options",
    }


# -- GET /folders ---------------------------------------------------------------------
def test_admin_lists_the_top_level(client, tree):
    client.force_login(tree["admin"])
    response = client.get(f"{API}/folders")
    assert folder_names(response) == ["Brand", "Secret"]
    brand = response.json()["results"][0]
    assert brand["path"] == "/Brand"
    assert brand["parent"] is None
    assert brand["my_level"] == "manage"


def test_user_top_level_is_their_granted_folders_only(client, tree, viewer):
    response = client.get(f"{API}/folders")
    assert folder_names(response) == ["Brand"]
    assert response.json()["results"][0]["my_level"] == "view"


def test_user_granted_deep_sees_that_folder_at_the_top(client, tree):
    user = UserFactory()
    grant(user, tree["logos"], "edit")
    client.force_login(user)
    response = client.get(f"{API}/folders")
    assert folder_names(response) == ["Logos"]
    # /Brand does not exist for this user: neither its name nor its id shows.
    assert response.json()["results"][0]["path"] == "/Logos"
    assert response.json()["results"][0]["parent"] is None
    assert response.json()["results"][0]["my_level"] == "edit"
    detail = client.get(f"{API}/folders/{tree['logos'].pk}").json()
    assert (detail["path"], detail["parent"]) == ("/Logos", None)


def test_user_without_grants_lists_nothing(client, tree, stranger):
    assert folder_names(client.get(f"{API}/folders")) == []


def test_folder_list_with_parent_paired(client, tree, viewer):
    response = client.get(f"{API}/folders", {"parent": tree["brand"].pk})
    assert folder_names(response) == ["Logos"]
    assert response.json()["results"][0]["parent"] == tree["brand"].pk

    error(client.get(f"{API}/folders", {"parent": tree["secret"].pk}), 404, "not_found")
    error(client.get(f"{API}/folders", {"parent": 10**9}), 404, "not_found")


def test_folder_list_with_a_malformed_parent_is_422(client, tree, viewer):
    body = error(client.get(f"{API}/folders", {"parent": "abc"}), 422, "validation_error")
    assert "parent" in body["errors"]


# -- GET /folders/{id} ----------------------------------------------------------------
def test_folder_get_paired(client, tree, viewer):
    response = client.get(f"{API}/folders/{tree['logos'].pk}")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == FOLDER_KEYS
    assert body == {
        "id": tree["logos"].pk,
        "name": "Logos",
        "parent": tree["brand"].pk,
        "path": "/Brand/Logos",
        "my_level": "view",
        "created_at": body["created_at"],
    }
    assert body["created_at"].endswith("Z") or body["created_at"].endswith("+00:00")

    invisible = error(client.get(f"{API}/folders/{tree['secret'].pk}"), 404, "not_found")
    missing = error(client.get(f"{API}/folders/{10**9}"), 404, "not_found")
    assert invisible == missing  # never reveal what you cannot see


def test_folder_get_reports_the_effective_level(client, tree):
    user = UserFactory()
    grant(user, tree["brand"], "view")
    grant(user, tree["logos"], "contribute")
    client.force_login(user)
    assert client.get(f"{API}/folders/{tree['brand'].pk}").json()["my_level"] == "view"
    assert client.get(f"{API}/folders/{tree['logos'].pk}").json()["my_level"] == "contribute"


@pytest.mark.parametrize("bad", ["abc", "1.5"])
def test_folder_get_malformed_id_is_an_error_not_a_500(client, tree, viewer, bad):
    response = client.get(f"{API}/folders/{bad}")
    assert response.status_code in (404, 422)
    error(response, response.status_code)


def test_folder_get_huge_id_is_404(client, tree, viewer):
    error(client.get(f"{API}/folders/{2**70}"), 404, "not_found")


# -- POST /folders --------------------------------------------------------------------
def test_folder_create_top_level_as_admin(client, admin):
    client.force_login(admin)
    response = post_json(client, f"{API}/folders", {"name": "Campaigns"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == FOLDER_KEYS
    assert (body["name"], body["path"], body["parent"], body["my_level"]) == (
        "Campaigns",
        "/Campaigns",
        None,
        "manage",
    )


def test_folder_create_top_level_as_user_is_403(client, stranger):
    error(post_json(client, f"{API}/folders", {"name": "Mine"}), 403, "forbidden")


def test_folder_create_in_parent_paired(client, tree):
    viewer, contributor = UserFactory(), UserFactory()
    grant(viewer, tree["brand"], "view")
    grant(contributor, tree["brand"], "contribute")

    client.force_login(viewer)
    error(
        post_json(client, f"{API}/folders", {"name": "X", "parent": tree["secret"].pk}),
        404,
        "not_found",
    )
    body = error(
        post_json(client, f"{API}/folders", {"name": "X", "parent": tree["brand"].pk}),
        403,
        "forbidden",
    )
    assert "contribute" in body["detail"]

    client.force_login(contributor)
    response = post_json(client, f"{API}/folders", {"name": "X", "parent": tree["logos"].pk})
    assert response.status_code == 201, response.content
    assert response.json()["path"] == "/Brand/Logos/X"
    assert response.json()["my_level"] == "contribute"


def test_folder_create_duplicate_is_409(client, tree):
    client.force_login(tree["admin"])
    body = error(
        post_json(client, f"{API}/folders", {"name": "logos", "parent": tree["brand"].pk}),
        409,
        "conflict",
    )
    assert "already exists" in body["detail"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "name"),
        ({"parent": None}, "name"),
        ({"name": None}, "name"),
        ({"name": 5}, "name"),
        ({"name": "ok", "parent": "abc"}, "parent"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "a/b"}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"name": "nul\u0000byte"}, "name"),
    ],
)
def test_folder_create_invalid_fields_are_422_with_errors(client, admin, payload, field):
    client.force_login(admin)
    body = error(post_json(client, f"{API}/folders", payload), 422, "validation_error")
    assert field in body["errors"], body


@pytest.mark.parametrize("raw", ["{bad json", '{"name": "x",}', "[1, 2"])
def test_malformed_json_is_400(client, admin, raw):
    client.force_login(admin)
    error(client.post(f"{API}/folders", raw, content_type="application/json"), 400)


def test_folder_create_with_unknown_parent_is_404(client, admin):
    client.force_login(admin)
    error(post_json(client, f"{API}/folders", {"name": "X", "parent": 10**9}), 404)
    error(post_json(client, f"{API}/folders", {"name": "X", "parent": 2**70}), 404)


# -- POST /assets ---------------------------------------------------------------------
def test_upload_creates_an_asset(client, tree, django_capture_on_commit_callbacks):
    contributor = UserFactory()
    grant(contributor, tree["logos"], "contribute")
    client.force_login(contributor)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"{API}/assets",
            {
                "file": unique_jpeg(320, 240),
                "folder": tree["logos"].pk,
                "public_id": "brand/new-logo",
                "display_name": "New logo",
                "tags": "logo, brand ,logo",
            },
        )
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) >= ASSET_KEYS
    assert body["public_id"] == "brand/new-logo"
    assert body["display_name"] == "New logo"
    assert body["folder"] == tree["logos"].pk
    assert (body["type"], body["format"], body["width"], body["height"]) == (
        "image",
        "jpg",
        320,
        240,
    )
    assert body["tags"] == ["logo", "brand"]
    assert body["created_by"] == contributor.pk
    assert body["version"] == 1
    assert body["access_mode"] == "public"
    assert body["moderation_status"] == "not_moderated"

    # processing ran after commit: the asset now has a thumbnail
    shown = client.get(f"{API}/assets/{body['id']}").json()
    assert shown["thumbnail_url"].startswith("http://testserver/assets/")
    assert client.get(shown["thumbnail_url"]).status_code == 200


def test_upload_into_invisible_folder_is_404_and_view_only_is_403(client, tree, viewer):
    error(
        client.post(f"{API}/assets", {"file": unique_jpeg(), "folder": tree["secret"].pk}),
        404,
        "not_found",
    )
    body = error(
        client.post(f"{API}/assets", {"file": unique_jpeg(), "folder": tree["logos"].pk}),
        403,
        "forbidden",
    )
    assert "contribute" in body["detail"]
    error(client.post(f"{API}/assets", {"file": unique_jpeg(), "folder": 10**9}), 404)
    assert Asset.objects.count() == 2


def test_upload_missing_fields_are_422(client, tree):
    client.force_login(tree["admin"])
    body = error(client.post(f"{API}/assets", {"folder": tree["logos"].pk}), 422)
    assert "file" in body["errors"]
    body = error(client.post(f"{API}/assets", {"file": unique_jpeg()}), 422)
    assert "folder" in body["errors"]
    body = error(client.post(f"{API}/assets", {"file": unique_jpeg(), "folder": "x"}), 422)
    assert "folder" in body["errors"]


def test_upload_non_image_is_422_on_file(client, tree):
    client.force_login(tree["admin"])
    fake = SimpleUploadedFile("cat.jpg", b"%PDF-1.7 definitely not a jpeg")
    body = error(client.post(f"{API}/assets", {"file": fake, "folder": tree["logos"].pk}), 422)
    assert body["errors"] == {"file": [body["detail"]]}
    assert "not an image" in body["detail"]


def test_upload_duplicate_public_id_is_409(client, tree):
    client.force_login(tree["admin"])
    data = {"folder": tree["logos"].pk, "public_id": "dup"}
    assert client.post(f"{API}/assets", {**data, "file": unique_jpeg()}).status_code == 201
    error(client.post(f"{API}/assets", {**data, "file": unique_jpeg()}), 409, "conflict")


def test_upload_bad_public_id_is_422(client, tree):
    client.force_login(tree["admin"])
    body = error(
        client.post(
            f"{API}/assets",
            {"file": unique_jpeg(), "folder": tree["logos"].pk, "public_id": "../x"},
        ),
        422,
    )
    assert "public_id" in body["errors"]


@pytest.mark.parametrize("field", ["tags", "display_name"])
def test_upload_nul_text_is_422(client, tree, field):
    client.force_login(tree["admin"])
    body = error(
        client.post(
            f"{API}/assets",
            {"file": unique_jpeg(), "folder": tree["logos"].pk, field: "a\u0000b"},
        ),
        422,
    )
    assert field in body["errors"]


def test_upload_too_large_is_413(client, tree, settings):
    client.force_login(tree["admin"])
    settings.DAM_MAX_UPLOAD_BYTES = 100
    error(
        client.post(f"{API}/assets", {"file": unique_jpeg(), "folder": tree["logos"].pk}),
        413,
        "too_large",
    )


def test_upload_too_many_pixels_is_422(client, tree, settings):
    client.force_login(tree["admin"])
    settings.DAM_MAX_IMAGE_PIXELS = 1000
    out = io.BytesIO()
    Image.new("L", (100, 100)).save(out, "PNG")
    upload = SimpleUploadedFile("big.png", out.getvalue())
    body = error(client.post(f"{API}/assets", {"file": upload, "folder": tree["logos"].pk}), 422)
    assert "pixels" in body["errors"]["file"][0]


# -- GET /assets/{id} -----------------------------------------------------------------
def test_asset_get_paired(client, tree, viewer):
    response = client.get(f"{API}/assets/{tree['logo'].pk}")
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= ASSET_KEYS
    assert body["id"] == tree["logo"].pk
    assert body["public_id"] == tree["logo"].public_id
    assert body["folder"] == tree["logos"].pk
    assert body["thumbnail_url"] is None  # not processed in this test
    assert body["delivery_url"] is None

    invisible = error(client.get(f"{API}/assets/{tree['hidden'].pk}"), 404, "not_found")
    missing = error(client.get(f"{API}/assets/{10**9}"), 404, "not_found")
    assert invisible == missing


def test_asset_get_by_stranger_is_404(client, tree, stranger):
    error(client.get(f"{API}/assets/{tree['logo'].pk}"), 404)


def test_asset_get_huge_id_is_404(client, tree, viewer):
    error(client.get(f"{API}/assets/{2**70}"), 404)


# -- GET /assets/{id}/download --------------------------------------------------------
def test_asset_download_paired(client, tree, viewer):
    response = client.get(f"{API}/assets/{tree['logo'].pk}/download")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Content-Disposition"].startswith("attachment")
    assert 'filename="logo.jpg"' in response["Content-Disposition"]
    assert response["Cache-Control"] == "private, no-store"
    content = b"".join(response.streaming_content)
    with default_storage.open(tree["logo"].current_version.blob_name, "rb") as fh:
        assert content == fh.read()

    invisible = error(client.get(f"{API}/assets/{tree['hidden'].pk}/download"), 404)
    missing = error(client.get(f"{API}/assets/{10**9}/download"), 404)
    assert invisible == missing


def test_asset_download_by_stranger_is_404(client, tree, stranger):
    error(client.get(f"{API}/assets/{tree['logo'].pk}/download"), 404)


# -- unknown routes and methods -------------------------------------------------------
@pytest.mark.parametrize("path", ["/nope", "/", "/assets/1/nope", "/folders/1/2/3"])
def test_unknown_api_path_is_404_json(client, admin, path):
    client.force_login(admin)
    error(client.get(API + path), 404, "not_found")


def test_unknown_api_path_is_404_json_even_anonymous(client):
    error(client.get(f"{API}/does-not-exist"), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path"), [("delete", "/folders"), ("put", "/me"), ("patch", "/assets")]
)
def test_wrong_method_is_405_json(client, admin, method, path):
    client.force_login(admin)
    response = getattr(client, method)(API + path)
    error(response, 405, "method_not_allowed")
    assert response.has_header("Allow")


# -- OpenAPI and docs -----------------------------------------------------------------
def test_openapi_lists_every_path(client):
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    assert set(paths) >= {
        f"{API}/me",
        f"{API}/folders",
        f"{API}/folders/{{folder_id}}",
        f"{API}/assets",
        f"{API}/assets/{{asset_id}}",
        f"{API}/assets/{{asset_id}}/download",
    }
    assert set(paths[f"{API}/folders"]) == {"get", "post"}
    assert "multipart/form-data" in paths[f"{API}/assets"]["post"]["requestBody"]["content"]
    schemes = schema["components"]["securitySchemes"]
    assert any(s.get("scheme") == "bearer" for s in schemes.values())


def test_openapi_names_each_body_schema_once():
    """Two request or response schemas with one name would overwrite each other in the
    document (it once described metadata rules with the automation rule's fields)."""
    import inspect

    from ninja import Schema

    from dam.api import api

    seen: dict[str, type] = {}
    for router_prefix, router in api._routers:
        for path_view in router.path_operations.values():
            for op in path_view.operations:
                models = list(op.models)
                for response_model in (op.response_models or {}).values():
                    models.append(response_model)
                for model in models:
                    for field in getattr(model, "model_fields", {}).values():
                        kind = field.annotation
                        if inspect.isclass(kind) and issubclass(kind, Schema):
                            other = seen.setdefault(kind.__name__, kind)
                            assert other is kind, (router_prefix, kind.__name__)
    schema = api.get_openapi_schema()
    rules = schema["paths"][f"{API}/metadata/fields/{{external_id}}/rules"]["post"]
    ref = rules["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert {"match", "conditions", "actions"} <= set(body["properties"])


def test_docs_are_served_without_a_cdn(client):
    response = client.get(f"{API}/docs")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode().lower()
    assert "swagger" in html
    assert "/api/v1/openapi.json" in html
    # Every script and stylesheet is served by the app itself (no external host; a
    # random CSRF token may contain "cdn", so look at the URLs, not the whole page).
    import re

    urls = re.findall(r'(?:src|href)\s*=\s*["\']([^"\']+)', html)
    assert urls, html
    assert all(u.startswith(("/", "#", "data:")) for u in urls), urls
    assert finders.find("ninja/swagger-ui-bundle.js")
    assert finders.find("ninja/swagger-ui.css")


def test_png_upload_is_identified(client, tree):
    client.force_login(tree["admin"])
    response = client.post(
        f"{API}/assets", {"file": image_upload("x.png"), "folder": tree["logos"].pk}
    )
    assert response.status_code == 201, response.content
    assert response.json()["format"] == "png"


# -- list pagination ------------------------------------------------------------------
def test_folder_list_is_paginated_with_next_and_previous_links(client, admin):
    for name in ("Alpha", "Bravo", "Charlie"):
        make_folder(f"/{name}", actor=admin)
    client.force_login(admin)

    first = client.get(f"{API}/folders", {"page_size": 2}).json()
    assert first["count"] == 3
    assert [f["name"] for f in first["results"]] == ["Alpha", "Bravo"]
    assert first["previous"] is None
    assert "page=2" in first["next"] and "page_size=2" in first["next"]

    second = client.get(first["next"]).json()
    assert [f["name"] for f in second["results"]] == ["Charlie"]
    assert second["next"] is None
    assert "page=1" in second["previous"]


@pytest.mark.parametrize(
    ("query", "field"),
    [({"page_size": 201}, "page_size"), ({"page": 0}, "page"), ({"page": "x"}, "page")],
)
def test_folder_list_rejects_bad_paging(client, admin, query, field):
    client.force_login(admin)
    body = error(client.get(f"{API}/folders", query), 422, "validation_error")
    assert field in body["errors"], body


def test_empty_json_body_reports_a_readable_field(client, admin):
    client.force_login(admin)
    body = error(client.post(f"{API}/folders", "", content_type="application/json"), 422)
    assert "payload" not in body["errors"], body
