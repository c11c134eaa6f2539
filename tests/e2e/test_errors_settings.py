"""Every bad setting, and every answer only Kibana can give about them, gets one line and no key.

Each case runs through the real dynamic-provider host with its own emulator (and, for TLS and
proxies, a small local server) and asserts the exact last line the user reads. A setting the
provider can judge alone fails ``pulumi preview`` (a check failure); a refused credential fails
it too, after one question to Kibana; what a deployment may still fix (an unknown policy, an
unreachable Kibana) is a warning at preview, and ``up`` fails with the line given. No case
creates a key, and no secret of a case reaches the host's output, an error's details or the
state.

The cases run side by side once per module (each one starts a host, which is what costs), and
each test then checks its own outcome.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pytest

from fleet_provider import EnrollmentApiKey, EnrollmentApiKeyArgs, InputError
from fleet_provider.client import FleetClient
from fleet_provider.config import resolve_settings, socks_available
from fleet_provider.emulator import EmulatorServer
from fleet_provider.emulator.admin import KibanaAdmin
from fleet_provider.exceptions import AuthenticationError
from fleet_provider.harness.host import as_host_shows
from tests.conftest import TEST_USERS
from tests.e2e.conftest import POLICY, Stack
from tests.e2e.test_errors import EXC, TYPE, _all_keys, _fill, _free_port
from tests.harness.engine import (
    ConfigSecret,
    Engine,
    EngineError,
    Hosts,
    secret,
    unknown_during_preview,
)

pytestmark = pytest.mark.e2e

TLS = Path(__file__).resolve().parents[1] / "fixtures" / "tls"
PREVIEW = f"{TYPE} resource 'k' has a problem: "
API_KEY = "c2VjcmV0LWlkOnNlY3JldC1rZXk="
BEARER = "s3cret-bearer-token-1"
USERS = [*TEST_USERS, "nobody:nobody-pass:none"]
# The host sees only what a case gives it: no developer's Kibana settings or proxies.
EXCLUDED_ENV = ["KIBANA_*", "*_PROXY", "*_proxy", "REQUEST_METHOD", "FLEET_PROVIDER_LOG"]
ALWAYS_SECRET = ("changeme", "viewer-pass", "nobody-pass", API_KEY, BEARER, "ZWxhc3RpYzpjaGFuZ2Vt")
UNSHOWN = "(the value is not shown)"
ENDPOINT_FIX = "set fleet:endpoint (or KIBANA_ENDPOINT) to e.g. https://kibana.example.com:5601."
IN_URL = (
    "The Kibana endpoint must not carry credentials in the URL: set fleet:username/fleet:password "
    "(or KIBANA_USERNAME/KIBANA_PASSWORD) instead."
)
WHITESPACE = (
    "has leading or trailing whitespace, often the newline at the end of the file it was read "
    f"from: remove it {UNSHOWN}."
)
CA_FIX = "point it at a PEM file holding the CA certificate that signed Kibana's certificate."
UNREACHABLE_HINT = (
    "check fleet:endpoint (or KIBANA_ENDPOINT) and that Kibana is running and reachable from here."
)
REFUSED_401 = (
    "Kibana answered 401: [security_exception: [security_exception] Reason: {reason}]: {reason}. "
    "Kibana did not accept the credentials ({credentials}): set fleet:apiKey (KIBANA_API_KEY), "
    "fleet:username/fleet:password (KIBANA_USERNAME/KIBANA_PASSWORD) or fleet:bearerToken "
    "(KIBANA_BEARER_TOKEN)"
)
BAD_USER = "unable to authenticate user [elastic] for REST request [/_security/_authenticate]"
BAD_CREDENTIALS = (
    "unable to authenticate with provided credentials and anonymous access is not allowed for "
    "this request"
)
TLS_FIX = (
    "set fleet:caCerts (or KIBANA_CA_CERTS) to the PEM file of the CA that signed Kibana's "
    "certificate, or fleet:insecure=true (KIBANA_INSECURE) to skip verification outside "
    "production."
)


@dataclass
class Case:
    """One setting or answer, where it is caught, and the line the user reads."""

    id: str
    expected: str
    """The exact last line; for ``at="warn"`` the warning printed, without ``warning: ``."""
    config: dict[str, Any] = field(default_factory=dict)
    """Stack config over the emulator's; ``None`` removes a key. Values may use {url} etc."""
    env: dict[str, str] = field(default_factory=dict)
    at: str = "preview"
    """``preview``: preview fails; ``up``: ``up`` fails (its check may warn first, see
    ``warning``); ``warn``: preview passes printing ``expected``; ``ok``: preview passes, no
    warning; ``program``: the program itself raises ``expected``."""
    warning: str | None = None
    """For ``up``: the warning its check printed first."""
    server: str | None = None
    """A local server to start: tls, tls-wrong-host, client-cert, client-cert-1.2, proxy-407,
    gateway."""
    inputs: dict[str, Any] = field(default_factory=dict)
    faults: list[dict[str, Any]] | None = None
    secrets: tuple[str, ...] = ()
    program: Callable[[], None] | None = None
    policy_checks: int | None = None
    """How many GETs of an agent policy the command made, when the case says."""
    posts: int = 0
    """How many creates reached the emulator (and were refused)."""


