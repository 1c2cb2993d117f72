"""GET /activity (API.md "Activity"): the audit log, filtered; admin roles and reports.
Thin: filters, queries and labels come from dam/activity.py, as on the page."""

from __future__ import annotations

from datetime import datetime

from ninja import Query, Router, Schema

from accounts import policy
from dam import activity
from dam.errors import NotAllowed, ValidationFailed
from dam.pagination import PageParams, paginate

router = Router(tags=["activity"])


class ActivityOut(Schema):
    id: int
    at: datetime
    actor: int | None
    actor_email: str | None
    actor_name: str | None
    actor_inactive: bool
    verb: str
    action: str
    group: str
    object_type: str
    object_id: str
    object_name: str | None
    data: dict
    ip: str | None


class ActivityPage(Schema):
    count: int
    # False only with exact_count=false and more than activity.COUNT_LIMIT matches:
    # `count` is then that limit ("more than"); `next` still reaches every match.
    count_exact: bool
    next: str | None
    previous: str | None
    results: list[ActivityOut]


def _out(row: activity.Row) -> dict:
    return {
        "id": row.event.pk,
        "at": row.at,
        "actor": row.actor_id,
        "actor_email": row.actor_email or None,
        "actor_name": row.actor_label if row.actor_id else None,
        "actor_inactive": row.actor_inactive,
        "verb": row.verb,
        "action": row.action,
        "group": row.group,
        "object_type": row.object_type,
        "object_id": row.object_id,
        "object_name": row.object_label if row.object_id else None,
        "data": row.event.data if isinstance(row.event.data, dict) else {"value": row.event.data},
        "ip": row.ip or None,
    }


@router.get("/activity", response=ActivityPage, summary="Audit events (admin roles, reports)")
def activity_list(
    request,
    user: str = "",
    actor: str = "",
    verb: str = "",
    group: str = "",
    object_type: str = "",
    object_id: str = "",
    since: str = "",
    until: str = "",
    exact_count: bool = True,
    paging: Query[PageParams] = None,
):
    """Every audited action, newest first. `user` (or `actor`, the same): a user id or
    an email address (422 when several users have had it), inactive users included;
    `verb`: one action (`asset.upload`); `group`: uploads, edits, metadata, shares,
    downloads, moderation, logins, users, deletes, settings; `object_type`
    (`assets.asset`) and `object_id`; `since` and `until`: a date (`until` includes its
    whole day) or an ISO 8601 time, UTC. A filter it cannot use answers 422 naming it.
    `count` is every match, as in every list; `exact_count=false`
    counts up to 1,000 (`count_exact` false past that), cheaper on a long log."""
    viewer = request.auth
    if not policy.can_see_activity(viewer):
        raise NotAllowed("Only admins and the reports role see the activity log.")
    filters = activity.filters_from(
        {
            "user": user or actor,
            "verb": verb,
            "group": group,
            "object_type": object_type,
            "object_id": object_id,
            "since": since,
            "until": until,
        }
    )
    if filters.errors:
        raise ValidationFailed(
            "Some filters could not be used.",
            errors={name: [message] for name, message in filters.errors.items()},
        )
    qs = activity.events(filters)
    counted = None if exact_count else activity.count_bounded(qs)
    page = paginate(request, qs, lambda e: e, paging or PageParams(), counted=counted)
    if counted is None:
        page["count_exact"] = True
    page["results"] = [_out(r) for r in activity.rows(page["results"], viewer)]
    return page
