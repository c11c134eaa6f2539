"""Kibana's order of checks, the enrollment-key handlers and Kibana-shaped answers.

Order for a matched route (Kibana 9.x): base path and space rewrites, authentication
(401), payload parsing (400), ``kbn-xsrf`` (400), a ``kbn-version`` other than the
release's (400), privileges (403), ``elastic-api-version`` (400), params, query and body
validation (400), handler (404/409). Kibana 8.x checks Fleet privileges inside the route
handler, after validation, and answers a bare ``Forbidden``. Handlers raise the backend's
``FleetModelError``s; ``KibanaApi.handle`` turns them into Kibana's error answers in one
place. The routes around keys are handled in ``support_routes``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from . import errors, kuery
from .auth import AuthFailure, Credentials, Principal
from .core_checks import API_VERSION, client_version_problem, parse_payload, version_problem
from .messages import ApiRequest, ApiResponse, Call, error_response, json_response
from .models import FleetBackend
from .schemas import RequestSchemas, schemas_for
from .support_routes import SupportRoutes, login_redirect
from .urls import Route, remove_base_path, resolve, split_space
from .validation import RequestValidationError, query_object
from .versions import KibanaVersion

VERSION_HEADERS = {"elastic-api-version": API_VERSION}
# Elasticsearch's index.max_result_window default.
MAX_RESULT_WINDOW = 10000

Handler = Callable[[Call], ApiResponse]
_ANONYMOUS = Principal("anonymous", "none")


class KibanaApi(SupportRoutes):
    """The Kibana HTTP API of one emulated version, in front of a FleetBackend."""

    def __init__(
        self, backend: FleetBackend, credentials: Credentials, base_path: str = ""
    ) -> None:
        self.backend = backend
        self.credentials = credentials
        self.base_path = base_path
        self.version: KibanaVersion = backend.version
        self.uuid = str(uuid.uuid4())
        self._schemas: dict[str, RequestSchemas] = {}

    def handle(self, request: ApiRequest) -> ApiResponse:
        """Answer one request as Kibana would."""
        # Core's generic 404 below, {"statusCode":404,"error":"Not Found","message":"Not
        # Found"}, is hapi's answer when no route serves the path and method; it comes
        # before authentication (8.x and 9.x). It is what a mistyped prefix
        # (/kibana/api/... on a Kibana without that base path) or route gets.
        rewritten = request.path
        if self.base_path:
            # server.basePath with server.rewriteBasePath: true: core's onPreRouting
            # handler strips the base path and answers notFound() to any path without it
            # (setupBasePathRewrite, src/core/packages/http/server-internal/src/
            # http_server.ts, 8.x and 9.x), /api/status and /s/{space} paths included.
            without_base = remove_base_path(request.path, self.base_path)
            if without_base is None:
                return error_response(404, "Not Found")
            rewritten = without_base
        space_id, path = split_space(rewritten)
        resolved = resolve(request.method, path, self.version)
        if resolved is None:
            return error_response(404, "Not Found")
        route, params = resolved
        headers = request.headers

        principal = _ANONYMOUS
        if route.authenticated:
            found = self.credentials.authenticate(headers.get("authorization"))
            if isinstance(found, AuthFailure):
                if route.page and "authorization" not in headers and not _is_ajax(headers):
                    prefix = self.base_path + rewritten[: len(rewritten) - len(path)]
                    return login_redirect(prefix, path, request.query_string)
                return error_response(401, found.message)
            principal = found

        payload: Any = None
        if route.method in ("POST", "PUT"):
            # hapi parses the payload after authentication and before the onPostAuth
            # handlers (xsrf, 9.x privileges), so bad JSON wins over them (8.x and 9.x).
            parsed = parse_payload(request)
            if isinstance(parsed, ApiResponse):
                return parsed
            payload = parsed

        if request.method not in ("GET", "OPTIONS") and not _is_ajax(headers):
            return error_response(400, "Request must contain a kbn-xsrf header.")
        # Core's next onPostAuth handler (8.x and 9.x): a kbn-version that is not this
        # release's is refused, whatever the method; see client_version_problem.
        outdated = client_version_problem(headers.get("kbn-version"), str(self.version))
        if outdated:
            return outdated

        early_authz = self.version.core_authz or not route.fleet
        if early_authz:
            denied = self._authorize(route, principal, path, request.query_string)
            if denied:
                return denied

        pairs = parse_qsl(request.query_string, keep_blank_values=True)
        if route.versioned:
            problem = version_problem(route, headers.get("elastic-api-version"), pairs)
            if problem:
                return error_response(400, problem)

        schemas = self._schemas.get(route.handler)
        if schemas is None:
            schemas = self._schemas[route.handler] = schemas_for(route.handler, self.version)
        try:
            valid_params = (
                schemas.params.validate(params, "request params") if schemas.params else {}
            )
            valid_query = (
                schemas.query.validate(query_object(pairs), "request query")
                if schemas.query
                else {}
            )
            valid_body = schemas.body.validate(payload, "request body") if schemas.body else {}
        except RequestValidationError as err:
            return error_response(400, str(err), VERSION_HEADERS)

        if not early_authz:
            denied = self._authorize(route, principal, path, request.query_string)
            if denied:
                denied.headers.update(VERSION_HEADERS)
                return denied

        call = Call(space_id, principal, valid_params, valid_query, valid_body)
        handler: Handler = getattr(self, route.handler)
        try:
            response = handler(call)
        except errors.FleetModelError as err:
            response = self._backend_error(route, call, err)
        response.headers.update(VERSION_HEADERS)
        return response

    # -- checks -----------------------------------------------------------------------
    def _authorize(
        self, route: Route, principal: Principal, path: str, query_string: str
    ) -> ApiResponse | None:
        held = principal.privileges
        if all(any(p in held for p in group) for group in route.privileges):
            return None
        if not self.version.core_authz:
            # 8.x: Fleet's own authz (and route access tags) answer a bare 403.
            return error_response(403, "Forbidden")
        checked = [p for group in route.privileges for p in group]
        missing = ",".join(p for p in checked if p not in held)
        search = f"?{query_string}" if query_string else ""
        return error_response(
            403,
            f"API [{route.method} {path}{search}] is unauthorized for user, "
            f"this action is granted by the Kibana privileges [{missing}]",
        )

    # -- backend errors ---------------------------------------------------------------
    def _backend_error(self, route: Route, call: Call, err: errors.FleetModelError) -> ApiResponse:
        """Kibana's answer when the backend refuses what a route handler asked of it."""
        message = self._handler_not_found(route.handler, call, err)
        if message is not None:
            return error_response(404, message)
        return error_response(self._fleet_status(err), str(err))

    def _fleet_status(self, err: errors.FleetModelError) -> int:
        """The status Fleet's shared error handler gives an error type.

        Kibana: ``x-pack/platform/plugins/shared/fleet/server/errors/handlers.ts``.
        """
        typed = self.version.typed_fleet_errors
        if isinstance(err, errors.AgentPolicyNotFoundError | errors.EnrollmentKeyNotFoundError):
            # 8.x's Fleet error handler had no not-found case: 400.
            return 404 if typed else 400
        if isinstance(err, errors.EnrollmentKeyNameExistsError):
            # 8.x raised a plain Fleet error for duplicate names: 400 Bad Request.
            return 409 if typed else 400
        if isinstance(
            err,
            errors.AgentPolicyNameExistsError
            | errors.AgentPolicyIdConflictError
            | errors.SpaceExistsError,
        ):
            return 409
        if isinstance(err, errors.SearchFailedError):
            # Neither a FleetError nor Boom: fleetErrorToResponseOptions's default, 500.
            return 500
        if isinstance(err, errors.SavedObjectNotFoundError):
            # A saved-objects Boom 404, passed on by every version's Fleet error handler.
            return 404
        return 400

    def _handler_not_found(
        self, handler: str, call: Call, err: errors.FleetModelError
    ) -> str | None:
        """The 404 message a route handler words itself, or None to use the shared handler."""
        if handler == "get_agent_policy" and isinstance(err, errors.AgentPolicyNotFoundError):
            # routes/agent_policy/handlers.ts answers this 404 itself, in every version.
            return "Agent policy not found"
        if handler not in ("get_enrollment_api_key", "delete_enrollment_api_key"):
            return None
        if not isinstance(err, errors.EnrollmentKeyNotFoundError):
            return None
        # routes/enrollment_api_key/handler.ts re-words a Boom 404: 8.x's
        # services/api_keys/enrollment_api_key.ts threw Boom.notFound for an unknown key,
        # and 9.5+ DELETE words its own 404 for every key it skips. Otherwise (9.0-9.4,
        # 9.5+ GET) the typed EnrollmentKeyNotFoundError reaches errors/handlers.ts.
        reworded = not self.version.typed_fleet_errors or (
            handler == "delete_enrollment_api_key" and self.version.delete_options
        )
        return f"EnrollmentAPIKey {call.params['keyId']} not found" if reworded else None

    # -- enrollment API keys ----------------------------------------------------------
    def post_enrollment_api_key(self, call: Call) -> ApiResponse:
        """POST /api/fleet/enrollment_api_keys."""
        doc = self.backend.create_enrollment_api_key(
            space_id=call.space_id,
            policy_id=call.body["policy_id"],
            name=call.body.get("name"),
            expiration=call.body.get("expiration"),
        )
        return json_response(200, {"item": self._created_item(doc), "action": "created"})

    def list_enrollment_api_keys(self, call: Call) -> ApiResponse:
        """GET /api/fleet/enrollment_api_keys."""
        page, per_page = call.query["page"], call.query["perPage"]
        text = call.query.get("kuery")
        try:
            node = kuery.parse(text) if text else None
        except kuery.KuerySyntaxError as err:
            if self.version.kuery_errors_unwrapped:
                # Early 8.x: the parser's error is neither a Fleet nor a Boom error, so
                # server/errors/handlers.ts answers 500 with its message.
                return error_response(500, str(err))
            return error_response(400, f"Kuery is malformed: {err}")
        start = int((page - 1) * per_page)
        if start < 0 or per_page < 0:
            # Elasticsearch refuses the search; Kibana passes its message on as a 500.
            what, found = ("from", start) if start < 0 else ("size", int(per_page))
            return error_response(500, f"[{what}] parameter cannot be negative, found [{found}]")
        if start + per_page > MAX_RESULT_WINDOW:
            return error_response(
                500,
                "Result window is too large, from + size must be less than or equal to: "
                f"[{MAX_RESULT_WINDOW}] but was [{int(start + per_page)}]. See the scroll api "
                "for a more efficient way to request large data sets. This limit can be set "
                "by changing the [index.max_result_window] index level setting.",
            )
        total, docs = self.backend.list_enrollment_api_keys(
            space_id=call.space_id,
            predicate=kuery.compile_predicate(node),
            page=int(page),
            per_page=int(per_page),
        )
        items = [self._read_item(doc) for doc in docs]
        # ``list`` is deprecated since 8.0 but kept (elastic/kibana#200087, 9.0).
        body = {"list": items, "items": items, "total": total, "page": page, "perPage": per_page}
        return json_response(200, body)

    def get_enrollment_api_key(self, call: Call) -> ApiResponse:
        """GET /api/fleet/enrollment_api_keys/{keyId}."""
        doc = self.backend.get_enrollment_api_key(call.params["keyId"], call.space_id)
        return json_response(200, {"item": self._read_item(doc)})

    def delete_enrollment_api_key(self, call: Call) -> ApiResponse:
        """DELETE /api/fleet/enrollment_api_keys/{keyId}."""
        self.backend.delete_enrollment_api_key(
            call.params["keyId"],
            call.space_id,
            force_delete=bool(call.query.get("forceDelete")),
            include_hidden=bool(call.query.get("includeHidden")),
        )
        return json_response(200, {"action": "deleted"})

    def bulk_delete_enrollment_api_keys(self, call: Call) -> ApiResponse:
        """POST /api/fleet/enrollment_api_keys/_bulk_delete (9.5+)."""
        body = call.body
        text = body.get("kuery")
        node = None
        if body.get("tokenIds") is None and text:
            try:
                node = kuery.parse(text)
            except kuery.KuerySyntaxError as err:
                return error_response(400, f"Kuery is malformed: {err}")
        force = bool(body.get("forceDelete"))
        count, done = self.backend.bulk_delete_enrollment_api_keys(
            space_id=call.space_id,
            key_ids=body.get("tokenIds"),
            predicate=kuery.compile_predicate(node),
            force_delete=force,
            include_hidden=bool(body.get("includeHidden")),
        )
        # routes/enrollment_api_key/handler.ts: "deleted" with forceDelete, else "deactivated".
        answer = {
            "action": "deleted" if force else "deactivated",
            "count": count,
            "successCount": done,
            "errorCount": 0,
        }
        return json_response(200, answer)

    def _created_item(self, doc: dict[str, Any]) -> dict[str, Any]:
        if not self.version.explicit_items:
            # 8.x returned the stored document: ``{id, ...body}``.
            return {k: v for k, v in doc.items() if k not in ("hidden",)}
        # 9.x builds the item explicitly: no ``hidden``, no ``namespaces``.
        item = {
            k: doc[k]
            for k in ("id", "api_key_id", "api_key", "name", "active", "policy_id", "created_at")
        }
        if "expire_at" in doc:
            item["expire_at"] = doc["expire_at"]
        return item

    def _read_item(self, doc: dict[str, Any]) -> dict[str, Any]:
        if not self.version.explicit_items:
            # 8.x: ``{id, ...source, created_at, active: source.active || false}``.
            return {**doc, "active": bool(doc.get("active"))}
        item: dict[str, Any] = {
            "id": doc["id"],
            "api_key_id": doc["api_key_id"],
            "api_key": doc["api_key"],
            "name": doc.get("name"),
            "policy_id": doc.get("policy_id"),
            "created_at": doc["created_at"],
            "active": bool(doc.get("active")),
        }
        if self.version.hidden_field:
            item["hidden"] = bool(doc.get("hidden"))
        if "expire_at" in doc:
            item["expire_at"] = doc["expire_at"]
        return item


def _is_ajax(headers: Any) -> bool:
    """True when ``kbn-xsrf`` or ``kbn-version`` was sent."""
    # Core's xsrf check lets such a write through (lifecycle_handlers.ts), and the security
    # plugin never redirects such a request to the login page (can_redirect_request.ts).
    return "kbn-xsrf" in headers or "kbn-version" in headers
