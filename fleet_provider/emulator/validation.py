"""Request validation with the messages of Kibana's ``@kbn/config-schema``.

Objects check their declared keys in order, then refuse unknown keys; the first
problem wins (Joi's ``abortEarly``). Query strings arrive as text, so numbers are
converted the way Joi converts them (surrounding blanks allowed) and booleans the way
config-schema does (``true``/``false`` in any case, never trimmed).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

Check = Callable[[Any], "str | None"]

_NUMBER_RE = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$")


class RequestValidationError(ValueError):
    """A request part failed validation; ``str()`` is the full ``[path]: reason`` message."""


def type_name(value: Any) -> str:
    """The name ``type-detect`` gives a JSON value, as config-schema prints it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "Array"
    return "Object"


@dataclass(frozen=True)
class Field:
    """One key of a ``schema.object``: its type, whether it is required, and its checks."""

    name: str
    kind: str  # "string" | "number" | "boolean" | "array" | "any"
    required: bool = False
    default: Any = None
    min_length: int | None = None
    max_length: int | None = None
    check: Check | None = None
    items: str | None = None  # element kind for arrays
    max_size: int | None = None  # the most elements an array may have


@dataclass(frozen=True)
class ObjectSchema:
    """A ``schema.object`` with declared fields; unknown keys are refused."""

    fields: Sequence[Field] = field(default_factory=tuple)
    # The object's own ``validate``, run on the validated object; its message follows
    # ``[<namespace>]: ``.
    check: Check | None = None

    def validate(self, value: Any, namespace: str) -> dict[str, Any]:
        """Return the validated object with defaults, or raise RequestValidationError."""
        if not isinstance(value, dict):
            raise RequestValidationError(
                f"[{namespace}]: expected a plain object value, but found "
                f"[{type_name(value)}] instead."
            )
        result: dict[str, Any] = {}
        for spec in self.fields:
            path = f"{namespace}.{spec.name}"
            if spec.name not in value:
                if spec.required:
                    raise RequestValidationError(
                        f"[{path}]: expected value of type [{spec.kind}] but got [undefined]"
                    )
                if spec.default is not None:
                    result[spec.name] = spec.default
                continue
            result[spec.name] = _validate_field(spec, value[spec.name], path)
        for key in value:
            if key not in result and all(spec.name != key for spec in self.fields):
                raise RequestValidationError(
                    f"[{namespace}.{key}]: definition for this key is missing"
                )
        if self.check is not None:
            problem = self.check(result)
            if problem:
                raise RequestValidationError(f"[{namespace}]: {problem}")
        return result


def _validate_field(spec: Field, raw: Any, path: str) -> Any:
    value = _convert(spec.kind, raw, path)
    if spec.kind == "array" and spec.items:
        for index, item in enumerate(value):
            _convert(spec.items, item, f"{path}.{index}")
    if spec.kind == "array" and spec.max_size is not None and len(value) > spec.max_size:
        raise RequestValidationError(
            f"[{path}]: array size is [{len(value)}], but cannot be greater than [{spec.max_size}]"
        )
    if isinstance(value, str):
        if spec.min_length is not None and len(value) < spec.min_length:
            raise RequestValidationError(
                f"[{path}]: value has length [{len(value)}] but it must have a minimum "
                f"length of [{spec.min_length}]."
            )
        if spec.max_length is not None and len(value) > spec.max_length:
            raise RequestValidationError(
                f"[{path}]: value has length [{len(value)}] but it must have a maximum "
                f"length of [{spec.max_length}]."
            )
    if spec.check is not None:
        problem = spec.check(value)
        if problem:
            raise RequestValidationError(f"[{path}]: {problem}")
    return value


def _convert(kind: str, raw: Any, path: str) -> Any:
    if kind == "any":
        return raw
    if kind == "string" and isinstance(raw, str):
        return raw
    if kind == "number":
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and _NUMBER_RE.match(raw):
            number = float(raw)
            if math.isfinite(number):
                return int(number) if number.is_integer() else number
    if kind == "boolean":
        if isinstance(raw, bool):
            return raw
        # @kbn/config-schema's boolean coerce (internals/index.ts of kbn-config-schema:
        # src/platform/packages/shared/ in 9.x, packages/ in 8.x, the same code): a string is
        # lower-cased and must then be exactly "true" or "false". Case does not matter, but
        # nothing is trimmed, so "?forceDelete=%20true" is a string and refused.
        if isinstance(raw, str) and raw.lower() in ("true", "false"):
            return raw.lower() == "true"
    if kind == "array" and isinstance(raw, list):
        return raw
    raise RequestValidationError(
        f"[{path}]: expected value of type [{kind}] but got [{type_name(raw)}]"
    )


def query_object(pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """Hapi's query object: a repeated key becomes an array of its values."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            previous = result[key]
            result[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            result[key] = value
    return result


def required_string(name: str, **options: Any) -> Field:
    """``schema.string()``."""
    return Field(name, "string", required=True, **options)


def optional(name: str, kind: str, **options: Any) -> Field:
    """``schema.maybe(schema.<kind>())`` (or with a default)."""
    return Field(name, kind, **options)
