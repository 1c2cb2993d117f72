"""Every write to the metadata definitions, and the one check every asset write runs.

Definitions (fields, list values, rules) are changed by master admins, one writer at a
time (an advisory lock), each change audited. `metadata_resolve` is what uploads, edits,
bulk edits and the API call to turn "the values now + what the user sent" into the values
to store, through the rules engine.
"""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts import policy
from dam.errors import Conflict, NotAllowed, ValidationFailed
from dam.services import audit_record
from dam.text import same_name
from metadata import engine, selectors
from metadata.models import MetadataField, MetadataRule, MetadataValue, RuleMatch

EXTERNAL_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,99}$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
LABEL_MAX = 255
RULE_NAME_MAX = 200
STRING_MAX = 5000  # longest text value, whatever the field's maximum
VALUES_MAX = 3000  # list values per field
FIELDS_MAX = 500
CONDITIONS_MAX = 20
CHANGES_MAX = 500  # fields one write may send
NUMBER_LIMIT = 1e15  # beyond this, floats stop being exact integers
PLACEHOLDER_LABEL = "Value 1"
SCHEMA_LOCK_KEY = 0x4D3DA7A  # serialises definition writes (positions, cycles, defaults)

TYPE_WORDS = {
    "string": "text",
    "number": "number",
    "date": "date",
    "enum": "single-select list",
    "set": "multi-select list",
}
OP_WORDS = {
    "empty": "is empty",
    "populated": "is populated",
    "equals": "equals",
    "includes": "includes",
}
ACTION_WORDS = {
    "show": "show",
    "hide": "hide",
    "mandatory": "make mandatory",
    "optional": "make optional",
    "set_default": "set the default to",
    "append": "append",
    "all_options": "offer all options",
    "no_options": "offer no options",
    "only_options": "offer only",
    "add_options": "also offer",
}


def _require_manager(actor) -> None:
    if not policy.can_manage_metadata(actor):
        raise NotAllowed("Only master admins change metadata fields and rules.")


def _schema_lock() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SCHEMA_LOCK_KEY])


def _changed(*, actor, verb: str, obj=None, data=None) -> None:
    """Audit a definition write and give the schema a new revision token (caches of the
    old definitions stop matching when this transaction commits)."""
    audit_record(actor=actor, verb=verb, obj=obj, data=data)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO metadata_schemarevision (id, token) VALUES (1, %s) "
            "ON CONFLICT (id) DO UPDATE SET token = EXCLUDED.token",
            [uuid.uuid4()],
        )


# -- values of one field ---------------------------------------------------------------
def _quote(value) -> str:
    return f"“{value}”"


def _option_label(f: engine.Field, value_id) -> str:
    option = next((o for o in f.options if o.external_id == value_id), None)
    return _quote(option.label if option else value_id)


