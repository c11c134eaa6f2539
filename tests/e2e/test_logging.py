"""The provider's log under the real host, and what a failure keeps of its cause: never a secret."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from fleet_provider.harness.host import HOST_SENDS_TRACEBACK
from tests.e2e.conftest import Stack
from tests.e2e.test_lifecycle import one_key
from tests.harness.engine import EngineError

pytestmark = pytest.mark.e2e

CREATE = "^/api/fleet/enrollment_api_keys$"


def test_a_retried_create_logs_one_line_per_attempt_and_a_warning_per_retry(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(env={"FLEET_PROVIDER_LOG": "debug"})
    stack.kibana.set_faults(
        {
            "seed": 1,
            "rules": [
                {"method": "POST", "path": CREATE, "action": "status", "status": 503, "times": 2}
            ],
        }
    )
    result = stack.engine.up(one_key(), stack.config())
    token = result.outputs["linux-hosts"]["api_key"]
    log = stack.host.stderr
    posts = re.findall(
        r"^fleet_provider DEBUG POST /api/fleet/enrollment_api_keys -> (\d+) in \d+ ms", log, re.M
    )
    assert posts == ["503", "503", "200"]
    retries = re.findall(
        r"^fleet_provider WARNING retrying the create of key '(linux-hosts-[0-9a-f]+)' after 503 \(ServerError\) \(attempt (\d) of 5\)$",
        log,
        re.M,
    )
    assert [attempt for _, attempt in retries] == ["1", "2"]
    assert {name for name, _ in retries} == {result.outputs["linux-hosts"]["name"]}
    for needle in (token, "changeme"):
        assert needle not in log


def test_without_the_log_setting_the_host_prints_no_log_lines(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack()
    stack.kibana.set_faults(
        {
            "seed": 1,
            "rules": [
                {"method": "POST", "path": CREATE, "action": "status", "status": 503, "times": 1}
            ],
        }
    )
    stack.engine.up(one_key(), stack.config())
    assert "fleet_provider " not in stack.host.stderr


@pytest.mark.skipif(
    not HOST_SENDS_TRACEBACK, reason="the dynamic host of pulumi < 3.260 sends no traceback"
)
def test_a_transport_failure_keeps_its_cause_without_the_credentials(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack(
        env={"HTTP_PROXY": "http://proxy-user:proxy-hunter2@127.0.0.1:9", "NO_PROXY": ""}
    )
    with pytest.raises(EngineError) as caught:
        stack.engine.up(one_key(), stack.config(maxRetries="0"))
    details = caught.value.details
    assert "fleet_provider.exceptions.UnderlyingError: requests.exceptions." in details
    assert "The above exception was the direct cause of the following exception" in details
    # A ProxyError is a TransportError that names the proxy variable in use.
    assert caught.value.last_line.startswith(
        "fleet_provider.exceptions.ProxyError: Cannot reach the proxy that HTTP_PROXY names "
        "(127.0.0.1:9)"
    )
    for needle in ("proxy-hunter2", "changeme"):
        assert needle not in details
        assert needle not in stack.host.output
