"""Structured metadata definitions: fields, their list values, and conditional rules.

Values live on the asset (`Asset.metadata`, JSONB with a GIN index), keyed by the field's
external ID; list values are stored by the value's external ID. Labels are only here, so
a rename shows everywhere at once.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower


class FieldType(models.TextChoices):
    STRING = "string", "Text"
    NUMBER = "number", "Number"
    DATE = "date", "Date"
    ENUM = "enum", "Single-select list"
    SET = "set", "Multi-select list"


class LiveFieldManager(models.Manager):
    def get_queryset(self):
        return super().get_queryset().filter(deleted_at__isnull=True)


class MetadataField(models.Model):
    # Never changes; a deleted field keeps its row so the ID is never reused (values of
    # the old field may still be on assets until the sweep removes them).
    external_id = models.CharField(max_length=100, unique=True)
    label = models.CharField(max_length=255)
    type = models.CharField(max_length=16, choices=FieldType.choices)
    position = models.PositiveIntegerField(default=0)
    mandatory = models.BooleanField(default=False)
    hidden = models.BooleanField(default=False, help_text="Hidden unless a rule shows it.")
    default = models.JSONField(null=True, blank=True)
    # Length for text, value for numbers, ISO dates for dates; unused for lists.
    min_value = models.JSONField(null=True, blank=True)
    max_value = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    all_objects = models.Manager()
    objects = LiveFieldManager()

    class Meta:
        ordering = ["position", "id"]
        base_manager_name = "all_objects"
        default_manager_name = "objects"
        constraints = [
            models.UniqueConstraint(
                Lower("label"), condition=Q(deleted_at__isnull=True), name="metadata_label_unique"
            ),
            models.UniqueConstraint(Lower("external_id"), name="metadata_external_id_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def is_list(self) -> bool:
        return self.type in (FieldType.ENUM, FieldType.SET)


class MetadataValue(models.Model):
    """One option of a list field. Blocked: no longer offered, still on assets."""

    field = models.ForeignKey(MetadataField, on_delete=models.CASCADE, related_name="values")
    external_id = models.CharField(max_length=100)
    label = models.CharField(max_length=255)
    position = models.PositiveIntegerField(default=0)
    blocked = models.BooleanField(default=False)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(
                "field", Lower("external_id"), name="metadata_value_external_id_unique"
            ),
            models.UniqueConstraint("field", Lower("label"), name="metadata_value_label_unique"),
        ]
        indexes = [models.Index(fields=["field", "position"], name="metadata_value_order")]

    def __str__(self) -> str:
        return self.label


class RuleMatch(models.TextChoices):
    ALL = "all", "Match all conditions"
    ANY = "any", "Match at least one condition"


class MetadataRule(models.Model):
    """A conditional rule on its target `field`; the field's rules apply in `position`."""

    field = models.ForeignKey(MetadataField, on_delete=models.CASCADE, related_name="rules")
    name = models.CharField(max_length=200)
    position = models.PositiveIntegerField(default=0)
    match = models.CharField(max_length=8, choices=RuleMatch.choices, default=RuleMatch.ALL)
    # [{"field": external_id, "op": "empty"|"populated"|"equals"|"includes", "value": ...}]
    conditions = models.JSONField(default=list)
    # [{"type": "show"|"hide"|..., "values": [...]}]
    actions = models.JSONField(default=list)
    # The fields the conditions read: "which rules depend on this field" is one GIN lookup.
    depends_on = ArrayField(models.CharField(max_length=100), default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        indexes = [GinIndex(fields=["depends_on"], name="metadata_rule_depends_gin")]

    def __str__(self) -> str:
        return self.name


class SchemaRevision(models.Model):
    """One row whose random token changes with every definition write, in the same
    transaction: each process caches the loaded schema under the token it read."""

    token = models.UUIDField()

    def __str__(self) -> str:
        return str(self.token)