def _parse_number(value):
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, str):
        text = value.strip().replace(" ", "")
        if not re.fullmatch(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?", text):
            raise ValueError
        value = float(text) if re.search(r"[.eE]", text) else int(text)
    if not isinstance(value, (int, float)):
        raise ValueError
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError
    if abs(value) > NUMBER_LIMIT:
        raise OverflowError
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _parse_date(value) -> str:
    if not isinstance(value, str) or not DATE_RE.match(value.strip()):
        raise ValueError
    return date.fromisoformat(value.strip()).isoformat()


def _check_range(f: engine.Field, value) -> str | None:
    """A message when `value` is outside the field's min/max, else None."""
    low, high = f.min, f.max
    if f.type == "string":
        n = len(value)
        if low is not None and n < low:
            return f"{f.label} needs at least {low:,} characters."
        if high is not None and n > high:
            return f"{f.label} has at most {high:,} characters."
    elif f.type in ("number", "date"):
        if low is not None and value < low:
            return (
                f"{f.label} must be {low} or more."
                if f.type == "number"
                else (f"{f.label} must be on or after {low}.")
            )
        if high is not None and value > high:
            return (
                f"{f.label} must be {high} or less."
                if f.type == "number"
                else (f"{f.label} must be on or before {high}.")
            )
    return None


def clean_value(f: engine.Field, raw, *, held=None, check_range: bool = True):
    """The stored form of `raw` for field `f`, or None for "empty".

    Raises ValueError with a message naming the field. Blocked list values are refused
    unless `held` (the value already on the asset) has them.
    """
    if raw is None or raw == "" or raw == []:
        return None
    kind = f.type
    if kind == "string":
        if not isinstance(raw, str):
            raise ValueError(f"{f.label} is text.")
        value = raw.strip()
        if "\x00" in value:
            raise ValueError(f"{f.label} cannot contain NUL characters.")
        if not value:
            return None
        if len(value) > STRING_MAX:
            raise ValueError(f"{f.label} has at most {STRING_MAX:,} characters.")
    elif kind == "number":
        try:
            value = _parse_number(raw)
        except OverflowError:
            raise ValueError(f"{f.label} is too large a number.") from None
        except (TypeError, ValueError):
            raise ValueError(f"{f.label} is a number.") from None
    elif kind == "date":
        try:
            value = _parse_date(raw)
        except (TypeError, ValueError):
            raise ValueError(f"{f.label} is a date written YYYY-MM-DD.") from None
    elif kind in ("enum", "set"):
        return _clean_list_value(f, raw, held)
    else:
        raise ValueError(f"{f.label} has an unknown type.")
    if check_range and (problem := _check_range(f, value)):
        raise ValueError(problem)
    return value


def _clean_list_value(f: engine.Field, raw, held):
    # `held` may be what a caller sent (POST /metadata/evaluate): only strings count.
    held_ids = {v for v in engine._as_list(held) if isinstance(v, str)} if held else set()
    if f.type == "enum":
        if not isinstance(raw, str):
            raise ValueError(f"{f.label} takes one value ID.")
        items = [raw]
    else:
        if isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
            raise ValueError(f"{f.label} takes a list of value IDs.")
        if len(raw) > VALUES_MAX:
            raise ValueError(f"{f.label} takes at most {VALUES_MAX:,} values.")
        items = list(dict.fromkeys(raw))
    by_id = {o.external_id: o for o in f.options}
    by_folded = {o.external_id.casefold(): o for o in f.options}
    cleaned = []
    for item in items:
        option = by_id.get(item) or by_folded.get(item.casefold())
        if option is None:
            shown = item if len(item) <= 60 else item[:60] + "…"
            raise ValueError(f"{f.label}: {_quote(shown)} is not one of its values.")
        if option.blocked and option.external_id not in held_ids:
            raise ValueError(f"{f.label}: {_quote(option.label)} is blocked and cannot be chosen.")
        cleaned.append(option.external_id)
    if not cleaned:
        return None
    return cleaned[0] if f.type == "enum" else cleaned


# -- asset writes: the one check ---------------------------------------------------------
@dataclass
class MetadataWrite:
    values: dict[str, Any]
    cleared: list[str] = field(default_factory=list)  # carried values that no longer apply


def error_key(external_id: str) -> str:
    return f"metadata.{external_id}"


def _raise_errors(errors: dict[str, list[str]]) -> None:
    first = next(iter(errors.values()))[0]
    more = sum(len(v) for v in errors.values()) - 1
    message = first if not more else f"{first} (and {more} more problem{'s' if more > 1 else ''})"
    raise ValidationFailed(message, field="metadata", errors=errors)


def clean_changes(schema: engine.Schema, changes, *, held: dict | None = None) -> dict:
    """Check what a write sends: known fields, values of the right type and range.

    Returns {external_id: value or None (clear)}; raises ValidationFailed with one error
    per bad field (keys `metadata.<external_id>`).
    """
    if changes is None:
        return {}
    if not isinstance(changes, dict):
        raise ValidationFailed(
            "Metadata is an object keyed by field external ID.", field="metadata"
        )
    if len(changes) > CHANGES_MAX:
        raise ValidationFailed(f"At most {CHANGES_MAX} metadata fields at once.", field="metadata")
    held = held or {}
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for key, raw in changes.items():
        f = schema.by_id.get(key) if isinstance(key, str) else None
        if f is None:
            name = str(key).replace("\x00", "")[:100]
            errors[error_key(name)] = [f"There is no metadata field with external ID “{name}”."]
            continue
        try:
            cleaned[key] = clean_value(f, raw, held=held.get(key))
        except ValueError as exc:
            errors[error_key(key)] = [str(exc)]
    if errors:
        _raise_errors(errors)
    return cleaned


def metadata_resolve(
    *, schema: engine.Schema, current: dict | None, changes, creating: bool
) -> MetadataWrite:
    """The values to store after a write, through the rules engine.

    `current` is what the asset holds (empty for a new asset), `changes` what the user sent
    ({external_id: value}, None or "" clears). New assets get the defaults of every empty
    field; edits fill only mandatory fields that are empty. A sent value for a field the
    rules hide, or a list value the rules do not offer, is refused; a value the asset
    already had that no longer applies (because another field changed) is cleared and
    reported in `cleared`. A visible mandatory field left empty is refused.
    """
    current = {k: v for k, v in (current or {}).items() if k in schema.by_id}
    sent = clean_changes(schema, changes, held=current)
    merged = dict(current)
    for key, value in sent.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    mode = engine.DEFAULTS_ALL if creating else engine.DEFAULTS_MANDATORY
    # A field sent empty stays empty (the user removed its default); mandatory ones are
    # then refused below rather than silently refilled.
    emptied = [k for k, v in sent.items() if v is None]
    evaluation = engine.evaluate(schema, merged, defaults=mode, keep_empty=emptied)
    errors: dict[str, list[str]] = {}
    for key, value in sent.items():
        if value is None:
            continue
        f, state = schema.by_id[key], evaluation.states[key]
        if not state.visible:
            errors[error_key(key)] = [f"{f.label} does not apply here; leave it empty."]
        elif f.is_list:
            refused = [v for v in engine._as_list(value) if v not in state.allowed]
            if refused:
                names = ", ".join(_option_label(f, v) for v in refused)
                errors[error_key(key)] = [f"{f.label}: {names} is not an option here."]
    for f in schema.fields:
        state = evaluation.states[f.external_id]
        if state.visible and state.mandatory and f.external_id not in evaluation.values:
            errors.setdefault(error_key(f.external_id), []).append(f"{f.label} is mandatory.")
    if errors:
        _raise_errors(errors)
    cleared = [k for k in evaluation.dropped if sent.get(k) is None]
    return MetadataWrite(values=evaluation.values, cleared=cleared)


def metadata_evaluate(*, schema: engine.Schema, values, apply_defaults: bool = False):
    """What the form shows for `values` (the API's POST /metadata/evaluate)."""
    # Blocked values may be held by the asset being edited: evaluate accepts them.
    changes = clean_changes(schema, values or {}, held=values)
    cleaned = {k: v for k, v in changes.items() if v is not None}
    mode = engine.DEFAULTS_ALL if apply_defaults else engine.DEFAULTS_NONE
    return engine.evaluate(schema, cleaned, defaults=mode)


def labels_of(schema: engine.Schema, external_ids) -> list[str]:
    return [schema.by_id[k].label for k in external_ids if k in schema.by_id]


# -- definitions: fields --------------------------------------------------------------
def _clean_label(label, what: str = "label") -> str:
    label = str(label or "").strip() if not isinstance(label, (dict, list)) else ""
    if not label:
        raise ValidationFailed("Enter a label.", field=what)
    if "\x00" in label:
        raise ValidationFailed("Labels cannot contain NUL characters.", field=what)
    if len(label) > LABEL_MAX:
        raise ValidationFailed(f"Labels have at most {LABEL_MAX} characters.", field=what)
    return label


def _clean_external_id(value, field_name: str = "external_id") -> str:
    text = value if isinstance(value, str) else ""
    if not EXTERNAL_ID_RE.match(text):
        raise ValidationFailed(
            "External IDs use letters, digits, “_” and “-” (1 to 100, starting with a letter "
            "or digit).",
            field=field_name,
        )
    return text


def _generated_id(label: str, taken) -> str:
    base = slugify(label).replace("-", "_").strip("_")[:90] or "field"
    if not base[0].isalnum():
        base = f"f{base}"
    candidate, n = base, 1
    while taken(candidate):
        n += 1
        candidate = f"{base}_{n}"
    return candidate


def _field_id_taken(external_id: str) -> bool:
    return MetadataField.all_objects.filter(external_id__iexact=external_id).exists()


def _clean_bounds(kind: str, low, high) -> tuple[Any, Any]:
    if kind in ("enum", "set"):
        if low is not None or high is not None:
            raise ValidationFailed("Lists have no minimum or maximum.", field="min")
        return None, None

    def one(value, name):
        if value is None or value == "":
            return None
        try:
            if kind == "string":
                number = _parse_number(value)
                if not isinstance(number, int) or number < 0 or number > STRING_MAX:
                    raise ValueError
                return number
            if kind == "number":
                return _parse_number(value)
            return _parse_date(value)
        except (TypeError, ValueError, OverflowError):
            hint = {
                "string": f"a length from 0 to {STRING_MAX:,}",
                "number": "a number",
                "date": "a date written YYYY-MM-DD",
            }[kind]
            raise ValidationFailed(f"The {name}imum is {hint}.", field=name) from None

    low, high = one(low, "min"), one(high, "max")
    if low is not None and high is not None and low > high:
        raise ValidationFailed("The minimum is larger than the maximum.", field="min")
    return low, high


def _definition(field: MetadataField, values=None) -> engine.Field:
    """The engine's view of one field as it is (or is about to be) saved."""
    if values is None:
        values = list(field.values.order_by("position", "id")) if field.pk else []
    options = [engine.Option(v.external_id, v.label, v.blocked) for v in values]
    return selectors.engine_field(field, options, [])


def _clean_default(field: MetadataField, raw, values=None):
    f = _definition(field, values)
    try:
        value = clean_value(f, raw)
    except ValueError as exc:
        raise ValidationFailed(f"Default: {exc}", field="default") from None
    return value


def _rule_sets_default(field: MetadataField, exclude_rule: int | None = None) -> bool:
    rules = MetadataRule.objects.filter(field=field)
    if exclude_rule is not None:
        rules = rules.exclude(pk=exclude_rule)
    return any(a.get("type") == "set_default" for r in rules.only("actions") for a in r.actions)


def _check_flags(field: MetadataField) -> None:
    """The definition rules: hidden starts neither mandatory nor with a default; a
    mandatory field has a default or a rule that sets one."""
    if field.hidden and field.mandatory:
        raise ValidationFailed(
            "A hidden field cannot start mandatory; let a rule make it mandatory when it shows.",
            field="mandatory",
        )
    if field.hidden and field.default is not None:
        raise ValidationFailed(
            "A hidden field cannot start with a default; let a rule set one when it shows.",
            field="default",
        )
    if field.mandatory and field.default is None and not (field.pk and _rule_sets_default(field)):
        raise ValidationFailed(
            "A mandatory field needs a default value or a rule that sets one.", field="default"
        )


def _require_free_label(label: str, exclude_pk: int | None = None) -> None:
    taken = MetadataField.objects.filter(same_name("label", label))
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise Conflict(f"A field labelled {_quote(label)} already exists.", field="label")


def field_snapshot(field: MetadataField) -> dict:
    """Plain data for the audit log."""
    return {
        "external_id": field.external_id,
        "label": field.label,
        "type": field.type,
        "position": field.position,
        "mandatory": field.mandatory,
        "hidden": field.hidden,
        "default": field.default,
        "min": field.min_value,
        "max": field.max_value,
    }


def field_create(
    *,
    actor,
    label,
    type,
    external_id=None,
    mandatory: bool = False,
    hidden: bool = False,
    default=None,
    min=None,
    max=None,
    values=None,
) -> MetadataField:
    """A new field at the end of the list; a new list starts with one placeholder value."""
    _require_manager(actor)
    label = _clean_label(label)
    if type not in engine.TYPES:
        raise ValidationFailed(
            "type is one of string, number, date, enum (single-select) or set (multi-select).",
            field="type",
        )
    low, high = _clean_bounds(type, min, max)
    if values and type not in engine.LIST_TYPES:
        raise ValidationFailed("Only list fields have values.", field="values")
    if values is not None and not isinstance(values, list):
        raise ValidationFailed("values is a list of {label, external_id}.", field="values")
    if values and len(values) > VALUES_MAX:
        raise ValidationFailed(f"A list has at most {VALUES_MAX:,} values.", field="values")
    with transaction.atomic():
        _schema_lock()
        if MetadataField.objects.count() >= FIELDS_MAX:
            raise Conflict(f"There are already {FIELDS_MAX} fields, the most there can be.")
        _require_free_label(label)
        if external_id is None or external_id == "":
            external_id = _generated_id(label, _field_id_taken)
        else:
            external_id = _clean_external_id(external_id)
            if _field_id_taken(external_id):
                raise Conflict(
                    f"The external ID {_quote(external_id)} is taken (IDs of deleted fields "
                    "are never reused).",
                    field="external_id",
                )
        position = MetadataField.objects.count()
        field = MetadataField(
            external_id=external_id,
            label=label,
            type=type,
            position=position,
            mandatory=bool(mandatory),
            hidden=bool(hidden),
            min_value=low,
            max_value=high,
        )
        field.save()
        if type in engine.LIST_TYPES:
            _values_create_initial(field, values or [{"label": PLACEHOLDER_LABEL}])
            default = _default_ids_from_labels(field, default)
        field.default = _clean_default(field, default)
        _check_flags(field)
        field.save(update_fields=["default"])
        _changed(actor=actor, verb="metadata.field_create", obj=field, data=field_snapshot(field))
    return field


def _default_ids_from_labels(field: MetadataField, default):
    """At creation the new values' IDs may not be known yet: a default may name a value
    by its label instead."""
    if default is None:
        return None
    by_label = {v.label.casefold(): v.external_id for v in field.values.all()}
    ids = {v.external_id.casefold() for v in field.values.all()}

    def one(item):
        if isinstance(item, str) and item.casefold() not in ids:
            return by_label.get(item.strip().casefold(), item)
        return item

    return [one(i) for i in default] if isinstance(default, list) else one(default)


def _values_create_initial(field: MetadataField, values: list) -> None:
    rows: list[MetadataValue] = []
    labels: set[str] = set()
    ids: set[str] = set()
    for i, item in enumerate(values):
        if isinstance(item, str):
            item = {"label": item}
        if not isinstance(item, dict):
            raise ValidationFailed("values is a list of {label, external_id}.", field="values")
        label = _clean_label(item.get("label"), "values")
        if label.casefold() in labels:
            raise ValidationFailed(f"The value {_quote(label)} is listed twice.", field="values")
        given = item.get("external_id")
        if given:
            value_id = _clean_external_id(given, "values")
            if value_id.casefold() in ids:
                raise ValidationFailed(
                    f"The value ID {_quote(value_id)} is listed twice.", field="values"
                )
        else:
            value_id = _generated_id(label, lambda c: c.casefold() in ids)
        labels.add(label.casefold())
        ids.add(value_id.casefold())
        rows.append(
            MetadataValue(
                field=field,
                external_id=value_id,
                label=label,
                position=i,
                blocked=bool(item.get("blocked", False)),
            )
        )
    MetadataValue.objects.bulk_create(rows)


_FIELD_EDITABLE = ("label", "mandatory", "hidden", "default", "min", "max", "position")


def field_update(*, actor, field: MetadataField, **changes) -> MetadataField:
    """Change a field's label, flags, default, bounds or place in the list.

    The external ID and the type never change. Changed defaults and bounds apply to new
    assets and to edits from now on; values already stored are not rewritten.
    """
    _require_manager(actor)
    if "external_id" in changes and changes.pop("external_id") not in (None, field.external_id):
        raise ValidationFailed("A field's external ID can never change.", field="external_id")
    if "type" in changes and changes.pop("type") not in (None, field.type):
        raise ValidationFailed(
            "A field's type cannot change; create a new field instead.", field="type"
        )
    unknown = set(changes) - set(_FIELD_EDITABLE)
    if unknown:
        raise ValidationFailed(f"{sorted(unknown)[0]} cannot be changed.", field=sorted(unknown)[0])
    with transaction.atomic():
        _schema_lock()
        field = MetadataField.objects.select_for_update().get(pk=field.pk)
        before = field_snapshot(field)
        if "label" in changes:
            field.label = _clean_label(changes["label"])
            _require_free_label(field.label, exclude_pk=field.pk)
        for flag in ("mandatory", "hidden"):
            if flag in changes:
                if not isinstance(changes[flag], bool):
                    raise ValidationFailed(f"{flag} is true or false.", field=flag)
                setattr(field, flag, changes[flag])
        if "min" in changes or "max" in changes:
            field.min_value, field.max_value = _clean_bounds(
                field.type,
                changes.get("min", field.min_value),
                changes.get("max", field.max_value),
            )
        if "default" in changes or "min" in changes or "max" in changes:
            field.default = _clean_default(field, changes.get("default", field.default))
        _check_flags(field)
        field.save()
        if "position" in changes:
            _move_field(field, changes["position"])
            field.refresh_from_db()
        after = field_snapshot(field)
        diff = {k: v for k, v in after.items() if before[k] != v}
        if diff:
            _changed(
                actor=actor,
                verb="metadata.field_update",
                obj=field,
                data={"before": {k: before[k] for k in diff}, "after": diff},
            )
    return field


def _clean_position(position, count: int) -> int:
    if isinstance(position, bool) or not isinstance(position, int):
        raise ValidationFailed("position is a whole number (1 is the top).", field="position")
    return min(max(position, 1), count) - 1


def _renumber(model, ordered_ids: list[int]) -> None:
    """Positions 0..n-1 in this order; only rows whose position changes are written."""
    current = dict(model.objects.filter(pk__in=ordered_ids).values_list("pk", "position"))
    changed = [model(pk=pk, position=i) for i, pk in enumerate(ordered_ids) if current.get(pk) != i]
    if changed:
        model.objects.bulk_update(changed, ["position"], batch_size=1000)


def _move_to(ids: list[int], pk: int, index: int) -> list[int]:
    rest = [i for i in ids if i != pk]
    rest.insert(index, pk)
    return rest


def _move_field(field: MetadataField, position) -> None:
    ids = list(MetadataField.objects.order_by("position", "id").values_list("pk", flat=True))
    index = _clean_position(position, len(ids))
    _renumber(MetadataField, _move_to(ids, field.pk, index))


def fields_reorder(*, actor, order) -> None:
    """The whole list in a new order (drag and drop): every live field's external ID once."""
    _require_manager(actor)
    if not isinstance(order, list) or not all(isinstance(x, str) for x in order):
        raise ValidationFailed("Send the fields' external IDs in their new order.", field="order")
    with transaction.atomic():
        _schema_lock()
        rows = dict(MetadataField.objects.values_list("external_id", "pk"))
        if sorted(order) != sorted(rows):
            raise ValidationFailed(
                "The order must list every field exactly once; reload the page and try again.",
                field="order",
            )
        _renumber(MetadataField, [rows[x] for x in order])
        _changed(actor=actor, verb="metadata.fields_reorder", data={"order": order})


def field_delete(*, actor, field: MetadataField) -> None:
    """Delete a field no other field's rules read. Its own rules go with it; its values
    are removed from assets in the background. Its external ID is never reused."""
    _require_manager(actor)
    with transaction.atomic():
        _schema_lock()
        dependents = selectors.rules_depending_on(field)
        if dependents:
            names = ", ".join(f"{_quote(r.name)} (on {r.field.label})" for r in dependents[:10])
            more = f" and {len(dependents) - 10} more" if len(dependents) > 10 else ""
            raise Conflict(
                f"Rules depend on {field.label}: {names}{more}. Change or delete them first."
            )
        snapshot = field_snapshot(field)
        MetadataRule.objects.filter(field=field).delete()
        field.deleted_at = timezone.now()
        field.save(update_fields=["deleted_at", "updated_at"])
        _renumber(MetadataField, list(MetadataField.objects.values_list("pk", flat=True)))
        _changed(actor=actor, verb="metadata.field_delete", obj=field, data=snapshot)
        from metadata.tasks import strip_field_values

        external_id = field.external_id
        transaction.on_commit(lambda: strip_field_values.delay(external_id), robust=True)


HOLDS = "dam_metadata_keys(metadata) @> ARRAY[%s]::text[]"  # served by asset_metadata_keys


def field_values_strip(*, external_id: str, batch: int = 5000) -> int:
    """Remove a deleted field's values from every asset (trash included): from the first
    holder on (the keys index finds it), walking the ids `batch` at a time, so each
    statement is short and the table is read once (asking the index again after every
    batch would revisit the entries of the rows already stripped until a vacuum)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT min(id) FROM assets_asset WHERE {HOLDS}", [external_id])
        first = cursor.fetchone()[0]
    if first is None:
        return 0
    total, after = 0, first - 1
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT max(id) FROM (SELECT id FROM assets_asset WHERE id > %s"
                " ORDER BY id LIMIT %s) b",
                [after, batch],
            )
            upto = cursor.fetchone()[0]
            if upto is None:
                return total
            cursor.execute(
                "UPDATE assets_asset SET metadata = metadata - %s"
                " WHERE id > %s AND id <= %s AND metadata ? %s",
                [external_id, after, upto, external_id],
            )
            total += cursor.rowcount
        after = upto


USING_COUNTED = 10_000


def assets_using(field: MetadataField, *, limit: int | None = None) -> int:
    """How many assets (trash included) hold a value of the field, counted up to `limit`:
    more answers `limit + 1`. The keys index finds a rare field's few holders; a common
    field's first `limit` lie in the first pages of the table."""
    limit = USING_COUNTED if limit is None else limit
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM assets_asset WHERE {HOLDS} LIMIT %s) held",
            [field.external_id, limit + 1],
        )
        return cursor.fetchone()[0]


