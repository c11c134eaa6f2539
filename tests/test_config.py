"""Connection settings: stack config over environment, and one clear line for each mistake."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from fleet_provider import config as config_module
from fleet_provider.answers import one_line, scrub
from fleet_provider.config import (
    MAX_TIMEOUT_SECONDS,
    misspelled_config_keys,
    resolve_settings,
    shown_url,
)
from fleet_provider.exceptions import ConfigurationError

ENV = {
    "KIBANA_ENDPOINT": "https://env.example.com:5601",
    "KIBANA_API_KEY": "ZW52LWtleQ==",
}
TLS = Path(__file__).parent / "fixtures" / "tls"
BASIC = {"fleet:username": "elastic", "fleet:password": "changeme"}


def refusal(config: dict[str, str], env: dict[str, str] | None = None) -> str:
    """The one line resolve_settings refuses ``config`` and ``env`` with."""
    with pytest.raises(ConfigurationError) as caught:
        resolve_settings(config, env or {})
    message = str(caught.value)
    assert "\n" not in message
    return message


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
        {"KIBANA_ENDPOINT": "https://k", "HTTPS_PROXY": "http://pu:proxy-pw@proxy:3128"},
    )
    assert "hunter2" not in repr(settings)
    assert "tok-1" not in repr(settings)
    assert "proxy-pw" not in repr(settings)


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
            "KIBANA_USERNAME is set but KIBANA_PASSWORD is not: basic authentication needs both.",
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
            {"fleet:spaceId": "ops\n"},
            {"KIBANA_ENDPOINT": "https://k"},
            "fleet:spaceId 'ops\\n' is not a Kibana space id: use lower-case letters, digits, "
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
    assert refusal(config, env) == message


# -- the endpoint -----------------------------------------------------------------------------

FIX = "set fleet:endpoint (or KIBANA_ENDPOINT) to e.g. https://kibana.example.com:5601."
IN_URL = (
    "The Kibana endpoint must not carry credentials in the URL: set fleet:username/fleet:password "
    "(or KIBANA_USERNAME/KIBANA_PASSWORD) instead."
)
QUERY = "has a query or fragment: use the bare base URL, e.g. https://kibana.example.com:5601."


@pytest.mark.parametrize(
    ("endpoint", "message", "secret"),
    [
        ("elastic:hunter2@kibana:5601", IN_URL, "hunter2"),
        ("https://elastic:hunter2@kibana:5601", IN_URL, "hunter2"),
        ("https://user:PW-SLASH/ss@kibana:5601", IN_URL, "PW-SLASH"),
        ("ftp://TOKEN-1234@host", IN_URL, "TOKEN-1234"),
        ("https://kibana?apikey=QUERY-SECRET", f"The Kibana endpoint 'https://kibana?***' {QUERY}", "QUERY-SECRET"),
        ("https://kibana/#FRAGMENT-SECRET", f"The Kibana endpoint 'https://kibana/#***' {QUERY}", "FRAGMENT-SECRET"),
        ("https://kibana?", f"The Kibana endpoint 'https://kibana?***' {QUERY}", None),
        ("ftp://kibana", f"The Kibana endpoint 'ftp://kibana' is not an http(s) URL: {FIX}", None),
        ("kibana.example.com", f"The Kibana endpoint 'kibana.example.com' is not an http(s) URL: {FIX}", None),
        ("https://", f"The Kibana endpoint 'https://' is not an http(s) URL: {FIX}", None),
        ("http://[::1", f"The Kibana endpoint 'http://[::1' is not a valid URL (its [ ] do not hold an IPv6 address): {FIX}", None),
        ("https://kib ana:5601", f"The Kibana endpoint 'https://kib ana:5601' contains a space or a control character: {FIX}", None),
        ("https://kibana\t:5601", f"The Kibana endpoint 'https://kibana\\t:5601' contains a space or a control character: {FIX}", None),
        ("https://kibana:99999", "The Kibana endpoint 'https://kibana:99999' has an invalid port: use a number from 1 to 65535, e.g. https://kibana.example.com:5601.", None),
        ("https://kibana:0", "The Kibana endpoint 'https://kibana:0' has an invalid port: use a number from 1 to 65535, e.g. https://kibana.example.com:5601.", None),
        ("https://kibana:56o1", "The Kibana endpoint 'https://kibana:56o1' has an invalid port: use a number from 1 to 65535, e.g. https://kibana.example.com:5601.", None),
        ("https://:5601", f"The Kibana endpoint 'https://:5601' has no host: {FIX}", None),
        ("https://kib*ana", f"The Kibana endpoint 'https://kib*ana' has a host name that is not valid: {FIX}", None),
    ],
)  # fmt: skip
def test_a_bad_endpoint_is_refused_without_echoing_its_secrets(
    endpoint: str, message: str, secret: str | None
) -> None:
    refused = refusal({"fleet:endpoint": endpoint})
    assert refused == message
    if secret is not None:
        assert secret not in refused


@pytest.mark.parametrize(
    ("endpoint", "normalised"),
    [
        ("https://kibana.example.com:5601/", "https://kibana.example.com:5601"),
        ("https://kibana.example.com/kibana/", "https://kibana.example.com/kibana"),
        ("HTTPS://Kibana.example.com", "https://Kibana.example.com"),
        ("http://[::1]:5601", "http://[::1]:5601"),
        ("https://kibana:", "https://kibana"),
        ("https://bücher.example", "https://bücher.example"),
        ("  https://k\n", "https://k"),
    ],
)
def test_a_good_endpoint_is_kept_normalised(endpoint: str, normalised: str) -> None:
    assert resolve_settings({"fleet:endpoint": endpoint}, {}).endpoint == normalised


def test_a_shown_url_loses_user_info_query_and_fragment() -> None:
    assert shown_url("elastic:hunter2@kibana:5601") == "***@kibana:5601"
    assert shown_url("https://a:b@c@kibana/x?k=v#f") == "https://***@kibana/x?***"
    assert shown_url("https://kibana#a?b") == "https://kibana#***"


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


# -- timeouts and retries ---------------------------------------------------------------------

POSITIVE = "must be a positive number of seconds per HTTP attempt"
AT_MOST = f"must be at most {MAX_TIMEOUT_SECONDS:g} seconds per HTTP attempt"


@pytest.mark.parametrize("key", ["fleet:timeout", "fleet:connectTimeout"])
@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("1e10", AT_MOST),  # socket.settimeout: "timestamp out of range for platform time_t"
        ("1e300", AT_MOST),
        ("1e400", AT_MOST),  # float() makes it inf
        ("3600.5", AT_MOST),
        ("nan", POSITIVE),
        ("inf", POSITIVE),
        ("-5", POSITIVE),
        ("0.0", POSITIVE),
        ("٣", POSITIVE),  # float() would take this Arabic-Indic digit as 3
        ("1_0", POSITIVE),  # float() would take this as 10
        ("", None),
    ],
)
def test_a_timeout_is_a_finite_positive_bounded_ascii_number(
    key: str, text: str, rule: str | None
) -> None:
    config = {"fleet:endpoint": "https://k", key: text}
    if rule is None:  # an empty value is no value: the default
        resolve_settings(config, {})
        return
    assert refusal(config) == f"{key} {rule}, not {text!r}."


@pytest.mark.parametrize(("text", "seconds"), [("30", 30.0), ("2.5", 2.5), (".5", 0.5), ("3600", 3600.0), ("1e3", 1000.0)])  # fmt: skip
def test_a_good_timeout_is_taken(text: str, seconds: float) -> None:
    settings = resolve_settings({"fleet:endpoint": "https://k", "fleet:connectTimeout": text}, {})
    assert settings.connect_timeout == seconds


@pytest.mark.parametrize("text", ["²", "٣", "21", "-1", "1.5", "4e0", "many", "0x3"])
def test_retries_are_an_ascii_whole_number_in_range(text: str) -> None:
    assert refusal({"fleet:endpoint": "https://k", "fleet:maxRetries": text}) == (
        f"fleet:maxRetries must be a whole number of retries from 0 to 20, not {text!r}."
    )


@pytest.mark.parametrize(("text", "retries"), [("0", 0), ("20", 20), (" 3 ", 3), ("007", 7)])
def test_good_retries_are_taken(text: str, retries: int) -> None:
    settings = resolve_settings({"fleet:endpoint": "https://k", "fleet:maxRetries": text}, {})
    assert settings.max_retries == retries


# -- credentials ------------------------------------------------------------------------------

WHITESPACE = (
    "has leading or trailing whitespace, often the newline at the end of the file it was read "
    "from: remove it (the value is not shown)."
)
CONTROL = "contains a control character: set it to the credential alone (the value is not shown)."


@pytest.mark.parametrize(
    ("config", "env", "message"),
    [
        ({"fleet:username": "elastic", "fleet:password": "s3cret-pw\n"}, {}, f"fleet:password {WHITESPACE}"),
        ({}, {"KIBANA_USERNAME": "elastic", "KIBANA_PASSWORD": "s3cret-pw\r\n"}, f"KIBANA_PASSWORD {WHITESPACE}"),
        ({"fleet:username": " elastic", "fleet:password": "s3cret-pw"}, {}, f"fleet:username {WHITESPACE}"),
        ({"fleet:username": "elastic", "fleet:password": "s3cret\x00pw"}, {}, f"fleet:password {CONTROL}"),
        ({"fleet:apiKey": "c2VjcmV0LWtleQ==\n"}, {}, f"fleet:apiKey {WHITESPACE}"),
        ({}, {"KIBANA_API_KEY": "\tc2VjcmV0LWtleQ=="}, f"KIBANA_API_KEY {WHITESPACE}"),
        ({"fleet:bearerToken": "s3cret\x1btoken"}, {}, f"fleet:bearerToken {CONTROL}"),
        (
            {"fleet:apiKey": "ApiKey c2VjcmV0LWtleQ=="},
            {},
            "fleet:apiKey contains a space or a character outside printable ASCII: set the API "
            "key alone, without 'ApiKey ' in front (the value is not shown).",
        ),
        (
            {"fleet:bearerToken": "s3cret-tökén"},
            {},
            "fleet:bearerToken contains a space or a character outside printable ASCII: set the "
            "bearer token alone, without 'Bearer ' in front (the value is not shown).",
        ),
        (
            {"fleet:apiKey": "key-id:s3cret-key"},
            {},
            "fleet:apiKey contains ':': set the base64 encoding of id:api_key (the 'encoded' "
            "value Elasticsearch returns), not the id and key themselves (the value is not shown).",
        ),
        (
            {"fleet:username": "ela:stic", "fleet:password": "s3cret-pw"},
            {},
            "fleet:username contains ':', which basic authentication cannot carry in a user name "
            "(RFC 7617): use an API key (fleet:apiKey) for this user instead.",
        ),
    ],
)  # fmt: skip
def test_a_credential_with_whitespace_or_control_characters_is_refused_unseen(
    config: dict[str, str], env: dict[str, str], message: str
) -> None:
    refused = refusal({"fleet:endpoint": "https://k", **config}, env)
    assert refused == message
    for secret in ("s3cret", "c2VjcmV0LWtleQ", "tökén"):
        assert secret not in refused


def test_a_password_may_hold_inner_spaces_and_non_ascii_letters() -> None:
    settings = resolve_settings(
        {"fleet:endpoint": "https://k", "fleet:username": "jürgen", "fleet:password": "a b ü"}, {}
    )
    assert settings.authorization is not None


@pytest.mark.parametrize(
    ("config", "env", "message"),
    [
        (
            {"fleet:username": "elastic"},
            {"KIBANA_PASSWORD": "from-env"},
            "fleet:username is set in the stack config but fleet:password is not, and "
            "KIBANA_PASSWORD is ignored: credentials from the environment are not used when the "
            "stack config names any. Set fleet:password (pulumi config set --secret "
            "fleet:password ...), or remove fleet:username to use KIBANA_USERNAME/KIBANA_PASSWORD.",
        ),
        (
            {"fleet:password": "from-config"},
            {"KIBANA_USERNAME": "elastic"},
            "fleet:password is set in the stack config but fleet:username is not, and "
            "KIBANA_USERNAME is ignored: credentials from the environment are not used when the "
            "stack config names any. Set fleet:username (pulumi config set fleet:username ...), "
            "or remove fleet:password to use KIBANA_USERNAME/KIBANA_PASSWORD.",
        ),
        (
            {"fleet:username": "elastic"},
            {},
            "fleet:username is set but fleet:password is not: basic authentication needs both "
            "(pulumi config set --secret fleet:password ...).",
        ),
        (
            {},
            {"KIBANA_PASSWORD": "from-env"},
            "KIBANA_PASSWORD is set but KIBANA_USERNAME is not: basic authentication needs both.",
        ),
    ],
)
def test_half_a_basic_pair_names_where_each_half_was_looked_for(
    config: dict[str, str], env: dict[str, str], message: str
) -> None:
    refused = refusal({"fleet:endpoint": "https://k", **config}, env)
    assert refused == message
    assert "from-env" not in refused and "from-config" not in refused


# -- the CA file ------------------------------------------------------------------------------

CA_FIX = "point it at a PEM file holding the CA certificate that signed Kibana's certificate."


def test_a_pem_ca_file_is_taken_with_where_it_was_named() -> None:
    ca = str(TLS / "ca.pem")
    settings = resolve_settings(
        {"fleet:insecure": "TRUE"}, {"KIBANA_ENDPOINT": "https://k", "KIBANA_CA_CERTS": ca}
    )
    assert settings.insecure is True
    assert (settings.ca_certs, settings.ca_certs_from) == (ca, "KIBANA_CA_CERTS")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "holds no PEM certificate (no -----BEGIN CERTIFICATE----- line)"),
        (b"not a certificate\n", "holds no PEM certificate (no -----BEGIN CERTIFICATE----- line)"),
        (
            b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n",
            "holds a PEM certificate that does not parse",
        ),
        (b"-----BEGIN CERTIFICATE-----\n", "holds a PEM certificate that does not parse"),
    ],
)
def test_a_ca_file_without_a_pem_certificate_is_refused(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(content)
    assert refusal({"fleet:endpoint": "https://k", "fleet:caCerts": str(ca)}) == (
        f"fleet:caCerts names {str(ca)!r}, which {problem}: {CA_FIX}"
    )


def test_a_der_ca_file_is_refused_with_the_conversion(tmp_path: Path) -> None:
    der = tmp_path / "ca.der"
    shutil.copy(TLS / "ca.der", der)
    assert refusal({"fleet:endpoint": "https://k", "fleet:caCerts": str(der)}) == (
        f"fleet:caCerts names {str(der)!r}, which holds a DER (binary) certificate, not PEM: "
        f"convert it (openssl x509 -inform der -in {der} -out ca.pem) and point fleet:caCerts "
        "at the PEM file."
    )


def test_a_ca_directory_is_not_a_file(tmp_path: Path) -> None:
    assert refusal({"fleet:endpoint": "https://k", "fleet:caCerts": str(tmp_path)}) == (
        f"fleet:caCerts names {str(tmp_path)!r}, which is not a readable file: {CA_FIX}"
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file whatever its mode")
def test_an_unreadable_ca_file_is_refused(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    shutil.copy(TLS / "ca.pem", ca)
    ca.chmod(0)
    assert refusal({"fleet:endpoint": "https://k", "fleet:caCerts": str(ca)}) == (
        f"fleet:caCerts names {str(ca)!r}, which cannot be read (permission denied): {CA_FIX}"
    )


def test_a_ca_file_is_read_again_once_it_changed(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_bytes(b"junk\n")
    config = {"fleet:endpoint": "https://k", "fleet:caCerts": str(ca)}
    refusal(config)
    ca.write_bytes((TLS / "ca.pem").read_bytes())
    assert resolve_settings(config, {}).ca_certs == str(ca)


# -- proxies ----------------------------------------------------------------------------------

UNSHOWN = "(the value is not shown: it may hold a password)"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"HTTPS_PROXY": "ftp://PROXY-TOKEN@proxy:21"},
            "HTTPS_PROXY names a proxy with the scheme 'ftp', which requests cannot use: use "
            "http:// or https:// (socks5:// with PySocks installed), e.g. "
            "http://proxy.example.com:3128.",
        ),
        (
            {"https_proxy": "proxy:3128"},
            "https_proxy is not a proxy URL requests can use: write it with its scheme, e.g. "
            f"http://proxy.example.com:3128 {UNSHOWN}.",
        ),
        (
            {"ALL_PROXY": "http://user:PROXY-PW@proxy:99999"},
            "ALL_PROXY is not a proxy URL with a host and a port from 1 to 65535: set it to e.g. "
            f"http://proxy.example.com:3128 {UNSHOWN}.",
        ),
        (
            {"HTTPS_PROXY": "http://user:PROXY PW@proxy:3128"},
            "HTTPS_PROXY contains a space or a control character: set it to a proxy URL, e.g. "
            f"http://proxy.example.com:3128 {UNSHOWN}.",
        ),
    ],
)
def test_a_proxy_requests_cannot_use_is_refused_naming_the_variable(
    env: dict[str, str], message: str
) -> None:
    refused = refusal({"fleet:endpoint": "https://kibana.example.com", **BASIC}, env)
    assert refused == message
    assert "PROXY-TOKEN" not in refused and "PROXY-PW" not in refused


@pytest.mark.parametrize("scheme", ["socks5", "socks5h", "socks4"])
def test_a_socks_proxy_needs_pysocks(monkeypatch: pytest.MonkeyPatch, scheme: str) -> None:
    env = {"HTTPS_PROXY": f"{scheme}://proxy:1080"}
    monkeypatch.setattr(config_module, "socks_available", lambda: False)
    assert refusal({"fleet:endpoint": "https://k", **BASIC}, env) == (
        f"HTTPS_PROXY names a SOCKS proxy ({scheme}://), which needs PySocks: install it where "
        "the program runs (pip install 'requests[socks]'), or use an http:// proxy."
    )
    monkeypatch.setattr(config_module, "socks_available", lambda: True)
    settings = resolve_settings({"fleet:endpoint": "https://k", **BASIC}, env)
    assert (settings.proxy_variable, settings.proxy_address) == ("HTTPS_PROXY", "proxy:1080")


@pytest.mark.parametrize(
    ("endpoint", "env", "variable", "address"),
    [
        ("https://k", {"HTTPS_PROXY": "http://proxy:3128"}, "HTTPS_PROXY", "proxy:3128"),
        ("https://k", {"HTTPS_PROXY": "http://a:1", "https_proxy": "http://b:2"}, "https_proxy", "b:2"),
        ("https://k", {"HTTP_PROXY": "http://proxy:3128"}, None, None),
        ("http://k", {"HTTP_PROXY": "http://proxy:3128"}, "HTTP_PROXY", "proxy:3128"),
        ("http://k", {"HTTP_PROXY": "http://proxy:3128", "REQUEST_METHOD": "GET"}, None, None),
        ("https://k", {"ALL_PROXY": "proxy.corp:8080"}, "ALL_PROXY", "proxy.corp:8080"),
        ("https://k", {"all_proxy": "https://proxy"}, "all_proxy", "proxy:443"),
        ("https://k", {"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": "k"}, None, None),
        ("https://kibana.corp", {"HTTPS_PROXY": "http://p:1", "no_proxy": ".corp"}, None, None),
        ("https://kibana.corp:5601", {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "kibana.corp:5601"}, None, None),
        ("https://kibana.corp", {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "other.corp"}, "HTTPS_PROXY", "p:1"),
        ("http://10.1.2.3", {"HTTP_PROXY": "http://p:1", "NO_PROXY": "10.0.0.0/8"}, None, None),
        ("http://10.1.2.3", {"HTTP_PROXY": "http://p:1", "NO_PROXY": "*"}, None, None),
    ],
)  # fmt: skip
def test_the_proxy_in_use_is_the_one_requests_picks(
    endpoint: str, env: dict[str, str], variable: str | None, address: str | None
) -> None:
    settings = resolve_settings({"fleet:endpoint": endpoint, **BASIC}, env)
    assert (settings.proxy_variable, settings.proxy_address) == (variable, address)


def test_a_proxy_password_is_a_secret_of_the_settings() -> None:
    settings = resolve_settings(
        {"fleet:endpoint": "https://k", **BASIC}, {"HTTPS_PROXY": "http://pu:PROXY-PW@p:3128"}
    )
    assert settings.proxy_has_credentials is True
    assert "PROXY-PW" in settings.secret_values
    assert "PROXY-PW" not in scrub("tunnel to http://pu:PROXY-PW@p:3128 failed: PROXY-PW", settings)


# -- stack config keys that are not settings ------------------------------------------------


def test_misspelt_setting_keys_are_found_with_the_setting_meant() -> None:
    stack = {
        "fleet:api_key": "x",
        "fleet:Endpoint": "x",
        "kibana:endpoint": "x",
        "fleet:spaceID": "x",
        "fleet:url": "x",
        "fleet:apiKey": "x",
        "fleet:somethingElse": "x",
    }
    found = misspelled_config_keys(stack.get)
    assert sorted(found) == [
        ("fleet:Endpoint", "fleet:endpoint"),
        ("fleet:api_key", "fleet:apiKey"),
        ("fleet:spaceID", "fleet:spaceId"),
        ("fleet:url", "fleet:endpoint"),
        ("kibana:endpoint", "fleet:endpoint"),
    ]


# -- text from answers ------------------------------------------------------------------------


def test_answer_text_is_scrubbed_cut_to_one_line_and_bounded() -> None:
    settings = resolve_settings(
        {"fleet:endpoint": "https://k", "fleet:username": "u", "fleet:password": "PASS-WORD-1"}, {}
    )
    text = (
        "denied for PASS-WORD-1\nwith header Authorization: Bearer abc.DEF-123 and ApiKey "
        "Zm9vOmJhcg== and Basic dXNlcjpwYXNz; Basic authentication and Bearer realm stay"
    )
    assert one_line(text, settings) == (
        "denied for *** with header Authorization: Bearer *** and ApiKey *** and Basic ***; "
        "Basic authentication and Bearer realm stay"
    )
    long = one_line("x" * 1000, settings)
    assert len(long) == 300 and long.endswith("…")
