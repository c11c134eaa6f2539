"""GitOps: one program, per-environment stack files listing policies and their keys.

`Pulumi.<stack>.yaml` holds, under `fleet-gitops:policies`, a list of agent policies, each with
the keys it should have. Every key's token is exported as a secret in `tokens` (a map from the
key's logical name to its token), so a downstream stack can read it:

    tokens = pulumi.StackReference("org/fleet-gitops/prod").get_output("tokens")
    linux_token = tokens.apply(lambda t: t["prod-linux-0"])   # stays a secret
"""

from typing import Any

import pulumi

from fleet_provider import EnrollmentApiKey

config = pulumi.Config()
policies: list[dict[str, Any]] = config.require_object("policies")

tokens: dict[str, pulumi.Output[str]] = {}
key_ids: dict[str, pulumi.Output[str]] = {}
for policy in policies:
    policy_id = policy["policy_id"]
    for index, spec in enumerate(policy.get("keys", [])):
        # A named key is named after its name; an unnamed one after its policy and position.
        logical = spec.get("name") or f"{policy_id}-{index}"
        key = EnrollmentApiKey(
            logical,
            policy_id=policy_id,
            name=spec.get("name"),
            expiration=spec.get("expiration"),
            rotate_after=spec.get("rotate_after"),
            space_id=spec.get("space_id"),
        )
        tokens[logical] = key.api_key
        key_ids[logical] = key.id

pulumi.export("tokens", pulumi.Output.secret(tokens))
pulumi.export("key_ids", key_ids)
