"""What Kibana's answers mean: a parsed body, or one FleetError with a hint, chosen by tables.

The client hands over the status, reason, content type and body of a response, or the
exception of a request that got no answer; nothing here sends a request.
"""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3

from fleet_provider.config import DEFAULT_SPACE_ID, FleetSettings
from fleet_provider.exceptions import (
    ApiError,
    AuthenticationError,
    AuthorizationError,
    BadRequestError,
    ConflictError,
    DuplicateNameError,
    KeyInAnotherSpaceError,
    KeyNotFoundError,
    PolicyNotFoundError,
    ProxyError,
    RouteNotFoundError,
    ServerError,
    TLSError,
    TransportError,
    UnderlyingError,
    UnexpectedResponseError,
)

FLEET_PRIVILEGE = "fleet-agents-all"
MAX_MESSAGE_CHARS = 300
"""The longest message from Kibana (or whatever answered) copied into an error."""

ERROR_BY_STATUS: Mapping[int, type[ApiError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: AuthorizationError,
    404: RouteNotFoundError,
    409: ConflictError,
}
"""The error class for a status; any other 5xx is a ServerError, the rest an ApiError.

A 404 that no message quirk names is not Kibana's answer about a key or a policy: only those
mean gone, every other 404 says the endpoint is wrong.
"""


@dataclass(frozen=True)
class MessageQuirk:
    """A Kibana message that means more than its status, on the statuses it comes with."""

    statuses: frozenset[int]
    message: re.Pattern[str]
    error: type[ApiError]


MESSAGE_QUIRKS = (
    # Kibana 9.x: "An enrollment key named X already exists for agent policy P" (409);
    # Kibana 8.x up to about 8.14 sends the same text with 400 Bad Request
    # (x-pack/plugins/fleet/server/services/api_keys/enrollment_api_key.ts).
    MessageQuirk(
        frozenset({400, 409}),
        re.compile(r"^An enrollment key named .* already exists for agent policy "),
        DuplicateNameError,
    ),
    # 'Agent policy "P" not found': 404 on Kibana 9.x, 400 on Kibana 8.x up to about 8.14.
    MessageQuirk(
        frozenset({400, 404}),
        re.compile(r'^Agent policy ".*" not found'),
        PolicyNotFoundError,
    ),
    # Kibana 9.1+ with space awareness, a key that exists in another space
    # (services/api_keys/enrollment_api_key.ts getEnrollmentAPIKey).
    MessageQuirk(
        frozenset({404}),
        re.compile(r"^(?:Enrollment api key|EnrollmentAPIKey) \S+ not found in namespace$"),
        KeyInAnotherSpaceError,
    ),
    # The key does not exist: "Enrollment api key <id> not found" (the service, 9.x and late
    # 8.x), "EnrollmentAPIKey <id> not found" (the handler's Boom branch, 8.x; DELETE on 9.5+).
    MessageQuirk(
        frozenset({404}),
        re.compile(r"^(?:Enrollment api key|EnrollmentAPIKey) \S+ not found$"),
        KeyNotFoundError,
    ),
)
"""Checked in order before ERROR_BY_STATUS; the first match decides the class."""

HINTS: Mapping[type[ApiError], str] = {
    DuplicateNameError: "Kibana refuses a name already used on the policy, revoked keys "
    "included: choose another name, or leave name out to let the provider pick a unique one",
    PolicyNotFoundError: "Searched in Kibana space {space!r}: check policy_id, and set space_id "
    "(or fleet:spaceId) if the policy lives in another space",
    AuthenticationError: "Kibana did not accept the credentials ({credentials}): set "
    "fleet:apiKey (KIBANA_API_KEY), fleet:username/fleet:password "
    "(KIBANA_USERNAME/KIBANA_PASSWORD) or fleet:bearerToken (KIBANA_BEARER_TOKEN)",
    AuthorizationError: "Give the role behind {credentials} the Kibana privilege "
    f"{FLEET_PRIVILEGE} (Fleet: All, or Agents: All) in space {{space!r}}",
    ServerError: "Kibana failed while handling the request: retry later, and check Kibana's log",
    KeyInAnotherSpaceError: "The key exists in another Kibana space than {space!r} (Kibana "
    "moves a policy's keys with it): set space_id (or fleet:spaceId) to the key's space",
    RouteNotFoundError: "Kibana has no such route at {endpoint}: set fleet:endpoint (or "
    "KIBANA_ENDPOINT) to Kibana's base URL, with its server.basePath if it has one (e.g. "
    "https://kibana.example.com:5601/kibana), not a UI address such as .../app/fleet",
}
"""What to do about an error class; ``{space}`` and ``{credentials}`` are filled in."""

NO_CREDENTIALS_HINT = (
    "No credentials are configured: set fleet:apiKey (KIBANA_API_KEY), "
    "fleet:username/fleet:password (KIBANA_USERNAME/KIBANA_PASSWORD) or fleet:bearerToken "
    "(KIBANA_BEARER_TOKEN)"
)
"""The AuthenticationError hint when the request carried no credential at all."""


def error_class(status: int, message: str) -> type[ApiError]:
    """The FleetError class for an error answer."""
    for quirk in MESSAGE_QUIRKS:
        if status in quirk.statuses and quirk.message.match(message):
            return quirk.error
    if status >= 500:
        return ServerError
    return ERROR_BY_STATUS.get(status, ApiError)


def api_error(
    status: int,
    message: str,
    body: Any,
    settings: FleetSettings,
    space_id: str | None,
) -> ApiError:
    """The error for Kibana's answer ``status`` with ``message``, with the hint for its class."""
    message = one_line(message, settings)
    cls = error_class(status, message)
    template = HINTS.get(cls, "")
    if cls is AuthenticationError and settings.credential_source == "none":
        template = NO_CREDENTIALS_HINT
    hint = template.format(
        space=space_id or DEFAULT_SPACE_ID,
        credentials=settings.credential_source,
        endpoint=settings.endpoint,
    )
    return cls(status, message, body, hint=hint)


def parse_answer(
    status: int,
    reason: str,
    content_type: str,
    content: bytes,
    settings: FleetSettings,
    space_id: str | None,
) -> Any:
    """The JSON body of a successful answer; raise the FleetError an error answer means."""
    try:
        data: Any = json.loads(content)
    except ValueError as exc:
        text = content.decode("utf-8", errors="replace")
        if "html" in content_type.lower() or text.lstrip().startswith("<"):
            what = f"an HTML page (status {status}) instead of JSON"
            hint = (
                "A proxy or load balancer in front of Kibana answered: check that Kibana is up "
                "and that fleet:endpoint (or KIBANA_ENDPOINT) is Kibana's base URL"
            )
        else:
            what = f"a body that is not JSON (status {status})"
            hint = "The answer was cut off or did not come from Kibana: retry, or check the proxy"
        raise UnexpectedResponseError(
            status, f"{what} from {settings.endpoint}", hint=hint
        ) from exc
    if status < 300:
        return data
    # Only Kibana's "message" (core's error body: statusCode, error, message). Anything else
    # in a body, a gateway's echo of the request headers for one, is never copied.
    message = data.get("message") if isinstance(data, dict) else None
    if not isinstance(message, str) or not message.strip():
        message = reason or "error"
    raise api_error(status, message, data, settings, space_id)


def item_of(data: Any, settings: FleetSettings) -> dict[str, Any]:
    """The ``item`` of a one-key answer; an answer without one is unexpected."""
    item = data.get("item") if isinstance(data, dict) else None
    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
        raise unexpected(settings, 200, "a response without 'item'")
    return item


def items_of(data: Any, settings: FleetSettings) -> list[dict[str, Any]]:
    """The keys of one list page (``items``; ``list`` on Kibana before 8.0)."""
    items = data.get("items", data.get("list")) if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise unexpected(settings, 200, "a key list without 'items'")
    return items


def unexpected(settings: FleetSettings, status: int, what: str) -> UnexpectedResponseError:
    """An answer that is not what Kibana sends: probably not Kibana at all."""
    return UnexpectedResponseError(
        status,
        f"{what} from {settings.endpoint}",
        hint="Check that fleet:endpoint (or KIBANA_ENDPOINT) is Kibana's base URL, not "
        "Elasticsearch's or a proxy's",
    )


# -- no answer ------------------------------------------------------------------------------

# Requests that could not be built: a malformed endpoint or proxy setting, not the network.
INVALID_REQUEST = (
    requests.exceptions.InvalidURL,
    requests.exceptions.InvalidSchema,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidHeader,
    requests.exceptions.InvalidProxyURL,
    requests.exceptions.URLRequired,
)
# No usable answer: everything else requests, urllib3 or http.client raise while sending or
# reading (requests wraps most urllib3 errors; a few escape unwrapped while reading a body).
NO_ANSWER = (
    requests.exceptions.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
)


def tls_error(settings: FleetSettings, exc: Exception) -> TLSError:
    """What a failed TLS handshake means, and the settings that fix it, by OpenSSL's reason."""
    text = str(exc)
    reason = _short_reason(exc)
    parts = urlsplit(settings.endpoint)
    failed = f"TLS with Kibana at {settings.endpoint} failed"
    if any(m in text for m in ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH")):
        # OpenSSL reads an HTTP answer where a TLS record should be: the port speaks plain HTTP.
        plain = f"http://{parts.netloc}{parts.path}"
        message = (
            f"{failed}: it answers plain HTTP on that port, not TLS: set fleet:endpoint (or "
            f"KIBANA_ENDPOINT) to {plain}, or to the port where Kibana serves TLS."
        )
    elif "mismatch, certificate is not valid for" in text:
        message = (
            f"{failed}: its certificate is not valid for {parts.hostname}: set fleet:endpoint "
            "(or KIBANA_ENDPOINT) to a host name the certificate names."
        )
    elif "certificate has expired" in text:
        message = (
            f"{failed} (certificate has expired): renew Kibana's certificate, or check this "
            "machine's clock."
        )
    elif "CERTIFICATE_VERIFY_FAILED" in text and settings.ca_certs:
        message = (
            f"{failed} ({reason}): its certificate is not signed by the CA in "
            f"{settings.ca_certs_from or 'fleet:caCerts'} ({settings.ca_certs}): point it at "
            "the PEM file of the CA that signed Kibana's certificate, with any intermediate CA."
        )
    elif "CERTIFICATE_VERIFY_FAILED" in text:
        message = (
            f"{failed} ({reason}): set fleet:caCerts (or KIBANA_CA_CERTS) to the PEM file of "
            "the CA that signed Kibana's certificate, or fleet:insecure=true (KIBANA_INSECURE) "
            "to skip verification outside production."
        )
    elif "CERTIFICATE_REQUIRED" in text or "HANDSHAKE_FAILURE" in text:
        # TLS 1.3 servers answer a missing client certificate with the certificate_required
        # alert; TLS 1.2 servers with handshake_failure (RFC 8446 4.4.2.4, RFC 5246 7.4.6).
        likely = "asks for" if "CERTIFICATE_REQUIRED" in text else "may ask for"
        message = (
            f"{failed} ({reason}): Kibana {likely} a client certificate, which fleet-provider "
            "does not send: set Kibana's server.ssl.clientAuthentication to optional or none."
        )
    elif settings.insecure:
        message = (
            f"{failed} ({reason}): check that fleet:endpoint (or KIBANA_ENDPOINT) names the "
            "port where Kibana serves TLS."
        )
    else:
        message = (
            f"{failed} ({reason}): set fleet:caCerts (or KIBANA_CA_CERTS) to the PEM file of "
            "the CA that signed Kibana's certificate, or fleet:insecure=true (KIBANA_INSECURE) "
            "to skip verification outside production."
        )
    return TLSError(message)


def _proxy_named(settings: FleetSettings) -> str:
    if settings.proxy_variable is None:
        return "the proxy requests found in the system settings"
    return f"the proxy that {settings.proxy_variable} names ({settings.proxy_address})"


def proxy_auth_error(settings: FleetSettings) -> ProxyError:
    """A proxy answered 407 Proxy Authentication Required."""
    variable = settings.proxy_variable or "HTTPS_PROXY"
    if settings.proxy_has_credentials:
        fix = f"check the user and password in {variable}"
    else:
        fix = f"put its user and password in {variable} (http://user:password@host:port)"
    named = _proxy_named(settings)
    return ProxyError(
        f"{named[0].upper()}{named[1:]} answered 407 Proxy Authentication Required: {fix}.",
        status=407,
    )


def proxy_error(settings: FleetSettings, exc: Exception) -> ProxyError:
    """A request that failed at the proxy: refused credentials (407), or no proxy there."""
    # urllib3 raises ProxyError("Unable to connect to proxy", OSError("Tunnel connection
    # failed: 407 Proxy Authentication Required")) when the CONNECT is refused
    # (urllib3/connectionpool.py, http.client HTTPConnection._tunnel).
    if "Tunnel connection failed: 407" in str(exc):
        return proxy_auth_error(settings)
    reason = _short_reason(exc)
    variable = settings.proxy_variable
    fix = (
        f"check {variable}, or add Kibana's host to NO_PROXY to go around it"
        if variable
        else "check the proxy settings"
    )
    return ProxyError(f"Cannot reach {_proxy_named(settings)} ({reason}): {fix}.")


def transport_error(settings: FleetSettings, exc: Exception) -> TransportError:
    """The TransportError for a request that got no answer: timeout, refused, dropped."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return TransportError(
            f"Kibana at {settings.endpoint} did not accept a connection within "
            f"{settings.connect_timeout:g}s: check fleet:endpoint (or KIBANA_ENDPOINT) and the "
            "network, or raise fleet:connectTimeout."
        )
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return TransportError(
            f"Kibana at {settings.endpoint} did not answer within {settings.timeout:g}s: "
            "raise fleet:timeout, or check Kibana's health.",
            maybe_sent=True,
            timed_out=True,
        )
    if isinstance(
        exc,
        (
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
            http.client.HTTPException,
        ),
    ):
        return TransportError(
            f"Kibana at {settings.endpoint} closed the connection before its whole answer "
            f"arrived ({type(exc).__name__}): retry, and check the proxy or load balancer in "
            "front of Kibana.",
            maybe_sent=True,
        )
    reason = _short_reason(exc)
    refused = "refused" in reason.lower() or "name or service" in reason.lower()
    return TransportError(
        f"Cannot reach Kibana at {settings.endpoint} ({reason}): check fleet:endpoint "
        "(or KIBANA_ENDPOINT) and that Kibana is running and reachable from here.",
        maybe_sent=not refused,
    )


def invalid_request_message(settings: FleetSettings, exc: Exception) -> str:
    """Why a request to Kibana could not be built (the endpoint or a proxy URL is malformed)."""
    return (
        f"A request to Kibana could not be built ({type(exc).__name__}): check fleet:endpoint "
        "(or KIBANA_ENDPOINT) and the proxy variables (HTTPS_PROXY, HTTP_PROXY, NO_PROXY)."
    )


def _short_reason(exc: BaseException) -> str:
    """The innermost, most specific line of a requests/urllib3 error, without URLs."""
    text = str(exc)
    for marker in ("Connection refused", "Name or service not known", "nodename nor servname"):
        if marker in text:
            return marker.lower() if marker != "Connection refused" else "connection refused"
    match = re.search(r"\[SSL: [A-Z0-9_]+\] ([^(]+?)(?: \(_ssl|\)|')", text)
    if match:
        return match[1].strip().rstrip(".")
    if "EOF occurred in violation of protocol" in text:
        return "the connection closed during the TLS handshake"
    if "RemoteDisconnected" in text or "Connection aborted" in text:
        return "the connection closed without an answer"
    if "Connection reset" in text:
        return "connection reset"
    return type(exc).__name__


_USER_INFO = re.compile(r"(?<=//)[^/@\s'\"]+@")
# An Authorization-looking value: a scheme and a token. A token of lower-case letters only is
# prose ("Basic authentication", "Bearer realm"), not a credential.
_AUTHORIZATION_VALUE = re.compile(
    r"\b(ApiKey|Basic|Bearer)(\s+)([A-Za-z0-9+/=._~\-]+)", re.IGNORECASE
)


def _mask_authorization(match: re.Match[str]) -> str:
    token = match[3]
    if token.isalpha() and token.islower():
        return match[0]
    return f"{match[1]} ***"


def scrub(text: str, settings: FleetSettings) -> str:
    """``text`` without any configured credential, URL user info or Authorization value."""
    for value in settings.secret_values:
        text = text.replace(value, "***")
    text = _USER_INFO.sub("***@", text)
    return _AUTHORIZATION_VALUE.sub(_mask_authorization, text)


def one_line(text: str, settings: FleetSettings) -> str:
    """Text from an answer as it goes into a message: scrubbed, one line, MAX_MESSAGE_CHARS."""
    text = " ".join(scrub(text, settings).split())
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[: MAX_MESSAGE_CHARS - 1].rstrip() + "…"
    return text


def underlying(exc: BaseException, settings: FleetSettings) -> UnderlyingError:
    """``exc`` as a secret-free cause: no configured credential, no URL user info."""
    kind = type(exc)
    return UnderlyingError(f"{kind.__module__}.{kind.__qualname__}", scrub(str(exc), settings))
