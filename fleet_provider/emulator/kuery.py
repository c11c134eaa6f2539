"""A small KQL parser and evaluator for the enrollment-key list ``kuery``.

Covers what clients send to this endpoint: ``field:value``, quoted values,
trailing/inner ``*`` wildcards, ``field:*`` (exists), value lists
``field:(a or b)``, ranges ``created_at >= "..."``, ``and``/``or``/``not``,
parentheses and free text. Values are matched like Elasticsearch matches the
``.fleet-enrollment-api-keys`` mapping: keywords exactly (case-sensitive),
booleans as ``true``/``false``, dates by instant.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, NoReturn

PREFIX = "fleet-enrollment-api-keys"

KEYWORD_FIELDS = frozenset({"api_key", "api_key_id", "name", "policy_id"})
BOOLEAN_FIELDS = frozenset({"active", "hidden"})
DATE_FIELDS = frozenset({"created_at", "expire_at", "updated_at"})

_SPECIAL = set('\\():<>"{}')
_OR_RE = re.compile(r"\s+or\s+", re.IGNORECASE)
_AND_RE = re.compile(r"\s+and\s+", re.IGNORECASE)
_NOT_RE = re.compile(r"not\s+", re.IGNORECASE)
_RANGE_RE = re.compile(r"\s*(<=|>=|<|>)\s*")

Doc = Mapping[str, Any]
Predicate = Callable[[Doc], bool]


class KuerySyntaxError(ValueError):
    """The kuery does not parse; ``str()`` is KQL's own multi-line message."""


@dataclass(frozen=True)
class Value:
    """A literal value; ``parts`` holds text and ``None`` for each unescaped ``*``."""

    parts: tuple[str | None, ...]
    quoted: bool

    @property
    def text(self) -> str:
        """The value with wildcards written as ``*``."""
        return "".join("*" if part is None else part for part in self.parts)

    @property
    def is_wildcard_only(self) -> bool:
        """True for a bare ``*`` (an exists query on a field)."""
        return self.parts == (None,)

    def matches_text(self, candidate: str) -> bool:
        """Keyword semantics: exact, or a wildcard pattern when unquoted ``*`` is present."""
        if None not in self.parts:
            return candidate == self.text
        pattern = "".join(".*" if p is None else re.escape(p) for p in self.parts)
        return re.fullmatch(pattern, candidate, re.DOTALL) is not None


@dataclass(frozen=True)
class Node:
    """A parsed kuery node: ``op`` is and/or/not/field/range/text."""

    op: str
    children: tuple[Node, ...] = ()
    field: str | None = None
    value: Value | None = None
    comparator: str | None = None
    values: ValueNode | None = None


@dataclass(frozen=True)
class ValueNode:
    """A value list on the right of ``field:``: and/or/not of literal values."""

    op: str
    children: tuple[ValueNode, ...] = ()
    value: Value | None = None


def parse(kuery: str) -> Node | None:
    """Parse a kuery; ``None`` means an empty query (everything matches)."""
    return _Parser(kuery).parse()


def fields(node: Node | None) -> Iterator[str]:
    """Every field name the query mentions, in order."""
    if node is None:
        return
    if node.field is not None:
        yield node.field
    for child in node.children:
        yield from fields(child)


def has_free_text(node: Node | None) -> bool:
    """True when some term of the query names no field."""
    if node is None:
        return False
    return node.op == "text" or any(has_free_text(child) for child in node.children)


def field_error(node: Node | None, allowed: frozenset[str]) -> str | None:
    """Kibana's strict-KQL message for the first field outside the mapping, else None."""
    for name in fields(node):
        if "." in name:
            # hasFilterKeyError (routes/utils/filter_utils.ts): a dotted key is looked up in
            # the saved-object index patterns as a whole, whatever its first part names.
            if name.partition(".")[0] != PREFIX or name.partition(".")[2] not in allowed:
                return (
                    f"KQLSyntaxError: This key '{name}' does NOT exist in "
                    f"{PREFIX} saved object index patterns"
                )
        elif name not in allowed:
            return f"KQLSyntaxError: This type '{name}' is not allowed"
    return None