# -- definitions: list values --------------------------------------------------------------
def value_snapshot(value: MetadataValue) -> dict:
    return {
        "field": value.field.external_id,
        "external_id": value.external_id,
        "label": value.label,
        "position": value.position,
        "blocked": value.blocked,
    }


def _require_free_value(field, label=None, external_id=None, exclude_pk=None) -> None:
    others = field.values.all()
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    if label is not None and others.filter(same_name("label", label)).exists():
        raise Conflict(f"{field.label} already has the value {_quote(label)}.", field="label")
    if external_id is not None and others.filter(same_name("external_id", external_id)).exists():
        raise Conflict(
            f"{field.label} already has a value with ID {_quote(external_id)}.",
            field="external_id",
        )


def value_create(
    *, actor, field: MetadataField, label, external_id=None, blocked=False, position=None
) -> MetadataValue:
    _require_manager(actor)
    if not field.is_list:
        raise ValidationFailed("Only list fields have values.", field="field")
    label = _clean_label(label)
    if not isinstance(blocked, bool):
        raise ValidationFailed("blocked is true or false.", field="blocked")
    with transaction.atomic():
        _schema_lock()
        count = field.values.count()
        if count >= VALUES_MAX:
            raise Conflict(f"{field.label} already has {VALUES_MAX:,} values, the most allowed.")
        if external_id is None or external_id == "":
            external_id = _generated_id(
                label, lambda c: field.values.filter(external_id__iexact=c).exists()
            )
        else:
            external_id = _clean_external_id(external_id)
        _require_free_value(field, label=label, external_id=external_id)
        value = MetadataValue.objects.create(
            field=field, external_id=external_id, label=label, position=count, blocked=blocked
        )
        if position is not None:
            _move_value(value, position)
            value.refresh_from_db()
        _changed(actor=actor, verb="metadata.value_create", obj=field, data=value_snapshot(value))
    return value


