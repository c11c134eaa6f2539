"""The provider under injected faults: retries, no duplicate or orphaned keys, clear errors."""

from __future__ import annotations

import http.server
import threading
from typing import Any, ClassVar

import pytest
import requests

from fleet_provider.client import FleetClient
from fleet_provider.config import resolve_settings
from fleet_provider.emulator import EmulatorServer
from fleet_provider.emulator.admin import KibanaAdmin
from fleet_provider.enrollment_api_key import EnrollmentApiKeyProvider
from fleet_provider.exceptions import ProxyError, ServerError, TLSError, TransportError
from fleet_provider.model import KeyRequest
from fleet_provider.operations import create_once
from tests.providers import configured_provider

POLICY = "fleet-server-policy"
CREATE = "^/api/fleet/enrollment_api_keys$"
ONE_KEY = "^/api/fleet/enrollment_api_keys/"


def inject(url: str, *rules: dict[str, Any], seed: int = 1) -> None:
    requests.post(
        f"{url}/_emulator/faults", json={"seed": seed, "rules": list(rules)}, timeout=10
    ).raise_for_status()


def create(provider: EnrollmentApiKeyProvider, **news: Any) -> tuple[str, dict[str, Any]]:
    checked = provider.check({}, {"policy_id": POLICY, "resource_name": "r", **news})
    result = provider.create(checked.inputs)
    assert result.outs is not None
    return result.id, result.outs


def test_a_create_whose_answer_is_lost_is_adopted_not_repeated(
    emulator: EmulatorServer, admin: KibanaAdmin
) -> None:
    inject(
        emulator.url, {"method": "POST", "path": CREATE, "action": "drop_after_commit", "times": 1}
    )
    key_id, outs = create(configured_provider(emulator.url))
    named = [k for k in admin.keys(POLICY) if k["name"].startswith(outs["name"])]
    assert [k["id"] for k in named] == [key_id]
    assert admin.request_count()["by_route"]["POST /api/fleet/enrollment_api_keys"] == 1
    assert outs["api_key"] == named[0]["api_key"]


def test_a_create_reset_before_processing_is_sent_again(
    emulator: EmulatorServer, admin: KibanaAdmin
) -> None:
    inject(emulator.url, {"method": "POST", "path": CREATE, "action": "reset", "times": 2})
    key_id, outs = create(configured_provider(emulator.url))
    named = [k for k in admin.keys(POLICY) if k["name"].startswith(outs["name"])]
    assert [k["id"] for k in named] == [key_id]


def test_a_create_that_keeps_failing_leaves_no_key(
    emulator: EmulatorServer, admin: KibanaAdmin
) -> None:
    inject(emulator.url, {"method": "POST", "path": CREATE, "action": "status", "status": 503})
    before = len(admin.keys(POLICY))
    with pytest.raises(ServerError, match=r"^Kibana answered 503"):
        create(configured_provider(emulator.url, maxRetries="2"))
    requests.delete(f"{emulator.url}/_emulator/faults", timeout=10)
    assert len(admin.keys(POLICY)) == before
    assert admin.request_count()["by_route"]["POST /api/fleet/enrollment_api_keys"] == 3


def test_reads_and_revokes_retry_429_honouring_retry_after(
    emulator: EmulatorServer, admin: KibanaAdmin
) -> None:
    provider = configured_provider(emulator.url)
    key_id, outs = create(provider)
    inject(
        emulator.url,
        {
            "method": "*",
            "path": ONE_KEY,
            "action": "status",
            "status": 429,
            "retry_after": 0,
            "times": 2,
        },
    )
    assert provider.read(key_id, outs).id == key_id
    inject(
        emulator.url,
        {"method": "DELETE", "path": ONE_KEY, "action": "html", "status": 502, "times": 2},
    )
    provider.delete(key_id, outs)
    assert admin.get_key(key_id)["active"] is False


def test_a_revoke_whose_answer_is_lost_is_done(
    emulator: EmulatorServer, admin: KibanaAdmin
) -> None:
    provider = configured_provider(emulator.url)
    key_id, outs = create(provider)
    inject(
        emulator.url,
        {"method": "DELETE", "path": ONE_KEY, "action": "drop_after_commit", "times": 1},
    )
    provider.delete(key_id, outs)
    assert admin.get_key(key_id)["active"] is False


