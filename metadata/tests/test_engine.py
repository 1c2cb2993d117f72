"""The conditional rules engine on its own: plain data in, states and values out.

No database and no Django models: `metadata.engine` is pure Python. The semantics are those
of the engine's module docstring and DESIGN.md "Structured metadata and conditional rules".
"""

from __future__ import annotations

import dataclasses
import datetime
import itertools

import pytest

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
    evaluate,
    find_cycle,
)


# -- helpers ----------------------------------------------------------------------------
def opts(*ids: str, blocked: tuple[str, ...] = ()) -> tuple[Option, ...]:
    return tuple(Option(i, i.replace("_", " ").title(), i in blocked) for i in ids)


def fld(external_id: str, type_: str = STRING, *rules: Rule, **kw) -> Field:
    return Field(external_id, external_id.title(), type_, rules=tuple(rules), **kw)


def enum(external_id: str, *ids: str, rules=(), blocked=(), **kw) -> Field:
    return Field(
        external_id,
        external_id.title(),
        ENUM,
        options=opts(*ids, blocked=blocked),
        rules=tuple(rules),
        **kw,
    )


def multi(external_id: str, *ids: str, rules=(), blocked=(), **kw) -> Field:
    return Field(
        external_id,
        external_id.title(),
        SET,
        options=opts(*ids, blocked=blocked),
        rules=tuple(rules),
        **kw,
    )


def cond(field: str, op: str, value=None) -> Condition:
    return Condition(field, op, value)


def act(type_: str, *values) -> Action:
    return Action(type_, tuple(values))


_ids = iter(range(1, 10**9))


def rule(*conditions: Condition, actions, match: str = "all", name: str = "") -> Rule:
    n = next(_ids)
    if isinstance(actions, Action):
        actions = (actions,)
    return Rule(n, name or f"rule {n}", match, tuple(conditions), tuple(actions))


def when(field: str, op: str, value=None, *, then, match="all") -> Rule:
    """One-condition rule: `when(field, op, value, then=actions)`."""
    return rule(cond(field, op, value), actions=then, match=match)


def state(fields, values=None, key=None, **kw):
    """The state of `key` (default: the last field) after evaluating `fields`."""
    schema = Schema(fields)
    ev = evaluate(schema, values or {}, **kw)
    return ev.states[key or schema.fields[-1].external_id]


def source_and_target(source: Field, op: str, value=None) -> list[Field]:
    """`target` (string, hidden) is shown when `source` matches the condition."""
    return [
        source,
        fld("target", STRING, when(source.external_id, op, value, then=act("show")), hidden=True),
    ]


def holds(source: Field, op: str, condition_value, value) -> bool:
    """Does the condition hold on `source` holding `value`? (Seen through a show rule.)"""
    given = {} if value is None else {source.external_id: value}
    return state(source_and_target(source, op, condition_value), given, "target").visible


TRIGGER = fld("trigger", STRING)
ON = {"trigger": "on"}


def ruled(target: Field, *rules: Rule) -> list[Field]:
    """[trigger, target with `rules`]."""
    return [TRIGGER, dataclasses.replace(target, rules=tuple(rules))]


def if_on(*actions: Action) -> Rule:
    return when("trigger", "equals", "on", then=actions)


# -- starting state ----------------------------------------------------------------------
def test_without_rules_a_field_has_its_own_definition():
    fields = [
        fld("title", STRING, mandatory=True, default="Untitled"),
        fld("secret", STRING, hidden=True, mandatory=True),
        enum("status", "draft", "final", "old", blocked=("old",), default="draft"),
        multi("tags", "a", "b", "c", default=["c", "a"]),
    ]
    ev = evaluate(Schema(fields), {})
    assert ev.states["title"].as_dict() == {
        "visible": True,
        "mandatory": True,
        "options": [],
        "default": "Untitled",
    }
    # Hidden fields are never mandatory.
    assert ev.states["secret"].as_dict() == {
        "visible": False,
        "mandatory": False,
        "options": [],
        "default": None,
    }
    # Every value is an option except blocked ones; blocked ones are still allowed (held).
    assert ev.states["status"].options == ["draft", "final"]
    assert ev.states["status"].allowed == frozenset({"draft", "final", "old"})
    assert ev.states["status"].default == "draft"
    assert sorted(ev.states["tags"].default) == ["a", "c"]
    assert ev.values == {}
    assert ev.dropped == []


def test_states_and_values_come_back_in_list_order():
    fields = [
        fld("c", STRING, when("a", "populated", then=act("show")), hidden=True),
        fld("b", STRING),
        fld("a", STRING),
    ]
    ev = evaluate(Schema(fields), {"a": "x", "b": "y", "c": "z"})
    assert list(ev.states) == ["c", "b", "a"]
    assert list(ev.values) == ["c", "b", "a"]


def test_values_for_unknown_fields_are_ignored_and_none_is_no_values():
    schema = Schema([fld("a", STRING)])
    assert evaluate(schema, {"nope": "x", "a": "y"}).values == {"a": "y"}
    assert evaluate(schema, None).values == {}
    assert evaluate(Schema([]), {"a": 1}).values == {}