def _is_field_default(field: MetadataField, external_id: str) -> bool:
    return external_id in engine._as_list(field.default)


def value_update(*, actor, value: MetadataValue, **changes) -> MetadataValue:
    """Rename, block or unblock, or move a list value; its ID never changes."""
    _require_manager(actor)
    if "external_id" in changes and changes.pop("external_id") not in (None, value.external_id):
        raise ValidationFailed("A value's external ID can never change.", field="external_id")
    unknown = set(changes) - {"label", "blocked", "position"}
    if unknown:
        raise ValidationFailed(f"{sorted(unknown)[0]} cannot be changed.", field=sorted(unknown)[0])
    with transaction.atomic():
        _schema_lock()
        value = MetadataValue.objects.select_related("field").select_for_update().get(pk=value.pk)
        before = value_snapshot(value)
        if "label" in changes:
            value.label = _clean_label(changes["label"])
            _require_free_value(value.field, label=value.label, exclude_pk=value.pk)
        if "blocked" in changes:
            if not isinstance(changes["blocked"], bool):
                raise ValidationFailed("blocked is true or false.", field="blocked")
            if changes["blocked"] and _is_field_default(value.field, value.external_id):
                raise ValidationFailed(
                    f"{_quote(value.label)} is the default of {value.field.label}; choose "
                    "another default before blocking it.",
                    field="blocked",
                )
            value.blocked = changes["blocked"]
        value.save()
        if "position" in changes:
            _move_value(value, changes["position"])
            value.refresh_from_db()
        after = value_snapshot(value)
        diff = {k: v for k, v in after.items() if before[k] != v}
        if diff:
            _changed(
                actor=actor,
                verb="metadata.value_update",
                obj=value.field,
                data={
                    "value": value.external_id,
                    "before": {k: before[k] for k in diff},
                    "after": diff,
                },
            )
    return value


