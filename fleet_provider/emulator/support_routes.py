"""Handlers of the routes a client meets around enrollment keys.

Agent policies (create, read, update or move, delete), spaces, ``/api/status``, and
the two Kibana UI pages a client given a browser URL lands on. ``KibanaApi`` runs
Kibana's checks first and dispatches here by the route's handler name.
"""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import quote

from .durations import now_iso
from .messages import ApiResponse, Call, json_response
from .models import FleetBackend
from .policies import NewPolicy
from .versions import KibanaVersion

HTML_TYPE = "text/html; charset=utf-8"
# A stand-in for the page core's rendering service sends: Kibana's bootstrap HTML.
_PAGE = (
    '<!DOCTYPE html><html lang="en"><head><meta charSet="utf-8"/><title>Elastic</title>'
    '</head><body><div id="kibana-body" data-test-subj="kibanaBody"></div></body></html>'
)


def login_redirect(prefix: str, path: str, query_string: str) -> ApiResponse:
    """The basic provider's answer to a page request without credentials.

    ``providers/basic.ts`` (security plugin, 8.x and 9.x) redirects to
    ``<basePath>/login?next=<encodeURIComponent(basePath + path + search)>``; ``prefix``
    is the server base path and the space prefix the request came with.
    """
    search = f"?{query_string}" if query_string else ""
    target = quote(f"{prefix}{path}{search}", safe="-_.!~*'()")
    return ApiResponse(302, b"", HTML_TYPE, {"Location": f"{prefix}/login?next={target}"})


class SupportRoutes:
    """The agent-policy, space, status and UI-page handlers (a part of ``KibanaApi``)."""

    backend: FleetBackend
    version: KibanaVersion
    uuid: str

    def post_agent_policy(self, call: Call) -> ApiResponse:
        """POST /api/fleet/agent_policies."""
        body = call.body
        fields = NewPolicy(
            name=body["name"],
            namespace=body["namespace"],
            policy_id=body.get("id"),
            description=body.get("description"),
            is_managed=bool(body.get("is_managed")),
            supports_agentless=body.get("supports_agentless"),
            user=call.principal.name,
        )
        policy = self.backend.create_agent_policy(
            call.space_id, fields, space_ids=body.get("space_ids"), force=bool(body.get("force"))
        )
        return json_response(200, {"item": policy})

    def get_agent_policy(self, call: Call) -> ApiResponse:
        """GET /api/fleet/agent_policies/{agentPolicyId}."""
        policy = self.backend.get_agent_policy(call.params["agentPolicyId"], call.space_id)
        return json_response(200, {"item": policy})

    def put_agent_policy(self, call: Call) -> ApiResponse:
        """PUT /api/fleet/agent_policies/{agentPolicyId}: update, and move (9.1+)."""
        policy = self.backend.update_agent_policy(
            call.params["agentPolicyId"], call.space_id, call.body, user=call.principal.name
        )
        return json_response(200, {"item": policy})

    def delete_agent_policy(self, call: Call) -> ApiResponse:
        """POST /api/fleet/agent_policies/delete."""
        result = self.backend.delete_agent_policy(
            call.body["agentPolicyId"], call.space_id, force=bool(call.body.get("force"))
        )
        return json_response(200, result)

    def post_space(self, call: Call) -> ApiResponse:
        """POST /api/spaces/space."""
        return json_response(200, self.backend.create_space(call.body))

    def get_app_page(self, call: Call) -> ApiResponse:
        """GET /app/{id}/{any*}: the app's HTML page (core_app.ts), whatever follows."""
        del call
        return ApiResponse(200, _PAGE.encode(), HTML_TYPE)

    def get_login_page(self, call: Call) -> ApiResponse:
        """GET /login: the login page, served without credentials (views/login.ts)."""
        del call
        return ApiResponse(200, _PAGE.encode(), HTML_TYPE)

    def get_status(self, call: Call) -> ApiResponse:
        """GET /api/status."""
        del call
        now = now_iso(datetime.now(timezone.utc))
        body = {
            "name": "kibana",
            "uuid": self.uuid,
            "version": {
                "number": str(self.version),
                "build_hash": "0" * 40,
                "build_number": 0,
                "build_snapshot": False,
                "build_flavor": "traditional",
                "build_date": now,
            },
            "status": {
                "overall": {"level": "available", "summary": "All services are available"},
                "core": {
                    "elasticsearch": {
                        "level": "available",
                        "summary": "Elasticsearch is available",
                    },
                    "savedObjects": {"level": "available", "summary": "SavedObjects is available"},
                },
                "plugins": {},
            },
            "metrics": {"last_updated": now, "collection_interval_in_millis": 5000},
        }
        return json_response(200, body)