def compile_predicate(node: Node | None) -> Predicate:
    """A function telling whether a stored key document matches the query."""
    if node is None:
        return lambda _doc: True
    return lambda doc: _evaluate(node, doc)


def _evaluate(node: Node, doc: Doc) -> bool:
    if node.op == "and":
        return all(_evaluate(child, doc) for child in node.children)
    if node.op == "or":
        return any(_evaluate(child, doc) for child in node.children)
    if node.op == "not":
        return not _evaluate(node.children[0], doc)
    if node.op == "text":
        assert node.value is not None
        return _matches_free_text(node.value, doc)
    assert node.field is not None
    # Kibana passes the kuery to Elasticsearch as written: a name with the saved-object
    # prefix is not a field of the index, so it matches no document (all 8.x/9.x).
    stored = doc.get(node.field)
    if node.op == "range":
        assert node.value is not None and node.comparator is not None
        return stored is not None and _in_range(node.field, stored, node.comparator, node.value)
    assert node.values is not None
    return _matches_values(node.field, stored, node.values)


def _matches_values(field: str, stored: Any, values: ValueNode) -> bool:
    if values.op == "and":
        return all(_matches_values(field, stored, child) for child in values.children)
    if values.op == "or":
        return any(_matches_values(field, stored, child) for child in values.children)
    if values.op == "not":
        return not _matches_values(field, stored, values.children[0])
    assert values.value is not None
    return _matches_value(field, stored, values.value)


def _matches_value(field: str, stored: Any, value: Value) -> bool:
    if stored is None:
        return False
    if value.is_wildcard_only and not value.quoted:
        return True
    if field in BOOLEAN_FIELDS:
        return isinstance(stored, bool) and value.text.lower() == str(stored).lower()
    if field in DATE_FIELDS:
        wanted, have = _instant(value.text), _instant(str(stored))
        return wanted is not None and wanted == have
    return isinstance(stored, str) and value.matches_text(stored)


def _matches_free_text(value: Value, doc: Doc) -> bool:
    for field in KEYWORD_FIELDS | BOOLEAN_FIELDS:
        if _matches_value(field, doc.get(field), value):
            return True
    return False


def _in_range(field: str, stored: Any, comparator: str, value: Value) -> bool:
    left: Any
    right: Any
    if field in DATE_FIELDS:
        left, right = _instant(str(stored)), _instant(value.text)
        if left is None or right is None:
            return False
    elif field in BOOLEAN_FIELDS:
        return False
    else:
        left, right = str(stored), value.text
    if comparator == "<":
        return bool(left < right)
    if comparator == "<=":
        return bool(left <= right)
    if comparator == ">":
        return bool(left > right)
    return bool(left >= right)


