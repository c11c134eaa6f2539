"""Connection settings: stack config over environment, and one clear line for each mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet_provider.config import resolve_settings
from fleet_provider.exceptions import ConfigurationError

ENV = {
    "KIBANA_ENDPOINT": "https://env.example.com:5601",
    "KIBANA_API_KEY": "ZW52LWtleQ==",
}


def test_environment_alone_is_enough() -> None:
    settings = resolve_settings({}, ENV)
    assert settings.endpoint == "https://env.example.com:5601"
    assert settings.authorization == "ApiKey ZW52LWtleQ=="
    assert settings.credential_source == "API key from KIBANA_API_KEY"


def test_stack_config_wins_over_environment() -> None:
    settings = resolve_settings(
        {"fleet:endpoint": "https://config.example.com/", "fleet:timeout": "2.5"}, ENV
    )
    assert settings.endpoint == "https://config.example.com"
    assert settings.timeout == 2.5
    assert settings.authorization == "ApiKey ZW52LWtleQ=="


def test_credentials_from_config_shadow_all_credentials_from_environment() -> None:
    settings = resolve_settings(
        {"fleet:username": "elastic", "fleet:password": "changeme"},
        {**ENV, "KIBANA_BEARER_TOKEN": "tok"},
    )
    assert settings.api_key is None
    assert settings.bearer_token is None
    assert settings.authorization == "Basic ZWxhc3RpYzpjaGFuZ2VtZQ=="


def test_secrets_stay_out_of_repr() -> None:
    settings = resolve_settings(
        {"fleet:password": "hunter2", "fleet:username": "u", "fleet:bearerToken": "tok-1"},
        {"KIBANA_ENDPOINT": "https://k"},
    )
    assert "hunter2" not in repr(settings)
    assert "tok-1" not in repr(settings)


@pytest.mark.parametrize(
    ("config", "env", "message"),
    [
        (
            {},
            {},
            "No Kibana endpoint configured: set the stack config fleet:endpoint (pulumi config "
            "set fleet:endpoint https://kibana.example.com:5601) or the environment variable "
            "KIBANA_ENDPOINT.",
        ),
        (
            {"fleet:endpoint": "kibana:5601"},
            {},
            "The Kibana endpoint 'kibana:5601' is not an http(s) URL: set fleet:endpoint "
            "(or KIBANA_ENDPOINT) to e.g. https://kibana.example.com:5601.",
        ),
        (
            {"fleet:endpoint": "https://elastic:pw@kibana"},
            {},
            "The Kibana endpoint must not carry credentials in the URL: set "
            "fleet:username/fleet:password (or KIBANA_USERNAME/KIBANA_PASSWORD) instead.",
        ),
        (
            {},
            {"KIBANA_ENDPOINT": "https://k", "KIBANA_USERNAME": "elastic"},
            "fleet:username/KIBANA_USERNAME is set but fleet:password (or KIBANA_PASSWORD) is "
            "not: basic authentication needs both.",
        ),
        (
            {"fleet:timeout": "soon"},
            {"KIBANA_ENDPOINT": "https://k"},
            "fleet:timeout must be a positive number of seconds per HTTP attempt, not 'soon'.",
        ),
        (
            {"fleet:timeout": "0"},
            {"KIBANA_ENDPOINT": "https://k"},
            "fleet:timeout must be a positive number of seconds per HTTP attempt, not '0'.",
        ),
        (
            {},
            {"KIBANA_ENDPOINT": "https://k", "KIBANA_INSECURE": "maybe"},
            "KIBANA_INSECURE must be true or false, not 'maybe'.",
        ),
        (
            {"fleet:spaceId": "Ops Team"},
            {"KIBANA_ENDPOINT": "https://k"},
            "fleet:spaceId 'Ops Team' is not a Kibana space id: use lower-case letters, digits, "
            "'_' and '-' (the id in /s/<id>/app/..., not the display name).",
        ),
        (
            {},
            {"KIBANA_ENDPOINT": "https://k", "KIBANA_CA_CERTS": "/nonexistent/ca.pem"},
            "KIBANA_CA_CERTS names '/nonexistent/ca.pem', which is not a readable file: point "
            "it at a PEM file holding the CA certificate that signed Kibana's certificate.",
        ),
    ],
)
def test_invalid_settings_get_one_line_naming_cause_and_fix(
    config: dict[str, str], env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        resolve_settings(config, env)
    assert str(caught.value) == message


def test_boolean_and_ca_settings_arrive_as_strings(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    settings = resolve_settings(
        {"fleet:insecure": "TRUE", "fleet:caCerts": str(ca)}, {"KIBANA_ENDPOINT": "https://k"}
    )
    assert settings.insecure is True
    assert settings.ca_certs == str(ca)


@pytest.mark.parametrize(
    ("endpoint", "cleartext"),
    [
        ("http://127.0.0.1:5601", False),
        ("http://localhost:5601", False),
        ("http://[::1]:5601", False),
        ("https://kibana.example.com", False),
        ("http://kibana.example.com", True),
        ("http://10.0.0.5:5601", True),
    ],
)
def test_cleartext_is_detected_only_off_loopback(endpoint: str, cleartext: bool) -> None:
    assert resolve_settings({"fleet:endpoint": endpoint}, {}).is_cleartext_remote is cleartext
