import pytest
from django.test import Client, RequestFactory

from dam.middleware import request_ip
from dam.models import AuditEvent
from dam.testing import PASSWORD, UserFactory


def test_oversized_api_upload_is_refused_before_reading(client, settings):
    settings.DAM_MAX_UPLOAD_BYTES = 1000
    response = client.post(
        "/api/v1/assets",
        data=b"x" * 10,
        content_type="application/octet-stream",
        CONTENT_LENGTH=str(5 * 1024 * 1024),
    )
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"


def test_oversized_page_post_gets_a_friendly_page(client, settings):
    settings.DAM_MAX_UPLOAD_BYTES = 1000
    response = client.post(
        "/library/folders/new/",
        data=b"x",
        content_type="application/octet-stream",
        CONTENT_LENGTH=str(5 * 1024 * 1024),
    )
    assert response.status_code == 413
    assert "too large" in response.text


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "1.2.3.4", "10.0.0.1"),
        (1, "1.2.3.4", "1.2.3.4"),
        (1, "6.6.6.6, 1.2.3.4", "1.2.3.4"),
        (2, "1.2.3.4, 10.0.0.9", "1.2.3.4"),
        (2, "", "10.0.0.1"),
    ],
)
def test_client_ip_trusts_only_the_configured_proxies(settings, proxies, forwarded, expected):
    settings.DAM_TRUSTED_PROXIES = proxies
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)
    assert request_ip(request) == expected


@pytest.mark.django_db
def test_a_stale_login_form_gets_the_friendly_csrf_page():
    user = UserFactory()
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"username": user.email, "password": PASSWORD})
    assert response.status_code == 403
    assert "Reload the page" in response.text
    assert not AuditEvent.objects.filter(verb="user.login").exists()
