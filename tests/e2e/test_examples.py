"""Every example under examples/ runs, as a Pulumi project, through the dynamic-provider host."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import POLICY, Stack

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def stack_file_config(example: str, stack: str) -> dict[str, str]:
    """A stack file's config as the engine hands it over: strings, objects as JSON text."""
    document = yaml.safe_load((EXAMPLES / example / f"Pulumi.{stack}.yaml").read_text())
    return {
        key: value if isinstance(value, str) else json.dumps(value)
        for key, value in (document.get("config") or {}).items()
    }


def test_quickstart(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()
    result = stack.engine.up(EXAMPLES / "quickstart", stack.config())
    key = stack.kibana.get_key(result.exports["key_id"])
    assert key is not None and key["active"] is True
    assert result.exports["enrollment_token"] == key["api_key"]
    assert "enrollment_token" in result.secret_exports
    assert result.exports["expire_at"]
    stack.engine.destroy()
    assert stack.kibana.get_key(result.exports["key_id"])["active"] is False


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_gitops_stack_files(environment: str, make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()
    stack.engine.stack = environment
    config = stack_file_config("gitops", environment)
    declared = json.loads(config["fleet-gitops:policies"])
    for policy in declared:
        if policy["policy_id"] != POLICY:
            stack.kibana.create_policy(policy["policy_id"])

    result = stack.engine.up(EXAMPLES / "gitops", {**stack.config(), **config})

    expected = sum(len(policy["keys"]) for policy in declared)
    assert result.changes == {"create": expected}
    assert "tokens" in result.secret_exports
    assert "key_ids" not in result.secret_exports
    tokens: dict[str, str] = result.exports["tokens"]
    for logical, key_id in result.exports["key_ids"].items():
        key = stack.kibana.get_key(key_id)
        assert key is not None and key["active"] is True
        assert tokens[logical] == key["api_key"]
    named = [k["name"] for p in declared for k in p["keys"] if k.get("name")]
    for name in named:
        assert name in result.exports["key_ids"]

    again = stack.engine.up(EXAMPLES / "gitops", {**stack.config(), **config})
    assert again.changes == {"same": expected}

    # The project sets `refresh: always`: a key revoked in the UI is replaced by the next up.
    logical, revoked = next(iter(result.exports["key_ids"].items()))
    stack.kibana.revoke(revoked)
    healed = stack.engine.up(EXAMPLES / "gitops", {**stack.config(), **config})
    assert healed.changes == {"same": expected - 1, "replace": 1}
    assert stack.kibana.get_key(healed.exports["key_ids"][logical])["active"] is True
    stack.engine.destroy()
    assert all(not stack.kibana.get_key(i)["active"] for i in healed.exports["key_ids"].values())


def test_rotation_replaces_the_key_once_due_with_no_gap(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()
    config = {**stack.config(), "fleet-rotation:rotateAfter": "2s"}
    first = stack.engine.up(EXAMPLES / "rotation", config)
    old_id = first.exports["key_id"]
    assert first.exports["rotates_at"] > stack.kibana.get_key(old_id)["created_at"]
    assert stack.engine.up(EXAMPLES / "rotation", config).changes == {"same": 1}

    time.sleep(2.1)
    rotated = stack.engine.up(EXAMPLES / "rotation", config)
    assert rotated.ops("rotating") == ["create-replacement", "replace", "delete-replaced"]
    assert rotated.step("rotating", "replace").detail["replaces"] == ["rotates_at"]
    new_id = rotated.exports["key_id"]
    assert new_id != old_id
    assert stack.kibana.get_key(new_id)["active"] is True
    assert stack.kibana.get_key(old_id)["active"] is False
    assert rotated.exports["enrollment_token"] == stack.kibana.get_key(new_id)["api_key"]


def test_adopt_default_key_takes_over_without_creating(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()
    default = next(k for k in stack.kibana.keys(POLICY) if k["name"].startswith("Default ("))
    posts_before = _posts(stack)

    result = stack.engine.up(EXAMPLES / "adopt-default-key", stack.config())
    assert result.exports["key_id"] == default["id"]
    assert result.exports["enrollment_token"] == default["api_key"]
    assert _posts(stack) == posts_before
    assert stack.engine.refresh().outputs["default"]["active"] is True
    assert stack.engine.up(EXAMPLES / "adopt-default-key", stack.config()).changes == {"same": 1}

    stack.engine.destroy()  # retain_on_delete: the key stays, agents keep enrolling
    assert stack.kibana.get_key(default["id"])["active"] is True


def _posts(stack: Stack) -> Any:
    return stack.kibana.request_count()["by_route"].get("POST /api/fleet/enrollment_api_keys", 0)
