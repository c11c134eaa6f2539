"""The /_emulator control API: request counters, reset, no credentials needed."""

from __future__ import annotations

import requests

from fleet_provider.emulator import EmulatorServer
from tests.emulator.conftest import KEYS, XSRF


def test_control_paths_need_no_credentials(server: EmulatorServer) -> None:
    assert requests.get(server.url + "/_emulator/requests", timeout=10).status_code == 200


def test_counter_counts_per_method_and_literal_path(
    server: EmulatorServer, http: requests.Session
) -> None:
    http.get(server.url + KEYS, params={"page": 1})
    http.get(server.url + KEYS)
    http.get(server.url + KEYS + "/abc")
    http.post(server.url + "/s/ops" + KEYS, headers=XSRF, json={"policy_id": "x"})
    counts = requests.get(server.url + "/_emulator/requests", timeout=10).json()
    assert counts == {
        "total": 4,
        "by_route": {
            "GET /api/fleet/enrollment_api_keys": 2,
            "GET /api/fleet/enrollment_api_keys/abc": 1,
            "POST /s/ops/api/fleet/enrollment_api_keys": 1,
        },
    }


def test_counter_counts_failed_and_unauthenticated_requests(server: EmulatorServer) -> None:
    requests.get(server.url + KEYS, timeout=10)
    requests.get(server.url + "/api/unknown", timeout=10)
    assert requests.get(server.url + "/_emulator/requests", timeout=10).json()["total"] == 2


def test_counter_ignores_control_requests(server: EmulatorServer) -> None:
    requests.get(server.url + "/_emulator/faults", timeout=10)
    requests.get(server.url + "/_emulator/requests", timeout=10)
    assert requests.get(server.url + "/_emulator/requests", timeout=10).json()["total"] == 0


def test_reset_forgets_keys_and_recreates_start_policies(
    server: EmulatorServer, http: requests.Session
) -> None:
    http.post(server.url + KEYS, headers=XSRF, json={"policy_id": "fleet-server-policy"})
    before = http.get(server.url + KEYS).json()["items"]
    assert requests.post(server.url + "/_emulator/reset", timeout=10).status_code == 200
    after = http.get(server.url + KEYS).json()["items"]
    assert len(before) == 2
    assert [item["name"].split(" (")[0] for item in after] == ["Default"]
    assert after[0]["id"] not in {item["id"] for item in before}


def test_reset_clears_counters_and_faults(server: EmulatorServer, http: requests.Session) -> None:
    plan = {"rules": [{"path": "^/api/status$", "action": "status", "status": 503}]}
    requests.post(server.url + "/_emulator/faults", json=plan, timeout=10)
    http.get(server.url + "/api/status")
    requests.post(server.url + "/_emulator/reset", timeout=10)
    assert requests.get(server.url + "/_emulator/requests", timeout=10).json()["total"] == 0
    assert http.get(server.url + "/api/status").status_code == 200


def test_reset_forgets_spaces(server: EmulatorServer, http: requests.Session) -> None:
    body = {"id": "ops", "name": "Ops"}
    http.post(server.url + "/api/spaces/space", headers=XSRF, json=body)
    server.reset()
    assert http.post(server.url + "/api/spaces/space", headers=XSRF, json=body).status_code == 200


def test_unknown_control_path_is_404(server: EmulatorServer) -> None:
    assert requests.get(server.url + "/_emulator/nothing", timeout=10).status_code == 404


def test_context_manager_stops_the_server() -> None:
    with EmulatorServer() as server:
        url = server.url
        assert requests.get(url + "/_emulator/requests", timeout=10).ok
    try:
        requests.get(url + "/_emulator/requests", timeout=2)
    except requests.ConnectionError:
        return
    raise AssertionError("the server still answers after stop()")
