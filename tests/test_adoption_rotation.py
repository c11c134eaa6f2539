"""Adopting existing keys and rotating keys on a schedule, provider methods against the emulator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from fleet_provider.client import FleetClient
from fleet_provider.config import resolve_settings
from fleet_provider.emulator import EmulatorServer
from fleet_provider.emulator.admin import KibanaAdmin
from fleet_provider.enrollment_api_key import EnrollmentApiKeyProvider
from fleet_provider.exceptions import InputError
from fleet_provider.model import name_kuery, policy_kuery
from fleet_provider.operations import find_active
from tests.providers import configured_provider

POLICY = "fleet-server-policy"
POSTS = "POST /api/fleet/enrollment_api_keys"


@pytest.fixture
def provider(emulator: EmulatorServer) -> EnrollmentApiKeyProvider:
    return configured_provider(emulator.url)


def check(
    provider: EnrollmentApiKeyProvider, olds: dict[str, Any] | None = None, **news: Any
) -> dict[str, Any]:
    result = provider.check(olds or {}, {"policy_id": POLICY, "resource_name": "r", **news})
    assert result.failures == [], [f.reason for f in result.failures]
    return dict(result.inputs)


def failures(provider: EnrollmentApiKeyProvider, **news: Any) -> list[tuple[str, str]]:
    result = provider.check({}, {"policy_id": POLICY, "resource_name": "r", **news})
    return [(f.property, f.reason) for f in result.failures]


def posts(admin: KibanaAdmin) -> int:
    return int(admin.request_count()["by_route"].get(POSTS, 0))


# -- adoption ---------------------------------------------------------------------------------


def test_adopt_key_id_takes_over_the_key_without_creating_one(
    provider: EnrollmentApiKeyProvider, admin: KibanaAdmin
) -> None:
    made = admin.create_key(POLICY, "by-hand")
    before = posts(admin)
    inputs = check(provider, adopt_key_id=made["id"])
    assert "name" not in inputs and inputs["auto_named"] is False
    created = provider.create(inputs)
    assert created.id == made["id"]
    assert created.outs is not None
    assert (created.outs["name"], created.outs["api_key"]) == ("by-hand", made["api_key"])
    assert posts(admin) == before
    read = provider.read(created.id, created.outs)
    assert read.inputs is not None and read.outs is not None
    again = check(provider, adopt_key_id=made["id"])
    assert provider.diff(created.id, read.outs, again).changes is False


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (
            "missing",
            "adopt_key_id 'no-such-key' is not an enrollment key in Kibana space 'default': "
            "check the id (Fleet > Enrollment tokens), and space_id if the key lives in another "
            "space",
        ),
        ("revoked", "adopt_key_id '{id}' is revoked: adopt an active key, or leave adopt_key_id out to create a new one"),
        ("other policy", "adopt_key_id '{id}' belongs to agent policy 'other-policy', not 'fleet-server-policy': set policy_id to the key's policy"),
        ("other name", "adopt_key_id '{id}' is named 'by-hand', not 'wanted': leave name out, or set it to the key's name"),
    ],
)  # fmt: skip
def test_adopt_key_id_refuses_a_key_it_cannot_take_over(
    provider: EnrollmentApiKeyProvider, admin: KibanaAdmin, setup: str, message: str
) -> None:
    key_id = "no-such-key"
    extra: dict[str, Any] = {}
    if setup == "revoked":
        key_id = admin.create_key(POLICY, "by-hand")["id"]
        admin.revoke(key_id)
    elif setup == "other policy":
        admin.create_policy("other-policy")
        key_id = admin.create_key("other-policy", "by-hand")["id"]
    elif setup == "other name":
        key_id = admin.create_key(POLICY, "by-hand")["id"]
        extra["name"] = "wanted"
    before = len(admin.keys(POLICY))
    with pytest.raises(InputError) as caught:
        provider.create(check(provider, adopt_key_id=key_id, **extra))
    assert str(caught.value) == message.replace("{id}", key_id)
    assert len(admin.keys(POLICY)) == before


def test_adopt_existing_takes_over_the_default_key_of_a_managed_policy(
    provider: EnrollmentApiKeyProvider, admin: KibanaAdmin
) -> None:
    policy = admin.create_policy("hosted", managed=True)
    default = next(k for k in admin.keys(policy) if k["name"].startswith("Default ("))
    inputs = check(provider, policy_id=policy, name="Default", adopt_existing=True)
    created = provider.create(inputs)
    assert created.id == default["id"]
    assert created.outs is not None and created.outs["hidden"] is True
    provider.delete(created.id, created.outs)  # hidden: revoked with includeHidden on 9.5
    assert admin.get_key(default["id"])["active"] is False


def test_adopt_existing_creates_the_key_when_there_is_none(
    provider: EnrollmentApiKeyProvider, admin: KibanaAdmin
) -> None:
    before = posts(admin)
    created = provider.create(check(provider, name="fresh", adopt_existing=True))
    assert posts(admin) == before + 1
    assert admin.get_key(created.id)["name"] == f"fresh ({created.id})"


@pytest.mark.parametrize(
    ("news", "expected"),
    [
        ({"adopt_existing": True}, [("name", "name is required with adopt_existing: name the key to take over, e.g. Default")]),
        ({"adopt_existing": True, "name": "Default", "adopt_key_id": "k1"}, [("adopt_existing", "adopt_existing cannot be combined with adopt_key_id: keep one of them")]),
        ({"adopt_key_id": "k1", "expiration": "30d"}, [("expiration", "expiration cannot be set on an adopted key: Kibana cannot change an existing key's expiry; remove expiration or adopt_key_id")]),
        ({"adopt_existing": "yes", "name": "Default"}, [("adopt_existing", "adopt_existing must be true or false, not the string 'yes': pass a boolean (read one from stack config with pulumi.Config().get_bool)")]),
        ({"adopt_key_id": ""}, [("adopt_key_id", "adopt_key_id must be the id of an existing enrollment key (a non-empty string)")]),
        ({"adopt_key_id": "k1", "rotate_after": "30d"}, [("rotate_after", "rotate_after cannot be combined with adopt_key_id: a rotation needs a new key; remove adopt_key_id once the key is adopted, then set rotate_after")]),
        ({"rotate_after": "monthly"}, [("rotate_after", "rotate_after 'monthly' is not a duration: use a whole number followed by d, h, m or s, e.g. 30d, 24h, 90m, 60s")]),
    ],
)  # fmt: skip
def test_check_refuses_contradictory_adoption_and_rotation_inputs(
    provider: EnrollmentApiKeyProvider, news: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    assert failures(provider, **news) == expected


def test_dropping_adopt_key_id_after_adoption_changes_nothing(
    provider: EnrollmentApiKeyProvider, admin: KibanaAdmin
) -> None:
    made = admin.create_key(POLICY, "by-hand")
    created = provider.create(check(provider, adopt_key_id=made["id"]))
    assert created.outs is not None
    kept = check(provider, name="by-hand")
    assert provider.diff(created.id, created.outs, kept).changes is False
    other = admin.create_key(POLICY, "another")
    moved = provider.diff(created.id, created.outs, check(provider, adopt_key_id=other["id"]))
    assert (moved.changes, moved.replaces) == (True, ["adopt_key_id"])


# -- rotation ---------------------------------------------------------------------------------


def test_rotates_at_is_created_at_plus_rotate_after(provider: EnrollmentApiKeyProvider) -> None:
    created = provider.create(check(provider, rotate_after="30d"))
    assert created.outs is not None
    assert created.outs["rotates_at"] > created.outs["created_at"]
    outs = dict(created.outs, created_at="2026-01-01T00:00:00.000Z")
    updated = provider.update(created.id, outs, check(provider, rotate_after="1d"))
    assert updated.outs is not None and updated.outs["rotates_at"] == "2026-01-02T00:00:00.000Z"


def test_a_key_older_than_rotate_after_is_replaced(provider: EnrollmentApiKeyProvider) -> None:
    inputs = check(provider, rotate_after="30d")
    created = provider.create(inputs)
    assert created.outs is not None
    assert provider.diff(created.id, created.outs, inputs).changes is False
    aged = dict(created.outs, created_at="2020-01-01T00:00:00.000Z")
    due = provider.diff(created.id, aged, inputs)
    assert (due.changes, due.replaces, due.delete_before_replace) == (True, ["rotates_at"], False)


def test_changing_rotate_after_updates_in_place(provider: EnrollmentApiKeyProvider) -> None:
    created = provider.create(check(provider, rotate_after="30d"))
    assert created.outs is not None
    longer = check(provider, created.outs, rotate_after="60d")
    result = provider.diff(created.id, created.outs, longer)
    assert (result.changes, result.replaces) == (True, [])
    dropped = provider.update(created.id, created.outs, check(provider, created.outs))
    assert dropped.outs is not None
    assert "rotates_at" not in dropped.outs and "rotate_after" not in dropped.outs


def test_preview_warns_about_rotating_a_fixed_name(
    provider: EnrollmentApiKeyProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    check(provider, name="fixed", rotate_after="30d")
    assert "has a fixed name and rotate_after" in capsys.readouterr().err
    check(provider, rotate_after="30d")
    assert capsys.readouterr().err == ""


class TextMappedNames(FleetClient):
    """A Kibana whose ``name`` field is analysed text: a ``name:<prefix>*`` kuery finds nothing.

    How Kibana maps ``name`` is not documented; the emulator treats it as a keyword, so the
    other mapping is produced here, the one thing this client changes.
    """

    kueries: list[str]

    def iter_enrollment_api_keys(
        self, kuery: str | None = None, space_id: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Kibana's list, except that a name-prefix kuery matches no key."""
        self.kueries.append(kuery or "")
        if kuery and " and name:" in kuery:
            return iter(())
        return super().iter_enrollment_api_keys(kuery, space_id)


def test_a_name_the_narrowed_query_misses_is_found_by_listing_the_policy(
    emulator: EmulatorServer, admin: KibanaAdmin
) -> None:
    made = admin.create_key(POLICY, "lookup-web")
    admin.create_key(POLICY, "lookup-web-2")  # a longer name holds no "lookup-web"
    client = TextMappedNames(
        resolve_settings(
            {
                "fleet:endpoint": emulator.url,
                "fleet:username": "elastic",
                "fleet:password": "changeme",
            },
            {},
        )
    )
    client.kueries = []
    found = find_active(client, POLICY, "lookup-web", "default")
    assert found is not None and found["id"] == made["id"]
    assert client.kueries == [name_kuery(POLICY, "lookup-web"), policy_kuery(POLICY)]
