"""FleetMocks: the real provider's check and create against the emulator, the rest mocked."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockCallArgs, MockResourceArgs, Mocks

from fleet_provider import EnrollmentApiKey, get_enrollment_api_key, get_enrollment_api_keys
from fleet_provider.exceptions import KeyNotFoundError
from fleet_provider.testing import FleetEmulator, FleetMocks, FleetMocksError
from tests.testing.conftest import resolved, run_mocked

POLICY = "fleet-server-policy"


class Bucket(pulumi.CustomResource):
    """Another provider's resource, which FleetMocks must leave to the fallback."""

    def __init__(self, name: str, content: pulumi.Input[str]) -> None:
        super().__init__("aws:s3/bucketObject:BucketObject", name, {"content": content})


class Recording(Mocks):
    """A user's own mocks: records what reaches them and answers with a fixed id."""

    def __init__(self) -> None:
        self.resources: list[MockResourceArgs] = []
        self.calls: list[MockCallArgs] = []

    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append(args)
        return "user-id", {**args.inputs, "arn": f"arn:{args.name}"}

    def call(self, args: MockCallArgs) -> dict[str, Any]:
        self.calls.append(args)
        return {"zones": ["a", "b"]}


def test_two_keys_are_created_in_the_emulator_and_other_resources_go_to_the_fallback(
    fleet_emulator: FleetEmulator,
) -> None:
    user = Recording()

    def program() -> Any:
        first = EnrollmentApiKey("linux", policy_id=POLICY)
        second = EnrollmentApiKey("windows", policy_id=POLICY, name="windows-hosts")
        bucket = Bucket("cloud-init", content=first.api_key.apply(lambda t: f"token: {t}"))
        zones = pulumi.runtime.invoke("aws:index:getAvailabilityZones", {}).value
        return pulumi.Output.all(
            resolved(first.id),
            resolved(first.api_key),
            resolved(first.name),
            resolved(second.id),
            resolved(second.api_key),
            resolved(bucket.id),
            zones,
        )

    (
        (first_id, _),
        (first_token, first_secret),
        (first_name, _),
        (second_id, _),
        (second_token, second_secret),
        (bucket_id, _),
        zones,
    ) = run_mocked(FleetMocks(fleet_emulator, fallback=user), program)

    active = {item["id"]: item for item in fleet_emulator.keys(POLICY)}
    assert active[first_id]["api_key"] == first_token and first_secret
    assert active[second_id]["api_key"] == second_token and second_secret
    assert first_name.startswith("linux-") and len(first_name) == len("linux-") + 8
    assert active[first_id]["name"] == f"{first_name} ({first_id})"
    assert active[second_id]["name"] == f"windows-hosts ({second_id})"
    assert bucket_id == "user-id" and zones == {"zones": ["a", "b"]}
    assert [args.typ for args in user.resources] == ["aws:s3/bucketObject:BucketObject"]
    # A secret input reaches any Mocks wrapped, as pulumi.runtime.rpc deserialises it.
    content = user.resources[0].inputs["content"]
    assert rpc.is_rpc_secret(content) and rpc.unwrap_rpc_secret(content) == f"token: {first_token}"
    assert [args.token for args in user.calls] == ["aws:index:getAvailabilityZones"]


def test_without_a_fallback_other_resources_echo_their_inputs(
    fleet_emulator: FleetEmulator,
) -> None:
    def program() -> Any:
        bucket = Bucket("b", content="x")
        return pulumi.Output.all(bucket.id, bucket.urn)

    bucket_id, _ = run_mocked(FleetMocks(fleet_emulator), program)
    assert bucket_id == "b_id"
    assert len(fleet_emulator.keys(POLICY)) == 1  # only the policy's Default key


