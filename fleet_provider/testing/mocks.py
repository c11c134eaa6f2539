"""FleetMocks: ``pulumi.runtime.Mocks`` that run the real EnrollmentApiKey provider.

An ``EnrollmentApiKey`` registered under them goes through the provider's own ``check`` and
``create`` against a :class:`~fleet_provider.testing.FleetEmulator`, so names, validation
errors and tokens are the real ones; every other resource goes to the user's own Mocks (or has
its inputs echoed), and the look-up tokens are answered from the emulator.

How an EnrollmentApiKey is recognised: a dynamic resource registers with a type token under
``pulumi-python:dynamic`` and its provider pickled (dill, base64) in the ``__provider`` input,
which the dynamic-provider host unpickles to find the provider (``sdk/python/lib/pulumi/
dynamic/__main__.py`` ``get_provider``). Here the same pickle is loaded the same way, and the
resource is ours when it yields an :class:`EnrollmentApiKeyProvider`: the type token a
subclass or a future release registers under does not matter, and another package's dynamic
resource is never mistaken for one.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import dill
import pulumi
from pulumi import dynamic
from pulumi.dynamic.config import Config
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockCallArgs, MockResourceArgs, Mocks

from fleet_provider import preflight
from fleet_provider.client import forget_kibana_versions
from fleet_provider.config import DEFAULT_SPACE_ID, resolve_settings
from fleet_provider.enrollment_api_key import EnrollmentApiKeyProvider
from fleet_provider.lookups import GET_TOKEN, LIST_TOKEN, get_item, list_items
from fleet_provider.model import SECRET_OUTPUTS
from fleet_provider.testing.emulator import FleetEmulator

PROVIDER_KEY = "__provider"
"""The input a dynamic resource carries its pickled provider in (pulumi/dynamic/dynamic.py)."""
DYNAMIC_PREFIX = "pulumi-python:dynamic"
"""How every dynamic resource's type token begins (pulumi/dynamic/dynamic.py Resource)."""


class FleetMocksError(Exception):
    """A check or create that failed under FleetMocks; the message is the line the CLI shows."""