def _preview(id_: str, config: dict[str, Any], message: str, **extra: Any) -> Case:
    return Case(id_, PREVIEW + message, config=config, **extra)


def _env(id_: str, env: dict[str, str], message: str, **extra: Any) -> Case:
    return Case(id_, PREVIEW + message, env=env, **extra)


ENDPOINT_CASES = [
    _preview("no endpoint", {"fleet:endpoint": None}, "No Kibana endpoint configured: set the stack config fleet:endpoint (pulumi config set fleet:endpoint https://kibana.example.com:5601) or the environment variable KIBANA_ENDPOINT."),
    _preview("endpoint without scheme", {"fleet:endpoint": "kibana:5601"}, f"The Kibana endpoint 'kibana:5601' is not an http(s) URL: {ENDPOINT_FIX}"),
    _preview("user and password without scheme", {"fleet:endpoint": "elastic:hunter2@kibana:5601"}, IN_URL, secrets=("hunter2",)),
    _preview("user and password in an https URL", {"fleet:endpoint": "https://elastic:hunter2@kibana.example.com"}, IN_URL, secrets=("hunter2",)),
    _preview("token as ftp user info", {"fleet:endpoint": "ftp://TOKEN-f7e1@kibana"}, IN_URL, secrets=("TOKEN-f7e1",)),
    _preview("api key in the query", {"fleet:endpoint": "https://kibana.example.com?apikey=QUERY-KEY-9"}, "The Kibana endpoint 'https://kibana.example.com?***' has a query or fragment: use the bare base URL, e.g. https://kibana.example.com:5601.", secrets=("QUERY-KEY-9",)),
    _preview("token in the fragment", {"fleet:endpoint": "https://kibana.example.com/#FRAGMENT-7"}, "The Kibana endpoint 'https://kibana.example.com/#***' has a query or fragment: use the bare base URL, e.g. https://kibana.example.com:5601.", secrets=("FRAGMENT-7",)),
    _preview("ftp endpoint", {"fleet:endpoint": "ftp://kibana.example.com"}, f"The Kibana endpoint 'ftp://kibana.example.com' is not an http(s) URL: {ENDPOINT_FIX}"),
    _preview("unclosed IPv6 bracket", {"fleet:endpoint": "http://[::1"}, f"The Kibana endpoint 'http://[::1' is not a valid URL (its [ ] do not hold an IPv6 address): {ENDPOINT_FIX}"),
    _preview("space in the host", {"fleet:endpoint": "https://kib ana:5601"}, f"The Kibana endpoint 'https://kib ana:5601' contains a space or a control character: {ENDPOINT_FIX}"),
    _preview("port out of range", {"fleet:endpoint": "https://kibana:99999"}, "The Kibana endpoint 'https://kibana:99999' has an invalid port: use a number from 1 to 65535, e.g. https://kibana.example.com:5601."),
    _preview("port zero", {"fleet:endpoint": "https://kibana:0"}, "The Kibana endpoint 'https://kibana:0' has an invalid port: use a number from 1 to 65535, e.g. https://kibana.example.com:5601."),
    _preview("no host", {"fleet:endpoint": "https://:5601"}, f"The Kibana endpoint 'https://:5601' has no host: {ENDPOINT_FIX}"),
    _preview("bad character in the host", {"fleet:endpoint": "https://kib*ana"}, f"The Kibana endpoint 'https://kib*ana' has a host name that is not valid: {ENDPOINT_FIX}"),
    _env("endpoint from the environment", {"KIBANA_ENDPOINT": "kibana.example.com"}, f"The Kibana endpoint 'kibana.example.com' is not an http(s) URL: {ENDPOINT_FIX}", config={"fleet:endpoint": None}),
]  # fmt: skip

NUMBER_CASES = [
    _preview("timeout overflowing the socket", {"fleet:timeout": "1e10"}, "fleet:timeout must be at most 3600 seconds per HTTP attempt, not '1e10'."),
    _preview("timeout of 1e300", {"fleet:timeout": "1e300"}, "fleet:timeout must be at most 3600 seconds per HTTP attempt, not '1e300'."),
    _preview("timeout nan", {"fleet:timeout": "nan"}, "fleet:timeout must be a positive number of seconds per HTTP attempt, not 'nan'."),
    _preview("timeout not a number", {"fleet:timeout": "soon"}, "fleet:timeout must be a positive number of seconds per HTTP attempt, not 'soon'."),
    _preview("connect timeout zero", {"fleet:connectTimeout": "0"}, "fleet:connectTimeout must be a positive number of seconds per HTTP attempt, not '0'."),
    _preview("connect timeout over an hour", {"fleet:connectTimeout": "3601"}, "fleet:connectTimeout must be at most 3600 seconds per HTTP attempt, not '3601'."),
    _preview("connect timeout in Arabic-Indic digits", {"fleet:connectTimeout": "٣"}, "fleet:connectTimeout must be a positive number of seconds per HTTP attempt, not '٣'."),
    _preview("retries superscript two", {"fleet:maxRetries": "²"}, "fleet:maxRetries must be a whole number of retries from 0 to 20, not '²'."),
    _preview("retries Arabic-Indic three", {"fleet:maxRetries": "٣"}, "fleet:maxRetries must be a whole number of retries from 0 to 20, not '٣'."),
    _preview("retries over the limit", {"fleet:maxRetries": "21"}, "fleet:maxRetries must be a whole number of retries from 0 to 20, not '21'."),
    _preview("insecure not a boolean", {"fleet:insecure": "maybe"}, "fleet:insecure must be true or false, not 'maybe'."),
    _env("insecure from the environment", {"KIBANA_INSECURE": "sure"}, "KIBANA_INSECURE must be true or false, not 'sure'."),
    _preview("space display name", {"fleet:spaceId": "Ops Team"}, "fleet:spaceId 'Ops Team' is not a Kibana space id: use lower-case letters, digits, '_' and '-' (the id in /s/<id>/app/..., not the display name)."),
]  # fmt: skip

