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
    RouteNotFoundError,
    ServerError,
    TransportError,
    UnderlyingError,
    UnexpectedResponseError,
)

FLEET_PRIVILEGE = "fleet-agents-all"

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
    cls = error_class(status, message)
    hint = HINTS.get(cls, "").format(
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
    message = ""
    if isinstance(data, dict):
        message = str(data.get("message") or data.get("error") or "")
    raise api_error(status, message or reason or "error", data, settings, space_id)


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


def tls_message(settings: FleetSettings, exc: Exception) -> str:
    """What a failed TLS handshake means, and the settings that fix it."""
    reason = _short_reason(exc)
    return (
        f"TLS with Kibana at {settings.endpoint} failed ({reason}): set fleet:caCerts "
        "(or KIBANA_CA_CERTS) to the PEM file of the CA that signed Kibana's certificate, "
        "or fleet:insecure=true (KIBANA_INSECURE) to skip verification outside production."
    )


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
    match = re.search(r"\[SSL: [A-Z_]+\] ([^(]+?)(?: \(_ssl|\)|')", text)
    if match:
        return match[1].strip()
    if "RemoteDisconnected" in text or "Connection aborted" in text:
        return "the connection closed without an answer"
    if "Connection reset" in text:
        return "connection reset"
    return type(exc).__name__


_USER_INFO = re.compile(r"(?<=//)[^/@\s'\"]+@")


def underlying(exc: BaseException, settings: FleetSettings) -> UnderlyingError:
    """``exc`` as a secret-free cause: no configured credential, no URL user info."""
    text = _USER_INFO.sub("***@", str(exc))
    for value in (
        settings.authorization,
        settings.api_key,
        settings.password,
        settings.bearer_token,
    ):
        if value:
            text = text.replace(value, "***")
    kind = type(exc)
    return UnderlyingError(f"{kind.__module__}.{kind.__qualname__}", text)