class FleetMocks(Mocks):
    """Mocks for unit tests: keys are really created in the emulator, the rest is mocked."""

    def __init__(
        self,
        emulator: FleetEmulator,
        fallback: Mocks | None = None,
        *,
        config: Mapping[str, str] | None = None,
    ) -> None:
        """Run keys against ``emulator`` (``config`` over its ``fleet:*``); others to ``fallback``.

        Like a new ``pulumi up``, which starts a new provider host, nothing the provider cached
        about Kibana in this process is kept.
        """
        self.emulator = emulator
        self.fallback = fallback
        self.config = {**emulator.config, **(config or {})}
        self._providers: dict[str, EnrollmentApiKeyProvider] = {}
        preflight.forget()
        forget_kibana_versions()

    # -- resources ------------------------------------------------------------------------

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        """Check and create an EnrollmentApiKey for real; others go to the fallback, or echo."""
        provider = self._provider_of(args)
        if provider is None:
            if self.fallback is not None:
                return self.fallback.new_resource(args)
            return f"{args.name}_id", dict(args.inputs)
        news, secret = _plain(args.inputs)
        if args.resource_id:  # EnrollmentApiKey.get(...): a read, as `pulumi refresh` does
            read = provider.read(args.resource_id, news)
            if read.id is None:
                raise FleetMocksError(f"{args.typ} resource '{args.name}': key not found")
            return read.id, _with_secrets(dict(read.outs or {}), secret)
        if news.get("auto_named") is True:
            # The resource fills in an auto-name for other mocks to see (EnrollmentApiKey
            # __init__); the real check chooses it, as in a deployment.
            news.pop("name", None)
            news.pop("auto_named", None)
        checked = provider.check({}, news)
        if checked.failures:
            raise FleetMocksError(_check_line(args, news, secret, checked.failures))
        inputs = dict(checked.inputs or {})
        inputs[PROVIDER_KEY] = news[PROVIDER_KEY]
        if pulumi.runtime.is_dry_run():
            # Preview: the engine checks but creates nothing (outputs are not known yet).
            return None, _with_secrets(inputs, secret)
        try:
            created = provider.create(inputs)
        except Exception as error:
            # The dynamic host reports a provider exception as its traceback; its last line,
            # `<module>.<Type>: <message>`, is what the CLI user reads.
            kind = type(error)
            raise FleetMocksError(f"{kind.__module__}.{kind.__qualname__}: {error}") from error
        outs = dict(created.outs or {})
        outs[PROVIDER_KEY] = inputs[PROVIDER_KEY]
        return created.id, _with_secrets(outs, secret)

    def _provider_of(self, args: MockResourceArgs) -> EnrollmentApiKeyProvider | None:
        """The configured provider of an EnrollmentApiKey; None for any other resource."""
        pickled = args.inputs.get(PROVIDER_KEY)
        if not args.typ.startswith(DYNAMIC_PREFIX) or not isinstance(pickled, str):
            return None
        provider = self._providers.get(pickled)
        if provider is None:
            try:
                loaded = dill.loads(base64.b64decode(pickled))  # noqa: S301 - the host does so
            except Exception:  # another package's provider that cannot load here
                return None
            if not isinstance(loaded, EnrollmentApiKeyProvider):
                return None
            # The host configures a provider once, as it loads it (dynamic/__main__.py).
            loaded.configure(dynamic.ConfigureRequest(Config(dict(self.config), "test")))
            provider = self._providers[pickled] = loaded
        return provider

    # -- look-ups -------------------------------------------------------------------------

    def call(self, args: MockCallArgs) -> Any:
        """Answer the look-up tokens from the emulator; other calls go to the fallback, or {}."""
        if args.token not in (LIST_TOKEN, GET_TOKEN):
            if self.fallback is not None:
                return self.fallback.call(args)
            return {}
        settings = resolve_settings(self.config, {})
        space = str(
            args.args.get("spaceId") or self.config.get("fleet:spaceId") or DEFAULT_SPACE_ID
        )
        # MockMonitor.Invoke (pulumi/runtime/mocks.py) takes a dict as the whole answer; a
        # tuple's second item must be a list of failures (None fails there).
        if args.token == GET_TOKEN:
            return get_item(settings, str(args.args["keyId"]), space)
        items = list_items(settings, args.args.get("policyId"), space)
        if not args.args.get("includeInactive"):
            items = [item for item in items if item.get("active")]
        return {"items": items}


def _plain(inputs: Mapping[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """Inputs as the engine hands them to a provider that takes no secrets, and which were secret.

    The mock monitor passes secret inputs on wrapped (pulumi/runtime/rpc.py
    ``deserialize_properties``); the engine unwraps them for the dynamic provider, which
    declares ``acceptSecrets: False`` (dynamic/__main__.py ``Configure``). The inputs of an
    EnrollmentApiKey are flat, so the top level is all there is to unwrap.
    """
    plain: dict[str, Any] = {}
    secret: set[str] = set()
    for key, value in inputs.items():
        if rpc.is_rpc_secret(value):
            secret.add(key)
        plain[key] = rpc.unwrap_rpc_secret(value)
    return plain, secret


def _with_secrets(outs: dict[str, Any], secret_inputs: set[str]) -> dict[str, Any]:
    """The state with the token, and every input that was secret, as secrets.

    The mock monitor ignores ``additional_secret_outputs`` (the engine applies them), so the
    secrets are marked here with ``Output.secret``, which the monitor serialises as secrets.
    """
    for key in {*SECRET_OUTPUTS, *secret_inputs}:
        if outs.get(key) is not None:
            outs[key] = pulumi.Output.secret(outs[key])
    return outs


def _check_line(
    args: MockResourceArgs,
    news: Mapping[str, Any],
    secret: set[str],
    failures: list[dynamic.CheckFailure],
) -> str:
    """The CLI's line for the last check failure (the engine's diag wording), secrets hidden."""
    failure = failures[-1]
    if not failure.property:
        return f"{args.typ} resource '{args.name}' has a problem: {failure.reason}"
    value = "[secret]" if failure.property in secret else news.get(failure.property)
    return (
        f"{args.typ} resource '{args.name}': property {failure.property} value {{{value}}} "
        f"has a problem: {failure.reason}"
    )
