"""Cross-cutting behaviour: authentication, kbn-xsrf, API versions, routing."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.conformance.target import KEYS, XSRF, Target, assert_error

BAD_USER = "conformance-nobody"
APP_KEYS = "/app/fleet/api/fleet/enrollment_api_keys"


def _bare(target: Target, method: str, path: str, **options: object) -> requests.Response:
    return requests.request(method, target.url + path, timeout=30, **options)


def test_no_credentials_is_401(target: Target) -> None:
    assert_error(_bare(target, "GET", KEYS), 401, "Unauthorized")


def test_wrong_password_is_401_with_the_security_exception(target: Target) -> None:
    response = _bare(target, "GET", KEYS, auth=(BAD_USER, "wrong"))
    reason = f"unable to authenticate user [{BAD_USER}] for REST request [/_security/_authenticate]"
    assert_error(
        response, 401, f"[security_exception: [security_exception] Reason: {reason}]: {reason}"
    )


def test_unknown_api_key_is_401(target: Target) -> None:
    response = _bare(target, "GET", KEYS, headers={"Authorization": "ApiKey bm9wZTpub3Bl"})
    assert response.status_code == 401


def test_bad_credentials_win_over_a_missing_xsrf_header(target: Target) -> None:
    response = _bare(target, "POST", KEYS, auth=(BAD_USER, "wrong"), json={})
    assert response.status_code == 401


def test_post_without_kbn_xsrf_is_400(target: Target, policy_id: str) -> None:
    response = target.request("POST", KEYS, json={"policy_id": policy_id})
    assert_error(response, 400, "Request must contain a kbn-xsrf header.")


def test_delete_without_kbn_xsrf_is_400(target: Target, policy_id: str) -> None:
    item = target.create_key(policy_id, "web")
    response = target.request("DELETE", f"{KEYS}/{item['id']}")
    assert_error(response, 400, "Request must contain a kbn-xsrf header.")


def test_kbn_xsrf_with_an_empty_value_is_enough(target: Target, policy_id: str) -> None:
    response = target.request("POST", KEYS, json={"policy_id": policy_id}, headers={"kbn-xsrf": ""})
    assert response.status_code == 200


def test_kbn_version_header_stands_in_for_kbn_xsrf(target: Target, policy_id: str) -> None:
    headers = {"kbn-version": str(target.version)}
    response = target.request("POST", KEYS, json={"policy_id": policy_id}, headers=headers)
    assert response.status_code == 200


# -- kbn-version: core's createVersionCheckPostAuthHandler (lifecycle_handlers.ts) ----------
def _outdated(sent: str, target: Target) -> tuple[str, dict[str, str]]:
    """The message and attributes of core's 400 for a ``kbn-version`` of ``sent``."""
    expected = str(target.version)
    message = (
        "Browser client is out of date, please refresh the page "
        f'("kbn-version" header was "{sent}" but should be "{expected}")'
    )
    return message, {"expected": expected, "got": sent}


def test_a_kbn_version_other_than_the_servers_is_400(target: Target, policy_id: str) -> None:
    headers = {"kbn-version": "1.2.3"}
    response = target.request("POST", KEYS, json={"policy_id": policy_id}, headers=headers)
    message, attributes = _outdated("1.2.3", target)
    assert_error(response, 400, message, attributes=attributes)
    assert len(target.keys(policy_id)) == 1  # the policy's Default key only: nothing created


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_a_mismatched_kbn_version_is_refused_whatever_the_method(
    target: Target, policy_id: str, method: str
) -> None:
    [key] = target.keys(policy_id)
    response = target.request(method, f"{KEYS}/{key['id']}", headers={"kbn-version": "0.0.1"})
    message, attributes = _outdated("0.0.1", target)
    assert_error(response, 400, message, attributes=attributes)
    assert target.get(f"{KEYS}/{key['id']}").json()["item"]["active"] is True


def test_a_mismatched_kbn_version_answer_has_no_api_version_header(target: Target) -> None:
    response = target.get(KEYS, headers={"kbn-version": "0.0.1"})
    assert "elastic-api-version" not in response.headers


def test_an_empty_kbn_version_passes_and_stands_in_for_kbn_xsrf(
    target: Target, policy_id: str
) -> None:
    headers = {"kbn-version": ""}
    response = target.request("POST", KEYS, json={"policy_id": policy_id}, headers=headers)
    assert response.status_code == 200


def test_bad_credentials_win_over_a_mismatched_kbn_version(target: Target) -> None:
    headers = {"kbn-version": "0.0.1"}
    response = _bare(target, "GET", KEYS, auth=(BAD_USER, "wrong"), headers=headers)
    assert response.status_code == 401


def test_bad_json_wins_over_a_mismatched_kbn_version(target: Target) -> None:
    headers = {"kbn-version": "0.0.1", "Content-Type": "application/json"}
    response = target.request("POST", KEYS, data=b"{not json", headers=headers)
    assert_error(response, 400, "Invalid request payload JSON format")


def test_the_kbn_version_check_comes_before_body_validation(target: Target) -> None:
    response = target.post(KEYS, json={}, headers={"kbn-version": "0.0.1"})
    assert response.json()["message"].startswith("Browser client is out of date")


def test_the_kbn_version_check_comes_before_the_api_version_check(target: Target) -> None:
    headers = {"kbn-version": "0.0.1", "elastic-api-version": "2024-01-01"}
    response = target.get(KEYS, headers=headers)
    assert response.json()["message"].startswith("Browser client is out of date")


