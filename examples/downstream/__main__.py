"""Downstream: a stack that consumes a token another stack exports, through a StackReference.

The platform team's stack (here examples/gitops) owns the enrollment keys and exports their
tokens as a secret map, `tokens`. A consumer stack (an application team's machines, a cluster)
needs one of them but no access to Kibana: it reads the upstream stack's outputs instead.

    upstream = pulumi.StackReference("organization/fleet-gitops/dev")
    tokens = upstream.require_output("tokens")  # fails if the upstream exports no `tokens`
    token = tokens.apply(lambda t: t["dev-linux/dev-linux-hosts"])  # still a secret

`StackReference` takes the upstream's fully qualified name, `<organization>/<project>/<stack>`
(on the local backend the organization is literally `organization`), and reads the outputs of
the upstream's last `pulumi up`; an output exported as a secret there is a secret here. That
part is the small function `upstream_tokens`, so that a unit test can answer it with mocks: a
StackReference is a resource of type `pulumi:pulumi:StackReference` whose outputs are
`{"outputs": {...}}` (tests/testing/test_examples_unit.py). The rest (picking the entry, and
rendering what an Elastic Agent container enrolls with) is plain functions.

Config: `upstreamStack` (the upstream's fully qualified name), `upstreamKey` (the entry of its
`tokens`, `<policy_id>/<id or name>` in the gitops example), `fleetUrl` (the Fleet Server URL).
The export `agent_env` is the container's environment (`docker run --env-file`), a secret.

A consumer holds the token of the upstream's last run that it read. When the upstream rotates
its key (`rotate_after`), the rotating `pulumi up` revokes the old key once the new one exists,
so a consumer that has not run since still hands out the old token, which Kibana no longer
accepts for new enrollments (agents already enrolled are not affected), until its own next
`pulumi up`: run consumers right after the upstream. An upstream key declared with
`keep_previous=True` rotates in place and keeps the previous token active until the next
rotation (output `previous_api_key`), so a consumer lagging one run still enrolls agents.
"""

from collections.abc import Mapping
from typing import Any

import pulumi


def upstream_tokens(stack_name: str) -> pulumi.Output[Any]:
    """The upstream stack's `tokens` export, read through a StackReference, as a secret."""
    return pulumi.Output.secret(pulumi.StackReference(stack_name).require_output("tokens"))


def token_from(tokens: Mapping[str, str], key: str, stack_name: str) -> str:
    """The entry `key` of the upstream's `tokens`; a one-line error naming those it has."""
    if key not in tokens:
        have = ", ".join(sorted(tokens)) or "none"
        raise pulumi.RunError(
            f"stack {stack_name} exports no token {key!r} in `tokens` (it has: {have}); "
            "set fleet-downstream:upstreamKey to one of them"
        )
    return tokens[key]


def agent_env(fleet_url: str, token: str) -> str:
    """The environment an Elastic Agent container enrolls into Fleet with (an env file)."""
    return f"FLEET_ENROLL=1\nFLEET_URL={fleet_url}\nFLEET_ENROLLMENT_TOKEN={token}\n"


config = pulumi.Config()
upstream = config.require("upstreamStack")
upstream_key = config.require("upstreamKey")
fleet_url = config.get("fleetUrl") or "https://fleet-server.example.com:8220"

token = upstream_tokens(upstream).apply(lambda tokens: token_from(tokens, upstream_key, upstream))

env_file: pulumi.Output[str] = pulumi.Output.secret(token.apply(lambda t: agent_env(fleet_url, t)))

pulumi.export("agent_env", env_file)
pulumi.export("upstream", upstream)
