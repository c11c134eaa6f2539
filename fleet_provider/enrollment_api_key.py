"""EnrollmentApiKey: the Pulumi resource, its typed args, and the dynamic provider behind it.

The provider object is pickled into every resource's state by reference (module path and class
name), so this module must keep its path, and importing it must have no side effects. The
provider holds no credentials: connection settings are resolved on every call.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi import dynamic

from fleet_provider import _sdk, model, naming, operations, preflight, previous
from fleet_provider.client import FleetClient, client_for
from fleet_provider.config import (
    ALL_SETTINGS,
    DEFAULT_SPACE_ID,
    FleetSettings,
    misspelled_config_keys,
    resolve_settings,
)
from fleet_provider.exceptions import ConfigurationError, InputError
from fleet_provider.inputs import check_inputs

RESOURCE_MODULE = "fleet"
RESOURCE_NAME = "EnrollmentApiKey"
AUTONAMING_CONFIG = "pulumi:autonaming"

_warned_keys: set[str] = set()


class EnrollmentApiKeyProvider(dynamic.ResourceProvider):
    """The dynamic provider: create, read, diff and revoke Fleet enrollment API keys."""

    # The pickled provider holds no state at all (see __getstate__), so it need not be a
    # secret; a test decodes the pickle and checks it holds no credential.
    serialize_as_secret_always = False

    def __init__(self) -> None:
        self._stack_config: dict[str, str] = {}

    def __getstate__(self) -> dict[str, Any]:
        # Never pickle the stack config: credentials must not land in Pulumi state.
        return {}

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        self._stack_config = {}

    def configure(self, req: dynamic.ConfigureRequest) -> None:
        """Keep the stack's ``fleet:*`` config (values arrive as strings) for later calls.

        Nothing is validated here: the Python host calls configure while it loads the provider
        for the first call of a command (pulumi/dynamic/__main__.py get_provider), so a
        ConfigurationError is reported by that call, ``check`` for preview and up, ``read`` and
        ``delete`` for refresh and destroy. Misspelt setting keys are warned about.
        """
        config: dict[str, str] = {}
        # The engine sends a dynamic provider the whole stack config (target.go
        # GetPackageConfig): the fleet:* settings and the project-wide pulumi:autonaming.
        for key in (*(source.config_key for source in ALL_SETTINGS), AUTONAMING_CONFIG):
            value = req.config.get(key)
            if value is not None:
                config[key] = str(value)
        self._stack_config = config
        for key, setting in misspelled_config_keys(req.config.get):
            if key not in _warned_keys:
                _warned_keys.add(key)
                print(
                    f"warning: the stack config key {key} is not a fleet-provider setting and is "
                    f"ignored: did you mean {setting}?",
                    file=sys.stderr,
                )

    def settings(self) -> FleetSettings:
        """Connection settings now: stack config, then the ``KIBANA_*`` environment."""
        return resolve_settings(self._stack_config, os.environ)

    def client(self) -> FleetClient:
        """A client for the current settings (cached while the settings stay the same)."""
        return client_for(self.settings())

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> dynamic.CheckResult:
        """Validate and normalise inputs, choosing an auto-name once; check the settings.

        A bad setting is a check failure (the CLI shows it as one line; an exception raised
        here would reach the user as a traceback). For a key that may be created, Kibana is
        asked once per process whether it accepts the credentials and knows the policy
        (preflight.py); no other HTTP call.
        """
        default_space = self._stack_config.get("fleet:spaceId") or DEFAULT_SPACE_ID
        autonaming = self._stack_config.get(AUTONAMING_CONFIG)
        inputs, failures = check_inputs(_olds or {}, news, default_space, autonaming)
        try:
            settings = self.settings()
        except ConfigurationError as error:
            failures.append(dynamic.CheckFailure("", str(error)))
            return dynamic.CheckResult(inputs, failures)
        policy_id, space_id = inputs.get("policy_id"), inputs.get("space_id")
        if (
            not failures
            and isinstance(policy_id, str)
            and isinstance(space_id, str)
            and _may_create(_olds or {}, policy_id, space_id)
        ):
            failure = preflight.check_policy(client_for(settings), policy_id, space_id)
            if failure is not None:
                failures.append(dynamic.CheckFailure("", failure))
        return dynamic.CheckResult(inputs, failures)

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        """POST the key (or adopt one) and return every output; the id is Kibana's key id."""
        item = operations.create_key(self.client(), props)
        outs = model.outputs(props, item)
        if props.get("keep_previous"):
            return dynamic.CreateResult(previous.resource_id(), outs)
        return dynamic.CreateResult(item["id"], outs)

    def read(self, id_: str, props: dict[str, Any]) -> dynamic.ReadResult:
        """GET the key: 404 means gone; a revoked or an expired key reads back as such.

        Revoked: ``active: false``; past its ``expire_at``: ``expired: true``.
        """
        client = self.client()
        item = operations.read_key(
            client, previous.current_key_id(id_, props), model.space_of(props)
        )
        if item is None:
            if props.get("keep_previous") and props.get("previous_key_id"):
                # The previous key may still be active: keep the resource, so that the next
                # up rotates (the current key reads as revoked) and destroy revokes it.
                outs = {k: v for k, v in props.items() if k != "__provider"}
                outs["active"] = False
                previous.read_previous(client, outs)
                return _sdk.read_result(id_, outs, model.inputs_of(outs))
            return dynamic.ReadResult(None, {})
        outs = model.outputs(props, item)
        for key in previous.PREVIOUS_OUTPUTS:
            if props.get(key):
                outs[key] = props[key]
        previous.read_previous(client, outs)
        return _sdk.read_result(id_, outs, model.inputs_of(outs))

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        """A changed key input, a revoked or expired key, or a due rotation replaces; else update.

        An expired key is replaced only when its ``expiration`` is a duration (a renewal): with a
        timestamp the new key would be expired too (model.renewal_due).
        """
        naming.remember_held_name(olds, news)  # the replacement's check must move past it
        reasons = model.replacement_reasons(id_, olds, news)
        if previous.rotates_in_place(olds, news, reasons):
            return dynamic.DiffResult(changes=True, replaces=[])  # update rotates (previous.py)
        if reasons == ["space_id"] and operations.lives_in_space(self.client(), id_, news):
            return dynamic.DiffResult(changes=True, replaces=[])  # Kibana moved the key there
        if not reasons:
            return dynamic.DiffResult(changes=bool(model.updated_inputs(olds, news)), replaces=[])
        delete_first = operations.delete_first(self.client(), olds, news, reasons)
        return dynamic.DiffResult(
            changes=True, replaces=reasons, delete_before_replace=delete_first
        )

    def update(
        self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]
    ) -> dynamic.UpdateResult:
        """Take new rotate_after/adopt_existing into the state (no Kibana call); full outputs.

        With keep_previous, a rotation happens here instead of a replacement (previous.py).
        """
        reasons = model.replacement_reasons(_id, _olds, _news)
        if previous.rotates_in_place(_olds, _news, reasons):
            return dynamic.UpdateResult(previous.rotate(self.client(), _olds, _news))
        return dynamic.UpdateResult(model.updated_outputs(_olds, _news))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Revoke the key (and the previous one); done when Kibana reports them gone or revoked."""
        previous.revoke_all(self.client(), id_, props)


_PROVIDER = EnrollmentApiKeyProvider()


def _may_create(olds: Mapping[str, Any], policy_id: str, space_id: str) -> bool:
    """Whether this check may precede a create on the policy: a new key, or a new policy/space.

    A check with olds of the same policy and space is for a key that exists; it creates nothing
    unless a diff asks for a replacement, and the engine then checks again with no olds
    (pulumi/pulumi pkg/resource/deploy/step_generator.go).
    """
    return not olds or olds.get("policy_id") != policy_id or olds.get("space_id") != space_id


def stack_identity(resource_name: str, opts: pulumi.ResourceOptions | None) -> str:
    """What identifies the resource in its stack, as a digest: auto-names derive from it.

    Project, stack, type, the parent's type and name, and the resource name: what its URN is
    made of (a dynamic provider's check is never told the URN).
    """
    parent = opts.parent if opts is not None else None
    parent_parts = (
        (str(getattr(parent, "_type", "")), str(getattr(parent, "_name", "")))
        if parent is not None
        else ("", "")
    )
    return naming.identity_of(
        pulumi.get_project(), pulumi.get_stack(), model.RESOURCE_TYPE, *parent_parts, resource_name
    )


@dataclass
class EnrollmentApiKeyArgs:
    """The inputs of an EnrollmentApiKey; each accepts a plain value or a ``pulumi.Input``."""

    policy_id: pulumi.Input[str]
    """The agent policy the key enrolls agents into."""
    name: pulumi.Input[str] | None = None
    """The key's name, unique on the policy; by default the resource name plus a suffix."""
    expiration: pulumi.Input[str] | None = None
    """When the token expires: a duration (``90d``) or a future ISO-8601 timestamp."""
    space_id: pulumi.Input[str] | None = None
    """The Kibana space; by default ``fleet:spaceId``, else Kibana's default space."""
    adopt_key_id: pulumi.Input[str] | None = None
    """Take over this existing key (active, on ``policy_id``) instead of creating one."""
    adopt_existing: pulumi.Input[bool] | None = None
    """With ``name``: take over the active key of that name on the policy, else create it."""
    rotate_after: pulumi.Input[str] | None = None
    """Replace the key once it is this old (a duration such as ``30d``)."""
    keep_previous: pulumi.Input[bool] | None = None
    """Rotate in place, keeping the previous token active until the next rotation."""


class EnrollmentApiKey(dynamic.Resource, module=RESOURCE_MODULE, name=RESOURCE_NAME):
    """A Fleet enrollment API key (enrollment token); ``api_key`` is a Pulumi secret."""

    policy_id: pulumi.Output[str]
    name: pulumi.Output[str]
    expiration: pulumi.Output[str | None]
    space_id: pulumi.Output[str]
    auto_named: pulumi.Output[bool]
    api_key: pulumi.Output[str]
    api_key_id: pulumi.Output[str]
    active: pulumi.Output[bool]
    created_at: pulumi.Output[str]
    hidden: pulumi.Output[bool | None]
    expire_at: pulumi.Output[str | None]
    full_name: pulumi.Output[str]
    adopt_key_id: pulumi.Output[str | None]
    adopt_existing: pulumi.Output[bool | None]
    rotate_after: pulumi.Output[str | None]
    rotates_at: pulumi.Output[str | None]
    expired: pulumi.Output[bool]
    keep_previous: pulumi.Output[bool | None]
    key_id: pulumi.Output[str]
    previous_key_id: pulumi.Output[str | None]
    previous_api_key: pulumi.Output[str | None]

    def __init__(
        self,
        resource_name: str,
        args: EnrollmentApiKeyArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
        *,
        policy_id: pulumi.Input[str] | None = None,
        name: pulumi.Input[str] | None = None,
        expiration: pulumi.Input[str] | None = None,
        space_id: pulumi.Input[str] | None = None,
        adopt_key_id: pulumi.Input[str] | None = None,
        adopt_existing: pulumi.Input[bool] | None = None,
        rotate_after: pulumi.Input[str] | None = None,
        keep_previous: pulumi.Input[bool] | None = None,
    ) -> None:
        keywords: dict[str, Any] = {
            "policy_id": policy_id,
            "name": name,
            "expiration": expiration,
            "space_id": space_id,
            "adopt_key_id": adopt_key_id,
            "adopt_existing": adopt_existing,
            "rotate_after": rotate_after,
            "keep_previous": keep_previous,
        }
        args = _args_of(resource_name, args, opts, keywords)
        props: dict[str, Any] = {key: None for key in model.OUTPUT_KEYS}
        props.update(
            policy_id=args.policy_id,
            name=args.name,
            expiration=args.expiration,
            space_id=args.space_id,
            adopt_key_id=args.adopt_key_id,
            adopt_existing=args.adopt_existing,
            rotate_after=args.rotate_after,
            keep_previous=args.keep_previous,
            resource_name=resource_name,
            identity=stack_identity(resource_name, opts),
        )
        if args.name is None and args.adopt_key_id is None and _sdk.active_mocks() is not None:
            # Under pulumi.runtime.set_mocks no provider check runs, so the mocks would see no
            # name: the auto-name check would choose (naming.auto_name) is filled in here;
            # fleet_provider.testing.FleetMocks drops it and lets the real check choose.
            props.update(name=naming.auto_name({}, props), auto_named=True)
        secret_opts = pulumi.ResourceOptions(additional_secret_outputs=list(model.SECRET_OUTPUTS))
        merged = pulumi.ResourceOptions.merge(opts or pulumi.ResourceOptions(), secret_opts)
        _sdk.register(self, self._resource_type_name, resource_name, _PROVIDER, props, merged)


def _shown(value: Any) -> str:
    """A value as a call would be written: plain values as literals, anything else as ``...``."""
    return repr(value) if isinstance(value, (str, bool, int, float)) else "..."


def _call(resource_name: str, inputs: Mapping[str, Any], *, with_args: bool) -> str:
    shown = ", ".join(f"{k}={_shown(v)}" for k, v in inputs.items() if v is not None)
    if with_args:
        return f"EnrollmentApiKey({resource_name!r}, EnrollmentApiKeyArgs({shown}))"
    return f"EnrollmentApiKey({resource_name!r}, {shown})"


def _args_of(
    resource_name: str,
    args: Any,
    opts: Any,
    keywords: Mapping[str, Any],
) -> EnrollmentApiKeyArgs:
    """The one set of inputs the constructor was given; InputError showing the right call.

    Without this, a positional policy id fails with an AttributeError deep in the constructor
    and keywords next to an args object are silently dropped.
    """
    given = {k: v for k, v in keywords.items() if v is not None}
    if opts is not None and not isinstance(opts, pulumi.ResourceOptions):
        raise InputError(
            "opts",
            f"must be a pulumi.ResourceOptions, not {type(opts).__name__}: write "
            f"{_call(resource_name, given or {'policy_id': '...'}, with_args=False)[:-1]}, "
            "opts=pulumi.ResourceOptions(...))",
        )
    if isinstance(args, pulumi.ResourceOptions):
        raise InputError(
            "opts",
            "must be given by keyword (the second positional argument is an "
            "EnrollmentApiKeyArgs): write "
            f"{_call(resource_name, given or {'policy_id': '...'}, with_args=False)[:-1]}, "
            "opts=pulumi.ResourceOptions(...))",
        )
    if args is not None and not isinstance(args, EnrollmentApiKeyArgs):
        if isinstance(args, Mapping):
            fields = {k: args.get(k) for k in keywords if args.get(k) is not None}
            raise InputError(
                "args",
                f"must be an EnrollmentApiKeyArgs, not a {type(args).__name__}: write "
                f"{_call(resource_name, fields, with_args=True)}",
            )
        # EnrollmentApiKey("x", "p1"): the policy id given where args go.
        raise InputError(
            "policy_id",
            "must be given by keyword (the second positional argument is an "
            "EnrollmentApiKeyArgs): write "
            f"{_call(resource_name, {**given, 'policy_id': args}, with_args=False)}",
        )
    if args is None:
        if keywords.get("policy_id") is None:
            raise InputError(
                "policy_id",
                f"is required: EnrollmentApiKey {resource_name!r} needs the id of the agent "
                "policy its key enrolls agents into",
            )
        return EnrollmentApiKeyArgs(**keywords)
    if given:
        in_args = {f.name: getattr(args, f.name) for f in dataclasses.fields(args)}
        in_args = {k: v for k, v in in_args.items() if v is not None}
        twice = [k for k in given if k in in_args]
        if twice:
            raise InputError(
                twice[0],
                "is given twice, in args and as a keyword: keep one, e.g. "
                f"{_call(resource_name, in_args, with_args=True)}",
            )
        merged = {**in_args, **given}
        raise InputError(
            next(iter(given)),
            "is given as a keyword next to args, and a keyword next to args would be ignored: "
            f"give every input in args, {_call(resource_name, merged, with_args=True)}, or "
            f"every input as a keyword, {_call(resource_name, merged, with_args=False)}",
        )
    return args
