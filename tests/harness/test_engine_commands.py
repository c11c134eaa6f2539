"""The harness runs commands as the Pulumi CLI does: hosts, config, preview, options, flags.

Each test shows one engine behaviour the provider depends on, with the pulumi/pulumi source it
follows named in ``tests/harness/engine.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pulumi
import pytest

from fleet_provider.harness.wire import from_struct
from tests.harness.engine import ConfigSecret, Engine, Hosts, autonaming_forces_delete_first
from tests.harness.fixture_provider import STATE_ENV, FixtureResource, Remote

pytestmark = pytest.mark.e2e

CONFIG: dict[str, str | ConfigSecret] = {"fixture:label": "first"}


@pytest.fixture
def remote(tmp_path_factory: pytest.TempPathFactory) -> Remote:
    """An empty remote API for the fixture provider."""
    remote = Remote(tmp_path_factory.mktemp("remote") / "remote.json")
    remote.reset()
    return remote


@pytest.fixture
def hosts(remote: Remote) -> Iterator[Hosts]:
    """The hosts the test's commands start."""
    with Hosts(env={STATE_ENV: str(remote.path)}, exclude_env=["KIBANA_*"]) as started:
        yield started


@pytest.fixture
def engine(hosts: Hosts) -> Engine:
    """A fresh stack with the fixture config."""
    engine = Engine(hosts, stack="dev")
    engine.set_config(CONFIG)
    return engine


def thing(name: str, **inputs: Any) -> Callable[[], None]:
    """A program declaring one FixtureResource; ``opts`` go to its resource options."""
    opts = inputs.pop("opts", {})

    def program() -> None:
        FixtureResource(name, {"name": name, **inputs}, pulumi.ResourceOptions(**opts))

    return program


def configured_label(hosts: Hosts, index: int) -> str:
    """The ``fixture:label`` the ``index``-th host was configured with."""
    request = hosts.started[index].calls_of("Configure")[0].request
    return str(from_struct(request.args)["fixture:label"])


def test_every_command_starts_its_own_host_and_up_previews_first(
    engine: Engine, hosts: Hosts, remote: Remote
) -> None:
    engine.up(thing("a"))
    assert len(hosts.started) == 2  # the preview, then the update
    preview_host, update_host = hosts.started
    assert [c.method for c in preview_host.calls] == ["GetPluginInfo", "Configure", "Check"]
    assert [c.method for c in update_host.calls] == [
        "GetPluginInfo",
        "Configure",
        "Check",
        "Create",
    ]
    assert remote.ops() == ["check:a", "check:a", "create:a"]
    assert engine.last_preview is not None and engine.last_preview.ops() == ["create:a"]
    engine.refresh()
    engine.destroy()
    assert len(hosts.started) == 4
    assert all(not host.alive for host in hosts.started)
    assert all(len(host.calls_of("Configure")) == 1 for host in hosts.started)


def test_a_failed_preview_stops_up_before_anything_changes(engine: Engine, remote: Remote) -> None:
    remote.fail("check", "bad input")
    with pytest.raises(Exception, match="bad input"):
        engine.up(thing("a"))
    assert remote.ops() == ["check:a"]
    assert engine.state == {}


def test_refresh_and_destroy_use_the_config_stored_at_the_last_up(
    engine: Engine, hosts: Hosts
) -> None:
    engine.up(thing("a"), skip_preview=True)
    engine.set_config({"fixture:label": "second"})  # `pulumi config set`, no up since
    engine.refresh()
    assert configured_label(hosts, -1) == "first"
    engine.refresh(run_program=True)
    assert configured_label(hosts, -1) == "second"
    engine.destroy()
    assert configured_label(hosts, -1) == "first"


def test_the_replacement_check_gets_no_olds_and_the_raw_inputs(
    engine: Engine, hosts: Hosts
) -> None:
    engine.up(thing("a", size=1, note="old", replace_on=["size"]), skip_preview=True)
    result = engine.up(
        thing("a", size=2, note="new", replace_on=["size"], opts={"ignore_changes": ["note"]}),
        skip_preview=True,
    )
    assert result.ops("a") == ["create-replacement", "replace", "delete-replaced"]
    first, second = (from_struct(c.request.news) for c in hosts.last.calls_of("Check"))
    assert first["note"] == "old"  # ignore_changes applied to the first Check
    assert second["note"] == "new"  # not to the replacement's
    assert from_struct(hosts.last.calls_of("Check")[1].request.olds) == {}
    assert engine.outputs("a")["note"] == "new"


def test_replace_flag_checks_once_with_no_olds_and_sends_no_diff(
    engine: Engine, hosts: Hosts, remote: Remote
) -> None:
    engine.up(thing("a", size=1), skip_preview=True)
    old_id = engine.resource("a").id
    result = engine.up(thing("a", size=1), skip_preview=True, replace=["a"])
    assert result.ops("a") == ["create-replacement", "replace", "delete-replaced"]
    assert result.step("a", "replace").detail["replaces"] == ["id"]
    update = hosts.last
    assert [c.method for c in update.calls][2:] == ["Check", "Create", "Delete"]
    assert from_struct(update.calls_of("Check")[0].request.olds) == {}
    assert engine.resource("a").id != old_id