@pytest.mark.parametrize(
    ("inputs", "line"),
    [
        (
            {"policy_id": POLICY, "expiration": "90x"},
            "pulumi-python:dynamic/fleet:EnrollmentApiKey resource 'bad': property expiration "
            "value {90x} has a problem: expiration '90x' is not a duration: use a whole number "
            "followed by d, h, m or s, e.g. 30d, 24h, 90m, 60s",
        ),
        (
            {"policy_id": POLICY, "name": "_hidden"},
            "pulumi-python:dynamic/fleet:EnrollmentApiKey resource 'bad': property name value "
            "{_hidden} has a problem:",
        ),
    ],
)
def test_a_failing_check_fails_with_the_line_the_cli_shows(
    fleet_emulator: FleetEmulator, inputs: dict[str, Any], line: str
) -> None:
    with pytest.raises(FleetMocksError) as caught:
        run_mocked(FleetMocks(fleet_emulator), lambda: EnrollmentApiKey("bad", **inputs).id)
    assert str(caught.value).startswith(line)
    assert "\n" not in str(caught.value)
    assert len(fleet_emulator.keys(POLICY)) == 1


def test_a_failing_create_fails_with_the_provider_error_line(
    fleet_emulator: FleetEmulator,
) -> None:
    fleet_emulator.admin.create_key(POLICY, "taken")
    with pytest.raises(FleetMocksError) as caught:
        run_mocked(
            FleetMocks(fleet_emulator),
            lambda: EnrollmentApiKey("dup", policy_id=POLICY, name="taken").id,
        )
    message = str(caught.value)
    assert message.startswith("fleet_provider.exceptions.DuplicateNameError: ")
    assert "taken" in message and "\n" not in message


def test_the_settings_are_the_emulators_and_a_wrong_password_is_the_providers_line(
    fleet_emulator: FleetEmulator,
) -> None:
    wrong = FleetMocks(fleet_emulator, config={"fleet:password": "not-the-password"})
    with pytest.raises(FleetMocksError) as caught:
        run_mocked(wrong, lambda: EnrollmentApiKey("k", policy_id=POLICY).id)
    message = str(caught.value)
    assert message.startswith(
        "pulumi-python:dynamic/fleet:EnrollmentApiKey resource 'k' has a problem: "
    )
    assert "not-the-password" not in message


def test_preview_checks_without_creating(fleet_emulator: FleetEmulator) -> None:
    def program() -> Any:
        key = EnrollmentApiKey("k", policy_id=POLICY)
        return pulumi.Output.all(resolved(key.name), resolved(key.api_key))

    (name, _), (token, _) = run_mocked(FleetMocks(fleet_emulator), program, preview=True)
    assert name.startswith("k-") and token is None
    assert len(fleet_emulator.keys(POLICY)) == 1


def test_secret_inputs_stay_secret_and_reach_the_provider_plain(
    fleet_emulator: FleetEmulator,
) -> None:
    def program() -> Any:
        key = EnrollmentApiKey("k", policy_id=pulumi.Output.secret(POLICY))
        return pulumi.Output.all(resolved(key.policy_id), resolved(key.id))

    (policy, policy_secret), (key_id, _) = run_mocked(FleetMocks(fleet_emulator), program)
    assert policy == POLICY and policy_secret
    assert key_id in {item["id"] for item in fleet_emulator.keys(POLICY)}


def test_look_ups_are_answered_from_the_emulator(fleet_emulator: FleetEmulator) -> None:
    fleet_emulator.add_policy("edge")
    made = fleet_emulator.admin.create_key("edge", "by-hand")
    revoked = fleet_emulator.admin.create_key("edge", "old")
    fleet_emulator.admin.revoke(revoked["id"])

    def program() -> Any:
        active = get_enrollment_api_keys(policy_id="edge")
        everything = get_enrollment_api_keys(policy_id="edge", include_inactive=True)
        one = get_enrollment_api_key(made["id"])
        return pulumi.Output.all(
            sorted(str(k.name) for k in active),
            sorted(str(k.name) for k in everything),
            one.full_name,
            resolved(one.api_key),
        )

    active, everything, full_name, (token, secret) = run_mocked(FleetMocks(fleet_emulator), program)
    assert active == ["Default", "by-hand"]
    assert everything == ["Default", "by-hand", "old"]
    assert full_name == made["name"]
    assert token == made["api_key"] and secret


def test_a_key_the_emulator_lacks_is_kibanas_not_found(fleet_emulator: FleetEmulator) -> None:
    with pytest.raises(KeyNotFoundError):
        run_mocked(FleetMocks(fleet_emulator), lambda: get_enrollment_api_key("no-such-key").id)
