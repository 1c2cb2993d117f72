"""Moderation in the JSON API (API.md "Moderation"): thin, over moderation.services."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from ninja import Query, Router, Schema
from pydantic import StrictInt

from accounts import policy
from assets.schemas import AssetOut, asset_out
from dam.errors import NotAllowed, ValidationFailed
from dam.pagination import PageParams, paginate
from dam.schemas import ObjectIn
from moderation import selectors, services
from moderation.models import Check

router = Router(tags=["moderation"])


class DecisionOut(Schema):
    id: int
    version: int
    kind: str
    check: str | None
    decision: str
    score: float | None
    reason: str
    decided_by: int | None
    decided_by_label: str
    overrides: int | None
    created_at: datetime


class QueueItemOut(Schema):
    asset: AssetOut
    decision: DecisionOut | None


class QueuePage(Schema):
    count: int
    next: str | None
    previous: str | None
    results: list[QueueItemOut]


class DecideIn(ObjectIn):
    decision: Literal["approve", "reject"]
    reason: str = ""
    # The version you reviewed: if a newer one arrived, nothing is decided (409).
    version: StrictInt | None = None


class DecideManyIn(ObjectIn):
    decision: Literal["approve", "reject"]
    reason: str = ""
    ids: list[StrictInt]


class DecideManyOut(Schema):
    done: list[int]
    failed: dict[str, str]


def decision_out(d) -> dict | None:
    if d is None:
        return None
    return {
        "id": d.pk,
        "version": d.version,
        "kind": d.kind,
        "check": d.check_name or None,
        "decision": d.outcome,
        "score": d.score,
        "reason": d.reason,
        "decided_by": d.decided_by_id,
        "decided_by_label": d.decided_by_label,
        "overrides": d.overrides_id,
        "created_at": d.created_at,
    }


def _moderator(request):
    if not policy.can_moderate_somewhere(request.auth):
        raise NotAllowed("Your role does not moderate assets.")
    return request.auth


@router.get("/moderation", response=QueuePage, summary="Assets you may moderate")
def moderation_queue(
    request,
    status: Literal["pending", "approved", "rejected"] | None = None,
    kind: Literal["manual", "auto"] | None = None,
    check: str | None = None,
    paging: Query[PageParams] = None,
):
    """Pending first, oldest first; each with its latest decision. `kind` and `check`
    (content_safety, min_size, blur, file_size, near_duplicates) filter on that decision."""
    user = _moderator(request)
    if check and check not in Check.values:
        raise ValidationFailed(f"check is one of {', '.join(Check.values)}.", field="check")
    rows = selectors.queue(user=user, status=status or "", kind=kind or "", check=check or "")
    page = paginate(request, rows, lambda a: a, paging or PageParams())
    selectors.attach_decisions(page["results"])
    page["results"] = [
        {"asset": asset_out(a, request), "decision": decision_out(a.last_decision)}
        for a in page["results"]
    ]
    return page


@router.post("/moderation/bulk", response=DecideManyOut, summary="One decision, many assets")
def moderation_decide_many(request, payload: DecideManyIn):
    user = _moderator(request)
    return services.decide_many(
        actor=user, ids=payload.ids, decision=payload.decision, reason=payload.reason
    )


@router.get("/moderation/{asset_id}", response=list[DecisionOut], summary="Decision history")
def moderation_history(request, asset_id: int):
    user = _moderator(request)
    asset = policy.get_asset_or_404(user, asset_id)
    if not policy.can_moderate_asset(user, asset):
        raise NotAllowed("You cannot moderate this asset.")
    return [decision_out(d) for d in selectors.history(asset)]


@router.post("/moderation/{asset_id}", response=DecisionOut, summary="Approve or reject")
def moderation_decide(request, asset_id: int, payload: DecideIn):
    user = _moderator(request)
    asset = policy.get_asset_or_404(user, asset_id)
    decision = services.decide(
        actor=user,
        asset=asset,
        decision=payload.decision,
        reason=payload.reason,
        version=payload.version,
    )
    return decision_out(decision)