CA_CASES = [
    _preview("missing CA file", {"fleet:caCerts": "/nonexistent/ca.pem"}, f"fleet:caCerts names '/nonexistent/ca.pem', which is not a readable file: {CA_FIX}"),
    _preview("CA directory", {"fleet:caCerts": str(TLS)}, f"fleet:caCerts names {str(TLS)!r}, which is not a readable file: {CA_FIX}"),
    _preview("CA file holding a key", {"fleet:caCerts": str(TLS / "localhost.key")}, f"fleet:caCerts names {str(TLS / 'localhost.key')!r}, which holds no PEM certificate (no -----BEGIN CERTIFICATE----- line): {CA_FIX}"),
    _preview("DER CA file", {"fleet:caCerts": str(TLS / "ca.der")}, f"fleet:caCerts names {str(TLS / 'ca.der')!r}, which holds a DER (binary) certificate, not PEM: convert it (openssl x509 -inform der -in {TLS / 'ca.der'} -out ca.pem) and point fleet:caCerts at the PEM file."),
    _env("missing CA file from the environment", {"KIBANA_CA_CERTS": "/nonexistent/ca.pem"}, f"KIBANA_CA_CERTS names '/nonexistent/ca.pem', which is not a readable file: {CA_FIX}"),
]  # fmt: skip

CREDENTIAL_CASES = [
    _preview("password with a trailing newline", {"fleet:password": secret("s3cret-pw-1\n")}, f"fleet:password {WHITESPACE}", secrets=("s3cret-pw-1",)),
    _env("environment password with a trailing newline", {"KIBANA_USERNAME": "elastic", "KIBANA_PASSWORD": "s3cret-pw-2\n"}, f"KIBANA_PASSWORD {WHITESPACE}", config={"fleet:username": None, "fleet:password": None}, secrets=("s3cret-pw-2",)),
    _preview("user name with a leading space", {"fleet:username": " elastic"}, f"fleet:username {WHITESPACE}"),
    _preview("password with a control character", {"fleet:password": secret("s3cret\x07pw-3")}, f"fleet:password contains a control character: set it to the credential alone {UNSHOWN}.", secrets=("s3cret", "pw-3")),
    _preview("api key with its scheme", {"fleet:username": None, "fleet:password": None, "fleet:apiKey": secret(f"ApiKey {API_KEY}")}, f"fleet:apiKey contains a space or a character outside printable ASCII: set the API key alone, without 'ApiKey ' in front {UNSHOWN}."),
    _preview("api key not encoded", {"fleet:username": None, "fleet:password": None, "fleet:apiKey": secret("key-id-4:s3cret-key-4")}, f"fleet:apiKey contains ':': set the base64 encoding of id:api_key (the 'encoded' value Elasticsearch returns), not the id and key themselves {UNSHOWN}.", secrets=("s3cret-key-4",)),
    _env("environment api key with a trailing newline", {"KIBANA_API_KEY": f"{API_KEY}\n"}, f"KIBANA_API_KEY {WHITESPACE}", config={"fleet:username": None, "fleet:password": None}),
    _preview("bearer token outside ASCII", {"fleet:username": None, "fleet:password": None, "fleet:bearerToken": secret("s3cret-tökén-5")}, f"fleet:bearerToken contains a space or a character outside printable ASCII: set the bearer token alone, without 'Bearer ' in front {UNSHOWN}.", secrets=("s3cret-tökén-5", "s3cret")),
    _preview("user name with a colon", {"fleet:username": "ela:stic"}, "fleet:username contains ':', which basic authentication cannot carry in a user name (RFC 7617): use an API key (fleet:apiKey) for this user instead."),
    Case("config user, environment password", PREVIEW + "fleet:username is set in the stack config but fleet:password is not, and KIBANA_PASSWORD is ignored: credentials from the environment are not used when the stack config names any. Set fleet:password (pulumi config set --secret fleet:password ...), or remove fleet:username to use KIBANA_USERNAME/KIBANA_PASSWORD.", config={"fleet:password": None}, env={"KIBANA_PASSWORD": "s3cret-pw-6"}, secrets=("s3cret-pw-6",)),
    Case("config password, environment user", PREVIEW + "fleet:password is set in the stack config but fleet:username is not, and KIBANA_USERNAME is ignored: credentials from the environment are not used when the stack config names any. Set fleet:username (pulumi config set fleet:username ...), or remove fleet:password to use KIBANA_USERNAME/KIBANA_PASSWORD.", config={"fleet:username": None}, env={"KIBANA_USERNAME": "elastic"}),
    _preview("user without password", {"fleet:password": None}, "fleet:username is set but fleet:password is not: basic authentication needs both (pulumi config set --secret fleet:password ...)."),
    _env("environment user without password", {"KIBANA_USERNAME": "elastic"}, "KIBANA_USERNAME is set but KIBANA_PASSWORD is not: basic authentication needs both.", config={"fleet:username": None, "fleet:password": None}),
]  # fmt: skip

