"""The errors fleet-provider raises, one tree under :class:`FleetError`.

::

    FleetError                      anything this package raises on purpose
    ├── ConfigurationError          the connection settings are missing or malformed
    ├── InputError                  a resource input is invalid (also reported by ``check``)
    ├── UnsupportedVersionError     the Kibana version cannot do what was asked
    ├── TransportError              no usable answer: connection refused, timeout, TLS
    │   ├── TLSError                the TLS handshake or certificate check failed
    │   └── ProxyError              the proxy refused the request (407) or could not be reached
    └── ApiError                    Kibana answered with an error status or an unusable body
        ├── BadRequestError         400
        ├── AuthenticationError     401
        ├── AuthorizationError      403
        ├── NotFoundError           404: Kibana's own answer that a key or policy does not exist
        │   ├── KeyNotFoundError    the enrollment key does not exist in the space
        │   ├── KeyInAnotherSpaceError  the key exists, in another space (Kibana 9.1+)
        │   └── PolicyNotFoundError the agent policy does not exist in the space
        ├── RouteNotFoundError      any other 404: no such route (a wrong base path)
        ├── ConflictError           409
        ├── DuplicateNameError      the name is taken on the policy (409, or 400 on Kibana 8.x)
        ├── ServerError             5xx
        └── UnexpectedResponseError a body that is not Kibana's JSON (HTML, truncated)

Every message is one line a person can act on: what happened and what to do. No message
ever contains a token, password or API key. An error raised from a lower-level failure keeps
it as ``__cause__`` (a traceback shows both): an ``UnderlyingError`` with the library's own
exception type and text, credentials and URL user info scrubbed.
"""

from __future__ import annotations

from typing import Any


class FleetError(Exception):
    """The root of every error fleet-provider raises on purpose."""


class UnderlyingError(Exception):
    """The lower-level failure behind a FleetError (``__cause__``), as secret-free text.

    ``type_name`` is the original exception's qualified type, e.g.
    ``requests.exceptions.ConnectionError``.
    """

    def __init__(self, type_name: str, text: str) -> None:
        super().__init__(f"{type_name}: {text}" if text else type_name)
        self.type_name = type_name


class ConfigurationError(FleetError):
    """The connection settings (stack config ``fleet:*`` or ``KIBANA_*``) are missing or invalid."""


class InputError(FleetError):
    """A resource input is invalid; ``property_name`` names it."""

    def __init__(self, property_name: str, message: str) -> None:
        super().__init__(f"{property_name} {message}")
        self.property_name = property_name
        self.reason = message


class UnsupportedVersionError(FleetError):
    """The Kibana in use is too old for what was asked."""


class TransportError(FleetError):
    """Kibana could not be reached or gave no usable answer (connection, timeout).

    ``maybe_sent`` is True when the request may have reached Kibana before the failure;
    ``timed_out`` when no answer came within the timeout (Kibana may still be working on it).
    """

    def __init__(self, message: str, *, maybe_sent: bool = False, timed_out: bool = False) -> None:
        super().__init__(message)
        self.maybe_sent = maybe_sent
        self.timed_out = timed_out


class TLSError(TransportError):
    """The TLS handshake with Kibana failed, usually an untrusted certificate."""


class ProxyError(TransportError):
    """The proxy that HTTPS_PROXY, HTTP_PROXY or ALL_PROXY names refused the request or could not
    be reached: the request never got to Kibana. ``status`` is 407 when it refused the
    credentials, else None."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ApiError(FleetError):
    """Kibana answered with an error: ``status``, Kibana's ``message`` and the parsed ``body``."""

    def __init__(self, status: int, message: str, body: Any = None, *, hint: str = "") -> None:
        text = f"Kibana answered {status}: {message}"
        if hint:
            text = f"{text}. {hint}"
        super().__init__(text)
        self.status = status
        self.message = message
        self.body = body
        self.hint = hint
        self.retry_after: float | None = None
        """Seconds the answer's ``Retry-After`` header asked to wait, if it had one."""


class BadRequestError(ApiError):
    """Kibana refused the request as malformed (400)."""


class AuthenticationError(ApiError):
    """Kibana did not accept the credentials (401)."""


class AuthorizationError(ApiError):
    """The credentials lack a Kibana privilege the call needs (403)."""


class NotFoundError(ApiError):
    """Kibana answered that the key or policy does not exist in the space (404)."""


class KeyNotFoundError(NotFoundError):
    """Kibana's own answer that the enrollment key does not exist in the space: it is gone."""


class KeyInAnotherSpaceError(NotFoundError):
    """The key exists, but in another Kibana space (9.1+: "not found in namespace")."""


class RouteNotFoundError(ApiError):
    """A 404 that is not Kibana's answer about a key or policy: the endpoint is not Kibana's API.

    Kibana answers an unknown route (a wrong base path, a UI address) with its generic
    ``{"statusCode":404,"error":"Not Found","message":"Not Found"}``; a proxy may answer too.
    """


class PolicyNotFoundError(NotFoundError):
    """The agent policy named by ``policy_id`` does not exist in the space searched."""


class ConflictError(ApiError):
    """Kibana refused the request as conflicting with existing state (409)."""


class DuplicateNameError(ApiError):
    """The key name is already used on the policy, revoked keys included."""


class ServerError(ApiError):
    """Kibana failed while handling the request (5xx)."""


class UnexpectedResponseError(ApiError):
    """The answer was not Kibana's JSON: a proxy's HTML page or a truncated body."""
