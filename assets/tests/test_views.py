"""Library pages: access, empty states, upload control, files, query counts, errors."""

from __future__ import annotations

import json
import random

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Role
from assets import services
from assets.models import Folder
from dam import views as dam_views
from dam.testing import AdminFactory, UserFactory, grant, image_upload, make_asset, make_folder

pytestmark = pytest.mark.django_db

LIBRARY = "/library/"


# -- helpers --------------------------------------------------------------------------
def folder_url(folder) -> str:
    return reverse("assets:folder", args=[folder.pk])


def processed_asset(folder, actor, name="photo.jpg", **kwargs):
    """An uploaded asset with its renditions made (as the worker would)."""
    color = tuple(random.randrange(256) for _ in range(3))
    upload = image_upload(name, width=640, height=480, color=color)
    asset = services.asset_upload(
        actor=actor, file=upload, filename=upload.name, folder=folder, **kwargs
    )
    services.version_process(version_id=asset.current_version.pk)
    asset.refresh_from_db()
    return asset


def page_messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


@pytest.fixture
def admin():
    return AdminFactory()


@pytest.fixture
def tree(admin):
    """/Brand/Logos and /Secret, one processed asset in each."""
    logos = make_folder("/Brand/Logos", actor=admin)
    secret = make_folder("/Secret", actor=admin)
    return {
        "admin": admin,
        "brand": logos.parent,
        "logos": logos,
        "secret": secret,
        "logo": processed_asset(logos, admin, "logo.jpg"),
        "hidden": processed_asset(secret, admin, "hidden.jpg"),
    }


@pytest.fixture
def viewer(tree, client):
    user = UserFactory()
    grant(user, tree["brand"], "view")
    client.force_login(user)
    return user


# -- login required -------------------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    [
        LIBRARY,
        "/library/folders/1/",
        "/library/folders/1/grid/",
        "/assets/1/",
        "/assets/1/tile/",
        "/assets/1/download/",
        "/assets/1/r/thumb/",
        "/collections/",
        "/reports/",
        "/settings/",
    ],
)
def test_pages_need_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.url == f"{reverse('accounts:login')}?next={path}"


def test_folder_create_needs_login(client, tree):
    response = client.post(reverse("assets:folder_create_top"), {"name": "X"})
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))
    assert not Folder.objects.filter(name="X").exists()


def test_home_redirects_by_role(client):
    assert client.get("/").url == reverse("accounts:login")
    client.force_login(UserFactory())
    assert client.get("/").url == LIBRARY
    client.force_login(UserFactory(role=Role.REPORTS))
    assert client.get("/").url == "/reports/"


# -- library root ---------------------------------------------------------------------
def test_library_root_lists_only_visible_folders(client, tree, viewer):
    response = client.get(LIBRARY)
    assert response.status_code == 200
    assert [f.name for f in response.context["children"]] == ["Brand"]
    html = response.text
    assert folder_url(tree["brand"]) in html
    assert folder_url(tree["secret"]) not in html
    assert "Secret" not in html


def test_library_root_for_admin_lists_every_top_folder(client, tree):
    client.force_login(tree["admin"])
    response = client.get(LIBRARY)
    assert [f.name for f in response.context["children"]] == ["Brand", "Secret"]
    assert "New folder" in response.text


def test_library_root_shows_a_deep_grant_at_the_top(client, tree):
    user = UserFactory()
    grant(user, tree["logos"], "view")
    client.force_login(user)
    response = client.get(LIBRARY)
    assert [f.name for f in response.context["children"]] == ["Logos"]
    assert folder_url(tree["brand"]) not in response.text  # its parent stays hidden


def test_user_without_grants_sees_the_empty_state(client, tree):
    client.force_login(UserFactory())
    response = client.get(LIBRARY)
    assert response.status_code == 200
    assert list(response.context["children"]) == []
    html = response.text
    assert "Your library is empty" in html
    assert "No folders are shared with you yet" in html
    assert "New folder" not in html
    assert "Brand" not in html and "Secret" not in html


def test_admin_empty_library_invites_creating_a_folder(client, admin):
    client.force_login(admin)
    response = client.get(LIBRARY)
    assert "Your library is empty" in response.text
    assert "Create a folder to start uploading assets." in response.text


