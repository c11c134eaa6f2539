"""One lifecycle through the real dynamic-provider host on every supported Kibana release line."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.e2e.conftest import POLICY, Stack
from tests.e2e.test_lifecycle import one_key
from tests.test_kibana_versions import VERSIONS

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("version", VERSIONS)
def test_up_refresh_replace_and_destroy(make_stack: Callable[..., Stack], version: str) -> None:
    stack = make_stack(version)
    created = stack.engine.up(one_key(), stack.config())
    key_id = created.exports["key_id"]
    key = stack.kibana.get_key(key_id)
    assert key is not None and key["active"] is True
    assert created.outputs["linux-hosts"]["api_key"] == key["api_key"]
    assert "enrollment_token" in created.secret_exports

    stack.kibana.revoke(key_id)
    assert stack.engine.refresh().outputs["linux-hosts"]["active"] is False
    replaced = stack.engine.up(one_key(), stack.config())
    assert replaced.ops("linux-hosts") == ["create-replacement", "replace", "delete-replaced"]
    new_id = replaced.exports["key_id"]
    assert stack.kibana.get_key(new_id)["active"] is True

    stack.engine.destroy()
    assert stack.engine.state == {}
    assert stack.kibana.get_key(new_id)["active"] is False
    # Newest first: the stack's two keys revoked, the policy's Default key untouched.
    assert [key["active"] for key in stack.kibana.keys(POLICY)] == [False, False, True]
