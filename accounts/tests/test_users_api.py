"""API.md "Users and groups" and preferences: each lifecycle action, permission pairs
(a media library user gets 403, an admin works) and the error shape."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import Role, User, UserStatus
from accounts.services import api_token_create
from accounts.tests.conftest import link_path
from dam.testing import AdminFactory, GroupFactory, UserFactory

pytestmark = pytest.mark.django_db

API = "/api/v1"


def api_client(user) -> Client:
    _, raw = api_token_create(user=user, name="test")
    return Client(headers={"Authorization": f"Bearer {raw}"})


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["code"], str)
    if code:
        assert body["code"] == code
    return body


@pytest.fixture
def admin_api():
    return api_client(AdminFactory(role=Role.ADMIN))


@pytest.fixture
def user_api():
    return api_client(UserFactory())


ENDPOINTS = [
    ("get", "/users", None),
    ("post", "/users", {"email": "x@example.com"}),
    ("get", "/users/{id}", None),
    ("patch", "/users/{id}", {"first_name": "X"}),
    ("delete", "/users/{id}", None),
    ("post", "/users/{id}/reset-password", None),
    ("post", "/users/{id}/force-logout", None),
    ("post", "/users/{id}/resend-invite", None),
    ("get", "/groups", None),
    ("post", "/groups", {"name": "G"}),
    ("get", "/groups/{gid}", None),
    ("patch", "/groups/{gid}", {"name": "H"}),
    ("delete", "/groups/{gid}", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_media_library_users_get_403(user_api, method, path, body):
    target, group = UserFactory(), GroupFactory()
    url = API + path.format(id=target.pk, gid=group.pk)
    kwargs = {"content_type": "application/json", "data": body} if body else {}
    assert_error(getattr(user_api, method)(url, **kwargs), 403, "forbidden")
    target.refresh_from_db()
    assert target.status == UserStatus.ACTIVE


def test_unauthenticated_is_401():
    assert_error(Client().get(f"{API}/users"), 401)


def test_list_filters_and_paginates(admin_api):
    UserFactory(email="ana@example.com", first_name="Ana")
    UserFactory(email="reporter@example.com", role=Role.REPORTS)
    UserFactory(email="gone@example.com", status=UserStatus.INACTIVE, is_active=False)
    body = admin_api.get(f"{API}/users", {"q": "ANA"}).json()
    assert [u["email"] for u in body["results"]] == ["ana@example.com"]
    body = admin_api.get(f"{API}/users", {"role": "reports"}).json()
    assert [u["email"] for u in body["results"]] == ["reporter@example.com"]
    body = admin_api.get(f"{API}/users", {"status": "inactive"}).json()
    assert [u["email"] for u in body["results"]] == ["gone@example.com"]
    body = admin_api.get(f"{API}/users", {"page_size": 2}).json()
    assert body["count"] == 4 and len(body["results"]) == 2 and body["next"]
    assert_error(admin_api.get(f"{API}/users", {"page_size": 500}), 422)


def test_invite_then_lifecycle(admin_api, outbox, django_capture_on_commit_callbacks):
    group = GroupFactory()
    payload = {
        "email": "New@Example.com",
        "first_name": "Nia",
        "role": "media_library_user",
        "groups": [group.pk],
        "permissions": {"moderate_assets": True},
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_api.post(f"{API}/users", payload, content_type="application/json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "invited" and body["email"] == "new@example.com"
    assert body["groups"] == [{"id": group.pk, "name": group.name}]
    assert body["permissions"]["moderate_assets"] is True
    assert outbox[0].to == ["new@example.com"]
    uid = body["id"]

    with django_capture_on_commit_callbacks(execute=True):
        assert admin_api.post(f"{API}/users/{uid}/resend-invite").status_code == 202
    assert len(outbox) == 2
    # Setting the password through the link activates the user.
    Client().post(
        link_path(outbox[1]),
        {"new_password1": "pw-long-enough-42", "new_password2": "pw-long-enough-42"},
    )
    assert admin_api.get(f"{API}/users/{uid}").json()["status"] == "active"
    assert_error(admin_api.post(f"{API}/users/{uid}/resend-invite"), 409)

    response = admin_api.patch(
        f"{API}/users/{uid}", {"last_name": "Okafor", "groups": []}, content_type="application/json"
    )
    assert response.json()["last_name"] == "Okafor" and response.json()["groups"] == []

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_api.post(f"{API}/users/{uid}/reset-password")
    assert response.status_code == 202 and response.json()["status"] == "password_reset"
    assert len(outbox) == 3

    assert admin_api.post(f"{API}/users/{uid}/force-logout").status_code == 202
    before = User.objects.get(pk=uid).session_version

    assert admin_api.delete(f"{API}/users/{uid}").status_code == 204
    user = User.objects.get(pk=uid)
    assert user.status == UserStatus.INACTIVE and user.session_version > before
    assert admin_api.get(f"{API}/users/{uid}").json()["status"] == "inactive"
    # The email may be reused by a new user.
    again = admin_api.post(
        f"{API}/users", {"email": "new@example.com"}, content_type="application/json"
    )
    assert again.status_code == 201 and again.json()["id"] != uid


def test_invite_errors(admin_api, seat_limit):
    UserFactory(email="dupe@example.com")
    post = lambda body: admin_api.post(f"{API}/users", body, content_type="application/json")  # noqa: E731
    assert_error(post({"email": "DUPE@example.com"}), 409, "conflict")
    body = assert_error(post({"email": "nope"}), 422, "validation_error")
    assert "email" in body["errors"]
    assert "role" in assert_error(post({"email": "a@example.com", "role": "god"}), 422)["errors"]
    assert_error(post({"email": "a@example.com", "groups": [999999]}), 422)
    assert_error(post({}), 422)
    assert_error(post({"email": "boss@example.com", "role": "master_admin"}), 403)
    seat_limit(User.objects.exclude(status=UserStatus.INACTIVE).count())
    body = assert_error(post({"email": "late@example.com"}), 409, "seat_limit_reached")
    assert "seat limit" in body["detail"]
    assert not User.objects.filter(email="late@example.com").exists()


def test_unknown_ids_are_404(admin_api):
    assert_error(admin_api.get(f"{API}/users/999999"), 404)
    assert_error(admin_api.post(f"{API}/users/999999/force-logout"), 404)
    assert_error(admin_api.get(f"{API}/groups/999999"), 404)


def test_admin_cannot_touch_a_master_admin(admin_api):
    master = AdminFactory()
    assert admin_api.get(f"{API}/users/{master.pk}").status_code == 200
    assert_error(admin_api.delete(f"{API}/users/{master.pk}"), 403)
    assert_error(admin_api.post(f"{API}/users/{master.pk}/force-logout"), 403)


def test_groups_crud(admin_api):
    ann, bob = UserFactory(), UserFactory()
    response = admin_api.post(
        f"{API}/groups", {"name": "Design", "members": [ann.pk]}, content_type="application/json"
    )
    assert response.status_code == 201
    group = response.json()
    assert group["members"] == [ann.pk] and group["member_count"] == 1
    gid = group["id"]
    assert_error(
        admin_api.post(f"{API}/groups", {"name": "design"}, content_type="application/json"), 409
    )
    response = admin_api.patch(
        f"{API}/groups/{gid}",
        {"name": "Brand", "members": [ann.pk, bob.pk]},
        content_type="application/json",
    )
    assert response.json()["name"] == "Brand" and response.json()["member_count"] == 2
    listed = admin_api.get(f"{API}/groups").json()
    assert listed["count"] == 1 and listed["results"][0]["member_count"] == 2
    assert_error(
        admin_api.patch(
            f"{API}/groups/{gid}", {"members": [999999]}, content_type="application/json"
        ),
        422,
    )
    assert admin_api.delete(f"{API}/groups/{gid}").status_code == 204
    assert_error(admin_api.get(f"{API}/groups/{gid}"), 404)


def test_me_has_role_status_groups_permissions():
    group = GroupFactory()
    user = UserFactory()
    user.groups.add(group)
    body = api_client(user).get(f"{API}/me").json()
    assert body["role"] == "media_library_user" and body["status"] == "active"
    assert body["groups"][0]["id"] == group.pk and "moderate_assets" in body["permissions"]


def test_preferences_master_admin_only(admin_api):
    master = api_client(AdminFactory())
    body = master.get(f"{API}/preferences").json()
    assert body["seat_limit"] is None and body["trash_retention_days"] == 30
    response = master.patch(
        f"{API}/preferences",
        {"seat_limit": 10, "automatic_backup": False},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json()["seat_limit"] == 10 and response.json()["automatic_backup"] is False
    response = master.patch(
        f"{API}/preferences", {"seat_limit": None}, content_type="application/json"
    )
    assert response.json()["seat_limit"] is None
    assert_error(
        master.patch(
            f"{API}/preferences", {"trash_retention_days": 0}, content_type="application/json"
        ),
        422,
    )
    assert_error(admin_api.get(f"{API}/preferences"), 403)
    assert_error(
        admin_api.patch(f"{API}/preferences", {"seat_limit": 1}, content_type="application/json"),
        403,
    )