def _move_value(value: MetadataValue, position) -> None:
    ids = list(
        MetadataValue.objects.filter(field_id=value.field_id)
        .order_by("position", "id")
        .values_list("pk", flat=True)
    )
    _renumber(MetadataValue, _move_to(ids, value.pk, _clean_position(position, len(ids))))


# -- definitions: rules ----------------------------------------------------------------
def _live_definitions() -> dict[str, engine.Field]:
    return selectors.schema_get().by_id


def _condition_value(source: engine.Field, op: str, raw, n: int):
    where = f"Condition {n}"
    if op in ("empty", "populated"):
        if raw not in (None, "", []):
            raise ValidationFailed(f"{where}: “{OP_WORDS[op]}” takes no value.", field="conditions")
        return None
    if raw is None or raw == "" or raw == []:
        raise ValidationFailed(f"{where}: enter the value to compare with.", field="conditions")
    if op == "includes" and source.type in ("number", "date"):
        raise ValidationFailed(
            f"{where}: “includes” works on text and list fields; use “equals” for "
            f"{TYPE_WORDS[source.type]}s.",
            field="conditions",
        )
    items = raw if isinstance(raw, list) else [raw]
    if len(items) > VALUES_MAX:
        raise ValidationFailed(f"{where}: too many values.", field="conditions")
    try:
        if source.type in ("enum", "set"):
            # Conditions may name blocked values: assets still hold them.
            cleaned = _clean_list_value(
                engine.Field(source.external_id, source.label, "set", options=source.options),
                items,
                held=[o.external_id for o in source.options],
            )
            if op == "equals" and source.type == "enum":
                if len(cleaned) != 1:
                    raise ValueError(f"{source.label} holds one value; compare with one.")
                return cleaned[0]
            return cleaned
        relaxed = engine.Field(source.external_id, source.label, source.type)
        if op == "includes":  # text: any of these pieces
            pieces = [clean_value(relaxed, i if isinstance(i, str) else str(i)) for i in items]
            pieces = [p for p in pieces if p is not None]
            if not pieces:
                raise ValueError("enter the text to look for.")
            return pieces
        if len(items) != 1:
            raise ValueError(f"{source.label} holds one value; compare with one.")
        return clean_value(relaxed, items[0])
    except ValueError as exc:
        raise ValidationFailed(f"{where}: {exc}", field="conditions") from None


