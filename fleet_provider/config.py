"""Connection settings: Pulumi stack config ``fleet:*`` first, then the ``KIBANA_*`` environment.

The environment variable names are the ones the Terraform elasticstack provider reads, so CI
secrets that already exist work unchanged. Settings are resolved at call time and never stored
in the pickled provider: rotating a credential takes effect on the next call.
"""

from __future__ import annotations

import base64
import ipaddress
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urlsplit

from fleet_provider.exceptions import ConfigurationError

DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_CONNECT_TIMEOUT_SECONDS = 10.0
DEFAULT_MAX_RETRIES = 4
MAX_RETRIES_LIMIT = 20
DEFAULT_SPACE_ID = "default"

# Kibana space ids: lower-case letters, digits, "_" and "-" (the Spaces plugin's own rule).
SPACE_ID_PATTERN = re.compile(r"^[a-z0-9_\-]+$")


@dataclass(frozen=True)
class SettingSource:
    """One connection setting: its stack config key and its environment variable."""

    config_key: str
    env_var: str | None

    def describe(self) -> str:
        """Both names, as a person would type them."""
        if self.env_var is None:
            return self.config_key
        return f"{self.config_key} (or {self.env_var})"


ENDPOINT = SettingSource("fleet:endpoint", "KIBANA_ENDPOINT")
API_KEY = SettingSource("fleet:apiKey", "KIBANA_API_KEY")
USERNAME = SettingSource("fleet:username", "KIBANA_USERNAME")
PASSWORD = SettingSource("fleet:password", "KIBANA_PASSWORD")
BEARER_TOKEN = SettingSource("fleet:bearerToken", "KIBANA_BEARER_TOKEN")
CA_CERTS = SettingSource("fleet:caCerts", "KIBANA_CA_CERTS")
INSECURE = SettingSource("fleet:insecure", "KIBANA_INSECURE")
SPACE_ID = SettingSource("fleet:spaceId", None)
TIMEOUT = SettingSource("fleet:timeout", None)
CONNECT_TIMEOUT = SettingSource("fleet:connectTimeout", None)
MAX_RETRIES = SettingSource("fleet:maxRetries", None)

ALL_SETTINGS = (
    ENDPOINT,
    API_KEY,
    USERNAME,
    PASSWORD,
    BEARER_TOKEN,
    CA_CERTS,
    INSECURE,
    SPACE_ID,
    TIMEOUT,
    CONNECT_TIMEOUT,
    MAX_RETRIES,
)
CREDENTIALS = (API_KEY, USERNAME, PASSWORD, BEARER_TOKEN)

T = TypeVar("T")

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off", ""})


@dataclass(frozen=True)
class FleetSettings:
    """Everything needed to talk to one Kibana; secrets are kept out of ``repr``."""

    endpoint: str
    api_key: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    bearer_token: str | None = field(default=None, repr=False)
    ca_certs: str | None = None
    insecure: bool = False
    space_id: str | None = None
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_SECONDS
    max_retries: int = DEFAULT_MAX_RETRIES
    credential_source: str = "none"

    @property
    def authorization(self) -> str | None:
        """The ``Authorization`` header value, or None when no credential is configured."""
        if self.api_key:
            return f"ApiKey {self.api_key}"
        if self.bearer_token:
            return f"Bearer {self.bearer_token}"
        if self.username is not None and self.password is not None:
            pair = f"{self.username}:{self.password}".encode()
            return f"Basic {base64.b64encode(pair).decode('ascii')}"
        return None

    @property
    def is_cleartext_remote(self) -> bool:
        """True when credentials would travel unencrypted to a host that is not loopback."""
        parts = urlsplit(self.endpoint)
        if parts.scheme != "http":
            return False
        host = parts.hostname or ""
        if host == "localhost":
            return False
        try:
            return not ipaddress.ip_address(host).is_loopback
        except ValueError:
            return True


