"""/automation-rules (an addition to API.md): thin, over assets.automation. Admin roles
only; anyone else gets 403."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.http import Http404
from ninja import Query, Router, Schema, Status

from accounts import policy
from assets import automation
from dam.errors import NotAllowed
from dam.pagination import PageParams, paginate
from dam.schemas import ObjectIn

router = Router(tags=["automation"])


class AutomationRuleIn(ObjectIn):
    name: str
    trigger: str
    date_field: str = ""
    days_ahead: int = 0
    folder: int | None = None
    expression: str = ""
    actions: list[dict[str, Any]]
    paused: bool = False


class AutomationRulePatch(ObjectIn):
    name: str | None = None
    trigger: str | None = None
    date_field: str | None = None
    days_ahead: int | None = None
    folder: int | None = None
    expression: str | None = None
    actions: list[dict[str, Any]] | None = None
    paused: bool | None = None


class AutomationRuleOut(Schema):
    id: int
    name: str
    trigger: str
    date_field: str
    days_ahead: int
    folder: int | None
    expression: str
    actions: list[dict[str, Any]]
    paused: bool
    run_as: int
    created_at: datetime
    updated_at: datetime


class RunOut(Schema):
    id: int
    rule: int
    manual: bool
    status: str
    message: str
    today: date | None
    assets_done: int
    assets_failed: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class RunItemOut(Schema):
    asset: int | None
    asset_name: str
    occurrence: str
    ok: bool
    detail: str
    at: datetime


class Page(Schema):
    count: int
    next: str | None
    previous: str | None
    results: list[dict[str, Any]]


def _admin(request):
    if not policy.can_manage_automation(request.auth):
        raise NotAllowed("Only admins manage automation rules.")
    return request.auth


def _rule(request, rule_id: int):
    _admin(request)
    rule = automation.rule_get(rule_id)
    if rule is None:
        raise Http404("No such rule.")
    return rule


def rule_out(rule) -> dict:
    return {
        "id": rule.pk,
        "name": rule.name,
        "trigger": rule.trigger,
        "date_field": rule.date_field,
        "days_ahead": rule.days_ahead,
        "folder": rule.folder_id,
        "expression": rule.expression,
        "actions": rule.actions,
        "paused": rule.paused_at is not None,
        "run_as": rule.run_as_id,
        "created_at": rule.created_at,
        "updated_at": rule.updated_at,
    }


def run_out(run) -> dict:
    return {
        "id": run.pk,
        "rule": run.rule_id,
        "manual": run.manual,
        "status": run.status,
        "message": run.message,
        "today": run.today,
        "assets_done": run.assets_done,
        "assets_failed": run.assets_failed,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
    }


def item_out(item) -> dict:
    return {
        "asset": item.asset_id,
        "asset_name": item.asset_name,
        "occurrence": item.occurrence,
        "ok": item.ok,
        "detail": item.detail,
        "at": item.at,
    }


@router.get("/automation-rules", response=list[AutomationRuleOut], summary="Automation rules")
def rules_list(request):
    _admin(request)
    return [rule_out(r) for r in automation.rules_listed()]


@router.post("/automation-rules", response={201: AutomationRuleOut}, summary="Create a rule")
def rules_create(request, payload: AutomationRuleIn):
    actor = _admin(request)
    rule = automation.automation_rule_create(actor=actor, **payload.dict())
    return Status(201, rule_out(rule))


@router.get("/automation-rules/{rule_id}", response=AutomationRuleOut, summary="One rule")
def rules_get(request, rule_id: int):
    return rule_out(_rule(request, rule_id))


@router.patch(
    "/automation-rules/{rule_id}", response=AutomationRuleOut, summary="Change, pause, resume"
)
def rules_patch(request, rule_id: int, payload: AutomationRulePatch):
    rule = _rule(request, rule_id)
    changes = payload.dict(exclude_unset=True)
    paused = changes.pop("paused", None)
    if changes:
        rule = automation.automation_rule_update(actor=request.auth, rule=rule, **changes)
    if paused is not None:
        rule = automation.automation_rule_pause(actor=request.auth, rule=rule, paused=paused)
    return rule_out(automation.rule_get(rule.pk))


@router.delete("/automation-rules/{rule_id}", response={204: None}, summary="Delete a rule")
def rules_delete(request, rule_id: int):
    automation.automation_rule_delete(actor=request.auth, rule=_rule(request, rule_id))
    return Status(204, None)


@router.get("/automation-rules/{rule_id}/runs", response=Page, summary="A rule's runs")
def runs_list(request, rule_id: int, paging: Query[PageParams]):
    rule = _rule(request, rule_id)
    return paginate(request, automation.rule_runs(rule), run_out, paging)


@router.post("/automation-rules/{rule_id}/runs", response={202: RunOut}, summary="Run now")
def runs_create(request, rule_id: int):
    rule = _rule(request, rule_id)
    run = automation.automation_run_request(actor=request.auth, rule=rule)
    run.refresh_from_db()
    return Status(202, run_out(run))


@router.get(
    "/automation-rules/{rule_id}/runs/{run_id}/items",
    response=Page,
    summary="The assets a run touched",
)
def run_items(request, rule_id: int, run_id: int, paging: Query[PageParams]):
    rule = _rule(request, rule_id)
    run = automation.rule_runs(rule).filter(pk=run_id).first()
    if run is None:
        raise Http404("No such run.")
    return paginate(request, automation.run_items(run), item_out, paging)