def _clean_conditions(target: engine.Field, definitions, conditions) -> list[dict]:
    if not isinstance(conditions, list) or not conditions:
        raise ValidationFailed("A rule needs at least one condition.", field="conditions")
    if len(conditions) > CONDITIONS_MAX:
        raise ValidationFailed(
            f"A rule has at most {CONDITIONS_MAX} conditions.", field="conditions"
        )
    cleaned = []
    for n, item in enumerate(conditions, start=1):
        if not isinstance(item, dict):
            raise ValidationFailed(
                f"Condition {n} is an object {{field, op, value}}.", field="conditions"
            )
        source_id = item.get("field")
        source = definitions.get(source_id) if isinstance(source_id, str) else None
        if source is None:
            raise ValidationFailed(f"Condition {n}: choose a field.", field="conditions")
        if source.external_id == target.external_id:
            raise ValidationFailed(
                f"Condition {n}: a field's rules read other fields, not itself.",
                field="conditions",
            )
        op = item.get("op")
        if op not in engine.OPS:
            raise ValidationFailed(
                f"Condition {n}: op is empty, populated, equals or includes.", field="conditions"
            )
        value = _condition_value(source, op, item.get("value"), n)
        cleaned.append({"field": source.external_id, "op": op, "value": value})
    return cleaned


