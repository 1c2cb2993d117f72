"""Writes to users and tokens: in a transaction, audited."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from accounts import policy
from accounts.models import (
    ApiToken,
    CollectionUserGrant,
    FolderUserGrant,
    Role,
    User,
    UserStatus,
)
from assets.services import Conflict, NotAllowed, ValidationFailed
from dam.preferences import preferences_get
from dam.services import audit_record

TOKEN_PREFIX = "dam_"


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def api_token_create(*, user: User, name: str, actor: User | None = None) -> tuple[ApiToken, str]:
    """Make a personal access token; the raw value is returned once and never stored."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name[:100] or "API token",
            prefix=raw[:12],
            key_hash=token_hash(raw),
        )
        audit_record(
            actor=actor or user,
            verb="api_token.create",
            obj=token,
            data={"user": user.pk},
        )
    return token, raw


def api_token_authenticate(raw: str) -> User | None:
    """The active user owning this token, or None. Touches last_used at most once a minute."""
    if not raw or not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=token_hash(raw), revoked_at__isnull=True)
        .first()
    )
    if token is None:
        return None
    user = token.user
    if not user.is_active or user.status not in (UserStatus.ACTIVE,):
        return None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return user


# -- the user lifecycle ----------------------------------------------------------------
# Statuses: invited (no password yet) -> active; reset -> password_reset -> active;
# delete -> inactive, for good. Set-password links are Django password-reset tokens: they
# hash the password, last login, status and session version, so setting a password (or a
# reset, a delete) spends every earlier link; PASSWORD_RESET_TIMEOUT expires them.

MAX_INVITES_AT_ONCE = 5
PERMISSION_FIELDS = {
    "create_collections": "can_create_collections",
    "share_collections": "can_share_collections",
    "moderate_assets": "can_moderate_assets",
    "delivery_url_options": "can_use_delivery_urls",
}


class SeatLimitReached(Conflict):
    code = "seat_limit_reached"


class SetPasswordTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "accounts.services.SetPasswordTokenGenerator"

    def _make_hash_value(self, user, timestamp):
        base = super()._make_hash_value(user, timestamp)
        return f"{base}{user.status}{user.is_active}{user.session_version}"


set_password_tokens = SetPasswordTokenGenerator()


@dataclass
class NewUser:
    email: str
    first_name: str = ""
    last_name: str = ""
    role: str = Role.MEDIA_LIBRARY_USER
    groups: list = field(default_factory=list)
    permissions: dict = field(default_factory=dict)


def set_password_path(user: User) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = set_password_tokens.make_token(user)
    return reverse("accounts:set_password", args=[uid, token])


def user_from_set_password_link(uidb64: str, token: str) -> User | None:
    """The user a set-password link belongs to, or None if it is wrong, used or expired."""
    try:
        pk = int(force_str(urlsafe_base64_decode(uidb64)))
    except (TypeError, ValueError, OverflowError, UnicodeDecodeError):
        return None
    user = User.objects.filter(pk=pk).first()
    if user is None or user.status not in (UserStatus.INVITED, UserStatus.PASSWORD_RESET):
        return None
    if not user.is_active or not set_password_tokens.check_token(user, token):
        return None
    return user


def _require_manager(actor, target: User | None = None) -> None:
    if not policy.can_manage_users(actor):
        raise NotAllowed("Only admins manage users and groups.")
    if target is not None and not policy.can_manage_user(actor, target):
        raise NotAllowed("Only master admins manage master admins.")


def _clean_text(value, field_name: str, label: str, max_length: int = 150) -> str:
    value = (value or "").strip()
    if "\x00" in value:
        raise ValidationFailed(f"{label} cannot contain NUL characters.", field=field_name)
    if len(value) > max_length:
        raise ValidationFailed(f"{label} is at most {max_length} characters.", field=field_name)
    return value


def _clean_email(value) -> str:
    email = _clean_text(value, "email", "Email", 254).lower()
    try:
        validate_email(email)
    except DjangoValidationError:
        raise ValidationFailed("Enter a valid email address.", field="email") from None
    return email


def _clean_role(actor, role) -> str:
    if role not in Role.values:
        raise ValidationFailed(
            f"Role is one of: {', '.join(Role.values)}.",
            field="role",
        )
    if not policy.can_assign_role(actor, role):
        raise NotAllowed("Only master admins make master admins.")
    return role


