"""Space isolation with Fleet space awareness on (new 9.1+ clusters)."""

from __future__ import annotations

import uuid

from tests.conformance.target import KEYS, Target, assert_error


def test_key_of_another_space_is_404_in_namespace(target: Target, space: str) -> None:
    policy = target.create_policy(space_id=space)
    [key] = target.keys(policy, space_id=space)
    response = target.get(f"{KEYS}/{key['id']}")
    assert_error(response, 404, f"Enrollment api key {key['id']} not found in namespace")


def test_key_is_readable_from_its_own_space(target: Target, space: str) -> None:
    policy = target.create_policy(space_id=space)
    [key] = target.keys(policy, space_id=space)
    assert target.get(f"{KEYS}/{key['id']}", space_id=space).status_code == 200


def test_list_shows_only_the_space_keys(target: Target, space: str, policy_id: str) -> None:
    target.create_policy(space_id=space)
    default_ids = {item["id"] for item in target.get(KEYS).json()["items"]}
    space_items = target.get(KEYS, space_id=space).json()["items"]
    assert space_items
    assert not default_ids & {item["id"] for item in space_items}


def test_create_with_a_policy_of_another_space_is_404(target: Target, space: str) -> None:
    policy = target.create_policy(space_id=space)
    response = target.post(KEYS, json={"policy_id": policy})
    assert_error(response, 404, f'Agent policy "{policy}" not found')


def test_delete_of_a_key_from_another_space_is_404(target: Target, space: str) -> None:
    policy = target.create_policy(space_id=space)
    [key] = target.keys(policy, space_id=space)
    response = target.delete(f"{KEYS}/{key['id']}")
    assert response.status_code == 404
    assert target.get(f"{KEYS}/{key['id']}", space_id=space).json()["item"]["active"] is True


def test_unknown_space_behaves_as_an_empty_space(target: Target, policy_id: str) -> None:
    target.require("space_aware")
    response = target.get(KEYS, space_id=f"never-made-{uuid.uuid4().hex[:6]}")
    assert (response.status_code, response.json()["total"]) == (200, 0)


def test_space_prefix_for_the_default_space_sees_default_keys(
    target: Target, policy_id: str
) -> None:
    assert target.keys(policy_id, space_id="default")


def test_duplicate_name_check_ignores_spaces(target: Target, space: str) -> None:
    policy = target.create_policy(space_id=space)
    target.create_key(policy, "web", space_id=space)
    response = target.post(KEYS, json={"policy_id": policy, "name": "web"}, space_id=space)
    assert response.status_code == 409


def test_creating_an_existing_space_is_409(target: Target, space: str) -> None:
    response = target.post("/api/spaces/space", json={"id": space, "name": space})
    assert_error(response, 409, f"A space with the identifier {space} already exists.")


def test_space_id_with_capitals_is_400(target: Target) -> None:
    target.require_emulator("creates a space")
    response = target.post("/api/spaces/space", json={"id": "Bad", "name": "Bad"})
    assert_error(
        response, 400, "[request body.id]: must be lower case, a-z, 0-9, '_', and '-' are allowed"
    )
