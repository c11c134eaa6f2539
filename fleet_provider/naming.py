"""Auto-names: derived from the resource's identity and a generation, never random.

A key without a ``name`` is named ``<resource name>-<8 hex>``, the hex from the resource's
identity in its stack (project, stack, type, parent, resource name) and a generation number.
So ``preview`` and ``up`` derive the same name, and a rerun after a failed create derives the
name of the key that run may have left, which the create then adopts. A replacement must not
derive the name of the key it replaces (it would adopt the key its delete then revokes): the
engine checks a replacement again with no olds (pulumi/pulumi step_generator.go, "recompute the
default values"), but within one command the first check, the diff and that second check run
in the same host process, so the names the first two saw are remembered here and the second
check moves past them.

Also here: which names Kibana can create a key under at all (Elasticsearch's API key name rules
and the query Kibana checks a name's duplicates with), which every name, derived or given,
must pass.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import threading
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

SUFFIX_HEX = 8
MAX_GENERATIONS = 100
"""How many generations a name may move through (past names held by revoked keys)."""


def identity_of(*parts: str) -> str:
    """A short, stable digest of what identifies a resource in its stack."""
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:16]


def derived_name(base: str, identity: str, generation: int) -> str:
    """The auto-name of generation ``generation``: ``<base>-<8 hex>``, ``base`` made safe."""
    digest = hashlib.sha256(f"{identity}:{generation}".encode("ascii")).hexdigest()
    return f"{name_base(base)}-{digest[:SUFFIX_HEX]}"


def generation_of(name: str, base: str, identity: str) -> int | None:
    """The generation ``name`` was derived with; None for a name not derived (older releases)."""
    for generation in range(MAX_GENERATIONS):
        if derived_name(base, identity, generation) == name:
            return generation
    return None


def successors(base: str, identity: str, name: str) -> Iterator[str]:
    """The names after ``name``, generation by generation."""
    current = generation_of(name, base, identity)
    start = 0 if current is None else current + 1
    for generation in range(start, MAX_GENERATIONS):
        candidate = derived_name(base, identity, generation)
        if candidate != name:
            yield candidate


class _ReplacedNames:
    """The auto-names this process saw held by each resource (by identity)."""

    def __init__(self) -> None:
        self._names: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def remember(self, identity: str, name: str) -> None:
        with self._lock:
            self._names.setdefault(identity, set()).add(name)

    def names(self, identity: str) -> set[str]:
        with self._lock:
            return set(self._names.get(identity, ()))


_replaced = _ReplacedNames()


def remember_held_name(held: Mapping[str, Any], news: Mapping[str, Any]) -> None:
    """Note the auto-name an existing key holds (old inputs in check, old outputs in diff)."""
    identity, name = news.get("identity"), held.get("name")
    if held.get("auto_named") and isinstance(identity, str) and isinstance(name, str):
        _replaced.remember(identity, name)


def auto_name(olds: Mapping[str, Any], news: Mapping[str, Any]) -> str:
    """The auto-name for checked inputs: the old one when there are olds, else derived.

    The old name is kept also when the resource was renamed with an alias: the engine finds
    the old state under the alias and hands its inputs to check (getOldResource).
    """
    previous = olds.get("name")
    if olds.get("auto_named") and isinstance(previous, str):
        remember_held_name(olds, news)
        return previous
    resource_name = news.get("resource_name")
    base = resource_name if isinstance(resource_name, str) and resource_name else "key"
    identity = news.get("identity")
    if not isinstance(identity, str) or not identity:
        identity = identity_of(base)
    held = _replaced.names(identity)
    generations = [generation_of(name, base, identity) for name in held]
    start = max((g for g in generations if g is not None), default=-1) + 1
    for generation in range(start, start + MAX_GENERATIONS):
        name = derived_name(base, identity, generation)
        if name not in held:
            return name
    return derived_name(base, identity, start + MAX_GENERATIONS)


def is_own_auto_name(olds: Mapping[str, Any], name: Any) -> bool:
    """True when ``name`` is the auto-name the old inputs hold, not one the user chose.

    ``ignore_changes=["name"]`` makes the engine copy the old ``name`` into the new inputs
    before check (step_generator.go processIgnoreChanges); it stays an auto-name.
    """
    return bool(olds.get("auto_named")) and olds.get("name") == name


# -- Pulumi's own autonaming ----------------------------------------------------------------

# The pattern functions that add randomness (pulumi/pulumi pkg/resource/autonaming/pattern.go).
_RANDOM_IN_PATTERN = re.compile(r"\$\{(?:(?:hex|alphanum|string|num)\(\d+\)|uuid)\}")


def delete_first_autonaming(autonaming: str | None, resource_type: str) -> str | None:
    """The ``pulumi:autonaming`` setting that makes the engine replace this resource delete-first.

    The stack config ``pulumi:autonaming`` (Pulumi 3.146+) reaches a dynamic provider's
    ``configure`` as JSON. ``verbatim``, ``disabled`` or a pattern without a random part make
    the engine delete each resource before creating its replacement, dynamic resources
    included, whatever the provider's diff says (step_generator.go, autonaming/strategy.go).
    The most specific entry decides: this resource type, then the ``pulumi-python`` package.
    """
    if not autonaming:
        return None
    try:
        setting = json.loads(autonaming)
    except ValueError:
        return None
    if not isinstance(setting, dict):
        return None
    package = (setting.get("providers") or {}).get("pulumi-python") or {}
    chosen = next(
        entry
        for entry in ((package.get("resources") or {}).get(resource_type) or {}, package, setting)
        if entry.get("mode") or entry.get("pattern") or entry is setting
    )
    if "pattern" in chosen:
        pattern = str(chosen["pattern"])
        return None if _RANDOM_IN_PATTERN.search(pattern) else f"pattern {pattern!r}"
    mode = chosen.get("mode")
    return f"mode {mode!r}" if mode in ("verbatim", "disabled") else None


def warn_forced_delete_first(resource_name: Any, setting: str) -> None:
    """Tell the user, at preview, that the stack's autonaming setting costs overlap."""
    print(
        f"warning: EnrollmentApiKey {resource_name!r}: the stack config pulumi:autonaming "
        f"({setting}) makes Pulumi revoke each key before creating its replacement, so every "
        "rotation or replacement leaves a gap with no valid token; give the pulumi-python "
        "package mode default (pulumi:autonaming providers: pulumi-python: mode: default)",
        file=sys.stderr,
    )