def _instant(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


class _Parser:
    """Recursive descent over the KQL grammar, one character position at a time."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def parse(self) -> Node | None:
        self._skip_space()
        if self.pos == len(self.text):
            return None
        node = self._or()
        self._skip_space()
        if self.pos != len(self.text):
            self._fail(["AND", "OR", "end of input", "whitespace"])
        return node

    # -- query level ------------------------------------------------------------------
    def _or(self) -> Node:
        children = [self._and()]
        while self._keyword(_OR_RE):
            children.append(self._and())
        return children[0] if len(children) == 1 else Node("or", tuple(children))

    def _and(self) -> Node:
        children = [self._not()]
        while self._keyword(_AND_RE):
            children.append(self._not())
        return children[0] if len(children) == 1 else Node("and", tuple(children))

    def _not(self) -> Node:
        self._skip_space()
        if self._keyword(_NOT_RE):
            return Node("not", (self._sub(),))
        return self._sub()

    def _sub(self) -> Node:
        self._skip_space()
        if self._peek() == "(":
            self.pos += 1
            node = self._or()
            self._skip_space()
            self._expect(")", ["AND", "OR", '")"', "whitespace"])
            return node
        return self._expression()

    def _expression(self) -> Node:
        first = self._literal(stop_at_colon=True)
        if first is None:
            self._fail(['"("', "NOT", "field name", "value", "whitespace"])
        after_literal = self.pos
        range_match = _RANGE_RE.match(self.text, self.pos)
        if range_match and not first.quoted:
            self.pos = range_match.end()
            bound = self._literal(stop_at_colon=False)
            if bound is None:
                self._fail(["literal", "whitespace"])
            return Node("range", field=first.text, value=bound, comparator=range_match[1])
        self._skip_space()
        if self._peek() == ":":
            self.pos += 1
            self._skip_space()
            return Node("field", field=first.text, values=self._value_list())
        self.pos = after_literal
        return Node("text", value=first)

    # -- value level ------------------------------------------------------------------
    def _value_list(self) -> ValueNode:
        if self._peek() == "(":
            self.pos += 1
            node = self._value_or()
            self._skip_space()
            self._expect(")", ["AND", "OR", '")"', "whitespace"])
            return node
        value = self._literal(stop_at_colon=False)
        if value is None:
            self._fail(['"("', '"{"', "value", "whitespace"])
        return ValueNode("value", value=value)

    def _value_or(self) -> ValueNode:
        children = [self._value_and()]
        while self._keyword(_OR_RE):
            children.append(self._value_and())
        return children[0] if len(children) == 1 else ValueNode("or", tuple(children))

    def _value_and(self) -> ValueNode:
        children = [self._value_not()]
        while self._keyword(_AND_RE):
            children.append(self._value_not())
        return children[0] if len(children) == 1 else ValueNode("and", tuple(children))

    def _value_not(self) -> ValueNode:
        self._skip_space()
        if self._keyword(_NOT_RE):
            return ValueNode("not", (self._value_not(),))
        if self._peek() == "(":
            self.pos += 1
            node = self._value_or()
            self._skip_space()
            self._expect(")", ["AND", "OR", '")"', "whitespace"])
            return node
        value = self._literal(stop_at_colon=False)
        if value is None:
            self._fail(['"("', "NOT", "value", "whitespace"])
        return ValueNode("value", value=value)

    # -- lexical ----------------------------------------------------------------------
    def _literal(self, *, stop_at_colon: bool) -> Value | None:
        self._skip_space()
        if self._peek() == '"':
            return self._quoted()
        parts: list[str | None] = []
        buffer: list[str] = []
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char == "\\":
                if self.pos + 1 >= len(text):
                    self._fail(["escape sequence"])
                buffer.append(text[self.pos + 1])
                self.pos += 2
                continue
            if char in _SPECIAL or (stop_at_colon and _RANGE_RE.match(text, self.pos)):
                break
            if char.isspace():
                if _OR_RE.match(text, self.pos) or _AND_RE.match(text, self.pos):
                    break
                rest = text[self.pos :].lstrip()
                if not rest or rest[0] in _SPECIAL:
                    break
            if char == "*":
                if buffer:
                    parts.append("".join(buffer))
                    buffer = []
                parts.append(None)
            else:
                buffer.append(char)
            self.pos += 1
        if buffer:
            parts.append("".join(buffer))
        if not parts:
            return None
        return Value(tuple(parts), quoted=False)

    def _quoted(self) -> Value:
        self.pos += 1
        buffer: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\" and self.pos + 1 < len(self.text):
                buffer.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            if char == '"':
                self.pos += 1
                return Value(("".join(buffer),), quoted=True)
            buffer.append(char)
            self.pos += 1
        self._fail(['"\\""', "character"])

    def _keyword(self, pattern: re.Pattern[str]) -> bool:
        match = pattern.match(self.text, self.pos)
        if match is None:
            return False
        self.pos = match.end()
        return True

    def _skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _expect(self, char: str, expected: list[str]) -> None:
        if self._peek() != char:
            self._fail(expected)
        self.pos += 1

    def _fail(self, expected: list[str]) -> NoReturn:
        found = f'"{self.text[self.pos]}"' if self.pos < len(self.text) else "end of input"
        # Kibana's KQLSyntaxError message: the expectation, the query, a caret under the spot.
        message = "\n".join(
            [
                f"Expected {', '.join(expected)} but {found} found.",
                self.text,
                "-" * self.pos + "^",
            ]
        )
        raise KuerySyntaxError(message)