def _clean_groups(groups) -> list[Group]:
    ids = [g.pk if isinstance(g, Group) else g for g in groups or []]
    if any(not isinstance(i, int) for i in ids):
        raise ValidationFailed("Groups are given by id.", field="groups")
    found = list(Group.objects.filter(pk__in=ids))
    if len(found) != len(set(ids)):
        raise ValidationFailed("One or more groups do not exist.", field="groups")
    return found


def _apply_permissions(user: User, role: str, permissions: dict) -> None:
    unknown = set(permissions or {}) - set(PERMISSION_FIELDS)
    if unknown:
        raise ValidationFailed(f"Unknown permission: {sorted(unknown)[0]}.", field="permissions")
    for key, attr in PERMISSION_FIELDS.items():
        if key in (permissions or {}):
            setattr(user, attr, bool(permissions[key]))
        if role != Role.MEDIA_LIBRARY_USER:
            # The four permissions belong to media library users; admin roles can do all.
            setattr(user, attr, False)


def _email_taken(email: str, exclude_pk: int | None = None) -> bool:
    qs = User.objects.exclude(status=UserStatus.INACTIVE).filter(email__iexact=email)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return qs.exists()


def seats_used() -> int:
    return User.objects.exclude(status=UserStatus.INACTIVE).count()


def _check_seats(adding: int) -> None:
    """Lock the preferences row so two concurrent invitations cannot both take the last seat."""
    limit = preferences_get(for_update=True).seat_limit
    if limit is None:
        return
    used = seats_used()
    if used + adding > limit:
        free = max(limit - used, 0)
        raise SeatLimitReached(
            f"The seat limit is {limit} and {used} seats are in use, so "
            f"{'no more users' if free == 0 else f'only {free} more user(s)'} can be added. "
            "Delete users or raise the limit in Settings."
        )


def _send_link_email(*, user: User, subject: str, template: str, base_url: str | None) -> None:
    """Send after commit, so a rolled-back invitation never mails a link."""
    link = (base_url or settings.DAM_BASE_URL).rstrip("/") + set_password_path(user)
    context = {"user": user, "link": link, "days": settings.DAM_INVITE_DAYS}
    body = render_to_string(template, context)
    recipient = user.email
    from accounts.tasks import send_email

    # A mail server or broker outage must not turn a committed change into an error;
    # the task retries, and a lost one is logged by on_commit(robust=True).
    transaction.on_commit(lambda: send_email.delay(subject, body, recipient), robust=True)


def users_invite(*, actor, new_users: list[NewUser], base_url: str | None = None) -> list[User]:
    """Invite one to five users at once: all of them or none (seats, emails, validation)."""
    _require_manager(actor)
    if not 1 <= len(new_users) <= MAX_INVITES_AT_ONCE:
        raise ValidationFailed(f"Add between 1 and {MAX_INVITES_AT_ONCE} users at once.")
    rows = []
    seen = set()
    for new in new_users:
        email = _clean_email(new.email)
        if email in seen:
            raise ValidationFailed(f"{email} is listed twice.", field="email")
        seen.add(email)
        rows.append(
            (
                new,
                email,
                _clean_role(actor, new.role),
                _clean_groups(new.groups),
            )
        )
    created = []
    with transaction.atomic():
        _check_seats(len(rows))
        for new, email, role, groups in rows:
            if _email_taken(email):
                raise Conflict(f"A user with email {email} already exists.", field="email")
            user = User(
                email=email,
                first_name=_clean_text(new.first_name, "first_name", "First name"),
                last_name=_clean_text(new.last_name, "last_name", "Last name"),
                role=role,
                status=UserStatus.INVITED,
            )
            _apply_permissions(user, role, new.permissions)
            user.set_unusable_password()
            user.save()
            user.groups.set(groups)
            audit_record(
                actor=actor,
                verb="user.invite",
                obj=user,
                data={"email": email, "role": role, "groups": [g.pk for g in groups]},
            )
            _send_link_email(
                user=user,
                subject="You are invited to Atrium DAM",
                template="accounts/email/invite.txt",
                base_url=base_url,
            )
            created.append(user)
    return created


def user_invite(*, actor, new_user: NewUser, base_url: str | None = None) -> User:
    return users_invite(actor=actor, new_users=[new_user], base_url=base_url)[0]


