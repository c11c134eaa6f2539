"""The request schemas of each route, per Kibana version (params, query, body).

``None`` for a part means the route declares no schema for it: Kibana core then
hands the handler an empty object, so whatever the client sent there is ignored,
not refused (``RouteValidator.validate`` returns ``{}`` for an undefined rule).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from . import kuery
from .durations import duration_within_limits, first_form_duration
from .validation import Field, ObjectSchema, optional, required_string
from .versions import KibanaVersion

_SPACE_ID_RE = re.compile(r"^[a-z0-9_\-]+$")
_NAMESPACE_INVALID_RE = re.compile(r'[\\/*?"<>| ,#:-]')

KEY_MAPPING_8 = frozenset(
    {
        "active",
        "api_key",
        "api_key_id",
        "created_at",
        "expire_at",
        "name",
        "policy_id",
        "updated_at",
    }
)
# 9.x adds ``hidden`` to the index mapping the strict kuery check reads.
KEY_MAPPING_9 = KEY_MAPPING_8 | {"hidden"}


@dataclass(frozen=True)
class RequestSchemas:
    """Validation for the three request parts of one route."""

    params: ObjectSchema | None = None
    query: ObjectSchema | None = None
    body: ObjectSchema | None = None


def _final_expiration(value: Any) -> str | None:
    # Kibana 9.6+ (isValidEnrollmentKeyExpiration, common/services): the final wording.
    if not duration_within_limits(value):
        return "Expiration must be a valid duration (for example, 30d, 24h, 90m, 60s)"
    return None


def _first_expiration(value: Any) -> str | None:
    # The backported patches of 8.19, 9.3, 9.4 and 9.5 (rest_spec/enrollment_api_key.ts as
    # elastic/kibana#281324 merged it): a lower-case message, and 0d passes.
    if not first_form_duration(value):
        return "expiration must be a valid duration (e.g. 7d, 24h, 30m, 60s)"
    return None


BULK_DELETE_MAX_IDS = 10000
"""``tokenIds`` of ``_bulk_delete`` holds at most this many ids (``maxSize``)."""


def _ids_or_kuery(value: dict[str, Any]) -> str | None:
    if value.get("tokenIds") is None and value.get("kuery") is None:
        return "Either tokenIds or kuery must be provided"
    return None


def _kuery_check(version: KibanaVersion) -> Any:
    allowed = KEY_MAPPING_9 if version.hidden_field else KEY_MAPPING_8

    def check(value: Any) -> str | None:
        if not version.strict_kql:
            return None
        try:
            node = kuery.parse(value)
        except kuery.KuerySyntaxError:
            # validateKuery lets unparsable text through; the handler reports it.
            return None
        if version.kuery_free_text_refused and kuery.has_free_text(node):
            # 8.10-8.13 validateKuery: a node without a key fails as an invalid key.
            return "KQLSyntaxError: Invalid key"
        return kuery.field_error(node, allowed)

    return check


def _namespace(value: Any) -> str | None:
    if not value:
        return "Namespace cannot be empty"
    if value != value.lower():
        return "Namespace must be lowercase"
    if _NAMESPACE_INVALID_RE.search(value):
        return "Namespace contains invalid characters"
    if len(value.encode()) > 100:
        return "Namespace cannot be more than 100 bytes"
    return None


def _space_id(value: Any) -> str | None:
    if not _SPACE_ID_RE.match(value):
        return "must be lower case, a-z, 0-9, '_', and '-' are allowed"
    return None


def _non_empty(value: Any) -> str | None:
    return "Invalid empty string" if not value.strip() else None


def _policy_fields(version: KibanaVersion) -> tuple[Field, ...]:
    """``NewAgentPolicySchema`` in Kibana's key order (server/types/models/agent_policy.ts)."""
    return (
        optional("id", "string"),
        # elastic/kibana#189663 (8.16) added space_ids; before, the key is unknown.
        *((optional("space_ids", "array", items="string"),) if version.policy_space_ids else ()),
        required_string("name", min_length=1, check=_non_empty),
        required_string("namespace", min_length=1, check=_namespace),
        optional("description", "string"),
        optional("is_managed", "boolean"),
        optional("has_fleet_server", "boolean"),
        optional("is_default", "boolean"),
        optional("is_default_fleet_server", "boolean"),
        optional("unenroll_timeout", "number"),
        optional("inactivity_timeout", "number"),
        optional("monitoring_enabled", "array", items="string"),
        optional("keep_monitoring_alive", "any"),
        optional("data_output_id", "any"),
        optional("monitoring_output_id", "any"),
        optional("download_source_id", "any"),
        optional("fleet_server_host_id", "any"),
        optional("agent_features", "array"),
        optional("is_protected", "boolean"),
        optional("overrides", "any"),
        optional("supports_agentless", "boolean"),
        optional("global_data_tags", "array"),
        optional("force", "boolean"),
    )


