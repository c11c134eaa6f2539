"""The KQL subset used by the list endpoint, evaluated on stored key documents."""

from __future__ import annotations

from typing import Any

import pytest

from fleet_provider.emulator import kuery

DOC: dict[str, Any] = {
    "id": "k1",
    "name": "web (k1)",
    "policy_id": "p1",
    "active": True,
    "hidden": False,
    "api_key_id": "abc",
    "created_at": "2024-05-01T10:00:00.000Z",
}


def matches(text: str, doc: dict[str, Any] = DOC) -> bool:
    return kuery.compile_predicate(kuery.parse(text))(doc)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "policy_id:p1",
        'policy_id:"p1"',
        "name:web*",
        r"name:*k1\)",
        "active:true",
        "active:TRUE",
        "not active:false",
        "policy_id:p2 or name:web*",
        "(policy_id:p2 or policy_id:p1) and active:true",
        "policy_id:(p2 or p1)",
        "name:*",
        "created_at >= 2024-05-01",
        'created_at < "2024-05-02T00:00:00.000Z"',
        "p1",
        r"name:web\ \(k1\)",
        "policy_id : p1",
    ],
)
def test_kuery_matches(text: str) -> None:
    assert matches(text)


@pytest.mark.parametrize(
    "text",
    [
        "policy_id:p2",
        'name:"web*"',
        "active:false",
        "policy_id:p1 and active:false",
        "not policy_id:p1",
        "expire_at:*",
        "fleet-enrollment-api-keys.policy_id:p1",
        'created_at > "2024-05-01T10:00:00.000Z"',
        "policy_id:(p2 or p3)",
    ],
)
def test_kuery_does_not_match(text: str) -> None:
    assert not matches(text)


def test_kuery_and_binds_tighter_than_or() -> None:
    assert matches("policy_id:p1 or policy_id:p2 and active:false")


@pytest.mark.parametrize("text", ["policy_id:", "(policy_id:p1", "policy_id:p1)", 'name:"open'])
def test_kuery_syntax_errors(text: str) -> None:
    with pytest.raises(kuery.KuerySyntaxError):
        kuery.parse(text)


def test_kuery_field_error_for_unprefixed_unknown_field() -> None:
    node = kuery.parse("policy_id:p1 and nope:x")
    assert kuery.field_error(node, frozenset({"policy_id"})) == (
        "KQLSyntaxError: This type 'nope' is not allowed"
    )


def test_kuery_field_error_accepts_the_prefixed_known_field() -> None:
    node = kuery.parse("fleet-enrollment-api-keys.policy_id:p1")
    assert kuery.field_error(node, frozenset({"policy_id"})) is None


def test_kuery_field_error_for_another_prefix() -> None:
    # Fleet's own hasFilterKeyError looks a dotted key up whole, whatever its first part.
    node = kuery.parse("fleet-agents.policy_id:p1")
    assert kuery.field_error(node, frozenset({"policy_id"})) == (
        "KQLSyntaxError: This key 'fleet-agents.policy_id' does NOT exist in "
        "fleet-enrollment-api-keys saved object index patterns"
    )