# -- folder page ----------------------------------------------------------------------
def test_folder_page_paired(client, tree, viewer):
    response = client.get(folder_url(tree["logos"]))
    assert response.status_code == 200
    assert response.context["folder"] == tree["logos"]
    assert [a.pk for a in response.context["assets"]] == [tree["logo"].pk]
    assert [b.name for b in response.context["breadcrumbs"]] == ["Brand", "Logos"]
    assert reverse("assets:detail", args=[tree["logo"].pk]) in response.text

    invisible = client.get(folder_url(tree["secret"]))
    assert invisible.status_code == 404
    assert "hidden" not in invisible.text
    missing = client.get(f"/library/folders/{10**9}/")
    assert missing.status_code == 404
    assert invisible.text == missing.text


def test_folder_page_sub_folders_are_filtered(client, tree, admin):
    sub = services.folder_create(actor=admin, name="Private", parent=tree["brand"])
    user = UserFactory()
    grant(user, tree["logos"], "view")
    client.force_login(user)
    assert client.get(folder_url(tree["brand"])).status_code == 404
    assert client.get(folder_url(sub)).status_code == 404
    response = client.get(folder_url(tree["logos"]))
    assert response.status_code == 200
    assert [b.name for b in response.context["breadcrumbs"]] == ["Logos"]


def test_grid_partial_paired(client, tree, viewer):
    response = client.get(reverse("assets:grid", args=[tree["logos"].pk]))
    assert response.status_code == 200
    assert f'id="asset-{tree["logo"].pk}"' in response.text
    assert "<html" not in response.text
    assert client.get(reverse("assets:grid", args=[tree["secret"].pk])).status_code == 404


def test_upload_control_only_with_contribute(client, tree):
    viewer, contributor = UserFactory(), UserFactory()
    grant(viewer, tree["brand"], "view")
    grant(contributor, tree["brand"], "contribute")

    client.force_login(viewer)
    html = client.get(folder_url(tree["logos"])).text
    assert 'id="upload-input"' not in html
    assert "js/upload.js" not in html
    assert "New folder" not in html

    client.force_login(contributor)
    html = client.get(folder_url(tree["logos"])).text
    assert 'id="upload-input"' in html
    assert "js/upload.js" in html
    assert "New folder" in html


def test_folder_page_paginates(client, admin, monkeypatch):
    from assets import views as asset_views

    monkeypatch.setattr(asset_views, "PAGE_SIZE", 2)
    folder = make_folder("/Many", actor=admin)
    for _ in range(5):
        make_asset(folder, actor=admin)
    client.force_login(admin)
    first = client.get(folder_url(folder))
    assert len(first.context["assets"]) == 2
    assert "Page 1 of 3" in first.text
    last = client.get(folder_url(folder), {"page": 3})
    assert len(last.context["assets"]) == 1
    assert client.get(folder_url(folder), {"page": "zzz"}).status_code == 200


# -- asset pages and files ------------------------------------------------------------
def test_asset_page_paired(client, tree, viewer):
    response = client.get(reverse("assets:detail", args=[tree["logo"].pk]))
    assert response.status_code == 200
    html = response.text
    assert "logo" in html
    assert reverse("assets:download", args=[tree["logo"].pk]) in html
    assert reverse("assets:rendition", args=[tree["logo"].pk, "preview"]) in html
    assert client.get(reverse("assets:detail", args=[tree["hidden"].pk])).status_code == 404
    assert client.get(reverse("assets:detail", args=[10**9])).status_code == 404