# -- what Kibana can take as a name -----------------------------------------------------------

KIBANA_NAME_SUFFIX = len(" (") + 36 + len(")")
"""What Kibana adds to a name it stores: ``<name> (<key id>)``, the id a v4 uuid."""
MAX_NAME_LENGTH = 256 - KIBANA_NAME_SUFFIX
"""217: Elasticsearch refuses an API key name longer than 256 UTF-16 units
(``AbstractCreateApiKeyRequest.validate``), and Kibana names the key's API key as it stores it."""

REFUSED_NAME_CHARACTERS = ":/[]{}^~"
"""Lucene query syntax that fails Kibana's duplicate-name query wherever it stands, or nearly:
``:`` names a field (a trailing one, ``a::b``, or a date or boolean field such as
``created_at:x`` or ``active:x`` fails), ``/`` opens a regular expression, ``[ ] { }`` a range,
``^`` a boost that needs a number and ``~`` a fuzzy query (at a word's start, with a fraction or
more than 2 edits it fails). ``< > =`` only matter after a field, ``* ?`` are wildcards, ``&``,
``|`` alone are plain characters: all of those are taken."""

# Kibana (7.13+, server/services/api_keys/enrollment_api_key.ts, getQueryForExistingKeyNameOnPolicy)
# checks a new name for duplicates with the Elasticsearch query_string `(<name>) *` on `name`;
# 9.x escapes only the first `!`, 8.x nothing. Elasticsearch parses it with Lucene's classic
# QueryParser (QueryParser.jj): the tokens and grammar below are that parser's, for the names
# left once the characters above are refused.
_LUCENE_SPACE = " \t\n\r\u3000"
_NOT_TERM_START = frozenset(_LUCENE_SPACE + '+-!():^[]"{}~*?\\/')
_CONJUNCTIONS = frozenset({"AND", "&&", "OR", "||"})
_SEARCH = "Kibana's duplicate-name search (the Elasticsearch query_string (<name>) *)"


