"""What the provider does in Kibana: create (or adopt) a key exactly once, revoke it, and
decide how a replacement must be ordered. Functions over a FleetClient and plain data.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

from fleet_provider.client import FleetClient
from fleet_provider.exceptions import (
    ApiError,
    DuplicateNameError,
    FleetError,
    InputError,
    KeyInAnotherSpaceError,
    KeyNotFoundError,
    ServerError,
    TransportError,
    UnsupportedVersionError,
)
from fleet_provider.log import logger
from fleet_provider.model import (
    KeyRequest,
    holds_name,
    keeps_fixed_name,
    name_kuery,
    policy_kuery,
    space_of,
    user_name,
)
from fleet_provider.naming import successors
from fleet_provider.retry import backoff_delay, describe, is_transient
from fleet_provider.versions import FORCE_DELETE_SINCE, KibanaVersion, ignores_expiration

Item = dict[str, Any]
"""A key as Kibana reports it (``id``, ``name``, ``api_key``, ``active``, ...)."""


def create_key(client: FleetClient, props: Mapping[str, Any]) -> Item:
    """The key for checked inputs: adopted by id, adopted by name, or created exactly once."""
    space_id = space_of(props)
    if props.get("adopt_key_id"):
        return adopt_by_id(client, str(props["adopt_key_id"]), props, space_id)
    if props.get("adopt_existing"):
        found = find_active(client, str(props["policy_id"]), str(props["name"]), space_id)
        if found is not None:
            return found
    request = KeyRequest.from_inputs(props)
    if request.expiration is None:
        return create_once(client, request)
    version = client.kibana_version()
    # Kibana without elastic/kibana#281324 accepts `expiration` and drops it: the token would
    # never expire, so a release that certainly drops it is refused before anything exists.
    if ignores_expiration(version):
        raise UnsupportedVersionError(
            f"Kibana {version} ignores expiration (it is honoured only by 8.19, 9.3, 9.4 and "
            "9.5 patch releases with elastic/kibana#281324, and later releases): remove "
            "expiration, or upgrade Kibana, to create this key"
        )
    item = create_once(client, request)
    if not item.get("expire_at") and _forget_leftover(item):
        # This resource's own key, left by an earlier run that asked for no expiration: it
        # does not match this request, so it is revoked and the key created anew.
        _discard(client, item, request.space_id, version)
        item = create_once(client, request)
    if not item.get("expire_at"):
        raise _expiration_dropped(client, item, request, version)
    return item


def _forget_leftover(item: Item) -> bool:
    with _leftovers_lock:
        if str(item["id"]) in _adopted_leftovers:
            _adopted_leftovers.discard(str(item["id"]))
            return True
    return False


def _discard(client: FleetClient, item: Item, space_id: str, version: KibanaVersion) -> None:
    """Revoke a key this create made (9.5+: remove its record too, freeing its name)."""
    removable = version >= FORCE_DELETE_SINCE
    with contextlib.suppress(KeyNotFoundError):
        client.delete_enrollment_api_key(
            str(item["id"]), space_id, force_delete=removable, include_hidden=removable
        )


def _expiration_dropped(
    client: FleetClient, item: Item, request: KeyRequest, version: KibanaVersion
) -> FleetError:
    """Revoke a key Kibana created without the expiry asked for; the error to raise.

    Kibana's answer carries ``expire_at`` exactly when it passed the expiry to Elasticsearch
    (elastic/kibana#281324). A key without one never expires: it must not be kept, and must
    not be stored as if it expired.
    """
    key_id = item["id"]
    try:
        _discard(client, item, request.space_id, version)
    except FleetError as error:
        failure = FleetError(
            f"Kibana {version} ignored expiration, so its new key {key_id} never expires, and "
            f"revoking that key failed ({error}): revoke it in Kibana (Fleet > Enrollment "
            "tokens), then upgrade Kibana or remove expiration"
        )
        failure.__cause__ = error
        return failure
    done = "deleted" if version >= FORCE_DELETE_SINCE else "revoked"
    note = ""
    if not request.auto_named and version < FORCE_DELETE_SINCE:
        note = f"; Kibana {version} keeps the revoked key's name, so also change name"
    return UnsupportedVersionError(
        f"Kibana {version} accepted expiration but ignored it (its answer has no expire_at), "
        f"so the key it created ({key_id}) was {done}: upgrade Kibana to a release that "
        "honours expiration (elastic/kibana#281324: later 8.19, 9.3, 9.4 and 9.5 patch "
        f"releases), or remove expiration{note}"
    )


def create_once(client: FleetClient, request: KeyRequest) -> Item:
    """Create the key exactly once, even when answers are lost.

    A POST is never retried blind: a connection dropped after Kibana stored the key looks
    the same as one dropped before. The name is unique on the policy and the same on every
    run (auto-names are derived, see naming.py), so after an uncertain failure the key is
    looked up by name and adopted if it is there, and created again only if it is not; a
    create refused because an active key of this resource's own auto-name exists adopts that
    key, which an earlier, failed run left.
    """
    uncertain = False
    attempt = 0
    while True:
        attempt += 1
        try:
            return client.create_enrollment_api_key(request.body(), request.space_id)
        except DuplicateNameError as refused:
            try:
                found = find_active(client, request.policy_id, request.name, request.space_id)
            except (TransportError, ApiError) as error:
                if not is_transient(error):
                    raise
                raise _may_exist(error, request) from error
            if found is not None and uncertain:
                return _adopted(found, "after an uncertain create")
            if found is not None and request.auto_named:
                return adopt_leftover(found)
            if found is not None:
                raise _name_taken(request, found) from refused
            return create_over_revoked(client, request, refused)
        except (TransportError, ApiError) as error:
            stored_maybe = isinstance(error, ServerError)  # a 500 may come after the store
            if not is_transient(error) and not stored_maybe:
                raise
            if not (isinstance(error, TransportError) and not error.maybe_sent):
                # Look even after the last attempt: a key created by a lost request must
                # be adopted, never left active and untracked.
                found = find_created(client, request, patient=_may_still_be_processing(error))
                if found is not None:
                    return _adopted(found, "after an uncertain create")
                uncertain = True
            if attempt >= client.retry.max_attempts or not is_transient(error):
                if uncertain:
                    raise _may_exist(error, request) from error
                raise
            logger.warning(
                "retrying the create of key %r after %s (attempt %d of %d)",
                request.name,
                describe(error),
                attempt,
                client.retry.max_attempts,
            )
            client.pause(attempt, getattr(error, "retry_after", None))


def _may_still_be_processing(error: FleetError) -> bool:
    """True when Kibana may store the key after this failure: no answer in time, or a 504.

    A proxy's 504 and the client's own read timeout both leave Kibana working on the request;
    it may store the key seconds later.
    """
    if isinstance(error, ApiError):
        return error.status == 504
    return isinstance(error, TransportError) and error.timed_out


def find_created(client: FleetClient, request: KeyRequest, *, patient: bool) -> Item | None:
    """The key an uncertain create may have made, looked for until Kibana could have stored it.

    With ``patient``, the look-up is repeated with backoff for the request timeout (Kibana may
    still be processing the create); a look-up that fails counts as not found yet.
    """
    deadline = time.monotonic() + (client.settings.timeout if patient else 0.0)
    attempt = 0
    while True:
        attempt += 1
        try:
            found = find_active(client, request.policy_id, request.name, request.space_id)
        except (TransportError, ApiError) as error:
            if not is_transient(error):
                raise
            found = None
        if found is not None:
            return found
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        client.pause(attempt, min(remaining, backoff_delay(attempt, client.retry)))


_adopted_leftovers: set[str] = set()
_leftovers_lock = threading.Lock()


def adopt_leftover(item: Item) -> Item:
    """Take over the active key holding this resource's own auto-name, left by a failed run."""
    with _leftovers_lock:
        _adopted_leftovers.add(str(item["id"]))
    return _adopted(item, "that holds this resource's name, left by an earlier run")


def forget_adopted(key_id: str) -> None:
    """Stop treating ``key_id`` as a leftover this process adopted (see revoke_key)."""
    with _leftovers_lock:
        _adopted_leftovers.discard(key_id)


def _adopted(item: Item, why: str) -> Item:
    logger.info("adopted enrollment key %s %s", item.get("id"), why)
    return item


def _name_taken(request: KeyRequest, found: Item) -> DuplicateNameError:
    return DuplicateNameError(
        409,
        f"an active enrollment key named {request.name!r} already exists on agent policy "
        f"{request.policy_id!r} (id {found['id']})",
        hint="If it is this resource's key (say, from a run that failed), set "
        "adopt_existing=True to take it over; else choose another name",
    )


def _may_exist(error: FleetError, request: KeyRequest) -> FleetError:
    """``error`` with the truth about the key: it may exist, and what the next run does."""
    if request.auto_named:
        note = "The key may exist in Kibana: the next pulumi up adopts it"
    else:
        note = (
            f"The key may exist in Kibana: if the next pulumi up finds the name "
            f"{request.name!r} taken, set adopt_existing=True to take it over"
        )
    if isinstance(error, ApiError):
        hint = f"{error.hint}. {note}" if error.hint else note
        return type(error)(error.status, error.message, error.body, hint=hint)
    if isinstance(error, TransportError):
        return type(error)(f"{error} {note}.", maybe_sent=True, timed_out=error.timed_out)
    return error


def adopt_by_id(client: FleetClient, key_id: str, props: Mapping[str, Any], space_id: str) -> Item:
    """The existing key to take over: it must exist, be active and be on the policy."""
    try:
        item = client.get_enrollment_api_key(key_id, space_id)
    except KeyInAnotherSpaceError as elsewhere:
        raise InputError(
            "adopt_key_id",
            f"{key_id!r} is an enrollment key of another Kibana space than {space_id!r}: set "
            "space_id to the key's space",
        ) from elsewhere
    except KeyNotFoundError as missing:
        raise InputError(
            "adopt_key_id",
            f"{key_id!r} is not an enrollment key in Kibana space {space_id!r}: check the "
            "id (Fleet > Enrollment tokens), and space_id if the key lives in another space",
        ) from missing
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


def find_active(client: FleetClient, policy_id: str, name: str, space_id: str) -> Item | None:
    """The newest active key holding ``name`` on the policy, if any."""
    return next(
        (key for key in holders(client, policy_id, name, space_id) if key.get("active")), None
    )


def holders(client: FleetClient, policy_id: str, name: str, space_id: str) -> Iterator[Item]:
    """Every key on the policy that holds ``name`` (revoked ones too), newest first.

    The query asks for names that start with ``name``, so a policy with more keys than
    Kibana's 10,000-result window still answers. How Kibana maps ``name`` is not documented
    (as a keyword, the prefix matches; as analysed text, it would match nothing), so when the
    narrowed query finds no holder the policy's keys are listed instead.
    """
    found = False
    for key in client.iter_enrollment_api_keys(name_kuery(policy_id, name), space_id):
        if holds_name(key.get("name"), name):
            found = True
            yield key
    if found:
        return
    for key in client.iter_enrollment_api_keys(policy_kuery(policy_id), space_id):
        if holds_name(key.get("name"), name):
            yield key


def create_over_revoked(
    client: FleetClient, request: KeyRequest, refused: DuplicateNameError
) -> Item:
    """The name is held only by revoked keys: remove them (Kibana 9.5+) and create again.

    Before 9.5 revoked keys keep their names forever: an auto-named key moves on to the next
    generation of its name; a fixed name is refused.
    """
    name, policy_id = request.name, request.policy_id
    holding = list(holders(client, policy_id, name, request.space_id))
    if not holding:
        raise DuplicateNameError(
            409,
            f"Kibana refused the name {name!r} on agent policy {policy_id!r}, but lists no key "
            "holding it",
            hint="Choose another name, or leave name out to let the provider pick one",
        ) from refused
    version = client.kibana_version()
    if version >= FORCE_DELETE_SINCE:
        remove_keys(client, holding, request.space_id)
        return client.create_enrollment_api_key(request.body(), request.space_id)
    if request.auto_named:
        return create_next_generation(client, request, refused)
    # Revoked keys keep their names on every Kibana; only 9.5+ can remove the records.
    raise DuplicateNameError(
        409,
        f"the name {name!r} is held by {len(holding)} revoked key(s) on agent policy "
        f"{policy_id!r}, and Kibana {version} keeps revoked keys forever (9.5+ can "
        "remove them)",
        hint="Choose another name, or leave name out to let the provider pick one",
    ) from refused


def create_next_generation(
    client: FleetClient, request: KeyRequest, refused: DuplicateNameError
) -> Item:
    """Create the key under the first later generation of its auto-name that Kibana takes."""
    for name in successors(request.base, request.identity, request.name):
        try:
            return client.create_enrollment_api_key(
                replace(request, name=name).body(), request.space_id
            )
        except DuplicateNameError:
            continue
    raise DuplicateNameError(
        409,
        f"every generation of the auto-name {request.name!r} is taken on agent policy "
        f"{request.policy_id!r}",
        hint="Give the resource a name, or another resource name",
    ) from refused


def remove_keys(client: FleetClient, keys: list[Item], space_id: str) -> None:
    """Delete the records of revoked keys, hidden ones too (Kibana 9.5+ ``forceDelete``)."""
    for key in keys:
        with contextlib.suppress(KeyNotFoundError):
            client.delete_enrollment_api_key(
                key["id"], space_id, force_delete=True, include_hidden=True
            )


def read_key(client: FleetClient, key_id: str, space_id: str) -> Item | None:
    """The key as Kibana reports it now (revoked keys included); None when it is gone.

    Gone means Kibana said so (KeyNotFoundError). Any other 404 (a wrong base path) and a key
    that exists in another space raise: dropping the key from the state would leave it
    active and untracked.
    """
    try:
        return client.get_enrollment_api_key(key_id, space_id)
    except KeyNotFoundError:
        return None


def revoke_key(client: FleetClient, key_id: str, props: Mapping[str, Any]) -> None:
    """Revoke the key; done when Kibana reports it gone or revoked."""
    with _leftovers_lock:
        adopted_now = key_id in _adopted_leftovers
    if adopted_now:
        # This process's create adopted this very key as its own: the engine replaced the
        # resource without a diff (pulumi up --replace), so the create never saw the old key.
        # Revoking it would leave the replacement without a token.
        print(
            f"warning: enrollment key {key_id} is kept: its replacement adopted it; to rotate "
            "an auto-named key, use rotate_after or change expiration",
            file=sys.stderr,
        )
        return
    space_id = space_of(props)
    include_hidden = props.get("hidden") is True and client.kibana_version() >= FORCE_DELETE_SINCE
    try:
        client.delete_enrollment_api_key(key_id, space_id, include_hidden=include_hidden)
        return
    except KeyNotFoundError:
        pass
    # Kibana 9.5+ answers 404 to a plain DELETE of a hidden key (managed or agentless
    # policy) and leaves it active: look before counting a 404 as done.
    item = read_key(client, key_id, space_id)
    if item is None or not item.get("active"):
        return
    if item.get("hidden") and not include_hidden:
        client.delete_enrollment_api_key(key_id, space_id, include_hidden=True)
        return
    raise FleetError(
        f"Kibana answered 404 to revoking enrollment key {key_id} but still reports it "
        "active: revoke it in Kibana (Fleet > Enrollment tokens)"
    )


def lives_in_space(client: FleetClient, key_id: str, news: Mapping[str, Any]) -> bool:
    """True when the key already is in the space ``news`` asks for (Kibana moved it there).

    Kibana 9.1+ moves a policy's keys when the policy moves to another space; naming the new
    space then changes the state, not the key.
    """
    space = news.get("space_id")
    if not isinstance(space, str):
        return False
    try:
        item = client.get_enrollment_api_key(key_id, space)
    except (KeyNotFoundError, KeyInAnotherSpaceError):
        return False
    return bool(item.get("active")) and item.get("policy_id") == news.get("policy_id")


def delete_first(
    client: FleetClient, olds: Mapping[str, Any], news: Mapping[str, Any], reasons: list[str]
) -> bool:
    """Whether a replacement must revoke the old key before it creates the new one.

    Kibana refuses a fixed name while a key holds it, so a replacement that keeps the name
    on the same policy goes delete-first. Before Kibana 9.5 a revoked key keeps its name
    forever, so the create after the delete would be refused and the stack left without a
    key: when an input change asks for that, fail at preview instead. (A revoked or expired
    key or a due rotation never fails here: the stack must be able to recover.)
    """
    if not keeps_fixed_name(olds, news):
        return False
    if set(reasons) - {"active", "rotates_at", "expired"}:
        version = client.kibana_version()
        if version < FORCE_DELETE_SINCE:
            raise UnsupportedVersionError(
                f"Replacing enrollment key {news.get('name')!r} on agent policy "
                f"{news.get('policy_id')!r} would reuse its name, which Kibana {version} "
                "refuses after revoking the old key (9.5+ can remove it): change name, or "
                "leave it out to let the provider pick one"
            )
    return True