@pytest.mark.parametrize("path", ["/api/status", APP_KEYS])
def test_the_kbn_version_check_covers_routes_outside_fleet(target: Target, path: str) -> None:
    response = target.get(path, headers={"kbn-version": "0.0.1"})
    message, attributes = _outdated("0.0.1", target)
    assert_error(response, 400, message, attributes=attributes)


def test_an_unknown_route_is_404_whatever_the_kbn_version(target: Target) -> None:
    response = target.get("/api/fleet/nope", headers={"kbn-version": "0.0.1"})
    assert_error(response, 404, "Not Found")


def test_xsrf_is_checked_before_body_validation(target: Target) -> None:
    response = target.request("POST", KEYS, json={})
    assert_error(response, 400, "Request must contain a kbn-xsrf header.")


def test_get_needs_no_kbn_xsrf(target: Target) -> None:
    assert target.request("GET", KEYS).status_code == 200


def test_responses_carry_the_elastic_api_version_header(target: Target) -> None:
    assert target.get(KEYS).headers["elastic-api-version"] == "2023-10-31"


def test_validation_errors_carry_the_elastic_api_version_header(target: Target) -> None:
    response = target.post(KEYS, json={})
    assert response.headers["elastic-api-version"] == "2023-10-31"


def test_explicit_api_version_2023_10_31_is_accepted(target: Target) -> None:
    response = target.get(KEYS, headers={"elastic-api-version": "2023-10-31"})
    assert response.status_code == 200


def test_unknown_api_version_is_400(target: Target) -> None:
    response = target.get(f"{KEYS}/abc", headers={"elastic-api-version": "2024-01-01"})
    assert_error(
        response,
        400,
        'No version "2024-01-01" available for [get] [/api/fleet/enrollment_api_keys/{keyId}]. '
        "Available versions are: [2023-10-31]",
    )


def test_malformed_api_version_is_400(target: Target) -> None:
    response = target.get(KEYS, headers={"elastic-api-version": "1"})
    assert_error(
        response,
        400,
        'Invalid version. Received "1", expected a valid date string formatted as YYYY-MM-DD.',
    )


def test_api_version_query_parameter_is_400(target: Target) -> None:
    response = target.get(KEYS, params={"apiVersion": "2023-10-31"})
    assert_error(
        response,
        400,
        'Use of query parameter "apiVersion" is not allowed. Please specify the API version '
        'using the "elastic-api-version" header.',
    )


def test_api_version_is_checked_before_validation(target: Target) -> None:
    response = target.post(KEYS, json={}, headers={"elastic-api-version": "v1"})
    assert response.json()["message"].startswith("Invalid version.")


def test_hyphen_route_is_gone_in_9x(target: Target) -> None:
    target.require("core_authz")
    assert_error(target.get("/api/fleet/enrollment-api-keys"), 404, "Not Found")


def test_unknown_path_is_404_even_without_credentials(target: Target) -> None:
    assert_error(_bare(target, "GET", "/api/fleet/nothing_here"), 404, "Not Found")


def test_unsupported_method_is_404(target: Target) -> None:
    assert target.request("PUT", KEYS, headers={"kbn-xsrf": "x"}).status_code == 404


def test_trailing_slash_is_accepted(target: Target) -> None:
    assert target.get(KEYS + "/").status_code == 200


def test_status_reports_the_version_and_availability(target: Target) -> None:
    body = target.get("/api/status").json()
    assert body["status"]["overall"]["level"] == "available"
    assert body["version"]["number"].startswith(str(target.version))


def test_status_needs_credentials(target: Target) -> None:
    assert _bare(target, "GET", "/api/status").status_code == 401


@pytest.mark.parametrize(
    "path",
    [
        "/kibana/api/fleet/enrollment_api_keys",
        "/api/fleet/nope",
        "/api/fleet/enrollment_api_keys/abc/def",
        "/s/default/api/fleet/nope",
        "/apis/fleet/enrollment_api_keys",
    ],
)
def test_a_path_no_route_serves_is_the_generic_404(target: Target, path: str) -> None:
    assert_error(target.get(path), 404, "Not Found")


def test_unknown_route_404_comes_before_the_xsrf_check(target: Target) -> None:
    assert_error(target.request("POST", "/api/fleet/nope", json={}), 404, "Not Found")


def test_a_fleet_ui_url_answers_the_app_page_not_json(target: Target) -> None:
    response = target.get(APP_KEYS)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    with pytest.raises(ValueError):
        response.json()


def test_a_fleet_ui_url_refuses_writes_with_the_generic_404(target: Target) -> None:
    assert_error(target.post(APP_KEYS, json={"policy_id": "x"}), 404, "Not Found")


def test_a_fleet_ui_url_without_credentials_redirects_to_the_login_page(target: Target) -> None:
    response = _bare(target, "GET", APP_KEYS + "?page=1", allow_redirects=False)
    base = urlsplit(target.url).path
    location = urlsplit(response.headers["Location"])
    assert (response.status_code, location.path) == (302, f"{base}/login")
    assert parse_qs(location.query)["next"] == [f"{base}{APP_KEYS}?page=1"]


def test_a_fleet_ui_url_with_kbn_xsrf_and_no_credentials_is_401(target: Target) -> None:
    assert _bare(target, "GET", APP_KEYS, headers=XSRF).status_code == 401
