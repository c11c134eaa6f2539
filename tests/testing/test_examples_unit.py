"""Every example's program, unit-tested as a user would: under FleetMocks, against the emulator.

New examples are picked up as they appear (any ``examples/<name>`` with a ``Pulumi.yaml``);
each runs with its first stack file's config, the agent policies that config names created.
Examples with more to show have tests of their own below: gitops refusing a bad stack file,
the documents handoff renders, and downstream's consumer logic with its StackReference mocked.
"""

from __future__ import annotations

import base64
import json
import os
import runpy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs, Mocks

from fleet_provider.model import RESOURCE_TYPE
from fleet_provider.testing import FleetEmulator, FleetMocks
from tests.testing.conftest import resolved

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NAMES = sorted(p.name for p in EXAMPLES.iterdir() if (p / "Pulumi.yaml").is_file())
READS_ANOTHER_STACK = {"downstream"}
"""Examples that declare no key but read a token from another stack: each has its own test."""


def stack_config(example: Path) -> dict[str, str]:
    """The first stack file's config, as the engine hands it to a program: strings, JSON."""
    files = sorted(example.glob("Pulumi.*.yaml"))
    if not files:
        return {}
    document = yaml.safe_load(files[0].read_text()) or {}
    return {
        key: value if isinstance(value, str) else json.dumps(value)
        for key, value in (document.get("config") or {}).items()
    }


