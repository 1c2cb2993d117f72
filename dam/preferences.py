"""The installation's preferences: one row, read by anyone, changed by master admins."""

from __future__ import annotations

from django.db import transaction

from accounts import policy
from assets.services import NotAllowed, ValidationFailed
from dam.models import Preferences
from dam.services import audit_record

EDITABLE = (
    "seat_limit",
    "automatic_backup",
    "keep_metadata_on_new_version",
    "block_restricted_downloads",
    "storage_alert_bytes",
    "trash_retention_days",
)
MAX_RETENTION_DAYS = 3650


def preferences_get(*, for_update: bool = False) -> Preferences:
    """The singleton row, created with defaults on first use; locked when `for_update`."""
    Preferences.objects.get_or_create(pk=1)
    qs = Preferences.objects.select_for_update() if for_update else Preferences.objects
    return qs.get(pk=1)


def preferences_update(*, actor, changes: dict) -> Preferences:
    if not policy.can_change_preferences(actor):
        raise NotAllowed("Only master admins change preferences.")
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        field = sorted(unknown)[0]
        raise ValidationFailed(f"{field} is not a preference.", field=field)
    seat_limit = changes.get("seat_limit")
    if seat_limit is not None and not 1 <= seat_limit <= 1_000_000:
        raise ValidationFailed("The seat limit is between 1 and 1,000,000.", field="seat_limit")
    alert = changes.get("storage_alert_bytes")
    if alert is not None and (isinstance(alert, bool) or not 1 <= alert <= 2**62):
        raise ValidationFailed(
            "The storage alert is a positive number of bytes.", field="storage_alert_bytes"
        )
    days = changes.get("trash_retention_days", 30)
    if days is None or not 1 <= days <= MAX_RETENTION_DAYS:
        raise ValidationFailed(
            f"Trash retention is between 1 and {MAX_RETENTION_DAYS} days.",
            field="trash_retention_days",
        )
    for field in ("automatic_backup", "keep_metadata_on_new_version", "block_restricted_downloads"):
        if field in changes and not isinstance(changes[field], bool):
            raise ValidationFailed(f"{field} is true or false.", field=field)
    with transaction.atomic():
        prefs = preferences_get(for_update=True)
        before = {f: getattr(prefs, f) for f in changes}
        for field, value in changes.items():
            setattr(prefs, field, value)
        if (
            "storage_alert_bytes" in changes
            and before["storage_alert_bytes"] != prefs.storage_alert_bytes
        ):
            prefs.storage_alert_sent_at = None  # a new threshold: the next snapshot judges
        prefs.save()
        audit_record(
            actor=actor,
            verb="preferences.update",
            obj=prefs,
            data={"before": before, "after": dict(changes)},
        )
    return prefs
