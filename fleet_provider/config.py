"""Connection settings: Pulumi stack config ``fleet:*`` first, then the ``KIBANA_*`` environment.

The environment variable names are the ones the Terraform elasticstack provider reads, so CI
secrets that already exist work unchanged. Settings are resolved at call time and never stored
in the pickled provider: rotating a credential takes effect on the next call.

Every rule here refuses a setting with one line (a ConfigurationError) that names the config key
or environment variable and the fix; no message ever shows a credential, a proxy URL or the
user info, query or fragment of an endpoint.
"""

from __future__ import annotations

import base64
import functools
import importlib.util
import ipaddress
import math
import os
import re
import ssl
import stat
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import SplitResult, urlsplit

import requests
import requests.utils
import urllib3.util
from urllib3.exceptions import LocationParseError

from fleet_provider.exceptions import ConfigurationError

DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_CONNECT_TIMEOUT_SECONDS = 10.0
MAX_TIMEOUT_SECONDS = 3600.0
"""The longest timeout accepted. socket.settimeout, which urllib3 calls with the timeout, raises
OverflowError ("timestamp out of range for platform time_t") for values such as 1e10."""
DEFAULT_MAX_RETRIES = 4
MAX_RETRIES_LIMIT = 20
DEFAULT_SPACE_ID = "default"
MAX_CA_FILE_BYTES = 10 * 1024 * 1024

# Kibana space ids: lower-case letters, digits, "_" and "-" (the Spaces plugin's own rule).
# \Z, not $: "$" would also match before a trailing newline.
SPACE_ID_PATTERN = re.compile(r"^[a-z0-9_\-]+\Z")


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

# Proxy schemes urllib3 serves: http and https through its ProxyManager, the SOCKS ones through
# urllib3.contrib.socks, which needs PySocks (requests raises InvalidSchema "Missing
# dependencies for SOCKS support" without it: requests/adapters.py proxy_manager_for).
HTTP_PROXY_SCHEMES = frozenset({"http", "https"})
SOCKS_PROXY_SCHEMES = frozenset({"socks4", "socks4a", "socks5", "socks5h"})

T = TypeVar("T")

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off", ""})
_NUMBER = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_WHOLE_NUMBER = re.compile(r"[0-9]+", re.ASCII)
_SCHEME_BEFORE_SLASHES = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*)://")
# Characters that have no place in a host name (RFC 3986 gen-delims and sub-delims, and the
# ones requests would quote); letters outside ASCII are allowed: requests IDNA-encodes them.
_NOT_IN_HOST = frozenset("!\"#$%&'()*+,/;<=>?@[\\]^`{|}~")


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
    ca_certs_from: str = ""
    """The config key or environment variable that named ``ca_certs``."""
    proxy_variable: str | None = None
    """The environment variable (as spelled there) whose proxy carries the requests to Kibana."""
    proxy_address: str | None = None
    """That proxy's ``host:port``, without user info: safe to show."""
    proxy_has_credentials: bool = False
    proxy_password: str | None = field(default=None, repr=False)

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
    def secret_values(self) -> tuple[str, ...]:
        """Every configured secret, longest first: what no message may contain."""
        values = {
            self.authorization,
            self.api_key,
            self.password,
            self.bearer_token,
            self.proxy_password,
        }
        return tuple(sorted((v for v in values if v), key=len, reverse=True))

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
    endpoint = validate_endpoint(endpoint)

    api_key, api_key_from = lookup(API_KEY)
    bearer_token, bearer_from = lookup(BEARER_TOKEN)
    username, username_from = lookup(USERNAME)
    password, password_from = lookup(PASSWORD)
    if (username is None) != (password is None):
        raise ConfigurationError(_half_basic_message(username_from or password_from, env))
    if api_key is not None:
        check_header_credential(api_key, api_key_from, "API key", "ApiKey")
        credential_source = f"API key from {api_key_from}"
    elif bearer_token is not None:
        check_header_credential(bearer_token, bearer_from, "bearer token", "Bearer")
        credential_source = f"bearer token from {bearer_from}"
    elif username is not None and password is not None:
        check_username(username, username_from)
        check_credential_text(password, password_from)
        credential_source = f"user {username!r} from {username_from}/{password_from}"
    else:
        credential_source = "none"

    ca_certs, ca_from = lookup(CA_CERTS)
    if ca_certs is not None:
        check_ca_file(ca_certs, ca_from)

    def parsed(source: SettingSource, parse: Callable[[str, str], T], default: T) -> T:
        text, origin = lookup(source)
        return default if text is None else parse(text, origin)

    insecure = parsed(INSECURE, parse_bool, False)
    space_id = parsed(SPACE_ID, validate_space_id, None)
    timeout = parsed(TIMEOUT, parse_timeout, DEFAULT_TIMEOUT_SECONDS)
    connect_timeout = parsed(CONNECT_TIMEOUT, parse_timeout, DEFAULT_CONNECT_TIMEOUT_SECONDS)
    max_retries = parsed(MAX_RETRIES, parse_retries, DEFAULT_MAX_RETRIES)
    proxy = proxy_for(endpoint, env)

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
        ca_certs_from=ca_from,
        proxy_variable=proxy.variable if proxy else None,
        proxy_address=proxy.address if proxy else None,
        proxy_has_credentials=bool(proxy and proxy.password is not None),
        proxy_password=proxy.password if proxy else None,
    )