def test_empty_given_values_are_absent_and_not_dropped():
    fields = [fld("s", STRING), multi("m", "a"), enum("e", "a", hidden=True)]
    ev = evaluate(Schema(fields), {"s": "", "m": [], "e": None})
    assert ev.values == {}
    assert ev.dropped == []


# -- actions ------------------------------------------------------------------------------
def test_show_makes_a_hidden_field_visible_only_when_the_rule_applies():
    fields = ruled(fld("t", STRING, hidden=True), if_on(act("show")))
    assert state(fields, ON).visible is True
    assert state(fields, {"trigger": "off"}).visible is False
    assert state(fields, {}).visible is False


def test_hide_hides_a_visible_field():
    fields = ruled(fld("t", STRING), if_on(act("hide")))
    assert state(fields, ON).visible is False
    assert state(fields, {}).visible is True


def test_mandatory_and_optional():
    fields = ruled(fld("t", STRING), if_on(act("mandatory")))
    assert state(fields, ON).mandatory is True
    assert state(fields, {}).mandatory is False
    fields = ruled(fld("t", STRING, mandatory=True), if_on(act("optional")))
    assert state(fields, ON).mandatory is False
    assert state(fields, {}).mandatory is True


def test_a_hidden_field_is_never_mandatory():
    fields = ruled(fld("t", STRING, mandatory=True), if_on(act("hide")))
    assert state(fields, ON).mandatory is False
    fields = ruled(fld("t", STRING, hidden=True), if_on(act("mandatory")))
    assert state(fields, ON).mandatory is False
    fields = ruled(fld("t", STRING, hidden=True), if_on(act("mandatory"), act("show")))
    assert (state(fields, ON).visible, state(fields, ON).mandatory) == (True, True)


@pytest.mark.parametrize(
    ("target", "values", "expected"),
    [
        (fld("t", STRING, default="old"), ("new",), "new"),
        (fld("t", NUMBER, default=1), (42,), 42),
        (fld("t", DATE), ("2025-06-30",), "2025-06-30"),
        (enum("t", "a", "b", default="a"), ("b",), "b"),
    ],
)
def test_set_default_on_single_values(target, values, expected):
    fields = ruled(target, if_on(act("set_default", *values)))
    assert state(fields, ON).default == expected
    assert state(fields, {}).default == target.default
    assert evaluate(Schema(fields), ON, defaults=DEFAULTS_ALL).values["t"] == expected


def test_set_default_on_a_multi_select_replaces_the_whole_default():
    fields = ruled(multi("t", "a", "b", "c", default=["a"]), if_on(act("set_default", "b", "c")))
    assert sorted(state(fields, ON).default) == ["b", "c"]
    assert state(fields, {}).default == ["a"]


def test_append_adds_to_the_default_of_a_multi_select():
    fields = ruled(multi("t", "a", "b", "c", default=["a"]), if_on(act("append", "c", "a")))
    s = state(fields, ON)
    assert sorted(s.default) == ["a", "c"]
    assert len(s.default) == len(set(s.default))  # no duplicates
    assert sorted(evaluate(Schema(fields), ON, defaults=DEFAULTS_ALL).values["t"]) == ["a", "c"]


def test_append_without_a_default_and_with_a_set_default():
    fields = ruled(multi("t", "a", "b", "c"), if_on(act("append", "b")))
    assert state(fields, ON).default == ["b"]
    fields = ruled(multi("t", "a", "b", "c"), if_on(act("set_default", "a"), act("append", "c")))
    assert sorted(state(fields, ON).default) == ["a", "c"]


def test_append_applies_only_when_the_user_has_not_chosen():
    fields = ruled(multi("t", "a", "b", "c"), if_on(act("append", "c")))
    schema = Schema(fields)
    chosen = evaluate(schema, {**ON, "t": ["a"]}, defaults=DEFAULTS_ALL)
    assert chosen.values["t"] == ["a"]
    untouched = evaluate(schema, ON, defaults=DEFAULTS_ALL)
    assert untouched.values["t"] == ["c"]
    # Not filling defaults: nothing appended either.
    assert "t" not in evaluate(schema, ON, defaults=DEFAULTS_NONE).values
    # The user emptied it on purpose.
    assert "t" not in evaluate(schema, ON, defaults=DEFAULTS_ALL, keep_empty=["t"]).values


def test_all_options_restores_every_value_after_an_earlier_restriction():
    target = enum("t", "a", "b", "c", blocked=("c",))
    fields = ruled(
        target,
        when("trigger", "populated", then=act("only_options", "a")),
        if_on(act("all_options")),
    )
    assert state(fields, {"trigger": "x"}).options == ["a"]
    assert state(fields, ON).options == ["a", "b"]  # blocked "c" still not offered
    assert state(fields, ON).allowed == frozenset({"a", "b", "c"})


def test_no_options_offers_nothing_and_drops_a_held_value():
    fields = ruled(enum("t", "a", "b", default="a"), if_on(act("no_options")))
    s = state(fields, ON)
    assert (s.options, s.default, s.allowed) == ([], None, frozenset())
    ev = evaluate(Schema(fields), {**ON, "t": "a"}, defaults=DEFAULTS_ALL)
    assert "t" not in ev.values
    assert ev.dropped == ["t"]


