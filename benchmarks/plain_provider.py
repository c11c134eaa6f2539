"""Trivial dynamic providers: the HTTP calls made the plainest way, and no HTTP at all.

``PlainProvider`` is the baseline for the host's CPU time and cold start: ``requests.post``,
``requests.get`` and ``requests.delete`` (a new session and connection per call), no validation,
no retries. ``NullProvider`` makes no call at all: it shows what the host itself costs.
Importing this module has no side effects, so the host can unpickle the providers by reference.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping
from typing import Any

import requests
from pulumi import dynamic

KEYS_PATH = "/api/fleet/enrollment_api_keys"
HEADERS = {"kbn-xsrf": "true", "elastic-api-version": "2023-10-31"}
TIMEOUT = 30.0


class PlainProvider(dynamic.ResourceProvider):
    """Create, read and revoke Fleet enrollment keys with module-level ``requests`` calls."""

    serialize_as_secret_always = False

    def __init__(self) -> None:
        self._config: dict[str, str] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        self._config = {}

    def configure(self, req: dynamic.ConfigureRequest) -> None:
        """Keep the endpoint and the basic-auth pair from the stack config."""
        for key in ("fleet:endpoint", "fleet:username", "fleet:password"):
            self._config[key] = str(req.config.get(key) or "")

    def _url(self, path: str) -> str:
        return self._config["fleet:endpoint"].rstrip("/") + path

    def _auth(self) -> tuple[str, str]:
        return self._config["fleet:username"], self._config["fleet:password"]

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> dynamic.CheckResult:
        """Pass the inputs through, naming the key after the resource."""
        inputs = {k: v for k, v in news.items() if k != "__provider"}
        if not inputs.get("name"):
            inputs["name"] = f"{inputs.get('resource_name', 'key')}-{secrets.token_hex(4)}"
        return dynamic.CheckResult(inputs, [])

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        """POST the key."""
        body = {"policy_id": props["policy_id"], "name": props["name"]}
        response = requests.post(
            self._url(KEYS_PATH), json=body, auth=self._auth(), headers=HEADERS, timeout=TIMEOUT
        )
        response.raise_for_status()
        item = response.json()["item"]
        return dynamic.CreateResult(item["id"], {**props, **item})

    def read(self, id_: str, props: dict[str, Any]) -> dynamic.ReadResult:
        """GET the key; gone on 404."""
        response = requests.get(
            self._url(f"{KEYS_PATH}/{id_}"), auth=self._auth(), headers=HEADERS, timeout=TIMEOUT
        )
        if response.status_code == 404:
            return dynamic.ReadResult(None, {})
        response.raise_for_status()
        outs = {k: v for k, v in props.items() if k != "__provider"}
        outs.update(response.json()["item"])
        return dynamic.ReadResult(id_, outs)

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> dynamic.DiffResult:
        """Never a change."""
        return dynamic.DiffResult(changes=False)

    def delete(self, id_: str, _props: dict[str, Any]) -> None:
        """DELETE (revoke) the key."""
        response = requests.delete(
            self._url(f"{KEYS_PATH}/{id_}"), auth=self._auth(), headers=HEADERS, timeout=TIMEOUT
        )
        if response.status_code != 404:
            response.raise_for_status()


class NullProvider(dynamic.ResourceProvider):
    """No HTTP at all: what the dynamic-provider host itself costs per lifecycle.

    Its outputs have the shape and size of a real key's, so marshalling costs the same.
    """

    serialize_as_secret_always = False

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        pass

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> dynamic.CheckResult:
        """Pass the inputs through, naming the key after the resource."""
        inputs = {k: v for k, v in news.items() if k != "__provider"}
        if not inputs.get("name"):
            inputs["name"] = f"{inputs.get('resource_name', 'key')}-{secrets.token_hex(4)}"
        return dynamic.CheckResult(inputs, [])

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        """Answer with made-up outputs of a real key's size."""
        key_id = str(uuid.uuid4())
        outs = {
            **props,
            "api_key": secrets.token_urlsafe(45),
            "api_key_id": secrets.token_urlsafe(15),
            "active": True,
            "created_at": "2025-01-01T00:00:00.000Z",
            "hidden": False,
            "full_name": f"{props.get('name')} ({key_id})",
        }
        return dynamic.CreateResult(key_id, outs)

    def read(self, id_: str, props: dict[str, Any]) -> dynamic.ReadResult:
        """Echo the stored outputs."""
        outs = {k: v for k, v in props.items() if k != "__provider"}
        inputs: dict[str, Any] = {
            k: outs[k] for k in ("policy_id", "name", "resource_name") if k in outs
        }
        return dynamic.ReadResult(id_, outs, inputs)

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> dynamic.DiffResult:
        """Never a change."""
        return dynamic.DiffResult(changes=False)

    def delete(self, id_: str, _props: dict[str, Any]) -> None:
        """Nothing to do."""
