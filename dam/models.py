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
    # Usage notifications: admins are emailed once when storage passes this many bytes
    # (empty: never); storage_alert_sent_at remembers it until storage drops below.
    storage_alert_bytes = models.BigIntegerField(null=True, blank=True)
    storage_alert_sent_at = models.DateTimeField(null=True, blank=True)
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


class UsageDaily(models.Model):
    """Counters of use per day, bumped as things happen (one UPSERT each): asset views,
    downloads, deliveries (with bytes served), collection views, searches (by their
    text; empty ones apart) and uploads (by user). Reports read these, never raw rows."""

    class Kind(models.TextChoices):
        ASSET_VIEW = "asset_view", "Asset views"
        DOWNLOAD = "download", "Downloads"
        DELIVERY = "delivery", "Deliveries"
        RENDITION = "rendition", "Renditions made"
        COLLECTION_VIEW = "collection_view", "Collection views"
        SEARCH = "search", "Searches"
        SEARCH_EMPTY = "search_empty", "Searches with no results"
        UPLOAD = "upload", "Uploads"

    day = models.DateField()
    kind = models.CharField(max_length=24, choices=Kind.choices)
    object_id = models.BigIntegerField(default=0)  # the asset or collection; 0: none
    user_id = models.BigIntegerField(default=0)  # uploads by user; 0: not per user
    key = models.CharField(max_length=200, blank=True, default="")  # a search's text
    count = models.BigIntegerField(default=0)
    bytes = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            # Led by the kind and the object (not the day), so the reports can look up a
            # few objects' totals over a year (dam.reports.analytics) by index.
            models.UniqueConstraint(
                fields=["kind", "object_id", "user_id", "key", "day"], name="usage_daily_key"
            )
        ]
        indexes = [models.Index(fields=["kind", "day"], name="usage_kind_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.kind} {self.object_id} {self.count}"


class UsageDayTotal(models.Model):
    """A settled day's total of each kind of counter (dam.reports): the charts and totals
    of a long period read a row per day and kind, not the day's per-object counters.
    Written once a day can no longer be counted into (every kind, zeros included)."""

    day = models.DateField()
    kind = models.CharField(max_length=24, choices=UsageDaily.Kind.choices)
    count = models.BigIntegerField(default=0)
    bytes = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "kind"], name="usage_day_total_unique")
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.kind} {self.count}"


class UsageTop(models.Model):
    """The top of one kind's counters summed over settled days [start, end]: the largest
    dam.reports.TOP_KEPT totals by object, user or search text, as [[key, total], ...].
    `floor` bounds every total left out (0 and `complete` when none was). The analytics
    of a long period start from this and add the recent, unsettled days."""

    kind = models.CharField(max_length=24, choices=UsageDaily.Kind.choices)
    start = models.DateField()
    end = models.DateField()
    rows = models.JSONField(default=list)
    floor = models.BigIntegerField(default=0)
    complete = models.BooleanField(default=True)
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "start", "end"], name="usage_top_unique")
        ]
        indexes = [models.Index(fields=["computed_at"], name="usage_top_computed")]

    def __str__(self) -> str:
        return f"{self.kind} {self.start}..{self.end}"


class LibrarySnapshot(models.Model):
    """The library's totals, taken by beat (the latest of each day is kept): what the
    dashboard shows without counting a million rows per visit."""

    day = models.DateField(unique=True)
    taken_at = models.DateTimeField()
    assets_by_type = models.JSONField(default=dict)
    asset_count = models.BigIntegerField(default=0)
    original_bytes = models.BigIntegerField(default=0)  # current versions' files
    version_bytes = models.BigIntegerField(default=0)  # older versions' kept files
    rendition_bytes = models.BigIntegerField(default=0)
    rendition_count = models.BigIntegerField(default=0)
    users_by_status = models.JSONField(default=dict)
    seats_used = models.IntegerField(default=0)
    seat_limit = models.IntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"{self.day}: {self.asset_count} assets"

    @property
    def storage_bytes(self) -> int:
        return self.original_bytes + self.version_bytes + self.rendition_bytes