def test_only_options_offers_those_in_list_order_and_ignores_unknown_ids():
    fields = ruled(multi("t", "a", "b", "c", "d"), if_on(act("only_options", "d", "zz", "b", "d")))
    s = state(fields, ON)
    assert s.options == ["b", "d"]
    assert s.allowed == frozenset({"b", "d"})
    assert state(fields, {}).options == ["a", "b", "c", "d"]


def test_add_options_adds_to_whatever_the_options_are_at_that_point():
    target = multi("t", "a", "b", "c", "d")
    fields = ruled(
        target,
        when("trigger", "populated", then=act("only_options", "c")),
        if_on(act("add_options", "a")),
    )
    assert state(fields, {"trigger": "x"}).options == ["c"]
    assert state(fields, ON).options == ["a", "c"]  # added to the earlier "only", list order
    # After "no options": only the added ones.
    fields = ruled(
        target,
        when("trigger", "populated", then=act("no_options")),
        if_on(act("add_options", "d", "b")),
    )
    assert state(fields, ON).options == ["b", "d"]
    # With no earlier options action, the options are every value already.
    fields = ruled(target, if_on(act("add_options", "b")))
    assert state(fields, ON).options == ["a", "b", "c", "d"]


def test_add_options_then_only_options_overrides():
    target = multi("t", "a", "b", "c")
    fields = ruled(
        target,
        when("trigger", "populated", then=act("only_options", "a")),
        when("trigger", "populated", then=act("add_options", "b")),
        if_on(act("only_options", "c")),
    )
    assert state(fields, {"trigger": "x"}).options == ["a", "b"]
    assert state(fields, ON).options == ["c"]


def test_add_options_never_offers_a_blocked_value_but_allows_it():
    fields = ruled(
        enum("t", "a", "b", "old", blocked=("old",)),
        when("trigger", "populated", then=act("only_options", "a")),
        if_on(act("add_options", "old")),
    )
    s = state(fields, ON)
    assert s.options == ["a"]
    assert s.allowed == frozenset({"a", "old"})


# -- later rules override earlier ones, per group ---------------------------------------
@pytest.mark.parametrize(
    ("target", "first", "second", "attribute", "expected"),
    [
        (fld("t", STRING), act("hide"), act("show"), "visible", True),
        (fld("t", STRING), act("show"), act("hide"), "visible", False),
        (fld("t", STRING), act("mandatory"), act("optional"), "mandatory", False),
        (fld("t", STRING), act("optional"), act("mandatory"), "mandatory", True),
        (fld("t", STRING), act("set_default", "one"), act("set_default", "two"), "default", "two"),
        (fld("t", NUMBER), act("set_default", 1), act("set_default", 2), "default", 2),
        (enum("t", "a", "b"), act("set_default", "a"), act("set_default", "b"), "default", "b"),
        (multi("t", "a", "b"), act("append", "a"), act("append", "b"), "default", ["b"]),
        (multi("t", "a", "b"), act("set_default", "a"), act("set_default", "b"), "default", ["b"]),
        (multi("t", "a", "b", "c"), act("only_options", "a"), act("no_options"), "options", []),
        (
            multi("t", "a", "b", "c"),
            act("no_options"),
            act("all_options"),
            "options",
            ["a", "b", "c"],
        ),
        (
            multi("t", "a", "b", "c"),
            act("only_options", "a"),
            act("only_options", "c"),
            "options",
            ["c"],
        ),
    ],
)
def test_later_rules_override_earlier_ones(target, first, second, attribute, expected):
    fields = ruled(target, when("trigger", "populated", then=first), if_on(second))
    assert getattr(state(fields, ON), attribute) == expected
    # Only the first applies: it stands.
    only_first = getattr(state(fields, {"trigger": "other"}), attribute)
    assert only_first == getattr(state(ruled(target, if_on(first)), ON), attribute)


def test_a_rule_that_does_not_apply_overrides_nothing():
    fields = ruled(
        fld("t", STRING),
        when("trigger", "populated", then=act("hide")),
        when("trigger", "equals", "never", then=act("show")),
    )
    assert state(fields, ON).visible is False


def test_a_later_rule_replaces_only_its_own_groups():
    fields = ruled(
        multi("t", "a", "b", "c", hidden=True),
        when(
            "trigger",
            "populated",
            then=(act("show"), act("mandatory"), act("only_options", "a"), act("set_default", "a")),
        ),
        if_on(act("optional")),
    )
    s = state(fields, ON)
    assert (s.visible, s.mandatory, s.options, s.default) == (True, False, ["a"], ["a"])


def test_action_order_inside_a_rule_does_not_matter():
    actions = (act("show"), act("mandatory"), act("only_options", "b"), act("set_default", "b"))
    target = enum("t", "a", "b", hidden=True)
    forward = state(ruled(target, if_on(*actions)), ON)
    backward = state(ruled(target, if_on(*reversed(actions))), ON)
    assert forward == backward
    assert forward.as_dict() == {
        "visible": True,
        "mandatory": True,
        "options": ["b"],
        "default": "b",
    }


