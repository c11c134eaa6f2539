"""Faults that store a request's effect and then spoil its answer, or store it late."""

from __future__ import annotations

import http.client
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from fleet_provider.emulator import EmulatorServer
from tests.emulator.conftest import AUTH, KEYS, XSRF

POLICY = "fleet-server-policy"
BASIC = {"Authorization": "Basic ZWxhc3RpYzpjaGFuZ2VtZQ==", **XSRF}


def _load(server: EmulatorServer, *rules: dict[str, Any]) -> dict[str, Any]:
    response = requests.post(
        server.url + "/_emulator/faults", json={"seed": 1, "rules": list(rules)}, timeout=10
    )
    assert response.status_code == 200, response.text
    plan: dict[str, Any] = response.json()
    return plan


def _key_count(server: EmulatorServer) -> int:
    total: int = requests.get(server.url + KEYS, auth=AUTH, timeout=10).json()["total"]
    return total


def _create(server: EmulatorServer, timeout: float = 10) -> requests.Response:
    return requests.post(
        server.url + KEYS, auth=AUTH, headers=XSRF, json={"policy_id": POLICY}, timeout=timeout
    )


def _raw_create(server: EmulatorServer) -> tuple[int, int, bytes]:
    """POST a key over http.client: status, announced Content-Length, body bytes received."""
    address = urlsplit(server.url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=10)
    headers = {**BASIC, "Content-Type": "application/json"}
    connection.request("POST", KEYS, body=b'{"policy_id": "fleet-server-policy"}', headers=headers)
    response = connection.getresponse()
    length = int(response.getheader("Content-Length") or -1)
    try:
        body = response.read()
    except http.client.IncompleteRead as cut:
        body = cut.partial
    connection.close()
    return response.status, length, body


# -- truncate ---------------------------------------------------------------------------
def test_truncate_stores_the_key_and_cuts_the_answer(server: EmulatorServer) -> None:
    _load(server, {"method": "POST", "path": KEYS, "action": "truncate", "times": 1})
    with pytest.raises(requests.exceptions.ChunkedEncodingError, match="IncompleteRead"):
        _create(server)
    assert _key_count(server) == 2


def test_truncate_announces_the_full_length_and_sends_half_by_default(
    server: EmulatorServer,
) -> None:
    _load(server, {"method": "POST", "path": KEYS, "action": "truncate", "times": 1})
    status, length, body = _raw_create(server)
    assert status == 200
    assert len(body) == length // 2
    assert body.startswith(b'{"item":{')


def test_truncate_bytes_sends_exactly_that_many(server: EmulatorServer) -> None:
    _load(server, {"method": "POST", "path": KEYS, "action": "truncate", "bytes": 5})
    _, length, body = _raw_create(server)
    assert (len(body), body) == (5, b'{"ite')
    assert length > 5


def test_truncate_fraction_zero_sends_only_the_head(server: EmulatorServer) -> None:
    _load(server, {"method": "POST", "path": KEYS, "action": "truncate", "fraction": 0})
    _, length, body = _raw_create(server)
    assert (body, length > 0) == (b"", True)


def test_truncate_never_sends_the_whole_body(server: EmulatorServer) -> None:
    _load(server, {"method": "POST", "path": KEYS, "action": "truncate", "bytes": 10**6})
    _, length, body = _raw_create(server)
    assert len(body) == length - 1


# -- commit_late ------------------------------------------------------------------------
def test_commit_late_stores_the_key_only_after_the_client_gave_up(
    server: EmulatorServer,
) -> None:
    _load(server, {"method": "POST", "path": KEYS, "action": "commit_late", "delay_ms": 800})
    with pytest.raises(requests.exceptions.ReadTimeout):
        _create(server, timeout=0.2)
    assert _key_count(server) == 1
    deadline = time.monotonic() + 5
    while _key_count(server) == 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _key_count(server) == 2


def test_commit_late_keeps_serving_other_requests(server: EmulatorServer) -> None:
    _load(server, {"method": "POST", "path": KEYS, "action": "commit_late", "delay_ms": 1500})
    held = threading.Thread(target=lambda: _create(server, timeout=5))
    held.start()
    time.sleep(0.1)
    started = time.monotonic()
    assert requests.get(server.url + "/api/status", auth=AUTH, timeout=5).status_code == 200
    assert time.monotonic() - started < 0.5
    held.join(timeout=10)


