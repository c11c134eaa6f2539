"""Many clients at once: nothing lost, names stay unique per policy."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import requests

from fleet_provider.emulator import EmulatorServer
from tests.emulator.conftest import AUTH, KEYS, XSRF

CLIENTS = 50
POLICY = "fleet-server-policy"


def _create_all(server: EmulatorServer, names: list[str]) -> list[requests.Response]:
    barrier = threading.Barrier(len(names))

    def create(name: str) -> requests.Response:
        session = requests.Session()
        session.auth = AUTH
        barrier.wait(timeout=30)
        return session.post(
            server.url + KEYS, headers=XSRF, json={"policy_id": POLICY, "name": name}, timeout=30
        )

    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        return list(pool.map(create, names))


def _listed(server: EmulatorServer) -> list[dict[str, object]]:
    response = requests.get(server.url + KEYS, auth=AUTH, params={"perPage": 1000}, timeout=30)
    items: list[dict[str, object]] = response.json()["items"]
    return items


def test_fifty_clients_with_distinct_names_all_succeed(server: EmulatorServer) -> None:
    responses = _create_all(server, [f"key-{i}" for i in range(CLIENTS)])
    assert [r.status_code for r in responses] == [200] * CLIENTS
    listed = _listed(server)
    assert len(listed) == CLIENTS + 1  # and the policy's Default key
    assert len({item["name"] for item in listed}) == CLIENTS + 1
    assert {r.json()["item"]["id"] for r in responses} <= {item["id"] for item in listed}


def test_fifty_clients_with_the_same_name_exactly_one_wins(server: EmulatorServer) -> None:
    responses = _create_all(server, ["shared"] * CLIENTS)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * (CLIENTS - 1)
    named = [item for item in _listed(server) if str(item["name"]).startswith("shared (")]
    assert len(named) == 1


def test_concurrent_creates_get_distinct_created_at(server: EmulatorServer) -> None:
    responses = _create_all(server, [f"key-{i}" for i in range(CLIENTS)])
    stamps = [r.json()["item"]["created_at"] for r in responses]
    assert len(set(stamps)) == CLIENTS