def resolve_settings(
    stack_config: Mapping[str, str | None] | None = None,
    environ: Mapping[str, str] | None = None,
) -> FleetSettings:
    """Merge stack config over the environment and validate the result.

    Stack config wins key by key, except for credentials: when the stack config names any
    credential, credentials from the environment are ignored, so two half-sets never mix.
    """
    config = {k: v for k, v in (stack_config or {}).items() if v is not None and v != ""}
    env = os.environ if environ is None else environ
    config_has_credentials = any(s.config_key in config for s in CREDENTIALS)

    def lookup(source: SettingSource) -> tuple[str | None, str]:
        if source.config_key in config:
            return str(config[source.config_key]), source.config_key
        if source.env_var is None:
            return None, ""
        if source in CREDENTIALS and config_has_credentials:
            return None, ""
        value = env.get(source.env_var)
        if value is None or value == "":
            return None, ""
        return value, source.env_var

    endpoint, _ = lookup(ENDPOINT)
    if endpoint is None:
        raise ConfigurationError(
            "No Kibana endpoint configured: set the stack config fleet:endpoint "
            "(pulumi config set fleet:endpoint https://kibana.example.com:5601) "
            "or the environment variable KIBANA_ENDPOINT."
        )
    endpoint = _validate_endpoint(endpoint)

    api_key, api_key_from = lookup(API_KEY)
    bearer_token, bearer_from = lookup(BEARER_TOKEN)
    username, username_from = lookup(USERNAME)
    password, password_from = lookup(PASSWORD)
    if (username is None) != (password is None):
        have, missing = (USERNAME, PASSWORD) if username is not None else (PASSWORD, USERNAME)
        raise ConfigurationError(
            f"{have.config_key}/{have.env_var} is set but {missing.describe()} is not: "
            "basic authentication needs both."
        )
    if api_key is not None:
        credential_source = f"API key from {api_key_from}"
    elif bearer_token is not None:
        credential_source = f"bearer token from {bearer_from}"
    elif username is not None:
        credential_source = f"user {username!r} from {username_from}/{password_from}"
    else:
        credential_source = "none"

    ca_certs, ca_from = lookup(CA_CERTS)
    if ca_certs is not None and not os.path.isfile(ca_certs):
        raise ConfigurationError(
            f"{ca_from} names {ca_certs!r}, which is not a readable file: "
            "point it at a PEM file holding the CA certificate that signed Kibana's certificate."
        )

    def parsed(source: SettingSource, parse: Callable[[str, str], T], default: T) -> T:
        text, origin = lookup(source)
        return default if text is None else parse(text, origin)

    insecure = parsed(INSECURE, parse_bool, False)
    space_id = parsed(SPACE_ID, validate_space_id, None)
    timeout = parsed(TIMEOUT, parse_timeout, DEFAULT_TIMEOUT_SECONDS)
    connect_timeout = parsed(CONNECT_TIMEOUT, parse_timeout, DEFAULT_CONNECT_TIMEOUT_SECONDS)
    max_retries = parsed(MAX_RETRIES, parse_retries, DEFAULT_MAX_RETRIES)

    return FleetSettings(
        endpoint=endpoint,
        api_key=api_key,
        username=username,
        password=password,
        bearer_token=bearer_token if api_key is None else None,
        ca_certs=ca_certs,
        insecure=insecure,
        space_id=space_id,
        timeout=timeout,
        connect_timeout=connect_timeout,
        max_retries=max_retries,
        credential_source=credential_source,
    )


def _validate_endpoint(endpoint: str) -> str:
    parts = urlsplit(endpoint.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"The Kibana endpoint {_redact_url(endpoint)!r} is not an http(s) URL: "
            "set fleet:endpoint (or KIBANA_ENDPOINT) to e.g. https://kibana.example.com:5601."
        )
    if parts.username or parts.password:
        raise ConfigurationError(
            "The Kibana endpoint must not carry credentials in the URL: "
            "set fleet:username/fleet:password (or KIBANA_USERNAME/KIBANA_PASSWORD) instead."
        )
    if parts.query or parts.fragment:
        raise ConfigurationError(
            f"The Kibana endpoint {_redact_url(endpoint)!r} has a query or fragment: "
            "use the bare base URL, e.g. https://kibana.example.com:5601."
        )
    path = parts.path.rstrip("/")
    # A base path ("/kibana") is kept: Kibana may be served under server.basePath.
    return f"{parts.scheme}://{parts.netloc}{path}"


def _redact_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.password:
        return url.replace(parts.password, "***")
    return url


def parse_bool(text: str, source: str) -> bool:
    """Parse a config string such as ``"true"`` or ``"0"``; anything else is an error."""
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigurationError(f"{source} must be true or false, not {text!r}.")


def parse_timeout(text: str, source: str) -> float:
    """Parse seconds per HTTP attempt: a positive number such as ``"30"`` or ``"2.5"``."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not (math.isfinite(value) and value > 0):
        raise ConfigurationError(
            f"{source} must be a positive number of seconds per HTTP attempt, not {text!r}."
        )
    return value


def parse_retries(text: str, source: str) -> int:
    """Parse how many times a failed read or revoke is retried: a whole number 0 to 20."""
    stripped = text.strip()
    if not stripped.isdigit() or int(stripped) > MAX_RETRIES_LIMIT:
        raise ConfigurationError(
            f"{source} must be a whole number of retries from 0 to {MAX_RETRIES_LIMIT}, "
            f"not {text!r}."
        )
    return int(stripped)


def validate_space_id(space_id: str, source: str) -> str:
    """Check a Kibana space id: lower-case letters, digits, ``_`` and ``-``."""
    if not SPACE_ID_PATTERN.match(space_id):
        raise ConfigurationError(
            f"{source} {space_id!r} is not a Kibana space id: use lower-case letters, "
            "digits, '_' and '-' (the id in /s/<id>/app/..., not the display name)."
        )
    return space_id
