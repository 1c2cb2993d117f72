from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import F, Func, Q
from django.db.models.functions import Lower


class LiveManager(models.Manager):
    """Rows not in the trash; `all_objects` sees everything."""

    def get_queryset(self):
        return super().get_queryset().filter(deleted_at__isnull=True)


class Folder(models.Model):
    """A node of the library tree; `ancestor_ids` runs from the root to this folder."""

    name = models.CharField(max_length=255)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    path = models.TextField(db_index=True, help_text='Materialized path, e.g. "/Marketing/Spring".')
    ancestor_ids = ArrayField(models.BigIntegerField(), default=list)
    depth = models.PositiveSmallIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    deleted_at = models.DateTimeField(null=True, blank=True, db_index=True)
    deleted_with = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    all_objects = models.Manager()
    objects = LiveManager()

    class Meta:
        ordering = ["path"]
        base_manager_name = "all_objects"
        default_manager_name = "objects"
        default_permissions = ()
        permissions = [
            ("view_folder", "View the folder"),
            ("contribute_folder", "Contribute to the folder"),
            ("edit_folder", "Edit in the folder"),
            ("manage_folder", "Manage the folder"),
        ]
        constraints = [
            # Case-insensitive, like the service's check, so races cannot slip past it.
            models.UniqueConstraint(
                "parent",
                Lower("name"),
                condition=Q(deleted_at__isnull=True),
                name="folder_name_unique_in_parent",
            ),
            models.UniqueConstraint(
                Lower("name"),
                condition=Q(parent__isnull=True, deleted_at__isnull=True),
                name="folder_name_unique_at_top",
            ),
        ]
        indexes = [GinIndex(fields=["ancestor_ids"], name="folder_ancestors_gin")]

    def __str__(self) -> str:
        return self.path


class AssetType(models.TextChoices):
    IMAGE = "image", "Image"
    VIDEO = "video", "Video"
    RAW = "raw", "Raw"


class AccessMode(models.TextChoices):
    PUBLIC = "public", "Public"
    RESTRICTED = "restricted", "Restricted"