# -- match modes --------------------------------------------------------------------------
def two_conditions(match: str) -> list[Field]:
    return [
        fld("a", STRING),
        fld("b", NUMBER),
        fld(
            "t",
            STRING,
            rule(
                cond("a", "equals", "x"), cond("b", "equals", 1), actions=act("show"), match=match
            ),
            hidden=True,
        ),
    ]


@pytest.mark.parametrize(
    ("values", "all_", "any_"),
    [
        ({"a": "x", "b": 1}, True, True),
        ({"a": "x", "b": 2}, False, True),
        ({"a": "y", "b": 1}, False, True),
        ({"a": "y", "b": 2}, False, False),
        ({}, False, False),
    ],
)
def test_match_all_and_match_any(values, all_, any_):
    assert state(two_conditions("all"), values).visible is all_
    assert state(two_conditions("any"), values).visible is any_


# -- conditions: empty / populated ---------------------------------------------------------
@pytest.mark.parametrize(
    ("source", "value"),
    [
        (fld("s", STRING), "text"),
        (fld("s", NUMBER), 0),  # zero is a value
        (fld("s", NUMBER), 3.5),
        (fld("s", DATE), "2024-02-29"),
        (enum("s", "a", "b"), "b"),
        (multi("s", "a", "b"), ["a"]),
    ],
)
def test_empty_and_populated_on_every_type(source, value):
    assert holds(source, "populated", None, value) is True
    assert holds(source, "empty", None, value) is False
    for nothing in (None, "", []):
        assert holds(source, "populated", None, nothing) is False
        assert holds(source, "empty", None, nothing) is True


# -- conditions: string --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("wanted", "value", "expected"),
    [
        ("Quality", "quality", True),
        ("quality", "  QUALITY  ", True),
        ("  Quality ", "quality", True),
        ("Straße", "STRASSE", True),  # caseless comparison
        ("quality", "quality assurance", False),  # equals is not includes
        ("quality", "qualty", False),
        ("quality", None, False),
    ],
)
def test_string_equals_is_case_insensitive_and_trimmed(wanted, value, expected):
    assert holds(fld("s", STRING), "equals", wanted, value) is expected


@pytest.mark.parametrize(
    ("pieces", "value", "expected"),
    [
        (["assur"], "Quality Assurance", True),
        (["zzz", "ASSUR"], "Quality Assurance", True),  # any of them
        (["zzz", "yyy"], "Quality Assurance", False),
        ([" ality a "], "Quality Assurance", True),  # pieces are trimmed
        (["Quality Assurance"], "quality assurance", True),
        (["  "], "anything", False),  # a blank piece matches nothing
        (["a"], None, False),
        ("assur", "Quality Assurance", True),  # a single piece
    ],
)
def test_string_includes_any_of_the_pieces_case_insensitively(pieces, value, expected):
    assert holds(fld("s", STRING), "includes", pieces, value) is expected


# -- conditions: number and date ----------------------------------------------------------
@pytest.mark.parametrize(
    ("wanted", "value", "expected"),
    [
        (5, 5, True),
        (5, 5.0, True),
        (5.0, 5, True),
        (5, "5", True),
        ("5.0", 5, True),
        (0, 0, True),
        (5, 6, False),
        (0.1, 0.10000001, False),
        (5, None, False),
        (5, "five", False),
        (1, True, False),  # a boolean is not a number
    ],
)
def test_number_equals_numerically(wanted, value, expected):
    assert holds(fld("s", NUMBER), "equals", wanted, value) is expected


def test_includes_does_not_apply_to_numbers_and_dates():
    assert holds(fld("s", NUMBER), "includes", [5], 5) is False
    assert holds(fld("s", DATE), "includes", ["2024-01-01"], "2024-01-01") is False


@pytest.mark.parametrize(
    ("wanted", "value", "expected"),
    [
        ("2024-03-01", "2024-03-01", True),
        ("2024-03-01", datetime.date(2024, 3, 1), True),  # compared as ISO text
        ("2024-03-01", "2024-03-02", False),
        ("2024-03-01", None, False),
    ],
)
def test_date_equals_as_iso_text(wanted, value, expected):
    assert holds(fld("s", DATE), "equals", wanted, value) is expected


# -- conditions: lists --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("op", "wanted", "value", "expected"),
    [
        ("equals", "qa", "qa", True),
        ("equals", "qa", "devops", False),
        ("equals", "qa", None, False),
        ("equals", "old", "old", True),  # a blocked value held still counts
        ("includes", ["qa", "devops"], "devops", True),
        ("includes", ["qa", "devops"], "ops", False),
        ("includes", ["qa"], "devops", False),
        ("includes", ["qa"], None, False),
    ],
)
def test_single_select_conditions(op, wanted, value, expected):
    source = enum("s", "qa", "devops", "ops", "old", blocked=("old",))
    assert holds(source, op, wanted, value) is expected


