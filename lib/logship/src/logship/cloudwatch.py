"""CloudWatch Logs shipping, as configured by name: :class:`CloudWatchHandler` (in
:mod:`logship.handler`), :class:`LazyCloudWatchHandler` that builds one in the process that
logs (for ``dictConfig`` and pre-fork masters), and :func:`flush_all` / :func:`close_all` for
every handler of the process.

Reused from watchtower: nothing any more. The handler subclassed
``watchtower.CloudWatchLogHandler`` and replaced its queues, threads, sending, truncation,
flush, close, filter and formatter; what it still called (``_ensure_log_group``,
``_idempotent_call``, ``_get_machine_name``: about 25 of watchtower's 544 lines) is in
:mod:`logship.remote`, so no private behaviour of watchtower is inherited.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any, Final

from .config import DEFAULT_SPOOL_DIR, DEFAULT_STREAM_TEMPLATE
from .handler import (
    IGNORED_LOGGERS,
    INSTANCES,
    INTERNAL_ATTR,
    STATS_LOGGER,
    CloudWatchHandler,
    ignored,
)
from .remote import client_config, make_client
from .sender import GREENLET_BATCH_BYTES, IN_HANDLER
from .state import Notices, level_name

__all__ = [
    "DEFAULT_SPOOL_DIR",
    "DEFAULT_STREAM_TEMPLATE",
    "GREENLET_BATCH_BYTES",
    "IGNORED_LOGGERS",
    "STATS_LOGGER",
    "CloudWatchHandler",
    "LazyCloudWatchHandler",
    "client_config",
    "close_all",
    "flush_all",
    "level_name",
    "make_client",
]

#: A failed construction is tried again after this many seconds.
RETRY_CREATE_AFTER: Final = 60.0


class LazyCloudWatchHandler(logging.Handler):
    """Creates its :class:`CloudWatchHandler` on first use in each process.

    Safe to create at import time or in a pre-fork master (Django ``LOGGING``, gunicorn with
    ``preload_app``, uvicorn's multi-process mode): no client, thread or spool exists until a
    record is handled in the process that will ship it. Construction errors are reported on
    stderr (rate-limited) and retried after a minute; records meanwhile are counted as dropped.
    """

    def __init__(self, level: int = logging.NOTSET, **handler_kwargs: Any) -> None:
        super().__init__(level)
        self.handler_kwargs = handler_kwargs
        self._inner: CloudWatchHandler | None = None
        self._pid = -1
        self._failed_at: float | None = None
        self._dropped = 0
        self._notices = Notices(
            service=str(handler_kwargs.get("service") or ""),
            environment=str(handler_kwargs.get("environment") or ""),
        )

    @property
    def inner(self) -> CloudWatchHandler | None:
        """The real handler of this process, if created."""
        return self._inner if self._pid == os.getpid() else None

    def _get(self) -> CloudWatchHandler | None:
        if self._pid == os.getpid() and self._inner is not None:
            return self._inner
        if self._pid != os.getpid():
            self._inner = None
            self._failed_at = None
            self._pid = os.getpid()
        if self._failed_at is not None and time.monotonic() - self._failed_at < RETRY_CREATE_AFTER:
            return None
        token = IN_HANDLER.set(True)
        try:
            kwargs = dict(self.handler_kwargs)
            if self.formatter is not None and "formatter" not in kwargs:
                kwargs["formatter"] = self.formatter
            self._inner = CloudWatchHandler(**kwargs)
            self._failed_at = None
        except Exception as exc:  # noqa: BLE001 - logging must keep working without CloudWatch
            self._failed_at = time.monotonic()
            self._notices.say("create", f"CloudWatch handler not created: {exc!r}")
        finally:
            IN_HANDLER.reset(token)
        return self._inner

    def filter(self, record: logging.LogRecord) -> bool:
        """Same exclusions as :meth:`CloudWatchHandler.filter`."""
        if IN_HANDLER.get() or record.__dict__.get(INTERNAL_ATTR):
            return False
        if ignored(record.name):
            return False
        return bool(super().filter(record))

    def emit(self, record: logging.LogRecord) -> None:
        """Hand the record to this process's handler."""
        inner = self._get()
        if inner is None:
            self._dropped += 1
            return
        inner.handle(record)

    def setFormatter(self, fmt: logging.Formatter | None) -> None:  # noqa: N802 - logging API
        """Also applies to the real handler."""
        super().setFormatter(fmt)
        inner = self.inner
        if inner is not None and fmt is not None:
            inner.setFormatter(fmt)

    def stats(self) -> dict[str, Any]:
        """The real handler's counters (empty before first use)."""
        inner = self.inner
        return inner.stats() if inner is not None else {"not_started": True}

    def flush(self, timeout: float | None = None) -> None:
        """Flush the real handler, if any. Never raises."""
        inner = self.inner
        if inner is not None:
            inner.flush(timeout)

    def close(self, timeout: float | None = None) -> None:
        """Close the real handler, if any. Never raises."""
        inner = self.inner
        try:
            if inner is not None:
                inner.close(timeout)
        finally:
            super().close()


def _live_handlers() -> list[CloudWatchHandler]:
    pid = os.getpid()
    return [
        handler
        for handler in list(INSTANCES)
        if handler._proc is not None and handler._proc.pid == pid
    ]


def flush_all(timeout: float = 10.0) -> None:
    """Flush every CloudWatch handler of this process within one shared deadline."""
    deadline = time.monotonic() + timeout
    for handler in _live_handlers():
        handler.flush(max(0.0, deadline - time.monotonic()))


def close_all(timeout: float = 10.0) -> None:
    """Close every CloudWatch handler of this process within one shared deadline."""
    deadline = time.monotonic() + timeout
    for handler in _live_handlers():
        handler.close(max(0.0, deadline - time.monotonic()))
