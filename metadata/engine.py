"""The conditional rules engine: pure Python, no database, no Django.

Given the field definitions (a `Schema`, loaded once by `metadata.selectors`) and the
current values, it computes for every field whether it shows, whether it is mandatory,
which list options it offers and its default (DESIGN.md "Structured metadata and
conditional rules"). Uploads, edits, bulk edits, the API and the live form all call
`evaluate`; nothing else decides these things.

Semantics:
- A field starts visible unless `hidden`, mandatory if `mandatory`, with every list
  value as an option and its own default.
- Its rules run in order; a rule applies when its conditions hold (all of them, or at
  least one, by `match`). Each applying rule's actions replace the earlier ones of the
  same group (visibility, requirement, default, append, options), except that "add
  options" adds to whatever the options are at that point.
- Conditions read the *effective* value of the other field: empty when that field is
  hidden, without the list values its own rules do not allow, and with its default when
  defaults are being filled. Fields are evaluated so that every field comes after the
  fields its conditions read (cycles are refused when rules are saved; if one slipped in,
  the fields on it are evaluated in their list order from the raw values).
- Blocked list values are never offered, but a blocked value already on an asset stays
  (it still counts for conditions and for search).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

STRING, NUMBER, DATE, ENUM, SET = "string", "number", "date", "enum", "set"
TYPES = (STRING, NUMBER, DATE, ENUM, SET)
LIST_TYPES = (ENUM, SET)

OPS = ("empty", "populated", "equals", "includes")
ACTION_GROUPS = {
    "show": "visibility",
    "hide": "visibility",
    "mandatory": "requirement",
    "optional": "requirement",
    "set_default": "default",
    "append": "append",
    "all_options": "options",
    "no_options": "options",
    "only_options": "options",
    "add_options": "options",
}
ACTIONS = tuple(ACTION_GROUPS)
VALUE_ACTIONS = ("set_default", "append", "only_options", "add_options")

# How `evaluate` fills empty fields with their defaults.
DEFAULTS_NONE = "none"  # never (what the values are now)
DEFAULTS_MANDATORY = "mandatory"  # only visible mandatory fields (edits)
DEFAULTS_ALL = "all"  # every visible field (new assets)


@dataclass(frozen=True)
class Option:
    external_id: str
    label: str
    blocked: bool = False


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: Any = None


@dataclass(frozen=True)
class Action:
    type: str
    values: tuple = ()


@dataclass(frozen=True)
class Rule:
    id: int | None
    name: str
    match: str  # "all" | "any"
    conditions: tuple[Condition, ...]
    actions: tuple[Action, ...]


@dataclass(frozen=True)
class Field:
    external_id: str
    label: str
    type: str
    mandatory: bool = False
    hidden: bool = False
    default: Any = None
    min: Any = None
    max: Any = None
    options: tuple[Option, ...] = ()
    rules: tuple[Rule, ...] = ()

    @property
    def is_list(self) -> bool:
        return self.type in LIST_TYPES


@dataclass
class FieldState:
    visible: bool
    mandatory: bool
    options: list[str]  # offered value ids, in list order (never blocked ones)
    default: Any
    # Value ids the rules allow, blocked ones included: a blocked value already held stays.
    allowed: frozenset[str] = frozenset()

    def as_dict(self) -> dict:
        return {
            "visible": self.visible,
            "mandatory": self.mandatory,
            "options": list(self.options),
            "default": self.default,
        }


@dataclass
class Evaluation:
    states: dict[str, FieldState]
    # The effective values: hidden fields and disallowed list values removed, defaults
    # filled as asked. Empty fields are absent.
    values: dict[str, Any]
    # Fields whose given value was dropped (hidden, or list values no longer allowed).
    dropped: list[str] = field(default_factory=list)


class Schema:
    """The field definitions in list order, with what the engine needs precomputed."""

    def __init__(self, fields: Iterable[Field]) -> None:
        self.fields: list[Field] = list(fields)
        self.by_id: dict[str, Field] = {f.external_id: f for f in self.fields}
        self._option_ids = {
            f.external_id: {o.external_id: o for o in f.options} for f in self.fields
        }
        self._option_order = {
            f.external_id: {o.external_id: i for i, o in enumerate(f.options)} for f in self.fields
        }
        # Precomputed per list field: a field no options rule touches costs nothing extra.
        self._every = {f.external_id: [o.external_id for o in f.options] for f in self.fields}
        self._every_set = {k: frozenset(v) for k, v in self._every.items()}
        self._unblocked = {
            f.external_id: [o.external_id for o in f.options if not o.blocked] for f in self.fields
        }
        self._blocked = {
            f.external_id: frozenset(o.external_id for o in f.options if o.blocked)
            for f in self.fields
        }
        self.order: list[Field] = _evaluation_order(self.fields)
        # Fields that some rule's condition reads: the live form re-renders when they change.
        self.drivers: frozenset[str] = frozenset(
            c.field for f in self.fields for r in f.rules for c in r.conditions
        )

    def __len__(self) -> int:
        return len(self.fields)

    def __bool__(self) -> bool:
        return bool(self.fields)

    def option(self, field_id: str, value_id) -> Option | None:
        return self._option_ids.get(field_id, {}).get(value_id)

    def in_list_order(self, field_id: str, value_ids: Iterable[str]) -> list[str]:
        order = self._option_order.get(field_id, {})
        unique = {v: None for v in value_ids if v in order}
        return sorted(unique, key=order.__getitem__)


def dependencies(fields: Iterable[Field]) -> dict[str, set[str]]:
    """field -> the fields its rules' conditions read (itself excluded)."""
    return {
        f.external_id: {c.field for r in f.rules for c in r.conditions if c.field != f.external_id}
        for f in fields
    }