class ModerationStatus(models.TextChoices):
    NOT_MODERATED = "not_moderated", "Not moderated"
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class ProcessingStatus(models.TextChoices):
    PROCESSING = "processing", "Processing"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class Asset(models.Model):
    public_id = models.CharField(max_length=255, unique=True)
    display_name = models.CharField(max_length=255)
    folder = models.ForeignKey(Folder, on_delete=models.PROTECT, related_name="assets")
    # The folder and all its ancestors: the policy filters lists with `ancestors && roots`.
    ancestors = ArrayField(models.BigIntegerField(), default=list)
    type = models.CharField(max_length=16, choices=AssetType.choices, db_index=True)
    format = models.CharField(max_length=16, db_index=True)
    mime_type = models.CharField(max_length=100)
    original_filename = models.CharField(max_length=255)
    bytes = models.BigIntegerField(default=0)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    duration = models.FloatField(null=True, blank=True)
    tags = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    context = models.JSONField(default=dict, blank=True)
    access_mode = models.CharField(
        max_length=16,
        choices=AccessMode.choices,
        default=AccessMode.PUBLIC,
        db_index=True,
    )
    # A public asset is public only inside this window (either end may be open); outside
    # it, it is delivered as if restricted. After expires_at it is not delivered publicly
    # at all and is badged "expired".
    public_from = models.DateTimeField(null=True, blank=True)
    public_until = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    moderation_status = models.CharField(
        max_length=16,
        choices=ModerationStatus.choices,
        default=ModerationStatus.NOT_MODERATED,
        db_index=True,
    )
    processing_status = models.CharField(
        max_length=16,
        choices=ProcessingStatus.choices,
        default=ProcessingStatus.PROCESSING,
    )
    processing_error = models.TextField(blank=True)
    # Extracted by the pipeline: EXIF/IPTC/XMP essentials, colour profile, dominant
    # colours, page count, video codec... (JSON); the perceptual hash is its own column.
    facts = models.JSONField(default=dict, blank=True)
    phash = models.CharField(max_length=16, blank=True, db_index=True)
    # Full-text search: kept by PostgreSQL triggers (migration 0006) from the name and
    # tags (weight A), the file name (B), metadata and context values (C), comments (D).
    search_vector = SearchVectorField(null=True, editable=False)
    pages = models.PositiveIntegerField(null=True, blank=True)
    preset = models.ForeignKey(
        "UploadPreset", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="uploaded_assets",
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Trash: set when the asset (or a folder above it, `deleted_with`) is deleted.
    deleted_at = models.DateTimeField(null=True, blank=True, db_index=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    deleted_with = models.ForeignKey(
        Folder, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    all_objects = models.Manager()
    objects = LiveManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        base_manager_name = "all_objects"
        default_manager_name = "objects"
        indexes = [
            GinIndex(fields=["ancestors"], name="asset_ancestors_gin"),
            # Search: one GIN over permission, text, tags and metadata, so a restricted
            # user's search intersects inside one index scan (GIN skips through the larger
            # posting list) instead of ANDing two whole bitmaps; any subset of the columns
            # can use it.
            # Metadata with jsonb_path_ops: one entry per path and value, so `@>` reads
            # the posting list of `region=emea` alone, where the default jsonb_ops ANDs the
            # key's (every asset) with the value's (a narrow user's scan: 4.8 -> 1.5 ms).
            # It serves containment only: which assets hold a key is the next index's.
            GinIndex(
                F("ancestors"),
                F("search_vector"),
                F("tags"),
                OpClass(F("metadata"), name="jsonb_path_ops"),
                name="asset_search_gin",
            ),
            # Which assets hold a field at all (the key test the index above cannot
            # answer): the metadata's keys, by a function that migration 0014 creates.
            GinIndex(
                Func(
                    F("metadata"),
                    function="dam_metadata_keys",
                    output_field=ArrayField(models.TextField()),
                ),
                name="asset_metadata_keys",
            ),
            models.Index(fields=["folder", "-created_at"], name="asset_folder_created"),
            # The other sorts of search and the library read these in order, with LIMIT.
            models.Index(Lower("display_name"), "id", name="asset_name_lower"),
            models.Index(F("bytes").desc(), F("id").desc(), name="asset_bytes_desc"),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def current_version(self) -> AssetVersion | None:
        return self.versions.filter(number=self.version).first()


class AssetVersion(models.Model):
    """One file revision. `blob_name` is the content-addressed original in storage."""

    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    blob_name = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64, db_index=True)
    bytes = models.BigIntegerField()
    format = models.CharField(max_length=16)
    mime_type = models.CharField(max_length=100)
    original_filename = models.CharField(max_length=255)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    duration = models.FloatField(null=True, blank=True)
    pages = models.PositiveIntegerField(null=True, blank=True)
    facts = models.JSONField(default=dict, blank=True)
    # Set when "automatic backup" is off and a newer version replaced this one's file:
    # the row stays for history, the blob is gone.
    blob_released_at = models.DateTimeField(null=True, blank=True)
    restored_from = models.PositiveIntegerField(
        null=True, blank=True, help_text="The version number this one restored."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["asset", "number"], name="asset_version_number_unique")
        ]

    def __str__(self) -> str:
        return f"{self.asset_id} v{self.number}"


class DeliveryPreset(models.Model):
    """A named transformation (`t_NAME` in delivery URLs), defined by admins: what
    unsigned URLs may ask for (strict transformations)."""

    name = models.SlugField(max_length=50, unique=True)
    transformation = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"t_{self.name}"


class Rendition(models.Model):
    """A derived file for one version and one spec; made once (get-or-create)."""

    version = models.ForeignKey(AssetVersion, on_delete=models.CASCADE, related_name="renditions")
    spec = models.CharField(max_length=100)
    file_name = models.CharField(max_length=255)
    format = models.CharField(max_length=16)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    bytes = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["version", "spec"], name="rendition_unique_per_spec")
        ]

    def __str__(self) -> str:
        return f"{self.version} {self.spec}"