@pytest.mark.parametrize(
    ("op", "wanted", "value", "expected"),
    [
        ("equals", ["a", "b"], ["a", "b"], True),
        ("equals", ["a", "b"], ["b", "a"], True),  # order does not matter
        ("equals", ["a", "b"], ["a"], False),  # a subset is not equal
        ("equals", ["a"], ["a", "b"], False),  # nor a superset
        ("equals", ["a"], None, False),
        ("includes", ["b", "c"], ["a", "b"], True),  # overlap
        ("includes", ["c"], ["a", "b"], False),
        ("includes", ["a", "b", "c"], ["c"], True),
        ("includes", ["a"], None, False),
    ],
)
def test_multi_select_conditions(op, wanted, value, expected):
    assert holds(multi("s", "a", "b", "c"), op, wanted, value) is expected


def test_a_condition_reads_the_effective_value_of_a_list_field():
    """A value the source's own rules no longer allow does not count."""
    fields = [
        fld("mode", STRING),
        enum(
            "level",
            "low",
            "high",
            rules=[when("mode", "equals", "safe", then=act("only_options", "low"))],
        ),
        fld("alarm", STRING, when("level", "equals", "high", then=act("show")), hidden=True),
    ]
    assert state(fields, {"level": "high"}).visible is True
    ev = evaluate(Schema(fields), {"mode": "safe", "level": "high", "alarm": "on"})
    assert ev.states["alarm"].visible is False
    assert ev.values == {"mode": "safe"}
    assert sorted(ev.dropped) == ["alarm", "level"]


# -- blocked values -----------------------------------------------------------------------
def test_blocked_values_are_never_offered_but_a_held_one_stays():
    fields = [multi("tags", "a", "old", "b", blocked=("old",))]
    ev = evaluate(Schema(fields), {"tags": ["old", "a"]})
    assert ev.states["tags"].options == ["a", "b"]
    assert sorted(ev.values["tags"]) == ["a", "old"]
    assert ev.dropped == []
    ev = evaluate(Schema([enum("e", "a", "old", blocked=("old",))]), {"e": "old"})
    assert ev.values == {"e": "old"}
    assert ev.dropped == []


def test_a_held_blocked_value_stays_under_only_options_naming_it():
    target = enum("t", "a", "old", "b", blocked=("old",))
    keeps = ruled(target, if_on(act("only_options", "old", "b")))
    ev = evaluate(Schema(keeps), {**ON, "t": "old"})
    assert ev.states["t"].options == ["b"]
    assert ev.values["t"] == "old"
    assert ev.dropped == []
    drops = ruled(target, if_on(act("only_options", "a")))
    ev = evaluate(Schema(drops), {**ON, "t": "old"})
    assert "t" not in ev.values
    assert ev.dropped == ["t"]


def test_a_blocked_value_is_never_a_default():
    fields = [
        enum("e", "a", "old", blocked=("old",), default="old"),
        multi("m", "a", "old", blocked=("old",), default=["old", "a"]),
    ]
    ev = evaluate(Schema(fields), {}, defaults=DEFAULTS_ALL)
    assert ev.states["e"].default is None
    assert ev.states["m"].default == ["a"]
    assert ev.values == {"m": ["a"]}


# -- effective values -----------------------------------------------------------------------
def test_a_hidden_fields_value_is_dropped_and_reported():
    fields = [
        fld("kind", STRING),
        fld("note", STRING, when("kind", "equals", "plain", then=act("hide"))),
        fld("secret", NUMBER, hidden=True),
        fld("free", STRING, hidden=True),
    ]
    ev = evaluate(Schema(fields), {"kind": "plain", "note": "n", "secret": 7})
    assert ev.values == {"kind": "plain"}
    assert sorted(ev.dropped) == ["note", "secret"]  # "free" had nothing to drop


def test_a_hidden_field_gets_no_default():
    fields = [fld("secret", STRING, hidden=True, default="x", mandatory=True)]
    for mode in (DEFAULTS_ALL, DEFAULTS_MANDATORY):
        assert evaluate(Schema(fields), {}, defaults=mode).values == {}


def test_list_values_the_rules_do_not_allow_are_dropped():
    fields = ruled(multi("t", "a", "b", "c"), if_on(act("only_options", "a", "b")))
    schema = Schema(fields)
    partly = evaluate(schema, {**ON, "t": ["c", "a"]})
    assert partly.values["t"] == ["a"]
    assert partly.dropped == ["t"]
    wholly = evaluate(schema, {**ON, "t": ["c"]})
    assert "t" not in wholly.values
    assert wholly.dropped == ["t"]
    fine = evaluate(schema, {**ON, "t": ["b", "a"]})
    assert sorted(fine.values["t"]) == ["a", "b"]
    assert fine.dropped == []
    # Values that were never in the list go too.
    unknown = evaluate(schema, {"t": ["a", "zz"]})
    assert unknown.values["t"] == ["a"]
    assert unknown.dropped == ["t"]


def test_a_single_select_value_the_rules_do_not_allow_is_dropped():
    fields = ruled(enum("t", "a", "b"), if_on(act("only_options", "a")))
    ev = evaluate(Schema(fields), {**ON, "t": "b"})
    assert "t" not in ev.values
    assert ev.dropped == ["t"]
    assert evaluate(Schema(fields), {**ON, "t": "a"}).values["t"] == "a"


