"""The ``fleet-emulator`` command line: parse options, run an EmulatorServer until stopped."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType
from typing import Any

from . import auth
from .faults import load_fault_plan
from .server import DEFAULT_VERSION, EmulatorServer
from .urls import check_base_path
from .versions import KibanaVersion


def _arg(check: Any) -> Any:
    def convert(text: str) -> Any:
        try:
            return check(text)
        except (ValueError, OSError) as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    convert.__name__ = getattr(check, "__name__", "value")
    return convert


def _port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise ValueError(f"port must be between 0 and 65535, got {port}")
    return port


def _version(text: str) -> str:
    KibanaVersion.parse(text)
    return text


def _user(text: str) -> str:
    auth.parse_user(text)
    return text


def _api_key(text: str) -> str:
    auth.parse_secret(text, "ENCODED")
    return text


def _bearer(text: str) -> str:
    auth.parse_secret(text, "TOKEN")
    return text


def _policy(text: str) -> str:
    if not text.strip():
        raise ValueError("policy id must not be empty")
    return text


def _data(text: str) -> str:
    parent = os.path.dirname(os.path.abspath(text))
    if not os.path.isdir(parent):
        raise ValueError(f"directory {parent} does not exist")
    return text


def _faults(text: str) -> dict[str, Any]:
    return load_fault_plan(text)


def _base_path(text: str) -> str:
    return check_base_path(text)


def build_parser() -> argparse.ArgumentParser:
    """The ``fleet-emulator`` command-line parser."""
    parser = argparse.ArgumentParser(
        prog="fleet-emulator",
        description="A local Kibana Fleet enrollment-API server for tests and demos.",
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    add("--port", type=_arg(_port), default=5601, help="TCP port; 0 picks a free one")
    add("--kibana-version", type=_arg(_version), default=DEFAULT_VERSION, metavar="X.Y.Z")
    add("--data", type=_arg(_data), metavar="PATH", help="SQLite file that keeps state")
    add("--user", type=_arg(_user), action="append", metavar="NAME:PASSWORD:ROLE")
    add("--api-key", type=_arg(_api_key), action="append", metavar="ENCODED:ROLE")
    add("--bearer-token", type=_arg(_bearer), action="append", metavar="TOKEN:ROLE")
    add("--policy", type=_arg(_policy), action="append", metavar="ID", help="agent policy at start")
    add("--faults", type=_arg(_faults), metavar="FILE", help="fault plan (JSON) to load at start")
    add(
        "--base-path",
        type=_arg(_base_path),
        metavar="PATH",
        help="serve Kibana under PATH (server.basePath with rewriteBasePath: true)",
    )
    add("--quiet", action="store_true", help="no per-request log lines")
    return parser


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Run the emulator until SIGINT/SIGTERM; print Kibana's URL (with any base path) first."""
    args = build_parser().parse_args(argv)
    server = EmulatorServer(
        host=args.host,
        port=args.port,
        kibana_version=args.kibana_version,
        data=args.data,
        users=args.user,
        api_keys=args.api_key or (),
        bearer_tokens=args.bearer_token or (),
        policies=args.policy or (),
        faults=args.faults,
        base_path=args.base_path or "",
        log_stream=None if args.quiet else sys.stdout,
    )
    try:
        server.bind()
    except OSError as err:
        print(f"fleet-emulator: cannot listen on {args.host}:{args.port}: {err}", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, _interrupt)
    # The URL line goes out inside the try: a SIGTERM right after it is a clean stop too.
    with contextlib.suppress(KeyboardInterrupt):
        try:
            print(server.url, flush=True)
            server.serve_forever()
        finally:
            server.stop()
    return 0