def find_cycle(edges: Mapping[str, Iterable[str]]) -> list[str] | None:
    """A dependency loop as [a, b, ..., a] (a reads b reads ... a), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def _evaluation_order(fields: list[Field]) -> list[Field]:
    """Every field after the fields it reads (Kahn's algorithm, ties in list order)."""
    position = {f.external_id: i for i, f in enumerate(fields)}
    deps = {k: {d for d in v if d in position} for k, v in dependencies(fields).items()}
    readers: dict[str, list[str]] = {k: [] for k in position}
    for target, sources in deps.items():
        for source in sources:
            readers[source].append(target)
    waiting = {k: len(v) for k, v in deps.items()}
    ready = sorted((k for k, n in waiting.items() if n == 0), key=position.__getitem__)
    order: list[str] = []
    placed: set[str] = set()
    while len(order) < len(fields):
        if not ready:  # only a cycle is left waiting: release its first field in list order
            ready = [_first_on_a_cycle(fields, deps, placed)]
        current = ready.pop(0)
        order.append(current)
        placed.add(current)
        for reader in readers[current]:
            waiting[reader] -= 1
            if waiting[reader] == 0 and reader not in placed:
                ready.append(reader)
        ready.sort(key=position.__getitem__)
    by_id = {f.external_id: f for f in fields}
    return [by_id[k] for k in order]


def _first_on_a_cycle(fields: list[Field], deps: Mapping[str, set[str]], placed: set[str]) -> str:
    """The first unplaced field (list order) that reads itself through unplaced fields.
    Never reached with saved rules (cycles are refused); fields that merely read a cycle
    still wait for it, so they see its effective values."""
    for f in fields:
        start = f.external_id
        if start in placed:
            continue
        seen: set[str] = set()
        stack = [d for d in deps[start] if d not in placed]
        while stack:
            node = stack.pop()
            if node == start:
                return start
            if node not in seen:
                seen.add(node)
                stack.extend(d for d in deps[node] if d not in placed)
    raise AssertionError("stalled without a cycle")  # pragma: no cover


# -- values ---------------------------------------------------------------------------
def is_empty(value) -> bool:
    return value is None or value == "" or (isinstance(value, (list, tuple)) and not value)


def _as_list(value) -> list:
    if value is None:
        return []
    if isinstance(value, (list, tuple, set, frozenset)):
        return list(value)
    return [value]


def _number(value) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        parsed = float(value) if isinstance(value, (int, float)) else float(str(value).strip())
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int beyond a float
        return None
    return parsed if math.isfinite(parsed) else None


def _text(value) -> str:
    return str(value).strip().casefold()


def condition_holds(f: Field | None, condition: Condition, value) -> bool:
    """Does `condition` hold for the effective `value` of field `f`?"""
    if condition.op == "empty":
        return is_empty(value)
    if condition.op == "populated":
        return not is_empty(value)
    if f is None or is_empty(value):
        return False
    wanted = condition.value
    if condition.op == "equals":
        if f.type == SET:
            return {str(v) for v in _as_list(value)} == {str(v) for v in _as_list(wanted)}
        if f.type == NUMBER:
            a, b = _number(value), _number(wanted)
            return a is not None and a == b
        if f.type == STRING:
            return _text(value) == _text(wanted) if not isinstance(wanted, list) else False
        return str(value) == str(wanted)  # enum value id, ISO date
    if condition.op == "includes":
        wanted_items = [str(w) for w in _as_list(wanted)]
        if f.type == SET:
            return bool({str(v) for v in _as_list(value)} & set(wanted_items))
        if f.type == ENUM:
            return str(value) in wanted_items
        if f.type == STRING:
            text = _text(value)
            return any(w.strip().casefold() in text for w in wanted_items if w.strip())
    return False


def rule_applies(schema: Schema, rule: Rule, effective: Mapping[str, Any]) -> bool:
    results = (
        condition_holds(schema.by_id.get(c.field), c, effective.get(c.field))
        for c in rule.conditions
    )
    return any(results) if rule.match == "any" else all(results)


def _scalar_default(f: Field, values: tuple):
    if f.type == SET:
        return list(values)
    return values[0] if values else None


def field_state(schema: Schema, f: Field, effective: Mapping[str, Any]) -> FieldState:
    """The state of one field given the effective values of the fields it reads."""
    key = f.external_id
    visible = not f.hidden
    mandatory = f.mandatory
    default = f.default
    appended: tuple = ()
    allowed: list[str] | None = None  # None: every value (no options action applied)
    for rule in f.rules:
        if not rule_applies(schema, rule, effective):
            continue
        for action in rule.actions:
            kind = action.type
            if kind in ("show", "hide"):
                visible = kind == "show"
            elif kind in ("mandatory", "optional"):
                mandatory = kind == "mandatory"
            elif kind == "set_default":
                default = _scalar_default(f, action.values)
            elif kind == "append":
                appended = action.values
            elif kind == "all_options":
                allowed = None
            elif kind == "no_options":
                allowed = []
            elif kind == "only_options":
                allowed = schema.in_list_order(key, action.values)
            elif kind == "add_options" and allowed is not None:  # adding to "all" adds nothing
                allowed = schema.in_list_order(key, [*allowed, *action.values])
    if not f.is_list:
        options: list[str] = []
        allowed_set: frozenset[str] = frozenset()
    elif allowed is None:
        options = list(schema._unblocked.get(key, ()))
        allowed_set = schema._every_set.get(key, frozenset())
    else:
        blocked = schema._blocked.get(key, frozenset())
        options = [v for v in allowed if v not in blocked]
        allowed_set = frozenset(allowed)
    if f.type == SET:
        offered = set(options)
        combined = [*_as_list(default), *_as_list(appended)]
        default = [v for v in dict.fromkeys(str(v) for v in combined) if v in offered]
    elif f.type == ENUM:
        default = default if default in options else None
    return FieldState(
        visible=visible,
        mandatory=mandatory and visible,
        options=options,
        default=None if is_empty(default) else default,
        allowed=allowed_set,
    )


def allowed_part(f: Field, state: FieldState, value):
    """The part of a list value the rules allow (None when nothing is left)."""
    if f.type == ENUM:
        return value if str(value) in state.allowed else None
    kept = [v for v in dict.fromkeys(str(v) for v in _as_list(value)) if v in state.allowed]
    return kept or None


def evaluate(
    schema: Schema,
    values: Mapping[str, Any] | None,
    *,
    defaults: str = DEFAULTS_NONE,
    keep_empty: Iterable[str] = (),
) -> Evaluation:
    """Every field's state, the effective values, and which given values were dropped.

    `keep_empty`: fields the user emptied on purpose; defaults do not fill them.
    """
    keep_empty = frozenset(keep_empty)
    given = dict(values or {})
    effective: dict[str, Any] = {}
    states: dict[str, FieldState] = {}
    dropped: list[str] = []
    # Fields on a cycle (never saved that way, but be safe) read the raw given values.
    reading: dict[str, Any] = dict(given)
    for f in schema.order:
        key = f.external_id
        state = field_state(schema, f, reading)
        states[key] = state
        value = given.get(key)
        if is_empty(value):
            value = None
        if value is not None and not state.visible:
            value = None
            dropped.append(key)
        elif value is not None and f.is_list:
            kept = allowed_part(f, state, value)
            if {str(v) for v in _as_list(kept)} != {str(v) for v in _as_list(value)}:
                dropped.append(key)
            value = kept
        fill = defaults == DEFAULTS_ALL or (defaults == DEFAULTS_MANDATORY and state.mandatory)
        fill = fill and key not in keep_empty
        if value is None and fill and state.visible and state.default is not None:
            value = list(state.default) if f.type == SET else state.default
        reading[key] = value
        if value is not None:
            effective[key] = value
        else:
            reading.pop(key, None)
    in_list_order = [f.external_id for f in schema.fields]
    return Evaluation(
        states={k: states[k] for k in in_list_order},
        values={k: effective[k] for k in in_list_order if k in effective},
        dropped=dropped,
    )
