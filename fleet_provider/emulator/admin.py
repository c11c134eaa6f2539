"""Out-of-band changes to a Kibana, or to the emulator, over HTTP, as an operator makes them.

:class:`KibanaAdmin` arranges and inspects what the provider manages behind its back: agent
policies, spaces, enrollment keys created, revoked or removed by hand; and, on the emulator only,
its ``/_emulator`` test controls (reset, request counters, faults). It is built on ``requests``
and imports nothing from Pulumi. The emulator server stays standard-library only: nothing on
its path imports this module.

Typical use::

    admin = KibanaAdmin(server.url)
    admin.reset()
    policy = admin.create_policy("web-policy")
    key = admin.create_key(policy, "by-hand")
    admin.revoke(key["id"])
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any
from urllib.parse import urlsplit

import requests

from .urls import KEYS

__all__ = ["CONTROL", "DEFAULT_AUTH", "KEYS", "POLICIES", "RESULT_WINDOW", "XSRF", "KibanaAdmin"]

DEFAULT_AUTH = ("elastic", "changeme")
"""The emulator's default login (a superuser)."""

XSRF = {"kbn-xsrf": "true"}
"""The header Kibana requires on every request that changes something."""

POLICIES = "/api/fleet/agent_policies"
"""The agent-policy routes."""

RESULT_WINDOW = 10000
"""Elasticsearch's ``index.max_result_window``: the most keys one page can list."""

CONTROL = "/_emulator"
"""The prefix of the emulator's test-control API, which needs no credentials.

It is at the root of the host even when Kibana is served under a base path.
"""


