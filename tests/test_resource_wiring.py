"""The resource as the Pulumi SDK registers it: type, inputs, secret outputs, pickled provider."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from typing import Any

import dill
import pulumi
import pytest
from google.protobuf import json_format
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config
from pulumi.runtime import mocks, settings

from fleet_provider import EnrollmentApiKey, EnrollmentApiKeyArgs, InputError
from fleet_provider.enrollment_api_key import EnrollmentApiKeyProvider

SECRET_SIG = "4dabf18193072939515e22adb298388d"


class _Echo(pulumi.runtime.Mocks):
    # These tests look at what the SDK sends a real engine, so the program must behave as in a
    # deployment, not as under a user's unit-test mocks (fleet_provider/_sdk.py active_mocks).
    fleet_provider_mocked = False

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[Any]]:
        return {}, []


class _CapturingMonitor(mocks.MockMonitor):
    def __init__(self, mocks_: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks_)
        self.requests: dict[str, Any] = {}

    def RegisterResource(self, request: Any) -> Any:
        self.requests[request.name] = request
        return super().RegisterResource(request)


@pytest.fixture
def monitor() -> Iterator[_CapturingMonitor]:
    saved = settings.SETTINGS
    capture = _CapturingMonitor(_Echo())
    pulumi.runtime.set_mocks(_Echo(), project="wiring", stack="test", monitor=capture)
    try:
        yield capture
    finally:
        settings.SETTINGS = saved


def _registered(monitor: _CapturingMonitor, name: str) -> tuple[Any, dict[str, Any]]:
    request = monitor.requests[name]
    return request, json_format.MessageToDict(request.object)


def _pickled_provider(props: dict[str, Any]) -> bytes:
    value = props["__provider"]
    if isinstance(value, dict) and value.get(SECRET_SIG):
        value = value["value"]
    return base64.b64decode(value)


@pulumi.runtime.test
def test_registers_the_fleet_type_with_the_tokens_as_secret_outputs(
    monitor: _CapturingMonitor,
) -> Any:
    key = EnrollmentApiKey("linux-hosts", policy_id="fleet-server-policy", expiration="90d")

    def check(_: Any) -> None:
        request, props = _registered(monitor, "linux-hosts")
        assert request.type == "pulumi-python:dynamic/fleet:EnrollmentApiKey"
        assert list(request.additionalSecretOutputs) == ["api_key", "previous_api_key"]
        assert props["policy_id"] == "fleet-server-policy"
        assert props["expiration"] == "90d"
        assert props["resource_name"] == "linux-hosts"
        # Output placeholders are not sent as inputs.
        assert "api_key" not in props
        assert "name" not in props

    return key.id.apply(check)


@pulumi.runtime.test
def test_args_class_and_user_options_are_merged(monitor: _CapturingMonitor) -> Any:
    args = EnrollmentApiKeyArgs(policy_id="p1", name="windows", space_id="ops")
    opts = pulumi.ResourceOptions(
        additional_secret_outputs=["full_name"], protect=True, retain_on_delete=True
    )
    key = EnrollmentApiKey("win", args, opts)

    def check(_: Any) -> None:
        request, props = _registered(monitor, "win")
        assert sorted(request.additionalSecretOutputs) == [
            "api_key",
            "full_name",
            "previous_api_key",
        ]
        assert request.protect is True
        assert request.retainOnDelete is True
        assert (props["policy_id"], props["name"], props["space_id"]) == ("p1", "windows", "ops")

    return key.id.apply(check)


@pulumi.runtime.test
def test_inputs_accept_outputs(monitor: _CapturingMonitor) -> Any:
    key = EnrollmentApiKey("from-output", policy_id=pulumi.Output.from_input("p-out"))

    def check(_: Any) -> None:
        _, props = _registered(monitor, "from-output")
        assert props["policy_id"] == "p-out"

    return key.id.apply(check)


def test_missing_policy_id_fails_before_registering(monitor: _CapturingMonitor) -> None:
    with pytest.raises(
        InputError, match=r"^policy_id is required: EnrollmentApiKey 'k' needs the id"
    ):
        EnrollmentApiKey("k")
    assert "k" not in monitor.requests


@pulumi.runtime.test
def test_pickled_provider_is_a_reference_without_state(monitor: _CapturingMonitor) -> Any:
    key = EnrollmentApiKey("ref", policy_id="p1")

    def check(_: Any) -> None:
        _, props = _registered(monitor, "ref")
        # serialize_as_secret_always is off: the pickle is plain, and holds no state at all.
        assert isinstance(props["__provider"], str)
        pickled = _pickled_provider(props)
        assert b"fleet_provider.enrollment_api_key" in pickled
        assert b"EnrollmentApiKeyProvider" in pickled
        assert len(pickled) < 200
        assert isinstance(dill.loads(pickled), EnrollmentApiKeyProvider)  # noqa: S301

    return key.id.apply(check)


def test_pickle_is_identical_whatever_the_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    from pulumi.dynamic.dynamic import serialize_provider

    fresh = serialize_provider(EnrollmentApiKeyProvider())
    configured = EnrollmentApiKeyProvider()
    configured.configure(
        ConfigureRequest(
            Config(
                {
                    "fleet:endpoint": "https://kibana.example.com",
                    "fleet:apiKey": "c2VjcmV0LWFwaS1rZXk=",
                    "fleet:username": "elastic",
                    "fleet:password": "hunter2-password",
                },
                "wiring",
            )
        )
    )
    monkeypatch.setenv("KIBANA_BEARER_TOKEN", "bearer-token-value")
    pickled = serialize_provider(configured)
    assert pickled == fresh
    raw = base64.b64decode(pickled)
    for secret in (b"c2VjcmV0LWFwaS1rZXk=", b"hunter2-password", b"bearer-token-value"):
        assert secret not in raw
    assert os.environ["KIBANA_BEARER_TOKEN"] == "bearer-token-value"


def test_the_provider_is_pickled_once_however_many_keys(
    monitor: _CapturingMonitor, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pulumi.dynamic import dynamic as sdk_dynamic

    from fleet_provider import _sdk, enrollment_api_key

    calls: list[object] = []
    real = _sdk.pickle_provider

    def counting(provider: Any) -> str:
        calls.append(provider)
        return real(provider)

    monkeypatch.setattr(_sdk, "pickle_provider", counting)
    _sdk.pickled.cache_clear()
    try:
        for index in range(1200):
            EnrollmentApiKey(f"many-{index}", policy_id="p1")
        assert len(calls) == 1
        assert _sdk.pickled(enrollment_api_key._PROVIDER) == sdk_dynamic.serialize_provider(
            EnrollmentApiKeyProvider()
        )
    finally:
        _sdk.pickled.cache_clear()