def _action_values(target: engine.Field, kind: str, raw, n: int) -> list:
    where = f"Action {n} ({ACTION_WORDS[kind]})"
    if engine.ACTION_GROUPS[kind] == "options" and not target.is_list:
        raise ValidationFailed(f"{where} works on list fields only.", field="actions")
    if kind not in engine.VALUE_ACTIONS:
        if raw not in (None, [], ""):
            raise ValidationFailed(f"{where} takes no values.", field="actions")
        return []
    items = raw if isinstance(raw, list) else ([] if raw in (None, "") else [raw])
    if not items:
        raise ValidationFailed(f"{where}: choose at least one value.", field="actions")
    if kind in ("append", "only_options", "add_options") and not target.is_list:
        raise ValidationFailed(f"{where} works on list fields only.", field="actions")
    if kind == "append" and target.type != "set":
        raise ValidationFailed(
            f"{where} works on multi-select lists; use “set default” on others.",
            field="actions",
        )
    try:
        if target.is_list:
            as_set = engine.Field(target.external_id, target.label, "set", options=target.options)
            held = (
                None
                if kind in ("set_default", "append")
                else [o.external_id for o in target.options]
            )
            cleaned = _clean_list_value(as_set, items, held)
            if kind == "set_default" and target.type == "enum" and len(cleaned) != 1:
                raise ValueError(f"{target.label} holds one value; choose one default.")
            return cleaned
        if len(items) != 1:
            raise ValueError(f"{target.label} holds one value; choose one default.")
        value = clean_value(target, items[0])
        if value is None:
            raise ValueError("choose a value.")
        return [value]
    except ValueError as exc:
        raise ValidationFailed(f"{where}: {exc}", field="actions") from None


def _clean_actions(target: engine.Field, actions) -> list[dict]:
    if not isinstance(actions, list) or not actions:
        raise ValidationFailed("A rule needs at least one action.", field="actions")
    seen: dict[str, str] = {}
    cleaned = []
    for n, item in enumerate(actions, start=1):
        if not isinstance(item, dict) or item.get("type") not in engine.ACTIONS:
            raise ValidationFailed(
                f"Action {n}: type is one of {', '.join(engine.ACTIONS)}.", field="actions"
            )
        kind = item["type"]
        group = engine.ACTION_GROUPS[kind]
        if group in seen:
            raise ValidationFailed(
                f"Only one action per group: {_quote(seen[group])} and {_quote(kind)} both "
                f"change the {group}.",
                field="actions",
            )
        seen[group] = kind
        cleaned.append(
            {"type": kind, "values": _action_values(target, kind, item.get("values"), n)}
        )
    return cleaned


def _check_no_cycle(target: MetadataField, depends_on: list[str], rule_pk: int | None) -> None:
    edges: dict[str, set[str]] = {}
    rules = MetadataRule.objects.filter(field__deleted_at__isnull=True).select_related("field")
    for rule in rules.exclude(pk=rule_pk) if rule_pk else rules:
        edges.setdefault(rule.field.external_id, set()).update(rule.depends_on)
    edges.setdefault(target.external_id, set()).update(depends_on)
    cycle = engine.find_cycle(edges)
    if cycle:
        labels = {f.external_id: f.label for f in MetadataField.objects.all()}
        path = " → ".join(labels.get(x, x) for x in reversed(cycle))
        raise ValidationFailed(
            f"This rule would make a loop ({path}): a field cannot depend on itself, "
            "directly or through other fields.",
            field="conditions",
        )


def _clean_rule(target: MetadataField, data: dict, rule_pk: int | None = None) -> dict:
    definitions = _live_definitions()
    target_def = definitions[target.external_id]
    name = str(data.get("name") or "").strip() if isinstance(data.get("name"), str) else ""
    if not name:
        raise ValidationFailed("Give the rule a name.", field="name")
    if "\x00" in name or len(name) > RULE_NAME_MAX:
        raise ValidationFailed(
            f"Rule names have at most {RULE_NAME_MAX} characters and no NUL.", field="name"
        )
    match = data.get("match") or RuleMatch.ALL
    if match not in RuleMatch.values:
        raise ValidationFailed("match is all or any.", field="match")
    conditions = _clean_conditions(target_def, definitions, data.get("conditions"))
    actions = _clean_actions(target_def, data.get("actions"))
    depends_on = sorted({c["field"] for c in conditions})
    _check_no_cycle(target, depends_on, rule_pk)
    return {
        "name": name,
        "match": match,
        "conditions": conditions,
        "actions": actions,
        "depends_on": depends_on,
    }


