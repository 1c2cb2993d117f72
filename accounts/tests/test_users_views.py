"""Settings → Users and Groups pages, set-password, profile and tokens, login throttling."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from accounts.models import ApiToken, Role, User, UserStatus
from accounts.services import api_token_authenticate
from dam.models import Preferences
from dam.testing import PASSWORD, AdminFactory, GroupFactory, UserFactory

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def add_form(rows: list[dict]) -> dict:
    data = {
        "form-TOTAL_FORMS": "5",
        "form-INITIAL_FORMS": "0",
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "5",
    }
    for i in range(5):
        row = rows[i] if i < len(rows) else {}
        data[f"form-{i}-role"] = row.get("role", "media_library_user")
        for key, value in row.items():
            if key != "role":
                data[f"form-{i}-{key}"] = value
    return data


@pytest.mark.parametrize(
    "path",
    ["/settings/", "/accounts/users/add/", "/accounts/groups/"],
)
def test_admin_pages_are_404_for_others_and_200_for_admins(path):
    assert client_for(UserFactory()).get(path).status_code == 404
    assert client_for(UserFactory(role=Role.REPORTS)).get(path).status_code == 404
    assert client_for(AdminFactory(role=Role.ADMIN)).get(path).status_code == 200


def test_user_pages_are_404_for_others():
    target = UserFactory()
    group = GroupFactory()
    other = client_for(UserFactory())
    assert other.get(f"/accounts/users/{target.pk}/").status_code == 404
    assert other.post(f"/accounts/users/{target.pk}/delete/").status_code == 404
    assert other.get(f"/accounts/groups/{group.pk}/").status_code == 404
    target.refresh_from_db()
    assert target.status == UserStatus.ACTIVE


def test_users_list_search_and_filters():
    admin = AdminFactory()
    UserFactory(email="ana@example.com", role=Role.REPORTS)
    UserFactory(email="bob@example.com", status=UserStatus.INVITED)
    client = client_for(admin)
    page = client.get("/settings/", {"q": "ana"}).text
    assert "ana@example.com" in page and "bob@example.com" not in page
    page = client.get("/settings/", {"status": "invited"}).text
    assert "bob@example.com" in page and "ana@example.com" not in page
    page = client.get("/settings/", {"role": "reports"}).text
    assert "ana@example.com" in page and "bob@example.com" not in page
    assert "Preferences" in client.get("/settings/").text  # master admin sees the form


def test_users_list_paginates():
    admin = AdminFactory()
    for i in range(30):
        UserFactory(email=f"p{i:02d}@example.com")
    page = client_for(admin).get("/settings/", {"page": 2, "q": "p"}).text
    assert "Page 2 of 2" in page and "q=p&amp;page=1" in page


def test_add_two_users_at_once(outbox, django_capture_on_commit_callbacks):
    admin = AdminFactory()
    group = GroupFactory()
    rows = [
        {"email": "one@example.com", "first_name": "One", "groups": str(group.pk)},
        {"email": "two@example.com", "create_collections": "on"},
    ]
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(admin).post("/accounts/users/add/", add_form(rows))
    assert response.status_code == 302, response.content
    one, two = User.objects.filter(email__in=["one@example.com", "two@example.com"]).order_by(
        "email"
    )
    assert one.status == UserStatus.INVITED and list(one.groups.all()) == [group]
    assert two.can_create_collections
    assert len(outbox) == 2


def test_add_past_the_seat_limit_is_refused_whole(seat_limit):
    admin = AdminFactory()
    seat_limit(2)
    rows = [{"email": "one@example.com"}, {"email": "two@example.com"}]
    response = client_for(admin).post("/accounts/users/add/", add_form(rows), follow=True)
    assert "seat limit is 2" in response.text
    assert not User.objects.filter(email__in=["one@example.com", "two@example.com"]).exists()


def test_add_needs_one_row():
    response = client_for(AdminFactory()).post("/accounts/users/add/", add_form([]))
    assert response.status_code == 200
    assert "Fill in at least one email address." in response.text


def test_edit_and_lifecycle_buttons(outbox, django_capture_on_commit_callbacks):
    admin = AdminFactory()
    user = UserFactory()
    client = client_for(admin)
    page = client.get(f"/accounts/users/{user.pk}/").text
    assert "Reset password" in page and "Delete this user?" in page
    response = client.post(
        f"/accounts/users/{user.pk}/",
        {
            "first_name": "Zed",
            "last_name": "Z",
            "role": "media_library_user",
            "moderate_assets": "on",
        },
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.first_name == "Zed" and user.can_moderate_assets
    client.post(f"/accounts/users/{user.pk}/force-logout/")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/accounts/users/{user.pk}/reset-password/")
    user.refresh_from_db()
    assert user.status == UserStatus.PASSWORD_RESET and len(outbox) == 1
    response = client.post(f"/accounts/users/{user.pk}/delete/", follow=True)
    user.refresh_from_db()
    assert user.status == UserStatus.INACTIVE
    assert "is now inactive" in response.text
    assert client.post(f"/accounts/users/{user.pk}/explode/").status_code == 404


def test_groups_pages():
    admin = AdminFactory()
    ann = UserFactory(email="ann@example.com")
    client = client_for(admin)
    response = client.post("/accounts/groups/", {"name": "Design"})
    group = Group.objects.get(name="Design")
    assert response.url == f"/accounts/groups/{group.pk}/"
    client.post(f"/accounts/groups/{group.pk}/members/", {"user": [ann.pk]})
    assert list(group.user_set.all()) == [ann]
    page = client.get(f"/accounts/groups/{group.pk}/", {"q": "ann"}).text
    assert "ann@example.com" in page and "1 member" in page
    assert "1" in client.get("/accounts/groups/").text
    client.post(f"/accounts/groups/{group.pk}/", {"name": "Brand"})
    group.refresh_from_db()
    assert group.name == "Brand"
    client.post(f"/accounts/groups/{group.pk}/members/{ann.pk}/remove/")
    assert group.user_set.count() == 0
    client.post(f"/accounts/groups/{group.pk}/delete/")
    assert not Group.objects.filter(pk=group.pk).exists()


def test_preferences_form_master_admin_only():
    master = AdminFactory()
    admin = AdminFactory(role=Role.ADMIN)
    data = {"seat_limit": "7", "trash_retention_days": "14", "automatic_backup": "on"}
    assert client_for(admin).post("/accounts/preferences/", data).status_code == 404
    client_for(master).post("/accounts/preferences/", data)
    prefs = Preferences.objects.get(pk=1)
    assert prefs.seat_limit == 7 and prefs.trash_retention_days == 14
    assert prefs.automatic_backup and not prefs.keep_metadata_on_new_version


def test_profile_name_notifications_and_tokens():
    user = UserFactory()
    client = client_for(user)
    assert client.get("/accounts/profile/").status_code == 200
    client.post("/accounts/profile/", {"form": "profile", "first_name": "Pat", "last_name": "Lee"})
    user.refresh_from_db()
    assert user.first_name == "Pat" and user.notify_on_share is False
    response = client.post("/accounts/profile/", {"form": "token", "name": "CI"})
    raw = response.context["new_token"]["raw"]
    assert raw in response.text and api_token_authenticate(raw) == user
    token = ApiToken.objects.get(user=user)
    assert token.prefix in client.get("/accounts/profile/").text
    assert raw not in client.get("/accounts/profile/").text
    client.post(reverse("accounts:api_token_revoke", args=[token.pk]))
    assert api_token_authenticate(raw) is None
    other = client_for(UserFactory())
    assert other.post(reverse("accounts:api_token_revoke", args=[token.pk])).status_code == 404


def test_login_is_throttled_per_email_and_address():
    user = UserFactory(email="victim@example.com")
    client = Client()
    for _ in range(4):
        response = client.post("/accounts/login/", {"username": user.email, "password": "bad"})
        assert response.status_code == 200
    response = client.post("/accounts/login/", {"username": "Victim@Example.com", "password": "x"})
    assert response.status_code == 429
    assert "Too many failed log-ins" in response.text
    # Even the right password is refused while locked.
    response = client.post("/accounts/login/", {"username": user.email, "password": PASSWORD})
    assert response.status_code == 429
    # Another account from the same address is not locked.
    other = UserFactory()
    response = client.post("/accounts/login/", {"username": other.email, "password": PASSWORD})
    assert response.status_code == 302
