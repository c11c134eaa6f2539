"""`pulumi up` and `pulumi destroy` of examples/quickstart with the real CLI, when installed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fleet_provider.emulator import EmulatorServer
from fleet_provider.emulator.admin import KibanaAdmin

ROOT = Path(__file__).resolve().parents[2]
PULUMI = shutil.which("pulumi")

pytestmark = pytest.mark.skipif(
    PULUMI is None, reason="the pulumi CLI is not on PATH (https://www.pulumi.com/docs/install/)"
)


def _pulumi(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    assert PULUMI is not None
    return subprocess.run(
        [PULUMI, *args, "--non-interactive"],
        cwd=ROOT / "examples" / "quickstart",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_quickstart_up_and_destroy(tmp_path: Path) -> None:
    with EmulatorServer(port=0, policies=["fleet-server-policy"]) as kibana:
        env = {
            **os.environ,
            "KIBANA_ENDPOINT": kibana.url,
            "KIBANA_USERNAME": "elastic",
            "KIBANA_PASSWORD": "changeme",
            "PULUMI_BACKEND_URL": f"file://{tmp_path}",
            "PULUMI_CONFIG_PASSPHRASE": "throwaway",
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_PYTHON_CMD": sys.executable,
        }
        assert _pulumi(["stack", "init", "cli-test"], env).returncode == 0
        up = _pulumi(["up", "--yes", "--skip-preview"], env)
        assert up.returncode == 0, up.stdout + up.stderr
        outputs = json.loads(_pulumi(["stack", "output", "--json"], env).stdout)
        assert outputs["enrollment_token"] == "[secret]"
        key = KibanaAdmin(kibana.url).get_key(outputs["key_id"])
        assert key is not None and key["active"] is True
        state = _pulumi(["stack", "export"], env).stdout
        assert key["api_key"] not in state
        destroy = _pulumi(["destroy", "--yes", "--skip-preview"], env)
        assert destroy.returncode == 0, destroy.stdout + destroy.stderr
        key = KibanaAdmin(kibana.url).get_key(outputs["key_id"])
        assert key is not None and key["active"] is False