class PublicIdMode(models.TextChoices):
    RANDOM = "random", "Random"
    FILENAME = "filename", "From the file name"


class ModerationMode(models.TextChoices):
    NONE = "none", "None"
    MANUAL = "manual", "Manual review"
    AUTO = "auto", "Automatic checks"


class UploadPreset(models.Model):
    """How uploads are named, placed, tagged, moderated and protected (admin-defined)."""

    name = models.SlugField(max_length=100, unique=True)
    public_id_mode = models.CharField(
        max_length=16, choices=PublicIdMode.choices, default=PublicIdMode.RANDOM
    )
    overwrite = models.BooleanField(
        default=False, help_text="An upload with an existing public ID makes a new version."
    )
    folder = models.ForeignKey(
        Folder, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    tags = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    moderation = models.CharField(
        max_length=16, choices=ModerationMode.choices, default=ModerationMode.NONE
    )
    auto_checks = models.JSONField(default=list, blank=True)
    # {check: {threshold: value}} over moderation.checks.DEFAULTS; see that module.
    check_settings = models.JSONField(default=dict, blank=True)
    access_mode = models.CharField(
        max_length=16, choices=AccessMode.choices, default=AccessMode.PUBLIC
    )
    default_for = ArrayField(
        models.CharField(max_length=16, choices=AssetType.choices), default=list, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Comment(models.Model):
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.author_id} on {self.asset_id}"


class UploadSession(models.Model):
    """A resumable (chunked) upload in progress; bytes go to a temporary file on disk."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    folder = models.ForeignKey(Folder, on_delete=models.CASCADE, related_name="+")
    filename = models.CharField(max_length=255)
    size = models.BigIntegerField()
    received = models.BigIntegerField(default=0)
    fields = models.JSONField(default=dict, blank=True)
    asset = models.ForeignKey(
        Asset, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.filename} ({self.received}/{self.size})"


class Collection(models.Model):
    """A curated set of assets across folders (DESIGN.md "Collections").

    Access: the creator manages; invites are guardian rows (`CollectionUserGrant`,
    `CollectionGroupGrant` in accounts) whose permission codename is the level. Deleting a
    collection never deletes its assets.
    """

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="collections"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        default_permissions = ()
        permissions = [
            ("view_collection", "View the collection"),
            ("share_collection", "Share the collection"),
            ("collaborate_collection", "Collaborate on the collection"),
            ("manage_collection", "Manage the collection"),
        ]
        indexes = [models.Index(fields=["created_by", "-updated_at"], name="collection_owner")]

    def __str__(self) -> str:
        return self.name


class CollectionItem(models.Model):
    """One asset in a collection, in the collection's order (`position`, then id)."""

    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="items")
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="collection_items")
    position = models.PositiveIntegerField(default=0)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["collection", "asset"], name="collection_item_once")
        ]
        indexes = [
            models.Index(fields=["collection", "position", "id"], name="collection_item_order"),
            models.Index(fields=["asset", "collection"], name="collection_item_asset"),
        ]

    def __str__(self) -> str:
        return f"{self.asset_id} in {self.collection_id}"


