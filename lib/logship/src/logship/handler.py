"""The CloudWatch Logs ``logging.Handler``: formats each record once and hands it to this
process's intake; everything else is delegated.

* :mod:`logship.intake` — admitting a record: clock window, journal line, bounded buffer
  (spilling to the spool when full), waking the sender;
* :mod:`logship.sender` — the sender thread (a greenlet under gevent's patching) and the
  flush/close deadline;
* :mod:`logship.delivery` — one batch: retries with backoff, stream creation, rejections,
  CloudWatch's health;
* :mod:`logship.storage` — spool writes and replays, journal checkpoints and recovery;
* :mod:`logship.remote` — the CloudWatch Logs calls (client settings, group and stream
  creation, ``PutLogEvents``);
* :mod:`logship.state` — the per-process state those share, as a few small objects;
* :mod:`logship.process` — building those parts for the current process.

The handler owns the per-process life cycle: it builds its parts in the process that logs, and
again in a forked child. Records from botocore, boto3, urllib3 and s3transfer, and any record
logged while logship itself works, never come back into it. ``flush(timeout)`` /
``close(timeout)`` deliver or spool every buffered event by a deadline and never raise; they
are safe in gunicorn's ``worker_exit`` (sync, gthread, gevent) and at interpreter exit.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from .config import DEFAULT_STREAM_TEMPLATE, validate_stream_template
from .formatter import JsonFormatter
from .limits import (
    DEFAULT_MAX_MESSAGE_BYTES,
    EVENT_OVERHEAD_BYTES,
    MAX_MESSAGE_BYTES_HARD,
    RETENTION_DAYS,
)
from .process import Process, build_process
from .remote import make_client
from .sender import IN_HANDLER
from .state import Notices

if TYPE_CHECKING:
    from mypy_boto3_logs.client import CloudWatchLogsClient

    from .journal import Journal

__all__ = [
    "IGNORED_LOGGERS",
    "INSTANCES",
    "INTERNAL_ATTR",
    "STATS_LOGGER",
    "CloudWatchHandler",
    "ignored",
]

#: Loggers whose records never reach this handler (they log our own HTTP calls).
IGNORED_LOGGERS: Final = ("botocore", "boto3", "urllib3", "s3transfer")
STATS_LOGGER: Final = "logship.stats"

_IGNORED_PREFIXES: Final = tuple(IGNORED_LOGGERS)
INTERNAL_ATTR: Final = "_logship_internal"
INSTANCES: weakref.WeakSet[CloudWatchHandler] = weakref.WeakSet()

# Guards per-process (re)initialisation; re-created in a forked child.
_PROCESS_LOCK = threading.Lock()
# Bumped in every forked child; cheaper to compare than calling os.getpid() per record.
_FORK_GENERATION = 0


def _after_fork_in_child() -> None:
    global _PROCESS_LOCK, _FORK_GENERATION  # noqa: PLW0603 - fresh after fork
    _PROCESS_LOCK = threading.Lock()
    _FORK_GENERATION += 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def ignored(name: str) -> bool:
    """Whether records of logger ``name`` are kept out (our own transport's loggers)."""
    return name.startswith(_IGNORED_PREFIXES) and name.split(".", 1)[0] in IGNORED_LOGGERS


class CloudWatchHandler(logging.Handler):
    """Ship log records to one CloudWatch Logs group, one stream per process.

    :param log_group_name: the log group.
    :param service: service name (formatter field and ``{service}`` in the stream template).
    :param environment: environment name (formatter field, ``{environment}``).
    :param stream_template: stream name; fields ``{service}``, ``{environment}``,
        ``{hostname}``, ``{pid}``, ``{program}``, ``{uuid}`` (random per process), and
        watchtower's names ``{machine_name}``, ``{program_name}``, ``{process_id}``,
        ``{strftime:%Y-%m-%d}`` (evaluated when the process starts shipping).
    :param boto3_client: a CloudWatch Logs client (see :func:`make_client`); otherwise one is
        built from ``region_name``, ``endpoint_url`` and ``boto3_profile_name``.
    :param create_log_group: create the group if missing (and apply ``retention_days``), in
        the background.
    :param buffer_max_bytes: memory bound: UTF-8 bytes of buffered messages plus 26 per event.
    :param buffer_max_events: bound on buffered events.
    :param flush_interval: seconds between sends when batches do not fill up.
    :param spool_dir: where failed batches go (``None``: no spool, failed batches are dropped
        and counted).
    :param spool_max_bytes: bound on the spool directory's size (shared by its processes).
    :param max_attempts: tries per batch before it is spooled.
    :param backoff_base: first retry delay bound (seconds); doubles per try, full jitter.
    :param backoff_cap: longest retry delay bound (seconds).
    :param probe_interval_cap: longest wait before testing a failing endpoint again.
    :param shutdown_timeout: default deadline of :meth:`flush` and :meth:`close`.
    :param stats_interval: seconds between ``logship.stats`` records (0 disables them).
    """

    cwl_client: CloudWatchLogsClient

    def __init__(
        self,
        log_group_name: str,
        *,
        service: str = "app",
        environment: str = "",
        stream_template: str = DEFAULT_STREAM_TEMPLATE,
        boto3_client: CloudWatchLogsClient | None = None,
        region_name: str | None = None,
        endpoint_url: str | None = None,
        boto3_profile_name: str | None = None,
        create_log_group: bool = False,
        retention_days: int | None = None,
        buffer_max_bytes: int = 8 * 1024 * 1024,
        buffer_max_events: int = 20_000,
        flush_interval: float = 5.0,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        spool_dir: str | os.PathLike[str] | None = None,
        spool_max_bytes: int = 100 * 1024 * 1024,
        max_attempts: int = 4,
        backoff_base: float = 0.25,
        backoff_cap: float = 10.0,
        probe_interval_cap: float = 30.0,
        shutdown_timeout: float = 10.0,
        stats_interval: float = 60.0,
        connect_timeout: float = 3.0,
        read_timeout: float = 10.0,
        formatter: logging.Formatter | None = None,
        level: int = logging.NOTSET,
    ) -> None:
        if not log_group_name:
            raise ValueError("log_group_name is required")
        if retention_days is not None and retention_days not in RETENTION_DAYS:
            raise ValueError(f"retention_days must be one of {sorted(RETENTION_DAYS)}")
        if not 1024 <= max_message_bytes <= MAX_MESSAGE_BYTES_HARD:
            raise ValueError(f"max_message_bytes must be within 1024..{MAX_MESSAGE_BYTES_HARD}")
        if buffer_max_bytes < max_message_bytes + EVENT_OVERHEAD_BYTES:
            raise ValueError("buffer_max_bytes must hold at least one maximum-size message")
        if buffer_max_events < 1 or flush_interval <= 0 or max_attempts < 1:
            raise ValueError("buffer_max_events, flush_interval, max_attempts must be positive")
        validate_stream_template(stream_template)
        super().__init__(level)
        self._own_client = boto3_client is None
        self._client_args: dict[str, Any] = {
            "region_name": region_name,
            "endpoint_url": endpoint_url,
            "profile_name": boto3_profile_name,
            "connect_timeout": connect_timeout,
            "read_timeout": read_timeout,
        }
        self.cwl_client = (
            boto3_client if boto3_client is not None else make_client(**self._client_args)
        )
        self.log_group_name = log_group_name
        self.service = service
        self.environment = environment
        self.stream_template = stream_template
        self.create_group = create_log_group
        self.retention_days = retention_days
        self.buffer_max_bytes = buffer_max_bytes
        self.buffer_max_events = buffer_max_events
        self.flush_interval = float(flush_interval)
        self.max_message_bytes = max_message_bytes
        self.spool_dir = Path(spool_dir) if spool_dir is not None else None
        self.spool_max_bytes = spool_max_bytes
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.probe_interval_cap = probe_interval_cap
        self.shutdown_timeout = float(shutdown_timeout)
        self.stats_interval = float(stats_interval)
        self.setFormatter(
            formatter
            if formatter is not None
            else JsonFormatter(service, environment, max_message_bytes=max_message_bytes)
        )
        self._notices = Notices(service=service, environment=environment)
        self._stats_logger = logging.getLogger(STATS_LOGGER)
        self._closed = False
        self._generation = -1
        self._repaired_seen = 0
        self._proc: Process | None = None
        INSTANCES.add(self)
        self._ensure_process()

    # -- per-process life cycle ------------------------------------------------------------------

    def _process(self) -> Process:
        """This process's working parts (built on first use after a fork)."""
        proc = self._proc
        if proc is None or proc.pid != os.getpid():
            proc = self._ensure_process()
        return proc

    def _ensure_process(self) -> Process:
        """(Re)build per-process state and start the sender in the current process."""
        pid = os.getpid()
        proc = self._proc
        if proc is not None and proc.pid == pid:
            self._generation = _FORK_GENERATION
            return proc
        with _PROCESS_LOCK:
            old = self._proc
            if old is not None and old.pid == pid:
                self._generation = _FORK_GENERATION
                return old
            if old is not None:  # a forked child: the parent's files and client are not ours
                journal = old.shared.journal
                for inherited in (journal.active, journal.paused):
                    if inherited is not None:
                        inherited.forget_after_fork()
                if old.shared.spool is not None:
                    old.shared.spool.forget_after_fork()
                if self._own_client:
                    self.cwl_client = make_client(**self._client_args)
            proc = build_process(self, pid)
            self._proc = proc
            self._generation = _FORK_GENERATION
            if not self._closed:
                proc.sender.start(f"logship-sender-{self.log_group_name}")
            return proc

    @property
    def _journal(self) -> Journal | None:
        """This process's journal while appends work (None when off or paused)."""
        return self._process().shared.journal.active

    # -- logging.Handler API ---------------------------------------------------------------------

    def handle(self, record: logging.LogRecord) -> bool:
        """:meth:`logging.Handler.handle` without the handler-wide lock around :meth:`emit`.

        ``emit`` takes only the process's own lock, around the buffer and the journal, and
        formatting needs none, so the handler lock only serialised formatting between threads.
        Under gevent that lock is a pure-Python ``RLock``: taking and releasing it was 1.7 % of
        a BFF worker's CPU (py-spy, ``bench/logs/run.py --bff --profile``), as much as a fifth
        of what shipping adds per request."""
        if self.filter(record):
            self.emit(record)
            return True
        return False

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep out our own transport's records and anything logged from inside the handler."""
        if IN_HANDLER.get():
            if not record.__dict__.get(INTERNAL_ATTR) and self._proc is not None:
                self._proc.shared.counters.suppressed += 1
            return False
        if ignored(record.name) or INTERNAL_ATTR in record.__dict__:
            return False
        return bool(super().filter(record)) if self.filters else True

    def emit(self, record: logging.LogRecord) -> None:
        """Format and buffer one record (never blocks on the network)."""
        token = IN_HANDLER.set(True)
        try:
            proc = self._proc
            if proc is None or self._generation != _FORK_GENERATION:
                proc = self._ensure_process()
            if self._closed:
                self._late(proc, record)
                return
            formatter = self.formatter
            if type(formatter) is JsonFormatter:  # the hot path, inlined
                text, size, truncated = formatter.format_event(record)
                proc.intake.add(
                    int(record.created) * 1000 + int(record.msecs),
                    record.levelno,
                    text,
                    size,
                    truncated,
                )
                if truncated or formatter.repaired != self._repaired_seen:
                    self._format_notices(formatter, truncated)
            else:
                self._enqueue_record(proc, record)
        except Exception:  # noqa: BLE001 - logging handlers report through handleError
            self.handleError(record)
        finally:
            IN_HANDLER.reset(token)

    def _late(self, proc: Process, record: logging.LogRecord) -> None:
        """A record logged after :meth:`close`: to the spool, for the next process (see
        :meth:`~logship.intake.Intake.add_late`)."""
        text, size, _ = self._formatted(record)
        timestamp = int(record.created) * 1000 + int(record.msecs)
        proc.intake.add_late(timestamp, record.levelno, text, size)

    def _format_notices(self, formatter: JsonFormatter, truncated: bool) -> None:
        """Say once a minute that records were cut to size or repaired (counted per record)."""
        if truncated:
            self._notices.say(
                "truncated",
                "records over the size bound were cut inside the JSON (counted as truncated)",
                data={"max_message_bytes": self.max_message_bytes},
            )
        repaired = formatter.repaired
        if repaired != self._repaired_seen:
            self._repaired_seen = repaired
            repairs = {reason: count for reason, count in formatter.repairs.items() if count}
            self._notices.say(
                "repaired",
                "records that could not be written as JSON as logged were repaired "
                "(counted as repaired)",
                data={"repaired": repairs},
            )

    def _enqueue_record(self, proc: Process, record: logging.LogRecord) -> None:
        text, size, truncated = self._formatted(record)
        timestamp = int(record.created) * 1000 + int(record.msecs)
        proc.intake.add(timestamp, record.levelno, text, size, truncated)

    def _formatted(self, record: logging.LogRecord) -> tuple[str, int, bool]:
        """The record's text, its UTF-8 size and whether it was cut, by any formatter."""
        formatter = self.formatter
        if isinstance(formatter, JsonFormatter):  # a subclass: notices as on the hot path
            text, size, truncated = formatter.format_event(record)
            if truncated or formatter.repaired != self._repaired_seen:
                self._format_notices(formatter, truncated)
            return text, size, truncated
        text = self.format(record)
        raw = text.encode("utf-8", "replace")
        truncated = False
        if len(raw) > self.max_message_bytes:
            raw = raw[: self.max_message_bytes].decode("utf-8", "ignore").encode("utf-8")
            text = raw.decode("utf-8")
            truncated = True
        return text, len(raw), truncated

    def flush(self, timeout: float | None = None) -> None:
        """Deliver, or spool, every event buffered so far, within ``timeout`` seconds
        (default ``shutdown_timeout``). Never raises."""
        try:
            self._flush(timeout, closing=False)
        except Exception as exc:  # noqa: BLE001 - flush must never raise (atexit, worker_exit)
            self._notices.say("flush", f"flush failed: {exc!r}")

    def close(self, timeout: float | None = None) -> None:
        """Flush within ``timeout`` seconds, stop the sender and release the spool.
        Idempotent; never raises."""
        try:
            if not self._closed:
                self._flush(timeout, closing=True)
        except Exception as exc:  # noqa: BLE001 - close must never raise (atexit, worker_exit)
            self._notices.say("close", f"close failed: {exc!r}")
        finally:
            self._closed = True
            proc = self._proc
            if proc is not None and proc.pid == os.getpid():
                with contextlib.suppress(Exception):
                    proc.storage.close_journal()
                with contextlib.suppress(Exception):
                    if proc.shared.spool is not None:
                        proc.shared.spool.close()
            logging.Handler.close(self)

    def _flush(self, timeout: float | None, closing: bool) -> None:
        proc = self._proc
        if proc is None or proc.pid != os.getpid():
            # A forked process that never logged through this handler: nothing of its own.
            if closing:
                self._closed = True
            return
        budget = self.shutdown_timeout if timeout is None else max(0.0, float(timeout))
        proc.sender.flush(budget, closing)

    # -- counters --------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counters (events unless noted) and current state.

        ``queued`` accepted into the buffer; ``sent`` accepted by CloudWatch (replays
        included); ``retried`` retry attempts (requests); ``spooled`` written to the spool;
        ``replayed`` delivered from the spool; ``throttled`` calls refused for the account's
        request rate (their events are sent again by a later call); ``dropped`` given up, by
        level; ``rejected`` refused by CloudWatch or, for their age, not sent (``too_old``,
        ``too_new``, ``expired``, ``invalid``); ``truncated`` cut to ``max_message_bytes``;
        ``suppressed`` records logged from inside the handler and ignored; ``unjournaled``
        not written to the journal; ``journal_recovered`` / ``journal_corrupt`` records of
        dead processes moved to the spool / unreadable; ``spool_failed`` events the spool
        could not take (kept in memory); ``spool_corrupt`` unreadable spool lines and files;
        ``clock_adjusted`` records shipped at logging time for a timestamp CloudWatch
        refuses; ``repaired`` records made valid JSON, by reason
        (:data:`~logship.formatter.REPAIR_REASONS`); ``spool`` and ``journal`` whether each
        is working; ``pace_per_s`` the paced call rate while throttled (0: not paced).
        """
        proc = self._process()
        shared = proc.shared
        with shared.cond:
            counters = shared.counters
            return {
                "queued": counters.queued,
                "sent": counters.sent,
                "retried": counters.retried,
                "throttled": counters.throttled,
                "spooled": counters.spooled,
                "replayed": counters.replayed,
                "dropped": dict(counters.dropped),
                "dropped_total": sum(counters.dropped.values()),
                "rejected": dict(counters.rejected),
                "truncated": counters.truncated,
                "suppressed": counters.suppressed,
                "unjournaled": counters.unjournaled,
                "journal_recovered": counters.journal_recovered,
                "journal_corrupt": counters.journal_corrupt,
                "spool_failed": counters.spool_failed,
                "spool_corrupt": counters.spool_corrupt,
                "clock_adjusted": dict(counters.clock_adjusted),
                "repaired": self._repairs(),
                "spool": shared.spool is not None,
                "journal": shared.journal.active is not None,
                "buffer_events": shared.buffer.count,
                "buffer_bytes": shared.buffer.bytes,
                "buffer_bytes_peak": counters.buffer_bytes_peak,
                "buffer_max_bytes": self.buffer_max_bytes,
                "healthy": shared.health.healthy,
                "pace_per_s": round(shared.pacer.rate, 4),
                "log_group": self.log_group_name,
                "log_stream": proc.stream,
            }

    def _repairs(self) -> dict[str, int]:
        formatter = self.formatter
        if isinstance(formatter, JsonFormatter):
            return {reason: count for reason, count in formatter.repairs.items() if count}
        return {}

    def _emit_stats(self) -> None:
        """Log the counters as a ``logship.stats`` record: into our own buffer directly, and to
        the logger's other handlers (ours ignores it, so it cannot recurse)."""
        snapshot = self.stats()
        record = self._stats_logger.makeRecord(
            STATS_LOGGER,
            logging.INFO,
            __file__,
            0,
            "logship stats",
            (),
            None,
            func="stats",
            extra={"data": snapshot, INTERNAL_ATTR: True},
        )
        try:
            if not self._closed:
                self._enqueue_record(self._process(), record)
            self._stats_logger.handle(record)
        except Exception as exc:  # noqa: BLE001 - stats must never stop the sender
            self._notices.say("stats", f"stats record failed: {exc!r}")

    def __repr__(self) -> str:
        stream = self._proc.stream if self._proc is not None else ""
        return f"{type(self).__name__}(log_group_name={self.log_group_name!r}, stream={stream!r})"
