"""The checks `check` runs on the resource's inputs, and the auto-name it picks (no HTTP call)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from pulumi import dynamic

from fleet_provider._sdk import is_unknown
from fleet_provider.config import SPACE_ID_PATTERN
from fleet_provider.durations import parse_duration, validate_expiration
from fleet_provider.exceptions import InputError
from fleet_provider.model import INPUT_KEYS, RESOURCE_TYPE
from fleet_provider.naming import (
    auto_name,
    delete_first_autonaming,
    is_own_auto_name,
    warn_forced_delete_first,
)

AUTO_NAME_SUFFIX_BYTES = 4


def check_inputs(
    olds: Mapping[str, Any],
    news: Mapping[str, Any],
    default_space_id: str,
    autonaming: str | None = None,
) -> tuple[dict[str, Any], list[dynamic.CheckFailure]]:
    """Validate and normalise inputs, choosing an auto-name once; no HTTP call."""
    failures: list[dynamic.CheckFailure] = []
    inputs: dict[str, Any] = {}

    unknown_keys = sorted(set(news) - set(INPUT_KEYS) - {"__provider"})
    for key in unknown_keys:
        failures.append(
            dynamic.CheckFailure(key, f"{key} is not an input of EnrollmentApiKey: remove it")
        )

    for key, validate in (
        ("policy_id", _check_policy_id),
        ("name", _check_name),
        ("expiration", _check_expiration),
        ("space_id", _check_space_id),
        ("adopt_key_id", _check_adopt_key_id),
        ("adopt_existing", _check_adopt_existing),
        ("rotate_after", _check_rotate_after),
    ):
        value = news.get(key)
        if value is None or is_unknown(value):
            if value is not None:
                inputs[key] = value
            continue
        try:
            inputs[key] = validate(value)
        except InputError as error:
            failures.append(dynamic.CheckFailure(key, str(error)))

    if "policy_id" not in inputs and not any(f.property == "policy_id" for f in failures):
        failures.append(
            dynamic.CheckFailure(
                "policy_id",
                "policy_id is required: set it to the id of the agent policy the key "
                "enrolls agents into",
            )
        )

    if "space_id" not in inputs:
        inputs["space_id"] = default_space_id

    failures.extend(adoption_failures(inputs, news))

    resource_name = news.get("resource_name")
    for key in ("resource_name", "identity"):
        if isinstance(news.get(key), str):
            inputs[key] = news[key]
    if keeps_adoption(olds, news):
        # adopt_key_id is a one-time instruction: once the key is adopted, leaving the input
        # out keeps that key rather than naming a new one.
        inputs["adopt_key_id"] = olds["adopt_key_id"]
    if "name" in inputs and not is_own_auto_name(olds, inputs["name"]):
        inputs["auto_named"] = False
    elif "adopt_key_id" in inputs:
        # An adopted key keeps the name it has in Kibana.
        inputs["auto_named"] = False
    else:
        inputs["name"] = auto_name(olds, news)
        inputs["auto_named"] = True
    if inputs.get("rotate_after") and inputs["auto_named"] is False and not failures:
        warn_fixed_name_rotation(resource_name)
    if inputs["auto_named"] and not failures:
        setting = delete_first_autonaming(autonaming, RESOURCE_TYPE)
        if setting is not None:
            warn_forced_delete_first(resource_name, setting)
    return inputs, failures


def adoption_failures(
    inputs: Mapping[str, Any], news: Mapping[str, Any]
) -> list[dynamic.CheckFailure]:
    """Contradictory or incomplete adoption inputs, each as a check failure."""
    failures = []
    if inputs.get("adopt_key_id") is not None and inputs.get("adopt_existing"):
        failures.append(
            dynamic.CheckFailure(
                "adopt_existing",
                "adopt_existing cannot be combined with adopt_key_id: keep one of them",
            )
        )
    if inputs.get("adopt_existing") and news.get("name") is None:
        failures.append(
            dynamic.CheckFailure(
                "name",
                "name is required with adopt_existing: name the key to take over, e.g. Default",
            )
        )
    if inputs.get("adopt_key_id") is not None and news.get("rotate_after") is not None:
        # A rotation would adopt the same key again, then revoke it as the replaced one.
        failures.append(
            dynamic.CheckFailure(
                "rotate_after",
                "rotate_after cannot be combined with adopt_key_id: a rotation needs a new "
                "key; remove adopt_key_id once the key is adopted, then set rotate_after",
            )
        )
    if inputs.get("adopt_key_id") is not None and news.get("expiration") is not None:
        failures.append(
            dynamic.CheckFailure(
                "expiration",
                "expiration cannot be set on an adopted key: Kibana cannot change an existing "
                "key's expiry; remove expiration or adopt_key_id",
            )
        )
    return failures


def warn_fixed_name_rotation(resource_name: Any) -> None:
    """Tell the user, at preview, what rotating a fixed-name key costs."""
    # The host passes stderr to the user as a diagnostic: this is how a preview "says so".
    print(
        f"warning: EnrollmentApiKey {resource_name!r} has a fixed name and rotate_after: each "
        "rotation revokes the old key before creating the new one (a gap with no valid token), "
        "and Kibana before 9.5 refuses the reused name; leave name out for overlapping rotation",
        file=sys.stderr,
    )


def keeps_adoption(olds: Mapping[str, Any], news: Mapping[str, Any]) -> bool:
    """True when the program dropped ``adopt_key_id`` (and gives no name) after adopting."""
    return (
        olds.get("adopt_key_id") is not None
        and news.get("adopt_key_id") is None
        and news.get("name") is None
    )


def _check_policy_id(value: Any) -> str:
    if not isinstance(value, str):
        raise InputError("policy_id", f"must be a string, not {type(value).__name__}")
    if not value.strip():
        raise InputError("policy_id", "must not be empty: set it to the id of an agent policy")
    return value


def _check_name(value: Any) -> str:
    if not isinstance(value, str):
        raise InputError("name", f"must be a string, not {type(value).__name__}")
    if not value.strip():
        raise InputError(
            "name", "must not be empty: give a name, or leave it out for an automatic one"
        )
    if value != value.strip():
        raise InputError("name", f"{value!r} has leading or trailing spaces: remove them")
    return value


def _check_expiration(value: Any) -> str:
    if not isinstance(value, str):
        raise InputError("expiration", f"must be a string such as 90d, not {type(value).__name__}")
    validate_expiration(value)
    return value


def _check_adopt_key_id(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(
            "adopt_key_id", "must be the id of an existing enrollment key (a non-empty string)"
        )
    return value


def _check_adopt_existing(value: Any) -> bool:
    if not isinstance(value, bool):
        raise InputError("adopt_existing", f"must be true or false, not {type(value).__name__}")
    return value


def _check_rotate_after(value: Any) -> str:
    if not isinstance(value, str):
        raise InputError(
            "rotate_after", f"must be a duration such as 30d, not {type(value).__name__}"
        )
    parse_duration(value, "rotate_after")
    return value


def _check_space_id(value: Any) -> str:
    if not isinstance(value, str):
        raise InputError("space_id", f"must be a string, not {type(value).__name__}")
    if not SPACE_ID_PATTERN.match(value):
        raise InputError(
            "space_id",
            f"{value!r} is not a Kibana space id: use lower-case letters, digits, '_' and '-'",
        )
    return value
