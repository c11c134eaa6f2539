"""GitOps: one program, per-environment stack files listing agent policies and their keys.

`Pulumi.<stack>.yaml` holds, under `fleet-gitops:policies`, a list of agent policies, each with
the keys it should have:

    fleet-gitops:policies:
      - policy_id: prod-linux
        keys:
          - id: hosts              # auto-named in Kibana (prod-linux-hosts-<8 hex>)
            rotate_after: 30d
          - name: prod-linux-ci    # a fixed Kibana name; it identifies the key, as no id is set

**What identifies a key** is its policy and its `id`, or its `name` when it has no `id`: one of
the two is required, and unique on its policy. The key's resource is named
`<policy_id>/<id or name>`, and so is its entry in the exports, so a key's place in the lists
does not matter: reordering policies or keys changes nothing. Changing an `id` replaces the key
(it is another resource); so does changing `name` or `policy_id`, as for any key. Give keys that
rotate an `id` and no `name`: rotation overlaps old and new tokens only for an auto-named key
(examples/rotation).

**The agent policies must exist**: they are managed elsewhere (in Fleet, or by another stack).
Before declaring any key, the program checks its config and asks Kibana for each policy's keys:
a misspelt field, a key without `id` or `name`, a duplicate, a policy with no active key in its
space (Kibana gives every new policy a `Default` key), or a Kibana that cannot be asked fails
`pulumi preview` with one line, naming the stack file. (The provider's own check reports an
unknown policy only as a warning, since a program may create the policy in the same
deployment; this one never does.)

Every token is exported as a secret in `tokens` (a map from `<policy_id>/<id or name>` to the
token) and every key id in `key_ids`, so a downstream stack can read them (examples/downstream):

    tokens = pulumi.StackReference("organization/fleet-gitops/prod").require_output("tokens")
    hosts_token = tokens.apply(lambda t: t["prod-linux/hosts"])   # stays a secret
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from fleet_provider import EnrollmentApiKey, FleetError, get_enrollment_api_keys

KEY_FIELDS = ("id", "name", "expiration", "rotate_after", "space_id")
"""The fields a key may have in the stack file."""


@dataclass(frozen=True)
class KeySpec:
    """One key of the stack file: its policy, what identifies it, and its inputs."""

    policy_id: str
    ident: str
    name: str | None
    expiration: str | None
    rotate_after: str | None
    space_id: str | None

    @property
    def logical(self) -> str:
        """The resource name and export key: ``<policy_id>/<id or name>``."""
        return f"{self.policy_id}/{self.ident}"


def parse(policies: Any, where: str) -> list[KeySpec]:
    """The keys the config declares; a RunError naming ``where`` for anything malformed."""
    if not isinstance(policies, list):
        raise pulumi.RunError(f"{where}: fleet-gitops:policies must be a list of agent policies")
    specs: list[KeySpec] = []
    seen: set[str] = set()
    for p, policy in enumerate(policies):
        at = f"{where}: fleet-gitops:policies[{p}]"
        if not isinstance(policy, Mapping) or not _text(policy.get("policy_id")):
            raise pulumi.RunError(f"{at} needs a policy_id")
        keys = policy.get("keys") or []
        if not isinstance(keys, list):
            raise pulumi.RunError(f"{at}.keys must be a list")
        for k, key in enumerate(keys):
            key_at = f"{at}.keys[{k}]"
            if not isinstance(key, Mapping):
                raise pulumi.RunError(f"{key_at} must be a mapping of {', '.join(KEY_FIELDS)}")
            unknown = sorted(set(key) - set(KEY_FIELDS))
            if unknown:
                raise pulumi.RunError(
                    f"{key_at} has unknown field {unknown[0]!r}; a key has {', '.join(KEY_FIELDS)}"
                )
            ident = key.get("id") or key.get("name")
            if not _text(ident):
                raise pulumi.RunError(
                    f"{key_at} needs an id (or a name): it identifies the key in the stack"
                )
            spec = KeySpec(
                policy_id=str(policy["policy_id"]),
                ident=str(ident),
                name=key.get("name"),
                expiration=key.get("expiration"),
                rotate_after=key.get("rotate_after"),
                space_id=key.get("space_id"),
            )
            if spec.logical in seen:
                raise pulumi.RunError(
                    f"{key_at}: the key {spec.logical!r} is declared twice; give each key on a "
                    "policy its own id (or name)"
                )
            seen.add(spec.logical)
            specs.append(spec)
    return specs


def check_policies_exist(specs: list[KeySpec], where: str) -> None:
    """A RunError for the first policy with no active key in its space (so no such policy there).

    Also when Kibana cannot be asked: the check fails rather than let a key reach a policy
    nobody checked.
    """
    asked: set[tuple[str, str | None]] = set()
    for spec in specs:
        if (spec.policy_id, spec.space_id) in asked:
            continue
        asked.add((spec.policy_id, spec.space_id))
        try:
            found = get_enrollment_api_keys(policy_id=spec.policy_id, space_id=spec.space_id)
        except FleetError as error:  # Kibana unreachable, credentials refused, ...
            raise pulumi.RunError(
                f"{where}: could not check that agent policy {spec.policy_id!r} exists: {error}"
            ) from error
        if not found:
            space = spec.space_id or pulumi.Config("fleet").get("spaceId") or "default"
            raise pulumi.RunError(
                f"{where}: agent policy {spec.policy_id!r} does not exist in Kibana space "
                f"{space!r} (it has no active enrollment key): create it in Fleet first, or "
                "correct its policy_id or the key's space_id"
            )


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


stack_file = f"Pulumi.{pulumi.get_stack()}.yaml"
specs = parse(pulumi.Config().require_object("policies"), stack_file)
check_policies_exist(specs, stack_file)

tokens: dict[str, pulumi.Output[str]] = {}
key_ids: dict[str, pulumi.Output[str]] = {}
for spec in specs:
    key = EnrollmentApiKey(
        spec.logical,
        policy_id=spec.policy_id,
        name=spec.name,
        expiration=spec.expiration,
        rotate_after=spec.rotate_after,
        space_id=spec.space_id,
    )
    tokens[spec.logical] = key.api_key
    key_ids[spec.logical] = key.id

pulumi.export("tokens", pulumi.Output.secret(tokens))
pulumi.export("key_ids", key_ids)
