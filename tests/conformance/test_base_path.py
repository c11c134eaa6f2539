"""A Kibana served under ``server.basePath`` with ``server.rewriteBasePath: true``."""

from __future__ import annotations

import pytest
import requests

from fleet_provider.emulator import EmulatorServer
from tests.conformance.target import KEYS, Target, assert_error
from tests.conftest import TEST_USERS, StartEmulator

pytestmark = pytest.mark.emulator_only("the base path is a server option")

BASE = "/kibana"


@pytest.fixture
def server(start_emulator: StartEmulator) -> EmulatorServer:
    return start_emulator(base_path=BASE, users=TEST_USERS)


@pytest.fixture
def kibana(server: EmulatorServer) -> Target:
    kibana = Target(server.url, emulator=True)
    kibana.reset()
    return kibana


def test_the_url_carries_the_base_path(server: EmulatorServer) -> None:
    assert server.url == server.root_url + BASE


def test_every_route_is_served_under_the_base_path(kibana: Target) -> None:
    assert kibana.kibana_version()
    item = kibana.create_key("fleet-server-policy", "web")
    assert kibana.get(f"{KEYS}/{item['id']}").json()["item"]["id"] == item["id"]
    assert kibana.get(KEYS, space_id="default").json()["total"] == 2


@pytest.mark.parametrize(
    "path", ["/api/status", KEYS, "/s/default" + KEYS, "/kibanas/api/status", BASE + BASE + KEYS]
)
def test_a_path_without_the_base_path_is_the_generic_404(
    server: EmulatorServer, kibana: Target, path: str
) -> None:
    del kibana
    response = requests.get(server.root_url + path, auth=("elastic", "changeme"), timeout=30)
    assert_error(response, 404, "Not Found")


def test_the_control_routes_stay_at_the_root(server: EmulatorServer, kibana: Target) -> None:
    assert requests.get(server.root_url + "/_emulator/requests", timeout=30).status_code == 200
    assert requests.get(server.url + "/_emulator/requests", timeout=30).status_code == 404
    assert kibana.request_count()["total"] >= 0


def test_the_403_message_names_the_path_without_the_base_path(server: EmulatorServer) -> None:
    viewer = Target(server.url, emulator=True, auth=("viewer", "viewer-pass"))
    response = viewer.post(KEYS, json={"policy_id": "fleet-server-policy"})
    assert_error(
        response,
        403,
        "API [POST /api/fleet/enrollment_api_keys] is unauthorized for user, this action is "
        "granted by the Kibana privileges [fleet-agents-all]",
    )


def test_the_login_redirect_keeps_the_base_path(server: EmulatorServer) -> None:
    response = requests.get(server.url + "/s/ops/app/fleet", allow_redirects=False, timeout=30)
    assert (
        response.headers["Location"] == "/kibana/s/ops/login?next=%2Fkibana%2Fs%2Fops%2Fapp%2Ffleet"
    )