def _half_basic_message(have_from: str, env: Mapping[str, str]) -> str:
    """Why half a basic-auth pair is not enough, naming where each half was looked for."""
    from_config = have_from in (USERNAME.config_key, PASSWORD.config_key)
    username_set = have_from in (USERNAME.config_key, USERNAME.env_var)
    have, missing = (USERNAME, PASSWORD) if username_set else (PASSWORD, USERNAME)
    missing_env = str(missing.env_var)
    if not from_config:
        return f"{have.env_var} is set but {missing_env} is not: basic authentication needs both."
    command = "pulumi config set" + (" --secret" if missing is PASSWORD else "")
    if env.get(missing_env):
        return (
            f"{have.config_key} is set in the stack config but {missing.config_key} is not, and "
            f"{missing_env} is ignored: credentials from the environment are not used when "
            f"the stack config names any. Set {missing.config_key} ({command} "
            f"{missing.config_key} ...), or remove {have.config_key} to use "
            f"{USERNAME.env_var}/{PASSWORD.env_var}."
        )
    return (
        f"{have.config_key} is set but {missing.config_key} is not: basic authentication needs "
        f"both ({command} {missing.config_key} ...)."
    )


# -- the endpoint -----------------------------------------------------------------------------


def shown_url(text: str) -> str:
    """``text`` as it may appear in a message: no user info, query or fragment.

    Everything before the last ``@`` (after the scheme) is user info, whatever else it holds:
    a password may contain ``/``, ``?`` or ``#``, and urlsplit would then misplace it.
    """
    match = _SCHEME_BEFORE_SLASHES.match(text)
    prefix = match.group(0) if match else ""
    rest = text[len(prefix) :]
    if "@" in rest:
        rest = "***@" + rest.rsplit("@", 1)[1]
    cut = min((rest.index(mark) for mark in "?#" if mark in rest), default=-1)
    if cut >= 0:
        rest = f"{rest[: cut + 1]}***"
    return prefix + rest