def user_update(
    *,
    actor,
    user: User,
    first_name: str | None = None,
    last_name: str | None = None,
    role: str | None = None,
    groups: list | None = None,
    permissions: dict | None = None,
) -> User:
    _require_manager(actor, user)
    if user.status == UserStatus.INACTIVE:
        raise Conflict("This user was deleted and can no longer be changed.")
    changes: dict = {}
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if first_name is not None:
            user.first_name = changes["first_name"] = _clean_text(
                first_name, "first_name", "First name"
            )
        if last_name is not None:
            user.last_name = changes["last_name"] = _clean_text(last_name, "last_name", "Last name")
        if role is not None and role != user.role:
            if user.pk == actor.pk:
                raise NotAllowed("You cannot change your own role.")
            user.role = changes["role"] = _clean_role(actor, role)
        _apply_permissions(user, user.role, permissions or {})
        if permissions:
            changes["permissions"] = {k: bool(v) for k, v in permissions.items()}
        user.save()
        if groups is not None:
            found = _clean_groups(groups)
            user.groups.set(found)
            changes["groups"] = [g.pk for g in found]
        audit_record(actor=actor, verb="user.update", obj=user, data=changes)
    policy.reset_access_cache(user)
    return user


def user_resend_invite(*, actor, user: User, base_url: str | None = None) -> User:
    _require_manager(actor, user)
    if user.status != UserStatus.INVITED:
        raise Conflict("Only invited users can be sent the invitation again.")
    with transaction.atomic():
        audit_record(actor=actor, verb="user.resend_invite", obj=user)
        _send_link_email(
            user=user,
            subject="Your invitation to Atrium DAM",
            template="accounts/email/invite.txt",
            base_url=base_url,
        )
    return user


def _end_sessions(user: User) -> None:
    User.objects.filter(pk=user.pk).update(session_version=F("session_version") + 1)
    user.refresh_from_db(fields=["session_version"])
    _revoke_tokens(user)


def _revoke_tokens(user: User) -> int:
    """Tokens end with the sessions: a token minted from a stolen session dies too."""
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def user_force_logout(*, actor, user: User) -> User:
    """Every session of the user ends on its next request (the session hash changes)."""
    _require_manager(actor, user)
    if user.status == UserStatus.INACTIVE:
        raise Conflict("This user was deleted and has no sessions.")
    with transaction.atomic():
        _end_sessions(user)
        audit_record(actor=actor, verb="user.force_logout", obj=user)
    return user


def user_reset_password(*, actor, user: User, base_url: str | None = None) -> User:
    """Sessions end now, the old password stops working, a set-password link is mailed."""
    _require_manager(actor, user)
    if user.status == UserStatus.INACTIVE:
        raise Conflict("This user was deleted; invite them again instead.")
    if user.status == UserStatus.INVITED:
        raise Conflict("This user has not set a password yet; resend the invitation instead.")
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        user.set_unusable_password()
        user.status = UserStatus.PASSWORD_RESET
        user.session_version += 1
        user.save(update_fields=["password", "status", "session_version"])
        revoked = _revoke_tokens(user)
        audit_record(
            actor=actor, verb="user.reset_password", obj=user, data={"tokens_revoked": revoked}
        )
        _send_link_email(
            user=user,
            subject="Set a new password for Atrium DAM",
            template="accounts/email/reset.txt",
            base_url=base_url,
        )
    return user


def user_delete(*, actor, user: User) -> User:
    """Inactive for good: no log-in, no tokens, no seat; their work stays attributed."""
    _require_manager(actor, user)
    if user.pk == actor.pk:
        raise NotAllowed("You cannot delete your own account.")
    if user.status == UserStatus.INACTIVE:
        return user
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        user.status = UserStatus.INACTIVE
        user.is_active = False
        user.set_unusable_password()
        user.session_version += 1
        user.save(update_fields=["status", "is_active", "password", "session_version"])
        revoked = _revoke_tokens(user)
        # Their folder shares end with them (group memberships stay, but an inactive
        # user never signs in, so those give nothing).
        shares, _ = FolderUserGrant.objects.filter(user=user).delete()
        # Their collection invites end too; collections they created stay (and keep
        # their invitees), labelled with the inactive creator.
        invites, _ = CollectionUserGrant.objects.filter(user=user).delete()
        audit_record(
            actor=actor,
            verb="user.delete",
            obj=user,
            data={
                "tokens_revoked": revoked,
                "shares_removed": shares,
                "collection_invites_removed": invites,
            },
        )
    return user