def test_an_alias_finds_the_old_state_under_the_old_name(engine: Engine, remote: Remote) -> None:
    engine.up(thing("old-name", size=1), skip_preview=True)
    old_id = engine.resource("old-name").id

    def renamed() -> None:
        FixtureResource(
            "new-name",
            {"name": "old-name", "size": 1},
            pulumi.ResourceOptions(aliases=[pulumi.Alias(name="old-name")]),
        )

    result = engine.up(renamed, skip_preview=True)
    assert result.ops() == ["same:new-name"]
    assert engine.resource("new-name").id == old_id
    assert [r.name for r in engine.state.values()] == ["new-name"]
    assert not [op for op in remote.ops() if op.startswith("delete")]


def test_untargeted_resources_keep_their_old_inputs_without_a_check(
    engine: Engine, remote: Remote
) -> None:
    def two(size: int) -> Callable[[], None]:
        def program() -> None:
            FixtureResource("a", {"name": "a", "size": size})
            FixtureResource("b", {"name": "b", "size": size})

        return program

    engine.up(two(1), skip_preview=True)
    before = len(remote.ops())
    result = engine.up(two(2), skip_preview=True, targets=["a"])
    assert sorted(result.ops()) == ["same:b", "update:a"]
    assert sorted(remote.ops()[before:]) == ["check:a", "diff:a", "update:a"]
    assert engine.outputs("b")["size"] == 1.0


def test_up_with_refresh_reads_before_the_program_runs(engine: Engine, remote: Remote) -> None:
    engine.up(thing("a", size=1), skip_preview=True)
    remote.change(engine.resource("a").id, size=7)
    before = len(remote.ops())
    plain = engine.up(thing("a", size=1), skip_preview=True)
    assert plain.ops() == ["same:a"]  # a plain up never reads
    assert "read:a" not in remote.ops()[before:]
    refreshed = engine.up(thing("a", size=1), skip_preview=True, refresh=True)
    # The refresh step diffs what it read; then the program's Check and Diff see size 7.
    assert remote.ops()[-5:] == ["read:a", "diff:a", "check:a", "diff:a", "update:a"]
    assert refreshed.ops() == ["update:a"]


def test_the_refresh_always_project_option_refreshes_up_and_destroy(
    hosts: Hosts, remote: Remote
) -> None:
    engine = Engine(hosts, stack="dev", refresh_always=True)
    engine.set_config(CONFIG)
    engine.up(thing("a"), skip_preview=True)
    engine.up(thing("a"), skip_preview=True)
    engine.destroy()
    assert remote.ops() == [
        "check:a",
        "create:a",
        "read:a",
        "diff:a",
        "check:a",
        "diff:a",
        "read:a",
        "diff:a",
        "delete:a",
    ]


def test_up_to_four_calls_are_served_at_once(engine: Engine, remote: Remote) -> None:
    def eight() -> None:
        for index in range(8):
            FixtureResource(f"r{index}", {"name": f"r{index}", "slow": 0.3})

    engine.up(eight, skip_preview=True)
    spans = [(e["started"], e["ended"]) for e in remote.log() if e["op"] == "create"]
    most = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
    assert len(spans) == 8
    assert most == 4  # the engine sends more at once; the Python host serves four


@pytest.mark.parametrize(
    ("setting", "delete_first"),
    [
        ({"mode": "verbatim"}, True),
        ({"mode": "disabled"}, True),
        ({"pattern": "${name}"}, True),
        ({"pattern": "${name}-${hex(6)}"}, False),
        ({"mode": "default"}, False),
        (
            {"mode": "verbatim", "providers": {"pulumi-python": {"mode": "default"}}},
            False,
        ),
    ],
)
def test_autonaming_without_randomness_forces_delete_before_replace(
    engine: Engine, setting: dict[str, Any], delete_first: bool
) -> None:
    assert autonaming_forces_delete_first({"pulumi:autonaming": setting}, "t") is delete_first
    config = {**CONFIG, "pulumi:autonaming": str(setting).replace("'", '"')}
    engine.up(thing("a", size=1, replace_on=["size"]), config, skip_preview=True)
    result = engine.up(thing("a", size=2, replace_on=["size"]), skip_preview=True)
    expected = (
        ["delete-replaced", "replace", "create-replacement"]
        if delete_first
        else ["create-replacement", "replace", "delete-replaced"]
    )
    assert result.ops("a") == expected


def test_replace_on_changes_needs_the_changed_keys_an_explicit_diff_does_not_report(
    engine: Engine,
) -> None:
    opts = {"replace_on_changes": ["size"]}
    engine.up(thing("a", size=1, opts=opts), skip_preview=True)
    explicit = engine.up(thing("a", size=2, opts=opts), skip_preview=True)
    assert explicit.ops("a") == ["update"]  # changes=True names no key: nothing to match
    engine.up(thing("a", size=2, diff_unknown=True, opts=opts), skip_preview=True)
    unknown = engine.up(thing("a", size=3, diff_unknown=True, opts=opts), skip_preview=True)
    assert unknown.ops("a") == ["create-replacement", "replace", "delete-replaced"]


def test_retain_on_delete_keeps_the_object(engine: Engine, remote: Remote) -> None:
    engine.up(thing("kept", opts={"retain_on_delete": True}), skip_preview=True)
    kept = engine.resource("kept").id
    engine.destroy()
    assert kept in remote.objects()
    assert engine.state == {}
