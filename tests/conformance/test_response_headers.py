"""Core's default security headers on every response (``createCustomHeadersPreResponseHandler``).

Kibana: ``lifecycle_handlers.ts``, ``security_response_headers_config.ts`` and
``csp/csp_directives.ts`` in core's http server; which release brought which header is in
``fleet_provider/emulator/security_headers.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests

from tests.conformance.target import KEYS, Target
from tests.conformance.versions import Release

AtVersion = Callable[[str], Target]
SECURITY_HEADERS = (
    "X-Content-Type-Options",
    "Referrer-Policy",
    "Permissions-Policy",
    "Cross-Origin-Opener-Policy",
    "Content-Security-Policy",
    "Content-Security-Policy-Report-Only",
    "X-Frame-Options",
    "Strict-Transport-Security",
)
PERMISSIONS = (
    "camera=(), display-capture=(), fullscreen=(self), geolocation=(), microphone=(), web-share=()"
)
CSP_8_18 = (
    "script-src 'report-sample' 'self'; worker-src 'report-sample' 'self' blob:; "
    "style-src 'report-sample' 'self' 'unsafe-inline'"
)


def _answers(target: Target) -> dict[str, requests.Response]:
    """One answer of each kind: a 200, a 400, a 401, a 404 and a login redirect."""
    bare = requests.Session()
    return {
        "200": target.get(KEYS),
        "400": target.request("POST", KEYS, json={}),
        "401": bare.get(target.url + KEYS, timeout=30),
        "404": target.get("/api/fleet/nope"),
        "302": bare.get(target.url + "/app/fleet", allow_redirects=False, timeout=30),
    }


def _security_headers(response: requests.Response) -> dict[str, str]:
    return {name: response.headers[name] for name in SECURITY_HEADERS if name in response.headers}


def test_every_answer_says_nosniff(target: Target) -> None:
    answers = _answers(target)
    assert {kind: r.status_code for kind, r in answers.items()} == {
        "200": 200,
        "400": 400,
        "401": 401,
        "404": 404,
        "302": 302,
    }
    for response in answers.values():
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_every_answer_carries_the_same_security_headers(target: Target) -> None:
    seen = [_security_headers(response) for response in _answers(target).values()]
    assert all(headers == seen[0] for headers in seen)


def test_the_referrer_policy_follows_the_release(target: Target) -> None:
    # strict-origin-when-cross-origin from 8.13.0 (elastic/kibana#177559).
    strict = target.version >= Release(8, 13, 0)
    expected = "strict-origin-when-cross-origin" if strict else "no-referrer-when-downgrade"
    assert target.get(KEYS).headers["Referrer-Policy"] == expected


def test_cross_origin_opener_policy_is_same_origin_from_8_7(target: Target) -> None:
    headers = target.get("/api/fleet/nope").headers
    if target.version >= Release(8, 7, 0):
        assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    else:
        assert "Cross-Origin-Opener-Policy" not in headers


def test_api_answers_carry_a_content_security_policy_from_8_5_2(target: Target) -> None:
    headers = target.get(KEYS).headers
    if target.version >= Release(8, 5, 2):
        assert headers["Content-Security-Policy"].startswith("script-src ")
    else:
        assert "Content-Security-Policy" not in headers


def test_embedding_and_hsts_headers_are_not_sent_by_default(target: Target) -> None:
    headers = target.get(KEYS).headers
    assert "X-Frame-Options" not in headers
    assert "Strict-Transport-Security" not in headers


@pytest.mark.emulator_only("other Kibana versions are emulator switches")
@pytest.mark.parametrize(
    ("version", "expected"),
    [
        # 8.5.0: nosniff and the old referrer policy only; no CSP on API answers yet.
        ("8.5.0", {"Referrer-Policy": "no-referrer-when-downgrade"}),
        (
            "8.5.2",
            {
                "Referrer-Policy": "no-referrer-when-downgrade",
                "Content-Security-Policy": "script-src 'unsafe-eval' 'self'; "
                "worker-src blob: 'self'; style-src 'unsafe-inline' 'self'",
            },
        ),
        (
            "8.8.0",
            {
                "Referrer-Policy": "no-referrer-when-downgrade",
                "Cross-Origin-Opener-Policy": "same-origin",
                "Content-Security-Policy": "script-src 'self'; worker-src blob: 'self'; "
                "style-src 'unsafe-inline' 'self'",
            },
        ),
        (
            "8.12.0",
            {
                "Referrer-Policy": "no-referrer-when-downgrade",
                "Permissions-Policy": PERMISSIONS,
                "Cross-Origin-Opener-Policy": "same-origin",
                "Content-Security-Policy": "script-src 'self'; worker-src blob: 'self'; "
                "style-src 'unsafe-inline' 'self'",
            },
        ),
        # What a default 8.18.0 sends (a published capture of one).
        (
            "8.18.0",
            {
                "Referrer-Policy": "strict-origin-when-cross-origin",
                "Permissions-Policy": PERMISSIONS,
                "Cross-Origin-Opener-Policy": "same-origin",
                "Content-Security-Policy": CSP_8_18,
                "Content-Security-Policy-Report-Only": "form-action 'report-sample' 'self'",
            },
        ),
        (
            "9.0.0",
            {
                "Referrer-Policy": "strict-origin-when-cross-origin",
                "Permissions-Policy": PERMISSIONS,
                "Cross-Origin-Opener-Policy": "same-origin",
                "Content-Security-Policy": CSP_8_18,
                "Content-Security-Policy-Report-Only": "form-action 'report-sample' 'self'",
            },
        ),
        # object-src joins the report-only policy (elastic/kibana#209306: 8.19 and 9.1+).
        *[
            (
                version,
                {
                    "Referrer-Policy": "strict-origin-when-cross-origin",
                    "Permissions-Policy": PERMISSIONS,
                    "Cross-Origin-Opener-Policy": "same-origin",
                    "Content-Security-Policy": CSP_8_18,
                    "Content-Security-Policy-Report-Only": "form-action 'report-sample' 'self'; "
                    "object-src 'report-sample' 'none'",
                },
            )
            for version in ("8.19.0", "9.1.0", "9.6.0")
        ],
    ],
)
def test_each_release_sends_its_default_security_headers(
    at_version: AtVersion, version: str, expected: dict[str, str]
) -> None:
    kibana = at_version(version)
    for response in _answers(kibana).values():
        assert _security_headers(response) == {"X-Content-Type-Options": "nosniff", **expected}
