"""Log-in, log-out, password change, API tokens, createsuperuser, /me and API CSRF."""

from __future__ import annotations

import hashlib
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import ApiToken, Role, User, UserStatus
from accounts.services import api_token_create
from dam.models import AuditEvent
from dam.testing import PASSWORD, AdminFactory, GroupFactory, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
NEW_PASSWORD = "another-long-passphrase-42"


def log_in(client: Client, email: str, password: str = PASSWORD):
    return client.post(LOGIN, {"username": email, "password": password})


def is_logged_in(client: Client) -> bool:
    return client.get(reverse("accounts:password_change")).status_code == 200


def bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


def assert_error_shape(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) >= {"detail", "code"}
    assert isinstance(body["detail"], str) and body["detail"]
    if code is not None:
        assert body["code"] == code
    return body


# -- log-in and log-out ---------------------------------------------------------------
def test_login_page_renders(client):
    response = client.get(LOGIN)
    assert response.status_code == 200
    assert b'name="username"' in response.content
    assert b'name="password"' in response.content


def test_login_with_email_case_insensitively(client):
    user = UserFactory(email="ana.silva@example.com")
    response = log_in(client, "  Ana.Silva@EXAMPLE.com ")
    assert response.status_code == 302
    assert response.url == reverse("home")  # which sends each role to its start page
    assert client.get(response.url).url == reverse("assets:library")
    assert client.session["_auth_user_id"] == str(user.pk)


def test_login_follows_next(client):
    UserFactory(email="next@example.com")
    response = client.post(
        LOGIN, {"username": "next@example.com", "password": PASSWORD, "next": "/reports/"}
    )
    assert response.status_code == 302
    assert response.url == "/reports/"


def test_login_with_wrong_password_shows_the_error(client):
    UserFactory(email="ana@example.com")
    response = log_in(client, "ana@example.com", "wrong-password")
    assert response.status_code == 200
    assert "That email and password do not match an active account." in response.text
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("status", [UserStatus.INVITED, UserStatus.INACTIVE])
def test_invited_and_inactive_users_cannot_log_in(client, status):
    UserFactory(email="someone@example.com", status=status)
    response = log_in(client, "someone@example.com")
    assert response.status_code == 200
    assert "do not match an active account" in response.text
    assert "_auth_user_id" not in client.session


def test_deactivated_user_cannot_log_in(client):
    UserFactory(email="off@example.com", is_active=False)
    response = log_in(client, "off@example.com")
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_login_is_audited(client):
    user = UserFactory()
    log_in(client, user.email)
    event = AuditEvent.objects.get(verb="user.login")
    assert event.actor == user
    assert (event.object_type, event.object_id) == ("accounts.user", str(user.pk))
    assert event.ip == "127.0.0.1"


def test_logged_in_user_visiting_login_is_redirected(client):
    user = UserFactory()
    client.force_login(user)
    response = client.get(LOGIN)
    assert response.status_code == 302


def test_logout_is_a_post_and_ends_the_session(client):
    user = UserFactory()
    client.force_login(user)
    assert client.get(reverse("accounts:logout")).status_code == 405
    assert is_logged_in(client)

    response = client.post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert response.url == reverse("accounts:login")
    assert not is_logged_in(client)
    assert AuditEvent.objects.filter(verb="user.logout", actor=user).exists()