@dataclass(frozen=True)
class NameProblem:
    """Why Kibana cannot create a key of some name: what is wrong, and how to fix it."""

    what: str
    fix: str


class _Broken(Exception):
    def __init__(self, what: str, fix: str) -> None:
        super().__init__(what)
        self.problem = NameProblem(what, fix)


def name_problem(name: str) -> NameProblem | None:
    """Why Kibana (or Elasticsearch behind it) would refuse a key named ``name``; None if not."""
    for char in name:
        if unicodedata.category(char) in ("Cc", "Zl", "Zp"):
            return NameProblem(f"contains the control character {char!r}", "remove it")
    if name != name.strip():
        return NameProblem("has leading or trailing spaces", "remove them")
    if name.startswith("_"):
        # AbstractCreateApiKeyRequest.validate: "api key name may not begin with an underscore".
        return NameProblem(
            "begins with '_', which Elasticsearch refuses at the start of an API key name",
            "remove it, or put another character first",
        )
    length = len(name.encode("utf-16-le")) // 2
    if length > MAX_NAME_LENGTH:
        return NameProblem(
            f"is {length} characters long, and Elasticsearch takes API key names of up to 256, "
            f"of which Kibana's ' (<key id>)' takes {KIBANA_NAME_SUFFIX}",
            f"use at most {MAX_NAME_LENGTH}",
        )
    refused = [char for char in REFUSED_NAME_CHARACTERS if char in name]
    if refused:
        listed = " and ".join(repr(char) for char in sorted(refused, key=name.index))
        return NameProblem(
            f"contains {listed}, which {_SEARCH} cannot take",
            f"leave out all of {' '.join(REFUSED_NAME_CHARACTERS)}",
        )
    escaped_first_bang = name.replace("!", "\\!", 1)
    for variant in dict.fromkeys((name, escaped_first_bang)):
        try:
            _parse_query(f"({variant}) *")
        except _Broken as broken:
            return broken.problem
    return None


def _trailing_backslashes(text: str) -> int:
    return len(text) - len(text.rstrip("\\"))


def _parse_query(query: str) -> None:
    """Raise _Broken when Lucene's classic QueryParser cannot parse ``query``."""
    if _trailing_backslashes(query[1:-3]) % 2:
        raise _Broken(
            f"ends with a backslash, which escapes the ')' {_SEARCH} puts after it",
            "remove it",
        )
    tokens = _tokens(query)
    depth = 0
    for kind, _ in tokens:
        depth += {"(": 1, ")": -1}.get(kind, 0)
        if depth < 0:
            raise _Broken(f"has a ')' that closes nothing, which breaks {_SEARCH}", _BALANCE)
    if depth:
        raise _Broken(f"has a '(' that is never closed, which breaks {_SEARCH}", _BALANCE)
    end = _query(tokens, 0)
    if end != len(tokens):  # pragma: no cover - balanced parentheses leave nothing over
        raise _Broken(f"breaks {_SEARCH}", "rephrase it")


_BALANCE = "close it, or leave it out"