PROXY_SETTING_CASES = [
    _env("proxy with an ftp scheme", {"https_proxy": "ftp://PROXY-TOKEN-7@proxy:21"}, "https_proxy names a proxy with the scheme 'ftp', which requests cannot use: use http:// or https:// (socks5:// with PySocks installed), e.g. http://proxy.example.com:3128.", config={"fleet:endpoint": "https://kibana.example.com"}, secrets=("PROXY-TOKEN-7",)),
    _env("proxy without a scheme", {"ALL_PROXY": "proxy:3128"}, "ALL_PROXY is not a proxy URL requests can use: write it with its scheme, e.g. http://proxy.example.com:3128 (the value is not shown: it may hold a password)."),
    _env("proxy port out of range", {"HTTP_PROXY": "http://user:PROXY-PW-8@proxy:99999"}, "HTTP_PROXY is not a proxy URL with a host and a port from 1 to 65535: set it to e.g. http://proxy.example.com:3128 (the value is not shown: it may hold a password).", secrets=("PROXY-PW-8",)),
]  # fmt: skip
if not socks_available():
    PROXY_SETTING_CASES.append(
        _env(
            "SOCKS proxy without PySocks",
            {"HTTP_PROXY": "socks5h://proxy:1080"},
            "HTTP_PROXY names a SOCKS proxy (socks5h://), which needs PySocks: install it where the program runs (pip install 'requests[socks]'), or use an http:// proxy.",
        )
    )

KIBANA_CASES = [
    _preview("wrong password", {"fleet:password": secret("s3cret-wrong-9")}, REFUSED_401.format(reason=BAD_USER, credentials="user 'elastic' from fleet:username/fleet:password"), secrets=("s3cret-wrong-9",), policy_checks=1),
    _preview("unknown api key", {"fleet:username": None, "fleet:password": None, "fleet:apiKey": secret("dW5rbm93bi1rZXk=")}, REFUSED_401.format(reason=BAD_CREDENTIALS, credentials="API key from fleet:apiKey"), secrets=("dW5rbm93bi1rZXk=",)),
    _env("unknown bearer token from the environment", {"KIBANA_BEARER_TOKEN": "unknown-bearer-10"}, REFUSED_401.format(reason=BAD_CREDENTIALS, credentials="bearer token from KIBANA_BEARER_TOKEN"), config={"fleet:username": None, "fleet:password": None}, secrets=("unknown-bearer-10",)),
    _preview("no credentials at all", {"fleet:username": None, "fleet:password": None}, "Kibana answered 401: Unauthorized. No credentials are configured: set fleet:apiKey (KIBANA_API_KEY), fleet:username/fleet:password (KIBANA_USERNAME/KIBANA_PASSWORD) or fleet:bearerToken (KIBANA_BEARER_TOKEN)"),
    Case("unknown policy", "agent policy 'nope' in Kibana space 'default' does not exist: pulumi up fails to create its keys unless this deployment creates the policy first; check policy_id, and space_id (or fleet:spaceId)", at="warn", inputs={"policy_id": "nope"}, policy_checks=1),
    Case("unknown policy in a configured space", "agent policy 'fleet-server-policy' in Kibana space 'ops' does not exist: pulumi up fails to create its keys unless this deployment creates the policy first; check policy_id, and space_id (or fleet:spaceId)", at="warn", config={"fleet:spaceId": "ops"}),
    Case("credentials that may not read policies", "could not check that agent policy 'fleet-server-policy' in Kibana space 'default' exists: Kibana answered 403 to user 'nobody' from fleet:username/fleet:password; creating its keys needs the Kibana privilege fleet-agents-all (Fleet: All, or Agents: All) in that space", at="warn", config={"fleet:username": "nobody", "fleet:password": secret("nobody-pass")}),
    Case("Kibana unreachable at preview", f"could not check that agent policy 'fleet-server-policy' in Kibana space 'default' exists: Cannot reach Kibana at http://127.0.0.1:{{free_port}} (connection refused): {UNREACHABLE_HINT}", at="warn", config={"fleet:endpoint": "http://127.0.0.1:{free_port}"}),
    Case("Kibana failing at preview", "could not check that agent policy 'fleet-server-policy' in Kibana space 'default' exists: Kibana answered 503: Service Unavailable. Kibana failed while handling the request: retry later, and check Kibana's log", at="warn", faults=[{"method": "GET", "path": "^/api/fleet/agent_policies/", "action": "status", "status": 503}], policy_checks=1),
    Case("wrong base path at preview", "could not check that agent policy 'fleet-server-policy' in Kibana space 'default' exists: Kibana answered 404: Not Found. Kibana has no such route at {url}/kibana: set fleet:endpoint (or KIBANA_ENDPOINT) to Kibana's base URL, with its server.basePath if it has one (e.g. https://kibana.example.com:5601/kibana), not a UI address such as .../app/fleet", at="warn", config={"fleet:endpoint": "{url}/kibana"}),
    Case("policy unknown at preview", "", at="ok", inputs={"policy_id": "later"}, policy_checks=0),
    Case("valid program", "", at="ok", policy_checks=1),
    Case("three keys on one policy", "", at="ok", program=lambda: [EnrollmentApiKey(f"k{i}", policy_id=POLICY) for i in range(3)], policy_checks=1),
    Case("no proxy for Kibana's host", "", at="ok", env={"HTTP_PROXY": "http://127.0.0.1:{free_port}", "NO_PROXY": "127.0.0.1"}, policy_checks=1),
    Case("misspelt setting key", "the stack config key fleet:api_key is not a fleet-provider setting and is ignored: did you mean fleet:apiKey?", at="warn", config={"fleet:api_key": secret(API_KEY)}),
    Case("setting key in the kibana namespace", "the stack config key kibana:endpoint is not a fleet-provider setting and is ignored: did you mean fleet:endpoint?", at="warn", config={"kibana:endpoint": "{url}"}),
]  # fmt: skip

