"""Metadata endpoints (API.md "Metadata"): thin, every rule lives in metadata.services."""

from __future__ import annotations

from django.http import Http404
from ninja import Query, Router, Status

from accounts import policy
from dam.errors import NotAllowed
from dam.pagination import PageParams, paginate
from metadata import selectors, services
from metadata.models import MetadataField, MetadataRule
from metadata.schemas import (
    EvaluateIn,
    EvaluateOut,
    FieldIn,
    FieldOut,
    FieldPage,
    FieldPatch,
    RuleIn,
    RuleOut,
    RulePatch,
    ValueIn,
    ValueOut,
    ValuePage,
    ValuePatch,
    evaluation_out,
    field_out,
    rule_out,
    value_out,
)

router = Router(tags=["metadata"])


def _reader(request):
    if not policy.can_read_metadata_schema(request.auth):
        raise NotAllowed("Metadata fields are for media library users.")
    return request.auth


def _field_or_404(request, external_id: str) -> MetadataField:
    _reader(request)
    field = selectors.field_get(external_id)
    if field is None:
        raise Http404("No such field.")
    return field


def _rule_or_404(request, rule_id: int) -> MetadataRule:
    _reader(request)
    rule = (
        MetadataRule.objects.select_related("field")
        .filter(pk=rule_id, field__deleted_at__isnull=True)
        .first()
        if policy.is_valid_id(rule_id)
        else None
    )
    if rule is None:
        raise Http404("No such rule.")
    return rule


def _rules_out(rules) -> list[dict]:
    definitions = selectors.schema_get().by_id
    return [rule_out(r, definitions) for r in rules]


@router.get("/metadata/fields", response=FieldPage, summary="Fields in list order")
def fields_list(request, values: bool = True, paging: Query[PageParams] = None):
    """`values=false` leaves out the list values (`value_count` stays): long lists are
    paged at /metadata/fields/{external_id}/values."""
    _reader(request)
    if not values:
        rows, serialize = selectors.fields_listed(), lambda f: field_out(f, values=[])
    else:
        rows = selectors.fields_with_values()
        serialize = lambda f: field_out(f, values=list(f.values.all()))  # noqa: E731
    return paginate(request, rows, serialize, paging or PageParams())


@router.post("/metadata/fields", response={201: FieldOut}, summary="Create a field")
def fields_create(request, payload: FieldIn):
    field = services.field_create(actor=request.auth, **payload.dict())
    return Status(201, field_out(field))


@router.get("/metadata/fields/{external_id}", response=FieldOut, summary="One field")
def fields_get(request, external_id: str):
    return field_out(_field_or_404(request, external_id))


@router.patch("/metadata/fields/{external_id}", response=FieldOut, summary="Change a field")
def fields_update(request, external_id: str, payload: FieldPatch):
    field = _field_or_404(request, external_id)
    changes = {k: getattr(payload, k) for k in payload.model_fields_set}
    field = services.field_update(actor=request.auth, field=field, **changes)
    return field_out(field)


@router.delete(
    "/metadata/fields/{external_id}",
    response={204: None},
    summary="Delete a field (409 while other fields' rules read it)",
)
def fields_delete(request, external_id: str):
    services.field_delete(actor=request.auth, field=_field_or_404(request, external_id))
    return Status(204, None)


@router.get("/metadata/fields/{external_id}/values", response=ValuePage, summary="List values")
def values_list(request, external_id: str, q: str = "", paging: Query[PageParams] = None):
    field = _field_or_404(request, external_id)
    return paginate(request, selectors.field_values(field, q), value_out, paging or PageParams())


@router.post(
    "/metadata/fields/{external_id}/values", response={201: ValueOut}, summary="Add a value"
)
def values_create(request, external_id: str, payload: ValueIn):
    field = _field_or_404(request, external_id)
    value = services.value_create(actor=request.auth, field=field, **payload.dict())
    return Status(201, value_out(value))


@router.patch(
    "/metadata/fields/{external_id}/values/{value_external_id}",
    response=ValueOut,
    summary="Rename, block or move a value",
)
def values_update(request, external_id: str, value_external_id: str, payload: ValuePatch):
    field = _field_or_404(request, external_id)
    value = selectors.value_get(field, value_external_id)
    if value is None:
        raise Http404("No such value.")
    changes = {k: getattr(payload, k) for k in payload.model_fields_set}
    for key in ("label", "blocked", "position"):
        if key in changes and changes[key] is None:
            raise services.ValidationFailed(f"{key} cannot be null.", field=key)
    return value_out(services.value_update(actor=request.auth, value=value, **changes))


@router.get("/metadata/fields/{external_id}/rules", response=list[RuleOut], summary="Rules")
def rules_list(request, external_id: str):
    return _rules_out(selectors.field_rules(_field_or_404(request, external_id)))


@router.post("/metadata/fields/{external_id}/rules", response={201: RuleOut}, summary="Add a rule")
def rules_create(request, external_id: str, payload: RuleIn):
    field = _field_or_404(request, external_id)
    rule = services.rule_create(actor=request.auth, field=field, **payload.dict())
    return Status(201, _rules_out([rule])[0])


@router.put(
    "/metadata/fields/{external_id}/rules/order",
    response=list[RuleOut],
    summary="Reorder the field's rules (later rules override earlier ones)",
)
def rules_reorder(request, external_id: str, payload: list[int]):
    field = _field_or_404(request, external_id)
    return _rules_out(services.rules_reorder(actor=request.auth, field=field, order=payload))


@router.get("/metadata/rules/{rule_id}", response=RuleOut, summary="One rule")
def rules_get(request, rule_id: int):
    return _rules_out([_rule_or_404(request, rule_id)])[0]


@router.patch("/metadata/rules/{rule_id}", response=RuleOut, summary="Change a rule")
def rules_update(request, rule_id: int, payload: RulePatch):
    rule = _rule_or_404(request, rule_id)
    changes = {k: getattr(payload, k) for k in payload.model_fields_set}
    for key in ("name", "match", "conditions", "actions", "position"):
        if key in changes and changes[key] is None:
            raise services.ValidationFailed(f"{key} cannot be null.", field=key)
    return _rules_out([services.rule_update(actor=request.auth, rule=rule, **changes)])[0]


@router.delete("/metadata/rules/{rule_id}", response={204: None}, summary="Delete a rule")
def rules_delete(request, rule_id: int):
    services.rule_delete(actor=request.auth, rule=_rule_or_404(request, rule_id))
    return Status(204, None)


@router.post(
    "/metadata/evaluate",
    response=EvaluateOut,
    summary="What each field shows for these values (visibility, mandatory, options, default)",
)
def evaluate(request, payload: EvaluateIn):
    _reader(request)
    evaluation = services.metadata_evaluate(
        schema=selectors.schema_get(), values=payload.values, apply_defaults=payload.apply_defaults
    )
    return evaluation_out(evaluation)
