"""The moderation queue: assets the user may moderate, each with its latest decision."""

from __future__ import annotations

from django.db.models import Case, IntegerField, OuterRef, QuerySet, Subquery, Value, When

from accounts import policy
from accounts.policy import Level
from assets.models import Asset, ModerationStatus
from moderation.models import Decision

STATUSES = ("pending", "approved", "rejected")
KINDS = ("manual", "auto")


def queue(*, user, status: str = "", kind: str = "", check: str = "") -> QuerySet:
    """Moderated assets (pending, approved, rejected) the user may moderate: everything
    for admin roles, assets in folders with edit or manage for media library users with
    the moderate permission, nothing for anyone else. Pending first, then oldest first.

    `kind` and `check` filter on the latest decision (manual, or automatic and which
    check); an asset nobody has decided yet counts as neither.
    """
    if not policy.can_moderate_somewhere(user):
        return Asset.objects.none()
    qs = Asset.objects.exclude(moderation_status=ModerationStatus.NOT_MODERATED)
    if status in STATUSES:
        qs = qs.filter(moderation_status=status)
    qs = policy.visible_assets(user, qs, minimum=Level.EDIT)
    latest = Decision.objects.filter(asset=OuterRef("pk")).order_by("-created_at", "-id")
    qs = qs.annotate(
        last_decision_id=Subquery(latest.values("pk")[:1]),
        last_kind=Subquery(latest.values("kind")[:1]),
        last_check=Subquery(latest.values("check_name")[:1]),
        pending_first=Case(
            When(moderation_status=ModerationStatus.PENDING, then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        ),
    )
    if kind in KINDS:
        qs = qs.filter(last_kind=kind)
    if check:
        qs = qs.filter(last_check=check)
    return qs.select_related("folder", "created_by").order_by("pending_first", "created_at", "id")


def attach_decisions(assets) -> None:
    """Set `last_decision` (with who decided) on each asset of a page, in one query."""
    assets = list(assets)
    ids = [a.last_decision_id for a in assets if getattr(a, "last_decision_id", None)]
    found = Decision.objects.select_related("decided_by").in_bulk(ids)
    for a in assets:
        a.last_decision = found.get(getattr(a, "last_decision_id", None))


def history(asset) -> list[Decision]:
    return list(
        Decision.objects.filter(asset=asset)
        .select_related("decided_by")
        .order_by("-created_at", "-id")[:50]
    )