def test_duplicate_multi_select_values_are_kept_once_and_not_reported():
    ev = evaluate(Schema([multi("m", "a", "b")]), {"m": ["a", "a", "b"]})
    assert sorted(ev.values["m"]) == ["a", "b"]
    assert ev.dropped == []


def test_a_dropped_value_is_replaced_by_the_default_when_defaults_are_filled():
    fields = ruled(enum("t", "a", "b", default="a"), if_on(act("only_options", "a")))
    ev = evaluate(Schema(fields), {**ON, "t": "b"}, defaults=DEFAULTS_ALL)
    assert ev.values["t"] == "a"
    assert ev.dropped == ["t"]


# -- chained visibility -------------------------------------------------------------------
def test_a_hidden_field_reads_as_empty_down_the_chain():
    fields = [
        fld("a", STRING),
        fld("b", STRING, when("a", "equals", "yes", then=act("show")), hidden=True),
        fld("c", STRING, when("b", "populated", then=act("show")), hidden=True),
        fld("d", STRING, when("c", "empty", then=act("hide"))),
    ]
    schema = Schema(fields)
    all_on = evaluate(schema, {"a": "yes", "b": "x", "c": "y", "d": "z"})
    assert all_on.values == {"a": "yes", "b": "x", "c": "y", "d": "z"}
    assert all_on.dropped == []
    # "a" changes: "b" hides, so "c" sees "b" as empty and hides, so "d" hides.
    cut = evaluate(schema, {"a": "no", "b": "x", "c": "y", "d": "z"})
    assert [cut.states[k].visible for k in "abcd"] == [True, False, False, False]
    assert cut.values == {"a": "no"}
    assert sorted(cut.dropped) == ["b", "c", "d"]


def test_a_field_listed_before_the_field_it_reads_sees_its_effective_value():
    """Evaluation order follows the dependencies, not the list order."""
    fields = [
        fld("d", STRING, when("c", "populated", then=act("show")), hidden=True),
        fld("c", STRING, when("b", "equals", "on", then=act("show")), hidden=True),
        fld("b", STRING, when("a", "equals", "on", then=act("show")), hidden=True),
        fld("a", STRING),
    ]
    given = {"a": "on", "b": "on", "c": "x", "d": "y"}
    ev = evaluate(Schema(fields), given)
    assert all(ev.states[k].visible for k in "abcd")
    assert ev.values == given
    ev = evaluate(Schema(fields), {**given, "a": "off"})
    assert [ev.states[k].visible for k in "dcba"] == [False, False, False, True]
    assert ev.values == {"a": "off"}
    assert sorted(ev.dropped) == ["b", "c", "d"]


def test_a_default_filled_in_counts_for_conditions():
    fields = [
        fld("show_it", STRING, when("kind", "equals", "photo", then=act("show")), hidden=True),
        enum("kind", "photo", "video", default="photo"),
    ]
    schema = Schema(fields)
    assert evaluate(schema, {}, defaults=DEFAULTS_NONE).states["show_it"].visible is False
    assert evaluate(schema, {}, defaults=DEFAULTS_ALL).states["show_it"].visible is True
    # Emptied on purpose: no default, so the condition does not hold.
    ev = evaluate(schema, {}, defaults=DEFAULTS_ALL, keep_empty=["kind"])
    assert ev.states["show_it"].visible is False


# -- defaults modes and keep_empty --------------------------------------------------------
def defaults_schema() -> Schema:
    return Schema(
        [
            fld("plain", STRING, default="p"),
            fld("needed", STRING, default="n", mandatory=True),
            fld("hidden_needed", STRING, default="h", mandatory=True, hidden=True),
            fld("num", NUMBER, default=3),
            fld("day", DATE, default="2024-01-01"),
            enum("one", "a", "b", default="b", mandatory=True),
            multi("many", "a", "b", default=["a"]),
            fld("nothing", STRING, mandatory=True),
        ]
    )


def test_defaults_none_fills_nothing():
    ev = evaluate(defaults_schema(), {"plain": "mine"}, defaults=DEFAULTS_NONE)
    assert ev.values == {"plain": "mine"}
    assert ev.states["needed"].default == "n"  # the state still tells the default


def test_defaults_mandatory_fills_visible_mandatory_fields_only():
    ev = evaluate(defaults_schema(), {}, defaults=DEFAULTS_MANDATORY)
    assert ev.values == {"needed": "n", "one": "b"}


def test_defaults_all_fills_every_visible_empty_field():
    ev = evaluate(defaults_schema(), {"plain": "mine"}, defaults=DEFAULTS_ALL)
    assert ev.values == {
        "plain": "mine",  # a chosen value is never replaced
        "needed": "n",
        "num": 3,
        "day": "2024-01-01",
        "one": "b",
        "many": ["a"],
    }
    assert ev.dropped == []


def test_keep_empty_fields_get_no_default():
    for mode in (DEFAULTS_MANDATORY, DEFAULTS_ALL):
        ev = evaluate(defaults_schema(), {}, defaults=mode, keep_empty=["needed", "one", "many"])
        assert "needed" not in ev.values
        assert "one" not in ev.values
        assert "many" not in ev.values
    ev = evaluate(defaults_schema(), {}, defaults=DEFAULTS_ALL, keep_empty=("plain",))
    assert "plain" not in ev.values
    assert ev.values["num"] == 3


