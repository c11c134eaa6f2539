"""Adopt the Default key every agent policy already has.

Pulumi cannot `import` a dynamic resource, so adoption is an input: `adopt_existing=True` with
`name="Default"` takes over the active key of that name on the policy (creating it only if there
is none). `retain_on_delete` keeps the key in Kibana when the resource leaves the stack: agents
already enrolled with it keep working. A key made by hand can be adopted by id instead, with
`adopt_key_id="<key id>"`.
"""

import pulumi

from fleet_provider import EnrollmentApiKey

config = pulumi.Config()

default_key = EnrollmentApiKey(
    "default",
    policy_id=config.get("policyId") or "fleet-server-policy",
    name="Default",
    adopt_existing=True,
    opts=pulumi.ResourceOptions(retain_on_delete=True),
)

pulumi.export("enrollment_token", default_key.api_key)
pulumi.export("key_id", default_key.id)
