"""Whether Elasticsearch's ``query_string`` can parse a query: Lucene's classic syntax.

Kibana's duplicate-name check (``generateEnrollmentAPIKey`` in
``services/api_keys/enrollment_api_key.ts``, 8.x and 9.x) searches the policy's keys with
``query_string: {fields: ['name'], query: `(${name}) *`}`` before it compares names exactly.
A name that breaks Lucene's grammar makes that search fail, so the create fails too. The
grammar here follows Lucene's ``QueryParser.jj`` (classic query parser, which
``QueryStringQueryParser`` extends): its tokens and the rule
``Query := Modifiers Clause (Conjunction? Modifiers Clause)*``.
"""

from __future__ import annotations

import re

# _TERM_START_CHAR excludes these (besides whitespace); "-" and "+" may follow inside a term.
_NOT_TERM_START = set(' \t\n\r\u3000+-!():^[]"{}~*?\\/')
_NOT_TERM_CHAR = _NOT_TERM_START - {"-", "+", "*", "?"}
_RANGE_END = r'("(?:[^"\\]|\\.)*"|[^\s"\]}]+)'
_RANGE_RE = re.compile(rf"\s*{_RANGE_END}\s+TO\s+{_RANGE_END}\s*$")
_NUMBER_RE = re.compile(r"[0-9]+(\.[0-9]+)?")


class LuceneSyntaxError(ValueError):
    """The query does not parse."""


def parses(query: str) -> bool:
    """True when Lucene's classic query parser accepts ``query``."""
    try:
        _Parser(_tokens(query)).query(top=True)
    except LuceneSyntaxError:
        return False
    return True


def _tokens(text: str) -> list[str]:
    """Lucene's lexer: operators, parentheses, quoted phrases, regexps, ranges and terms."""
    tokens: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char in " \t\n\r\u3000":
            i += 1
        elif text.startswith(("&&", "||"), i):
            tokens.append(text[i : i + 2])
            i += 2
        elif char in "+-!():":
            tokens.append(char)
            i += 1
        elif char == "^":
            match = _NUMBER_RE.match(text, i + 1)
            if not match:
                raise LuceneSyntaxError("a boost needs a number")
            tokens.append("^")
            i = match.end()
        elif char == "~":
            # FUZZY_SLOP: "~" followed by an optional number.
            match = _NUMBER_RE.match(text, i + 1)
            tokens.append("~")
            i = match.end() if match else i + 1
        elif char == '"':
            i = _skip_quoted(text, i)
            tokens.append("TERM")
        elif char == "/":
            # REGEXPTERM: "/" (~["/"] | "\\/")* "/"
            end = i + 1
            while end < len(text) and text[end] != "/":
                end += 2 if text[end] == "\\" else 1
            if end >= len(text):
                raise LuceneSyntaxError("an unterminated regular expression")
            tokens.append("TERM")
            i = end + 1
        elif char in "[{":
            end = min((text.find(c, i) for c in "]}" if text.find(c, i) >= 0), default=-1)
            if end < 0 or not _RANGE_RE.match(text[i + 1 : end]):
                raise LuceneSyntaxError("a malformed range")
            tokens.append("TERM")
            i = end + 1
        elif char in "]}":
            raise LuceneSyntaxError(f"an unexpected {char!r}")
        else:
            end = _skip_term(text, i)
            word = text[i:end]
            tokens.append(word if word in ("AND", "OR", "NOT") else "TERM")
            i = end
    return tokens


def _skip_quoted(text: str, start: int) -> int:
    i = start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
        elif text[i] == '"':
            return i + 1
        else:
            i += 1
    raise LuceneSyntaxError("an unterminated phrase")


def _skip_term(text: str, start: int) -> int:
    """The end of the term at ``start``: TERM, PREFIXTERM or WILDTERM (escapes included)."""
    i = start
    while i < len(text):
        char = text[i]
        if char == "\\":
            if i + 1 >= len(text):
                # _ESCAPED_CHAR needs a character after the backslash.
                raise LuceneSyntaxError("a trailing backslash")
            i += 2
        elif i == start and char in _NOT_TERM_START and char not in "*?":
            raise LuceneSyntaxError(f"an unexpected {char!r}")
        elif i > start and char in _NOT_TERM_CHAR:
            break
        else:
            i += 1
    return i


_TERM = "TERM"  # the token kind of any term: a word, phrase, regexp or range


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.at = 0

    def peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> str | None:
        token = self.peek()
        self.at += 1
        return token

    def query(self, *, top: bool = False) -> None:
        self.clause()
        while True:
            token = self.peek()
            if token is None or (not top and token == ")"):  # noqa: S105
                return
            if token in ("AND", "OR", "&&", "||"):
                self.take()
            self.clause()

    def clause(self) -> None:
        if self.peek() in ("+", "-", "!", "NOT"):
            self.take()
        token = self.take()
        if token == _TERM and self.peek() == ":":
            self.take()
            token = self.take()
        if token == "(":  # noqa: S105
            self.query()
            if self.take() != ")":
                raise LuceneSyntaxError("an unclosed group")
        elif token != _TERM:
            raise LuceneSyntaxError(f"unexpected {token or 'end of input'}")
        while self.peek() in ("~", "^"):
            self.take()