def test_keep_empty_does_not_clear_a_given_value():
    ev = evaluate(defaults_schema(), {"plain": "mine"}, defaults=DEFAULTS_ALL, keep_empty=["plain"])
    assert ev.values["plain"] == "mine"


def test_a_field_made_mandatory_by_a_rule_gets_its_default_in_mandatory_mode():
    fields = ruled(fld("t", STRING, default="d"), if_on(act("mandatory")))
    assert evaluate(Schema(fields), ON, defaults=DEFAULTS_MANDATORY).values == {**ON, "t": "d"}
    assert evaluate(Schema(fields), {}, defaults=DEFAULTS_MANDATORY).values == {}


def test_defaults_are_filtered_to_the_offered_options():
    target = enum("t", "a", "b", "c", default="a")
    fields = ruled(target, if_on(act("only_options", "b", "c")))
    assert state(fields, ON).default is None
    assert "t" not in evaluate(Schema(fields), ON, defaults=DEFAULTS_ALL).values
    fields = ruled(target, if_on(act("only_options", "b", "c"), act("set_default", "c")))
    assert state(fields, ON).default == "c"
    many = multi("t", "a", "b", "c", default=["a", "b"])
    fields = ruled(many, if_on(act("only_options", "b", "c"), act("append", "a", "c")))
    s = state(fields, ON)
    assert sorted(s.default) == ["b", "c"]
    assert sorted(evaluate(Schema(fields), ON, defaults=DEFAULTS_ALL).values["t"]) == ["b", "c"]
    fields = ruled(many, if_on(act("no_options")))
    assert state(fields, ON).default is None


def test_a_default_value_is_a_copy():
    schema = Schema([multi("m", "a", "b", default=["a"])])
    ev = evaluate(schema, {}, defaults=DEFAULTS_ALL)
    ev.values["m"].append("b")
    again = evaluate(schema, {}, defaults=DEFAULTS_ALL)
    assert again.values["m"] == ["a"]
    assert again.states["m"].default == ["a"]


# -- the three-level example ------------------------------------------------------
def three_levels(reverse: bool = False) -> Schema:
    fields = [
        enum("category", "employee", "customer"),
        enum(
            "team",
            "rd",
            "sales",
            hidden=True,
            rules=[when("category", "equals", "employee", then=act("show"))],
        ),
        enum(
            "role",
            "qa",
            "devops",
            hidden=True,
            rules=[when("team", "equals", "rd", then=(act("show"), act("mandatory")))],
        ),
        multi(
            "person",
            "john_smith",
            "jane_kelly",
            "paul_green",
            "mary_rose",
            rules=[
                when("role", "equals", "qa", then=act("only_options", "john_smith", "jane_kelly")),
                when(
                    "role", "equals", "devops", then=act("only_options", "paul_green", "mary_rose")
                ),
            ],
        ),
    ]
    return Schema(reversed(fields) if reverse else fields)


EVERYONE = ["john_smith", "jane_kelly", "paul_green", "mary_rose"]


@pytest.mark.parametrize("reverse", [False, True])
def test_three_levels_step_by_step(reverse):
    schema = three_levels(reverse)

    ev = evaluate(schema, {})
    assert [ev.states[k].visible for k in ("category", "team", "role", "person")] == [
        True,
        False,
        False,
        True,
    ]
    assert ev.states["person"].options == EVERYONE

    ev = evaluate(schema, {"category": "employee"})
    assert (ev.states["team"].visible, ev.states["role"].visible) == (True, False)
    assert ev.states["team"].options == ["rd", "sales"]

    ev = evaluate(schema, {"category": "employee", "team": "sales"})
    assert ev.states["role"].visible is False

    ev = evaluate(schema, {"category": "employee", "team": "rd"})
    assert ev.states["role"].visible is True
    assert ev.states["role"].mandatory is True
    assert ev.states["person"].options == EVERYONE

    base = {"category": "employee", "team": "rd"}
    ev = evaluate(schema, {**base, "role": "qa"})
    assert ev.states["person"].options == ["john_smith", "jane_kelly"]
    ev = evaluate(schema, {**base, "role": "devops"})
    assert ev.states["person"].options == ["paul_green", "mary_rose"]


@pytest.mark.parametrize("reverse", [False, True])
def test_three_levels_values_that_no_longer_apply_are_dropped(reverse):
    schema = three_levels(reverse)
    full = {"category": "employee", "team": "rd", "role": "qa", "person": ["john_smith"]}
    ev = evaluate(schema, full)
    assert ev.values == full
    assert ev.dropped == []

    # The wrong people for QA: only the allowed one stays.
    ev = evaluate(schema, {**full, "person": ["jane_kelly", "paul_green"]})
    assert ev.values["person"] == ["jane_kelly"]
    assert ev.dropped == ["person"]

    # Sales has no roles: "role" goes, and Person offers everyone again.
    ev = evaluate(schema, {**full, "team": "sales", "person": ["paul_green"]})
    assert ev.values == {"category": "employee", "team": "sales", "person": ["paul_green"]}
    assert ev.dropped == ["role"]
    assert ev.states["person"].options == EVERYONE

    # A customer: team and role go down the chain.
    ev = evaluate(schema, {**full, "category": "customer", "person": ["mary_rose"]})
    assert ev.values == {"category": "customer", "person": ["mary_rose"]}
    assert sorted(ev.dropped) == ["role", "team"]
    assert [ev.states[k].visible for k in ("team", "role")] == [False, False]
    assert ev.states["role"].mandatory is False


