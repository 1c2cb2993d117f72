"""Property-based checks of the rules engine against a reference evaluation.

Random schemas (a handful of fields of random types, random options some of them blocked,
random hidden/mandatory/defaults, random acyclic rules) and random values go through
`engine.evaluate` and through `reference` below, written independently of the engine: a
naive fixed point that recomputes every field from the current effective values of all
fields until nothing changes, with no dependency sorting at all. For acyclic rules the fixed
point is unique and reached within (number of fields + 1) rounds.
"""

from __future__ import annotations

import itertools
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from metadata import engine
from metadata.engine import (
    DATE,
    DEFAULTS_ALL,
    DEFAULTS_MANDATORY,
    DEFAULTS_NONE,
    ENUM,
    NUMBER,
    SET,
    STRING,
    Action,
    Condition,
    Field,
    Option,
    Rule,
    Schema,
)

MODES = (DEFAULTS_NONE, DEFAULTS_MANDATORY, DEFAULTS_ALL)
TYPES = (STRING, NUMBER, DATE, ENUM, SET)
LISTS = (ENUM, SET)

# Small pools so that conditions match often.
STRINGS = ("a", "A", " ab ", "B", "abc", "x y")
PIECES = ("a", "B", "bc", "y", " ", "zz")
NUMBERS = (0, 1, 2, 2.0, -1.5)
DATES = ("2024-01-01", "2024-02-29", "2025-12-31")
UNKNOWN = "zz"  # a value id that is in no list

FAST = settings(max_examples=300, deadline=None, derandomize=True, database=None)
QUICK = settings(FAST, max_examples=120)

# Strategies built once: building one per draw costs more than the engine itself.
_INDEX = {n: st.integers(0, n - 1) for n in range(1, 40)}
_BOOL = st.booleans()


def pick(draw, pool):
    pool = tuple(pool)
    return pool[draw(_INDEX[len(pool)])]


def between(draw, low: int, high: int) -> int:
    return low + draw(_INDEX[high - low + 1])


def shuffled(draw, items) -> list:
    items = list(items)
    for i in range(len(items) - 1, 0, -1):  # Fisher-Yates
        j = draw(_INDEX[i + 1])
        items[i], items[j] = items[j], items[i]
    return items


def some(draw, pool, *, min_size=1, max_size=3) -> list:
    return [pick(draw, pool) for _ in range(draw(_INDEX[max_size - min_size + 1]) + min_size)]


# -- generation ---------------------------------------------------------------------------
def ids_of(options) -> list[str]:
    return [o.external_id for o in options]


def some_ids(draw, options, *, min_size=1, max_size=3) -> tuple[str, ...]:
    return tuple(some(draw, [*ids_of(options), UNKNOWN], min_size=min_size, max_size=max_size))


def draw_condition(draw, source: Field) -> Condition:
    ops = ["empty", "populated", "equals"]
    if source.type in (STRING, ENUM, SET):
        ops.append("includes")
    op = pick(draw, ops)
    if op in ("empty", "populated"):
        return Condition(source.external_id, op)
    kind = source.type
    if kind == STRING:
        value = pick(draw, STRINGS) if op == "equals" else some(draw, PIECES, max_size=2)
    elif kind == NUMBER:
        value = pick(draw, NUMBERS)
    elif kind == DATE:
        value = pick(draw, DATES)
    elif kind == ENUM and op == "equals":
        value = pick(draw, [*ids_of(source.options), UNKNOWN])
    else:  # enum includes; set equals and includes
        value = list(some_ids(draw, source.options))
    return Condition(source.external_id, op, value)


def draw_single_value(draw, kind: str, options):
    if kind == STRING:
        return pick(draw, STRINGS)
    if kind == NUMBER:
        return pick(draw, NUMBERS)
    if kind == DATE:
        return pick(draw, DATES)
    return pick(draw, [*ids_of(options), UNKNOWN])


