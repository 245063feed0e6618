"""Per-request correlation ids, bound once by the web framework and read by the formatter.

Backed by a :class:`contextvars.ContextVar`, so values are isolated per thread, per asyncio
task and per gevent greenlet::

    with context.bind(request_id=rid, trace_id=tid):
        handle_request()

or, when enter and exit happen in different callbacks (Flask ``before_request`` /
``teardown_request``)::

    binding = context.bind(request_id=rid)
    ...
    binding.reset()
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar, Token
from dataclasses import dataclass
from types import TracebackType
from typing import Final

__all__ = [
    "Binding",
    "LogContext",
    "bind",
    "clear",
    "current",
    "new_request_id",
    "trace_id_from_traceparent",
]


@dataclass(frozen=True, slots=True)
class LogContext:
    """The correlation ids currently bound."""

    request_id: str | None = None
    trace_id: str | None = None


_EMPTY: Final = LogContext()
_CONTEXT: ContextVar[LogContext] = ContextVar("logship_context", default=_EMPTY)


class _Unset:
    __slots__ = ()


_UNSET: Final = _Unset()


class Binding:
    """Undo handle returned by :func:`bind`; also a context manager."""

    __slots__ = ("_done", "_previous", "_token")

    def __init__(self, token: Token[LogContext], previous: LogContext) -> None:
        self._token = token
        self._previous = previous
        self._done = False

    @property
    def context(self) -> LogContext:
        """What was bound."""
        return self._token.var.get()

    def reset(self) -> None:
        """Restore what was bound before; idempotent, never raises."""
        if self._done:
            return
        self._done = True
        try:
            _CONTEXT.reset(self._token)
        except (ValueError, RuntimeError):
            # Reset from another context (e.g. another greenlet): restore by value instead.
            _CONTEXT.set(self._previous)

    def __enter__(self) -> LogContext:
        return _CONTEXT.get()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.reset()


def _clean(value: object) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text[:256] if text else None


def bind(
    *,
    request_id: str | None | _Unset = _UNSET,
    trace_id: str | None | _Unset = _UNSET,
) -> Binding:
    """Bind ids for the current context; an argument left out keeps its current value."""
    previous = _CONTEXT.get()
    new = LogContext(
        request_id=previous.request_id if isinstance(request_id, _Unset) else _clean(request_id),
        trace_id=previous.trace_id if isinstance(trace_id, _Unset) else _clean(trace_id),
    )
    return Binding(_CONTEXT.set(new), previous)


def clear() -> Binding:
    """Unbind both ids (returns a handle that restores them)."""
    return bind(request_id=None, trace_id=None)


def current() -> LogContext:
    """The ids bound in the current context."""
    return _CONTEXT.get()


def new_request_id() -> str:
    """A fresh random request id (32 hex characters)."""
    return uuid.uuid4().hex


_REQUEST_ID: Final = re.compile(r"[A-Za-z0-9._-]{1,128}")


def request_id_from(value: str | None) -> str:
    """A client's ``X-Request-ID`` if it is 1-128 of ``[A-Za-z0-9._-]`` and no personal-data
    rule would change it (a card number or a JWT fits that alphabet, and a request id is logged
    as is, unscrubbed, so joins keep working), otherwise a fresh id."""
    if value and _REQUEST_ID.fullmatch(value):
        from .scrub import scrub_text  # the rules live there; imported late (no cycle)

        if scrub_text(value) == value:
            return value
    return new_request_id()


_TRACEPARENT: Final = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}")


def trace_id_from_traceparent(header: str | None) -> str | None:
    """The trace id of a W3C ``traceparent`` header, or None when absent or malformed."""
    if not header:
        return None
    match = _TRACEPARENT.match(header.strip().lower())
    if match is None or match.group(1) == "0" * 32:
        return None
    return match.group(1)
