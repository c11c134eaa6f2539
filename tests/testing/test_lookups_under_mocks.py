"""Look-ups and auto-names under any pulumi.runtime.Mocks; the harness still asks Kibana."""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs, Mocks

from fleet_provider import EnrollmentApiKey, _sdk, get_enrollment_api_key, get_enrollment_api_keys
from fleet_provider.lookups import GET_TOKEN, LIST_TOKEN
from tests.harness.program import NoMocks
from tests.testing.conftest import resolved, run_mocked

K1 = "0a6b0d3e-1c1e-4b8f-9d0a-111111111111"
K2 = "0a6b0d3e-1c1e-4b8f-9d0a-222222222222"
ITEM = {
    "id": K1,
    "name": f"edge ({K1})",
    "active": True,
    "api_key": "dG9rZW4=",
    "api_key_id": "a1",
    "policy_id": "p1",
    "created_at": "2025-01-01T00:00:00.000Z",
}


class Answering(Mocks):
    """A user's unit-test mocks, with no emulator or network: answers the look-up tokens."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def call(self, args: MockCallArgs) -> dict[str, Any]:
        self.calls.append((args.token, dict(args.args)))
        if args.token == LIST_TOKEN:
            return {"items": [ITEM, {**ITEM, "id": K2, "name": f"old ({K2})", "active": False}]}
        return ITEM

    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        return f"{args.name}_id", dict(args.inputs)


def test_look_ups_go_to_the_mocks_with_camel_case_arguments_and_stay_secret() -> None:
    mocks = Answering()

    def program() -> Any:
        listed = get_enrollment_api_keys(policy_id="p1")
        everything = get_enrollment_api_keys(space_id="ops", include_inactive=True)
        one = get_enrollment_api_key(K1)
        return pulumi.Output.all(
            [(k.id, k.name, k.space_id) for k in listed],
            [k.id for k in everything],
            [one.name, one.full_name, one.policy_id],
            resolved(one.api_key),
        )

    listed, everything, one, (token, secret) = run_mocked(mocks, program)
    assert mocks.calls == [
        (LIST_TOKEN, {"policyId": "p1", "includeInactive": False}),
        (LIST_TOKEN, {"spaceId": "ops", "includeInactive": True}),
        (GET_TOKEN, {"keyId": K1}),
    ]
    assert listed == [(K1, "edge", "default")]  # an inactive key only when asked for
    assert everything == [K1, K2]
    assert one == ["edge", f"edge ({K1})", "p1"]
    assert token == "dG9rZW4=" and secret


def test_auto_names_are_visible_under_mocks_and_a_given_name_is_kept() -> None:
    def program() -> Any:
        auto = EnrollmentApiKey("linux", policy_id="p1")
        again = EnrollmentApiKey("linux-2", policy_id="p1")
        named = EnrollmentApiKey("win", policy_id="p1", name="windows")
        return pulumi.Output.all(auto.name, auto.auto_named, again.name, named.name)

    auto, auto_named, again, named = run_mocked(Answering(), program)
    assert auto.startswith("linux-") and len(auto) == len("linux-") + 8 and auto_named is True
    assert again.startswith("linux-2-") and again[-8:] != auto[-8:]
    assert named == "windows"


def test_the_same_stack_gives_the_same_auto_name_and_another_stack_another() -> None:
    def name() -> Any:
        return EnrollmentApiKey("linux", policy_id="p1").name

    first = run_mocked(Answering(), name, stack="dev")
    assert run_mocked(Answering(), name, stack="dev") == first
    assert run_mocked(Answering(), name, stack="prod") != first


def test_a_monitor_whose_mocks_opt_out_is_a_deployment() -> None:
    """The project's harness (tests/harness) runs programs under such a monitor."""
    pulumi.runtime.set_mocks(Answering())
    assert isinstance(_sdk.active_mocks(), Answering)
    pulumi.runtime.set_mocks(NoMocks(), monitor=MockMonitor(NoMocks()))
    assert _sdk.active_mocks() is None
