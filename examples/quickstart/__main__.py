"""Quickstart: one enrollment API key on an agent policy, its token exported as a secret.

Connection settings come from the stack config (fleet:endpoint, fleet:apiKey, ...) or from the
KIBANA_* environment variables, e.g.:

    export KIBANA_ENDPOINT=http://127.0.0.1:5601 KIBANA_USERNAME=elastic KIBANA_PASSWORD=changeme
    pulumi up
"""

import pulumi

from fleet_provider import EnrollmentApiKey

config = pulumi.Config()
policy_id = config.get("policyId") or "fleet-server-policy"

# No name: the provider picks "linux-hosts-<random>", so a replacement never collides with
# the key it replaces (Kibana refuses a name reused on a policy, even after revocation).
key = EnrollmentApiKey("linux-hosts", policy_id=policy_id, expiration="90d")

pulumi.export("enrollment_token", key.api_key)  # a secret: shown as [secret]
pulumi.export("key_id", key.id)
pulumi.export("key_name", key.name)
pulumi.export("expire_at", key.expire_at)
