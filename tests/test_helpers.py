"""Pure helpers: names, versions, backoff."""

from __future__ import annotations

import pytest

from fleet_provider.client import space_prefix
from fleet_provider.model import holds_name, kuery_quote, user_name
from fleet_provider.retry import RetryPolicy, backoff_delay
from fleet_provider.versions import KibanaVersion

UUID = "0b9f0b1c-5a43-4d11-9a2e-3f1e0c4d9a77"


def test_user_name_strips_kibanas_id_suffix() -> None:
    assert user_name(f"linux-hosts ({UUID})", UUID) == "linux-hosts"
    assert user_name(f"a (b) ({UUID})", UUID) == "a (b)"
    assert user_name(UUID, UUID) is None


@pytest.mark.parametrize(
    ("stored", "name", "held"),
    [
        (f"web ({UUID})", "web", True),
        (f"web-prod ({UUID})", "web", False),  # a mere prefix does not count
        (f"web (x) ({UUID})", "web", False),
        ("web", "web", False),
        (None, "web", False),
    ],
)
def test_holds_name_follows_kibanas_duplicate_rule(
    stored: str | None, name: str, held: bool
) -> None:
    assert holds_name(stored, name) is held


def test_kuery_quote_escapes_quotes_and_backslashes() -> None:
    assert kuery_quote('a"b\\c') == '"a\\"b\\\\c"'


def test_kibana_version_parses_and_compares() -> None:
    assert KibanaVersion.parse("8.19.3-SNAPSHOT") == (8, 19, 3)
    assert KibanaVersion.parse("9.5.0") >= (9, 5, 0) > KibanaVersion.parse("9.4.9")
    assert str(KibanaVersion(9, 3, 1)) == "9.3.1"
    with pytest.raises(ValueError):
        KibanaVersion.parse("nine")


def test_space_prefix_is_empty_for_the_default_space() -> None:
    assert space_prefix(None) == ""
    assert space_prefix("default") == ""
    assert space_prefix("ops") == "/s/ops"


def test_backoff_grows_is_capped_and_jittered() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0)
    assert [backoff_delay(n, policy, rand=lambda: 1.0) for n in (1, 2, 3, 4, 5)] == [
        0.5,
        1.0,
        2.0,
        4.0,
        4.0,
    ]
    assert backoff_delay(3, policy, rand=lambda: 0.0) == 1.0


def test_retry_after_wins_but_is_capped() -> None:
    policy = RetryPolicy(max_retry_after=10.0)
    assert backoff_delay(1, policy, retry_after=3.0) == 3.0
    assert backoff_delay(1, policy, retry_after=3600.0) == 10.0
