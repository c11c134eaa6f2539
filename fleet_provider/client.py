"""FleetClient: the only place that speaks HTTP to Kibana's Fleet enrollment API."""

from __future__ import annotations

import json
import os
import random
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import quote, urlencode

import requests
import urllib3
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from fleet_provider._version import __version__
from fleet_provider.config import DEFAULT_SPACE_ID, FleetSettings
from fleet_provider.exceptions import (
    ApiError,
    AuthenticationError,
    AuthorizationError,
    BadRequestError,
    ConflictError,
    DuplicateNameError,
    FleetError,
    NotFoundError,
    PolicyNotFoundError,
    ServerError,
    TLSError,
    TransportError,
    UnexpectedResponseError,
)

# Fleet's public routes have a single version; sending it is optional and always safe.
API_VERSION = "2023-10-31"
KEYS_PATH = "/api/fleet/enrollment_api_keys"
STATUS_PATH = "/api/status"
FLEET_PRIVILEGE = "fleet-agents-all"
LIST_PAGE_SIZE = 1000
RETRY_STATUSES = frozenset({429, 502, 503, 504})

# Kibana 9.x: "An enrollment key named X already exists for agent policy P" (409);
# Kibana 8.x up to about 8.14 sends the same text with 400 Bad Request.
_DUPLICATE_NAME = re.compile(r"^An enrollment key named .* already exists for agent policy ")
# 'Agent policy "P" not found': 404 on Kibana 9.x, 400 on Kibana 8.x up to about 8.14.
_POLICY_NOT_FOUND = re.compile(r'^Agent policy ".*" not found')


class KibanaVersion(NamedTuple):
    """A Kibana release number, comparable as a tuple: ``KibanaVersion(9, 5, 0)``."""

    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> KibanaVersion:
        """Parse ``"9.5.0"`` or ``"8.19.3-SNAPSHOT"``."""
        match = re.match(r"^(\d+)\.(\d+)\.(\d+)", text.strip())
        if not match:
            raise ValueError(f"not a Kibana version: {text!r}")
        return cls(int(match[1]), int(match[2]), int(match[3]))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long reads and deletes are retried on transient failures."""

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0


def backoff_delay(
    attempt: int,
    policy: RetryPolicy,
    retry_after: float | None = None,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based): capped, jittered, exponential.

    A server's ``Retry-After`` wins, capped at ``policy.max_retry_after``.
    """
    if retry_after is not None:
        return max(0.0, min(retry_after, policy.max_retry_after))
    ceiling = min(policy.max_delay, policy.base_delay * (2.0 ** (attempt - 1)))
    # "Equal jitter": at least half the ceiling, so retries never stampede at zero delay.
    return ceiling / 2 + rand() * ceiling / 2


def parse_retry_after(value: str | None) -> float | None:
    """The ``Retry-After`` header in seconds, or None when absent or not a number."""
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def space_prefix(space_id: str | None) -> str:
    """``/s/<space>`` for a non-default space, else the empty string."""
    if not space_id or space_id == DEFAULT_SPACE_ID:
        return ""
    return f"/s/{quote(space_id, safe='')}"


_versions: dict[str, KibanaVersion] = {}
_versions_lock = threading.Lock()
_warned_cleartext: set[str] = set()


