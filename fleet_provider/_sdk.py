"""Every reliance on how the Pulumi Python SDK works inside, in one place, each with its reason.

The rest of the package uses only Pulumi's public API; what is here follows
``sdk/python/lib/pulumi/dynamic/dynamic.py`` (pulumi/pulumi) and is tested against the lowest
and the newest supported ``pulumi``.
"""

from __future__ import annotations

import base64
import functools
from typing import Any

import dill
import pulumi
from pulumi import dynamic
from pulumi.runtime import mocks, settings

# The pickle protocol of the ``__provider`` state field. The SDK uses pickle's default,
# which is 4 up to Python 3.13 and 5 from 3.14: a fixed protocol keeps the stored string the
# same on every Python, so upgrading Python never shows a diff on every resource.
PICKLE_PROTOCOL = 4


def read_result(
    id_: str | None, outs: dict[str, Any], inputs: dict[str, Any] | None
) -> dynamic.ReadResult:
    """A ``ReadResult`` carrying the refreshed ``inputs``, on every supported ``pulumi``.

    ``ReadResult.__init__`` takes ``inputs`` only from pulumi 3.216.0
    (``sdk/python/lib/pulumi/dynamic/dynamic.py``); before that a third argument raises
    ``TypeError``, which would fail every refresh of an existing key. The attribute is set after
    construction instead: the dynamic host before 3.216.0 reads only ``id`` and ``outs`` and
    ignores it, and from 3.216.0 it sends ``inputs`` to the engine when it is not None
    (``dynamic/__main__.py``, ``Read``), so that later diffs compare against the read state.
    """
    result = dynamic.ReadResult(id_, outs)
    result.inputs = inputs
    return result


def is_unknown(value: Any) -> bool:
    """True for a value not yet known during preview (``pulumi.output.Unknown``).

    The dynamic host hands ``check`` and ``diff`` this sentinel for an unknown input
    (``dynamic/__main__.py`` deserialises with ``keep_unknowns=True``).
    """
    return isinstance(value, pulumi.output.Unknown)


def pickle_provider(provider: dynamic.ResourceProvider) -> str:
    """The provider as the dynamic host loads it from ``__provider``: a dill pickle, base64.

    What the SDK's ``serialize_provider`` stores, without it: that function is private, and
    it wraps ``pickle._Pickler._batch_setitems`` again on every call without unwrapping, so
    about a thousand resources in one process overflow the stack (pulumi 3.x). A provider
    class defined at module level pickles by reference (module path and class name), and
    dill's ``recurse`` has nothing to follow in a provider without state.
    """
    return base64.b64encode(dill.dumps(provider, protocol=PICKLE_PROTOCOL, recurse=True)).decode(
        "ascii"
    )


@functools.cache
def pickled(provider: dynamic.ResourceProvider) -> str:
    """``pickle_provider`` once per process for a stateless provider, whose pickle never changes."""
    return pickle_provider(provider)


def register(
    resource: pulumi.CustomResource,
    type_name: str,
    resource_name: str,
    provider: dynamic.ResourceProvider,
    props: dict[str, Any],
    opts: pulumi.ResourceOptions,
) -> None:
    """Register a dynamic resource as ``dynamic.Resource.__init__`` does, with a cached pickle.

    The engine routes ``pulumi-python:dynamic/...`` types to the Python dynamic host, which
    unpickles ``__provider`` to find the provider. ``serialize_as_secret_always`` is off on
    the provider, so the pickle is stored as a plain string, as the SDK would store it.
    """
    props["__provider"] = pickled(provider)
    pulumi.CustomResource.__init__(
        resource, f"pulumi-python:{type_name}", resource_name, props, opts
    )


MOCKED_ATTRIBUTE = "fleet_provider_mocked"
"""A ``pulumi.runtime.Mocks`` attribute: ``False`` says its monitor deploys for real (opt-out)."""


def active_mocks() -> Any | None:
    """The ``pulumi.runtime.Mocks`` the program runs under, or None in a real deployment.

    ``pulumi.runtime.set_mocks`` makes a ``MockMonitor`` (``sdk/python/lib/pulumi/runtime/
    mocks.py``) the monitor that ``pulumi.runtime.settings.get_monitor()`` returns; in a
    deployment that is a gRPC stub. Both names are public in every supported ``pulumi``, and
    ``MockMonitor.mocks`` is a declared attribute. A test engine that runs programs under its own
    ``MockMonitor`` but deploys for real (its monitor answers with real providers' results) sets
    ``fleet_provider_mocked = False`` on its Mocks: programs then behave as in a deployment.
    """
    monitor = settings.get_monitor()
    if not isinstance(monitor, mocks.MockMonitor):
        return None
    in_use = getattr(monitor, "mocks", None)
    if in_use is None or getattr(in_use, MOCKED_ATTRIBUTE, True) is False:
        return None
    return in_use
