"""The search query language: the tree it builds, the errors it gives (with positions),
and that nothing typed makes it raise anything else or run unbounded."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assets.search_query import (
    MAX_DEPTH,
    MAX_LENGTH,
    MAX_TERMS,
    And,
    Compare,
    Not,
    Or,
    QuerySyntaxError,
    Text,
    parse,
    terms,
)


def test_the_issue_examples():
    assert parse("tags:kitten AND type:image AND created_at>7d") == And(
        (
            Compare("tags", ":", "kitten", 0),
            Compare("type", ":", "image", 16),
            Compare("created_at", ">", "7d", 31),
        )
    )
    assert parse("metadata.region=emea") == Compare("metadata.region", "=", "emea", 0)


def test_or_binds_looser_than_and_and_adjacent_terms_are_anded():
    tree = parse("a b OR c")
    assert tree == Or((And((Text("a", False, 0), Text("b", False, 2))), Text("c", False, 7)))


def test_parentheses_not_minus_and_phrases():
    tree = parse('(format:png OR format:jpg) NOT "draft copy" -old')
    assert tree == And(
        (
            Or((Compare("format", ":", "png", 1), Compare("format", ":", "jpg", 15))),
            Not(Text("draft copy", True, 31)),
            Not(Text("old", False, 45)),
        )
    )


@pytest.mark.parametrize(
    ("query", "op", "value"),
    [
        ("bytes>=10MB", ">=", "10MB"),
        ("width<=800", "<=", "800"),
        ("type!=video", "!=", "video"),
        ('context.alt:"red poster"', ":", "red poster"),
        ('metadata.caption="say \\"hi\\""', "=", 'say "hi"'),
    ],
)
def test_every_operator(query, op, value):
    node = parse(query)
    assert isinstance(node, Compare) and (node.op, node.value) == (op, value)


def test_fields_are_case_insensitive_and_lowercase_words_are_text():
    assert parse("TAGS:Cat") == Compare("tags", ":", "Cat", 0)
    assert parse("cats and dogs") == And(
        (Text("cats", False, 0), Text("and", False, 5), Text("dogs", False, 9))
    )


@pytest.mark.parametrize(
    ("query", "message", "position"),
    [
        ("(a OR b", "never closed", 0),
        ("a)", "Unexpected", 1),
        (")", "never opened", 0),
        ("a AND", "needs something after it", 5),
        ("a OR OR b", "needs something after it", 5),
        ("AND a", "needs something before it", 0),
        ('"open', "quote is never closed", 0),
        ("tags:", "needs a value", 5),
        ("tags:(kitten AND", "takes one value, not parentheses: write tags:a OR tags:b", 5),
        ("()", "Empty parentheses", 1),
        ("NOT", "needs something after it", 3),
        ("a\x00b", "NUL", 1),
    ],
)
def test_mistakes_say_where(query, message, position):
    with pytest.raises(QuerySyntaxError) as info:
        parse(query)
    assert message in info.value.message and info.value.position == position
    assert f"(at character {position + 1})" in str(info.value)


def test_limits_bound_the_work():
    with pytest.raises(QuerySyntaxError, match="longer than"):
        parse("a" * (MAX_LENGTH + 1))
    with pytest.raises(QuerySyntaxError, match="More than"):
        parse(" ".join(["a"] * (MAX_TERMS + 1)))
    with pytest.raises(QuerySyntaxError, match="Nested"):
        parse("(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1))
    with pytest.raises(QuerySyntaxError, match="Nested"):
        parse("NOT " * (MAX_DEPTH + 1) + "a")
    assert parse("(" * MAX_DEPTH + "a" + ")" * MAX_DEPTH) == Text("a", False, MAX_DEPTH)


def test_empty_and_odd_unicode():
    assert parse("") is None and parse("   ") is None and parse(None) is None
    assert terms(parse("café 日本 🎉 'x' ; DROP TABLE assets_asset; --")) == [
        Text("café", False, 0),
        Text("日本", False, 5),
        Text("🎉", False, 8),
        Text("'x'", False, 10),
        Text(";", False, 14),
        Text("DROP", False, 16),
        Text("TABLE", False, 21),
        Text("assets_asset;", False, 27),
        Text("-", False, 42),  # "--" is NOT "-"
    ]


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(st.text(alphabet=st.sampled_from(list('ab :=<>!-()"\\ AND OR NOT.é\x00\t')), max_size=80))
def test_any_text_parses_or_fails_cleanly(text):
    try:
        tree = parse(text)
    except QuerySyntaxError as exc:
        assert 0 <= exc.position <= max(len(text), MAX_LENGTH)
        return
    for term in terms(tree):
        assert isinstance(term, (Text, Compare))
        assert 0 <= term.position < len(text)