def test_three_levels_drivers():
    assert three_levels().drivers == frozenset({"category", "team", "role"})


# -- dependencies and cycles --------------------------------------------------------------
def test_dependencies_list_the_fields_each_field_reads_except_itself():
    fields = [
        fld("a", STRING, when("a", "populated", then=act("hide"))),
        fld(
            "b",
            STRING,
            rule(cond("a", "empty"), cond("c", "populated"), actions=act("hide")),
            when("a", "populated", then=act("show")),
        ),
        fld("c", STRING),
    ]
    assert engine.dependencies(fields) == {"a": set(), "b": {"a", "c"}, "c": set()}


def test_find_cycle_without_a_cycle():
    assert find_cycle({}) is None
    assert find_cycle({"a": ["b"], "b": ["c"], "c": []}) is None
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set(), "d": {"a"}}) is None
    assert find_cycle({"a": ["unknown"]}) is None  # an edge to a node with no entry


@pytest.mark.parametrize(
    "edges",
    [
        {"a": ["a"]},
        {"a": ["b"], "b": ["a"]},
        {"a": ["b"], "b": ["c"], "c": ["a"]},
        {"x": [], "a": ["x", "b"], "b": ["c"], "c": ["b"]},
        {"top": ["a"], "a": ["b"], "b": ["c"], "c": ["a"], "d": []},
    ],
)
def test_find_cycle_returns_a_closed_loop_along_the_edges(edges):
    loop = find_cycle(edges)
    assert loop is not None
    assert len(loop) >= 2
    assert loop[0] == loop[-1]
    assert len(set(loop[:-1])) == len(loop) - 1  # no node twice besides the closing one
    for reader, read in itertools.pairwise(loop):
        assert read in edges[reader]


def test_find_cycle_names_the_loop_in_reading_order():
    assert find_cycle({"a": ["b"], "b": ["a"]}) == ["a", "b", "a"]
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["b"]}) == ["b", "c", "b"]


def test_a_cycle_that_slipped_in_never_crashes():
    fields = [
        fld("a", STRING, when("b", "populated", then=act("hide"))),
        fld("b", STRING, when("a", "populated", then=act("hide"))),
        enum("c", "x", "y", rules=[when("c2", "equals", "x", then=act("only_options", "y"))]),
        enum("c2", "x", "y", rules=[when("c", "equals", "y", then=act("only_options", "x"))]),
        fld("after", STRING, when("b", "empty", then=act("mandatory"))),
        fld("plain", STRING),
    ]
    schema = Schema(fields)
    assert {f.external_id for f in schema.order} == {f.external_id for f in fields}
    for values in ({}, {"a": "1", "b": "2", "c": "x", "c2": "y", "plain": "p"}, {"a": "1"}):
        for mode in (DEFAULTS_NONE, DEFAULTS_MANDATORY, DEFAULTS_ALL):
            ev = evaluate(schema, values, defaults=mode)
            assert set(ev.states) == {f.external_id for f in fields}
            assert ev.values.get("plain") == values.get("plain")
    # The same fields twice give the same answer.
    given = {"a": "1", "b": "2"}
    assert evaluate(schema, given) == evaluate(schema, given)


def test_fields_outside_a_cycle_still_come_after_the_fields_they_read():
    """Only the fields on a cycle fall back to list order: a field that reads one of them
    (without being on the cycle) still sees its effective value. Here "a" is hidden
    whatever the cycle does, so "reader", listed first, sees it as empty."""
    fields = [
        fld("reader", STRING, when("a", "populated", then=act("show")), hidden=True),
        fld("a", STRING, when("b", "equals", "never", then=act("set_default", "z")), hidden=True),
        fld("b", STRING, when("a", "populated", then=act("set_default", "z"))),
    ]
    ev = evaluate(Schema(fields), {"a": "held", "b": "x", "reader": "r"})
    assert ev.states["a"].visible is False
    assert "a" not in ev.values
    assert ev.states["reader"].visible is False
    assert "reader" not in ev.values


# -- the small pieces ----------------------------------------------------------------------
def test_schema_basics():
    schema = Schema([enum("e", "b", "a"), fld("s", STRING)])
    assert len(schema) == 2
    assert bool(schema) is True
    assert bool(Schema([])) is False
    assert schema.option("e", "a") == Option("a", "A")
    assert schema.option("e", "zz") is None
    assert schema.option("nope", "a") is None
    assert schema.in_list_order("e", ["a", "zz", "b", "a"]) == ["b", "a"]
    assert schema.in_list_order("nope", ["a"]) == []


def test_is_empty():
    for nothing in (None, "", [], ()):
        assert engine.is_empty(nothing)
    for something in (0, 0.0, False, "x", " ", ["a"], "0"):
        assert not engine.is_empty(something)
