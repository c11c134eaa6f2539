"""Look-ups in a program: every page, every token a secret, the resource's settings."""

from __future__ import annotations

from collections.abc import Callable

import pulumi
import pytest
import requests

from fleet_provider import (
    EnrollmentApiKey,
    get_enrollment_api_key,
    get_enrollment_api_keys,
)
from tests.e2e.conftest import POLICY, Stack

pytestmark = pytest.mark.e2e

MANY = 1005  # more than one page of the provider's 1,000 and Kibana's default 20


def _create_many(stack: Stack, policy_id: str, count: int) -> None:
    http = requests.Session()
    http.auth = ("elastic", "changeme")
    for index in range(count):
        http.post(
            f"{stack.url}/api/fleet/enrollment_api_keys",
            json={"policy_id": policy_id, "name": f"bulk-{index}"},
            headers={"kbn-xsrf": "true"},
            timeout=10,
        ).raise_for_status()


def test_lists_every_key_past_the_first_page_with_secret_tokens(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack()
    policy = stack.kibana.create_policy("bulk-policy")
    _create_many(stack, policy, MANY)
    revoked = stack.kibana.create_key(policy, "old")
    stack.kibana.revoke(revoked["id"])

    def program() -> None:
        active = get_enrollment_api_keys(policy_id=policy)
        everything = get_enrollment_api_keys(policy_id=policy, include_inactive=True)
        pulumi.export("active_ids", sorted(k.id for k in active))
        pulumi.export("all_count", len(everything))
        pulumi.export("tokens", [k.api_key for k in active])

    result = stack.engine.up(program, stack.config())
    in_kibana = stack.kibana.keys(policy)
    expected_active = sorted(k["id"] for k in in_kibana if k["active"])
    assert len(expected_active) == MANY + 1  # the bulk keys and the policy's Default key
    assert result.exports["active_ids"] == expected_active
    assert result.exports["all_count"] == MANY + 2
    assert "tokens" in result.secret_exports
    assert "active_ids" not in result.secret_exports
    assert sorted(result.exports["tokens"]) == sorted(
        k["api_key"] for k in in_kibana if k["active"]
    )


def test_gets_one_key_in_a_space_with_the_configured_default(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack()
    stack.kibana.create_space("ops")
    policy = stack.kibana.create_policy("ops-policy", space_id="ops")
    made = stack.kibana.create_key(policy, "edge", space_id="ops")

    def program() -> None:
        key = get_enrollment_api_key(made["id"])
        pulumi.export("name", key.name)
        pulumi.export("policy", key.policy_id)
        pulumi.export("token", key.api_key)

    result = stack.engine.up(program, stack.config(spaceId="ops"))
    assert result.exports == {"name": "edge", "policy": policy, "token": made["api_key"]}
    assert result.secret_exports == {"token"}


def test_look_ups_and_resources_share_one_program(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()

    def program() -> None:
        default = next(k for k in get_enrollment_api_keys(POLICY) if k.name == "Default")
        EnrollmentApiKey("extra", policy_id=default.policy_id)
        pulumi.export("default_id", default.id)

    result = stack.engine.up(program, stack.config())
    assert stack.kibana.get_key(result.exports["default_id"])["name"].startswith("Default (")
    assert result.changes == {"create": 1}
