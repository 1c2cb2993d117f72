"""The metadata form: read it from a POST, and lay it out from the engine's evaluation.

Inputs are named `md-<external id>`; every field the form showed also sends
`md-shown=<external id>`, so a field left empty (or a multi-select with nothing
checked) still counts as sent. The same layout serves the asset page, the upload dialog
and bulk edit; the engine decides what shows (no second engine in JavaScript).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from metadata import engine, services

PREFIX = "md-"
SHOWN = "md-shown"
CLEAR = "md-clear"  # bulk edit: clear this field on every selected asset
PICKER_THRESHOLD = 12  # more options than this: a filterable list instead of a plain one
SEARCH_THRESHOLD = 100  # more than this: the chosen values plus a server-side search
RESULTS_LIMIT = 50  # options a search shows at a time


def input_name(external_id: str) -> str:
    return f"{PREFIX}{external_id}"


def shown_fields(data) -> list[str]:
    return [v for v in data.getlist(SHOWN) if isinstance(v, str)]


def read_raw(schema: engine.Schema, data, *, fields=None) -> dict[str, Any]:
    """{external id: raw form value} for the fields the form showed (strings, or lists of
    strings for multi-selects); empty strings mean "empty"."""
    raw: dict[str, Any] = {}
    wanted = fields if fields is not None else shown_fields(data)
    for key in wanted:
        f = schema.by_id.get(key)
        if f is None:
            continue
        name = input_name(key)
        if f.type == engine.SET:
            raw[key] = [v for v in data.getlist(name) if v]
        else:
            raw[key] = data.get(name, "")
    return raw


def lenient_values(schema: engine.Schema, raw: dict, held: dict | None = None) -> dict:
    """Form input as values for a live re-render: what cannot be read yet counts as empty
    (text stays as typed), so half-typed input never breaks the form."""
    held = held or {}
    values: dict[str, Any] = {}
    for key, item in raw.items():
        f = schema.by_id[key]
        try:
            value = services.clean_value(f, item, held=held.get(key), check_range=False)
        except ValueError:
            value = item.strip() if f.type == engine.STRING and isinstance(item, str) else None
        if value is not None:
            values[key] = value
    return values


def errors_by_field(exc) -> dict[str, str]:
    """A ValidationFailed from the metadata check as {external id: first message}."""
    out: dict[str, str] = {}
    for key, messages in (exc.field_errors() or {}).items():
        if key.startswith("metadata."):
            out[key.removeprefix("metadata.")] = messages[0]
    return out


@dataclass
class Choice:
    value: str
    label: str
    selected: bool
    blocked: bool = False


@dataclass
class Row:
    field: engine.Field
    state: engine.FieldState
    value: Any
    choices: list[Choice] = field(default_factory=list)
    error: str = ""
    driver: bool = False
    mixed: bool = False  # bulk: the selection holds different values
    ctx: str = "md"  # prefix of element ids: two forms on one page never clash
    offered: int = 0  # how many options the rules offer
    schema: engine.Schema | None = None  # where a long list's search finds the labels

    @property
    def searched(self) -> bool:
        return self.field.is_list and self.offered > SEARCH_THRESHOLD

    def search(self, query: str = "", limit: int = RESULTS_LIMIT) -> tuple[list[Choice], int]:
        """Offered options not yet chosen whose label contains `query`; (the first
        `limit` of them, how many match)."""
        q = query.strip().casefold()
        chosen = {c.value for c in self.choices if c.selected}
        matches: list[Choice] = []
        total = 0
        for value_id in self.state.options:
            if value_id in chosen:
                continue
            option = self.schema.option(self.field.external_id, value_id)
            if q and q not in option.label.casefold():
                continue
            total += 1
            if len(matches) < limit:
                matches.append(Choice(value_id, option.label, False, option.blocked))
        return matches, total

    @cached_property
    def _first_results(self) -> tuple[list[Choice], int]:
        return self.search()

    @property
    def results(self) -> list[Choice]:
        return self._first_results[0]

    @property
    def results_total(self) -> int:
        return self._first_results[1]

    @property
    def id(self) -> str:
        return f"{self.ctx}-{self.field.external_id}"

    @property
    def name(self) -> str:
        return input_name(self.field.external_id)

    @property
    def widget(self) -> str:
        kind = self.field.type
        if self.searched:
            return "search-one" if kind == engine.ENUM else "search-many"
        if kind == engine.ENUM:
            return "select-many" if len(self.choices) > PICKER_THRESHOLD else "select"
        if kind == engine.SET:
            return "checklist-many" if len(self.choices) > PICKER_THRESHOLD else "checklist"
        return {"string": "text", "number": "number", "date": "date"}[kind]

    @property
    def text_value(self) -> str:
        return "" if self.value is None or isinstance(self.value, list) else str(self.value)

    @property
    def selected_count(self) -> int:
        return sum(1 for c in self.choices if c.selected)

    @property
    def hint(self) -> str:
        f = self.field
        low, high = f.min, f.max
        if f.type == engine.STRING and (low is not None or high is not None):
            if low is not None and high is not None:
                return f"{low} to {high} characters."
            return (
                f"At least {low} characters." if low is not None else f"At most {high} characters."
            )
        if f.type in (engine.NUMBER, engine.DATE) and (low is not None or high is not None):
            if low is not None and high is not None:
                return f"From {low} to {high}."
            return f"From {low}." if low is not None else f"Up to {high}."
        return ""


def rows_for(
    schema: engine.Schema,
    evaluation: engine.Evaluation,
    values: dict,
    *,
    errors: dict[str, str] | None = None,
    held: dict | None = None,
    mixed: set[str] | None = None,
    ctx: str = "md",
) -> list[Row]:
    """The visible fields in list order, each with its value and the choices it offers.

    `values` are what the inputs show; `held` what the asset already has (a blocked value
    it holds is still listed, marked blocked, so saving unchanged keeps it).
    """
    errors = errors or {}
    held = held or {}
    rows: list[Row] = []
    for f in schema.fields:
        state = evaluation.states[f.external_id]
        if not state.visible:
            continue
        value = values.get(f.external_id)
        row = Row(
            field=f,
            state=state,
            value=value,
            error=errors.get(f.external_id, ""),
            driver=f.external_id in schema.drivers,
            mixed=f.external_id in (mixed or set()),
            ctx=ctx,
            offered=len(state.options),
            schema=schema,
        )
        if f.is_list:
            row.choices = _choices(schema, f, state, value, held.get(f.external_id), row.searched)
        rows.append(row)
    return rows


def _choices(schema, f: engine.Field, state, value, held, searched: bool) -> list[Choice]:
    """A list field's choices: every option it offers (a long list's search brings the
    rest, so then only the chosen ones), plus blocked values the asset already holds."""
    selected = {str(v) for v in engine._as_list(value)}
    kept = {str(v) for v in engine._as_list(held)}
    if searched:
        ids = schema.in_list_order(f.external_id, selected)
    else:
        offered = set(state.options)
        ids = [
            o.external_id
            for o in f.options
            if o.external_id in offered
            or o.external_id in selected
            or (o.external_id in kept and o.external_id in state.allowed)
        ]
    choices = []
    for value_id in ids:
        option = schema.option(f.external_id, value_id)
        choices.append(Choice(value_id, option.label, value_id in selected, option.blocked))
    return choices


@dataclass
class FormState:
    """Everything the fields partial needs."""

    ctx: str
    mode: str  # "edit" | "upload" | "bulk"
    rows: list[Row]
    params: dict[str, Any]  # hidden inputs that tell the live endpoint what this form is
    has_fields: bool = True

    @property
    def container_id(self) -> str:
        return f"{self.ctx}-fields"


# Defaults in each mode: (first render, live re-render). New assets show every default;
# edits show what saving would store, then defaults of fields that newly appear; bulk
# edit never proposes defaults (they would land on every selected asset).
MODE_DEFAULTS = {
    "edit": (engine.DEFAULTS_MANDATORY, engine.DEFAULTS_ALL),
    "upload": (engine.DEFAULTS_ALL, engine.DEFAULTS_ALL),
    "bulk": (engine.DEFAULTS_NONE, engine.DEFAULTS_NONE),
}


def form_state(
    schema: engine.Schema,
    *,
    mode: str,
    ctx: str,
    base: dict,
    data=None,
    held: dict | None = None,
    errors: dict[str, str] | None = None,
    mixed: set[str] | None = None,
    params: dict | None = None,
) -> FormState:
    """Lay the form out for `base` values (what the asset or selection holds), overlaid by
    what the user has entered in `data` (a POST), through the engine."""
    first, live = MODE_DEFAULTS[mode]
    base = {k: v for k, v in (base or {}).items() if k in schema.by_id}
    shown = shown_fields(data) if data is not None else []
    if not shown:
        evaluation = engine.evaluate(schema, base, defaults=first)
        display = dict(evaluation.values)
    else:
        raw = read_raw(schema, data, fields=shown)
        typed = lenient_values(schema, raw, held)
        merged = {k: v for k, v in base.items() if k not in shown} | typed
        evaluation = engine.evaluate(schema, merged, defaults=live, keep_empty=shown)
        display = dict(evaluation.values)
        for key, item in raw.items():  # text that cannot be read yet stays as typed
            if key not in typed and isinstance(item, str) and item.strip():
                display[key] = item
    rows = rows_for(schema, evaluation, display, errors=errors, held=held, mixed=mixed, ctx=ctx)
    return FormState(ctx=ctx, mode=mode, rows=rows, params=params or {}, has_fields=bool(schema))


def common_values(schema: engine.Schema, holdings: list[dict]) -> tuple[dict, set[str]]:
    """For bulk edit: the values every selected asset shares, and the fields where they
    differ."""
    common: dict = {}
    mixed: set[str] = set()
    for f in schema.fields:
        key = f.external_id
        seen = {repr(sorted(engine._as_list(h.get(key)))) for h in holdings}
        if len(seen) > 1:
            mixed.add(key)
        elif holdings and not engine.is_empty(holdings[0].get(key)):
            common[key] = holdings[0][key]
    return common, mixed


def bulk_changes(schema: engine.Schema, data, common: dict, mixed: set[str]) -> dict:
    """What a bulk edit changes: fields given a new value, fields emptied that all held,
    and mixed fields the user asked to clear. Unchanged fields are left alone."""
    raw = read_raw(schema, data)
    clear = set(data.getlist(CLEAR))
    changes: dict = {}
    for key, item in raw.items():
        empty = item == [] or (isinstance(item, str) and not item.strip())
        if empty:
            if key in clear or (key not in mixed and key in common):
                changes[key] = None
            continue
        f = schema.by_id[key]
        try:
            same = services.clean_value(f, item, held=common.get(key)) == common.get(key)
        except ValueError:
            same = False
        if not same or key in mixed:
            changes[key] = item
    return changes


def display_rows(schema: engine.Schema, values: dict) -> list[dict]:
    """Read-only: label and shown value of every visible field that has a value."""
    evaluation = engine.evaluate(schema, values)
    out = []
    for f in schema.fields:
        if not evaluation.states[f.external_id].visible:
            continue
        value = values.get(f.external_id)
        if engine.is_empty(value):
            continue
        if f.is_list:
            labels = []
            for v in engine._as_list(value):
                option = schema.option(f.external_id, v)
                labels.append(
                    {
                        "label": option.label if option else v,
                        "blocked": bool(option and option.blocked),
                    }
                )
            out.append({"label": f.label, "items": labels})
        else:
            out.append({"label": f.label, "text": str(value)})
    return out
