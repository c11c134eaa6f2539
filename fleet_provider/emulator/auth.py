"""Who may call the emulator: users, API keys and bearer tokens, each with a role.

A role is a set of Kibana API privileges (what Kibana's feature privileges grant):

- ``superuser`` holds all of them.
- ``fleet-read`` is Fleet: Read: ``fleet-read`` and, through the sub-features that Read
  includes, ``fleet-agents-read``, ``fleet-agent-policies-read`` and ``fleet-settings-read``.
  It may read agent policies, but listing or reading enrollment keys is 403: those routes
  want ``fleet-agents-all`` or ``fleet-setup``.
- ``fleet-setup`` holds only the reserved ``fleet-setup`` privilege, as the
  ``elastic/fleet-server`` service account does: it may list and read keys and read agent
  policies, and may not create or revoke keys. It is Kibana's only way to read keys
  without being able to write them.
- ``none`` holds nothing.

Kibana: the ``fleetv2`` feature in ``x-pack/platform/plugins/shared/fleet/server/plugin.ts``
(``read`` grants ``fleet-read``; each sub-feature's ``*_read`` privilege is ``includeIn:
'read'``; ``fleet-setup`` is reserved, ``excludeFromBasePrivileges``, "intended for use by the
elastic/fleet-server service account only"), the key routes'
``requiredPrivileges``/``fleetAuthz`` in ``server/routes/enrollment_api_key/index.ts`` (9.x:
any of ``fleet-agents-all``, ``fleet-setup``; 8.x: ``readEnrollmentTokens``, which
``calculateAuthz`` in ``common/authz.ts`` grants for Fleet: All, ``fleet-setup`` or Agents: All),
and ``x-pack/test/fleet_api_integration/apis/enrollment_api_keys/privileges.ts``, where the
Fleet: Read and Agents: Read users get 403 on ``GET /api/fleet/enrollment_api_keys``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

FLEET_PRIVILEGES = (
    "fleet-read",
    "fleet-agents-all",
    "fleet-agents-read",
    "fleet-setup",
    "fleet-agent-policies-all",
    "fleet-agent-policies-read",
    "fleet-settings-all",
    "fleet-settings-read",
    "manage_spaces",
)

ROLES: dict[str, frozenset[str]] = {
    "superuser": frozenset(FLEET_PRIVILEGES),
    "fleet-read": frozenset(
        {"fleet-read", "fleet-agents-read", "fleet-agent-policies-read", "fleet-settings-read"}
    ),
    "fleet-setup": frozenset({"fleet-setup"}),
    "none": frozenset(),
}

DEFAULT_USER = "elastic:changeme:superuser"

_SECURITY_EXCEPTION = "[security_exception: [security_exception] Reason: {reason}]: {reason}"
_BAD_CREDENTIALS = (
    "unable to authenticate with provided credentials and anonymous access "
    "is not allowed for this request"
)


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a display name and its privileges."""

    name: str
    role: str

    @property
    def privileges(self) -> frozenset[str]:
        """The Kibana privileges the role grants."""
        return ROLES[self.role]


@dataclass(frozen=True)
class AuthFailure:
    """Authentication failed; ``message`` is Kibana's 401 message."""

    message: str


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r} (choose from {', '.join(ROLES)})")
    return role


def parse_user(spec: str) -> tuple[str, str, str]:
    """Split ``NAME:PASSWORD:ROLE`` (the password may contain colons)."""
    name, sep, rest = spec.partition(":")
    password, sep2, role = rest.rpartition(":")
    if not (sep and sep2 and name and password):
        raise ValueError(f"expected NAME:PASSWORD:ROLE, got {name!r}:...")
    return name, password, _check_role(role)


def parse_secret(spec: str, what: str) -> tuple[str, str]:
    """Split ``SECRET:ROLE`` for an API key or a bearer token."""
    secret, sep, role = spec.rpartition(":")
    if not (sep and secret):
        raise ValueError(f"expected {what}:ROLE")
    return secret, _check_role(role)


class Credentials:
    """The accepted credentials and the check of an ``Authorization`` header."""

    def __init__(
        self,
        users: Iterable[str] = (DEFAULT_USER,),
        api_keys: Iterable[str] = (),
        bearer_tokens: Iterable[str] = (),
    ) -> None:
        self._users = {}
        for spec in users:
            name, password, role = parse_user(spec)
            self._users[name] = (password, role)
        self._api_keys = [parse_secret(spec, "ENCODED") for spec in api_keys]
        self._tokens = [parse_secret(spec, "TOKEN") for spec in bearer_tokens]

    def authenticate(self, header: str | None) -> Principal | AuthFailure:
        """Check an ``Authorization`` header the way Kibana's security plugin does."""
        if not header:
            return AuthFailure("Unauthorized")
        scheme, _, value = header.strip().partition(" ")
        scheme = scheme.lower()
        value = value.strip()
        if scheme == "basic":
            return self._basic(value)
        if scheme == "apikey":
            return self._secret(value, self._api_keys, "api-key")
        if scheme == "bearer":
            return self._secret(value, self._tokens, "token")
        # No authentication provider handles the scheme: a bare 401.
        return AuthFailure("Unauthorized")

    def _basic(self, value: str) -> Principal | AuthFailure:
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return AuthFailure("Unauthorized")
        name, sep, password = decoded.partition(":")
        if not sep:
            return AuthFailure("Unauthorized")
        known = self._users.get(name)
        if known and hmac.compare_digest(known[0].encode(), password.encode()):
            return Principal(name, known[1])
        reason = f"unable to authenticate user [{name}] for REST request [/_security/_authenticate]"
        return AuthFailure(_SECURITY_EXCEPTION.format(reason=reason))

    @staticmethod
    def _secret(value: str, accepted: list[tuple[str, str]], kind: str) -> Principal | AuthFailure:
        for secret, role in accepted:
            if hmac.compare_digest(secret.encode(), value.encode()):
                return Principal(kind, role)
        return AuthFailure(_SECURITY_EXCEPTION.format(reason=_BAD_CREDENTIALS))
