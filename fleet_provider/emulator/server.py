"""The HTTP server: ``EmulatorServer`` wires the emulator's parts and serves them over HTTP.

The command line lives in ``cli``; ``main`` here forwards to it for older entry points.
"""

from __future__ import annotations

import contextlib
import os
import socket
import socketserver
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import IO, Any, NoReturn

from . import auth
from .control import PREFIX as CONTROL_PREFIX
from .control import ControlApi, RequestCounter
from .fault_answers import PendingCommits, apply_fault
from .faults import FaultInjector, load_fault_plan
from .messages import ApiRequest, ApiResponse, error_response, reason
from .models import FleetBackend
from .responses import KibanaApi
from .security_headers import security_headers
from .urls import check_base_path
from .versions import KibanaVersion

DEFAULT_VERSION = "9.6.0"


_date_cache: tuple[int, str] = (0, "")


def _http_date() -> str:
    """The ``Date`` header value, formatted once per second."""
    global _date_cache  # noqa: PLW0603 - a per-second cache shared by handler threads
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, usegmt=True))
    return _date_cache[1]


class _Dropped(Exception):
    """The connection was closed on purpose; nothing is written."""


class _HttpServer(ThreadingHTTPServer):
    """Threads per connection, a deep accept queue and no Nagle delay."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], emulator: EmulatorServer) -> None:
        self.emulator = emulator
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (slow); the address is enough.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.connections_lock:
            self.connections.add(sock)
        return sock, address

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Shut down every open keep-alive connection."""
        with self.connections_lock:
            connections = list(self.connections)
        for sock in connections:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    """Reads one request, lets the emulator answer it, writes the answer in one send."""

    protocol_version = "HTTP/1.1"
    server: _HttpServer
    _started = 0.0  # when the request being served arrived (perf_counter)

    def do_GET(self) -> None:
        """Handle GET."""
        self._serve()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default access log; the emulator writes its own."""

    def _serve(self) -> None:
        self._started = time.perf_counter()
        path, _, query = self.path.partition("?")
        try:
            request = ApiRequest(
                method=self.command,
                path=path,
                query_string=query,
                headers={k.lower(): v for k, v in self.headers.items()},
                body=self._read_body(),
            )
            response = self.server.emulator.respond(request, self._drop)
        except _Dropped:
            self.close_connection = True
            return
        except Exception:
            traceback.print_exc(file=sys.stderr)
            response = error_response(500, "An internal server error occurred.")
        outcome = str(response.status)
        if response.truncate_to is not None:
            outcome += " truncated"
        # Logged before the answer leaves: once a client has it, its line is written, in
        # the order the requests were answered, even if the process is stopped right after.
        self._log(outcome)
        try:
            self._write(response)
        except OSError:
            # The client hung up first (a commit_late answer after its timeout).
            self.close_connection = True

    def _log(self, outcome: str) -> None:
        self.server.emulator.log(self.command, self.path.partition("?")[0], outcome, self._started)

    def _read_body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _write(self, response: ApiResponse) -> None:
        body = b"" if self.command == "HEAD" else response.body
        if response.truncate_to is not None:
            # Content-Length below still announces the whole body; the close ends it early.
            body = body[: response.truncate_to]
            self.close_connection = True
        lines = [
            f"HTTP/1.1 {response.status} {reason(response.status)}",
            f"Content-Type: {response.content_type}",
            f"Content-Length: {len(response.body)}",
            f"Date: {_http_date()}",
            *self.server.emulator.security_header_lines,
            "kbn-name: kibana",
            "Cache-Control: private, no-cache, no-store, must-revalidate",
        ]
        lines += [f"{name}: {value}" for name, value in response.headers.items()]
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head + body)
        if response.truncate_to is not None:
            self.wfile.flush()
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

    def _drop(self, how: str) -> NoReturn:
        """Close the connection without an answer: ``reset`` sends a TCP RST."""
        self._log(how)
        if how == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
        raise _Dropped(how)


class EmulatorServer:
    """A local Kibana Fleet enrollment-API server; ``start()``, ``url``, ``stop()``.

    Keywords mirror the command line. ``users`` are ``NAME:PASSWORD:ROLE`` strings
    (default ``elastic:changeme:superuser``), ``api_keys`` ``ENCODED:ROLE`` and
    ``bearer_tokens`` ``TOKEN:ROLE``; ``faults`` is a plan (mapping) or a JSON file path;
    ``base_path`` (``/kibana``) serves every Kibana route under it, as ``server.basePath``
    with ``server.rewriteBasePath: true`` does; ``log_stream`` receives one line per
    request (nothing when None).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        kibana_version: str = DEFAULT_VERSION,
        data: str | os.PathLike[str] | None = None,
        users: Iterable[str] | None = None,
        api_keys: Iterable[str] = (),
        bearer_tokens: Iterable[str] = (),
        policies: Iterable[str] = (),
        faults: Mapping[str, Any] | str | os.PathLike[str] | None = None,
        base_path: str = "",
        log_stream: IO[str] | None = None,
    ) -> None:
        self.host = host
        self.base_path = check_base_path(base_path) if base_path else ""
        self.requested_port = port
        self.version = KibanaVersion.parse(kibana_version)
        # Core's default security headers go on every answer, 404s and errors included: one
        # place for all of them (security_headers.py says which, per release).
        self.security_header_lines = tuple(
            f"{name}: {value}" for name, value in security_headers(self.version)
        )
        users = list(users) if users is not None else []
        self.credentials = auth.Credentials(users or [auth.DEFAULT_USER], api_keys, bearer_tokens)
        self.backend = FleetBackend(self.version, os.fspath(data) if data else None, policies)
        self.api = KibanaApi(self.backend, self.credentials, self.base_path)
        self.faults = FaultInjector()
        self.pending = PendingCommits()
        self.counter = RequestCounter()
        self.control = ControlApi(self.faults, self.counter, self.reset)
        self._initial_faults = load_fault_plan(faults) if faults is not None else None
        if self._initial_faults is not None:
            self.faults.load(self._initial_faults)
        self._log_stream = log_stream
        self._log_lock = threading.Lock()
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------
    def bind(self) -> EmulatorServer:
        """Open the listening socket (``url`` is known from here on)."""
        if self._httpd is None:
            self._httpd = _HttpServer((self.host, self.requested_port), self)
        return self

    def start(self) -> EmulatorServer:
        """Bind and serve in a background thread."""
        httpd = self.bind()._httpd
        assert httpd is not None
        if self._thread is None:
            self._thread = threading.Thread(
                target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Bind and serve in the calling thread until interrupted."""
        httpd = self.bind()._httpd
        assert httpd is not None
        try:
            httpd.serve_forever(poll_interval=0.2)
        finally:
            self._close()

    def stop(self) -> None:
        """Stop serving, close connections and the store."""
        if self._httpd is not None and self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._close()

    def _close(self) -> None:
        self.pending.cancel()
        if self._httpd is not None:
            self._httpd.server_close()
            self._httpd.close_connections()
            self._httpd = None
        self._thread = None
        self.backend.close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound TCP port."""
        if self._httpd is None:
            raise RuntimeError("the emulator is not bound yet; call start()")
        return int(self._httpd.server_address[1])

    @property
    def root_url(self) -> str:
        """Scheme, host and port, e.g. ``http://127.0.0.1:5601``: where ``/_emulator`` is."""
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"http://{host}:{self.port}"

    @property
    def url(self) -> str:
        """Kibana's URL, e.g. ``http://127.0.0.1:5601`` (with the base path, if any)."""
        return self.root_url + self.base_path

    def reset(self) -> None:
        """Back to the start state: no keys, policies, spaces, faults, counts or held requests."""
        # Held commit_late requests first, so that none lands after the reset.
        self.pending.cancel()
        self.backend.reset()
        self.faults.clear()
        self.counter.clear()

    # -- request path -----------------------------------------------------------------
    def respond(self, request: ApiRequest, drop: Callable[[str], NoReturn]) -> ApiResponse:
        """Answer a request, applying fault rules to Kibana API paths."""
        if request.path.startswith(CONTROL_PREFIX) or request.path == CONTROL_PREFIX.rstrip("/"):
            return self.control.handle(request)
        self.counter.count(request.method, request.path)
        rule = self.faults.decide(request.method, request.path)
        if rule is None:
            return self.api.handle(request)
        return apply_fault(rule, request, self.api.handle, drop, self.pending)

    def log(self, method: str, path: str, outcome: str, started: float) -> None:
        """Write one access-log line: method, path (no query), status, milliseconds."""
        if self._log_stream is None:
            return
        elapsed = (time.perf_counter() - started) * 1000
        with self._log_lock:
            self._log_stream.write(f"{method} {path} {outcome} {elapsed:.1f}ms\n")
            self._log_stream.flush()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line (``cli.main``); kept for scripts that name ``server:main``."""
    from .cli import main as cli_main  # noqa: PLC0415 - cli imports this module

    return cli_main(argv)