TLS_CASES = [
    Case("untrusted certificate", f"{EXC}TLSError: TLS with Kibana at https://127.0.0.1:{{server_port}} failed (certificate verify failed: unable to get local issuer certificate): {TLS_FIX}", at="up", server="tls", config={"fleet:endpoint": "https://127.0.0.1:{server_port}"}, warning=f"could not check that agent policy 'fleet-server-policy' in Kibana space 'default' exists: TLS with Kibana at https://127.0.0.1:{{server_port}} failed (certificate verify failed: unable to get local issuer certificate): {TLS_FIX}"),
    Case("certificate from another CA than fleet:caCerts", f"{EXC}TLSError: TLS with Kibana at https://127.0.0.1:{{server_port}} failed (certificate verify failed: unable to get local issuer certificate): its certificate is not signed by the CA in fleet:caCerts ({TLS / 'other-ca.pem'}): point it at the PEM file of the CA that signed Kibana's certificate, with any intermediate CA.", at="up", server="tls", config={"fleet:endpoint": "https://127.0.0.1:{server_port}", "fleet:caCerts": str(TLS / "other-ca.pem")}),
    Case("certificate for another host", f"{EXC}TLSError: TLS with Kibana at https://127.0.0.1:{{server_port}} failed: its certificate is not valid for 127.0.0.1: set fleet:endpoint (or KIBANA_ENDPOINT) to a host name the certificate names.", at="up", server="tls-wrong-host", config={"fleet:endpoint": "https://127.0.0.1:{server_port}", "fleet:caCerts": str(TLS / "ca.pem")}),
    Case("client certificate asked for", f"{EXC}TLSError: TLS with Kibana at https://127.0.0.1:{{server_port}} failed (tlsv13 alert certificate required): Kibana asks for a client certificate, which fleet-provider does not send: set Kibana's server.ssl.clientAuthentication to optional or none.", at="up", server="client-cert", config={"fleet:endpoint": "https://127.0.0.1:{server_port}", "fleet:caCerts": str(TLS / "ca.pem")}),
    Case("client certificate asked for over TLS 1.2", f"{EXC}TLSError: TLS with Kibana at https://127.0.0.1:{{server_port}} failed (sslv3 alert handshake failure): Kibana may ask for a client certificate, which fleet-provider does not send: set Kibana's server.ssl.clientAuthentication to optional or none.", at="up", server="client-cert-1.2", config={"fleet:endpoint": "https://127.0.0.1:{server_port}", "fleet:caCerts": str(TLS / "ca.pem")}),
    Case("https to a plain http port", f"{EXC}TLSError: TLS with Kibana at https://127.0.0.1:{{port}} failed: it answers plain HTTP on that port, not TLS: set fleet:endpoint (or KIBANA_ENDPOINT) to http://127.0.0.1:{{port}}, or to the port where Kibana serves TLS.", at="up", config={"fleet:endpoint": "https://127.0.0.1:{port}"}),
    Case("https to a plain http port with insecure set", f"{EXC}TLSError: TLS with Kibana at https://127.0.0.1:{{port}} failed: it answers plain HTTP on that port, not TLS: set fleet:endpoint (or KIBANA_ENDPOINT) to http://127.0.0.1:{{port}}, or to the port where Kibana serves TLS.", at="up", config={"fleet:endpoint": "https://127.0.0.1:{port}", "fleet:insecure": "true"}),
    Case("trusted certificate", "", at="ok", server="tls", config={"fleet:endpoint": "https://localhost:{server_port}", "fleet:caCerts": str(TLS / "ca.pem")}),
]  # fmt: skip