class CollectionLink(models.Model):
    """A published, read-only public page of a collection: unguessable, revocable,
    optionally expiring. At most one live link per collection; a revoked link stays as a
    record (and keeps answering 404)."""

    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="links")
    token = models.CharField(max_length=64, unique=True)
    allow_originals = models.BooleanField(default=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["collection"],
                condition=Q(revoked_at__isnull=True),
                name="one_live_link_per_collection",
            )
        ]

    def __str__(self) -> str:
        return f"Link to {self.collection_id} ({self.token[:6]}…)"

    def is_live(self, now=None) -> bool:
        from django.utils import timezone

        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class SavedSearch(models.Model):
    """A user's named search (the search page's query string): run again from the list,
    and shareable as its link (anyone opening it sees only what they may see)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_searches"
    )
    name = models.CharField(max_length=100)
    query = models.CharField(max_length=3000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = [Lower("name"), "id"]
        constraints = [
            models.UniqueConstraint("user", Lower("name"), name="saved_search_name_per_user")
        ]

    def __str__(self) -> str:
        return self.name


class SearchLexeme(models.Model):
    """Every word (lexeme) any asset's search vector holds, kept by a database trigger.

    Search expands the word being typed into the words it starts ("mou" -> "mountain",
    "mouse") and asks the GIN index for those exactly, which is far cheaper at a million
    assets than a prefix, which reads every matching posting list before it can intersect
    anything. Words of deleted assets stay (a word that no asset holds finds nothing)."""

    word = models.TextField(primary_key=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["word"], name="search_lexeme_prefix", opclasses=["text_pattern_ops"]
            )
        ]

    def __str__(self) -> str:
        return self.word


# -- automation (issue 9: expiry and automation) ---------------------------------------
class AutomationTrigger(models.TextChoices):
    DATE_REACHED = "date_reached", "A date metadata field is reached"
    FOLDER_ENTERED = "folder_entered", "An asset enters a folder"
    UPLOAD_MATCHES = "upload_matches", "An upload matches a search"


class AutomationRule(models.Model):
    """An admin-defined "when this happens, do that" (assets/automation.py).

    The trigger's parameters are columns (only the trigger's own are used); `actions` is
    a list of {"type": ..., parameters} in the order they run. Runs act with the
    authority of `run_as`, the admin who last saved the rule.
    """

    name = models.CharField(max_length=200)
    trigger = models.CharField(max_length=20, choices=AutomationTrigger.choices)
    date_field = models.CharField(max_length=100, blank=True)  # a date field's external ID
    days_ahead = models.PositiveSmallIntegerField(default=0)
    folder = models.ForeignKey(
        Folder, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    expression = models.CharField(max_length=3000, blank=True)
    actions = models.JSONField(default=list)
    paused_at = models.DateTimeField(null=True, blank=True)
    # Upload matches: uploads since here (minus a grace period) are still being judged.
    checked_until = models.DateTimeField(null=True, blank=True)
    run_as = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = [Lower("name"), "id"]
        constraints = [models.UniqueConstraint(Lower("name"), name="automation_rule_name_unique")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.paused_at is None


class AutomationRunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


class AutomationRun(models.Model):
    """One sweep of one rule. `period` is unique per rule: a scheduled run is keyed by
    its day or time slot, so two beat processes (or a restart) cannot run a rule twice
    for the same window; a manual run gets a key of its own."""

    rule = models.ForeignKey(AutomationRule, on_delete=models.CASCADE, related_name="runs")
    period = models.CharField(max_length=64)
    manual = models.BooleanField(default=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    today = models.DateField(null=True, blank=True)
    status = models.CharField(
        max_length=16, choices=AutomationRunStatus.choices, default=AutomationRunStatus.QUEUED
    )
    message = models.TextField(blank=True)
    assets_done = models.PositiveIntegerField(default=0)
    assets_failed = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "period"], name="automation_run_once_per_period"
            )
        ]
        indexes = [models.Index(fields=["rule", "-created_at"], name="automation_run_recent")]

    def __str__(self) -> str:
        return f"{self.rule_id} {self.period}"


class AutomationRunItem(models.Model):
    """An asset a rule handled, for one occurrence of its trigger (the date value for a
    date rule, "" otherwise): unique, so a rule acts on an asset at most once per
    occurrence however many runs see it. Also the run's log of the assets it touched."""

    rule = models.ForeignKey(AutomationRule, on_delete=models.CASCADE, related_name="+")
    run = models.ForeignKey(AutomationRun, on_delete=models.CASCADE, related_name="items")
    asset = models.ForeignKey(
        Asset, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    asset_name = models.CharField(max_length=255)
    occurrence = models.CharField(max_length=32, blank=True)
    ok = models.BooleanField(default=True)
    detail = models.TextField(blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "asset", "occurrence"], name="automation_item_once"
            )
        ]
        indexes = [models.Index(fields=["run", "id"], name="automation_item_run")]

    def __str__(self) -> str:
        return f"{self.rule_id}: {self.asset_id} {self.occurrence}"
