"""Lifecycle actions end API tokens too; deleted users lose their shares; mail never 500s."""

import pytest
from django.test import RequestFactory

from accounts import services
from accounts.models import FolderUserGrant
from dam.testing import AdminFactory, UserFactory, grant, make_folder

pytestmark = pytest.mark.django_db


def bearer(client, token):
    return client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code


@pytest.mark.parametrize("action", ["force_logout", "reset_password"])
def test_tokens_end_with_the_sessions(client, action):
    admin, user = AdminFactory(), UserFactory()
    _, token = services.api_token_create(user=user, name="script")
    assert bearer(client, token) == 200
    getattr(services, f"user_{action}")(actor=admin, user=user)
    assert bearer(client, token) == 401
    if action == "reset_password":
        user.refresh_from_db()
        services.user_set_password(user=user, password="a-new-long-password-42")
        assert bearer(client, token) == 401  # a new password does not revive it


def test_deleting_a_user_removes_their_folder_shares():
    admin, user = AdminFactory(), UserFactory()
    grant(user, make_folder("/Shared", actor=admin), "edit")
    services.user_delete(actor=admin, user=user)
    assert not FolderUserGrant.objects.filter(user=user).exists()


def test_a_mail_outage_does_not_fail_an_invitation(
    client, monkeypatch, django_capture_on_commit_callbacks
):
    from accounts import tasks

    def smtp_down(*args, **kwargs):
        raise ConnectionRefusedError("no mail server")

    monkeypatch.setattr(tasks.send_email, "delay", smtp_down)
    admin = AdminFactory()
    client.force_login(admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/users",
            {"email": "new@example.com", "role": "media_library_user"},
            content_type="application/json",
        )
    assert response.status_code == 201, response.content


def test_nul_bytes_in_searches_are_harmless(client):
    admin = AdminFactory()
    client.force_login(admin)
    assert client.get("/api/v1/users", {"q": "a\x00b"}).status_code == 200
    assert client.get("/settings/", {"q": "a\x00b"}).status_code == 200


def test_login_throttling_keys_on_the_client_behind_a_proxy(settings):
    from django.utils.module_loading import import_string

    settings.DAM_TRUSTED_PROXIES = 1
    request = RequestFactory().post(
        "/accounts/login/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.7"
    )
    assert import_string(settings.AXES_CLIENT_IP_CALLABLE)(request) == "203.0.113.7"
