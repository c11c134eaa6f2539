"""Every mistake a person can make gets one line naming the cause and the fix, and no key.

Each case runs `up` through the real dynamic-provider host and asserts the exact last line the
user reads, and that Kibana holds exactly the keys it held before.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from fleet_provider import EnrollmentApiKey, EnrollmentApiKeyArgs
from fleet_provider.harness.host import as_host_shows
from tests.e2e.conftest import POLICY, Stack
from tests.harness.engine import EngineError, secret

pytestmark = pytest.mark.e2e

TYPE = "pulumi-python:dynamic/fleet:EnrollmentApiKey"
EXC = "fleet_provider.exceptions."


@dataclass
class Case:
    """One bad input: what the program declares, the config, the Kibana, and the last line."""

    id: str
    expected: str
    inputs: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] | None = None
    version: str = "9.6.0"
    faults: list[dict[str, Any]] | None = None
    before: Callable[[Stack], None] | None = None
    failing_input: str | None = None  # set for check failures: the input the CLI names
    replace_config: bool = False


def _input(id_: str, inputs: dict[str, Any], reason: str) -> Case:
    prop = next(iter(k for k in inputs if k != "policy_id"), "policy_id")
    return Case(id_, reason, {"policy_id": POLICY, **inputs}, failing_input=prop)


def _config(id_: str, config: dict[str, Any], message: str, replace: bool = False) -> Case:
    # check resolves the settings, so preview reports a bad one as a check failure.
    expected = f"{TYPE} resource 'k' has a problem: {message}"
    return Case(id_, expected, config=config, replace_config=replace)


INPUT_CASES = [
    _input("empty policy_id", {"policy_id": ""}, "policy_id must not be empty: set it to the id of an agent policy"),
    _input("blank policy_id", {"policy_id": "  "}, "policy_id must not be empty: set it to the id of an agent policy"),
    _input("numeric policy_id", {"policy_id": 42.0}, "policy_id must be a string, not float"),
    _input("empty name", {"name": ""}, "name must not be empty: give a name, or leave it out for an automatic one"),
    _input("padded name", {"name": " web"}, "name ' web' has leading or trailing spaces: remove them"),
    _input("numeric name", {"name": 7.0}, "name must be a string, not float"),
    _input("unknown unit", {"expiration": "1y"}, "expiration '1y' is not a duration: use a whole number followed by d, h, m or s, e.g. 30d, 24h, 90m, 60s"),
    _input("zero duration", {"expiration": "0d"}, "expiration '0d' is not a duration: use a whole number followed by d, h, m or s, e.g. 30d, 24h, 90m, 60s"),
    _input("too long", {"expiration": "106752d"}, "expiration '106752d' is longer than Elasticsearch allows: at most 106751d"),
    _input("timestamp beyond Kibana's longest expiry", {"expiration": "2400-01-01T00:00:00Z"}, "expiration '2400-01-01T00:00:00Z' is more than 9223286400 seconds (about 292 years) from now, the longest expiry Kibana takes: give an earlier time"),
    _input("naive timestamp", {"expiration": "2099-01-01T00:00:00"}, "expiration '2099-01-01T00:00:00' has no time zone: add Z or an offset such as +02:00"),
    _input("prose expiration", {"expiration": "next week"}, "expiration 'next week' is neither a duration (30d, 24h, 90m, 60s) nor an ISO-8601 timestamp (2027-01-01T00:00:00Z)"),
    _input("numeric expiration", {"expiration": 30.0}, "expiration must be a string such as 90d, not float"),
    _input("space display name", {"space_id": "My Space"}, "space_id 'My Space' is not a Kibana space id: use lower-case letters, digits, '_' and '-'"),
]  # fmt: skip

CONFIG_CASES = [
    _config(
        "no endpoint",
        {},
        "No Kibana endpoint configured: set the stack config fleet:endpoint (pulumi config set "
        "fleet:endpoint https://kibana.example.com:5601) or the environment variable "
        "KIBANA_ENDPOINT.",
        replace=True,
    ),
    _config(
        "endpoint without scheme",
        {"fleet:endpoint": "kibana:5601"},
        "The Kibana endpoint 'kibana:5601' is not an http(s) URL: set fleet:endpoint (or "
        "KIBANA_ENDPOINT) to e.g. https://kibana.example.com:5601.",
    ),
    _config(
        "credentials in endpoint",
        {"fleet:endpoint": "https://elastic:hunter2@kibana.example.com"},
        "The Kibana endpoint must not carry credentials in the URL: set "
        "fleet:username/fleet:password (or KIBANA_USERNAME/KIBANA_PASSWORD) instead.",
    ),
    _config(
        "username without password",
        {"fleet:endpoint": "{url}", "fleet:username": "elastic"},
        "fleet:username is set but fleet:password is not: basic authentication needs both "
        "(pulumi config set --secret fleet:password ...).",
        replace=True,
    ),
    _config(
        "timeout not a number",
        {"fleet:timeout": "soon"},
        "fleet:timeout must be a positive number of seconds per HTTP attempt, not 'soon'.",
    ),
    _config(
        "insecure not a boolean",
        {"fleet:insecure": "maybe"},
        "fleet:insecure must be true or false, not 'maybe'.",
    ),
    _config(
        "space display name in config",
        {"fleet:spaceId": "Ops Team"},
        "fleet:spaceId 'Ops Team' is not a Kibana space id: use lower-case letters, digits, '_' "
        "and '-' (the id in /s/<id>/app/..., not the display name).",
    ),
    _config(
        "missing CA file",
        {"fleet:caCerts": "/nonexistent/ca.pem"},
        "fleet:caCerts names '/nonexistent/ca.pem', which is not a readable file: point it at a "
        "PEM file holding the CA certificate that signed Kibana's certificate.",
    ),
    _config(
        "retries not a number",
        {"fleet:maxRetries": "many"},
        "fleet:maxRetries must be a whole number of retries from 0 to 20, not 'many'.",
    ),
]

SERVER_CASES = [
    Case(
        "wrong password",
        f"{TYPE} resource 'k' has a problem: Kibana answered 401: [security_exception: [security_exception] "
        "Reason: unable to authenticate user [elastic] for REST request [/_security/_authenticate]]: "
        "unable to authenticate user [elastic] for REST request [/_security/_authenticate]. Kibana "
        "did not accept the credentials (user 'elastic' from fleet:username/fleet:password): set "
        "fleet:apiKey (KIBANA_API_KEY), fleet:username/fleet:password "
        "(KIBANA_USERNAME/KIBANA_PASSWORD) or fleet:bearerToken (KIBANA_BEARER_TOKEN)",
        config={"fleet:password": secret("not-the-password")},
    ),
    Case(
        "missing privilege",
        f"{EXC}AuthorizationError: Kibana answered 403: API [POST /api/fleet/enrollment_api_keys] "
        "is unauthorized for user, this action is granted by the Kibana privileges "
        "[fleet-agents-all]. Give the role behind user 'viewer' from "
        "fleet:username/fleet:password the Kibana privilege fleet-agents-all (Fleet: All, or "
        "Agents: All) in space 'default'",
        config={"fleet:username": "viewer", "fleet:password": secret("viewer-pass")},
    ),
    Case(
        "unknown policy",
        f'{EXC}PolicyNotFoundError: Kibana answered 404: Agent policy "nope" not found. Searched '
        "in Kibana space 'default': check policy_id, and set space_id (or fleet:spaceId) if the "
        "policy lives in another space",
        inputs={"policy_id": "nope"},
    ),
    Case(
        "unknown policy on 8.x",
        f'{EXC}PolicyNotFoundError: Kibana answered 400: Agent policy "nope" not found. Searched '
        "in Kibana space 'default': check policy_id, and set space_id (or fleet:spaceId) if the "
        "policy lives in another space",
        inputs={"policy_id": "nope"},
        version="8.14.0",
    ),
    Case(
        "duplicate name",
        f"{EXC}DuplicateNameError: Kibana answered 409: an active enrollment key named 'taken' "
        "already exists on agent policy 'fleet-server-policy' (id {taken}). If it is this "
        "resource's key (say, from a run that failed), set adopt_existing=True to take it over; "
        "else choose another name",
        inputs={"name": "taken"},
        before=lambda stack: stack.kibana.create_key(POLICY, "taken"),
    ),
    Case(
        "expiration on a Kibana that ignores it",
        f"{EXC}UnsupportedVersionError: Kibana 9.2.0 ignores expiration (it is honoured only by "
        "8.19, 9.3, 9.4 and 9.5 patch releases with elastic/kibana#281324, and later releases): "
        "remove expiration, or upgrade Kibana, to create this key",
        inputs={"expiration": "30d"},
        version="9.2.0",
    ),
    Case(
        "nothing listening",
        f"{EXC}TransportError: Cannot reach Kibana at http://127.0.0.1:{{free_port}} "
        "(connection refused): check fleet:endpoint (or KIBANA_ENDPOINT) and that Kibana is "
        "running and reachable from here.",
        config={"fleet:endpoint": "http://127.0.0.1:{free_port}", "fleet:maxRetries": "0"},
    ),
    Case(
        "TLS to a plain HTTP port",
        f"{EXC}TLSError: TLS with Kibana at https://127.0.0.1:{{port}} failed: it answers plain "
        "HTTP on that port, not TLS: set fleet:endpoint (or KIBANA_ENDPOINT) to "
        "http://127.0.0.1:{port}, or to the port where Kibana serves TLS.",
        config={"fleet:endpoint": "https://127.0.0.1:{port}"},
    ),
    Case(
        "a proxy's HTML page",
        f"{EXC}UnexpectedResponseError: Kibana answered 502: an HTML page (status 502) instead "
        "of JSON from {url}. A proxy or load balancer in front of Kibana answered: check that "
        "Kibana is up and that fleet:endpoint (or KIBANA_ENDPOINT) is Kibana's base URL. The key "
        "may exist in Kibana: the next pulumi up adopts it",
        config={"fleet:maxRetries": "0"},
        faults=[{"method": "*", "path": "^/api/", "action": "html", "status": 502}],
    ),
    Case(
        "a cut-off body",
        f"{EXC}UnexpectedResponseError: Kibana answered 200: a body that is not JSON (status "
        "200) from {url}. The answer was cut off or did not come from Kibana: retry, or check "
        "the proxy. The key may exist in Kibana: the next pulumi up adopts it",
        config={"fleet:maxRetries": "0"},
        faults=[{"method": "*", "path": "^/api/", "action": "garbage"}],
    ),
    Case(
        "Kibana unavailable",
        f"{EXC}ServerError: Kibana answered 503: Service Unavailable. Kibana failed while "
        "handling the request: retry later, and check Kibana's log. The key may exist in "
        "Kibana: the next pulumi up adopts it",
        config={"fleet:maxRetries": "0"},
        faults=[{"method": "*", "path": "^/api/", "action": "status", "status": 503}],
    ),
]

CASES = INPUT_CASES + CONFIG_CASES + SERVER_CASES


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _fill(text: str, values: dict[str, Any]) -> str:
    for key, value in values.items():
        text = text.replace("{" + key + "}", str(value))
    return text


def _all_keys(stack: Stack) -> list[tuple[str, bool]]:
    response = stack.kibana.http.get(
        f"{stack.url}/api/fleet/enrollment_api_keys", params={"perPage": 10000}, timeout=10
    )
    response.raise_for_status()
    return sorted((item["id"], item["active"]) for item in response.json()["items"])


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_gets_one_clear_line_and_creates_nothing(
    case: Case, make_stack: Callable[..., Stack]
) -> None:
    stack = make_stack(case.version)
    values: dict[str, Any] = {
        "url": stack.url,
        "port": stack.url.rsplit(":", 1)[1],
        "free_port": _free_port(),
    }
    if case.before is not None:
        case.before(stack)
        values["taken"] = next(k["id"] for k in stack.kibana.keys(POLICY) if "taken" in k["name"])
    config = {} if case.replace_config else stack.config()
    for key, value in (case.config or {}).items():
        config[key] = _fill(value, values) if isinstance(value, str) else value
    if case.faults is not None:
        requests.post(
            f"{stack.url}/_emulator/faults", json={"seed": 1, "rules": case.faults}, timeout=10
        ).raise_for_status()
    keys_before = _all_keys_without_faults(stack, case)

    def program() -> None:
        EnrollmentApiKey("k", EnrollmentApiKeyArgs(**{"policy_id": POLICY, **case.inputs}))

    with pytest.raises(EngineError) as caught:
        stack.engine.up(program, config)
    if case.failing_input is not None:
        assert caught.value.last_line.startswith(
            f"{TYPE} resource 'k': property {case.failing_input} value "
        )
        assert caught.value.last_line.endswith(f" has a problem: {case.expected}")
    else:
        assert caught.value.last_line == as_host_shows(_fill(case.expected, values))
    if case.faults is not None:
        requests.delete(f"{stack.url}/_emulator/faults", timeout=10).raise_for_status()
    assert _all_keys(stack) == keys_before
    assert stack.engine.state == {}
    for leaked in ("not-the-password", "viewer-pass", "hunter2", "changeme"):
        assert leaked not in caught.value.details


def _all_keys_without_faults(stack: Stack, case: Case) -> list[tuple[str, bool]]:
    if case.faults is None:
        return _all_keys(stack)
    requests.delete(f"{stack.url}/_emulator/faults", timeout=10).raise_for_status()
    keys = _all_keys(stack)
    requests.post(
        f"{stack.url}/_emulator/faults", json={"seed": 1, "rules": case.faults}, timeout=10
    ).raise_for_status()
    return keys


def test_the_table_covers_inputs_configuration_and_server_answers() -> None:
    assert len(CASES) >= 25
    assert min(len(INPUT_CASES), len(CONFIG_CASES), len(SERVER_CASES)) >= 8