def test_asset_page_shows_a_failed_asset(client, admin):
    folder = make_folder("/Broken", actor=admin)
    data = image_upload("b.jpg", width=400, height=300).read()
    asset = services.asset_upload(
        actor=admin,
        file=SimpleUploadedFile("b.jpg", data[: len(data) // 2]),
        filename="b.jpg",
        folder=folder,
    )
    services.version_process(version_id=asset.current_version.pk)
    client.force_login(admin)
    html = client.get(reverse("assets:detail", args=[asset.pk])).text
    assert "The file could not be decoded; it may be damaged." in html


def test_tile_partial_paired(client, tree, viewer):
    response = client.get(reverse("assets:tile", args=[tree["logo"].pk]))
    assert response.status_code == 200
    assert response.text.lstrip().startswith("<li")
    assert reverse("assets:rendition", args=[tree["logo"].pk, "thumb"]) in response.text
    assert "hx-get" not in response.text  # ready: no more polling
    assert client.get(reverse("assets:tile", args=[tree["hidden"].pk])).status_code == 404


def test_tile_of_a_processing_asset_polls(client, admin):
    folder = make_folder("/Fresh", actor=admin)
    asset = make_asset(folder, actor=admin)  # processing happens after commit
    client.force_login(admin)
    html = client.get(reverse("assets:tile", args=[asset.pk])).text
    assert 'hx-trigger="load delay:1500ms"' in html
    assert "Processing" in html


def test_rendition_paired(client, tree, viewer):
    response = client.get(reverse("assets:rendition", args=[tree["logo"].pk, "thumb"]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/webp"
    assert response["Cache-Control"] == "private, max-age=86400"
    body = b"".join(response.streaming_content)
    assert body[:4] == b"RIFF" and body[8:12] == b"WEBP"

    assert (
        client.get(reverse("assets:rendition", args=[tree["hidden"].pk, "thumb"])).status_code
        == 404
    )
    assert (
        client.get(reverse("assets:rendition", args=[tree["logo"].pk, "huge"])).status_code == 404
    )


def test_rendition_not_made_yet_is_404(client, admin):
    folder = make_folder("/Fresh", actor=admin)
    asset = make_asset(folder, actor=admin)
    client.force_login(admin)
    assert client.get(reverse("assets:rendition", args=[asset.pk, "thumb"])).status_code == 404


def test_download_paired(client, tree, viewer):
    response = client.get(reverse("assets:download", args=[tree["logo"].pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert "logo.jpg" in response["Content-Disposition"]
    with default_storage.open(tree["logo"].current_version.blob_name, "rb") as fh:
        assert b"".join(response.streaming_content) == fh.read()
    assert client.get(reverse("assets:download", args=[tree["hidden"].pk])).status_code == 404


def test_stranger_gets_404_on_every_asset_url(client, tree):
    client.force_login(UserFactory())
    pk = tree["logo"].pk
    for name, args in [
        ("assets:detail", [pk]),
        ("assets:tile", [pk]),
        ("assets:download", [pk]),
        ("assets:rendition", [pk, "thumb"]),
        ("assets:folder", [tree["logos"].pk]),
        ("assets:grid", [tree["logos"].pk]),
    ]:
        assert client.get(reverse(name, args=args)).status_code == 404, name


# -- roles ----------------------------------------------------------------------------
@pytest.mark.parametrize("role", [Role.REPORTS, Role.BILLING])
def test_reports_roles_get_404_on_the_library_and_200_on_reports(client, tree, role):
    user = UserFactory(role=role)
    grant(user, tree["brand"], "manage")  # a grant changes nothing for these roles
    client.force_login(user)
    assert client.get(LIBRARY).status_code == 404
    assert client.get(folder_url(tree["logos"])).status_code == 404
    assert client.get(reverse("assets:detail", args=[tree["logo"].pk])).status_code == 404
    assert client.get("/collections/").status_code == 404
    response = client.get("/reports/")
    assert response.status_code == 200
    assert response.context["snapshot"].asset_count == 2


def test_media_library_user_gets_404_on_settings_and_reports(client, tree, viewer):
    assert client.get("/settings/").status_code == 404
    assert client.get("/reports/").status_code == 404
    html = client.get(LIBRARY).text
    assert 'href="/settings/"' not in html
    assert 'href="/reports/"' not in html


@pytest.mark.parametrize(
    ("role", "settings_status"),
    [(Role.MASTER_ADMIN, 200), (Role.ADMIN, 200), (Role.TECHNICAL_ADMIN, 404)],
)
def test_settings_only_for_user_managers(client, role, settings_status):
    client.force_login(UserFactory(role=role))
    assert client.get("/settings/").status_code == settings_status
    assert client.get("/reports/").status_code == 200


# -- query counts ---------------------------------------------------------------------
def _count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def _user_with_grants(admin, n_grants: int, n_assets: int):
    user = UserFactory()
    target = make_folder(f"/Target{n_grants}-{n_assets}/Inner", actor=admin)
    grant(user, target.parent, "view")
    for i in range(n_grants - 1):
        folder = make_folder(f"/Extra{n_grants}-{n_assets}-{i}/Sub", actor=admin)
        grant(user, folder.parent, "view")
        grant(user, folder, "contribute")
    for _ in range(n_assets):
        make_asset(target, actor=admin)
    return user, target


def test_library_query_count_does_not_grow_with_assets_or_grants(
    client, admin, django_assert_max_num_queries
):
    small_user, small_folder = _user_with_grants(admin, n_grants=1, n_assets=3)
    client.force_login(small_user)
    small_folder_queries = _count_queries(client, folder_url(small_folder))
    small_root_queries = _count_queries(client, LIBRARY)

    big_user, big_folder = _user_with_grants(admin, n_grants=10, n_assets=30)
    client.force_login(big_user)
    with django_assert_max_num_queries(small_folder_queries):
        response = client.get(folder_url(big_folder))
    assert len(response.context["assets"]) == 30
    with django_assert_max_num_queries(small_root_queries):
        response = client.get(LIBRARY)
    assert len(response.context["children"]) == 10


def test_admin_library_query_count_does_not_grow_with_assets(
    client, admin, django_assert_max_num_queries
):
    small = make_folder("/Small", actor=admin)
    for _ in range(3):
        make_asset(small, actor=admin)
    big = make_folder("/Big", actor=admin)
    for _ in range(30):
        make_asset(big, actor=admin)
    client.force_login(admin)
    baseline = _count_queries(client, folder_url(small))
    with django_assert_max_num_queries(baseline):
        response = client.get(folder_url(big))
    assert len(response.context["assets"]) == 30


# -- folder creation form -------------------------------------------------------------
def test_create_top_level_folder(client, admin):
    client.force_login(admin)
    response = client.post(reverse("assets:folder_create_top"), {"name": " Campaigns "})
    folder = Folder.objects.get(name="Campaigns")
    assert response.status_code == 302
    assert response.url == folder_url(folder)
    page = client.get(response.url)
    assert "Folder “Campaigns” created." in page_messages(page)


def test_create_sub_folder_with_contribute(client, tree):
    user = UserFactory()
    grant(user, tree["brand"], "contribute")
    client.force_login(user)
    response = client.post(
        reverse("assets:folder_create", args=[tree["logos"].pk]), {"name": "2025"}, follow=True
    )
    folder = Folder.objects.get(path="/Brand/Logos/2025")
    assert response.redirect_chain[-1][0] == folder_url(folder)
    assert "Folder “2025” created." in response.text


def test_create_duplicate_folder_shows_the_error(client, tree):
    client.force_login(tree["admin"])
    response = client.post(
        reverse("assets:folder_create", args=[tree["brand"].pk]), {"name": "LOGOS"}, follow=True
    )
    assert response.redirect_chain[-1][0] == folder_url(tree["brand"])
    assert "A folder named “LOGOS” already exists here." in page_messages(response)
    assert Folder.objects.filter(parent=tree["brand"]).count() == 1


def test_create_folder_with_bad_name_shows_the_error(client, admin):
    client.force_login(admin)
    response = client.post(reverse("assets:folder_create_top"), {"name": "a/b"}, follow=True)
    assert response.redirect_chain[-1][0] == LIBRARY
    assert any("/" in m for m in page_messages(response))
    response = client.post(reverse("assets:folder_create_top"), {"name": ""}, follow=True)
    assert "Enter a folder name of at most 255 characters." in page_messages(response)
    assert not Folder.objects.exists()


def test_create_folder_without_rights(client, tree, viewer):
    response = client.post(
        reverse("assets:folder_create", args=[tree["logos"].pk]), {"name": "Nope"}, follow=True
    )
    assert response.status_code == 200
    assert any("contribute access" in m for m in page_messages(response))
    response = client.post(reverse("assets:folder_create", args=[tree["secret"].pk]), {"name": "N"})
    assert response.status_code == 404
    response = client.post(reverse("assets:folder_create_top"), {"name": "Top"}, follow=True)
    assert "Only admins create folders at the top level." in page_messages(response)
    assert not Folder.objects.filter(name__in=["Nope", "N", "Top"]).exists()


def test_folder_create_is_post_only(client, admin):
    client.force_login(admin)
    assert client.get(reverse("assets:folder_create_top")).status_code == 405


# -- error pages ----------------------------------------------------------------------
def test_unknown_url_gets_the_friendly_404_page(client):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert "We can’t find that page" in response.text
    assert 'href="/"' in response.text


def test_unknown_url_while_logged_in_gets_the_friendly_404_page(client):
    client.force_login(UserFactory())
    response = client.get("/library/nowhere/")
    assert response.status_code == 404
    assert "We can’t find that page" in response.text


def test_500_handler_renders_html_for_pages():
    request = RequestFactory().get("/library/")
    response = dam_views.error_500(request)
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    assert "Something went wrong on our side" in response.content.decode()


def test_500_handler_answers_json_for_the_api():
    request = RequestFactory().post("/api/v1/folders")
    response = dam_views.error_500(request)
    assert response.status_code == 500
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    assert body == {
        "detail": "Something went wrong on our side; it has been logged.",
        "code": "server_error",
    }