def validate_endpoint(raw: str) -> str:
    """Check the Kibana endpoint and return it normalised (no trailing ``/``)."""
    endpoint = raw.strip()
    shown = shown_url(endpoint)
    fix = "set fleet:endpoint (or KIBANA_ENDPOINT) to e.g. https://kibana.example.com:5601."
    if "@" in endpoint:
        raise ConfigurationError(
            "The Kibana endpoint must not carry credentials in the URL: set "
            "fleet:username/fleet:password (or KIBANA_USERNAME/KIBANA_PASSWORD) instead."
        )
    if any(c.isspace() or not c.isprintable() for c in endpoint):
        raise ConfigurationError(
            f"The Kibana endpoint {shown!r} contains a space or a control character: {fix}"
        )
    try:
        parts = urlsplit(endpoint)
    except ValueError:
        # urlsplit raises "Invalid IPv6 URL" for an unbalanced "[" (urllib/parse.py).
        raise ConfigurationError(
            f"The Kibana endpoint {shown!r} is not a valid URL (its [ ] do not hold an IPv6 "
            f"address): {fix}"
        ) from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(f"The Kibana endpoint {shown!r} is not an http(s) URL: {fix}")
    if parts.query or parts.fragment or endpoint.endswith(("?", "#")):
        raise ConfigurationError(
            f"The Kibana endpoint {shown!r} has a query or fragment: "
            "use the bare base URL, e.g. https://kibana.example.com:5601."
        )
    _check_host(parts, shown, fix)
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0 and parts.netloc.rsplit("]", 1)[-1].rpartition(":")[1]:
        raise ConfigurationError(
            f"The Kibana endpoint {shown!r} has an invalid port: use a number from 1 to 65535, "
            "e.g. https://kibana.example.com:5601."
        )
    path = parts.path.rstrip("/")
    normalised = f"{parts.scheme}://{parts.netloc.rstrip(':')}{path}"
    try:
        # What the client sends to: requests IDNA-encodes the host and refuses what it cannot
        # (requests/models.py PreparedRequest.prepare_url).
        requests.PreparedRequest().prepare_url(normalised, None)
    except requests.exceptions.RequestException:
        raise ConfigurationError(
            f"The Kibana endpoint {shown!r} has a host name that is not valid: {fix}"
        ) from None
    # A base path ("/kibana") is kept: Kibana may be served under server.basePath.
    return normalised


def _check_host(parts: SplitResult, shown: str, fix: str) -> None:
    host_port = parts.netloc
    if host_port.startswith("["):
        literal = host_port[1:].split("]", 1)[0]
        try:
            ipaddress.IPv6Address(literal)
        except ValueError:
            raise ConfigurationError(
                f"The Kibana endpoint {shown!r} has {literal!r} in [ ], which is not an IPv6 "
                f"address: {fix}"
            ) from None
        return
    host = parts.hostname or ""
    if not host:
        raise ConfigurationError(f"The Kibana endpoint {shown!r} has no host: {fix}")
    if any(c in _NOT_IN_HOST for c in host):
        raise ConfigurationError(
            f"The Kibana endpoint {shown!r} has a host name that is not valid: {fix}"
        )


# -- credentials ------------------------------------------------------------------------------


def check_credential_text(value: str, origin: str) -> None:
    """Refuse a credential with surrounding whitespace or a control character, never showing it.

    A trailing newline is the common case: ``KIBANA_PASSWORD=$(cat file)`` strips it, but a
    value read another way, or pasted, keeps it, and Kibana then refuses the credential.
    """
    if value != value.strip():
        raise ConfigurationError(
            f"{origin} has leading or trailing whitespace, often the newline at the end of the "
            "file it was read from: remove it (the value is not shown)."
        )
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise ConfigurationError(
            f"{origin} contains a control character: set it to the credential alone (the value "
            "is not shown)."
        )


def check_username(value: str, origin: str) -> None:
    """A basic-authentication user name: clean text without ``:`` (RFC 7617 section 2)."""
    check_credential_text(value, origin)
    if ":" in value:
        raise ConfigurationError(
            f"{origin} contains ':', which basic authentication cannot carry in a user name "
            "(RFC 7617): use an API key (fleet:apiKey) for this user instead."
        )