def policies_named(value: Any) -> set[str]:
    """Every agent policy id a config value names (``policy_id`` / ``policyId`` fields)."""
    if isinstance(value, dict):
        found = {
            str(v)
            for k, v in value.items()
            if k in ("policy_id", "policyId") and isinstance(v, str)
        }
        return found.union(*(policies_named(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(policies_named(v) for v in value))
    return set()


def run_example(
    name: str,
    the_mocks: Mocks,
    config: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    inspect: Callable[[dict[str, Any]], Any] | None = None,
) -> tuple[MockMonitor, Any]:
    """Run ``examples/<name>`` as ``pulumi up`` would under ``the_mocks`` with ``config``.

    Returns the mock monitor (what was registered) and what ``inspect``, given the program's
    globals, resolves to (None without it).
    """
    example = EXAMPLES / name
    project = str(yaml.safe_load((example / "Pulumi.yaml").read_text())["name"])
    monitor = MockMonitor(the_mocks)
    pulumi.runtime.set_mocks(
        the_mocks, project=project, stack="dev", preview=False, monitor=monitor
    )
    pulumi.runtime.set_all_config(config)
    monkeypatch.chdir(example)
    found: list[Any] = []

    @pulumi.runtime.test
    def run() -> Any:
        namespace = runpy.run_path(os.fspath(example / "__main__.py"), run_name="__main__")
        if inspect is not None:
            return pulumi.Output.from_input(inspect(namespace)).apply(found.append)
        return None

    run()
    return monitor, found[0] if found else None


def registered_keys(monitor: MockMonitor) -> list[Any]:
    """The EnrollmentApiKey resources a run registered."""
    return [
        r
        # MockMonitor.resources: declared in every supported pulumi (get_registered_resources,
        # its accessor, came later than 3.139).
        for r in monitor.resources.values()
        if r.urn.split("::")[2].split("$")[-1] == RESOURCE_TYPE  # parent types come first
    ]


def test_there_are_examples() -> None:
    assert {"quickstart", "gitops", "handoff", "downstream"} <= set(NAMES)
    assert set(NAMES) >= READS_ANOTHER_STACK


@pytest.mark.parametrize("name", [n for n in NAMES if n not in READS_ANOTHER_STACK])
def test_example_under_fleet_mocks(
    name: str, fleet_emulator: FleetEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = EXAMPLES / name
    config = stack_config(example)
    for key, value in config.items():
        parsed = json.loads(value) if value[:1] in "[{" else value
        named = policies_named(parsed) | (
            {value} if key.endswith((":policyId", ":policy_id")) else set()
        )
        for policy in sorted(named - {k["policy_id"] for k in fleet_emulator.keys()}):
            fleet_emulator.add_policy(policy)
    before = {k["id"] for k in fleet_emulator.keys()}

    monitor, _ = run_example(name, FleetMocks(fleet_emulator), config, monkeypatch)

    keys = registered_keys(monitor)
    assert keys, f"{name} declares no EnrollmentApiKey"
    active = {k["id"]: k for k in fleet_emulator.keys(include_inactive=True)}
    for key in keys:
        item = active[key.id]  # a real key in the emulator, created or adopted
        assert item["active"] is True
        assert key.state["name"] and key.state["full_name"] == item["name"]
        token = key.state["api_key"]
        assert isinstance(token, pulumi.Output)  # returned as a secret Output
    created = {key.id for key in keys} - before
    adopted = {key.id for key in keys} & before
    assert len(created) + len(adopted) == len(keys)


# -- gitops: the stack file is checked before any key is declared -----------------------------

GITOPS_POLICY = "fleet-server-policy"


def gitops_config(*policies: Any) -> dict[str, str]:
    """The gitops example's config with ``policies`` as its ``fleet-gitops:policies``."""
    return {"fleet-gitops:policies": json.dumps(list(policies))}


@pytest.mark.parametrize(
    ("policies", "message"),
    [
        (
            [
                {"policy_id": GITOPS_POLICY, "keys": [{"name": "a"}]},
                {"policy_id": "nope", "keys": [{"id": "b"}]},
            ],
            "Pulumi.dev.yaml: agent policy 'nope' does not exist in Kibana space 'default' (it has no active enrollment key): create it in Fleet first, or correct its policy_id or the key's space_id",
        ),
        (
            [{"policy_id": GITOPS_POLICY, "keys": [{"expiration": "30d"}]}],
            "Pulumi.dev.yaml: fleet-gitops:policies[0].keys[0] needs an id (or a name): it identifies the key in the stack",
        ),
        (
            [{"policy_id": GITOPS_POLICY, "keys": [{"id": "a", "rotateAfter": "30d"}]}],
            "Pulumi.dev.yaml: fleet-gitops:policies[0].keys[0] has unknown field 'rotateAfter'; a key has id, name, expiration, rotate_after, space_id",
        ),
        (
            [
                {"policy_id": GITOPS_POLICY, "keys": [{"id": "a"}]},
                {"policy_id": GITOPS_POLICY, "keys": [{"name": "a"}]},
            ],
            "Pulumi.dev.yaml: fleet-gitops:policies[1].keys[0]: the key 'fleet-server-policy/a' is declared twice; give each key on a policy its own id (or name)",
        ),
        (
            [{"keys": [{"id": "a"}]}],
            "Pulumi.dev.yaml: fleet-gitops:policies[0] needs a policy_id",
        ),
    ],
    ids=["missing policy", "no id", "unknown field", "duplicate", "no policy_id"],
)
def test_gitops_refuses_a_bad_stack_file_before_declaring_any_key(
    policies: list[Any],
    message: str,
    fleet_emulator: FleetEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = fleet_emulator.keys(include_inactive=True)
    with pytest.raises(pulumi.RunError) as refused:
        run_example("gitops", FleetMocks(fleet_emulator), gitops_config(*policies), monkeypatch)
    assert str(refused.value) == message
    assert fleet_emulator.keys(include_inactive=True) == before


def test_gitops_names_each_key_after_its_policy_and_id(
    fleet_emulator: FleetEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet_emulator.add_policy("linux")
    config = gitops_config(
        {"policy_id": "linux", "keys": [{"id": "hosts", "rotate_after": "30d"}, {"name": "ci"}]},
        {"policy_id": GITOPS_POLICY, "keys": [{"id": "hosts"}]},
    )
    monitor, key_ids = run_example(
        "gitops", FleetMocks(fleet_emulator), config, monkeypatch, lambda ns: ns["key_ids"]
    )
    names = {key.urn.rsplit("::", 1)[-1]: key.state["name"] for key in registered_keys(monitor)}
    assert set(names) == set(key_ids) == {"linux/hosts", "linux/ci", f"{GITOPS_POLICY}/hosts"}
    assert names["linux/ci"] == "ci"
    assert names["linux/hosts"].startswith("linux-hosts-")  # auto-named from the resource name
    assert names[f"{GITOPS_POLICY}/hosts"].startswith(f"{GITOPS_POLICY}-hosts-")


# -- handoff: what a platform team hands on holds the real token -------------------------------


def test_handoff_renders_the_real_token_into_secret_documents(
    fleet_emulator: FleetEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """How to test what a program hands on: the documents hold the live key's token, as secrets."""
    config = {"fleet-handoff:fleetUrl": "https://fleet.internal:8220"}

    def exported(ns: dict[str, Any]) -> Any:
        return pulumi.Output.all(
            resolved(ns["key"].id), resolved(ns["user_data"]), resolved(ns["secret_manifest"])
        )

    _, ((key_id, _), (user_data, user_data_secret), (manifest, manifest_secret)) = run_example(
        "handoff", FleetMocks(fleet_emulator), config, monkeypatch, exported
    )

    token = {k["id"]: k["api_key"] for k in fleet_emulator.keys()}[key_id]
    assert user_data_secret and manifest_secret
    assert user_data.startswith("#cloud-config\n")
    install = yaml.safe_load(user_data)["runcmd"][-1]
    assert f"--url=https://fleet.internal:8220 --enrollment-token={token}" in install
    secret = yaml.safe_load(manifest)
    assert (secret["kind"], secret["metadata"]["name"]) == ("Secret", "fleet-enrollment")
    assert base64.b64decode(secret["data"]["token"]).decode() == token


# -- downstream: the consumer logic, its StackReference answered by mocks ----------------------


class UpstreamStacks(Mocks):
    """Answers ``pulumi:pulumi:StackReference`` with fixed outputs, as Pulumi's unit tests do."""

    def __init__(self, stacks: dict[str, dict[str, Any]]) -> None:
        self.stacks = stacks
        self.read: list[str] = []

    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        if args.typ == "pulumi:pulumi:StackReference":
            name = str(args.inputs["name"])
            self.read.append(name)
            return name, {"outputs": self.stacks[name]}
        return f"{args.name}_id", dict(args.inputs)

    def call(self, args: MockCallArgs) -> dict[str, Any]:
        return {}


def gitops_dev_tokens(fleet_emulator: FleetEmulator, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The ``tokens`` the gitops example's dev stack exports, its keys made in the emulator."""
    config = stack_config(EXAMPLES / "gitops")
    for policy in policies_named(json.loads(config["fleet-gitops:policies"])) - {GITOPS_POLICY}:
        fleet_emulator.add_policy(policy)
    _, tokens = run_example(
        "gitops", FleetMocks(fleet_emulator), config, monkeypatch, lambda ns: ns["tokens"]
    )
    return tokens


def test_downstream_hands_on_the_upstream_token(
    fleet_emulator: FleetEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = gitops_dev_tokens(fleet_emulator, monkeypatch)
    config = stack_config(EXAMPLES / "downstream")
    upstream = config["fleet-downstream:upstreamStack"]
    stacks = UpstreamStacks({upstream: {"tokens": tokens}})  # not even marked secret there

    _, (agent_env, secret) = run_example(
        "downstream",
        FleetMocks(fleet_emulator, fallback=stacks),
        config,
        monkeypatch,
        lambda ns: resolved(ns["env_file"]),
    )
    assert stacks.read == [upstream] == ["organization/fleet-gitops/dev"]
    token = tokens[config["fleet-downstream:upstreamKey"]]
    assert token in {k["api_key"] for k in fleet_emulator.keys("dev-linux")}  # a live key
    assert secret
    assert f"FLEET_ENROLLMENT_TOKEN={token}\n" in agent_env


def test_downstream_names_the_tokens_the_upstream_has_when_the_key_is_not_one(
    fleet_emulator: FleetEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = {
        "fleet-downstream:upstreamStack": "organization/fleet-gitops/dev",
        "fleet-downstream:upstreamKey": "dev-linux/dev-linux-host",
    }
    tokens = {"dev-linux/dev-linux-hosts": "dG9rZW4=", "dev-linux/dev-linux-ci": "Y2k="}
    stacks = UpstreamStacks({"organization/fleet-gitops/dev": {"tokens": tokens}})
    with pytest.raises(pulumi.RunError) as refused:
        run_example(
            "downstream",
            FleetMocks(fleet_emulator, fallback=stacks),
            config,
            monkeypatch,
            lambda ns: ns["env_file"],
        )
    assert str(refused.value) == (
        "stack organization/fleet-gitops/dev exports no token 'dev-linux/dev-linux-host' in "
        "`tokens` (it has: dev-linux/dev-linux-ci, dev-linux/dev-linux-hosts); set "
        "fleet-downstream:upstreamKey to one of them"
    )
