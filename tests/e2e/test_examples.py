"""Every example under examples/ runs, as a Pulumi project, through the dynamic-provider host."""

from __future__ import annotations

import base64
import json
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from tests.e2e.conftest import POLICY, Stack
from tests.harness.engine import Engine, EngineError, OperationResult, secret

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


def logical_names(declared: list[dict[str, Any]]) -> set[str]:
    """The gitops example's resource names: ``<policy_id>/<id or name>`` of every key."""
    return {f"{p['policy_id']}/{k.get('id') or k['name']}" for p in declared for k in p["keys"]}


def create_policies(stack: Stack, declared: list[dict[str, Any]]) -> None:
    """Create the agent policies a gitops stack file names (the emulator has only POLICY)."""
    for policy_id in sorted({policy["policy_id"] for policy in declared} - {POLICY}):
        stack.kibana.create_policy(policy_id)


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_gitops_stack_files(
    environment: str, make_stack: Callable[..., Stack], examples: Path
) -> None:
    stack = make_stack()
    stack.engine.stack = environment
    config = stack_file_config("gitops", environment)
    declared = json.loads(config["fleet-gitops:policies"])
    create_policies(stack, declared)

    result = stack.engine.up(examples / "gitops", {**stack.config(), **config})

    expected = sum(len(policy["keys"]) for policy in declared)
    assert result.changes == {"create": expected}
    assert "tokens" in result.secret_exports
    assert "key_ids" not in result.secret_exports
    tokens: dict[str, str] = result.exports["tokens"]
    assert set(tokens) == set(result.exports["key_ids"]) == logical_names(declared)
    for logical, key_id in result.exports["key_ids"].items():
        key = stack.kibana.get_key(key_id)
        assert key is not None and key["active"] is True
        assert tokens[logical] == key["api_key"]
        outputs = result.outputs[logical]
        if outputs["auto_named"]:  # named after what identifies it: prod-linux-hosts-<8 hex>
            assert outputs["name"].startswith(logical.replace("/", "-") + "-")

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


def test_gitops_reordering_the_stack_file_changes_nothing(
    make_stack: Callable[..., Stack], examples: Path
) -> None:
    stack = make_stack()
    stack.engine.stack = "prod"  # its auto-named keys used to be named by their list position
    config = stack_file_config("gitops", "prod")
    declared = json.loads(config["fleet-gitops:policies"])
    create_policies(stack, declared)
    first = stack.engine.up(examples / "gitops", {**stack.config(), **config})
    posts = _posts(stack)

    reordered = [{**policy, "keys": policy["keys"][::-1]} for policy in declared[::-1]]
    assert reordered != declared
    moved = {**config, "fleet-gitops:policies": json.dumps(reordered)}
    again = stack.engine.up(examples / "gitops", {**stack.config(), **moved})

    expected = sum(len(policy["keys"]) for policy in declared)
    assert stack.engine.last_preview is not None
    assert stack.engine.last_preview.changes == {"same": expected}
    assert again.changes == {"same": expected}
    assert again.exports == first.exports
    assert _posts(stack) == posts


GITOPS_ONE_KEY = {
    "fleet-gitops:policies": json.dumps([{"policy_id": POLICY, "keys": [{"id": "hosts"}]}])
}


def test_gitops_a_missing_policy_fails_preview_in_one_line_before_any_key(
    make_stack: Callable[..., Stack], examples: Path
) -> None:
    stack = make_stack()
    stack.engine.stack = "dev"
    config = stack_file_config("gitops", "dev")  # names dev-linux, which is not created
    before = stack.kibana.keys(POLICY)

    with pytest.raises(EngineError) as failed:
        stack.engine.preview(examples / "gitops", {**stack.config(), **config})

    assert failed.value.message == (
        "program failed: RunError: Pulumi.dev.yaml: agent policy 'dev-linux' does not exist in "
        "Kibana space 'default' (it has no active enrollment key): create it in Fleet first, "
        "or correct its policy_id or the key's space_id"
    )
    assert failed.value.steps == []  # nothing was registered, not even the existing policy's key
    assert stack.host.calls_of("Check") == []
    with pytest.raises(EngineError):
        stack.engine.up(examples / "gitops", {**stack.config(), **config})
    assert stack.kibana.keys(POLICY) == before
    assert _posts(stack) == 0


