"""Every example under examples/ runs, as a Pulumi project, through the dynamic-provider host."""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import POLICY, Stack

pytestmark = pytest.mark.e2e

SOURCES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The examples as a user's checkout has them, each with its virtualenv the tests' own.

    The examples name ``../../.venv``, the checkout's virtualenv; the tests run in whichever
    virtualenv the test matrix made, so each copy names that one (an absolute path, which the
    launcher takes as it is), and the host runs the matrix's Python and pulumi.
    """
    root = tmp_path_factory.mktemp("examples")
    for source in SOURCES.iterdir():
        if not (source / "Pulumi.yaml").is_file():
            continue
        target = root / source.name
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        document = yaml.safe_load((target / "Pulumi.yaml").read_text())
        assert document["runtime"]["options"]["virtualenv"] == "../../.venv"
        document["runtime"]["options"]["virtualenv"] = sys.prefix
        (target / "Pulumi.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return root


def stack_file_config(example: str, stack: str) -> dict[str, str]:
    """A stack file's config as the engine hands it over: strings, objects as JSON text."""
    document = yaml.safe_load((SOURCES / example / f"Pulumi.{stack}.yaml").read_text())
    return {
        key: value if isinstance(value, str) else json.dumps(value)
        for key, value in (document.get("config") or {}).items()
    }


def test_quickstart(make_stack: Callable[..., Stack], examples: Path) -> None:
    stack = make_stack()
    result = stack.engine.up(examples / "quickstart", stack.config())
    key = stack.kibana.get_key(result.exports["key_id"])
    assert key is not None and key["active"] is True
    assert result.exports["enrollment_token"] == key["api_key"]
    assert "enrollment_token" in result.secret_exports
    assert result.exports["expire_at"]
    stack.engine.destroy()
    assert stack.kibana.get_key(result.exports["key_id"])["active"] is False


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_gitops_stack_files(
    environment: str, make_stack: Callable[..., Stack], examples: Path
) -> None:
    stack = make_stack()
    stack.engine.stack = environment
    config = stack_file_config("gitops", environment)
    declared = json.loads(config["fleet-gitops:policies"])
    for policy in declared:
        if policy["policy_id"] != POLICY:
            stack.kibana.create_policy(policy["policy_id"])

    result = stack.engine.up(examples / "gitops", {**stack.config(), **config})

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

    again = stack.engine.up(examples / "gitops", {**stack.config(), **config})
    assert again.changes == {"same": expected}

    # The project sets `refresh: always`: a key revoked in the UI is replaced by the next up.
    logical, revoked = next(iter(result.exports["key_ids"].items()))
    stack.kibana.revoke(revoked)
    healed = stack.engine.up(examples / "gitops", {**stack.config(), **config})
    assert healed.changes == {"same": expected - 1, "replace": 1}
    assert stack.kibana.get_key(healed.exports["key_ids"][logical])["active"] is True
    stack.engine.destroy()
    assert all(not stack.kibana.get_key(i)["active"] for i in healed.exports["key_ids"].values())


def test_rotation_replaces_the_key_once_due_with_no_gap(
    make_stack: Callable[..., Stack], examples: Path
) -> None:
    stack = make_stack()
    config = {**stack.config(), "fleet-rotation:rotateAfter": "2s"}
    first = stack.engine.up(examples / "rotation", config)
    old_id = first.exports["key_id"]
    assert first.exports["rotates_at"] > stack.kibana.get_key(old_id)["created_at"]
    assert stack.engine.up(examples / "rotation", config).changes == {"same": 1}

    time.sleep(2.1)
    rotated = stack.engine.up(examples / "rotation", config)
    assert rotated.ops("rotating") == ["create-replacement", "replace", "delete-replaced"]
    assert rotated.step("rotating", "replace").detail["replaces"] == ["rotates_at"]
    new_id = rotated.exports["key_id"]
    assert new_id != old_id
    assert stack.kibana.get_key(new_id)["active"] is True
    assert stack.kibana.get_key(old_id)["active"] is False
    assert rotated.exports["enrollment_token"] == stack.kibana.get_key(new_id)["api_key"]


def test_adopt_default_key_takes_over_without_creating(
    make_stack: Callable[..., Stack], examples: Path
) -> None:
    stack = make_stack()
    default = next(k for k in stack.kibana.keys(POLICY) if k["name"].startswith("Default ("))
    posts_before = _posts(stack)

    result = stack.engine.up(examples / "adopt-default-key", stack.config())
    assert result.exports["key_id"] == default["id"]
    assert result.exports["enrollment_token"] == default["api_key"]
    assert _posts(stack) == posts_before
    assert stack.engine.refresh().outputs["default"]["active"] is True
    assert stack.engine.up(examples / "adopt-default-key", stack.config()).changes == {"same": 1}

    stack.engine.destroy()  # retain_on_delete: the key stays, agents keep enrolling
    assert stack.kibana.get_key(default["id"])["active"] is True


def _posts(stack: Stack) -> Any:
    return stack.kibana.request_count()["by_route"].get("POST /api/fleet/enrollment_api_keys", 0)
