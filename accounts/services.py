"""Writes to users and tokens: in a transaction, audited."""

from __future__ import annotations

import hashlib
import secrets

from django.db import transaction
from django.utils import timezone

from accounts.models import ApiToken, User, UserStatus
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