PROXY_CASES = [
    Case("proxy wants credentials for a tunnel", f"{EXC}ProxyError: The proxy that HTTPS_PROXY names (127.0.0.1:{{server_port}}) answered 407 Proxy Authentication Required: put its user and password in HTTPS_PROXY (http://user:password@host:port).", at="up", server="proxy-407", env={"HTTPS_PROXY": "http://127.0.0.1:{server_port}"}, config={"fleet:endpoint": "https://kibana.invalid:5601", "fleet:maxRetries": "0"}, warning="could not check that agent policy 'fleet-server-policy' in Kibana space 'default' exists: The proxy that HTTPS_PROXY names (127.0.0.1:{server_port}) answered 407 Proxy Authentication Required: put its user and password in HTTPS_PROXY (http://user:password@host:port)."),
    Case("proxy refuses its credentials", f"{EXC}ProxyError: The proxy that http_proxy names (127.0.0.1:{{server_port}}) answered 407 Proxy Authentication Required: check the user and password in http_proxy.", at="up", server="proxy-407", env={"http_proxy": "http://proxy-user:PROXY-PW-11@127.0.0.1:{server_port}"}, config={"fleet:maxRetries": "0"}, secrets=("PROXY-PW-11",)),
    Case("proxy unreachable", f"{EXC}ProxyError: Cannot reach the proxy that HTTP_PROXY names (127.0.0.1:{{free_port}}) (connection refused): check HTTP_PROXY, or add Kibana's host to NO_PROXY to go around it.", at="up", env={"HTTP_PROXY": "http://127.0.0.1:{free_port}"}, config={"fleet:maxRetries": "0"}),
    Case("proxy for every scheme unreachable", f"{EXC}ProxyError: Cannot reach the proxy that all_proxy names (127.0.0.1:{{free_port}}) (connection refused): check all_proxy, or add Kibana's host to NO_PROXY to go around it.", at="up", env={"all_proxy": "http://127.0.0.1:{free_port}"}, config={"fleet:maxRetries": "0"}),
]  # fmt: skip

ANSWER_CASES = [
    Case("Kibana message quoting credentials", f"{EXC}BadRequestError: Kibana answered 400: upstream said Authorization: ApiKey *** for user elastic with password ***", at="up", posts=1, faults=[{"method": "*", "path": "^/api/", "action": "status", "status": 400, "message": "upstream said Authorization: ApiKey c2VjcmV0LWlkOnNlY3JldC1rZXk= for user elastic with password changeme"}]),
    Case("gateway echoing the request headers", f"{EXC}BadRequestError: Kibana answered 400: Bad Request", at="up", server="gateway", config={"fleet:endpoint": "http://127.0.0.1:{server_port}"}),
    Case("long message over many lines", f"{EXC}BadRequestError: Kibana answered 400: {('first line second line ' * 14)[:299].rstrip()}…", at="up", posts=1, faults=[{"method": "*", "path": "^/api/", "action": "status", "status": 400, "message": "first line\nsecond line\n" * 40}]),
]  # fmt: skip


def _program(**call: Any) -> Callable[[], None]:
    def program() -> None:
        EnrollmentApiKey("k", **call)

    return program


PROGRAM_CASES = [
    Case("keyword next to args", "name is given as a keyword next to args, and a keyword next to args would be ignored: give every input in args, EnrollmentApiKey('k', EnrollmentApiKeyArgs(policy_id='fleet-server-policy', name='web')), or every input as a keyword, EnrollmentApiKey('k', policy_id='fleet-server-policy', name='web')", at="program", program=_program(args=EnrollmentApiKeyArgs(policy_id=POLICY), name="web")),
    Case("input both in args and as a keyword", "policy_id is given twice, in args and as a keyword: keep one, e.g. EnrollmentApiKey('k', EnrollmentApiKeyArgs(policy_id='fleet-server-policy'))", at="program", program=_program(args=EnrollmentApiKeyArgs(policy_id=POLICY), policy_id="other")),
    Case("positional policy id", "policy_id must be given by keyword (the second positional argument is an EnrollmentApiKeyArgs): write EnrollmentApiKey('k', policy_id='p1')", at="program", program=lambda: EnrollmentApiKey("k", "p1")),
    Case("positional policy id and a name", "policy_id must be given by keyword (the second positional argument is an EnrollmentApiKeyArgs): write EnrollmentApiKey('k', name='web', policy_id='p1')", at="program", program=lambda: EnrollmentApiKey("k", "p1", name="web")),
    Case("inputs as a dict", "args must be an EnrollmentApiKeyArgs, not a dict: write EnrollmentApiKey('k', EnrollmentApiKeyArgs(policy_id='p1'))", at="program", program=lambda: EnrollmentApiKey("k", {"policy_id": "p1"})),
    Case("options where args go", "opts must be given by keyword (the second positional argument is an EnrollmentApiKeyArgs): write EnrollmentApiKey('k', policy_id='p1', opts=pulumi.ResourceOptions(...))", at="program", program=lambda: EnrollmentApiKey("k", pulumi.ResourceOptions(), policy_id="p1")),
]  # fmt: skip

