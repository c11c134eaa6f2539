"""A running emulator of Kibana's Fleet API for tests: where it is, how to reach it, what it holds.

Imports neither pytest nor Pulumi, so the pytest plugin that builds on it loads quickly.
The fixture's object: one per emulator, reset between tests.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from fleet_provider import preflight
from fleet_provider.client import forget_kibana_versions
from fleet_provider.emulator import EmulatorServer
from fleet_provider.emulator.admin import KibanaAdmin
from fleet_provider.emulator.auth import DEFAULT_USER, parse_user
from fleet_provider.emulator.server import DEFAULT_VERSION
from fleet_provider.emulator.urls import KEYS

NEWEST_KIBANA_VERSION = DEFAULT_VERSION
"""The Kibana version an emulator is started as unless told otherwise: the newest it emulates."""

DEFAULT_POLICIES = ("fleet-server-policy",)
"""The agent policies an emulator holds after every reset unless told otherwise."""

_ALL_KEYS_PAGE = 10000  # Elasticsearch's index.max_result_window: the largest page Kibana serves


@dataclass(frozen=True)
class EmulatorOptions:
    """How to start an emulator; the pytest options ``--fleet-*`` fill these in."""

    kibana_version: str = NEWEST_KIBANA_VERSION
    """The Kibana release to behave as, ``X.Y.Z`` (8.0.0 and later)."""
    users: tuple[str, ...] = (DEFAULT_USER,)
    """``NAME:PASSWORD:ROLE`` logins; the first is the one ``config`` and ``env`` name."""
    spaces: tuple[str, ...] = ()
    """Kibana spaces to create after every reset, beside the default space."""
    policies: tuple[str, ...] = DEFAULT_POLICIES
    """Agent policies present after every reset, each with its ``Default`` key."""
    faults: Mapping[str, Any] | None = field(default=None, hash=False)
    """A fault plan (``{"seed": N, "rules": [...]}``) loaded after every reset."""

    @classmethod
    def create(
        cls,
        *,
        kibana_version: str | None = None,
        users: Sequence[str] | None = None,
        spaces: Sequence[str] | None = None,
        policies: Sequence[str] | None = None,
        faults: Mapping[str, Any] | str | os.PathLike[str] | None = None,
    ) -> EmulatorOptions:
        """Options from plain values; ``faults`` may be a JSON file's path; None keeps defaults."""
        plan: Mapping[str, Any] | None = (
            json.loads(Path(faults).read_text(encoding="utf-8"))
            if isinstance(faults, (str, os.PathLike))
            else faults
        )
        return cls(
            kibana_version=kibana_version or NEWEST_KIBANA_VERSION,
            users=tuple(users) if users else (DEFAULT_USER,),
            spaces=tuple(spaces or ()),
            policies=tuple(policies) if policies is not None else DEFAULT_POLICIES,
            faults=dict(plan) if plan is not None else None,
        )


class FleetEmulator:
    """A local Kibana Fleet API on 127.0.0.1, with where it is, how to log in and what it holds."""

    def __init__(self, options: EmulatorOptions | None = None) -> None:
        """Start an emulator (on a free port) with ``options``; stop it with :meth:`close`."""
        self.options = options or EmulatorOptions()
        self._username, self._password, _ = parse_user(self.options.users[0])
        self.server = EmulatorServer(
            host="127.0.0.1",
            port=0,
            kibana_version=self.options.kibana_version,
            users=self.options.users,
            policies=self.options.policies,
        ).start()
        self.admin = KibanaAdmin(self.server.url, auth=(self._username, self._password))
        """Out-of-band changes, as an operator makes them in Kibana (policies, keys, faults)."""
        self._arrange()

    @property
    def url(self) -> str:
        """Kibana's base URL, such as ``http://127.0.0.1:40123``."""
        return self.server.url

    @property
    def kibana_version(self) -> str:
        """The Kibana version it behaves as, such as ``9.6.0``."""
        return str(self.server.version)

    @property
    def config(self) -> dict[str, str]:
        """The stack config that points a program at it: ``fleet:endpoint``, user and password."""
        return {
            "fleet:endpoint": self.url,
            "fleet:username": self._username,
            "fleet:password": self._password,
        }

    @property
    def env(self) -> dict[str, str]:
        """The environment that points a program at it: ``KIBANA_ENDPOINT``, user and password."""
        return {
            "KIBANA_ENDPOINT": self.url,
            "KIBANA_USERNAME": self._username,
            "KIBANA_PASSWORD": self._password,
        }

    def keys(
        self,
        policy_id: str | None = None,
        space_id: str | None = None,
        include_inactive: bool = False,
    ) -> list[dict[str, Any]]:
        """Kibana's items of the keys (of one policy, if given) in a space, newest first."""
        params: dict[str, Any] = {"perPage": _ALL_KEYS_PAGE}
        if policy_id is not None:
            params["kuery"] = f"policy_id:{json.dumps(policy_id)}"
        response = self.admin.get(KEYS, params=params, space_id=space_id)
        response.raise_for_status()
        items: list[dict[str, Any]] = response.json()["items"]
        return [item for item in items if include_inactive or item.get("active")]

    def add_policy(self, id: str, space_id: str | None = None) -> str:
        """Create an agent policy (Kibana gives it its ``Default`` key); its id."""
        return self.admin.create_policy(id, space_id=space_id)

    def reset(self) -> None:
        """Back to the start: only the start-up policies (with their Default keys) and spaces.

        Also forgets what this process cached about Kibana (versions, preflight answers), as a
        fresh provider host would have nothing cached.
        """
        self.server.reset()
        self._arrange()
        preflight.forget()
        forget_kibana_versions()

    def close(self) -> None:
        """Stop serving; nothing is left running."""
        self.server.stop()

    def __enter__(self) -> FleetEmulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"FleetEmulator(url={self.url!r}, kibana_version={self.kibana_version!r})"

    def _arrange(self) -> None:
        for space_id in self.options.spaces:
            self.admin.create_space(space_id)
        if self.options.faults is not None:
            self.admin.set_faults(dict(self.options.faults))
