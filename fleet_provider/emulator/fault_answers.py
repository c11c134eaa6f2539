"""What the client sees when a fault rule fires: a bad answer, a cut one, a late one, or none."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import NoReturn

from .faults import FaultRule
from .messages import ApiRequest, ApiResponse, error_response, reason

Handle = Callable[[ApiRequest], ApiResponse]
Drop = Callable[[str], NoReturn]

_HTML_PAGE = (
    "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
_GARBAGE = b'{"item":{"id":"'
# Kibana core's router answers an unhandled handler error with Boom's bare 500
# (``hapiResponseAdapter.toInternalError()`` in router.ts, 8.x and 9.x).
_BOOM_500 = "An internal server error occurred"


class PendingCommits:
    """Requests ``commit_late`` holds back; ``cancel`` drops those still waiting."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._epoch = 0

    def cancel(self) -> None:
        """Wake every held request and make it hang up unprocessed (reset, stop)."""
        with self._condition:
            self._epoch += 1
            self._condition.notify_all()

    def run_later(self, seconds: float, run: Callable[[], ApiResponse]) -> ApiResponse | None:
        """Wait ``seconds``, then ``run``; None if cancelled meanwhile.

        Only this request's thread waits: the server serves others in theirs. ``run`` is
        called under the lock ``cancel`` takes, so a reset never interleaves with a
        late commit and wipes it or is undone by it.
        """
        deadline = time.monotonic() + seconds
        with self._condition:
            epoch = self._epoch
            while self._epoch == epoch:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return run()
                self._condition.wait(remaining)
            return None


def apply_fault(
    rule: FaultRule,
    request: ApiRequest,
    handle: Handle,
    drop: Drop,
    pending: PendingCommits,
) -> ApiResponse:
    """Answer ``request`` as ``rule`` says; ``handle`` is the real API, ``drop`` hangs up."""
    action = rule.action
    if action == "reset":
        drop("reset")
    if action == "drop_after_commit":
        handle(request)
        drop("dropped")
    if action == "delay":
        time.sleep(rule.delay_ms / 1000)
        return handle(request)
    if action == "garbage":
        return ApiResponse(200, _GARBAGE)
    if action == "truncate":
        return _truncated(rule, handle(request))
    if action == "commit_late":
        late = pending.run_later(rule.delay_ms / 1000, lambda: handle(request))
        if late is None:
            drop("cancelled")
        if rule.then == "drop":
            drop("dropped")
        return late
    if action == "commit_then_status":
        handle(request)
    return _error_answer(rule)


def _truncated(rule: FaultRule, response: ApiResponse) -> ApiResponse:
    """The real answer, marked to be cut short: always at least one byte missing."""
    size = len(response.body)
    keep = rule.keep_bytes if rule.keep_bytes is not None else int(size * (rule.fraction or 0))
    response.truncate_to = max(min(keep, size - 1), 0)
    return response


def _error_answer(rule: FaultRule) -> ApiResponse:
    """The ``status``, ``html`` and ``commit_then_status`` answers: Kibana's or a proxy's."""
    status = rule.status or 502
    if rule.action == "html" or rule.body == "html":
        page = _HTML_PAGE.format(status=status, reason=reason(status))
        response = ApiResponse(status, page.encode(), "text/html")
    else:
        default = _BOOM_500 if rule.action == "commit_then_status" and status == 500 else None
        response = error_response(status, rule.message or default or reason(status))
    if rule.retry_after is not None:
        response.headers["Retry-After"] = f"{rule.retry_after:g}"
    return response
