"""EnrollmentApiKey: the Pulumi resource, its typed args, and the dynamic provider behind it.

The provider object is pickled into every resource's state by reference (module path and class
name), so this module must keep its path, and importing it must have no side effects. The
provider holds no credentials: connection settings are resolved on every call.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi import dynamic
from pulumi.dynamic.dynamic import serialize_provider

from fleet_provider.client import FleetClient, KibanaVersion, is_transient
from fleet_provider.config import (
    ALL_SETTINGS,
    DEFAULT_SPACE_ID,
    FleetSettings,
    resolve_settings,
)
from fleet_provider.durations import (
    expiration_for_kibana,
)
from fleet_provider.exceptions import (
    ApiError,
    DuplicateNameError,
    FleetError,
    InputError,
    NotFoundError,
    TransportError,
    UnsupportedVersionError,
)
from fleet_provider.inputs import (
    INPUT_KEYS,
    OUTPUT_KEYS,
    UPDATABLE_INPUTS,
    check_inputs,
)
from fleet_provider.names import holds_name, kuery_quote, user_name
from fleet_provider.state import (
    differs,
    outputs,
    replacing_changes,
    rotates_at,
    rotation_due,
)

RESOURCE_MODULE = "fleet"
RESOURCE_NAME = "EnrollmentApiKey"

SECRET_OUTPUTS = ["api_key"]

FORCE_DELETE_SINCE = KibanaVersion(9, 5, 0)
EXPIRATION_SINCE = KibanaVersion(9, 3, 0)


class _ClientCache:
    """FleetClients by settings, so keep-alive sessions survive across calls; a small LRU."""

    def __init__(self, size: int = 8) -> None:
        self._size = size
        self._clients: OrderedDict[FleetSettings, FleetClient] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, settings: FleetSettings) -> FleetClient:
        with self._lock:
            client = self._clients.get(settings)
            if client is None:
                client = FleetClient(settings)
                self._clients[settings] = client
                while len(self._clients) > self._size:
                    self._clients.popitem(last=False)
            else:
                self._clients.move_to_end(settings)
            return client


_clients = _ClientCache()


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

    # -- configuration ---------------------------------------------------------------------

    def configure(self, req: dynamic.ConfigureRequest) -> None:
        """Keep the stack's ``fleet:*`` config (values arrive as strings) for later calls."""
        config: dict[str, str] = {}
        for source in ALL_SETTINGS:
            value = req.config.get(source.config_key)
            if value is not None:
                config[source.config_key] = str(value)
        self._stack_config = config

    def settings(self) -> FleetSettings:
        """Connection settings now: stack config, then the ``KIBANA_*`` environment."""
        return resolve_settings(self._stack_config, os.environ)

    def client(self) -> FleetClient:
        """A client for the current settings (cached while the settings stay the same)."""
        return _clients.get(self.settings())

    # -- check -----------------------------------------------------------------------------

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> dynamic.CheckResult:
        """Validate and normalise inputs, choosing an auto-name once; no HTTP call."""
        default_space = self._stack_config.get("fleet:spaceId") or DEFAULT_SPACE_ID
        inputs, failures = check_inputs(_olds or {}, news, default_space)
        return dynamic.CheckResult(inputs, failures)

    # -- create ----------------------------------------------------------------------------

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        """POST the key and return every output; the resource id is Kibana's key id."""
        client = self.client()
        policy_id = str(props["policy_id"])
        space_id = props.get("space_id") or DEFAULT_SPACE_ID
        if props.get("adopt_key_id"):
            item = self._adopt_by_id(client, str(props["adopt_key_id"]), props, space_id)
            return dynamic.CreateResult(item["id"], outputs(props, item))
        name = str(props["name"])
        if props.get("adopt_existing"):
            found = self._find_active(client, policy_id, name, space_id)
            if found is not None:
                return dynamic.CreateResult(found["id"], outputs(props, found))
        expiration = props.get("expiration")
        kibana_expiration = None
        if expiration:
            kibana_expiration = expiration_for_kibana(str(expiration))
            version = client.kibana_version()
            # Kibana before 9.3 accepts `expiration` and silently ignores it: the token
            # would never expire, so refuse rather than create it.
            if version < EXPIRATION_SINCE:
                raise UnsupportedVersionError(
                    f"Kibana {version} ignores expiration (it is honoured from 9.3): remove "
                    "expiration, or upgrade Kibana, to create this key"
                ) from None
        item = self._create_once(client, policy_id, name, kibana_expiration, space_id)
        return dynamic.CreateResult(item["id"], outputs(props, item))

    def _create_once(
        self,
        client: FleetClient,
        policy_id: str,
        name: str,
        expiration: str | None,
        space_id: str,
    ) -> dict[str, Any]:
        """Create the key exactly once, even when answers are lost.

        A POST is never retried blind: a connection dropped after Kibana stored the key looks
        the same as one dropped before. The name is unique on the policy (auto-naming makes
        sure every create has one), so after an uncertain failure the key is looked up by
        name and adopted if it is there, and created again only if it is not.
        """
        uncertain = False
        attempt = 0
        while True:
            attempt += 1
            try:
                return client.create_enrollment_api_key(policy_id, name, expiration, space_id)
            except DuplicateNameError:
                if uncertain:
                    found = self._find_active(client, policy_id, name, space_id)
                    if found is not None:
                        return found
                return self._create_over_revoked(client, policy_id, name, expiration, space_id)
            except (TransportError, ApiError) as error:
                if not is_transient(error):
                    raise
                reached_kibana = not (isinstance(error, TransportError) and not error.maybe_sent)
                if reached_kibana:
                    # Look even after the last attempt: a key created by a lost request must
                    # be adopted, never left active and untracked.
                    found = self._find_active(client, policy_id, name, space_id)
                    if found is not None:
                        return found
                    uncertain = True
                if attempt >= client.retry.max_attempts:
                    raise
                client.pause(attempt)

    def _adopt_by_id(
        self, client: FleetClient, key_id: str, props: Mapping[str, Any], space_id: str
    ) -> dict[str, Any]:
        """The existing key to take over: it must exist, be active and be on the policy."""
        try:
            item = client.get_enrollment_api_key(key_id, space_id)
        except NotFoundError:
            raise InputError(
                "adopt_key_id",
                f"{key_id!r} is not an enrollment key in Kibana space {space_id!r}: check the "
                "id (Fleet > Enrollment tokens), and space_id if the key lives in another space",
            ) from None
        if not item.get("active"):
            raise InputError(
                "adopt_key_id",
                f"{key_id!r} is revoked: adopt an active key, or leave adopt_key_id out to "
                "create a new one",
            )
        if item.get("policy_id") != props.get("policy_id"):
            raise InputError(
                "adopt_key_id",
                f"{key_id!r} belongs to agent policy {item.get('policy_id')!r}, not "
                f"{props.get('policy_id')!r}: set policy_id to the key's policy",
            )
        wanted = props.get("name")
        if wanted and user_name(item.get("name"), key_id) != wanted:
            raise InputError(
                "adopt_key_id",
                f"{key_id!r} is named {user_name(item.get('name'), key_id)!r}, not "
                f"{wanted!r}: leave name out, or set it to the key's name",
            )
        return item

    def _find_active(
        self, client: FleetClient, policy_id: str, name: str, space_id: str
    ) -> dict[str, Any] | None:
        """The newest active key holding ``name`` on the policy, if any."""
        for key in client.iter_enrollment_api_keys(f"policy_id:{kuery_quote(policy_id)}", space_id):
            if key.get("active") and holds_name(key.get("name"), name):
                return key
        return None

    def _create_over_revoked(
        self,
        client: FleetClient,
        policy_id: str,
        name: str,
        expiration: str | None,
        space_id: str,
    ) -> dict[str, Any]:
        """Kibana refused the name: remove revoked holders (Kibana 9.5+) and create again."""
        holders = [
            key
            for key in client.iter_enrollment_api_keys(
                f"policy_id:{kuery_quote(policy_id)}", space_id
            )
            if holds_name(key.get("name"), name)
        ]
        active = [key for key in holders if key.get("active")]
        if active or not holders:
            raise DuplicateNameError(
                409,
                f"an active enrollment key named {name!r} already exists on agent policy "
                f"{policy_id!r} (id {active[0]['id'] if active else 'unknown'})",
                hint="Choose another name, or leave name out to let the provider pick one",
            ) from None
        version = client.kibana_version()
        # Revoked keys keep their names on every Kibana; only 9.5+ can remove the records.
        if version < FORCE_DELETE_SINCE:
            raise DuplicateNameError(
                409,
                f"the name {name!r} is held by {len(holders)} revoked key(s) on agent policy "
                f"{policy_id!r}, and Kibana {version} keeps revoked keys forever (9.5+ can "
                "remove them)",
                hint="Choose another name, or leave name out to let the provider pick one",
            ) from None
        for key in holders:
            with contextlib.suppress(NotFoundError):
                client.delete_enrollment_api_key(
                    key["id"], space_id, force_delete=True, include_hidden=True
                )
        return client.create_enrollment_api_key(policy_id, name, expiration, space_id)

    # -- read ------------------------------------------------------------------------------

    def read(self, id_: str, props: dict[str, Any]) -> dynamic.ReadResult:
        """GET the key: 404 means gone; a revoked key reads back with ``active: false``."""
        space_id = props.get("space_id") or DEFAULT_SPACE_ID
        try:
            item = self.client().get_enrollment_api_key(id_, space_id)
        except NotFoundError:
            return dynamic.ReadResult(None, {})
        outs = outputs(props, item)
        inputs = {key: outs[key] for key in INPUT_KEYS if key in outs}
        return dynamic.ReadResult(id_, outs, inputs)

    # -- diff ------------------------------------------------------------------------------

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        """A changed key input, a revoked key or a due rotation replaces; the rest updates."""
        changed = replacing_changes(id_, olds, news)
        revoked = olds.get("active") is False
        due = rotation_due(olds, news)
        replaces = changed + (["active"] if revoked else []) + (["rotates_at"] if due else [])
        if not replaces:
            updated = [key for key in UPDATABLE_INPUTS if differs(olds.get(key), news.get(key))]
            return dynamic.DiffResult(changes=bool(updated), replaces=[])
        keeps_fixed_name = (
            news.get("auto_named") is False
            and not differs(olds.get("name"), news.get("name"))
            and not differs(olds.get("policy_id"), news.get("policy_id"))
        )
        if keeps_fixed_name and changed:
            self._refuse_unsafe_fixed_name_replacement(news)
        # Kibana refuses the name while the old key exists, so the old one must go first.
        return dynamic.DiffResult(
            changes=True, replaces=replaces, delete_before_replace=keeps_fixed_name
        )

    def _refuse_unsafe_fixed_name_replacement(self, news: Mapping[str, Any]) -> None:
        version = self.client().kibana_version()
        # Before Kibana 9.5 a revoked key keeps its name forever: after the delete, the
        # create would be refused and the stack left without a key. Fail at preview instead.
        if version < FORCE_DELETE_SINCE:
            raise UnsupportedVersionError(
                f"Replacing enrollment key {news.get('name')!r} on agent policy "
                f"{news.get('policy_id')!r} would reuse its name, which Kibana {version} "
                "refuses after revoking the old key (9.5+ can remove it): change name, or "
                "leave it out to let the provider pick one"
            )

    # -- update ----------------------------------------------------------------------------

    def update(
        self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]
    ) -> dynamic.UpdateResult:
        """Take new rotate_after/adopt_existing into the state (no Kibana call); full outputs."""
        outs = {key: value for key, value in _olds.items() if key != "__provider"}
        for key in INPUT_KEYS:
            if key in _news:
                outs[key] = _news[key]
            elif key in UPDATABLE_INPUTS:
                outs.pop(key, None)
        outs.pop("rotates_at", None)
        due_at = rotates_at(outs)
        if due_at is not None:
            outs["rotates_at"] = due_at
        return dynamic.UpdateResult(outs)

    # -- delete ----------------------------------------------------------------------------

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Revoke the key; done when Kibana reports it gone or revoked."""
        client = self.client()
        space_id = props.get("space_id") or DEFAULT_SPACE_ID
        include_hidden = (
            props.get("hidden") is True and client.kibana_version() >= FORCE_DELETE_SINCE
        )
        try:
            client.delete_enrollment_api_key(id_, space_id, include_hidden=include_hidden)
            return
        except NotFoundError:
            pass
        # Kibana 9.5+ answers 404 to a plain DELETE of a hidden key (managed or agentless
        # policy) and leaves it active: look before counting a 404 as done.
        try:
            item = client.get_enrollment_api_key(id_, space_id)
        except NotFoundError:
            return
        if not item.get("active"):
            return
        if item.get("hidden") and not include_hidden:
            client.delete_enrollment_api_key(id_, space_id, include_hidden=True)
            return
        raise FleetError(
            f"Kibana answered 404 to revoking enrollment key {id_} but still reports it "
            "active: revoke it in Kibana (Fleet > Enrollment tokens)"
        )


_PROVIDER = EnrollmentApiKeyProvider()


@functools.cache
def serialized_provider() -> str:
    """The provider as Pulumi stores it in ``__provider``: a dill pickle by reference, base64."""
    pickled: str = serialize_provider(_PROVIDER)
    return pickled


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
    ) -> None:
        if args is None:
            if policy_id is None:
                raise InputError(
                    "policy_id",
                    f"is required: EnrollmentApiKey {resource_name!r} needs the id of the agent "
                    "policy its key enrolls agents into",
                )
            args = EnrollmentApiKeyArgs(
                policy_id=policy_id,
                name=name,
                expiration=expiration,
                space_id=space_id,
                adopt_key_id=adopt_key_id,
                adopt_existing=adopt_existing,
                rotate_after=rotate_after,
            )
        props: dict[str, Any] = {key: None for key in OUTPUT_KEYS}
        props.update(
            policy_id=args.policy_id,
            name=args.name,
            expiration=args.expiration,
            space_id=args.space_id,
            adopt_key_id=args.adopt_key_id,
            adopt_existing=args.adopt_existing,
            rotate_after=args.rotate_after,
            resource_name=resource_name,
        )
        secret_opts = pulumi.ResourceOptions(additional_secret_outputs=SECRET_OUTPUTS)
        merged = pulumi.ResourceOptions.merge(opts or pulumi.ResourceOptions(), secret_opts)
        # What dynamic.Resource.__init__ does, with the provider pickled once per process:
        # the SDK's serialize_provider wraps pickle's _batch_setitems again on every call
        # and never unwraps it, so about a thousand resources in one process overflow the
        # stack (pulumi 3.x). The provider holds no state, so its pickle never changes, and
        # serialize_as_secret_always is off, so it is stored as a plain string.
        props["__provider"] = serialized_provider()
        pulumi.CustomResource.__init__(
            self, f"pulumi-python:{self._resource_type_name}", resource_name, props, merged
        )
