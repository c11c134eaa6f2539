"""Property values as they travel between the engine and a provider (protobuf ``Struct``).

The harness keeps property maps as plain JSON-like dicts ("wire form"): numbers are floats, an
unknown value is the sentinel string :data:`UNKNOWN`, and a secret is the signature dict built by
``pulumi.runtime.rpc.wrap_rpc_secret``. Secretness is tracked per top-level key, the granularity at
which the engine re-marks secrets (``annotateSecrets`` in pkg/resource/plugin/provider_plugin.go)
and to which the Python SDK hoists nested secrets (``deserialize_property`` in runtime/rpc.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from google.protobuf import json_format, struct_pb2
from pulumi.runtime import rpc

UNKNOWN: str = rpc.UNKNOWN
"""The wire sentinel of a value that is not known yet (sdk/go/common/resource/plugin/rpc.go)."""

SECRET_SIG_KEY: str = rpc._special_sig_key
"""The key that marks a special value (secret, asset, resource reference) in a map."""

SECRET_SIG: str = rpc._special_secret_sig
"""The signature value of a secret."""

PropertyMap = dict[str, Any]
"""A property map in wire form."""


def to_struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
    """Encode a wire-form property map as a protobuf Struct (ints become floats)."""
    struct = struct_pb2.Struct()
    struct.update(dict(props))
    return struct


def from_struct(struct: struct_pb2.Struct) -> PropertyMap:
    """Decode a protobuf Struct into a wire-form property map."""
    return dict(json_format.MessageToDict(struct))


def is_secret(value: Any) -> bool:
    """Tell whether ``value`` is a secret-wrapped value."""
    return isinstance(value, Mapping) and value.get(SECRET_SIG_KEY) == SECRET_SIG


def _contains(value: Any, matches: Callable[[Any], bool]) -> bool:
    """Tell whether ``value``, or any value inside it however deep, ``matches``."""
    if matches(value):
        return True
    if isinstance(value, Mapping):
        return any(_contains(v, matches) for v in value.values())
    if isinstance(value, list):
        return any(_contains(v, matches) for v in value)
    return False


def contains_secret(value: Any) -> bool:
    """Tell whether ``value`` is, or contains, a secret-wrapped value."""
    return _contains(value, is_secret)


def reveal(value: Any) -> Any:
    """Remove every secret wrapper, however deep, keeping the plain values."""
    if is_secret(value):
        return reveal(value.get("value"))
    if isinstance(value, Mapping):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    return value


def split_secrets(props: Mapping[str, Any]) -> tuple[PropertyMap, set[str]]:
    """Return the plain map and the top-level keys that held a secret anywhere inside."""
    return (
        {k: reveal(v) for k, v in props.items()},
        {k for k, v in props.items() if contains_secret(v)},
    )


def wrap_secrets(props: Mapping[str, Any], secret_keys: Iterable[str]) -> PropertyMap:
    """Return ``props`` with the values of ``secret_keys`` wrapped as secrets."""
    keys = set(secret_keys)
    return {k: rpc.wrap_rpc_secret(v) if k in keys else v for k, v in props.items()}


def contains_unknown(value: Any) -> bool:
    """Tell whether ``value`` is, or contains, the unknown sentinel."""
    return _contains(value, lambda v: bool(v == UNKNOWN))
