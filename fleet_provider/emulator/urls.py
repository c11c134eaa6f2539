"""The route table and the path rewrites in front of it (base path, ``/s/{space_id}``).

Every route is also served under ``/s/{space_id}``. A path that matches no route gets
core's generic 404 (see ``KibanaApi.handle``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote

from .versions import KibanaVersion

# Kibana's spaces plugin rewrites /s/<id>/... to /... and remembers the space.
_SPACE_PREFIX_RE = re.compile(r"^/s/([a-z0-9_\-]+)(/.*)?$")
# server.basePath: src/core/packages/http/server-internal/src/http_config.ts (8.x, 9.x).
_BASE_PATH_RE = re.compile(r"^/.*[^/]$")

KEYS = "/api/fleet/enrollment_api_keys"
# Deprecated in 8.0 and removed in 9.0 (elastic/kibana#198799).
HYPHEN_KEYS = "/api/fleet/enrollment-api-keys"

AGENTS_ALL = "fleet-agents-all"
SETUP = "fleet-setup"
POLICIES_ALL = "fleet-agent-policies-all"
POLICIES_READ = "fleet-agent-policies-read"
AGENTS_READ = "fleet-agents-read"

# Each group is "any of"; every group must be satisfied (Kibana's requiredPrivileges).
Privileges = tuple[tuple[str, ...], ...]


def _always(_version: KibanaVersion) -> bool:
    return True


def _hyphen(version: KibanaVersion) -> bool:
    return version.hyphen_routes


@dataclass(frozen=True)
class Route:
    """One Kibana route: method, path pattern, handler name and required privileges."""

    method: str
    path: str
    handler: str
    privileges: Privileges = ()
    versioned: bool = True
    fleet: bool = True
    available: Callable[[KibanaVersion], bool] = _always
    # False for the few routes Kibana registers with ``authRequired: false``.
    authenticated: bool = True
    # A page (not an API route): a caller without credentials is sent to the login page.
    page: bool = False
    regex: re.Pattern[str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        # hapi: ``{name*}`` at the end matches any number of segments, none included.
        pattern = re.sub(r"/\{(\w+)\*\}", r"(?:/(?P<\1>.*))?", self.path)
        pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern)
        object.__setattr__(self, "regex", re.compile(f"^{pattern}$"))


def _key_routes(base: str, available: Callable[[KibanaVersion], bool]) -> list[Route]:
    read = ((AGENTS_ALL, SETUP),)
    write = ((AGENTS_ALL,),)
    return [
        Route("POST", base, "post_enrollment_api_key", write, available=available),
        Route("GET", base, "list_enrollment_api_keys", read, available=available),
        Route("GET", base + "/{keyId}", "get_enrollment_api_key", read, available=available),
        Route("DELETE", base + "/{keyId}", "delete_enrollment_api_key", write, available=available),
    ]


def _bulk_delete(version: KibanaVersion) -> bool:
    return version.bulk_delete


ROUTES: tuple[Route, ...] = (
    # Before {keyId}-routes would see it: POST has none, but keep the specific path first.
    Route(
        "POST",
        KEYS + "/_bulk_delete",
        "bulk_delete_enrollment_api_keys",
        ((AGENTS_ALL,),),
        available=_bulk_delete,
    ),
    *_key_routes(KEYS, _always),
    *_key_routes(HYPHEN_KEYS, _hyphen),
    Route("POST", "/api/fleet/agent_policies", "post_agent_policy", ((POLICIES_ALL,),)),
    Route(
        "GET",
        "/api/fleet/agent_policies/{agentPolicyId}",
        "get_agent_policy",
        ((POLICIES_READ, AGENTS_READ, SETUP),),
    ),
    Route(
        "PUT", "/api/fleet/agent_policies/{agentPolicyId}", "put_agent_policy", ((POLICIES_ALL,),)
    ),
    Route("POST", "/api/fleet/agent_policies/delete", "delete_agent_policy", ((POLICIES_ALL,),)),
    Route("POST", "/api/spaces/space", "post_space", (("manage_spaces",),), fleet=False),
    Route("GET", "/api/status", "get_status", versioned=False, fleet=False),
    # Kibana's UI, for clients given a browser URL: core_app.ts renders every
    # /app/{id}/{any*} as the app's HTML page; the security plugin's views/login.ts
    # serves /login to anyone (8.x and 9.x).
    Route("GET", "/app/{id}/{any*}", "get_app_page", versioned=False, fleet=False, page=True),
    Route("GET", "/login", "get_login_page", versioned=False, fleet=False, authenticated=False),
)


def check_base_path(base_path: str) -> str:
    """Kibana's rule for ``server.basePath``; raise ValueError with its message."""
    if not _BASE_PATH_RE.match(base_path):
        raise ValueError(f"base path {base_path!r} must start with a slash, don't end with one")
    return base_path


def remove_base_path(path: str, base_path: str) -> str | None:
    """``path`` without ``base_path`` (core's ``BasePath.remove``), or None if it lacks it."""
    if path == base_path:
        return "/"
    if path.startswith(base_path + "/"):
        return path[len(base_path) :]
    return None


def split_space(path: str) -> tuple[str, str]:
    """Split ``/s/<space>/rest`` into ``(space, /rest)``; other paths are in ``default``."""
    match = _SPACE_PREFIX_RE.match(path)
    if match:
        return match[1], match[2] or "/"
    return "default", path


def resolve(method: str, path: str, version: KibanaVersion) -> tuple[Route, dict[str, str]] | None:
    """The route serving ``method path`` (space prefix removed) and its path params."""
    if len(path) > 1:
        # Kibana's router strips one trailing slash.
        path = path.rstrip("/") or "/"
    for route in ROUTES:
        if route.method != method or not route.available(version):
            continue
        match = route.regex.match(path)
        if match:
            return route, {k: unquote(v or "") for k, v in match.groupdict().items()}
    return None
