"""The search query language (API.md "Search"), parsed into a small tree. Pure Python:
no database, so the page, the API and the tests share one parser.

    tags:kitten AND type:image AND created_at>7d
    metadata.region=emea (format:png OR format:jpg) NOT "draft copy"

- Terms next to each other are ANDed; `AND`, `OR`, `NOT` (upper case) and `-term`
  combine them; parentheses group; OR binds looser than AND.
- `field:value`, `field=value`, `field>value`, `field<value`, `field>=value`,
  `field<=value`, `field!=value`. Values are words or "quoted phrases" (\\" escapes).
  `:` matches (a tag, a word in a text field), `=` is exact; on other fields the same.
- Anything else is free text; a "quoted phrase" is matched as a phrase.

Mistakes raise `QuerySyntaxError` with the 0-based character position. Limits keep the
work bounded whatever is typed: length, number of terms and nesting depth.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_LENGTH = 2000
MAX_TERMS = 100
MAX_DEPTH = 16
OPERATORS = (">=", "<=", "!=", ":", "=", ">", "<")
FIELD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_\-]+)?")
WORD_STOP = set(' \t\r\n()"')


class QuerySyntaxError(ValueError):
    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} (at character {position + 1})")
        self.message = message
        self.position = position


# -- the tree -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Text:
    value: str
    phrase: bool
    position: int


@dataclass(frozen=True)
class Compare:
    field: str
    op: str
    value: str
    position: int


@dataclass(frozen=True)
class Not:
    node: object


@dataclass(frozen=True)
class And:
    nodes: tuple


@dataclass(frozen=True)
class Or:
    nodes: tuple


# -- tokens -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Token:
    kind: str  # "(", ")", "AND", "OR", "NOT", "-", "word", "phrase", "compare"
    value: str
    position: int
    field: str = ""
    op: str = ""


def _quoted(text: str, start: int) -> tuple[str, int]:
    """The string starting at the quote `start`; returns (value, index after it)."""
    out = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        if ch == '"':
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise QuerySyntaxError("This quote is never closed", start)


def _word(text: str, start: int) -> tuple[str, int]:
    i = start
    while i < len(text) and text[i] not in WORD_STOP:
        i += 1
    return text[start:i], i


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch in "()":
            tokens.append(Token(ch, ch, i))
            i += 1
            continue
        if ch == '"':
            value, i2 = _quoted(text, i)
            tokens.append(Token("phrase", value, i))
            i = i2
            continue
        if ch == "-" and i + 1 < len(text) and text[i + 1] not in WORD_STOP:
            tokens.append(Token("-", "-", i))
            i += 1
            continue
        match = FIELD_RE.match(text, i)
        if match:
            after = match.end()
            op = next((o for o in OPERATORS if text.startswith(o, after)), None)
            if op is not None:
                value_at = after + len(op)
                if value_at < len(text) and text[value_at] == '"':
                    value, end = _quoted(text, value_at)
                else:
                    value, end = _word(text, value_at)
                if value == "" and (value_at >= len(text) or text[value_at] != '"'):
                    term = f"{match.group(0)}{op}"
                    if value_at < len(text) and text[value_at] == "(":
                        raise QuerySyntaxError(
                            f"“{term}” takes one value, not parentheses: write {term}a OR {term}b",
                            value_at,
                        )
                    raise QuerySyntaxError(f"“{term}” needs a value", value_at)
                field = match.group(0)
                tokens.append(Token("compare", value, i, field=field, op=op))
                i = end
                continue
        word, end = _word(text, i)
        if word in ("AND", "OR", "NOT"):
            tokens.append(Token(word, word, i))
        else:
            tokens.append(Token("word", word, i))
        i = end
    return tokens


# -- the parser -------------------------------------------------------------------------------
class _Parser:
    def __init__(self, tokens: list[Token], length: int) -> None:
        self.tokens = tokens
        self.i = 0
        self.length = length
        self.depth = 0

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def end_position(self) -> int:
        return self.length

    def parse(self):
        if not self.tokens:
            return None
        node = self.or_()
        extra = self.peek()
        if extra is not None:
            raise QuerySyntaxError(f"Unexpected “{extra.value}”", extra.position)
        return node

    def or_(self):
        nodes = [self.and_()]
        while (t := self.peek()) is not None and t.kind == "OR":
            self.take()
            self._expect_operand(t)
            nodes.append(self.and_())
        return nodes[0] if len(nodes) == 1 else Or(tuple(nodes))

    def and_(self):
        nodes = [self.not_()]
        while (t := self.peek()) is not None and t.kind not in ("OR", ")"):
            if t.kind == "AND":
                self.take()
                self._expect_operand(t)
            nodes.append(self.not_())
        return nodes[0] if len(nodes) == 1 else And(tuple(nodes))

    def _expect_operand(self, after: Token) -> None:
        t = self.peek()
        if t is None or t.kind in ("AND", "OR", ")"):
            where = t.position if t is not None else self.end_position()
            raise QuerySyntaxError(f"“{after.value}” needs something after it", where)

    def not_(self):
        t = self.peek()
        if t is not None and t.kind in ("NOT", "-"):
            self.take()
            self._expect_operand(t)
            self._enter(t)
            node = Not(self.not_())
            self.depth -= 1
            return node
        return self.atom()

    def _enter(self, t: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QuerySyntaxError(f"Nested more than {MAX_DEPTH} levels deep", t.position)

    def atom(self):
        t = self.peek()
        if t is None:
            raise QuerySyntaxError("The query ends too early", self.end_position())
        if t.kind == "(":
            self.take()
            self._enter(t)
            if (n := self.peek()) is not None and n.kind == ")":
                raise QuerySyntaxError("Empty parentheses", n.position)
            node = self.or_()
            closing = self.peek()
            if closing is None or closing.kind != ")":
                raise QuerySyntaxError("This parenthesis is never closed", t.position)
            self.take()
            self.depth -= 1
            return node
        if t.kind == ")":
            raise QuerySyntaxError("This parenthesis was never opened", t.position)
        if t.kind in ("AND", "OR"):
            raise QuerySyntaxError(f"“{t.value}” needs something before it", t.position)
        self.take()
        if t.kind == "compare":
            return Compare(t.field.lower(), t.op, t.value, t.position)
        return Text(t.value, t.kind == "phrase", t.position)


def parse(text: str | None):
    """The tree of a query, or None for an empty one."""
    if text is None:
        return None
    if not isinstance(text, str):
        raise QuerySyntaxError("The query is text", 0)
    if len(text) > MAX_LENGTH:
        raise QuerySyntaxError(f"The query is longer than {MAX_LENGTH} characters", MAX_LENGTH)
    if "\x00" in text:
        raise QuerySyntaxError("The query contains a NUL character", text.index("\x00"))
    tokens = tokenize(text)
    terms = sum(1 for t in tokens if t.kind in ("word", "phrase", "compare"))
    if terms > MAX_TERMS:
        raise QuerySyntaxError(f"More than {MAX_TERMS} terms", tokens[-1].position)
    return _Parser(tokens, len(text)).parse()


def terms(node) -> list:
    """Every Text and Compare in the tree, in order (for validation and highlighting)."""
    if node is None:
        return []
    if isinstance(node, (Text, Compare)):
        return [node]
    if isinstance(node, Not):
        return terms(node.node)
    return [t for n in node.nodes for t in terms(n)]
