"""The security headers Kibana core puts on every response, per release, with default settings.

Core's ``createCustomHeadersPreResponseHandler`` (``lifecycle_handlers.ts`` in
``src/core/packages/http/server-internal/src/``; ``packages/core/http/core-http-server-internal``
in 8.x) adds ``server.securityResponseHeaders``, ``Content-Security-Policy`` and
``Content-Security-Policy-Report-Only`` to every response in onPreResponse: API answers, error
bodies, core's 404 and redirects alike. Their defaults are in
``security_response_headers_config.ts`` and ``csp/csp_directives.ts``, ``csp/config.ts``.

Not sent by default: ``Strict-Transport-Security`` (``strictTransportSecurity`` defaults to
null) and ``X-Frame-Options`` (only with ``disableEmbedding: true``, which also adds
``frame-ancestors 'self'`` to the CSP). Releases after those below extend the CSP further
(an enforced ``object-src`` and ``frame-src``, a report-only ``default-src 'none'``:
``csp_directives.ts`` on Kibana's main branch, elastic/kibana#243545); which releases is not
pinned, and the emulator keeps the last set below for them.
"""

from __future__ import annotations

from .versions import KibanaVersion

# Permissions-Policy default of elastic/kibana#158514 ("all non-experimental permissions, as of
# May 2023").
PERMISSIONS_POLICY = (
    "camera=(), display-capture=(), fullscreen=(self), geolocation=(), microphone=(), web-share=()"
)
# The enforced CSP, by era. Before csp.disableUnsafeEval defaulted to true (elastic/kibana#150157,
# 8.7.0: the option is deprecated from 8.7.0, #150527), script-src had 'unsafe-eval'.
CSP_UNSAFE_EVAL = (
    "script-src 'unsafe-eval' 'self'; worker-src blob: 'self'; style-src 'unsafe-inline' 'self'"
)
CSP_SELF = "script-src 'self'; worker-src blob: 'self'; style-src 'unsafe-inline' 'self'"
# With 'report-sample' in every default directive, as a default 8.18.0 sends it.
CSP_REPORT_SAMPLE = (
    "script-src 'report-sample' 'self'; worker-src 'report-sample' 'self' blob:; "
    "style-src 'report-sample' 'self' 'unsafe-inline'"
)
REPORT_ONLY_FORM_ACTION = "form-action 'report-sample' 'self'"
REPORT_ONLY_OBJECT_SRC = "form-action 'report-sample' 'self'; object-src 'report-sample' 'none'"

_CSP_ON_EVERY_RESPONSE = KibanaVersion(8, 5, 2)


def security_headers(version: KibanaVersion) -> tuple[tuple[str, str], ...]:
    """The default security headers of ``version``, in the order core sets them."""
    headers = [("X-Content-Type-Options", "nosniff")]
    # referrerPolicy: "strict-origin-when-cross-origin" from 8.13.0 (elastic/kibana#177559,
    # labelled v8.13.0), "no-referrer-when-downgrade" before (#97158, #97348).
    referrer = (
        "strict-origin-when-cross-origin"
        if version.at_least(8, 13)
        else "no-referrer-when-downgrade"
    )
    headers.append(("Referrer-Policy", referrer))
    if version.at_least(8, 9):
        # permissionsPolicy defaulted to null (no header) until elastic/kibana#158514, merged in
        # June 2023 with backport:skip: 8.9.0, the release then in development, is inferred.
        headers.append(("Permissions-Policy", PERMISSIONS_POLICY))
    if version.at_least(8, 7):
        # crossOriginOpenerPolicy, default "same-origin": elastic/kibana#147874, labelled v8.7.0.
        headers.append(("Cross-Origin-Opener-Policy", "same-origin"))
    if version >= _CSP_ON_EVERY_RESPONSE:
        # Before elastic/kibana#144902 (merged for 8.7.0, backported to 8.5.2 and, inferred,
        # 8.6.0) only rendered pages carried the CSP and /api/* answers had none; the emulator
        # sends none before it.
        headers.append(("Content-Security-Policy", _csp(version)))
    report_only = _csp_report_only(version)
    if report_only:
        headers.append(("Content-Security-Policy-Report-Only", report_only))
    return tuple(headers)


def _csp(version: KibanaVersion) -> str:
    if not version.at_least(8, 7):
        return CSP_UNSAFE_EVAL
    if not version.at_least(8, 14):
        return CSP_SELF
    # 'report-sample' is in the header a default 8.18.0 sends (a published `curl -I` of one);
    # that it came with the report-only policy of elastic/kibana#179949 (8.14) is inferred.
    return CSP_REPORT_SAMPLE


def _csp_report_only(version: KibanaVersion) -> str | None:
    # Content-Security-Policy-Report-Only with form-action 'self': elastic/kibana#179949,
    # merged April 2024; 8.14.0, the release then in development, is inferred. object-src
    # 'none' joined it in elastic/kibana#209306 (labelled v8.19.0, merged for 9.1: 9.0 lacks it,
    # inferred from the labels).
    if not version.at_least(8, 14):
        return None
    if version.at_least(9, 1) or (version.major == 8 and version.at_least(8, 19)):
        return REPORT_ONLY_OBJECT_SRC
    return REPORT_ONLY_FORM_ACTION
