"""Fault injection: each action, matching, limits, seeded determinism, plan errors."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from fleet_provider.emulator import EmulatorServer
from tests.emulator.conftest import AUTH, KEYS, XSRF

POLICY = "fleet-server-policy"


def _load(server: EmulatorServer, *rules: dict[str, Any], seed: int = 7) -> None:
    response = requests.post(
        server.url + "/_emulator/faults", json={"seed": seed, "rules": list(rules)}, timeout=10
    )
    assert response.status_code == 200, response.text


def _key_count(server: EmulatorServer) -> int:
    total: int = requests.get(server.url + KEYS, auth=AUTH, timeout=10).json()["total"]
    return total


def _create(server: EmulatorServer) -> requests.Response:
    return requests.post(
        server.url + KEYS, auth=AUTH, headers=XSRF, json={"policy_id": POLICY}, timeout=10
    )


def test_status_fault_answers_the_status_with_retry_after(server: EmulatorServer) -> None:
    _load(server, {"path": "^/api/status$", "action": "status", "status": 429, "retry_after": 2})
    response = requests.get(server.url + "/api/status", auth=AUTH, timeout=10)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "2"
    assert response.json() == {
        "statusCode": 429,
        "error": "Too Many Requests",
        "message": "Too Many Requests",
    }


def test_status_fault_does_not_process_the_request(server: EmulatorServer) -> None:
    _load(server, {"method": "POST", "path": KEYS, "action": "status", "status": 503})
    assert _create(server).status_code == 503
    assert _key_count(server) == 1


def test_html_fault_answers_a_proxy_error_page(server: EmulatorServer) -> None:
    _load(server, {"path": ".", "action": "html", "status": 502})
    response = requests.get(server.url + KEYS, auth=AUTH, timeout=10)
    assert response.status_code == 502
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<h1>502 Bad Gateway</h1>" in response.text


def test_garbage_fault_answers_200_with_truncated_json(server: EmulatorServer) -> None:
    _load(server, {"method": "POST", "path": KEYS, "action": "garbage"})
    response = _create(server)
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()
    assert _key_count(server) == 1


def test_delay_fault_answers_late_but_normally(server: EmulatorServer) -> None:
    _load(server, {"path": "^/api/status$", "action": "delay", "delay_ms": 300})
    started = time.monotonic()
    response = requests.get(server.url + "/api/status", auth=AUTH, timeout=10)
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.3


def test_reset_fault_closes_the_connection_before_processing(server: EmulatorServer) -> None:
    _load(server, {"method": "POST", "path": KEYS, "action": "reset", "times": 1})
    with pytest.raises(requests.ConnectionError):
        _create(server)
    assert _key_count(server) == 1


def test_drop_after_commit_creates_the_key_but_never_answers(server: EmulatorServer) -> None:
    _load(server, {"method": "POST", "path": KEYS, "action": "drop_after_commit", "times": 1})
    with pytest.raises(requests.ConnectionError):
        _create(server)
    assert _key_count(server) == 2


def test_times_limits_how_often_a_rule_fires(server: EmulatorServer) -> None:
    _load(server, {"path": "^/api/status$", "action": "status", "status": 503, "times": 2})
    statuses = [
        requests.get(server.url + "/api/status", auth=AUTH, timeout=10).status_code
        for _ in range(4)
    ]
    assert statuses == [503, 503, 200, 200]


def test_probability_zero_never_fires(server: EmulatorServer) -> None:
    _load(server, {"path": ".", "action": "status", "status": 503, "probability": 0})
    assert requests.get(server.url + "/api/status", auth=AUTH, timeout=10).status_code == 200


def test_rule_matches_method_exactly(server: EmulatorServer) -> None:
    _load(server, {"method": "POST", "path": KEYS, "action": "status", "status": 503})
    assert requests.get(server.url + KEYS, auth=AUTH, timeout=10).status_code == 200


def test_rule_path_is_searched_including_the_space_prefix(server: EmulatorServer) -> None:
    _load(server, {"method": "*", "path": "^/s/ops/", "action": "status", "status": 503})
    assert requests.get(server.url + "/s/ops" + KEYS, auth=AUTH, timeout=10).status_code == 503
    assert requests.get(server.url + KEYS, auth=AUTH, timeout=10).status_code == 200


def test_faults_never_apply_to_control_paths(server: EmulatorServer) -> None:
    _load(server, {"path": ".", "action": "status", "status": 503})
    assert requests.get(server.url + "/_emulator/requests", timeout=10).status_code == 200


def test_first_matching_rule_wins(server: EmulatorServer) -> None:
    _load(
        server,
        {"path": "status", "action": "status", "status": 429},
        {"path": "status", "action": "status", "status": 503},
    )
    assert requests.get(server.url + "/api/status", auth=AUTH, timeout=10).status_code == 429


def _decisions(server: EmulatorServer, seed: int) -> list[int]:
    server.reset()
    _load(
        server,
        {"path": "^/api/status$", "action": "status", "status": 503, "probability": 0.5},
        seed=seed,
    )
    session = requests.Session()
    session.auth = AUTH
    return [session.get(server.url + "/api/status", timeout=10).status_code for _ in range(40)]


def test_same_seed_gives_the_same_decisions(server: EmulatorServer) -> None:
    first, second = _decisions(server, 7), _decisions(server, 7)
    assert first == second
    assert 200 in first and 503 in first


def test_another_seed_gives_other_decisions(server: EmulatorServer) -> None:
    assert _decisions(server, 7) != _decisions(server, 8)


def test_delete_faults_clears_the_plan(server: EmulatorServer) -> None:
    _load(server, {"path": ".", "action": "status", "status": 503})
    requests.delete(server.url + "/_emulator/faults", timeout=10)
    assert requests.get(server.url + "/api/status", auth=AUTH, timeout=10).status_code == 200


def test_get_faults_shows_the_plan_and_firings(server: EmulatorServer) -> None:
    _load(server, {"path": "^/api/status$", "action": "status", "status": 503})
    requests.get(server.url + "/api/status", auth=AUTH, timeout=10)
    plan = requests.get(server.url + "/_emulator/faults", timeout=10).json()
    assert plan["seed"] == 7
    assert plan["rules"][0]["fired"] == 1


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        ([], "invalid fault plan: expected a JSON object with seed and rules"),
        (
            {"rules": [{"action": "explode"}]},
            "invalid fault plan: rules[0].action: expected one of "
            "status, html, garbage, delay, reset, drop_after_commit, "
            "truncate, commit_late, commit_then_status",
        ),
        (
            {"rules": [{"action": "status"}]},
            "invalid fault plan: rules[0].status: expected an HTTP status between 100 and 599",
        ),
        (
            {"rules": [{"action": "reset", "path": "("}]},
            "invalid fault plan: rules[0].path: invalid regular expression: "
            "missing ), unterminated subpattern at position 0",
        ),
        (
            {"rules": [{"action": "reset", "probability": 2}]},
            "invalid fault plan: rules[0].probability: expected a number between 0 and 1",
        ),
        (
            {"rules": [{"action": "reset", "times": 0}]},
            "invalid fault plan: rules[0].times: expected a positive integer",
        ),
        (
            {"rules": [{"action": "delay"}]},
            "invalid fault plan: rules[0].delay_ms: expected a number of milliseconds >= 0",
        ),
        (
            {"rules": [{"action": "reset", "when": "now"}]},
            "invalid fault plan: rules[0].when: unknown key",
        ),
        ({"seed": "x"}, "invalid fault plan: seed: expected an integer"),
    ],
)
def test_invalid_fault_plan_is_400(server: EmulatorServer, plan: Any, message: str) -> None:
    response = requests.post(server.url + "/_emulator/faults", json=plan, timeout=10)
    assert (response.status_code, response.json()) == (
        400,
        {"statusCode": 400, "error": "Bad Request", "message": message},
    )


def test_invalid_fault_json_is_400(server: EmulatorServer) -> None:
    response = requests.post(server.url + "/_emulator/faults", data="{", timeout=10)
    assert response.status_code == 400
    assert response.json()["message"].startswith("invalid fault plan: invalid JSON: ")


def test_fault_plan_from_a_file_at_start(tmp_path: Path) -> None:
    plan = tmp_path / "faults.json"
    plan.write_text(json.dumps({"rules": [{"path": "status", "action": "status", "status": 503}]}))
    with EmulatorServer(faults=plan) as other:
        assert requests.get(other.url + "/api/status", auth=AUTH, timeout=10).status_code == 503