def test_commit_late_answers_normally_to_a_patient_client(server: EmulatorServer) -> None:
    _load(server, {"method": "POST", "path": KEYS, "action": "commit_late", "delay_ms": 200})
    started = time.monotonic()
    response = _create(server)
    assert (response.status_code, response.json()["action"]) == (200, "created")
    assert time.monotonic() - started >= 0.2


def test_commit_late_then_drop_stores_the_key_and_hangs_up(server: EmulatorServer) -> None:
    rule = {"method": "POST", "path": KEYS, "action": "commit_late", "delay_ms": 100}
    _load(server, {**rule, "then": "drop"})
    with pytest.raises(requests.ConnectionError):
        _create(server)
    assert _key_count(server) == 2


def test_reset_cancels_a_held_commit(server: EmulatorServer) -> None:
    _load(server, {"method": "POST", "path": KEYS, "action": "commit_late", "delay_ms": 600})
    with pytest.raises(requests.exceptions.ReadTimeout):
        _create(server, timeout=0.1)
    requests.post(server.url + "/_emulator/reset", timeout=10)
    time.sleep(0.8)
    assert _key_count(server) == 1


# -- commit_then_status -----------------------------------------------------------------
def test_commit_then_status_stores_the_key_and_answers_the_status(
    server: EmulatorServer,
) -> None:
    rule = {"method": "POST", "path": KEYS, "action": "commit_then_status", "status": 503}
    _load(server, {**rule, "retry_after": 1})
    response = _create(server)
    assert (response.status_code, response.json()) == (
        503,
        {"statusCode": 503, "error": "Service Unavailable", "message": "Service Unavailable"},
    )
    assert response.headers["Retry-After"] == "1"
    assert _key_count(server) == 2


def test_commit_then_status_defaults_to_kibanas_bare_500(server: EmulatorServer) -> None:
    _load(server, {"method": "POST", "path": KEYS, "action": "commit_then_status"})
    response = _create(server)
    assert (response.status_code, response.json()) == (
        500,
        {
            "statusCode": 500,
            "error": "Internal Server Error",
            "message": "An internal server error occurred",
        },
    )


def test_commit_then_status_with_a_proxy_page(server: EmulatorServer) -> None:
    rule = {"method": "POST", "path": KEYS, "action": "commit_then_status", "status": 502}
    _load(server, {**rule, "body": "html"})
    response = _create(server)
    assert response.status_code == 502
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<h1>502 Bad Gateway</h1>" in response.text
    assert _key_count(server) == 2


# -- the plan ---------------------------------------------------------------------------
def test_plan_shows_the_defaults_of_the_new_actions(server: EmulatorServer) -> None:
    rules = _load(
        server,
        {"action": "truncate"},
        {"action": "commit_late"},
        {"action": "commit_then_status"},
    )["rules"]
    assert [
        {k: v for k, v in rule.items() if k in ("fraction", "delay_ms", "then", "status", "body")}
        for rule in rules
    ] == [
        {"fraction": 0.5},
        {"delay_ms": 3000.0, "then": "answer"},
        {"status": 500, "body": "json"},
    ]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            {"action": "truncate", "fraction": 1},
            "rules[0].fraction: expected a number >= 0 and < 1",
        ),
        ({"action": "truncate", "bytes": -1}, "rules[0].bytes: expected an integer >= 0"),
        (
            {"action": "truncate", "bytes": 3, "fraction": 0.2},
            "rules[0].bytes: give fraction or bytes, not both",
        ),
        (
            {"action": "status", "status": 503, "bytes": 3},
            "rules[0].bytes: only for the truncate action",
        ),
        (
            {"action": "truncate", "status": 500},
            "rules[0].status: only for the status, html and commit_then_status actions",
        ),
        ({"action": "commit_late", "then": "later"}, "rules[0].then: expected answer or drop"),
        (
            {"action": "commit_late", "delay_ms": -1},
            "rules[0].delay_ms: expected a number of milliseconds >= 0",
        ),
        (
            {"action": "delay", "delay_ms": 1, "then": "drop"},
            "rules[0].then: only for the commit_late action",
        ),
        ({"action": "commit_then_status", "body": "xml"}, "rules[0].body: expected json or html"),
        (
            {"action": "commit_then_status", "status": 600},
            "rules[0].status: expected an HTTP status between 100 and 599",
        ),
    ],
)
def test_invalid_new_action_parameters_are_400(
    server: EmulatorServer, rule: dict[str, Any], message: str
) -> None:
    response = requests.post(server.url + "/_emulator/faults", json={"rules": [rule]}, timeout=10)
    assert (response.status_code, response.json()["message"]) == (
        400,
        f"invalid fault plan: {message}",
    )
