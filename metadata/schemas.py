"""API shapes for structured metadata (contract: shared API.md "Metadata")."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Schema

from dam.schemas import ObjectIn
from metadata import engine, services
from metadata.models import MetadataField, MetadataRule, MetadataValue


class ValueIn(Schema):
    label: str
    external_id: str | None = None
    blocked: bool = False
    position: int | None = None


class ValuePatch(ObjectIn):
    label: str | None = None
    blocked: bool | None = None
    position: int | None = None
    external_id: str | None = None


class ValueOut(Schema):
    external_id: str
    label: str
    position: int
    blocked: bool


class FieldIn(Schema):
    label: str
    external_id: str | None = None
    type: str
    mandatory: bool = False
    hidden: bool = False
    default: Any = None
    min: Any = None
    max: Any = None
    values: list[Any] | None = None


class FieldPatch(ObjectIn):
    label: str | None = None
    external_id: str | None = None
    type: str | None = None
    mandatory: bool | None = None
    hidden: bool | None = None
    default: Any = None
    min: Any = None
    max: Any = None
    position: int | None = None


class FieldOut(Schema):
    external_id: str
    label: str
    type: str
    position: int
    mandatory: bool
    hidden: bool
    default: Any = None
    min: Any = None
    max: Any = None
    has_rules: bool
    value_count: int
    values: list[ValueOut]
    created_at: datetime
    updated_at: datetime


class FieldPage(Schema):
    count: int
    next: str | None
    previous: str | None
    results: list[FieldOut]


class ValuePage(Schema):
    count: int
    next: str | None
    previous: str | None
    results: list[ValueOut]


class RuleIn(Schema):
    name: str
    match: str = "all"
    conditions: list[Any]
    actions: list[Any]
    position: int | None = None


class RulePatch(ObjectIn):
    name: str | None = None
    match: str | None = None
    conditions: list[Any] | None = None
    actions: list[Any] | None = None
    position: int | None = None


class RuleOut(Schema):
    id: int
    field: str
    name: str
    position: int
    match: str
    conditions: list[dict]
    actions: list[dict]
    summary: str
    created_at: datetime
    updated_at: datetime


class EvaluateIn(ObjectIn):
    values: dict[str, Any] = {}
    apply_defaults: bool = False


class FieldStateOut(Schema):
    visible: bool
    mandatory: bool
    options: list[str]
    default: Any = None


class EvaluateOut(Schema):
    fields: dict[str, FieldStateOut]
    values: dict[str, Any]


def value_out(value: MetadataValue) -> dict:
    return {
        "external_id": value.external_id,
        "label": value.label,
        "position": value.position + 1,
        "blocked": value.blocked,
    }


def field_out(field: MetadataField, *, values=None) -> dict:
    """`values`: the field's values if already loaded (prefetch), else they are read."""
    if values is None:
        values = list(field.values.order_by("position", "id"))
    has_rules = getattr(field, "has_rules", None)
    if has_rules is None:
        has_rules = field.rules.exists()
    count = getattr(field, "value_count", None)
    return {
        "external_id": field.external_id,
        "label": field.label,
        "type": field.type,
        "position": field.position + 1,
        "mandatory": field.mandatory,
        "hidden": field.hidden,
        "default": field.default,
        "min": field.min_value,
        "max": field.max_value,
        "has_rules": bool(has_rules),
        "value_count": count if count is not None and not values else len(values),
        "values": [value_out(v) for v in values],
        "created_at": field.created_at,
        "updated_at": field.updated_at,
    }


def rule_out(rule: MetadataRule, definitions: dict[str, engine.Field]) -> dict:
    return {
        "id": rule.pk,
        "field": rule.field.external_id,
        "name": rule.name,
        "position": rule.position + 1,
        "match": rule.match,
        "conditions": rule.conditions,
        "actions": rule.actions,
        "summary": services.rule_summary(rule, definitions),
        "created_at": rule.created_at,
        "updated_at": rule.updated_at,
    }


def evaluation_out(evaluation: engine.Evaluation) -> dict:
    return {
        "fields": {k: state.as_dict() for k, state in evaluation.states.items()},
        "values": evaluation.values,
    }