def user_set_password(*, user: User, password: str) -> User:
    """From a set-password link (already checked): the user becomes active."""
    if user.status not in (UserStatus.INVITED, UserStatus.PASSWORD_RESET) or not user.is_active:
        raise Conflict("This link is no longer valid.")
    try:
        validate_password(password, user)
    except DjangoValidationError as exc:
        raise ValidationFailed(" ".join(exc.messages), field="password") from None
    with transaction.atomic():
        previous = user.status
        user.set_password(password)
        user.status = UserStatus.ACTIVE
        user.save(update_fields=["password", "status"])
        audit_record(actor=user, verb="user.set_password", obj=user, data={"from": previous})
    return user


def user_update_profile(
    *, user: User, first_name: str, last_name: str, notify_on_share: bool
) -> User:
    with transaction.atomic():
        user.first_name = _clean_text(first_name, "first_name", "First name")
        user.last_name = _clean_text(last_name, "last_name", "Last name")
        user.notify_on_share = bool(notify_on_share)
        user.save(update_fields=["first_name", "last_name", "notify_on_share"])
        audit_record(
            actor=user,
            verb="user.update_profile",
            obj=user,
            data={"notify_on_share": user.notify_on_share},
        )
    return user


def api_token_revoke(*, user: User, token: ApiToken) -> ApiToken:
    if token.user_id != user.pk:
        raise NotAllowed("This is not your token.")
    with transaction.atomic():
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            audit_record(actor=user, verb="api_token.revoke", obj=token)
    return token


# -- groups ----------------------------------------------------------------------------
def _clean_group_name(name, exclude_pk: int | None = None) -> str:
    name = _clean_text(name, "name", "Name", 150)
    if not name:
        raise ValidationFailed("A group needs a name.", field="name")
    qs = Group.objects.filter(name__iexact=name)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    if qs.exists():
        raise Conflict(f"A group named {name} already exists.", field="name")
    return name


def _clean_members(members) -> list[User]:
    ids = [m.pk if isinstance(m, User) else m for m in members or []]
    if any(not isinstance(i, int) for i in ids):
        raise ValidationFailed("Members are given by user id.", field="members")
    found = list(User.objects.filter(pk__in=ids).exclude(status=UserStatus.INACTIVE))
    if len(found) != len(set(ids)):
        raise ValidationFailed("One or more members are not active users.", field="members")
    return found


def group_create(*, actor, name: str, members: list | None = None) -> Group:
    _require_manager(actor)
    with transaction.atomic():
        group = Group.objects.create(name=_clean_group_name(name))
        found = _clean_members(members)
        group.user_set.set(found)
        audit_record(
            actor=actor,
            verb="group.create",
            obj=group,
            data={"name": group.name, "members": [u.pk for u in found]},
        )
    return group


def group_update(
    *, actor, group: Group, name: str | None = None, members: list | None = None
) -> Group:
    _require_manager(actor)
    changes: dict = {}
    with transaction.atomic():
        if name is not None and name != group.name:
            changes["name"] = group.name = _clean_group_name(name, exclude_pk=group.pk)
            group.save(update_fields=["name"])
        if members is not None:
            found = _clean_members(members)
            group.user_set.set(found)
            changes["members"] = [u.pk for u in found]
        audit_record(actor=actor, verb="group.update", obj=group, data=changes)
    return group


def group_add_members(*, actor, group: Group, users: list[User]) -> Group:
    _require_manager(actor)
    with transaction.atomic():
        found = _clean_members(users)
        group.user_set.add(*found)
        audit_record(
            actor=actor, verb="group.add_members", obj=group, data={"users": [u.pk for u in found]}
        )
    return group


def group_remove_members(*, actor, group: Group, users: list[User]) -> Group:
    _require_manager(actor)
    with transaction.atomic():
        group.user_set.remove(*users)
        audit_record(
            actor=actor,
            verb="group.remove_members",
            obj=group,
            data={"users": [u.pk for u in users]},
        )
    return group


def group_delete(*, actor, group: Group) -> None:
    """Members lose what the group granted them; the members themselves are untouched."""
    _require_manager(actor)
    with transaction.atomic():
        data = {"name": group.name, "members": group.user_set.count()}
        pk = group.pk
        audit_record(actor=actor, verb="group.delete", obj=group, data=data)
        group.delete()
        group.pk = pk