# -- password change ------------------------------------------------------------------
def test_password_change_keeps_this_session_and_ends_the_others():
    user = UserFactory()
    this, other = Client(), Client()
    assert log_in(this, user.email).status_code == 302
    assert log_in(other, user.email).status_code == 302
    assert is_logged_in(this) and is_logged_in(other)

    response = this.post(
        reverse("accounts:password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
        follow=True,
    )
    assert response.status_code == 200
    assert "Your password was changed" in response.text

    assert is_logged_in(this)
    assert not is_logged_in(other)
    event = AuditEvent.objects.get(verb="user.password_change")
    assert event.actor == user
    assert event.object_id == str(user.pk)

    fresh = Client()
    assert log_in(fresh, user.email, PASSWORD).status_code == 200  # old one is refused
    assert log_in(fresh, user.email, NEW_PASSWORD).status_code == 302


def test_password_change_with_wrong_old_password_changes_nothing(client):
    user = UserFactory()
    client.force_login(user)
    response = client.post(
        reverse("accounts:password_change"),
        {
            "old_password": "not-it",
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )
    assert response.status_code == 200
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert not AuditEvent.objects.filter(verb="user.password_change").exists()


def test_password_change_requires_login(client):
    response = client.get(reverse("accounts:password_change"))
    assert response.status_code == 302
    assert response.url.startswith(LOGIN)


# -- API tokens -----------------------------------------------------------------------
def test_create_api_token_command_prints_only_the_token(client):
    user = UserFactory(email="robot@example.com")
    out = StringIO()
    call_command("create_api_token", "ROBOT@example.com", stdout=out)
    printed = out.getvalue()
    raw = printed.strip()
    assert printed == raw + "\n"
    assert len(raw.split()) == 1
    assert raw.startswith("dam_")
    assert len(raw) > 30

    response = client.get("/api/v1/me", headers=bearer(raw))
    assert response.status_code == 200, response.content
    assert response.json()["email"] == "robot@example.com"
    assert response.json()["id"] == user.pk

    token = ApiToken.objects.get(user=user)
    assert token.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert token.name == "Command-line token"
    assert token.last_used_at is not None
    assert AuditEvent.objects.filter(verb="api_token.create", object_id=str(token.pk)).exists()


def test_api_token_is_stored_hashed_only():
    user = UserFactory()
    _, raw = api_token_create(user=user, name="ci")
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_apitoken")
        rows = cursor.fetchall()
    assert len(rows) == 1
    assert all(raw not in str(value) for value in rows[0])
    assert not ApiToken.objects.filter(key_hash=raw).exists()


def test_create_api_token_for_unknown_or_inactive_user_fails():
    UserFactory(email="gone@example.com", status=UserStatus.INACTIVE)
    for email in ("nobody@example.com", "gone@example.com"):
        with pytest.raises(CommandError, match="No active user"):
            call_command("create_api_token", email, stdout=StringIO())
    assert not ApiToken.objects.exists()


def test_revoked_token_is_401(client):
    user = UserFactory()
    token, raw = api_token_create(user=user, name="old")
    assert client.get("/api/v1/me", headers=bearer(raw)).status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    assert_error_shape(client.get("/api/v1/me", headers=bearer(raw)), 401, "not_authenticated")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer garbage",
        "Bearer dam_not-a-real-token",
        "Bearer ",
        "Bearer " + "dam_" + "x" * 500,
        "Token something",
        "Basic dXNlcjpwYXNz",
    ],
)
def test_garbage_credentials_are_401(client, header):
    assert_error_shape(client.get("/api/v1/me", HTTP_AUTHORIZATION=header), 401)


def test_no_credentials_is_401(client):
    assert_error_shape(client.get("/api/v1/me"), 401, "not_authenticated")


@pytest.mark.parametrize(
    "status", [UserStatus.INACTIVE, UserStatus.INVITED, UserStatus.PASSWORD_RESET]
)
def test_token_of_a_user_who_is_not_active_is_401(client, status):
    user = UserFactory()
    _, raw = api_token_create(user=user, name="t")
    User.objects.filter(pk=user.pk).update(status=status)
    assert_error_shape(client.get("/api/v1/me", headers=bearer(raw)), 401)


def test_unsafe_api_call_with_a_bad_token_is_401_not_a_csrf_error():
    """A script (no cookies, so no CSRF token) with a bad token hears "bad credentials"."""
    script = Client(enforce_csrf_checks=True)
    response = script.post(
        "/api/v1/folders",
        {"name": "X"},
        content_type="application/json",
        headers=bearer("dam_wrong"),
    )
    assert_error_shape(response, 401, "not_authenticated")
    response = script.post("/api/v1/folders", {"name": "X"}, content_type="application/json")
    assert_error_shape(response, 401, "not_authenticated")