def check_header_credential(value: str, origin: str, kind: str, scheme: str) -> None:
    """An API key or bearer token, sent as it is after ``Authorization: <scheme> ``."""
    check_credential_text(value, origin)
    if any(not ("!" <= c <= "~") for c in value):
        raise ConfigurationError(
            f"{origin} contains a space or a character outside printable ASCII: set the {kind} "
            f"alone, without {scheme + ' '!r} in front (the value is not shown)."
        )
    if kind == "API key" and ":" in value:
        raise ConfigurationError(
            f"{origin} contains ':': set the base64 encoding of id:api_key (the 'encoded' value "
            "Elasticsearch returns), not the id and key themselves (the value is not shown)."
        )


# -- TLS --------------------------------------------------------------------------------------


def check_ca_file(path: str, origin: str) -> None:
    """Refuse a CA file that is missing, unreadable or holds no PEM certificate."""
    fix = "point it at a PEM file holding the CA certificate that signed Kibana's certificate."
    try:
        info = os.stat(path)
    except OSError:
        info = None
    if info is None or not stat.S_ISREG(info.st_mode):
        raise ConfigurationError(f"{origin} names {path!r}, which is not a readable file: {fix}")
    problem = _ca_file_problem(path, info.st_mtime_ns, info.st_size)
    if problem == "der":
        raise ConfigurationError(
            f"{origin} names {path!r}, which holds a DER (binary) certificate, not PEM: convert "
            f"it (openssl x509 -inform der -in {path} -out ca.pem) and point {origin} at the "
            "PEM file."
        )
    if problem:
        raise ConfigurationError(f"{origin} names {path!r}, which {problem}: {fix}")


@functools.lru_cache(maxsize=16)
def _ca_file_problem(path: str, _mtime_ns: int, _size: int) -> str:
    """What is wrong with a CA file, "" when nothing; cached while the file is unchanged."""
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_CA_FILE_BYTES)
    except PermissionError:
        return "cannot be read (permission denied)"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or type(exc).__name__})"
    if b"-----BEGIN CERTIFICATE-----" not in data:
        # A DER certificate is an ASN.1 SEQUENCE: its first byte is 0x30.
        if data[:1] == b"\x30":
            return "der"
        return "holds no PEM certificate (no -----BEGIN CERTIFICATE----- line)"
    try:
        # What requests does with verify=<path>: urllib3 loads it into an SSLContext.
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=path)
    except (ssl.SSLError, ValueError):
        return "holds a PEM certificate that does not parse"
    return ""


# -- proxies ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Proxy:
    """The proxy the environment names for the endpoint: its variable and where it points."""

    variable: str
    address: str
    password: str | None = field(default=None, repr=False)


