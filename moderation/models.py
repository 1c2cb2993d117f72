"""Every moderation decision, automatic or human, kept (DESIGN.md "Moderation").

The asset's `moderation_status` is the current state; this table is its history: who or
what decided, when, why and with which score. An automatic check that is unsure records
a `pending` decision and leaves the asset for a human.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class DecisionKind(models.TextChoices):
    MANUAL = "manual", "Manual"
    AUTO = "auto", "Automatic"


class Check(models.TextChoices):
    """The automatic checks an upload preset can run (its `auto_checks`)."""

    CONTENT_SAFETY = "content_safety", "Content safety"
    MIN_SIZE = "min_size", "Minimum size"
    BLUR = "blur", "Blur"
    FILE_SIZE = "file_size", "File size"
    NEAR_DUPLICATES = "near_duplicates", "Near-duplicates"


class Outcome(models.TextChoices):
    APPROVE = "approve", "Approved"
    REJECT = "reject", "Rejected"
    PENDING = "pending", "Left for review"


class Decision(models.Model):
    asset = models.ForeignKey(
        "assets.Asset", on_delete=models.CASCADE, related_name="moderation_decisions"
    )
    version = models.PositiveIntegerField(help_text="The asset version that was judged.")
    kind = models.CharField(max_length=8, choices=DecisionKind.choices)
    check_name = models.CharField(max_length=16, choices=Check.choices, blank=True)
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    score = models.FloatField(null=True, blank=True)
    reason = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty for automatic checks.",
    )
    overrides = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["asset", "-created_at", "-id"], name="decision_asset_latest"),
            models.Index(fields=["kind", "check_name"], name="decision_kind_check"),
        ]

    def __str__(self) -> str:
        who = self.check_name or (self.decided_by_id and f"user {self.decided_by_id}")
        return f"{self.outcome} of asset {self.asset_id} by {who}"

    @property
    def decided_by_label(self) -> str:
        if self.kind == DecisionKind.AUTO:
            return f"Automatic: {self.get_check_name_display()}"
        user = self.decided_by
        return (user.get_full_name() or user.email) if user else "Someone"
