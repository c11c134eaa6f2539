"""The checks `check` runs on the resource's inputs, and the auto-name it picks (no HTTP call).

Each input is checked as Kibana (or Elasticsearch behind it) would check it, so a mistake
fails the preview, naming the input, before anything is created. Inputs are typed: a string
where a boolean belongs (``adopt_existing="true"``) or a number where a string belongs is
refused, never converted. What was checked once stays accepted: an input equal to the old one
is not checked against the clock again, and an expiry timestamp that has passed is a warning.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Mapping
from typing import Any

from pulumi import dynamic

from fleet_provider._sdk import is_unknown
from fleet_provider.durations import check_expiration, has_passed, is_duration, parse_duration
from fleet_provider.exceptions import InputError
from fleet_provider.model import INPUT_KEYS, RESOURCE_TYPE
from fleet_provider.naming import (
    auto_name,
    delete_first_autonaming,
    is_own_auto_name,
    name_problem,
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
        ("keep_previous", _check_keep_previous),
    ):
        value = news.get(key)
        if value is None or is_unknown(value):
            if value is not None:
                inputs[key] = value
            continue
        try:
            inputs[key] = validate(value, olds.get(key))
        except InputError as error:
            failures.append(dynamic.CheckFailure(key, str(error)))
    failures.extend(rotation_failures(inputs))
    if inputs.get("keep_previous") is False:
        inputs.pop("keep_previous")  # the default: so False and leaving it out never differ

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
        if not is_own_auto_name(olds, inputs["name"]):
            failures.extend(auto_name_failures(inputs["name"]))
    if inputs.get("keep_previous") and inputs["auto_named"] is False and "name" in inputs:
        # Kibana refuses a name while an active key holds it, and the previous key does.
        failures.append(
            dynamic.CheckFailure(
                "keep_previous",
                f"keep_previous cannot be combined with name {inputs['name']!r}: the previous "
                "key stays active and keeps that name, so the next key could not take it; "
                "leave name out for automatic names",
            )
        )
    if has_passed(inputs.get("expiration")):
        warn_expired(resource_name, inputs["expiration"])
    if inputs.get("rotate_after") and inputs["auto_named"] is False and not failures:
        warn_fixed_name_rotation(resource_name)
    if inputs["auto_named"] and not failures:
        setting = delete_first_autonaming(autonaming, RESOURCE_TYPE)
        if setting is not None:
            warn_forced_delete_first(resource_name, setting)
    return inputs, failures


def rotation_failures(inputs: Mapping[str, Any]) -> list[dynamic.CheckFailure]:
    """``rotate_after`` must be shorter than a duration ``expiration``, or it never rotates."""
    rotate_after, expiration = inputs.get("rotate_after"), inputs.get("expiration")
    if not (isinstance(rotate_after, str) and is_duration(expiration)):
        return []
    try:
        shorter = parse_duration(rotate_after, "rotate_after") < parse_duration(
            str(expiration), "expiration"
        )
    except InputError:
        return []  # reported as the input's own failure
    if shorter:
        return []
    return [
        dynamic.CheckFailure(
            "rotate_after",
            f"rotate_after {rotate_after!r} is not shorter than expiration {expiration!r}: the "
            "key would expire before it is rotated; make rotate_after shorter than expiration",
        )
    ]


def auto_name_failures(name: str) -> list[dynamic.CheckFailure]:
    """A newly derived auto-name Kibana could not take (its resource name is to blame)."""
    problem = name_problem(name)
    if problem is None:
        return []
    return [
        dynamic.CheckFailure(
            "name",
            f"name is needed: the automatic name {name!r}, made from the resource name, "
            f"{problem.what}; set name, or rename the resource",
        )
    ]


def warn_expired(resource_name: Any, expiration: str) -> None:
    """Tell the user, at preview, that a timestamp expiration has passed (never a failure).

    A failure would block the stack: the engine checks a replacement again with no olds, so
    the passed timestamp would fail every later change, even one to another resource.
    """
    print(
        f"warning: EnrollmentApiKey {resource_name!r}: expiration {expiration!r} has passed, "
        "so its key has expired (a key created now expires at once): move expiration to a "
        "later time, or use a duration such as 90d, to get a key that works",
        file=sys.stderr,
    )


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
    if inputs.get("keep_previous") and (
        news.get("adopt_key_id") is not None or news.get("adopt_existing")
    ):
        which = "adopt_key_id" if news.get("adopt_key_id") is not None else "adopt_existing"
        failures.append(
            dynamic.CheckFailure(
                "keep_previous",
                f"keep_previous cannot be combined with {which}: it rotates keys the resource "
                f"creates itself; remove {which}",
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


def _type_error(key: str, value: Any, expected: str) -> InputError:
    return InputError(key, f"must be {expected}, not {type(value).__name__}")


def _control_character(text: str) -> str | None:
    for char in text:
        if unicodedata.category(char) in ("Cc", "Zl", "Zp"):
            return char
    return None


def _check_policy_id(value: Any, _old: Any) -> str:
    if not isinstance(value, str):
        raise _type_error("policy_id", value, "a string")
    if not value.strip():
        raise InputError("policy_id", "must not be empty: set it to the id of an agent policy")
    char = _control_character(value)
    if char is not None:
        raise InputError(
            "policy_id", f"{value!r} contains the control character {char!r}: remove it"
        )
    return value


def _check_name(value: Any, old: Any) -> str:
    if not isinstance(value, str):
        raise _type_error("name", value, "a string")
    if not value.strip():
        raise InputError(
            "name", "must not be empty: give a name, or leave it out for an automatic one"
        )
    if value == old:
        return value  # the key holds it already: Kibana took it
    problem = name_problem(value)
    if problem is not None:
        raise InputError("name", f"{value!r} {problem.what}: {problem.fix}")
    return value


def _check_expiration(value: Any, old: Any) -> str:
    if not isinstance(value, str):
        raise _type_error("expiration", value, "a string such as 90d")
    if value == old:
        # An unchanged expiration is never checked against the clock again: the key has it.
        return value
    if not value:
        raise InputError(
            "expiration",
            "must not be empty: give a duration such as 90d or a timestamp, or leave it out "
            "for a key that never expires",
        )
    check_expiration(value)
    return value


def _check_adopt_key_id(value: Any, _old: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(
            "adopt_key_id", "must be the id of an existing enrollment key (a non-empty string)"
        )
    char = _control_character(value)
    if char is not None:
        raise InputError(
            "adopt_key_id", f"{value!r} contains the control character {char!r}: remove it"
        )
    if value != value.strip():
        raise InputError("adopt_key_id", f"{value!r} has leading or trailing spaces: remove them")
    return value


def _check_adopt_existing(value: Any, _old: Any) -> bool:
    if isinstance(value, str):
        # Pulumi passes typed inputs as they are; converting "true" here would make a typo such
        # as "flase" silently true or false. Config values are strings: read them with get_bool.
        raise InputError(
            "adopt_existing",
            f"must be true or false, not the string {value!r}: pass a boolean (read one "
            "from stack config with pulumi.Config().get_bool)",
        )
    if not isinstance(value, bool):
        raise InputError("adopt_existing", f"must be true or false, not {type(value).__name__}")
    return value


def _check_keep_previous(value: Any, _old: Any) -> bool:
    if not isinstance(value, bool):
        shown = f"the string {value!r}" if isinstance(value, str) else type(value).__name__
        raise InputError("keep_previous", f"must be true or false, not {shown}")
    return value


def _check_rotate_after(value: Any, _old: Any) -> str:
    if not isinstance(value, str):
        raise _type_error("rotate_after", value, "a duration such as 30d")
    if not value:
        raise InputError(
            "rotate_after", "must not be empty: give a duration such as 30d, or leave it out"
        )
    parse_duration(value, "rotate_after")
    return value


# Kibana's space id rule (spaces plugin, server/lib/space_schema.ts: SPACE_ID_REGEX =
# /^[a-z0-9_\-]+$/, a JavaScript pattern whose $ ends the string): matched whole here, since
# Python's $ would also match before a final newline.
SPACE_ID = re.compile(r"[a-z0-9_-]+")


def _check_space_id(value: Any, _old: Any) -> str:
    if not isinstance(value, str):
        raise _type_error("space_id", value, "a string")
    if not SPACE_ID.fullmatch(value):
        raise InputError(
            "space_id",
            f"{value!r} is not a Kibana space id: use lower-case letters, digits, '_' and '-'",
        )
    return value
