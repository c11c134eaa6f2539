"""The provider against every Kibana release line it supports, on both sides of each boundary.

The versions straddle the emulator's boundaries, including those that are choices (the README's
emulator table): 8.5 (400 errors, Boom wording, kuery errors unwrapped), 8.14 (still 400),
8.19.0 (typed errors, expiration dropped), 9.0.0 (no ``hidden``), 9.3.0 and 9.4.0 (expiration
dropped), 9.4.6 (the backported fix), 9.5.0 (force delete, expiration dropped) and 9.6.0. The
provider must not depend on where a boundary lies: it reads Kibana's answers.
"""

from __future__ import annotations

from typing import Any

import pytest

from fleet_provider.exceptions import (
    DuplicateNameError,
    PolicyNotFoundError,
    UnsupportedVersionError,
)
from fleet_provider.testing.plugin import EmulatorFactory
from tests.conftest import TEST_USERS
from tests.test_provider import POLICY, Kibana

VERSIONS = ["8.5.0", "8.14.0", "8.19.0", "9.0.0", "9.3.0", "9.4.0", "9.4.6", "9.5.0", "9.6.0"]
# Releases that honour expiration (elastic/kibana#281324), as the emulator has them.
HONOURS_EXPIRATION = {"9.4.6", "9.6.0"}
# Releases that certainly drop it: the provider refuses before creating anything.
CERTAINLY_DROPS = {"8.5.0", "8.14.0", "9.0.0"}
FORCE_DELETE = {"9.5.0", "9.6.0"}


@pytest.fixture(params=VERSIONS)
def kibana(request: pytest.FixtureRequest, fleet_emulator_factory: EmulatorFactory) -> Kibana:
    return Kibana(fleet_emulator_factory(kibana_version=request.param, users=TEST_USERS).server)


def _version(kibana: Kibana) -> str:
    return kibana.admin.kibana_version()


def _fixed(outs: dict[str, Any]) -> dict[str, Any]:
    return {k: outs[k] for k in ("policy_id", "name", "space_id", "resource_name", "auto_named")}


def test_create_read_diff_and_delete(kibana: Kibana) -> None:
    key_id, outs = kibana.up(policy_id=POLICY)
    key = kibana.admin.get_key(key_id)
    assert key is not None and key["active"] is True and key["api_key"] == outs["api_key"]
    assert key["name"] == f"{outs['name']} ({key_id})"

    read = kibana.provider.read(key_id, outs)
    assert read.id == key_id and read.outs is not None and read.inputs is not None
    assert read.outs["active"] is True and read.outs["api_key"] == outs["api_key"]
    assert kibana.provider.diff(key_id, read.outs, read.inputs).changes is False

    kibana.provider.delete(key_id, outs)
    after = kibana.admin.get_key(key_id)
    assert after is not None and after["active"] is False  # revoked, the record kept
    kibana.provider.delete(key_id, outs)  # a second delete is done at once


def test_a_key_revoked_in_kibana_reads_back_inactive_and_is_replaced(kibana: Kibana) -> None:
    key_id, outs = kibana.up(policy_id=POLICY)
    kibana.admin.revoke(key_id)
    read = kibana.provider.read(key_id, outs)
    assert read.outs is not None and read.inputs is not None and read.outs["active"] is False
    result = kibana.provider.diff(key_id, read.outs, read.inputs)
    assert (result.changes, result.replaces) == (True, ["active"])


def test_a_taken_name_is_a_duplicate_name_error(kibana: Kibana) -> None:
    # 8.5 and 8.14 answer 400, later releases 409: the provider reads the message.
    kibana.admin.create_key(POLICY, "web")
    checked = kibana.provider.check({}, {"policy_id": POLICY, "name": "web", "resource_name": "r"})
    with pytest.raises(DuplicateNameError, match="web"):
        kibana.provider.create(checked.inputs)


def test_an_unknown_policy_is_a_policy_not_found_error(kibana: Kibana) -> None:
    # 400 on 8.5 and 8.14, 404 later; either way no key exists afterwards.
    checked = kibana.provider.check({}, {"policy_id": "nope", "resource_name": "r"})
    with pytest.raises(PolicyNotFoundError, match="nope"):
        kibana.provider.create(checked.inputs)


def test_expiration_is_kept_or_refused_with_no_key_left_active(kibana: Kibana) -> None:
    version = _version(kibana)
    before = {key["id"] for key in kibana.admin.keys(POLICY)}
    checked = kibana.provider.check(
        {}, {"policy_id": POLICY, "expiration": "30d", "resource_name": "r"}
    )
    if version in HONOURS_EXPIRATION:
        created = kibana.provider.create(checked.inputs)
        assert created.outs is not None and created.outs["expire_at"]
        return
    with pytest.raises(UnsupportedVersionError, match="expiration") as caught:
        kibana.provider.create(checked.inputs)
    made = [key for key in kibana.admin.keys(POLICY) if key["id"] not in before]
    if version in CERTAINLY_DROPS:
        assert made == [] and "ignores expiration" in str(caught.value)
    else:
        # Accepted and dropped (no expire_at in the answer): the key made is revoked, or on
        # 9.5+ removed, at once.
        assert "accepted expiration but ignored it" in str(caught.value)
        assert [key["active"] for key in made] == ([] if version in FORCE_DELETE else [False])


def test_a_name_lucene_cannot_parse_is_refused_at_check(kibana: Kibana) -> None:
    # Every release's duplicate-name search fails on it (a 500 on create): check knows first.
    checked = kibana.provider.check(
        {}, {"policy_id": POLICY, "name": "web (prod", "resource_name": "r"}
    )
    assert [failure.property for failure in checked.failures] == ["name"]
    response = kibana.admin.post(
        "/api/fleet/enrollment_api_keys", json={"policy_id": POLICY, "name": "web (prod"}
    )
    assert response.status_code == 500


def test_invalid_expiration_is_refused_at_check_everywhere(kibana: Kibana) -> None:
    # 0d passes the backported validator (9.4.6) but makes a key that expires at once.
    checked = kibana.provider.check(
        {}, {"policy_id": POLICY, "expiration": "0d", "resource_name": "r"}
    )
    assert [failure.property for failure in checked.failures] == ["expiration"]