def _tokens(query: str) -> list[tuple[str, str]]:
    """Lucene's DEFAULT-state tokens: ``(``, ``)``, ``conj``, ``mod`` and ``term``."""
    tokens: list[tuple[str, str]] = []
    i, end = 0, len(query)
    while i < end:
        char = query[i]
        if char in _LUCENE_SPACE:
            i += 1
        elif char in "()":
            tokens.append((char, char))
            i += 1
        elif char == '"':
            j = i + 1
            while j < end and query[j] != '"':
                j += 2 if query[j] == "\\" else 1
            if j >= end:
                raise _Broken(f"has a '\"' that is never closed, which breaks {_SEARCH}", _BALANCE)
            tokens.append(("term", query[i : j + 1]))
            i = j + 1
        elif char in "+-!":
            if i + 1 < end and query[i + 1] in _LUCENE_SPACE:
                tokens.append(("term", char))  # BAREOPER: an operator and a space is a term
                i += 2
            else:
                tokens.append(("mod", char))
                i += 1
        else:
            j = i
            while j < end:
                if query[j] == "\\":
                    j += 2
                elif (
                    query[j] not in _NOT_TERM_START
                    or query[j] in "*?"
                    or (j > i and query[j] in "+-")
                ):
                    j += 1  # a term character, a wildcard, or + - inside a term
                else:
                    break
            if j == i:  # pragma: no cover - only refused characters start no token
                raise _Broken(f"breaks {_SEARCH}", "rephrase it")
            image = query[i:j]
            if image in _CONJUNCTIONS:
                tokens.append(("conj", image))
            elif image == "NOT":
                tokens.append(("mod", image))
            else:
                tokens.append(("term", image))
            i = j
    return tokens


def _query(tokens: list[tuple[str, str]], pos: int) -> int:
    """Query := Modifiers Clause (Conjunction? Modifiers Clause)*; the position after it."""
    pos = _clause(tokens, pos, None)
    while pos < len(tokens) and tokens[pos][0] != ")":
        if tokens[pos][0] == "conj":
            pos = _clause(tokens, pos + 1, tokens[pos][1])
        else:
            pos = _clause(tokens, pos, None)
    return pos


def _clause(tokens: list[tuple[str, str]], pos: int, after: str | None) -> int:
    """[Modifier] (Term | '(' Query ')'); ``after`` is the conjunction before it, if any."""
    kind, image = tokens[pos] if pos < len(tokens) else ("end", "")
    modifier = None
    if kind == "mod":
        modifier = image
        pos += 1
        kind, image = tokens[pos] if pos < len(tokens) else ("end", "")
    if kind == "term":
        return pos + 1
    if kind == "(" and pos + 1 < len(tokens) and tokens[pos + 1][0] == ")":
        raise _Broken(
            f"has an empty '()', which breaks {_SEARCH}", "put a word in it, or leave it out"
        )
    if kind == "(":
        return _query(tokens, pos + 1) + 1
    if modifier is not None:
        raise _Broken(
            f"has {modifier!r} with no word right after it, which breaks {_SEARCH}",
            "put a word right after it, or leave it out",
        )
    operator = after or image
    raise _Broken(
        f"has {operator!r} without a word on each side, which breaks {_SEARCH}",
        "put a word on each side, or leave it out",
    )


_BASE_UNSAFE = frozenset(REFUSED_NAME_CHARACTERS + '()"\\!')


def name_base(resource_name: str) -> str:
    """The start of an auto-name: the resource name, with what Kibana cannot take replaced.

    Query syntax and control characters become ``-``, leading ``_`` and spaces go, and it is
    cut so that ``<base>-<8 hex>`` fits :data:`MAX_NAME_LENGTH`; a resource named
    ``prod/linux`` gets keys named ``prod-linux-<8 hex>``.
    """
    cleaned = "".join(
        "-" if char in _BASE_UNSAFE or unicodedata.category(char) in ("Cc", "Zl", "Zp") else char
        for char in resource_name
    )
    cleaned = cleaned.strip().lstrip("_").strip()
    room = MAX_NAME_LENGTH - SUFFIX_HEX - 1
    while len(cleaned.encode("utf-16-le")) // 2 > room:
        cleaned = cleaned[:-1].rstrip()
    return cleaned or "key"