def test_reads_give_up_with_a_clear_error(emulator: EmulatorServer, admin: KibanaAdmin) -> None:
    provider = configured_provider(emulator.url, maxRetries="1")
    key_id, outs = create(provider)
    inject(emulator.url, {"method": "GET", "path": ONE_KEY, "action": "reset"})
    with pytest.raises(TransportError) as caught:
        provider.read(key_id, outs)
    assert str(caught.value) == (
        f"Cannot reach Kibana at {emulator.url} (the connection closed without an answer): check "
        "fleet:endpoint (or KIBANA_ENDPOINT) and that Kibana is running and reachable from here."
    )


def test_timeouts_apply_per_attempt(emulator: EmulatorServer, admin: KibanaAdmin) -> None:
    provider = configured_provider(emulator.url, timeout="0.2", maxRetries="0")
    key_id, outs = create(provider)
    inject(emulator.url, {"method": "GET", "path": ONE_KEY, "action": "delay", "delay_ms": 1000})
    with pytest.raises(TransportError) as caught:
        provider.read(key_id, outs)
    assert str(caught.value) == (
        f"Kibana at {emulator.url} did not answer within 0.2s: raise fleet:timeout, or check "
        "Kibana's health."
    )


def test_a_tls_failure_fails_create_read_and_delete_alike_without_retrying(
    emulator: EmulatorServer, admin: KibanaAdmin
) -> None:
    # TLS to the emulator's plain-http port fails the handshake the same way every time.
    sleeps: list[float] = []
    settings = resolve_settings(
        {
            "fleet:endpoint": emulator.url.replace("http://", "https://"),
            "fleet:username": "elastic",
            "fleet:password": "changeme",
        },
        {},
    )
    client = FleetClient(settings, sleep=sleeps.append)
    before = len(admin.keys(POLICY))
    calls = {
        "create": lambda: create_once(client, KeyRequest(POLICY, "tls-key", "default")),
        "read": lambda: client.get_enrollment_api_key("some-id"),
        "delete": lambda: client.delete_enrollment_api_key("some-id"),
    }
    for name, call in calls.items():
        with pytest.raises(TLSError, match=r"^TLS with Kibana at https://"):
            call()
        assert sleeps == [], f"{name} was retried"
    assert len(admin.keys(POLICY)) == before


class _RefusingProxy(http.server.BaseHTTPRequestHandler):
    """A forward proxy that wants credentials it was not given: 407 to every request."""

    seen: ClassVar[list[str]] = []

    def _refuse(self) -> None:
        self.seen.append(f"{self.command} {self.path}")
        self.send_response(407, "Proxy Authentication Required")
        self.send_header("Proxy-Authenticate", 'Basic realm="proxy"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_DELETE = do_CONNECT = _refuse

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reads ``seen``."""


def test_a_proxy_refusing_its_credentials_fails_create_read_and_delete_without_retrying(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A 407 answers the same credentials the same way every time; the create loop, which
    # retries transport failures, must not take it for one.
    _RefusingProxy.seen = []
    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RefusingProxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        variables = {"HTTP_PROXY": f"http://127.0.0.1:{proxy.server_address[1]}"}
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        settings = resolve_settings(
            {
                "fleet:endpoint": "http://kibana.invalid:5601",
                "fleet:username": "elastic",
                "fleet:password": "changeme",
            },
            variables,
        )
        sleeps: list[float] = []
        client = FleetClient(settings, sleep=sleeps.append)
        calls = {
            "create": lambda: create_once(client, KeyRequest(POLICY, "proxied-key", "default")),
            "read": lambda: client.get_enrollment_api_key("some-id"),
            "delete": lambda: client.delete_enrollment_api_key("some-id"),
        }
        for name, call in calls.items():
            before = len(_RefusingProxy.seen)
            with pytest.raises(ProxyError, match=r"answered 407 Proxy Authentication Required"):
                call()
            assert len(_RefusingProxy.seen) == before + 1, f"{name} was sent again"
            assert sleeps == [], f"{name} was retried"
    finally:
        proxy.shutdown()
        proxy.server_close()