class FleetClient:
    """A client for one Kibana, with a keep-alive ``requests.Session`` per thread."""

    def __init__(
        self,
        settings: FleetSettings,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.retry = retry or RetryPolicy(max_attempts=settings.max_retries + 1)
        self._sleep = sleep
        self._local = threading.local()
        self._timeout = (settings.connect_timeout, settings.timeout)
        self._proxies = requests.utils.get_environ_proxies(settings.endpoint)
        self._verify = _resolve_verify(settings)
        self._base_headers = {
            "Accept": "application/json",
            "User-Agent": f"fleet-provider/{__version__}",
            "elastic-api-version": API_VERSION,
        }
        authorization = settings.authorization
        if authorization is not None:
            self._base_headers["Authorization"] = authorization
        # What Session.request would add to every call, worked out once (see _send).
        self._write_headers = {**self._base_headers, "kbn-xsrf": "true"}
        self._base_url = _prepared_base_url(settings.endpoint)
        if settings.insecure:
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        if settings.is_cleartext_remote and settings.endpoint not in _warned_cleartext:
            _warned_cleartext.add(settings.endpoint)
            print(
                f"warning: the Kibana endpoint {settings.endpoint} uses plain http to a host "
                "that is not loopback, so credentials travel in clear: use https://",
                file=sys.stderr,
            )

    # -- sessions -------------------------------------------------------------------------

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            # Proxies and CA bundles were resolved once in __init__; without trust_env,
            # requests would read the environment and .netrc again on every call.
            session.trust_env = False
            session.proxies = dict(self._proxies)
            session.verify = self._verify
            session.headers.clear()
            session.headers.update(self._base_headers)
            # The session owns the keep-alive connection pools; _send uses its adapter.
            self._local.session = session
            self._local.adapter = session.get_adapter(self.settings.endpoint)
        return session

    def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, str | int] | None,
        body: Mapping[str, Any] | None,
    ) -> requests.Response:
        """Send one request through this thread's keep-alive adapter and read the answer.

        This is what ``Session.request`` does for this client, minus the per-call work it
        does not need: the settings it would merge are fixed per client (no trust_env, no
        session auth, hooks or redirects), and cookies are neither sent nor stored.
        """
        self._session()
        adapter: BaseAdapter = self._local.adapter
        request = requests.PreparedRequest()
        request.method = method
        if self._base_url is None:  # an endpoint requests refuses: let it say why
            request.prepare_url(url, params)
        else:
            request.url = f"{url}?{urlencode(params)}" if params else url
        headers = CaseInsensitiveDict(
            self._base_headers if method == "GET" else self._write_headers
        )
        if body is not None:
            data = json.dumps(body, allow_nan=False).encode("utf-8")
            headers["Content-Length"] = str(len(data))
            headers["Content-Type"] = "application/json"
            request.body = data
        elif method not in ("GET", "HEAD"):
            headers["Content-Length"] = "0"
        request.headers = headers
        response = adapter.send(
            request,
            stream=False,
            timeout=self._timeout,
            verify=self._verify,
            cert=None,
            proxies=self._proxies,
        )
        # Read the whole body now, as Session.send does: the connection returns to the pool.
        _ = response.content
        return response

    def pause(self, attempt: int, retry_after: float | None = None) -> None:
        """Sleep the backoff before retry number ``attempt``."""
        self._sleep(backoff_delay(attempt, self.retry, retry_after))

    def close(self) -> None:
        """Close this thread's session, if it has one."""
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is not None:
            session.close()
            self._local.session = None

    # -- the one place that sends requests -------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        space_id: str | None = None,
        params: Mapping[str, str | int] | None = None,
        body: Mapping[str, Any] | None = None,
        retry: bool = True,
    ) -> Any:
        """Send one API call and return its parsed JSON; map failures to FleetError types.

        With ``retry`` (reads and revokes, which are safe to repeat), 429, 502, 503, 504,
        connection failures and unusable bodies are retried with capped, jittered backoff.
        """
        base = self.settings.endpoint if self._base_url is None else self._base_url
        url = f"{base}{space_prefix(space_id)}{path}"
        attempts = self.retry.max_attempts if retry else 1
        attempt = 0
        while True:
            attempt += 1
            retry_after: float | None = None
            try:
                response = self._send(method, url, params, body)
            except requests.exceptions.SSLError as exc:
                error: FleetError = TLSError(_tls_message(self.settings, exc))
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
                error = _transport_error(self.settings, exc)
            else:
                if response.status_code not in RETRY_STATUSES or attempt >= attempts:
                    try:
                        return _parse_response(response, self.settings, space_id)
                    except UnexpectedResponseError as unusable:
                        error = unusable
                else:
                    retry_after = parse_retry_after(response.headers.get("Retry-After"))
                    error = _api_error(
                        response.status_code,
                        response.reason or "",
                        None,
                        self.settings,
                        space_id,
                    )
                    response.close()
            if attempt >= attempts or not is_transient(error):
                raise error from None
            self._sleep(backoff_delay(attempt, self.retry, retry_after))

    # -- the Fleet enrollment API ---------------------------------------------------------

    def create_enrollment_api_key(
        self,
        policy_id: str,
        name: str | None = None,
        expiration: str | None = None,
        space_id: str | None = None,
    ) -> dict[str, Any]:
        """POST a new key; returns Kibana's ``item`` (with the secret ``api_key``).

        Never retried: a create whose answer was lost may have happened.
        """
        body: dict[str, Any] = {"policy_id": policy_id}
        if name is not None:
            body["name"] = name
        if expiration is not None:
            body["expiration"] = expiration
        data = self._request(
            "POST",
            KEYS_PATH,
            space_id=space_id,
            body=body,
            retry=False,
        )
        return _item(data, self.settings)

    def get_enrollment_api_key(self, key_id: str, space_id: str | None = None) -> dict[str, Any]:
        """GET one key by id (revoked keys included); NotFoundError when it is gone."""
        data = self._request("GET", f"{KEYS_PATH}/{quote(key_id, safe='')}", space_id=space_id)
        return _item(data, self.settings)

    def list_enrollment_api_keys(
        self,
        kuery: str | None = None,
        page: int = 1,
        per_page: int = LIST_PAGE_SIZE,
        space_id: str | None = None,
    ) -> dict[str, Any]:
        """One page of keys, newest first: ``{items, total, page, perPage}``."""
        params: dict[str, str | int] = {"page": page, "perPage": per_page}
        if kuery:
            params["kuery"] = kuery
        data = self._request("GET", KEYS_PATH, space_id=space_id, params=params)
        if not isinstance(data, dict) or not isinstance(data.get("items", data.get("list")), list):
            raise _unexpected(self.settings, 200, "a key list without 'items'")
        return data

    def iter_enrollment_api_keys(
        self, kuery: str | None = None, space_id: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every key matching ``kuery``, across all pages, each id once."""
        seen: set[str] = set()
        page = 1
        while True:
            data = self.list_enrollment_api_keys(kuery, page, LIST_PAGE_SIZE, space_id)
            items = data.get("items", data.get("list")) or []
            for item in items:
                if item.get("id") not in seen:
                    seen.add(item.get("id"))
                    yield item
            total = int(data.get("total", 0))
            if not items or page * LIST_PAGE_SIZE >= total:
                return
            page += 1

    def delete_enrollment_api_key(
        self,
        key_id: str,
        space_id: str | None = None,
        *,
        force_delete: bool = False,
        include_hidden: bool = False,
    ) -> None:
        """Revoke a key (Kibana keeps it, inactive); ``force_delete`` removes it (Kibana 9.5+)."""
        params: dict[str, str | int] = {}
        # forceDelete and includeHidden exist from Kibana 9.5; 9.0-9.4 ignore unknown query keys
        # (the route has no query schema), so sending them there would silently only revoke.
        if force_delete:
            params["forceDelete"] = "true"
        if include_hidden:
            params["includeHidden"] = "true"
        self._request(
            "DELETE",
            f"{KEYS_PATH}/{quote(key_id, safe='')}",
            space_id=space_id,
            params=params or None,
        )

    def kibana_version(self) -> KibanaVersion:
        """Kibana's version from ``GET /api/status``, read once per endpoint per process."""
        cached = _versions.get(self.settings.endpoint)
        if cached is not None:
            return cached
        with _versions_lock:
            cached = _versions.get(self.settings.endpoint)
            if cached is not None:
                return cached
            data = self._request("GET", STATUS_PATH)
            number = data.get("version", {}).get("number") if isinstance(data, dict) else None
            try:
                version = KibanaVersion.parse(str(number))
            except ValueError:
                raise _unexpected(self.settings, 200, "a status without version.number") from None
            _versions[self.settings.endpoint] = version
            return version


def is_transient(error: FleetError) -> bool:
    """True for a failure worth another try: no answer, a proxy's error, an unusable body.

    The one decision behind every retry, reads, revokes and creates alike. A TLS failure is
    not transient: a certificate that fails verification fails the same way every time.
    """
    if isinstance(error, TLSError):
        return False
    if isinstance(error, (TransportError, UnexpectedResponseError)):
        return True
    return isinstance(error, ApiError) and error.status in RETRY_STATUSES


def forget_kibana_versions() -> None:
    """Drop the cached Kibana versions (the next call reads ``/api/status`` again)."""
    with _versions_lock:
        _versions.clear()


def _prepared_base_url(endpoint: str) -> str | None:
    """The endpoint as requests prepares a URL (IDNA host, quoted path), without the last /.

    None when requests refuses it; the first request then raises requests' own error.
    """
    try:
        prepared = requests.PreparedRequest()
        prepared.prepare_url(endpoint, None)
    except requests.exceptions.RequestException:
        return None
    return str(prepared.url).rstrip("/")


def _resolve_verify(settings: FleetSettings) -> bool | str:
    if settings.insecure:
        return False
    if settings.ca_certs:
        return settings.ca_certs
    # Without trust_env, requests no longer reads these itself: honour them once, here.
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    return bundle or True


def _item(data: Any, settings: FleetSettings) -> dict[str, Any]:
    item = data.get("item") if isinstance(data, dict) else None
    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
        raise _unexpected(settings, 200, "a response without 'item'")
    return item


def _unexpected(settings: FleetSettings, status: int, what: str) -> UnexpectedResponseError:
    return UnexpectedResponseError(
        status,
        f"{what} from {settings.endpoint}",
        hint="Check that fleet:endpoint (or KIBANA_ENDPOINT) is Kibana's base URL, not "
        "Elasticsearch's or a proxy's",
    )


def _tls_message(settings: FleetSettings, exc: Exception) -> str:
    reason = _short_reason(exc)
    return (
        f"TLS with Kibana at {settings.endpoint} failed ({reason}): set fleet:caCerts "
        "(or KIBANA_CA_CERTS) to the PEM file of the CA that signed Kibana's certificate, "
        "or fleet:insecure=true (KIBANA_INSECURE) to skip verification outside production."
    )


def _transport_error(settings: FleetSettings, exc: Exception) -> TransportError:
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
        )
    reason = _short_reason(exc)
    refused = "refused" in reason.lower() or "name or service" in reason.lower()
    return TransportError(
        f"Cannot reach Kibana at {settings.endpoint} ({reason}): check fleet:endpoint "
        "(or KIBANA_ENDPOINT) and that Kibana is running and reachable from here.",
        maybe_sent=not refused,
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


def _parse_response(
    response: requests.Response,
    settings: FleetSettings,
    space_id: str | None,
) -> Any:
    status = response.status_code
    content_type = response.headers.get("Content-Type", "")
    try:
        data: Any = response.json()
    except ValueError:
        if "html" in content_type.lower() or response.text.lstrip().startswith("<"):
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
        ) from None
    if status < 300:
        return data
    message = ""
    if isinstance(data, dict):
        message = str(data.get("message") or data.get("error") or "")
    message = message or response.reason or "error"
    raise _api_error(status, message, data, settings, space_id)


