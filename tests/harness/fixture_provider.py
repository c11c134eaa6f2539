"""A tiny, side-effect-free dynamic provider used by the harness's own tests.

Its "remote" objects live in a JSON file named by the environment variable
:data:`STATE_ENV`, read at call time. Every provider call is appended to the file's ``log``, so a
test can assert what the host did and in which order. The module is imported again inside the
provider host (the provider is pickled by reference), so it must not import test code.

Inputs: ``name`` (required), any other plain value, ``replace_on`` (input names whose change
needs a replacement), ``delete_before_replace`` (the diff then asks for delete-before-replace),
``diff_unknown`` (the diff answers "unknown", leaving the comparison to the engine) and ``slow``
(seconds a create takes; its log entry records when it started and ended).
Outputs: the inputs plus ``token`` (secret-like, registered as an additional secret output),
``seq`` (creation number) and ``label`` (the ``fixture:label`` stack config seen by configure).
A test forces an error with :meth:`Remote.fail`, which makes the named operation raise.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pulumi
from pulumi import dynamic
from pulumi.output import Unknown

from fleet_provider import _sdk

STATE_ENV = "HARNESS_FIXTURE_STATE"
"""Environment variable holding the path of the JSON file with the remote objects."""

_INTERNAL = {"__provider"}


class Remote:
    """The JSON file that plays the remote API: objects by id, a call log and forced failures."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        """Use the file at ``path`` (created empty when missing)."""
        self.path = Path(path)

    @classmethod
    def from_env(cls) -> Remote:
        """The remote named by :data:`STATE_ENV`."""
        return cls(os.environ[STATE_ENV])

    def reset(self) -> None:
        """Forget every object, log entry and forced failure."""
        with self.edit() as data:
            data.clear()
            data.update({"objects": {}, "log": [], "fail": {}, "seq": 0})

    @contextmanager
    def edit(self) -> Iterator[dict[str, Any]]:
        """Lock the file, yield its data for modification, then write it back atomically."""
        lock = self.path.with_suffix(".lock")
        with lock.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            data = self._load()
            try:
                yield data
            finally:  # also on error, so that a failed call stays in the log
                tmp = self.path.with_suffix(".tmp")
                tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
                tmp.replace(self.path)

    def _load(self) -> dict[str, Any]:
        if not self.path.exists():
            return {"objects": {}, "log": [], "fail": {}, "seq": 0}
        data: dict[str, Any] = json.loads(self.path.read_text() or "{}")
        for key, default in (("objects", {}), ("log", []), ("fail", {}), ("seq", 0)):
            data.setdefault(key, default)
        return data

    def objects(self) -> dict[str, dict[str, Any]]:
        """The remote objects by id."""
        return dict(self._load()["objects"])

    def log(self) -> list[dict[str, Any]]:
        """Every provider call so far, oldest first: ``{"op", "id", "name", ...}``."""
        return list(self._load()["log"])

    def ops(self) -> list[str]:
        """The log as ``"op:name"`` strings, e.g. ``["check:a", "create:a"]``."""
        return [f"{e['op']}:{e['name']}" for e in self.log()]

    def fail(self, op: str, message: str = "forced failure") -> None:
        """Make every later call of ``op`` (check/diff/create/read/update/delete) raise."""
        with self.edit() as data:
            data["fail"][op] = message

    def clear_failures(self) -> None:
        """Stop forcing errors."""
        with self.edit() as data:
            data["fail"] = {}

    def remove(self, id_: str) -> None:
        """Delete an object out of band, behind the provider's back."""
        with self.edit() as data:
            data["objects"].pop(id_, None)

    def change(self, id_: str, **values: Any) -> None:
        """Change an object out of band (drift)."""
        with self.edit() as data:
            data["objects"][id_]["inputs"].update(values)


def _user_inputs(props: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in props.items() if k not in _INTERNAL and k not in _COMPUTED}


_COMPUTED = {"token", "seq", "label"}