def environ_proxies(env: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """``{scheme: (variable, value)}`` from ``<scheme>_proxy`` variables, as urllib reads them.

    urllib/request.py getproxies_environment, which requests uses: any case first, then the
    all-lower-case spelling wins; under CGI (REQUEST_METHOD set) HTTP_PROXY is ignored.
    """
    found: dict[str, tuple[str, str]] = {}
    for name, value in env.items():
        lowered = name.lower()
        if value and lowered.endswith("_proxy"):
            found[lowered[:-6]] = (name, value)
    if "REQUEST_METHOD" in env:
        found.pop("http", None)
    for name, value in env.items():
        if name.endswith("_proxy"):
            key = name.lower()[:-6]
            if value:
                found[key] = (name, value)
            else:
                found.pop(key, None)
    return found


def _bypassed(parts: SplitResult, no_proxy: str) -> bool:
    """Whether NO_PROXY exempts the endpoint: requests/utils.py should_bypass_proxies's rules."""
    hostname = parts.hostname or ""
    entries = [entry for entry in no_proxy.replace(" ", "").split(",") if entry]
    if requests.utils.is_ipv4_address(hostname):
        for entry in entries:
            if requests.utils.is_valid_cidr(entry):
                if requests.utils.address_in_network(hostname, entry):
                    return True
            elif hostname == entry:
                return True
    else:
        try:
            port = parts.port
        except ValueError:
            port = None
        with_port = f"{hostname}:{port}" if port else hostname
        for entry in entries:
            suffix = entry.lstrip(".")
            if suffix in (hostname, with_port):
                return True
            if hostname.endswith("." + suffix) or with_port.endswith("." + suffix):
                return True
    # urllib/request.py proxy_bypass_environment, which requests also asks: "*" exempts every
    # host; otherwise a name or domain suffix, leading dots ignored, with or without the port.
    if no_proxy.strip() == "*":
        return True
    for entry in no_proxy.split(","):
        name = entry.strip().lstrip(".").lower()
        if name and (hostname == name or hostname.endswith("." + name)):
            return True
    return False


def proxy_for(endpoint: str, env: Mapping[str, str]) -> Proxy | None:
    """The proxy requests would use for ``endpoint`` from ``env``, checked; None for none.

    requests/utils.py get_environ_proxies and select_proxy: unless NO_PROXY exempts the host,
    the proxy of the endpoint's scheme, else ALL_PROXY.
    """
    parts = urlsplit(endpoint)
    proxies = environ_proxies(env)
    no_proxy = proxies.pop("no", None)
    no_proxy_values = [env.get("no_proxy") or env.get("NO_PROXY") or ""]
    if no_proxy is not None:
        no_proxy_values.append(no_proxy[1])
    if any(value and _bypassed(parts, value) for value in no_proxy_values):
        return None
    chosen = proxies.get(parts.scheme) or proxies.get("all")
    if chosen is None:
        return None
    return check_proxy(*chosen)


def socks_available() -> bool:
    """Whether PySocks, which urllib3.contrib.socks imports, is installed."""
    return importlib.util.find_spec("socks") is not None


def check_proxy(variable: str, value: str) -> Proxy:
    """Refuse a proxy URL requests cannot use, naming the variable and never showing its value."""
    unshown = "(the value is not shown: it may hold a password)"
    example = "e.g. http://proxy.example.com:3128"
    if any(c.isspace() or not c.isprintable() for c in value.strip()):
        raise ConfigurationError(
            f"{variable} contains a space or a control character: set it to a proxy URL, "
            f"{example} {unshown}."
        )
    scheme_match = _SCHEME_BEFORE_SLASHES.match(value.strip())
    try:
        parsed = urllib3.util.parse_url(value.strip())
    except LocationParseError:
        parsed = None
    # requests takes a proxy without a scheme as http:// (requests/utils.py
    # prepend_scheme_if_needed, from requests/adapters.py); "host:3128" parses as the scheme
    # "host", which it then refuses.
    scheme = (parsed.scheme or "http").lower() if parsed is not None else ""
    if scheme_match is None and scheme not in HTTP_PROXY_SCHEMES:
        raise ConfigurationError(
            f"{variable} is not a proxy URL requests can use: write it with its scheme, "
            f"{example} {unshown}."
        )
    if scheme_match is not None:
        scheme = scheme_match.group(1).lower()
        if scheme in SOCKS_PROXY_SCHEMES and not socks_available():
            raise ConfigurationError(
                f"{variable} names a SOCKS proxy ({scheme}://), which needs PySocks: install it "
                "where the program runs (pip install 'requests[socks]'), or use an http:// proxy."
            )
        if scheme not in HTTP_PROXY_SCHEMES | SOCKS_PROXY_SCHEMES:
            raise ConfigurationError(
                f"{variable} names a proxy with the scheme {scheme!r}, which requests cannot use: "
                f"use http:// or https:// (socks5:// with PySocks installed), {example}."
            )
    if parsed is None or not parsed.host:
        raise ConfigurationError(
            f"{variable} is not a proxy URL with a host and a port from 1 to 65535: set it to "
            f"{example} {unshown}."
        )
    port = parsed.port or (443 if scheme == "https" else 1080 if "socks" in scheme else 80)
    password = None
    if parsed.auth is not None:
        password = parsed.auth.partition(":")[2] or parsed.auth
    return Proxy(variable, f"{parsed.host}:{port}", password)


# -- numbers, flags and spaces ------------------------------------------------------------------


def parse_bool(text: str, source: str) -> bool:
    """Parse a config string such as ``"true"`` or ``"0"``; anything else is an error."""
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigurationError(f"{source} must be true or false, not {text!r}.")


def parse_timeout(text: str, source: str) -> float:
    """Seconds per HTTP attempt: a positive ASCII number such as ``"30"`` or ``"2.5"``, at most
    MAX_TIMEOUT_SECONDS."""
    stripped = text.strip()
    value = float(stripped) if _NUMBER.fullmatch(stripped) else math.nan
    if not value > 0:
        raise ConfigurationError(
            f"{source} must be a positive number of seconds per HTTP attempt, not {text!r}."
        )
    if not value <= MAX_TIMEOUT_SECONDS:
        raise ConfigurationError(
            f"{source} must be at most {MAX_TIMEOUT_SECONDS:g} seconds per HTTP attempt, not "
            f"{text!r}."
        )
    return value


def parse_retries(text: str, source: str) -> int:
    """Parse how many times a failed read or revoke is retried: a whole number 0 to 20."""
    stripped = text.strip()
    if not _WHOLE_NUMBER.fullmatch(stripped) or int(stripped) > MAX_RETRIES_LIMIT:
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


# -- keys that are not settings -----------------------------------------------------------------

CONFIG_KEYS = tuple(source.config_key for source in ALL_SETTINGS)

_ALIASES = {
    "url": ENDPOINT,
    "endpoints": ENDPOINT,
    "kibanaUrl": ENDPOINT,
    "kibanaEndpoint": ENDPOINT,
    "user": USERNAME,
    "token": BEARER_TOKEN,
    "ca": CA_CERTS,
    "caCert": CA_CERTS,
    "caFile": CA_CERTS,
    "space": SPACE_ID,
    "retries": MAX_RETRIES,
}
"""Names a person may reach for instead of a setting's (``endpoints`` is the Terraform
elasticstack provider's ``kibana`` block key)."""


def _spellings(name: str) -> set[str]:
    snake = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()
    return {
        name.lower(),
        name.upper(),
        name[0].upper() + name[1:],
        snake,
        snake.replace("_", "-"),
        snake.upper(),
        re.sub(r"Id$", "ID", name),
    }


def _misspellings() -> dict[str, str]:
    """``{wrong key: the setting's key}`` for the spellings of each setting that are not it."""
    wrong: dict[str, str] = {}
    for source in ALL_SETTINGS:
        name = source.config_key.split(":", 1)[1]
        for spelling in _spellings(name):
            for namespace in ("fleet", "kibana"):
                wrong.setdefault(f"{namespace}:{spelling}", source.config_key)
    for alias, source in _ALIASES.items():
        for spelling in _spellings(alias):
            for namespace in ("fleet", "kibana"):
                wrong.setdefault(f"{namespace}:{spelling}", source.config_key)
    for key in CONFIG_KEYS:
        wrong.pop(key, None)
    return wrong


MISSPELLINGS = _misspellings()


def misspelled_config_keys(get: Callable[[str], object]) -> list[tuple[str, str]]:
    """``(key, setting)`` for each known misspelling of a setting that the stack config sets.

    ``get`` looks one key up (``pulumi.dynamic.Config.get``). The dynamic provider's Config has
    no public way to list its keys (pulumi/dynamic/config.py keeps them in ``_props``), so only
    these spellings can be seen; any other unknown key goes unnoticed.
    """
    return [(key, setting) for key, setting in MISSPELLINGS.items() if get(key) is not None]