def draw_actions(draw, kind: str, options) -> tuple[Action, ...]:
    """At most one action per group, in a random order; at least one action."""
    actions = []
    visibility = pick(draw, [None, "show", "hide"])
    if visibility:
        actions.append(Action(visibility))
    requirement = pick(draw, [None, "mandatory", "optional"])
    if requirement:
        actions.append(Action(requirement))
    if draw(_BOOL):
        if kind == SET:
            actions.append(Action("set_default", some_ids(draw, options)))
        else:
            actions.append(Action("set_default", (draw_single_value(draw, kind, options),)))
    if kind == SET and draw(_BOOL):
        actions.append(Action("append", some_ids(draw, options)))
    if kind in LISTS:
        choice = pick(draw, [None, "all_options", "no_options", "only", "add"])
        if choice in ("all_options", "no_options"):
            actions.append(Action(choice))
        elif choice == "only":
            actions.append(Action("only_options", some_ids(draw, options)))
        elif choice == "add":
            actions.append(Action("add_options", some_ids(draw, options)))
    if not actions:
        actions.append(Action(pick(draw, ["show", "hide"])))
    return tuple(shuffled(draw, actions))


def draw_default(draw, kind: str, options):
    if draw(_BOOL):
        return None
    if kind == SET:
        return list(some_ids(draw, options, max_size=3))
    return draw_single_value(draw, kind, options)


@st.composite
def schemas(draw, *, acyclic: bool = True) -> list[Field]:
    """Fields f0..fn in list order. Acyclic rules: a random ranking of the fields, each
    field's conditions read only fields ranked before it (independent of list order)."""
    n = between(draw, 1, 6)
    ids = [f"f{i}" for i in range(n)]
    kinds = {k: pick(draw, TYPES) for k in ids}
    options = {}
    for k in ids:
        count = between(draw, 0, 4) if kinds[k] in LISTS else 0
        options[k] = tuple(
            Option(f"o{j}", f"Option {j}", between(draw, 0, 3) == 0) for j in range(count)
        )
    skeletons = {
        k: Field(k, k.upper(), kinds[k], options=options[k]) for k in ids
    }  # for conditions: type and options
    rank = shuffled(draw, ids)
    fields = []
    rule_ids = iter(range(1, 1000))
    for k in ids:
        sources = rank[: rank.index(k)] if acyclic else [x for x in ids if x != k]
        rules = []
        for _ in range(between(draw, 0, 3) if sources else 0):
            conditions = tuple(
                draw_condition(draw, skeletons[pick(draw, sources)])
                for _ in range(between(draw, 1, 3))
            )
            rules.append(
                Rule(
                    next(rule_ids),
                    "rule",
                    pick(draw, ["all", "any"]),
                    conditions,
                    draw_actions(draw, kinds[k], options[k]),
                )
            )
        fields.append(
            Field(
                k,
                k.upper(),
                kinds[k],
                mandatory=draw(_BOOL),
                hidden=between(draw, 0, 2) == 0,
                default=draw_default(draw, kinds[k], options[k]),
                options=options[k],
                rules=tuple(rules),
            )
        )
    return fields


@st.composite
def values_for(draw, fields: list[Field]) -> dict:
    values = {}
    for f in fields:
        if between(draw, 0, 3) == 0:
            continue  # absent
        if f.type == SET:
            values[f.external_id] = list(some_ids(draw, f.options, min_size=0, max_size=3))
        elif between(draw, 0, 9) == 0:
            values[f.external_id] = pick(draw, [None, ""])
        else:
            values[f.external_id] = draw_single_value(draw, f.type, f.options)
    return values


@st.composite
def cases(draw):
    fields = draw(schemas())
    values = draw(values_for(fields))
    keep_empty = some(draw, [f.external_id for f in fields], min_size=0, max_size=2)
    return fields, values, keep_empty


# -- the reference evaluation -------------------------------------------------------------
def nothing(value) -> bool:
    return value is None or value == "" or value == []


def ref_condition(source: Field, c: Condition, current: dict) -> bool:
    value = current.get(source.external_id)  # effective values: empty ones are absent
    if c.op == "empty":
        return value is None
    if c.op == "populated":
        return value is not None
    if value is None:
        return False
    if source.type == STRING:
        text = value.strip().lower()
        if c.op == "equals":
            return text == c.value.strip().lower()
        return any(p.strip() and p.strip().lower() in text for p in c.value)
    if source.type == NUMBER:
        return c.op == "equals" and float(value) == float(c.value)
    if source.type == DATE:
        return c.op == "equals" and value == c.value
    if source.type == ENUM:
        return value == c.value if c.op == "equals" else value in c.value
    if c.op == "equals":
        return set(value) == set(c.value)
    return bool(set(value) & set(c.value))


