"""Reads of the metadata definitions; `schema_get` feeds the rules engine."""

from __future__ import annotations

from collections import defaultdict

from django.db import connection
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet

from metadata import engine
from metadata.models import MetadataField, MetadataRule, MetadataValue


def engine_rule(rule: MetadataRule) -> engine.Rule:
    return engine.Rule(
        id=rule.pk,
        name=rule.name,
        match=rule.match,
        conditions=tuple(
            engine.Condition(field=c["field"], op=c["op"], value=c.get("value"))
            for c in rule.conditions
        ),
        actions=tuple(
            engine.Action(type=a["type"], values=tuple(a.get("values") or ())) for a in rule.actions
        ),
    )


def engine_field(field: MetadataField, options, rules) -> engine.Field:
    return engine.Field(
        external_id=field.external_id,
        label=field.label,
        type=field.type,
        mandatory=field.mandatory,
        hidden=field.hidden,
        default=field.default,
        min=field.min_value,
        max=field.max_value,
        options=tuple(options),
        rules=tuple(rules),
    )


_cached: tuple[str, engine.Schema] | None = None


def schema_token() -> str | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT token FROM metadata_schemarevision WHERE id = 1")
        row = cursor.fetchone()
    return str(row[0]) if row else None


def schema_get() -> engine.Schema:
    """The current definitions: one query when this process already has them, else four.

    The schema is cached per process under the revision token (metadata.services changes
    it with every definition write, in the same transaction). A token only ever names one
    state: a rolled-back write's token is never seen again.
    """
    global _cached
    token = schema_token()
    cached = _cached
    if token is not None and cached is not None and cached[0] == token:
        return cached[1]
    schema = schema_load()
    if token is not None:
        _cached = (token, schema)
    return schema


def schema_load() -> engine.Schema:
    """Every live field with its values and rules, in three queries."""
    fields = list(MetadataField.objects.all())
    options: dict[int, list[engine.Option]] = defaultdict(list)
    values = (
        MetadataValue.objects.filter(field__deleted_at__isnull=True)
        .order_by("field_id", "position", "id")
        .values_list("field_id", "external_id", "label", "blocked")
    )
    for field_id, external_id, label, blocked in values:
        options[field_id].append(engine.Option(external_id, label, blocked))
    rules: dict[int, list[engine.Rule]] = defaultdict(list)
    for rule in MetadataRule.objects.filter(field__deleted_at__isnull=True).order_by(
        "field_id", "position", "id"
    ):
        rules[rule.field_id].append(engine_rule(rule))
    return engine.Schema(engine_field(f, options[f.pk], rules[f.pk]) for f in fields)


def fields_listed() -> QuerySet:
    """Fields for the Settings list and the API: counts and "has rules" in one query."""
    return MetadataField.objects.annotate(
        value_count=Count("values", distinct=True),
        has_rules=Exists(MetadataRule.objects.filter(field=OuterRef("pk"))),
    ).order_by("position", "id")


def fields_with_values() -> QuerySet:
    return fields_listed().prefetch_related(
        Prefetch("values", queryset=MetadataValue.objects.order_by("position", "id"))
    )


def field_get(external_id) -> MetadataField | None:
    if not isinstance(external_id, str) or "\x00" in external_id or len(external_id) > 100:
        return None
    return MetadataField.objects.filter(external_id__iexact=external_id).first()


def value_get(field: MetadataField, external_id) -> MetadataValue | None:
    if not isinstance(external_id, str) or "\x00" in external_id or len(external_id) > 100:
        return None
    return field.values.filter(external_id__iexact=external_id).first()


def field_values(field: MetadataField, query: str = "") -> QuerySet:
    values = field.values.order_by("position", "id")
    query = (query or "").replace("\x00", "").strip()
    if query:
        values = values.filter(Q(label__icontains=query) | Q(external_id__icontains=query))
    return values


def field_rules(field: MetadataField) -> list[MetadataRule]:
    return list(field.rules.order_by("position", "id"))


def rules_depending_on(field: MetadataField) -> list[MetadataRule]:
    """Other fields' rules whose conditions read `field`."""
    return list(
        MetadataRule.objects.filter(
            depends_on__contains=[field.external_id], field__deleted_at__isnull=True
        )
        .exclude(field=field)
        .select_related("field")
        .order_by("field__position", "position", "id")
    )