def _api_error(
    status: int,
    message: str,
    body: Any,
    settings: FleetSettings,
    space_id: str | None,
) -> ApiError:
    space = space_id or DEFAULT_SPACE_ID
    if status in (400, 409) and _DUPLICATE_NAME.match(message):
        return DuplicateNameError(
            status,
            message,
            body,
            hint="Kibana refuses a name already used on the policy, revoked keys included: "
            "choose another name, or leave name out to let the provider pick a unique one",
        )
    if status in (400, 404) and _POLICY_NOT_FOUND.match(message):
        return PolicyNotFoundError(
            status,
            message,
            body,
            hint=f"Searched in Kibana space {space!r}: check policy_id, and set space_id "
            "(or fleet:spaceId) if the policy lives in another space",
        )
    if status == 401:
        return AuthenticationError(
            status,
            message,
            body,
            hint=f"Kibana did not accept the credentials ({settings.credential_source}): set "
            "fleet:apiKey (KIBANA_API_KEY), fleet:username/fleet:password "
            "(KIBANA_USERNAME/KIBANA_PASSWORD) or fleet:bearerToken (KIBANA_BEARER_TOKEN)",
        )
    if status == 403:
        return AuthorizationError(
            status,
            message,
            body,
            hint=f"Give the role behind {settings.credential_source} the Kibana privilege "
            f"{FLEET_PRIVILEGE} (Fleet: All, or Agents: All) in space {space!r}",
        )
    if status == 404:
        return NotFoundError(status, message, body)
    if status == 409:
        return ConflictError(status, message, body)
    if status >= 500:
        return ServerError(
            status,
            message,
            body,
            hint="Kibana failed while handling the request: retry later, and check Kibana's log",
        )
    if status == 400:
        return BadRequestError(status, message, body)
    return ApiError(status, message, body)