class FixtureProvider(dynamic.ResourceProvider):
    """Stateless provider over :class:`Remote`; config and environment are read at call time."""

    label: str | None = None

    def configure(self, req: dynamic.ConfigureRequest) -> None:
        """Remember the ``fixture:label`` stack config (shows that Configure reached us)."""
        self.label = req.config.get("fixture:label")

    def _enter(self, data: dict[str, Any], op: str, name: str, **extra: Any) -> None:
        data["log"].append({"op": op, "name": name, **extra})
        if op in data["fail"]:
            raise RuntimeError(f"fixture {op} of {name!r} failed: {data['fail'][op]}")

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> dynamic.CheckResult:
        """Require ``name``; log which inputs are unknown (preview)."""
        unknown = sorted(k for k, v in news.items() if isinstance(v, Unknown))
        with Remote.from_env().edit() as data:
            self._enter(data, "check", str(news.get("name")), unknown=unknown)
        failures = []
        if "name" not in news:
            failures.append(dynamic.CheckFailure("name", "name is required"))
        return dynamic.CheckResult(news, failures)

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        """Compare old outputs with new inputs; ``replace_on`` inputs need a replacement."""
        old_in, new_in = _user_inputs(olds), _user_inputs(news)
        changed = sorted(
            k
            for k in old_in.keys() | new_in.keys()
            if isinstance(new_in.get(k), Unknown) or old_in.get(k) != new_in.get(k)
        )
        replace_on = news.get("replace_on") or olds.get("replace_on") or []
        if isinstance(replace_on, Unknown):
            replace_on = changed
        with Remote.from_env().edit() as data:
            self._enter(data, "diff", str(olds.get("name")), id=id_, changed=changed)
        if news.get("diff_unknown"):
            return dynamic.DiffResult()
        return dynamic.DiffResult(
            changes=bool(changed),
            replaces=[k for k in changed if k in replace_on],
            delete_before_replace=bool(news.get("delete_before_replace")),
        )

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        """Create a remote object with a fresh secret-like token."""
        inputs = _user_inputs(props)
        started = time.monotonic()
        time.sleep(float(inputs.get("slow") or 0))
        with Remote.from_env().edit() as data:
            self._enter(data, "create", str(inputs.get("name")))
            if inputs.get("slow"):
                data["log"][-1].update(started=started, ended=time.monotonic())
            data["seq"] += 1
            id_ = f"obj-{data['seq']}"
            data["log"][-1]["id"] = id_
            obj = {"inputs": inputs, "token": f"tok-{secrets.token_hex(12)}", "seq": data["seq"]}
            data["objects"][id_] = obj
        # Provider output is shown to the user by the CLI; tests find it in the host's stderr.
        print(f"fixture: created {inputs.get('name')} as {id_}", file=sys.stderr)
        return dynamic.CreateResult(id_, self._outs(obj))

    def read(self, id_: str, props: dict[str, Any]) -> dynamic.ReadResult:
        """Return the live object, or id None when it is gone."""
        with Remote.from_env().edit() as data:
            self._enter(data, "read", str(props.get("name")), id=id_)
            obj = data["objects"].get(id_)
        if obj is None:
            return dynamic.ReadResult(None, {})
        return _sdk.read_result(id_, self._outs(obj), dict(obj["inputs"]))

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        """Update the inputs in place, keeping the token."""
        with Remote.from_env().edit() as data:
            self._enter(data, "update", str(news.get("name")), id=id_)
            obj = data["objects"][id_]
            obj["inputs"] = _user_inputs(news)
        return dynamic.UpdateResult(self._outs(obj))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Delete the object; a missing one counts as deleted."""
        with Remote.from_env().edit() as data:
            self._enter(data, "delete", str(props.get("name")), id=id_)
            data["objects"].pop(id_, None)

    def _outs(self, obj: dict[str, Any]) -> dict[str, Any]:
        return {**obj["inputs"], "token": obj["token"], "seq": obj["seq"], "label": self.label}


class FixtureResource(dynamic.Resource, module="fixture", name="Thing"):
    """A dynamic resource served by :class:`FixtureProvider`; ``token`` is a secret output."""

    token: pulumi.Output[str]
    seq: pulumi.Output[float]
    label: pulumi.Output[str | None]

    def __init__(
        self,
        name: str,
        props: dict[str, Any],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Declare the resource; ``props`` are its inputs (``name`` is required)."""
        secret_outputs = pulumi.ResourceOptions(additional_secret_outputs=["token"])
        super().__init__(
            FixtureProvider(),
            name,
            {**props, "token": None, "seq": None, "label": None},
            pulumi.ResourceOptions.merge(opts, secret_outputs),
        )
