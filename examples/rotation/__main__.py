"""Rotation: the key is replaced once it is `rotateAfter` old.

Run `pulumi up` on a schedule (a nightly pipeline, say). Once the key is due, that run creates
the new key, updates whatever consumes the token (here: the exported secret), then revokes the
old key. The overlap needs a fresh name each time, so the key has no fixed `name`: auto-naming
gives every replacement a new one. (With a fixed name Kibana forces delete-first, a gap with no
valid token, and before 9.5 refuses the reused name altogether.)
"""

import pulumi

from fleet_provider import EnrollmentApiKey

config = pulumi.Config()

key = EnrollmentApiKey(
    "rotating",
    policy_id=config.get("policyId") or "fleet-server-policy",
    rotate_after=config.get("rotateAfter") or "30d",
)

pulumi.export("enrollment_token", key.api_key)
pulumi.export("key_id", key.id)
pulumi.export("rotates_at", key.rotates_at)
