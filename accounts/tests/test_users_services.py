"""The user lifecycle and groups at the service level: invite, set password, reset,
force logout, delete, seats, groups; every write audited."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from accounts import services
from accounts.models import ApiToken, Role, User, UserStatus
from accounts.tests.conftest import link_path
from assets.services import Conflict, NotAllowed, ValidationFailed
from dam.models import AuditEvent
from dam.testing import PASSWORD, AdminFactory, GroupFactory, UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-long-new-passphrase-77"


def invite(actor, *emails, **kwargs):
    return services.users_invite(
        actor=actor,
        new_users=[services.NewUser(email=e, **kwargs) for e in emails],
        base_url="http://testserver/",
    )


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    assert client.get("/accounts/profile/").status_code == 200
    return client


def is_signed_in(client: Client) -> bool:
    return client.get("/accounts/profile/").status_code == 200


def test_invite_creates_invited_users_and_mails_links(outbox, django_capture_on_commit_callbacks):
    admin = AdminFactory()
    group = GroupFactory()
    with django_capture_on_commit_callbacks(execute=True):
        users = invite(
            admin,
            "Ann@Example.com",
            "bob@example.com",
            groups=[group.pk],
            permissions={"create_collections": True},
        )
    assert [u.email for u in users] == ["ann@example.com", "bob@example.com"]
    for user in users:
        user.refresh_from_db()
        assert user.status == UserStatus.INVITED
        assert not user.has_usable_password()
        assert user.can_create_collections and not user.can_share_collections
        assert list(user.groups.all()) == [group]
    assert sorted(m.to[0] for m in outbox) == ["ann@example.com", "bob@example.com"]
    assert "/accounts/set-password/" in outbox[0].body
    assert AuditEvent.objects.filter(verb="user.invite").count() == 2


def test_no_mail_when_the_invitation_rolls_back(outbox, django_capture_on_commit_callbacks):
    admin = AdminFactory()
    UserFactory(email="taken@example.com")
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Conflict):
        invite(admin, "new@example.com", "taken@example.com")
    assert outbox == []
    assert not User.objects.filter(email="new@example.com").exists()


def test_at_most_five_at_once_and_no_duplicates():
    admin = AdminFactory()
    with pytest.raises(ValidationFailed):
        invite(admin, *[f"u{i}@example.com" for i in range(6)])
    with pytest.raises(ValidationFailed):
        invite(admin, "same@example.com", "SAME@example.com")
    with pytest.raises(ValidationFailed):
        invite(admin, "not-an-email")


def test_permissions_only_stick_for_media_library_users():
    admin = AdminFactory()
    (user,) = invite(admin, "a@example.com", role=Role.ADMIN, permissions={"moderate_assets": True})
    assert not user.can_moderate_assets


def test_only_master_admins_make_or_manage_master_admins():
    admin = AdminFactory(role=Role.ADMIN)
    master = AdminFactory()
    with pytest.raises(NotAllowed):
        invite(admin, "boss@example.com", role=Role.MASTER_ADMIN)
    with pytest.raises(NotAllowed):
        services.user_delete(actor=admin, user=master)
    with pytest.raises(NotAllowed):
        invite(UserFactory(), "x@example.com")


def test_seat_limit_refuses_the_whole_batch(seat_limit):
    admin = AdminFactory()
    UserFactory(status=UserStatus.INACTIVE, is_active=False)  # does not count
    seat_limit(3)
    with pytest.raises(services.SeatLimitReached) as exc:
        invite(admin, "a@example.com", "b@example.com", "c@example.com")
    assert "seat limit is 3" in exc.value.message
    assert User.objects.exclude(status=UserStatus.INACTIVE).count() == 1
    invite(admin, "a@example.com", "b@example.com")
    with pytest.raises(services.SeatLimitReached):
        invite(admin, "c@example.com")


def test_deleted_users_free_their_seat_and_email(seat_limit):
    admin = AdminFactory()
    seat_limit(2)
    (user,) = invite(admin, "reuse@example.com")
    services.user_delete(actor=admin, user=user)
    (again,) = invite(admin, "reuse@example.com")
    assert again.pk != user.pk
    assert User.objects.filter(email="reuse@example.com").count() == 2


def test_set_password_link_activates_and_works_once(outbox, django_capture_on_commit_callbacks):
    admin = AdminFactory()
    with django_capture_on_commit_callbacks(execute=True):
        (user,) = invite(admin, "new@example.com")
    path = link_path(outbox[0])
    client = Client()
    assert client.get(path).status_code == 200
    response = client.post(path, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.status == UserStatus.ACTIVE and user.check_password(NEW_PASSWORD)
    assert is_signed_in(client)
    # Single use: the same link is dead now.
    assert Client().get(path).status_code == 400


def test_set_password_link_expires(outbox, django_capture_on_commit_callbacks, settings):
    admin = AdminFactory()
    with django_capture_on_commit_callbacks(execute=True):
        invite(admin, "late@example.com")
    settings.PASSWORD_RESET_TIMEOUT = -1
    assert Client().get(link_path(outbox[0])).status_code == 400


def test_garbage_links_are_refused():
    assert Client().get("/accounts/set-password/zzz/abc-def/").status_code == 400
    assert services.user_from_set_password_link("\x00", "x") is None


def test_reset_password_ends_sessions_and_old_password(outbox, django_capture_on_commit_callbacks):
    admin = AdminFactory()
    user = UserFactory()
    client = signed_in(user)
    with django_capture_on_commit_callbacks(execute=True):
        services.user_reset_password(actor=admin, user=user)
    user.refresh_from_db()
    assert user.status == UserStatus.PASSWORD_RESET
    assert not user.check_password(PASSWORD)
    assert not is_signed_in(client)
    assert (
        Client()
        .post("/accounts/login/", {"username": user.email, "password": PASSWORD})
        .status_code
        == 200
    )  # the form again, with an error
    path = link_path(outbox[0])
    Client().post(path, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    user.refresh_from_db()
    assert user.status == UserStatus.ACTIVE


def test_force_logout_ends_every_session_at_once():
    admin = AdminFactory()
    user = UserFactory()
    first, second = signed_in(user), signed_in(user)
    services.user_force_logout(actor=admin, user=user)
    assert not is_signed_in(first)
    assert not is_signed_in(second)
    user.refresh_from_db()
    assert user.check_password(PASSWORD) and user.status == UserStatus.ACTIVE
    assert AuditEvent.objects.filter(verb="user.force_logout", object_id=str(user.pk)).exists()


def test_delete_makes_inactive_for_good():
    admin = AdminFactory()
    user = UserFactory(first_name="Dora", last_name="Gone")
    client = signed_in(user)
    token, raw = services.api_token_create(user=user, name="ci")
    services.user_delete(actor=admin, user=user)
    user.refresh_from_db()
    assert user.status == UserStatus.INACTIVE and not user.is_active
    assert user.display_name == "Dora Gone (inactive)"
    assert not is_signed_in(client)
    assert services.api_token_authenticate(raw) is None
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    with pytest.raises(Conflict):
        services.user_update(actor=admin, user=user, first_name="Back")


def test_cannot_delete_yourself_or_change_your_own_role():
    admin = AdminFactory()
    with pytest.raises(NotAllowed):
        services.user_delete(actor=admin, user=admin)
    with pytest.raises(NotAllowed):
        services.user_update(actor=admin, user=admin, role=Role.MEDIA_LIBRARY_USER)


def test_resend_invite_only_for_invited(outbox, django_capture_on_commit_callbacks):
    admin = AdminFactory()
    (user,) = invite(admin, "again@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        services.user_resend_invite(actor=admin, user=user)
    assert len(outbox) == 1
    with pytest.raises(Conflict):
        services.user_resend_invite(actor=admin, user=UserFactory())


def test_update_role_groups_and_permissions():
    admin = AdminFactory()
    group = GroupFactory()
    user = UserFactory()
    services.user_update(
        actor=admin,
        user=user,
        first_name="New",
        groups=[group.pk],
        permissions={"share_collections": True, "delivery_url_options": True},
    )
    user.refresh_from_db()
    assert user.first_name == "New"
    assert user.can_share_collections and user.can_use_delivery_urls
    assert list(user.groups.all()) == [group]
    services.user_update(actor=admin, user=user, role=Role.REPORTS)
    user.refresh_from_db()
    assert user.role == Role.REPORTS and not user.can_share_collections


def test_groups_create_rename_members_delete():
    admin = AdminFactory()
    ann, bob = UserFactory(), UserFactory()
    group = services.group_create(actor=admin, name="Design", members=[ann.pk])
    assert list(group.user_set.all()) == [ann]
    with pytest.raises(Conflict):
        services.group_create(actor=admin, name="design")
    services.group_update(actor=admin, group=group, name="Brand")
    services.group_add_members(actor=admin, group=group, users=[bob])
    assert group.user_set.count() == 2
    services.group_remove_members(actor=admin, group=group, users=[ann])
    assert list(group.user_set.all()) == [bob]
    services.group_delete(actor=admin, group=group)
    assert not Group.objects.filter(name="Brand").exists()
    assert User.objects.filter(pk=bob.pk).exists()
    verbs = set(AuditEvent.objects.values_list("verb", flat=True))
    assert {"group.create", "group.update", "group.add_members", "group.delete"} <= verbs
    with pytest.raises(NotAllowed):
        services.group_create(actor=ann, name="Mine")
    with pytest.raises(ValidationFailed):
        services.group_create(actor=admin, name="  ")
