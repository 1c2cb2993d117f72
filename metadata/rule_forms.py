"""The rule editor's form: read conditions and actions from a POST, lay them out again.

Conditions are rows `c-<i>-field`, `c-<i>-op`, `c-<i>-value` (or `c-<i>-values` for list
fields); actions come one per group (`a-visibility`, `a-requirement`, `a-default`,
`a-append`, `a-options` with their values), so "at most one per group" holds by
construction. The service still checks everything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from metadata import engine

OP_LABELS = {
    "empty": "is empty",
    "populated": "is populated",
    "equals": "equals",
    "includes": "includes any of",
}


def ops_for(kind: str) -> list[str]:
    if kind in (engine.NUMBER, engine.DATE):
        return ["empty", "populated", "equals"]
    return ["empty", "populated", "equals", "includes"]


@dataclass
class ConditionRow:
    index: int
    field: engine.Field | None
    op: str
    value: Any
    ops: list[str]

    @property
    def needs_value(self) -> bool:
        return self.field is not None and self.op in ("equals", "includes")

    @property
    def multiple(self) -> bool:
        """A list of values: list fields (but one for "equals" on a single-select)."""
        if self.field is None:
            return False
        if self.field.is_list:
            return not (self.op == "equals" and self.field.type == engine.ENUM)
        return False

    @property
    def selected(self) -> set[str]:
        return {str(v) for v in engine._as_list(self.value)}

    @property
    def text(self) -> str:
        if isinstance(self.value, list):
            return ", ".join(str(v) for v in self.value)
        return "" if self.value is None else str(self.value)


@dataclass
class RuleForm:
    target: engine.Field
    sources: list[engine.Field]
    name: str = ""
    match: str = "all"
    conditions: list[ConditionRow] = field(default_factory=list)
    visibility: str = ""
    requirement: str = ""
    default_on: bool = False
    default_value: Any = None
    append_on: bool = False
    append_values: list[str] = field(default_factory=list)
    options: str = ""
    options_values: list[str] = field(default_factory=list)

    @property
    def default_selected(self) -> set[str]:
        return {str(v) for v in engine._as_list(self.default_value)}

    @property
    def default_text(self) -> str:
        value = self.default_value
        if isinstance(value, list):
            return str(value[0]) if value else ""
        return "" if value is None else str(value)

    def as_rule_data(self) -> dict:
        conditions = [
            {
                "field": row.field.external_id if row.field else None,
                "op": row.op,
                "value": row.value if row.needs_value else None,
            }
            for row in self.conditions
        ]
        actions: list[dict] = []
        if self.visibility:
            actions.append({"type": self.visibility})
        if self.requirement:
            actions.append({"type": self.requirement})
        if self.default_on:
            values = engine._as_list(self.default_value)
            actions.append({"type": "set_default", "values": values})
        if self.append_on:
            actions.append({"type": "append", "values": self.append_values})
        if self.options:
            values = self.options_values if self.options in ("only_options", "add_options") else []
            actions.append({"type": self.options, "values": values})
        return {
            "name": self.name,
            "match": self.match,
            "conditions": conditions,
            "actions": actions,
        }


def _row(schema: engine.Schema, index: int, source_id, op, value) -> ConditionRow:
    source = schema.by_id.get(source_id) if source_id else None
    ops = ops_for(source.type) if source else ops_for(engine.STRING)
    if op not in ops:
        op = "equals" if source is not None else "populated"
    return ConditionRow(index=index, field=source, op=op, value=value, ops=ops)


def form_from_rule(schema: engine.Schema, target: engine.Field, rule=None) -> RuleForm:
    sources = [f for f in schema.fields if f.external_id != target.external_id]
    form = RuleForm(target=target, sources=sources)
    if rule is None:
        form.conditions = [_row(schema, 0, sources[0].external_id if sources else None, "", None)]
        return form
    form.name, form.match = rule.name, rule.match
    form.conditions = [
        _row(schema, i, c["field"], c["op"], c.get("value")) for i, c in enumerate(rule.conditions)
    ]
    for action in rule.actions:
        kind, values = action["type"], action.get("values") or []
        group = engine.ACTION_GROUPS.get(kind)
        if group == "visibility":
            form.visibility = kind
        elif group == "requirement":
            form.requirement = kind
        elif kind == "set_default":
            form.default_on = True
            form.default_value = values if target.type == engine.SET else (values or [None])[0]
        elif kind == "append":
            form.append_on, form.append_values = True, list(values)
        elif group == "options":
            form.options, form.options_values = kind, list(values)
    return form


def _condition_value(source: engine.Field | None, op: str, data, index: int):
    if source is None or op not in ("equals", "includes"):
        return None
    if source.is_list:
        values = [v for v in data.getlist(f"c-{index}-values") if v]
        if op == "equals" and source.type == engine.ENUM:
            return values[0] if values else None
        return values
    text = data.get(f"c-{index}-value", "")
    if op == "includes":  # text: any of these words or phrases, comma-separated
        return [piece.strip() for piece in text.split(",") if piece.strip()]
    return text.strip()


def _choice(data, name: str, allowed: tuple[str, ...]) -> str:
    value = data.get(name, "")
    return value if value in allowed else ""


def form_from_post(schema: engine.Schema, target: engine.Field, data) -> RuleForm:
    """The form as the user left it; "add condition" and "remove" are applied here."""
    sources = [f for f in schema.fields if f.external_id != target.external_id]
    form = RuleForm(target=target, sources=sources)
    form.name = data.get("name", "")
    form.match = "any" if data.get("match") == "any" else "all"
    try:
        count = max(0, min(int(data.get("c-count", "0")), 20))
    except ValueError:
        count = 0
    removed = data.get("remove_condition")
    rows = []
    for i in range(count):
        if removed == str(i):
            continue
        source = schema.by_id.get(data.get(f"c-{i}-field", ""))
        op = data.get(f"c-{i}-op", "")
        rows.append((source, op, _condition_value(source, op, data, i)))
    if "add_condition" in data and len(rows) < 20:
        first = sources[0] if sources else None
        rows.append((first, "equals", None))
    form.conditions = [
        _row(schema, n, source.external_id if source else None, op, value)
        for n, (source, op, value) in enumerate(rows)
    ]
    form.visibility = _choice(data, "a-visibility", ("show", "hide"))
    form.requirement = _choice(data, "a-requirement", ("mandatory", "optional"))
    form.default_on = data.get("a-default") == "on"
    if target.is_list:
        picked = [v for v in data.getlist("a-default-values") if v]
        single = picked[0] if picked else None
        form.default_value = picked if target.type == engine.SET else single
    else:
        form.default_value = data.get("a-default-value", "").strip() or None
    form.append_on = data.get("a-append") == "on"
    form.append_values = [v for v in data.getlist("a-append-values") if v]
    form.options = _choice(
        data, "a-options", ("all_options", "no_options", "only_options", "add_options")
    )
    form.options_values = [v for v in data.getlist("a-options-values") if v]
    return form
