"""Cross-cutting writes: the audit log."""

from __future__ import annotations

from typing import Any

from django.db import models

from dam.models import AuditEvent
from dam.request_context import client_ip


def audit_record(
    *,
    actor: Any | None,
    verb: str,
    obj: models.Model | None = None,
    data: dict | None = None,
) -> AuditEvent:
    """Record one audited action; called inside the service's transaction."""
    event = _event(actor, verb, obj, obj.pk if obj is not None else None, data)
    event.save(force_insert=True)
    return event


def audit_record_many(
    *, actor: Any | None, verb: str, objects: list[tuple[models.Model | type, Any, dict]]
) -> None:
    """Record the same action on many objects in one insert: (model or instance, pk,
    data) each."""
    events = [_event(actor, verb, model, pk, data) for model, pk, data in objects]
    AuditEvent.objects.bulk_create(events, batch_size=1000)


def _event(actor, verb: str, model, pk, data: dict | None) -> AuditEvent:
    return AuditEvent(
        actor_id=getattr(actor, "pk", None) if actor is not None else None,
        verb=verb,
        object_type=model._meta.label_lower if model is not None else "",
        object_id=str(pk) if model is not None else "",
        data=data or {},
        ip=client_ip.get(),
    )


def notify(*, user, kind: str, message: str, link: str = "", key: str | None = None):
    """An in-app notification (shown until read). With a `key`, at most one is made for
    it, so a sender that runs twice notifies once. Returns (notification, created)."""
    from dam.models import Notification

    fields = {"user": user, "kind": kind, "message": message[:2000], "link": link}
    if key is None:
        return Notification.objects.create(**fields), True
    return Notification.objects.get_or_create(key=key, defaults=fields)


def notifications_mark_read(*, user, ids=None) -> int:
    """Mark the user's notifications read (all, or those `ids`)."""
    from django.utils import timezone

    from dam.models import Notification

    rows = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        rows = rows.filter(pk__in=ids)
    return rows.update(read_at=timezone.now())