def test_gitops_fails_preview_in_one_line_when_kibana_cannot_be_asked(
    make_stack: Callable[..., Stack], examples: Path
) -> None:
    stack = make_stack()
    stack.engine.stack = "dev"
    config = {**stack.config(password=secret("not-the-password")), **GITOPS_ONE_KEY}

    with pytest.raises(EngineError) as failed:
        stack.engine.preview(examples / "gitops", config)

    message = failed.value.message
    assert message.startswith(
        "program failed: RunError: Pulumi.dev.yaml: could not check that agent policy "
        f"'{POLICY}' exists: Kibana answered 401: "
    )
    assert "\n" not in message and "not-the-password" not in failed.value.details
    assert failed.value.steps == []


def test_handoff_hands_the_token_on_in_secret_documents(
    make_stack: Callable[..., Stack], examples: Path
) -> None:
    stack = make_stack()
    config = {**stack.config(), "fleet-handoff:fleetUrl": "https://fleet.internal:8220"}
    result = stack.engine.up(examples / "handoff", config)

    token = stack.kibana.get_key(result.exports["key_id"])["api_key"]
    assert {"user_data", "kubernetes_secret"} <= result.secret_exports
    assert "key_id" not in result.secret_exports
    user_data = result.exports["user_data"]
    assert user_data.startswith("#cloud-config\n")
    install = yaml.safe_load(user_data)["runcmd"][-1]
    assert "elastic-agent install --non-interactive --url=https://fleet.internal:8220" in install
    assert install.endswith(f" --enrollment-token={token}")
    manifest = yaml.safe_load(result.exports["kubernetes_secret"])
    assert manifest["kind"] == "Secret" and manifest["metadata"]["namespace"] == "elastic-agent"
    encoded = manifest["data"]["token"]
    assert base64.b64decode(encoded).decode() == token
    state = stack.engine.state_json()
    assert token not in state and encoded not in state  # stored encrypted, as every secret

    assert stack.engine.up(examples / "handoff", config).changes == {"same": 1}
    stack.engine.destroy()
    assert stack.kibana.get_key(result.exports["key_id"])["active"] is False


def stack_references(upstreams: dict[str, OperationResult]) -> type:
    """A stand-in for ``pulumi.StackReference`` serving the exports of stacks run here.

    The harness engine has no backend to read another stack from (its monitor serves only
    dynamic resources), so the downstream example's one StackReference is answered with the
    exports of the upstream's ``up`` in this test, its secret exports as secrets.
    """

    class StackReference:
        def __init__(self, name: str, stack_name: str | None = None, opts: Any = None) -> None:
            self.result = upstreams[stack_name or name]

        def get_output(self, name: str) -> pulumi.Output[Any]:
            value = self.result.exports.get(name)
            if name in self.result.secret_exports:
                return pulumi.Output.secret(value)
            return pulumi.Output.from_input(value)

        def require_output(self, name: str) -> pulumi.Output[Any]:
            if name not in self.result.exports:
                raise KeyError(f"Required output '{name}' does not exist")
            return self.get_output(name)

    return StackReference


def test_downstream_consumes_the_gitops_token(
    make_stack: Callable[..., Stack], examples: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = make_stack()
    stack.engine.stack = "dev"
    upstream_config = stack_file_config("gitops", "dev")
    create_policies(stack, json.loads(upstream_config["fleet-gitops:policies"]))
    upstream = stack.engine.up(examples / "gitops", {**stack.config(), **upstream_config})

    config = stack_file_config("downstream", "dev")
    name = f"{stack.engine.organization}/{stack.engine.project}/{stack.engine.stack}"
    assert config["fleet-downstream:upstreamStack"] == name
    monkeypatch.setattr(pulumi, "StackReference", stack_references({name: upstream}))
    consumer = Engine(stack.host, stack="dev")
    result = consumer.up(examples / "downstream", config)  # no fleet:* config: no Kibana access

    assert result.steps == []
    assert "agent_env" in result.secret_exports
    key_id = upstream.exports["key_ids"][config["fleet-downstream:upstreamKey"]]
    token = stack.kibana.get_key(key_id)["api_key"]
    assert result.exports["agent_env"] == (
        f"FLEET_ENROLL=1\nFLEET_URL=https://fleet-server.example.com:8220\n"
        f"FLEET_ENROLLMENT_TOKEN={token}\n"
    )
    assert token not in consumer.state_json()

    wrong = {**config, "fleet-downstream:upstreamKey": "dev-linux/nope"}
    with pytest.raises(EngineError) as failed:
        consumer.up(examples / "downstream", wrong)
    assert failed.value.message == (
        f"program failed: RunError: stack {name} exports no token 'dev-linux/nope' in `tokens` "
        "(it has: dev-linux/dev-linux-ci, dev-linux/dev-linux-hosts, "
        "fleet-server-policy/dev-fleet-server); set fleet-downstream:upstreamKey to one of them"
    )


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
