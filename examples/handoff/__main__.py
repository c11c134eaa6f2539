"""Handing the token on: cloud-init user data and a Kubernetes Secret, with no extra provider.

Whatever enrolls the agents needs the token as text. This program renders two documents from
it with `Output.apply`, ready to be handed to another resource or tool:

- `user_data`: a cloud-init `#cloud-config` document that installs Elastic Agent and enrolls it
  into the key's policy (`elastic-agent install --url=<Fleet Server> --enrollment-token=<token>`),
  for a virtual machine's user data (`aws.ec2.Instance(user_data=...)`, or any provider's
  equivalent input);
- `kubernetes_secret`: a Kubernetes Secret manifest with the token base64-encoded under
  `data.token`, for `kubectl apply -f -` or a GitOps repository; the Elastic Agent DaemonSet
  reads it as `FLEET_ENROLLMENT_TOKEN` through `secretKeyRef: {name: fleet-enrollment, key:
  token}`.

Both exports are secrets: a value computed by `apply` from a secret is a secret, and
`Output.secret` says so explicitly (it keeps them secret even if the token were to come from a
plain value). `pulumi stack output user_data --show-secrets` prints the document. The documents
are rendered by plain functions, which the unit test runs under FleetMocks with the real token
(tests/testing/test_examples_unit.py).

Config: `fleetUrl` (the Fleet Server URL agents enroll with), `agentVersion` (the Elastic Agent
release to install, your stack's), `namespace` (the Secret's), `policyId`.
"""

import base64
import shlex

import pulumi
import yaml

from fleet_provider import EnrollmentApiKey

ARTIFACTS = "https://artifacts.elastic.co/downloads/beats/elastic-agent"
"""Where Elastic publishes the Elastic Agent packages."""
SECRET_NAME = "fleet-enrollment"
"""The name of the Kubernetes Secret holding the token."""


def cloud_init(fleet_url: str, token: str, agent_version: str) -> str:
    """A `#cloud-config` document that installs Elastic Agent and enrolls it with `token`."""
    package = f"elastic-agent-{agent_version}-linux-x86_64"
    archive = f"/tmp/{package}.tar.gz"  # noqa: S108 - a path on the machine being set up
    install = [f"/opt/{package}/elastic-agent", "install", "--non-interactive"]
    install += [f"--url={fleet_url}", f"--enrollment-token={token}"]
    document = {
        "runcmd": [
            shlex.join(["curl", "-fsSL", "-o", archive, f"{ARTIFACTS}/{package}.tar.gz"]),
            shlex.join(["tar", "-xzf", archive, "-C", "/opt"]),
            shlex.join(install),
        ]
    }
    # A wide line keeps every command on one line of the document.
    return "#cloud-config\n" + yaml.safe_dump(document, sort_keys=False, width=10_000)


def kubernetes_secret(token: str, namespace: str) -> str:
    """A Kubernetes Secret manifest (YAML) with `token` base64-encoded under `data.token`."""
    manifest = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": SECRET_NAME, "namespace": namespace},
        "type": "Opaque",
        "data": {"token": base64.b64encode(token.encode()).decode("ascii")},
    }
    return yaml.safe_dump(manifest, sort_keys=False)


config = pulumi.Config()
fleet_url = config.get("fleetUrl") or "https://fleet-server.example.com:8220"
agent_version = config.get("agentVersion") or "9.6.0"
namespace = config.get("namespace") or "elastic-agent"

key = EnrollmentApiKey("agents", policy_id=config.get("policyId") or "fleet-server-policy")

user_data: pulumi.Output[str] = pulumi.Output.secret(
    key.api_key.apply(lambda token: cloud_init(fleet_url, token, agent_version))
)
secret_manifest: pulumi.Output[str] = pulumi.Output.secret(
    key.api_key.apply(lambda token: kubernetes_secret(token, namespace))
)

pulumi.export("user_data", user_data)
pulumi.export("kubernetes_secret", secret_manifest)
pulumi.export("key_id", key.id)