def rule_snapshot(rule: MetadataRule) -> dict:
    return {
        "field": rule.field.external_id,
        "name": rule.name,
        "position": rule.position,
        "match": rule.match,
        "conditions": rule.conditions,
        "actions": rule.actions,
    }


def rule_create(*, actor, field: MetadataField, position=None, **data) -> MetadataRule:
    """A rule at the end of the field's rules (later rules override earlier ones)."""
    _require_manager(actor)
    with transaction.atomic():
        _schema_lock()
        cleaned = _clean_rule(field, data)
        count = field.rules.count()
        rule = MetadataRule.objects.create(field=field, position=count, **cleaned)
        if position is not None:
            _move_rule(rule, position)
            rule.refresh_from_db()
        _changed(actor=actor, verb="metadata.rule_create", obj=field, data=rule_snapshot(rule))
    return rule


def _keeps_default_source(field: MetadataField, rule_pk: int, still_sets: bool) -> None:
    needs = field.mandatory and field.default is None and not still_sets
    if needs and not _rule_sets_default(field, exclude_rule=rule_pk):
        raise ValidationFailed(
            f"{field.label} is mandatory and this rule is what sets its default; give the "
            "field a default first.",
            field="actions",
        )


def rule_update(*, actor, rule: MetadataRule, **changes) -> MetadataRule:
    _require_manager(actor)
    unknown = set(changes) - {"name", "match", "conditions", "actions", "position"}
    if unknown:
        raise ValidationFailed(f"{sorted(unknown)[0]} cannot be changed.", field=sorted(unknown)[0])
    with transaction.atomic():
        _schema_lock()
        rule = MetadataRule.objects.select_related("field").select_for_update().get(pk=rule.pk)
        before = rule_snapshot(rule)
        data = {
            "name": rule.name,
            "match": rule.match,
            "conditions": rule.conditions,
            "actions": rule.actions,
        }
        data.update({k: v for k, v in changes.items() if k != "position"})
        cleaned = _clean_rule(rule.field, data, rule_pk=rule.pk)
        sets = any(a["type"] == "set_default" for a in cleaned["actions"])
        _keeps_default_source(rule.field, rule.pk, sets)
        for key, value in cleaned.items():
            setattr(rule, key, value)
        rule.save()
        if "position" in changes:
            _move_rule(rule, changes["position"])
            rule.refresh_from_db()
        _changed(
            actor=actor,
            verb="metadata.rule_update",
            obj=rule.field,
            data={"rule": rule.pk, "before": before, "after": rule_snapshot(rule)},
        )
    return rule


def rule_delete(*, actor, rule: MetadataRule) -> None:
    _require_manager(actor)
    with transaction.atomic():
        _schema_lock()
        rule = MetadataRule.objects.select_related("field").select_for_update().get(pk=rule.pk)
        _keeps_default_source(rule.field, rule.pk, still_sets=False)
        snapshot = rule_snapshot(rule)
        field = rule.field
        rule.delete()
        _renumber(MetadataRule, [r.pk for r in selectors.field_rules(field)])
        _changed(actor=actor, verb="metadata.rule_delete", obj=field, data=snapshot)


def _move_rule(rule: MetadataRule, position) -> None:
    ids = [r.pk for r in selectors.field_rules(rule.field)]
    _renumber(MetadataRule, _move_to(ids, rule.pk, _clean_position(position, len(ids))))


def rules_reorder(*, actor, field: MetadataField, order) -> list[MetadataRule]:
    """The field's rules in a new order: every rule id of the field exactly once."""
    _require_manager(actor)
    if not isinstance(order, list) or not all(
        isinstance(x, int) and not isinstance(x, bool) for x in order
    ):
        raise ValidationFailed("Send the rule ids in their new order.", field="order")
    with transaction.atomic():
        _schema_lock()
        ids = [r.pk for r in selectors.field_rules(field)]
        if sorted(order) != sorted(ids):
            raise ValidationFailed(
                "The order must list each of the field's rules exactly once.", field="order"
            )
        _renumber(MetadataRule, order)
        _changed(actor=actor, verb="metadata.rules_reorder", obj=field, data={"order": order})
    return selectors.field_rules(field)


# -- words for people ---------------------------------------------------------------------
def _value_words(f: engine.Field | None, value) -> str:
    if f is None:
        return str(value)
    if f.is_list:
        return ", ".join(_option_label(f, v) for v in engine._as_list(value))
    if isinstance(value, list):
        return " or ".join(_quote(v) for v in value)
    return _quote(value)


def rule_summary(rule: MetadataRule, definitions: dict[str, engine.Field]) -> str:
    """“When Category equals “Employee”: show.”"""
    joiner = " and " if rule.match == "all" else " or "
    parts = []
    for c in rule.conditions:
        source = definitions.get(c["field"])
        name = source.label if source else c["field"]
        text = f"{name} {OP_WORDS.get(c['op'], c['op'])}"
        if c.get("value") not in (None, "", []):
            text += f" {_value_words(source, c['value'])}"
        parts.append(text)
    target = definitions.get(rule.field.external_id)
    actions = []
    for a in rule.actions:
        text = ACTION_WORDS.get(a["type"], a["type"])
        values = a.get("values") or []
        if values:
            shown = values if target is None or target.is_list else values[0]
            text += f" {_value_words(target, shown)}"
        actions.append(text)
    return f"When {joiner.join(parts)}: {'; '.join(actions)}."