CASES = (
    ENDPOINT_CASES
    + NUMBER_CASES
    + CA_CASES
    + CREDENTIAL_CASES
    + PROXY_SETTING_CASES
    + KIBANA_CASES
    + TLS_CASES
    + PROXY_CASES
    + ANSWER_CASES
    + PROGRAM_CASES
)


# -- local servers ----------------------------------------------------------------------------


class LocalServer:
    """A TCP server on 127.0.0.1 that hands each connection to ``handle`` in a thread."""

    def __init__(self, handle: Callable[[socket.socket], None]) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._handle = handle
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        try:
            self._handle(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self._listener.close()


def _read_request(conn: socket.socket) -> dict[str, str]:
    """Read one request's head (and body); its headers, lower-cased names."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return {}
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {
        k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])
    }
    remaining = int(headers.get("content-length", "0")) - len(body)
    while remaining > 0:
        chunk = conn.recv(remaining)
        if not chunk:
            break
        remaining -= len(chunk)
    return headers


def _answer(conn: socket.socket, status: str, body: Any, *extra: str) -> None:
    payload = json.dumps(body).encode()
    head = [
        f"HTTP/1.1 {status}",
        "Content-Type: application/json",
        f"Content-Length: {len(payload)}",
        "Connection: close",
        *extra,
    ]
    conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + payload)


def _drain(conn: socket.socket) -> None:
    """Read what the client sent before closing: a close with unread data sends a TCP reset,
    which can destroy the TLS alert before the client reads it."""
    conn.settimeout(1.0)
    try:
        while conn.recv(65536):
            pass
    except OSError:
        pass


def _tls_server(cert: str, *, client_cert: bool = False, tls12: bool = False) -> LocalServer:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(TLS / f"{cert}.pem", TLS / f"{cert}.key")
    if tls12:
        context.maximum_version = ssl.TLSVersion.TLSv1_2
    if client_cert:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(TLS / "ca.pem")

    def handle(conn: socket.socket) -> None:
        tls = context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        try:
            tls.do_handshake()
        except (ssl.SSLError, OSError):
            raw = socket.socket(fileno=tls.detach())
            _drain(raw)
            raw.close()
            return
        if _read_request(tls):
            _answer(tls, "200 OK", {"item": {"id": POLICY, "name": "Fleet Server policy"}})
        tls.close()

    return LocalServer(handle)


def _proxy_407() -> LocalServer:
    def handle(conn: socket.socket) -> None:
        headers = _read_request(conn)
        # Like some gateways, the body echoes the request's headers: none may reach a message.
        _answer(
            conn,
            "407 Proxy Authentication Required",
            {"error": "proxy auth", "headers": headers},
            'Proxy-Authenticate: Basic realm="proxy"',
        )

    return LocalServer(handle)


def _gateway() -> LocalServer:
    def handle(conn: socket.socket) -> None:
        headers = _read_request(conn)
        _answer(conn, "400 Bad Request", {"error": "Bad Request", "request": {"headers": headers}})

    return LocalServer(handle)


SERVERS: dict[str, Callable[[], LocalServer]] = {
    "tls": lambda: _tls_server("localhost"),
    "tls-wrong-host": lambda: _tls_server("wrong-host"),
    "client-cert": lambda: _tls_server("localhost", client_cert=True),
    "client-cert-1.2": lambda: _tls_server("localhost", client_cert=True, tls12=True),
    "proxy-407": _proxy_407,
    "gateway": _gateway,
}


# -- running the cases ------------------------------------------------------------------------


@dataclass
class Outcome:
    """What one case's command did."""

    error: BaseException | None
    stderr: str
    output: str
    state: str
    keys_before: list[tuple[str, bool]]
    keys_after: list[tuple[str, bool]]
    calls: dict[str, int]
    values: dict[str, Any]


def _with(config: dict[str, Any], values: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in config.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, str):
            merged[key] = _fill(value, values)
        else:
            merged[key] = value
    return merged


def run_case(case: Case) -> Outcome:
    """Run one case against an emulator of its own; the command's error is part of the outcome."""
    server = EmulatorServer(
        port=0,
        users=USERS,
        api_keys=[f"{API_KEY}:superuser"],
        bearer_tokens=[f"{BEARER}:superuser"],
        policies=[POLICY],
    ).start()
    local = SERVERS[case.server]() if case.server else None
    hosts = Hosts(exclude_env=EXCLUDED_ENV)
    try:
        values: dict[str, Any] = {
            "url": server.url,
            "port": server.url.rsplit(":", 1)[1],
            "free_port": _free_port(),
            "server_port": local.port if local else "",
        }
        hosts.env.update({k: _fill(v, values) for k, v in case.env.items()})
        stack = Stack(Engine(hosts, stack="e2e"), hosts, KibanaAdmin(server.url), server.url)
        config = _with(case.config, values, stack.config())
        keys_before = _all_keys(stack)
        if case.faults:
            stack.kibana.set_faults({"seed": 1, "rules": case.faults})

        def declared() -> None:
            inputs = {"policy_id": POLICY, **case.inputs}
            if inputs["policy_id"] == "later":  # known only once up runs
                inputs["policy_id"] = unknown_during_preview(POLICY)
            EnrollmentApiKey("k", EnrollmentApiKeyArgs(**inputs))

        program = case.program or declared
        error: BaseException | None = None
        try:
            if case.at == "up":
                # The update's own check asks Kibana first, as preview's does (check cannot
                # tell them apart), so one host shows both the warning and the failure.
                stack.engine.up(program, config, skip_preview=True)
            else:
                stack.engine.preview(program, config)
        except Exception as exc:  # the outcome the case checks
            error = exc
        calls = stack.kibana.request_count()["by_route"]
        stack.kibana.clear_faults()
        return Outcome(
            error=error,
            stderr=hosts.stderr,
            output=hosts.output,
            state=json.dumps(stack.engine.saved_state()),
            keys_before=keys_before,
            keys_after=_all_keys(stack),
            calls=calls,
            values=values,
        )
    finally:
        hosts.close()
        if local is not None:
            local.close()
        server.stop()


@pytest.fixture(scope="module")
def outcomes(request: pytest.FixtureRequest) -> Iterator[dict[str, Outcome]]:
    """The outcome of every case this session runs, the cases run four at a time."""
    chosen = {
        item.callspec.params["case"].id
        for item in request.session.items
        if item.module is request.module
        and hasattr(item, "callspec")
        and "case" in item.callspec.params
    }
    chosen.add("wrong password")
    cases = [case for case in CASES if case.id in chosen]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = dict(zip((c.id for c in cases), pool.map(run_case, cases), strict=True))
    yield results


def _warnings(stderr: str) -> list[str]:
    return [
        line[len("warning: ") :] for line in stderr.splitlines() if line.startswith("warning: ")
    ]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_each_setting_and_answer_gets_its_line_and_creates_nothing(
    case: Case, outcomes: dict[str, Outcome]
) -> None:
    outcome = outcomes[case.id]
    expected = _fill(case.expected, outcome.values)
    error = outcome.error
    if case.at in ("ok", "warn"):
        assert error is None, f"{error}"
        warnings = _warnings(outcome.stderr)
        assert warnings == ([expected] if case.at == "warn" else [])
    elif case.at == "program":
        assert isinstance(error, EngineError) and error.op == "program"
        assert isinstance(error.__cause__, InputError)
        assert error.last_line == f"{EXC}InputError: {expected}"
        assert outcome.output == ""  # the program failed before any host started
    else:
        assert isinstance(error, EngineError), f"{error!r}"
        assert error.last_line == as_host_shows(expected)
        if case.at == "preview":
            assert error.op == "Check"
            assert "Traceback" not in error.details
        if case.warning is not None:
            assert _warnings(outcome.stderr) == [_fill(case.warning, outcome.values)]
    assert outcome.keys_after == outcome.keys_before
    assert outcome.calls.get("POST /api/fleet/enrollment_api_keys", 0) == case.posts
    if case.policy_checks is not None:
        policy_gets = sum(n for route, n in outcome.calls.items() if "/agent_policies/" in route)
        assert policy_gets == case.policy_checks
    details = error.details if isinstance(error, EngineError) else str(error or "")
    configured = [v.value.strip() for v in case.config.values() if isinstance(v, ConfigSecret)]
    for leaked in (*ALWAYS_SECRET, *case.secrets, *configured):
        assert leaked not in outcome.output
        assert leaked not in details
        assert leaked not in outcome.state


def test_a_refused_credential_fails_preview_with_the_line_create_gives(
    outcomes: dict[str, Outcome],
) -> None:
    server = EmulatorServer(port=0, users=USERS, policies=[POLICY]).start()
    try:
        settings = resolve_settings(
            {
                "fleet:endpoint": server.url,
                "fleet:username": "elastic",
                "fleet:password": "s3cret-wrong-9",
            },
            {},
        )
        with pytest.raises(AuthenticationError) as caught:
            FleetClient(settings).create_enrollment_api_key({"policy_id": POLICY, "name": "x"})
    finally:
        server.stop()
    error = outcomes["wrong password"].error
    assert isinstance(error, EngineError)
    assert error.last_line == PREVIEW + str(caught.value)


def test_a_valid_up_creates_with_one_post_after_one_policy_check_per_command(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack()
    stack.kibana.clear_request_count()
    stack.engine.up(lambda: EnrollmentApiKey("k", policy_id=POLICY), stack.config())
    calls = stack.kibana.request_count()["by_route"]
    assert calls == {
        f"GET /api/fleet/agent_policies/{POLICY}": 2,  # the preview's host, then the update's
        "POST /api/fleet/enrollment_api_keys": 1,
    }
    assert _warnings(stack.host.stderr) == []
    stack.kibana.clear_request_count()
    stack.engine.up(lambda: EnrollmentApiKey("k", policy_id=POLICY), stack.config())
    assert stack.kibana.request_count()["total"] == 0  # an unchanged key asks nothing


def test_the_table_covers_every_kind_of_setting_and_answer() -> None:
    assert len(CASES) >= 60
    assert len({case.id for case in CASES}) == len(CASES)
    kinds = {case.at for case in CASES}
    assert kinds == {"preview", "warn", "ok", "up", "program"}
