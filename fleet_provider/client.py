"""FleetClient: the only place that speaks HTTP to Kibana's Fleet enrollment API."""

from __future__ import annotations

import functools
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import quote, urlencode

import requests
import urllib3
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from fleet_provider._version import __version__
from fleet_provider.answers import (
    INVALID_REQUEST,
    NO_ANSWER,
    api_error,
    invalid_request_message,
    item_of,
    items_of,
    parse_answer,
    proxy_auth_error,
    proxy_error,
    tls_error,
    transport_error,
    underlying,
    unexpected,
)
from fleet_provider.config import DEFAULT_SPACE_ID, FleetSettings
from fleet_provider.exceptions import (
    ApiError,
    ConfigurationError,
    FleetError,
    UnderlyingError,
    UnexpectedResponseError,
)
from fleet_provider.log import enable_logging_from_environment, log_attempt, logger
from fleet_provider.retry import (
    RETRY_STATUSES,
    RetryPolicy,
    backoff_delay,
    describe,
    is_transient,
    parse_retry_after,
)
from fleet_provider.versions import KibanaVersion

# Fleet's public routes have a single version; sending it is optional and always safe.
API_VERSION = "2023-10-31"
KEYS_PATH = "/api/fleet/enrollment_api_keys"
POLICIES_PATH = "/api/fleet/agent_policies"
STATUS_PATH = "/api/status"
LIST_PAGE_SIZE = 1000


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
        enable_logging_from_environment()
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
        timeout: tuple[float, float] | None = None,
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
            timeout=timeout or self._timeout,
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
        timeout: tuple[float, float] | None = None,
    ) -> Any:
        """Send one API call and return its parsed JSON; map failures to FleetError types.

        With ``retry`` (reads and revokes, which are safe to repeat), 429, 502, 503, 504,
        connection failures and unusable bodies are retried with capped, jittered backoff.
        ``timeout`` (connect, read) replaces the settings' timeouts for this call.
        """
        base = self.settings.endpoint if self._base_url is None else self._base_url
        shown = f"{space_prefix(space_id)}{path}"
        url = f"{base}{shown}"
        attempts = self.retry.max_attempts if retry else 1
        attempt = 0
        while True:
            attempt += 1
            started = time.monotonic()
            retry_after: float | None = None
            cause: BaseException | None = None
            try:
                response = self._send(method, url, params, body, timeout)
            except requests.exceptions.SSLError as exc:
                error: FleetError = tls_error(self.settings, exc)
                cause = underlying(exc, self.settings)
            except requests.exceptions.ProxyError as exc:
                error = proxy_error(self.settings, exc)
                cause = underlying(exc, self.settings)
                if error.status == 407:
                    # The proxy refused the credentials: asking again gets the same answer.
                    log_attempt(method, shown, "407", started, attempt, attempts)
                    raise error from cause
            except INVALID_REQUEST as exc:
                raise ConfigurationError(invalid_request_message(self.settings, exc)) from (
                    underlying(exc, self.settings)
                )
            except NO_ANSWER as exc:
                # Every way an answer can break (refused, reset, timed out, cut off mid-body,
                # bad chunked encoding, a protocol error) is a transport failure that may have
                # been sent: reads retry it, creates look before they try again.
                error = transport_error(self.settings, exc)
                cause = underlying(exc, self.settings)
            else:
                status = response.status_code
                log_attempt(method, shown, str(status), started, attempt, attempts)
                if status == 407:
                    # A plain-http request went through the proxy, which wants credentials; the
                    # body is the proxy's, never Kibana's, and goes into no message.
                    response.close()
                    raise proxy_auth_error(self.settings)
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                if status not in RETRY_STATUSES or attempt >= attempts:
                    try:
                        return parse_answer(
                            status,
                            response.reason or "",
                            response.headers.get("Content-Type", ""),
                            response.content,
                            self.settings,
                            space_id,
                        )
                    except UnexpectedResponseError as unusable:
                        error, cause = unusable, unusable.__cause__
                    except ApiError as answer:
                        answer.retry_after = retry_after
                        raise
                else:
                    error = api_error(status, response.reason or "", None, self.settings, space_id)
                    response.close()
            if isinstance(error, ApiError):
                error.retry_after = retry_after
            if isinstance(cause, UnderlyingError):
                log_attempt(method, shown, cause.type_name, started, attempt, attempts)
            if attempt >= attempts or not is_transient(error):
                raise error from cause
            delay = backoff_delay(attempt, self.retry, retry_after)
            logger.warning(
                "retrying %s %s in %.2fs after %s (attempt %d of %d)",
                method,
                shown,
                delay,
                describe(error),
                attempt,
                attempts,
            )
            self._sleep(delay)

    # -- the Fleet enrollment API ---------------------------------------------------------

    def create_enrollment_api_key(
        self, body: Mapping[str, Any], space_id: str | None = None
    ) -> dict[str, Any]:
        """POST a new key (``body``: ``policy_id``, ``name``, ``expiration``); Kibana's ``item``.

        Never retried: a create whose answer was lost may have happened.
        """
        data = self._request("POST", KEYS_PATH, space_id=space_id, body=body, retry=False)
        return item_of(data, self.settings)

    def get_enrollment_api_key(self, key_id: str, space_id: str | None = None) -> dict[str, Any]:
        """GET one key by id (revoked keys included); KeyNotFoundError when it is gone."""
        data = self._request("GET", f"{KEYS_PATH}/{quote(key_id, safe='')}", space_id=space_id)
        return item_of(data, self.settings)

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
        items_of(data, self.settings)
        return dict(data)

    def iter_enrollment_api_keys(
        self, kuery: str | None = None, space_id: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every key matching ``kuery``, across all pages, each id once."""
        seen: set[Any] = set()
        page = 1
        while True:
            data = self.list_enrollment_api_keys(kuery, page, LIST_PAGE_SIZE, space_id)
            items = items_of(data, self.settings)
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

    def get_agent_policy(
        self,
        policy_id: str,
        space_id: str | None = None,
        *,
        timeout: tuple[float, float] | None = None,
    ) -> dict[str, Any]:
        """GET one agent policy, once (no retry); its ``item``, any error as a FleetError."""
        data = self._request(
            "GET",
            f"{POLICIES_PATH}/{quote(policy_id, safe='')}",
            space_id=space_id,
            retry=False,
            timeout=timeout,
        )
        item = data.get("item") if isinstance(data, dict) else None
        return item if isinstance(item, dict) else {}

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
                raise unexpected(self.settings, 200, "a status without version.number") from None
            _versions[self.settings.endpoint] = version
            return version


@functools.lru_cache(maxsize=8)
def client_for(settings: FleetSettings) -> FleetClient:
    """A client for ``settings``, the same one while they stay the same (a small LRU).

    Keep-alive sessions then survive across calls of one host process.
    """
    return FleetClient(settings)


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
