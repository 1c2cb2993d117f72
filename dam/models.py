from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """Who did what to which object, when, from where. Never updated, never deleted."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT
    )
    verb = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["object_type", "object_id"]),
            models.Index(fields=["actor", "-at"]),
            models.Index(fields=["verb", "-at"]),
        ]

    def __str__(self) -> str:
        return f"{self.actor_id} {self.verb} {self.object_type}:{self.object_id}"


class Preferences(models.Model):
    """The installation's settings: one row (pk 1), changed by master admins only."""

    seat_limit = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Most users active, invited or in password reset; empty: unlimited.",
    )
    automatic_backup = models.BooleanField(
        default=True, help_text="Keep replaced files when a new version is uploaded."
    )
    keep_metadata_on_new_version = models.BooleanField(default=True)
    block_restricted_downloads = models.BooleanField(
        default=False,
        help_text="Only admins download the originals of restricted assets.",
    )
    trash_retention_days = models.PositiveIntegerField(default=30)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "preferences"
        constraints = [
            models.CheckConstraint(condition=models.Q(pk=1), name="preferences_singleton")
        ]

    def __str__(self) -> str:
        return "Preferences"


class Notification(models.Model):
    """Something a user should know (a rejected upload, ...): shown in the app until read,
    and usually emailed too."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=40)
    # Set by senders that may run twice (a retried task): one notification per key.
    key = models.CharField(max_length=100, null=True, blank=True, unique=True)
    message = models.TextField()
    link = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["user", "-created_at"],
                name="notification_unread",
                condition=models.Q(read_at__isnull=True),
            ),
            models.Index(fields=["user", "-created_at", "-id"], name="notification_user"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.user_id}"