class KibanaAdmin:
    """Out-of-band changes a person could make in Kibana's UI, done over HTTP.

    ``space_id`` (None for the default space) sends a request under ``/s/<space_id>``. The
    helpers raise ``requests.HTTPError``, with Kibana's answer in the message, when Kibana
    refuses; :meth:`request`, :meth:`get`, :meth:`post`, :meth:`put` and :meth:`delete`
    return every response as it is. ``url`` may carry Kibana's base path
    (``http://host:5601/kibana``); the emulator's controls are then still found at the root.
    """

    policy_prefix = "policy"
    """How the ids that :meth:`create_policy` makes up begin."""

    def __init__(
        self,
        url: str,
        *,
        auth: tuple[str, str] | None = None,
        api_key: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        """Speak to the Kibana at ``url`` with an API key, or else ``auth`` (the emulator's)."""
        self.url = url.rstrip("/")
        parts = urlsplit(self.url)
        self.control_url = f"{parts.scheme}://{parts.netloc}{CONTROL}"
        """Where the emulator's ``/_emulator`` controls are: the root of ``url``'s host."""
        self.timeout = timeout
        self.http = requests.Session()
        if api_key:
            self.http.headers["Authorization"] = f"ApiKey {api_key}"
        else:
            self.http.auth = auth or DEFAULT_AUTH
        self.created_policies: list[tuple[str, str | None]] = []
        """The policies :meth:`create_policy` made, with their spaces, oldest first."""

    # -- HTTP ---------------------------------------------------------------------------

    def request(
        self, method: str, path: str, *, space_id: str | None = None, **options: Any
    ) -> requests.Response:
        """Send a request to ``path`` (in ``space_id``); ``options`` go to ``requests``."""
        prefix = f"/s/{space_id}" if space_id else ""
        options.setdefault("timeout", self.timeout)
        return self.http.request(method, f"{self.url}{prefix}{path}", **options)

    def get(self, path: str, **options: Any) -> requests.Response:
        """GET ``path``."""
        return self.request("GET", path, **options)

    def post(self, path: str, **options: Any) -> requests.Response:
        """POST to ``path`` with ``kbn-xsrf``."""
        options["headers"] = {**XSRF, **options.get("headers", {})}
        return self.request("POST", path, **options)

    def put(self, path: str, **options: Any) -> requests.Response:
        """PUT to ``path`` with ``kbn-xsrf``."""
        options["headers"] = {**XSRF, **options.get("headers", {})}
        return self.request("PUT", path, **options)

    def delete(self, path: str, **options: Any) -> requests.Response:
        """DELETE ``path`` with ``kbn-xsrf``."""
        options["headers"] = {**XSRF, **options.get("headers", {})}
        return self.request("DELETE", path, **options)

    def _control(self, method: str, path: str, **options: Any) -> Any:
        """Call the emulator's control ``path`` (below ``/_emulator``); its JSON answer."""
        options.setdefault("timeout", self.timeout)
        return self._ok(self.http.request(method, self.control_url + path, **options))

    @staticmethod
    def _ok(response: requests.Response) -> Any:
        """The JSON body of a response that must be a success; else HTTPError with the body."""
        try:
            response.raise_for_status()
        except requests.HTTPError as error:
            raise requests.HTTPError(f"{error}: {response.text}", response=response) from None
        return response.json()

    # -- Kibana ---------------------------------------------------------------------------

    def kibana_version(self) -> str:
        """The version number Kibana reports in ``/api/status``, such as ``9.5.0``."""
        return str(self._ok(self.get("/api/status"))["version"]["number"])

    def create_space(self, space_id: str) -> None:
        """Create a Kibana space."""
        self._ok(self.post("/api/spaces/space", json={"id": space_id, "name": space_id}))

    def create_policy(
        self,
        policy_id: str | None = None,
        space_id: str | None = None,
        managed: bool = False,
        *,
        name: str | None = None,
        space_ids: list[str] | None = None,
    ) -> str:
        """Create an agent policy (with its Default key) and return its id, made up if None.

        ``space_ids`` (Kibana 8.16+) assigns its spaces; from 9.1 policy and keys move there.
        """
        policy_id = policy_id or f"{self.policy_prefix}-{uuid.uuid4().hex[:12]}"
        body: dict[str, Any] = {"id": policy_id, "name": name or policy_id, "namespace": "default"}
        if managed:
            body["is_managed"] = True
        if space_ids is not None:
            body["space_ids"] = space_ids
        self._ok(self.post(POLICIES, json=body, space_id=space_id))
        self.created_policies.append((policy_id, space_ids[0] if space_ids else space_id))
        return policy_id

    def get_policy(self, policy_id: str, space_id: str | None = None) -> dict[str, Any] | None:
        """An agent policy as Kibana reports it from ``space_id``, or None when not there."""
        return self._item_or_none(f"{POLICIES}/{policy_id}", space_id)

    def _item_or_none(self, path: str, space_id: str | None) -> dict[str, Any] | None:
        """The ``item`` that GET ``path`` answers, or None for a 404."""
        response = self.get(path, space_id=space_id)
        if response.status_code == 404:
            return None
        item: dict[str, Any] = self._ok(response)["item"]
        return item

    def move_policy(
        self, policy_id: str, space_ids: list[str], space_id: str | None = None
    ) -> dict[str, Any]:
        """Give a policy (now in ``space_id``) these spaces; return the updated policy.

        Kibana 9.1+ moves its enrollment keys along; before 9.1 nothing moves. The PUT
        carries the policy's own ``name`` and ``namespace``, which Kibana requires.
        """
        current = self._ok(self.get(f"{POLICIES}/{policy_id}", space_id=space_id))["item"]
        body = {"name": current["name"], "namespace": current["namespace"], "space_ids": space_ids}
        item: dict[str, Any] = self._ok(
            self.put(f"{POLICIES}/{policy_id}", json=body, space_id=space_id)
        )["item"]
        self.created_policies = [
            (known, space_ids[0] if known == policy_id else where)
            for known, where in self.created_policies
        ]
        return item

    def delete_policy(
        self, policy_id: str, space_id: str | None = None, *, force: bool = False
    ) -> None:
        """Delete an agent policy; Kibana revokes (<= 9.4) or removes (9.5+) its keys.

        ``force`` deletes a managed policy too.
        """
        body: dict[str, Any] = {"agentPolicyId": policy_id}
        if force:
            body["force"] = True
        self._ok(self.post(f"{POLICIES}/delete", json=body, space_id=space_id))

    def delete_created_policies(self) -> None:
        """Delete, managed or not, every policy :meth:`create_policy` made that is still there."""
        for policy_id, space_id in self.created_policies:
            # The policy may have been deleted already.
            with contextlib.suppress(requests.HTTPError):
                self.delete_policy(policy_id, space_id, force=True)
        self.created_policies.clear()

    def create_key(
        self, policy_id: str, name: str | None = None, space_id: str | None = None, **fields: Any
    ) -> dict[str, Any]:
        """Create a key by hand, as someone would in Kibana's UI, and return its item.

        ``fields`` are further body fields, such as ``expiration``.
        """
        body: dict[str, Any] = {"policy_id": policy_id, **fields}
        if name is not None:
            body["name"] = name
        item: dict[str, Any] = self._ok(self.post(KEYS, json=body, space_id=space_id))["item"]
        return item

    def get_key(self, key_id: str, space_id: str | None = None) -> dict[str, Any] | None:
        """A key as Kibana reports it, or None when it is gone."""
        return self._item_or_none(f"{KEYS}/{key_id}", space_id)

    def keys(self, policy_id: str, space_id: str | None = None) -> list[dict[str, Any]]:
        """Every key on a policy, revoked ones included, newest first."""
        params = {"kuery": f'policy_id:"{policy_id}"', "perPage": RESULT_WINDOW}
        response = self.get(KEYS, params=params, space_id=space_id)
        items: list[dict[str, Any]] = self._ok(response)["items"]
        return items

    def revoke(self, key_id: str, space_id: str | None = None, force: bool = False) -> None:
        """Revoke a key (or remove it, with ``force`` on Kibana 9.5+)."""
        params = {"forceDelete": "true", "includeHidden": "true"} if force else None
        self._ok(self.delete(f"{KEYS}/{key_id}", params=params, space_id=space_id))

    # -- the emulator's test controls -----------------------------------------------------

    def reset(self) -> None:
        """Forget every key, policy, space, fault and counter; the start-up policies return.

        Requests a ``commit_late`` fault still holds are dropped unprocessed.
        """
        self._control("POST", "/reset")
        self.created_policies.clear()

    def request_count(self) -> dict[str, Any]:
        """``{"total": N, "by_route": {"METHOD /path": N}}`` of Kibana API requests so far."""
        counts: dict[str, Any] = self._control("GET", "/requests")
        return counts

    def clear_request_count(self) -> None:
        """Set every request counter back to zero."""
        self._control("DELETE", "/requests")

    def faults(self) -> dict[str, Any]:
        """The fault plan in force, as the emulator describes it."""
        plan: dict[str, Any] = self._control("GET", "/faults")
        return plan

    def set_faults(self, plan: dict[str, Any]) -> None:
        """Replace the fault plan (``{"seed": N, "rules": [...]}``)."""
        self._control("POST", "/faults", json=plan)

    def clear_faults(self) -> None:
        """Remove every fault."""
        self._control("DELETE", "/faults")