def test_bearer_token_needs_no_csrf_for_unsafe_methods():
    admin = AdminFactory()
    _, raw = api_token_create(user=admin, name="script")
    script = Client(enforce_csrf_checks=True)
    response = script.post(
        "/api/v1/folders", {"name": "Scripts"}, content_type="application/json", headers=bearer(raw)
    )
    assert response.status_code == 201, response.content


# -- createsuperuser ------------------------------------------------------------------
def test_createsuperuser_noinput_makes_a_master_admin_who_can_log_in(client, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "Boss@Example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-very-long-boss-password")
    call_command("createsuperuser", interactive=False, stdout=StringIO(), stderr=StringIO())

    user = User.objects.get(email__iexact="boss@example.com")
    assert user.email == "boss@example.com"
    assert user.role == Role.MASTER_ADMIN
    assert user.status == UserStatus.ACTIVE
    assert user.is_active

    response = client.post(
        LOGIN, {"username": "boss@example.com", "password": "a-very-long-boss-password"}
    )
    assert response.status_code == 302
    assert client.get("/settings/").status_code == 200
    assert client.get("/api/v1/me").json()["role"] == "master_admin"


def test_createsuperuser_refuses_an_email_in_use(monkeypatch):
    UserFactory(email="taken@example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "TAKEN@example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-very-long-boss-password")
    with pytest.raises(CommandError, match="already exists"):
        call_command("createsuperuser", interactive=False, stdout=StringIO(), stderr=StringIO())
    assert User.objects.filter(email__iexact="taken@example.com").count() == 1


# -- /me ------------------------------------------------------------------------------
def test_me_shape(client):
    group_a, group_b = GroupFactory(name="Alpha"), GroupFactory(name="Beta")
    user = UserFactory(
        email="me@example.com",
        first_name="Mia",
        last_name="Moreau",
        can_create_collections=True,
        can_moderate_assets=True,
    )
    user.groups.add(group_a, group_b)
    client.force_login(user)
    response = client.get("/api/v1/me")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == user.pk
    assert body["email"] == "me@example.com"
    assert (body["first_name"], body["last_name"]) == ("Mia", "Moreau")
    assert body["role"] == "media_library_user"
    assert body["status"] == "active"
    assert sorted(body["groups"], key=lambda g: g["name"]) == [
        {"id": group_a.pk, "name": "Alpha"},
        {"id": group_b.pk, "name": "Beta"},
    ]
    assert body["permissions"] == {
        "create_collections": True,
        "share_collections": False,
        "moderate_assets": True,
        "delivery_url_options": False,
    }
    assert body["last_login"] is not None
    assert body["date_joined"]


# -- CSRF on session-authenticated API calls ------------------------------------------
def test_session_api_requires_csrf_for_unsafe_methods():
    admin = AdminFactory()
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin)

    assert browser.get("/api/v1/me").status_code == 200  # safe methods need no token

    response = browser.post("/api/v1/folders", {"name": "NoToken"}, content_type="application/json")
    assert_error_shape(response, 403, "csrf_failed")

    browser.get(reverse("accounts:password_change"))  # a page sets the CSRF cookie
    token = browser.cookies["csrftoken"].value
    response = browser.post(
        "/api/v1/folders",
        {"name": "WithToken"},
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 201, response.content
    assert response.json()["path"] == "/WithToken"


# -- email reuse ----------------------------------------------------------------------
def test_an_inactive_users_email_can_be_reused(client):
    old = UserFactory(email="reuse@example.com", status=UserStatus.INACTIVE)
    new = UserFactory(email="Reuse@example.com")
    assert old.pk != new.pk
    assert User.objects.get_by_natural_key("reuse@example.com") == new

    assert log_in(client, "reuse@example.com").status_code == 302
    assert client.get("/api/v1/me").json()["id"] == new.pk
