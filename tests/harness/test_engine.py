"""The harness behaves like the Pulumi engine towards the real dynamic-provider host."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.runtime import settings

from fleet_provider.harness.host import HOST_SENDS_READ_INPUTS, HOST_SENDS_TRACEBACK, REPO_ROOT
from fleet_provider.harness.wire import from_struct
from tests.harness.engine import (
    UNKNOWN,
    ConfigSecret,
    Engine,
    EngineError,
    EngineMonitor,
    Hosts,
    ProviderHost,
    ProviderHostError,
    secret,
    unknown_during_preview,
)
from tests.harness.fixture_provider import STATE_ENV, FixtureResource, Remote

pytestmark = pytest.mark.e2e

CONFIG: dict[str, str | ConfigSecret] = {
    "fixture:label": "from-config",
    "fixture:password": secret("cfg-pa55word"),
}


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory) -> Remote:
    """The fixture provider's remote API, shared by the module's host."""
    return Remote(tmp_path_factory.mktemp("remote") / "remote.json")


@pytest.fixture
def host(remote: Remote) -> Iterator[Hosts]:
    """The hosts of one test: every command starts its own, as the CLI does."""
    with Hosts(env={STATE_ENV: str(remote.path)}, exclude_env=["KIBANA_*"]) as hosts:
        yield hosts


@pytest.fixture
def engine(host: Hosts, remote: Remote) -> Engine:
    """A fresh stack and an empty remote."""
    remote.reset()
    engine = Engine(host, stack="dev")
    engine.set_config(CONFIG)
    # These tests look at the update's own calls; the preview phase has tests of its own.
    engine.preview_before_up = False
    return engine


def things(*specs: tuple[str, dict[str, Any]], **opts: Any) -> Callable[[], dict[str, Any]]:
    """A program declaring one FixtureResource per (name, inputs) and exporting their ids."""

    def program() -> dict[str, Any]:
        made = {
            name: FixtureResource(name, {"name": name, **inputs}, pulumi.ResourceOptions(**opts))
            for name, inputs in specs
        }
        return {f"{name}_id": res.id for name, res in made.items()}

    return program


def test_create_then_same(engine: Engine, remote: Remote, host: Hosts) -> None:
    first = engine.up(things(("a", {"size": 1})))
    assert first.ops() == ["create:a"]
    assert remote.ops() == ["check:a", "create:a"]
    outs = engine.outputs("a")
    assert outs["size"] == 1.0  # numbers travel as doubles
    assert outs["label"] == "from-config"  # Configure reached the provider's configure()
    assert first.exports == {"a_id": engine.resource("a").id}
    assert "fixture: created a" in host.stderr

    second = engine.up(things(("a", {"size": 1})))
    assert second.ops() == ["same:a"]
    assert second.changes == {"same": 1}
    assert remote.ops()[2:] == ["check:a", "diff:a"]
    diff = host.calls_of("Diff")[-1].request
    assert from_struct(diff.olds)["token"] == outs["token"]  # Diff's olds are the OUTPUTS
    assert "token" not in from_struct(diff.old_inputs)


def test_update_in_place(engine: Engine, remote: Remote) -> None:
    engine.up(things(("a", {"size": 1})))
    old = engine.resource("a")
    result = engine.up(things(("a", {"size": 2})))
    assert result.ops("a") == ["update"]
    # The Python host never fills DiffResponse.diffs, so the engine knows no changed keys.
    assert result.step("a", "update").detail == {
        "changes": "some",
        "replaces": [],
        "delete_before_replace": False,
        "changed": [],
    }
    assert engine.resource("a").id == old.id
    assert engine.outputs("a")["size"] == 2.0
    assert engine.outputs("a")["token"] == old.outputs["token"]
    assert remote.ops()[-1] == "update:a"


def test_replace_creates_before_deleting(engine: Engine, remote: Remote, host: Hosts) -> None:
    engine.up(things(("a", {"size": 1, "replace_on": ["size"]})))
    old_id = engine.resource("a").id
    result = engine.up(things(("a", {"size": 2, "replace_on": ["size"]})))
    assert result.ops("a") == ["create-replacement", "replace", "delete-replaced"]
    assert remote.ops()[-5:] == ["check:a", "diff:a", "check:a", "create:a", "delete:a"]
    assert remote.log()[-1]["id"] == old_id
    assert engine.resource("a").id != old_id
    # The replacement's second Check is sent with no olds (step_generator.go).
    assert from_struct(host.calls_of("Check")[-1].request.olds) == {}
    assert engine.pending_deletes == []


@pytest.mark.parametrize("how", ["option", "provider"])
def test_replace_deletes_before_creating(engine: Engine, remote: Remote, how: str) -> None:
    inputs: dict[str, Any] = {"size": 1, "replace_on": ["size"]}
    opts = {"delete_before_replace": True} if how == "option" else {}
    if how == "provider":
        inputs["delete_before_replace"] = True
    engine.up(things(("a", inputs), **opts))
    old_id = engine.resource("a").id
    result = engine.up(things(("a", {**inputs, "size": 2}), **opts))
    assert result.ops("a") == ["delete-replaced", "replace", "create-replacement"]
    assert result.step("a", "replace").detail["delete_before_replace"] is True
    assert remote.ops()[-3:] == ["check:a", "delete:a", "create:a"]
    assert old_id not in remote.objects()


def test_preview_sends_unknowns_and_changes_nothing(
    engine: Engine, remote: Remote, host: Hosts
) -> None:
    def program() -> None:
        FixtureResource("a", {"name": "a", "size": unknown_during_preview(3)})

    result = engine.preview(program)
    assert result.ops() == ["create:a"]
    assert remote.log() == [{"op": "check", "name": "a", "unknown": ["size"]}]
    assert from_struct(host.calls_of("Check")[-1].request.news)["size"] == UNKNOWN
    assert remote.objects() == {}
    assert engine.state == {}
    # Preview outputs are the inputs; computed outputs (token) are unknown, hence absent.
    assert result.outputs["a"]["size"] == UNKNOWN
    assert "token" not in result.outputs["a"]

    engine.up(program)  # in up the value is known
    assert engine.outputs("a")["size"] == 3.0
    changed = engine.preview(things(("a", {"size": 4})))
    assert changed.ops() == ["update:a"]
    assert remote.ops()[-2:] == ["check:a", "diff:a"]  # no Update in preview
    assert engine.outputs("a")["size"] == 3.0


def test_refresh_drops_removed_and_reports_drift(engine: Engine, remote: Remote) -> None:
    engine.up(things(("a", {"size": 1, "replace_on": ["size"]}), ("b", {"size": 1})))
    remote.remove(engine.resource("a").id)
    remote.change(engine.resource("b").id, size=5)

    result = engine.refresh()
    assert result.ops() == ["refresh:a", "refresh:b"]
    assert result.step("a", "refresh").detail["deleted"] is True
    assert [r.name for r in engine.state.values()] == ["b"]
    drift = result.step("b", "refresh").detail
    assert drift["changes"] == "some"
    assert engine.outputs("b")["size"] == 5.0
    if HOST_SENDS_READ_INPUTS:
        assert engine.resource("b").inputs["size"] == 5.0  # ReadResult inputs are stored


def test_refresh_diff_can_say_replace(engine: Engine, remote: Remote) -> None:
    engine.up(things(("a", {"size": 1, "replace_on": ["size"]})))
    remote.change(engine.resource("a").id, size=9)
    step = engine.refresh().step("a", "refresh")
    assert step.detail["replaces"] == ["size"]


def test_destroy_in_reverse_order_and_retain(engine: Engine, remote: Remote) -> None:
    def program() -> None:
        a = FixtureResource("a", {"name": "a"})
        b = FixtureResource("b", {"name": "b", "after": a.seq})
        FixtureResource("c", {"name": "c", "after": b.seq})
        FixtureResource("kept", {"name": "kept"}, pulumi.ResourceOptions(retain_on_delete=True))

    engine.up(program)
    kept_id = engine.resource("kept").id
    result = engine.destroy()
    assert [op for op in result.ops() if op != "delete:kept"] == [
        "delete:c",
        "delete:b",
        "delete:a",
    ]
    assert result.step("kept", "delete").detail["retained"] is True
    assert [e for e in remote.ops() if e.startswith("delete")] == [
        "delete:c",
        "delete:b",
        "delete:a",
    ]
    assert list(remote.objects()) == [kept_id]
    assert engine.state == {}


def test_removed_from_program_is_deleted_after_the_run(engine: Engine, remote: Remote) -> None:
    engine.up(things(("a", {}), ("b", {}), ("c", {})))
    result = engine.up(things(("b", {})))
    assert result.ops() == ["same:b", "delete:c", "delete:a"]


def test_provider_error_keeps_state(engine: Engine, remote: Remote) -> None:
    engine.up(things(("a", {"size": 1})))
    before = engine.state_dict()
    remote.fail("update", "boom")
    with pytest.raises(EngineError) as caught:
        engine.up(things(("a", {"size": 2})))
    error = caught.value
    if HOST_SENDS_TRACEBACK:
        assert error.last_line == "RuntimeError: fixture update of 'a' failed: boom"
        assert "Traceback (most recent call last)" in error.details
    else:
        assert (
            error.last_line == "Exception calling application: fixture update of 'a' failed: boom"
        )
    assert error.op == "Update"
    assert error.urn.endswith("::a")
    assert engine.state_dict() == before


def test_failed_replacement_create(engine: Engine, remote: Remote) -> None:
    inputs = {"size": 1, "replace_on": ["size"]}
    engine.up(things(("a", inputs), ("b", inputs)))
    a_id, b_id = engine.resource("a").id, engine.resource("b").id
    remote.fail("create", "no capacity")

    # Create-before-delete: the failed create leaves the old resource in place, and a failed
    # run deletes nothing (b is no longer declared, yet survives).
    with pytest.raises(EngineError, match="no capacity"):
        engine.up(things(("a", {**inputs, "size": 2})))
    assert engine.resource("a").id == a_id
    assert engine.resource("b").id == b_id
    assert not [op for op in remote.ops() if op.startswith("delete")]

    # Delete-before-replace: the old resource is deleted first. After the failed create it stays
    # in the state, pending replacement (step.go sets the flag once the delete succeeded).
    failing = things(("a", inputs), ("b", {**inputs, "size": 2}), delete_before_replace=True)
    with pytest.raises(EngineError, match="no capacity"):
        engine.up(failing)
    assert [r.name for r in engine.state.values()] == ["a", "b"]
    assert engine.resource("b").pending_replacement is True
    assert b_id not in remote.objects()
    assert [op for op in remote.ops() if op.endswith(":b")][-2:] == ["delete:b", "create:b"]
    stored = {r["urn"]: r for r in engine.state_dict()["deployment"]["resources"]}
    assert stored[engine.resource("b").urn]["pendingReplacement"] is True

    # A refresh leaves it alone; the next up creates the replacement, whatever Diff says, and
    # sends no second Delete.
    assert engine.refresh().ops() == ["refresh:a"]
    remote.clear_failures()
    again = engine.up(failing)
    assert again.ops("b") == ["replace", "create-replacement"]
    assert [op for op in remote.ops() if op.endswith(":b")][-4:] == [
        "check:b",
        "diff:b",
        "check:b",
        "create:b",
    ]
    assert engine.resource("b").pending_replacement is False
    assert engine.resource("b").id in remote.objects()


def test_check_failure(engine: Engine) -> None:
    def program() -> None:
        FixtureResource("nameless", {"size": 1})

    with pytest.raises(EngineError) as caught:
        engine.up(program)
    assert caught.value.last_line.endswith("has a problem: name is required")


def test_secrets_are_encrypted_in_state(engine: Engine) -> None:
    def program() -> None:
        a = FixtureResource("a", {"name": "a", "note": pulumi.Output.secret("hush-hush")})
        pulumi.export("token", a.token)
        pulumi.export("plain", "visible")

    result = engine.up(program)
    token = engine.outputs("a")["token"]
    assert result.exports["token"] == token
    assert result.secret_exports == {"token"}
    res = engine.resource("a")
    assert {"token", "note", "__provider"} <= res.secret_outputs
    assert res.secret_inputs == {"note", "__provider"}
    text = engine.state_json()
    for plaintext in (token, "hush-hush", "cfg-pa55word", res.inputs["__provider"]):
        assert plaintext not in text
    assert '"visible"' in text
    stored = next(r for r in engine.state_dict()["deployment"]["resources"] if r["urn"] == res.urn)
    assert set(stored["outputs"]["token"]) == {
        "4dabf18193072939515e22adb298388d",
        "ciphertext",
    }
    # The provider itself only ever saw plain values: no secret wrapper crossed the wire.
    assert "1b47061264138c4ac30d75fd1eb44270" not in str(engine.host.calls_of("Create")[-1])


def test_project_directory_program(remote: Remote, tmp_path: Path) -> None:
    # The host is launched by the project's rules: its virtualenv is this interpreter's, and
    # PYTHONPATH names the checkout, where the fixture provider's module lives.
    (tmp_path / "Pulumi.yaml").write_text(
        f"name: harness-project\nruntime: {{name: python, options: {{virtualenv: {sys.prefix}}}}}\n"
    )
    hosts = Hosts(env={STATE_ENV: str(remote.path), "PYTHONPATH": str(REPO_ROOT)})
    engine = Engine(hosts, stack="dev")
    engine.set_config(CONFIG)
    (tmp_path / "helper.py").write_text("PREFIX = 'cfg-'\n")
    (tmp_path / "__main__.py").write_text(
        textwrap.dedent(
            """
            import pulumi
            from helper import PREFIX
            from tests.harness.fixture_provider import FixtureResource

            config = pulumi.Config()
            thing = FixtureResource("thing", {"name": PREFIX + config.require("thingName")})
            pulumi.export("greeting", config.require("greeting"))
            pulumi.export("password", config.require_secret("password"))
            pulumi.export("where", f"{pulumi.get_project()}/{pulumi.get_stack()}")
            pulumi.export("thing_name", thing.name)
            """
        )
    )
    result = engine.up(
        tmp_path,
        config={
            "harness-project:thingName": "one",
            "harness-project:greeting": "hello",
            "harness-project:password": secret("pw-123"),
        },
    )
    assert result.exports == {
        "greeting": "hello",
        "password": "pw-123",
        "where": "harness-project/dev",
        "thing_name": "cfg-one",
    }
    assert result.secret_exports == {"password"}
    assert engine.resource("thing").urn == (
        "urn:pulumi:dev::harness-project::pulumi-python:dynamic/fixture:Thing::thing"
    )
    assert "pw-123" not in engine.state_json()
    launched = hosts.last.launch
    assert launched is not None and launched.cwd == tmp_path.resolve()
    hosts.close()


def test_pulumi_settings_are_restored(engine: Engine) -> None:
    engine.up(things(("a", {})))
    assert not isinstance(settings.SETTINGS.monitor, EngineMonitor)
    assert settings.get_root_resource() is None
    assert pulumi.runtime.get_config("fixture:label") is None
    assert not pulumi.runtime.is_dry_run()


def test_host_environment(
    host: Hosts, engine: Engine, remote: Remote, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIBANA_API_KEY", "must-not-reach-the-host")
    live = host.start()
    assert live.alive
    environ = dict(
        item.split("=", 1)
        for item in Path(f"/proc/{live.pid}/environ").read_text().split("\0")
        if "=" in item
    )
    assert environ["PULUMI_PROJECT"] == "fleet-provider"
    assert environ[STATE_ENV] == str(remote.path)
    assert "KIBANA_API_KEY" not in environ
    assert live.stdout.splitlines()[0] == str(live.port)
    live.close()
    engine.up(things(("a", {})))
    configure = engine.host.calls_of("Configure")[0].request
    assert configure.acceptSecrets
    assert from_struct(configure.args)["fixture:password"]["value"] == "cfg-pa55word"


def test_host_that_does_not_start() -> None:
    with pytest.raises(ProviderHostError, match="did not print its port"):
        ProviderHost(python="/bin/false", timeout=5)