def schemas_for(handler: str, version: KibanaVersion) -> RequestSchemas:
    """The schemas Kibana ``version`` registers for the route served by ``handler``."""
    key_id = ObjectSchema((required_string("keyId"),))
    if handler == "post_enrollment_api_key":
        expiration = (
            optional(
                "expiration",
                "string",
                max_length=20,
                check=_final_expiration if version.final_expiration_check else _first_expiration,
            )
            if version.expiration
            # Without elastic/kibana#281324 ``expiration`` is any string, accepted and dropped.
            else optional("expiration", "string")
        )
        return RequestSchemas(
            body=ObjectSchema(
                (optional("name", "string"), required_string("policy_id"), expiration)
            )
        )
    if handler == "list_enrollment_api_keys":
        return RequestSchemas(
            query=ObjectSchema(
                (
                    optional("page", "number", default=1),
                    optional("perPage", "number", default=20),
                    optional("kuery", "string", check=_kuery_check(version)),
                )
            )
        )
    if handler == "get_enrollment_api_key":
        return RequestSchemas(params=key_id)
    if handler == "delete_enrollment_api_key":
        if not version.delete_options:
            return RequestSchemas(params=key_id)
        return RequestSchemas(
            params=key_id,
            query=ObjectSchema(
                (
                    Field("forceDelete", "boolean", default=False),
                    Field("includeHidden", "boolean", default=False),
                )
            ),
        )
    if handler == "bulk_delete_enrollment_api_keys":
        # rest_spec/enrollment_api_key.ts BulkDeleteEnrollmentAPIKeysRequestSchema (9.5+).
        return RequestSchemas(
            body=ObjectSchema(
                (
                    optional("tokenIds", "array", items="string", max_size=BULK_DELETE_MAX_IDS),
                    optional("kuery", "string", check=_kuery_check(version)),
                    Field("forceDelete", "boolean", default=False),
                    Field("includeHidden", "boolean", default=False),
                ),
                check=_ids_or_kuery,
            )
        )
    if handler == "post_agent_policy":
        return RequestSchemas(
            query=ObjectSchema((optional("sys_monitoring", "boolean"),)),
            body=ObjectSchema(_policy_fields(version)),
        )
    if handler == "put_agent_policy":
        return RequestSchemas(
            params=ObjectSchema((required_string("agentPolicyId"),)),
            query=ObjectSchema((optional("format", "string"),)),
            body=ObjectSchema((*_policy_fields(version), optional("bumpRevision", "boolean"))),
        )
    if handler == "get_agent_policy":
        return RequestSchemas(params=ObjectSchema((required_string("agentPolicyId"),)))
    if handler == "delete_agent_policy":
        return RequestSchemas(
            body=ObjectSchema((required_string("agentPolicyId"), optional("force", "boolean")))
        )
    if handler == "post_space":
        return RequestSchemas(
            body=ObjectSchema(
                (
                    required_string("id", check=_space_id),
                    required_string("name", min_length=1),
                    optional("description", "string"),
                    optional("initials", "string", max_length=2),
                    optional("color", "string"),
                    optional("disabledFeatures", "array", items="string"),
                    optional("imageUrl", "string"),
                    optional("solution", "string"),
                    optional("_reserved", "boolean"),
                )
            )
        )
    return RequestSchemas()
