"""A stack written by the previous release keeps working: its pickled provider loads, nothing
is replaced, and refresh and destroy act on the keys it holds.

``tests/fixtures/previous_release/`` holds what fleet-provider 0.1.0 (commit cdd0f30) wrote for
the program below: the resources of its state (plain values, secret keys listed) and the
emulator's data file (``--data``) with the keys it created, against Kibana 9.5.0.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pulumi
import pytest

from fleet_provider import EnrollmentApiKey
from fleet_provider.emulator import EmulatorServer
from fleet_provider.emulator.admin import KibanaAdmin
from tests.harness.engine import Engine, Hosts, secret

pytestmark = pytest.mark.e2e

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "previous_release"
POLICY = "fleet-server-policy"


def program() -> None:
    """The program the previous release deployed."""
    auto = EnrollmentApiKey("linux-hosts", policy_id=POLICY)
    EnrollmentApiKey("edge", policy_id=POLICY, name="edge", rotate_after="3650d")
    pulumi.export("enrollment_token", auto.api_key)


def test_a_state_written_by_the_previous_release_keeps_working(tmp_path: Path) -> None:
    saved = json.loads((FIXTURE / "state.json").read_text())["resources"]
    data = tmp_path / "kibana.sqlite"
    shutil.copy(FIXTURE / "kibana.sqlite", data)
    with (
        EmulatorServer(port=0, data=data, kibana_version="9.5.0") as server,
        Hosts(exclude_env=["KIBANA_*"]) as host,
    ):
        admin = KibanaAdmin(server.url)
        engine = Engine(host, stack="previous-release")
        engine.load_state(saved)
        config = {
            "fleet:endpoint": server.url,
            "fleet:username": "elastic",
            "fleet:password": secret("changeme"),
        }
        ids = {res["id"] for res in saved}
        assert {k["id"] for k in admin.keys(POLICY) if k["active"]} >= ids
        admin.clear_request_count()

        up = engine.up(program, config)
        assert up.changes == {"same": 2}
        assert admin.request_count()["total"] == 0

        refreshed = engine.refresh()
        for res in saved:
            name = res["urn"].rsplit("::", 1)[-1]
            # A read also reports `hidden`, which a create's answer leaves out.
            assert refreshed.outputs[name].items() >= res["outputs"].items()
            assert refreshed.step(name, "refresh").detail["changes"] == "none"

        engine.destroy()
        for key_id in ids:
            key = admin.get_key(key_id)
            assert key is not None and key["active"] is False
