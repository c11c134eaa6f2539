"""The provider under the engine's own rules: renames, ignore_changes, adoption, autonaming,
reading, and per-command configuration, each through fresh hosts as the CLI starts them."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from fleet_provider import EnrollmentApiKey
from tests.e2e.conftest import POLICY, Stack
from tests.e2e.test_lifecycle import one_key
from tests.harness.engine import EngineError

pytestmark = pytest.mark.e2e

OVERLAPPING = ["create-replacement", "replace", "delete-replaced"]
DELETE_FIRST = ["delete-replaced", "replace", "create-replacement"]


def active_keys(stack: Stack) -> list[dict[str, Any]]:
    """The active keys the provider made on the policy (the policy's Default key left out)."""
    return [
        k for k in stack.kibana.keys(POLICY) if k["active"] and not k["name"].startswith("Default")
    ]


def test_a_resource_renamed_with_an_alias_keeps_its_key(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()
    created = stack.engine.up(one_key(resource="linux-hosts"), stack.config())

    def renamed() -> None:
        key = EnrollmentApiKey(
            "linux-servers",
            policy_id=POLICY,
            opts=pulumi.ResourceOptions(aliases=[pulumi.Alias(name="linux-hosts")]),
        )
        pulumi.export("key_id", key.id)

    result = stack.engine.up(renamed, stack.config())
    assert result.changes == {"same": 1}
    assert result.exports["key_id"] == created.exports["key_id"]
    assert [k["id"] for k in active_keys(stack)] == [created.exports["key_id"]]


def test_ignore_changes_on_an_auto_name_keeps_rotation_overlapping(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack()
    opts = {"opts": pulumi.ResourceOptions(ignore_changes=["name"])}
    created = stack.engine.up(one_key(rotate_after="1s", **opts), stack.config())
    assert created.outputs["linux-hosts"]["auto_named"] is True
    time.sleep(1.1)  # the rotation is due
    rotated = stack.engine.up(one_key(rotate_after="1s", **opts), stack.config())
    assert rotated.ops("linux-hosts") == OVERLAPPING
    assert rotated.outputs["linux-hosts"]["auto_named"] is True
    assert rotated.outputs["linux-hosts"]["name"] != created.outputs["linux-hosts"]["name"]
    assert [k["id"] for k in active_keys(stack)] == [rotated.exports["key_id"]]


def test_dropping_adopt_key_id_after_adopting_keeps_the_key(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack()
    existing = stack.kibana.create_key(POLICY)
    adopted = stack.engine.up(one_key(adopt_key_id=existing["id"]), stack.config())
    assert adopted.exports["key_id"] == existing["id"]
    posts = stack.kibana.request_count()["by_route"].get("POST /api/fleet/enrollment_api_keys", 0)

    kept = stack.engine.up(one_key(), stack.config())
    assert kept.changes == {"same": 1}
    assert kept.exports["key_id"] == existing["id"]
    counts = stack.kibana.request_count()["by_route"]
    assert counts.get("POST /api/fleet/enrollment_api_keys", 0) == posts
    assert stack.kibana.get_key(existing["id"])["active"] is True

    # Once adopted and left out, the key can rotate like any other.
    rotating = stack.engine.up(one_key(rotate_after="3650d"), stack.config())
    assert rotating.changes == {"update": 1}
    assert rotating.exports["key_id"] == existing["id"]


@pytest.mark.parametrize(
    ("autonaming", "ops", "warned"),
    [
        ({"mode": "verbatim"}, DELETE_FIRST, True),
        ({"pattern": "${name}"}, DELETE_FIRST, True),
        (
            {"mode": "verbatim", "providers": {"pulumi-python": {"mode": "default"}}},
            OVERLAPPING,
            False,
        ),
        ({"pattern": "${name}-${hex(6)}"}, OVERLAPPING, False),
    ],
)
def test_a_project_autonaming_without_randomness_makes_rotation_delete_first_and_is_warned(
    make_stack: Callable[..., Stack], autonaming: dict[str, Any], ops: list[str], warned: bool
) -> None:
    stack = make_stack()
    config = stack.config(**{})
    config["pulumi:autonaming"] = json.dumps(autonaming)
    created = stack.engine.up(one_key(rotate_after="1s"), config)
    time.sleep(1.1)
    rotated = stack.engine.up(one_key(rotate_after="1s"), config)
    assert rotated.ops("linux-hosts") == ops
    assert rotated.exports["key_id"] != created.exports["key_id"]
    printed = "the stack config pulumi:autonaming" in stack.host.stderr
    assert printed is warned
    assert [k["id"] for k in active_keys(stack)] == [rotated.exports["key_id"]]


def test_a_key_revoked_by_hand_is_replaced_only_by_an_up_that_reads(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack()
    created = stack.engine.up(one_key(), stack.config())
    stack.kibana.revoke(created.exports["key_id"])

    plain = stack.engine.up(one_key(), stack.config())
    assert plain.changes == {"same": 1}  # a plain up does not read: the key stays revoked
    assert active_keys(stack) == []

    reading = stack.engine.up(one_key(), stack.config(), refresh=True)
    assert reading.ops("linux-hosts") == OVERLAPPING
    assert [k["id"] for k in active_keys(stack)] == [reading.exports["key_id"]]


def test_refresh_always_in_the_project_replaces_a_revoked_key_on_up(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack()
    stack.engine.refresh_always = True  # options: refresh: always in Pulumi.yaml
    created = stack.engine.up(one_key(), stack.config())
    stack.kibana.revoke(created.exports["key_id"])
    again = stack.engine.up(one_key(), stack.config())
    assert again.ops("linux-hosts") == OVERLAPPING
    assert [k["id"] for k in active_keys(stack)] == [again.exports["key_id"]]


def test_changing_the_default_space_replaces_keys_without_space_id_at_preview(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack()
    stack.kibana.create_space("ops")
    created = stack.engine.up(one_key(), stack.config())
    preview = stack.engine.preview(one_key(), stack.config(spaceId="ops"))
    assert preview.ops("linux-hosts") == OVERLAPPING
    assert preview.step("linux-hosts", "replace").detail["replaces"] == ["space_id"]
    explicit = stack.engine.preview(one_key(space_id="default"), stack.config(spaceId="ops"))
    assert explicit.changes == {"same": 1}
    assert stack.kibana.get_key(created.exports["key_id"])["active"] is True


def test_refresh_and_destroy_use_the_settings_of_the_last_up(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack()
    created = stack.engine.up(one_key(), stack.config())
    # `pulumi config set fleet:endpoint ...` to a dead address, without an up since.
    stack.engine.set_config(stack.config(endpoint="http://127.0.0.1:9"))
    assert stack.engine.refresh().outputs["linux-hosts"]["active"] is True
    with pytest.raises(EngineError, match=re.escape("Cannot reach Kibana at http://127.0.0.1:9")):
        stack.engine.refresh(run_program=True)
    stack.engine.destroy()
    assert stack.kibana.get_key(created.exports["key_id"])["active"] is False