def ref_state(f: Field, by_id: dict, current: dict) -> dict:
    every = set(ids_of(f.options))
    visible, mandatory, default, extra = not f.hidden, f.mandatory, f.default, []
    allowed = set(every)
    for r in f.rules:
        results = [ref_condition(by_id[c.field], c, current) for c in r.conditions]
        if not (any(results) if r.match == "any" else all(results)):
            continue
        for a in r.actions:
            if a.type in ("show", "hide"):
                visible = a.type == "show"
            elif a.type in ("mandatory", "optional"):
                mandatory = a.type == "mandatory"
            elif a.type == "set_default":
                default = list(a.values) if f.type == SET else a.values[0]
            elif a.type == "append":
                extra = list(a.values)
            elif a.type == "all_options":
                allowed = set(every)
            elif a.type == "no_options":
                allowed = set()
            elif a.type == "only_options":
                allowed = set(a.values) & every
            elif a.type == "add_options":
                allowed = allowed | (set(a.values) & every)
    if f.type not in LISTS:
        allowed = set()
    offered = [o.external_id for o in f.options if o.external_id in allowed and not o.blocked]
    if f.type == SET:
        chosen = set(default or []) | set(extra)
        default = [v for v in offered if v in chosen] or None
    elif f.type == ENUM:
        default = default if default in offered else None
    return {
        "visible": visible,
        "mandatory": mandatory and visible,
        "options": offered,
        "default": default,
        "allowed": frozenset(allowed),
    }


def ref_value(f: Field, s: dict, given, mode: str, keep_empty) -> tuple[object, bool]:
    """(effective value or None, whether the given value was dropped)."""
    value, dropped = (None if nothing(given) else given), False
    if value is not None and not s["visible"]:
        value, dropped = None, True
    elif value is not None and f.type == ENUM:
        if value not in s["allowed"]:
            value, dropped = None, True
    elif value is not None and f.type == SET:
        dropped = not set(value) <= s["allowed"]
        value = sorted(set(value) & s["allowed"]) or None
    fill = mode == DEFAULTS_ALL or (mode == DEFAULTS_MANDATORY and s["mandatory"])
    if value is None and fill and s["visible"] and f.external_id not in keep_empty:
        value = s["default"]
    return value, dropped


def reference(fields: list[Field], given: dict, mode: str, keep_empty=()):
    by_id = {f.external_id: f for f in fields}
    current = {k: v for k, v in given.items() if k in by_id and not nothing(v)}
    for _ in range(len(fields) + 1):
        states = {f.external_id: ref_state(f, by_id, current) for f in fields}
        new, dropped = {}, set()
        for f in fields:
            key = f.external_id
            value, lost = ref_value(f, states[key], given.get(key), mode, keep_empty)
            if value is not None:
                new[key] = value
            if lost:
                dropped.add(key)
        if new == current:
            return states, new, dropped
        current = new
    raise AssertionError("the reference did not settle: the generated rules have a cycle")


# -- comparing ----------------------------------------------------------------------------
def normal(f: Field, value):
    """Multi-select values and defaults as sorted lists (their order carries no meaning),
    after checking that they hold no value twice."""
    if f.type == SET and value is not None:
        assert isinstance(value, list)
        assert len(value) == len(set(value)), value
        return sorted(value)
    return value


def engine_view(fields: list[Field], ev: engine.Evaluation):
    states = {
        f.external_id: {
            **ev.states[f.external_id].as_dict(),
            "default": normal(f, ev.states[f.external_id].default),
            "allowed": ev.states[f.external_id].allowed,
        }
        for f in fields
    }
    by_id = {f.external_id: f for f in fields}
    values = {k: normal(by_id[k], v) for k, v in ev.values.items()}
    return states, values, set(ev.dropped)


def reference_view(fields, given, mode, keep_empty):
    states, values, dropped = reference(fields, given, mode, keep_empty)
    by_id = {f.external_id: f for f in fields}
    states = {k: {**s, "default": normal(by_id[k], s["default"])} for k, s in states.items()}
    values = {k: normal(by_id[k], v) for k, v in values.items()}
    return states, values, dropped


# -- properties ---------------------------------------------------------------------------
@FAST
@given(cases())
def test_engine_agrees_with_the_reference(case):
    fields, values, keep_empty = case
    schema = Schema(fields)
    for mode in MODES:
        ev = engine.evaluate(schema, values, defaults=mode, keep_empty=keep_empty)
        got = engine_view(fields, ev)
        want = reference_view(fields, values, mode, keep_empty)
        assert got[0] == want[0], f"states differ in mode {mode}"
        assert got[1] == want[1], f"values differ in mode {mode}"
        assert got[2] == want[2], f"dropped differ in mode {mode}"
        assert list(ev.states) == [f.external_id for f in fields]
        assert list(ev.values) == [f.external_id for f in fields if f.external_id in ev.values]
        assert len(ev.dropped) == len(set(ev.dropped))


@FAST
@given(st.data())
def test_evaluation_does_not_depend_on_the_list_order(data):
    fields, values, keep_empty = data.draw(cases())
    shuffled = data.draw(st.permutations(fields))
    for mode in MODES:
        a = engine.evaluate(Schema(fields), values, defaults=mode, keep_empty=keep_empty)
        b = engine.evaluate(Schema(shuffled), values, defaults=mode, keep_empty=keep_empty)
        assert engine_view(fields, a) == engine_view(fields, b)


# Values of the wrong type, out of range or malformed: what a stale or hand-made value could
# hold. JSON alone can carry the huge integers and the nested lists and objects.
NASTY = (
    None,
    True,
    False,
    0,
    -1,
    3.5,
    10**400,  # beyond a float: these four
    -(10**400),
    10**309,
    2**1024,
    2**64,
    1e308,
    math.nan,
    math.inf,
    -math.inf,
    "",
    " ",
    "A",
    "o0",
    UNKNOWN,
    "1e400",
    "nan",
    "2024-01-01",
    b"o0",
    (),
    {},
    frozenset({"o0"}),
    ["o0", 1, None],
    [[]],
    {"o0": "o1"},
)
GARBAGE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner),
    max_leaves=4,
)


@st.composite
def garbage_for(draw, fields: list[Field]) -> dict:
    values = {}
    for key in [*(f.external_id for f in fields), "unknown"]:
        if draw(_INDEX[4]) == 0:
            continue
        values[key] = draw(GARBAGE) if draw(_INDEX[3]) == 0 else pick(draw, NASTY)
    return values


@FAST
@given(st.data())
def test_garbage_values_never_crash(data):
    fields = data.draw(schemas(acyclic=data.draw(_BOOL)))
    values = data.draw(garbage_for(fields))
    keep_empty = [*values][: between(data.draw, 0, 2)]
    schema = Schema(fields)
    for mode in MODES:
        ev = engine.evaluate(schema, values, defaults=mode, keep_empty=keep_empty)
        assert set(ev.states) == {f.external_id for f in fields}
        assert set(ev.values) <= set(ev.states)
        for f in fields:
            s = ev.states[f.external_id]
            blocked = {o.external_id for o in f.options if o.blocked}
            assert not set(s.options) & blocked
            assert set(s.options) <= s.allowed <= set(ids_of(f.options))
            assert s.visible or not s.mandatory
            if not s.visible:
                assert f.external_id not in ev.values
            value = ev.values.get(f.external_id)
            if value is not None and f.type in LISTS:
                assert {str(v) for v in engine._as_list(value)} <= s.allowed


@FAST
@given(schemas(acyclic=False), st.data())
def test_cycles_that_slipped_in_never_crash(fields, data):
    values = data.draw(values_for(fields))
    schema = Schema(fields)
    assert sorted(f.external_id for f in schema.order) == sorted(f.external_id for f in fields)
    for mode in MODES:
        ev = engine.evaluate(schema, values, defaults=mode)
        assert set(ev.states) == {f.external_id for f in fields}
        if mode == DEFAULTS_NONE:
            assert set(ev.values) <= set(values)


@FAST
@given(schemas(acyclic=False))
def test_find_cycle_finds_a_loop_exactly_when_the_rules_have_one(fields):
    edges = engine.dependencies(fields)
    loop = engine.find_cycle(edges)
    # Independently: a graph is acyclic when repeatedly removing the nodes that read
    # nothing left empties it.
    left = {k: set(v) for k, v in edges.items()}
    while True:
        free = {k for k, v in left.items() if not v & set(left)}
        if not free:
            break
        left = {k: v for k, v in left.items() if k not in free}
    assert (loop is None) == (not left)
    if loop is not None:
        assert loop[0] == loop[-1]
        assert all(b in edges[a] for a, b in itertools.pairwise(loop))
