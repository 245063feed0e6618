"""CloudWatch Logs handler built on watchtower's :class:`watchtower.CloudWatchLogHandler`.

Reused from watchtower: boto3 client/profile handling, log group creation
(``_ensure_log_group``), idempotent calls (``_idempotent_call``: stream creation, retention),
host naming. Replaced: its unbounded per-stream queues and per-stream threads, its sending
(which drops a batch after its retries), its byte truncation (which breaks JSON) and its
flush/close (which hang or raise under gevent and lose queued events).

What this handler does instead:

* formats each record once with :class:`~logship.formatter.JsonFormatter` (valid JSON even
  when cut to size) and puts it in a bounded buffer (bytes and events);
* one sender thread per process (a greenlet when gevent has patched threading) builds
  batches within every PutLogEvents limit and sends them when a batch is full or every
  ``flush_interval`` seconds;
* with a spool directory, writes every accepted record to a per-process journal file before
  ``emit`` returns (one ``os.write``; see :mod:`logship.journal`), so records of a process
  that is killed are delivered by the next process on the same directory;
* retries throttling, 5xx and connection errors with exponential backoff and full jitter;
  batches that still fail go to a capped on-disk spool, replayed when CloudWatch answers again
  and when a new process starts on the same spool directory;
* when buffer and spool are full, lower levels are dropped first and every drop is counted;
* ``flush(timeout)`` / ``close(timeout)`` deliver or spool every buffered event by a deadline
  and never raise; they are safe in gunicorn's ``worker_exit`` (sync, gthread, gevent) and at
  interpreter exit;
* records from botocore, boto3, urllib3 and s3transfer, and any record logged while the
  handler itself is working, never come back into it.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import enum
import logging
import os
import platform
import random
import sys
import threading
import time
import uuid
import weakref
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import boto3
import botocore.config
import watchtower
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from .batching import BatchBuilder, Event, batch_cost, plan_batches
from .buffer import EventBuffer
from .config import DEFAULT_SPOOL_DIR, DEFAULT_STREAM_TEMPLATE, validate_stream_template
from .formatter import JsonFormatter
from .journal import Journal, recover_dead
from .limits import (
    DEFAULT_MAX_MESSAGE_BYTES,
    EVENT_OVERHEAD_BYTES,
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    MAX_EVENT_AGE_MS,
    MAX_EVENT_FUTURE_MS,
    MAX_MESSAGE_BYTES_HARD,
    RETENTION_DAYS,
)
from .notices import notice
from .spool import ClaimedFile, Spool

if TYPE_CHECKING:
    from mypy_boto3_logs.client import CloudWatchLogsClient
    from mypy_boto3_logs.type_defs import InputLogEventTypeDef

__all__ = [
    "DEFAULT_SPOOL_DIR",
    "DEFAULT_STREAM_TEMPLATE",
    "IGNORED_LOGGERS",
    "CloudWatchHandler",
    "LazyCloudWatchHandler",
    "client_config",
    "close_all",
    "flush_all",
    "make_client",
]

#: Loggers whose records never reach this handler (they log our own HTTP calls).
IGNORED_LOGGERS: Final = ("botocore", "boto3", "urllib3", "s3transfer")
STATS_LOGGER: Final = "logship.stats"

_IGNORED_PREFIXES: Final = tuple(IGNORED_LOGGERS)
_IN_HANDLER: ContextVar[bool] = ContextVar("logship_in_handler", default=False)
_INTERNAL_ATTR: Final = "_logship_internal"
_INSTANCES: weakref.WeakSet[CloudWatchHandler] = weakref.WeakSet()

_DROP_CODES: Final = frozenset(
    {"InvalidParameterException", "ValidationException", "SerializationException"}
)
_ACCEPTED_CODES: Final = frozenset({"DataAlreadyAcceptedException"})
_LEVEL_NAMES: Final = {
    logging.DEBUG: "DEBUG",
    logging.INFO: "INFO",
    logging.WARNING: "WARNING",
    logging.ERROR: "ERROR",
    logging.CRITICAL: "CRITICAL",
}

#: Batch cap when the sender is a greenlet (gevent has patched threading): building, signing and
#: writing a PutLogEvents request holds the hub for its whole duration (about 6.5 ms of CPU per
#: MiB on an idle core, more on busy ones), so every request in the process waits that long.
#: A quarter of CloudWatch's limit keeps each hold short; events and delivery are unchanged.
GREENLET_BATCH_BYTES: Final = 256 * 1024
#: Spool files merged into one replay at most (each is one flush interval's batch).
REPLAY_MERGE_FILES: Final = 64
#: A record is given the time it was logged when its own timestamp is older than CloudWatch
#: accepts (14 days, or the retention) less this margin (it may wait in the buffer or spool) ...
CLOCK_MARGIN_OLD_MS: Final = 60 * 60 * 1000
#: ... or further in the future than CloudWatch accepts (2 hours) less this margin.
CLOCK_MARGIN_NEW_MS: Final = 5 * 60 * 1000

_new_event = tuple.__new__  # builds an Event without the NamedTuple constructor's overhead

# Guards per-process (re)initialisation; re-created in a forked child.
_PROCESS_LOCK = threading.Lock()
# Guards the notices' rate limits (a dict lookup, never while writing); re-created after fork.
_NOTICE_LOCK = threading.Lock()


# Bumped in every forked child; cheaper to compare than calling os.getpid() per record.
_FORK_GENERATION = 0


def _sender_is_greenlet() -> bool:
    """Whether a sender "thread" started now would be a greenlet on the caller's hub."""
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and bool(monkey.is_module_patched("threading"))


def _reset_process_lock() -> None:
    global _PROCESS_LOCK, _NOTICE_LOCK, _FORK_GENERATION  # noqa: PLW0603 - fresh after fork
    _PROCESS_LOCK = threading.Lock()
    _NOTICE_LOCK = threading.Lock()
    _FORK_GENERATION += 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_process_lock)


def client_config(
    connect_timeout: float = 3.0, read_timeout: float = 10.0
) -> botocore.config.Config:
    """botocore settings for a log shipping client: our own retries (botocore's off), short
    timeouts so a black-holed endpoint cannot hold a batch for long, a small pool, and no
    client-side parameter validation (the batches are validated here)."""
    return botocore.config.Config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"total_max_attempts": 1, "mode": "standard"},
        max_pool_connections=4,
        tcp_keepalive=True,
        parameter_validation=False,  # batches are built and checked here; saves CPU per event
        user_agent_extra="logship/0.1",
    )


def make_client(
    *,
    region_name: str | None = None,
    endpoint_url: str | None = None,
    profile_name: str | None = None,
    connect_timeout: float = 3.0,
    read_timeout: float = 10.0,
    aws_access_key_id: str | None = None,
    aws_secret_access_key: str | None = None,
    aws_session_token: str | None = None,
) -> CloudWatchLogsClient:
    """A CloudWatch Logs client for the handler (credentials from the usual boto3 chain unless
    given). ``endpoint_url`` points it at an emulator."""
    session = boto3.session.Session(profile_name=profile_name)
    return session.client(
        "logs",
        region_name=region_name,
        endpoint_url=endpoint_url or None,
        config=client_config(connect_timeout, read_timeout),
        aws_access_key_id=aws_access_key_id,
        aws_secret_access_key=aws_secret_access_key,
        aws_session_token=aws_session_token,
    )


def level_name(level: int) -> str:
    """``"INFO"`` for 20, ``"Level 25"`` for custom levels."""
    return _LEVEL_NAMES.get(level) or logging.getLevelName(level)


class _Outcome(enum.Enum):
    SENT = "sent"
    RETRY = "retry"
    DROP = "drop"
    MISSING = "missing"


class _Notices:
    """Rate-limited notices on stderr, one JSON record each (:mod:`logship.notices`; never
    through logging: no feedback loops)."""

    def __init__(self, interval: float = 60.0, service: str = "", environment: str = "") -> None:
        self.interval = interval
        self.service = service
        self.environment = environment
        self._last: dict[str, float] = {}

    def say(self, key: str, message: str, data: Mapping[str, Any] | None = None) -> None:
        now = time.monotonic()
        with _NOTICE_LOCK:
            last = self._last.get(key)
            if last is not None and now - last < self.interval:
                return
            self._last[key] = now
        notice(
            message,
            service=self.service,
            environment=self.environment,
            data={"notice": key, **(data or {})},
            stacklevel=2,
        )


class _Counters:
    __slots__ = (
        "buffer_bytes_peak", "clock_adjusted", "dropped", "journal_corrupt",
        "journal_recovered", "queued", "rejected", "replayed", "retried", "sent",
        "spool_corrupt", "spool_failed", "spooled", "suppressed", "truncated", "unjournaled",
    )  # fmt: skip

    def __init__(self) -> None:
        self.queued = 0
        self.sent = 0
        self.retried = 0
        self.spooled = 0
        self.replayed = 0
        self.truncated = 0
        self.suppressed = 0
        self.buffer_bytes_peak = 0
        self.unjournaled = 0
        self.journal_recovered = 0
        self.journal_corrupt = 0
        self.spool_failed = 0
        self.spool_corrupt = 0
        self.clock_adjusted: dict[str, int] = {"too_old": 0, "too_new": 0}
        self.dropped: dict[str, int] = {}
        self.rejected: dict[str, int] = {"too_old": 0, "too_new": 0, "expired": 0, "invalid": 0}

    def drop(self, level: int, count: int = 1) -> None:
        name = level_name(level)
        self.dropped[name] = self.dropped.get(name, 0) + count


class CloudWatchHandler(watchtower.CloudWatchLogHandler):
    """Ship log records to one CloudWatch Logs group, one stream per process.

    :param log_group_name: the log group.
    :param service: service name (formatter field and ``{service}`` in the stream template).
    :param environment: environment name (formatter field, ``{environment}``).
    :param stream_template: stream name; fields ``{service}``, ``{environment}``,
        ``{hostname}``, ``{pid}``, ``{program}``, ``{uuid}`` (random per process), and
        watchtower's ``{machine_name}``, ``{program_name}``, ``{process_id}``,
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
        self._own_client = boto3_client is None
        self._client_args: dict[str, Any] = {
            "region_name": region_name,
            "endpoint_url": endpoint_url,
            "profile_name": boto3_profile_name,
            "connect_timeout": connect_timeout,
            "read_timeout": read_timeout,
        }
        client = boto3_client if boto3_client is not None else make_client(**self._client_args)
        super().__init__(  # watchtower: stores settings, takes our client, creates nothing
            log_group_name=log_group_name,
            log_stream_name=stream_template,
            use_queues=True,
            send_interval=int(flush_interval) or 1,
            max_batch_size=MAX_BATCH_BYTES,
            max_batch_count=MAX_BATCH_EVENTS,
            boto3_client=client,
            create_log_group=False,
            log_group_retention_days=None,
            create_log_stream=True,
            max_message_size=max_message_bytes,
        )
        self.filters.clear()  # watchtower's botocore DEBUG filter: ours (filter()) is stricter
        self.setLevel(level)
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
        self._batch_bytes = MAX_BATCH_BYTES
        self._trigger_bytes = min(MAX_BATCH_BYTES, buffer_max_bytes // 2)
        self._trigger_events = max(1, min(MAX_BATCH_EVENTS, buffer_max_events // 2))
        self.setFormatter(
            formatter
            if formatter is not None
            else JsonFormatter(service, environment, max_message_bytes=max_message_bytes)
        )
        self._notices = _Notices(service=service, environment=environment)
        self._stats_logger = logging.getLogger(STATS_LOGGER)
        self._closed = False
        self._pid = -1
        self._generation = -1
        self._thread: threading.Thread | None = None
        self._spool: Spool | None = None
        self._journal: Journal | None = None
        self._journal_off: Journal | None = None
        self._journal_wanted = self.spool_dir is not None
        self._repaired_seen = 0
        self._spool_corrupt_seen = 0
        self._stream = ""
        self._init_process_state()
        _INSTANCES.add(self)
        self._ensure_process()

    # -- construction helpers --------------------------------------------------------------------

    def _stream_name(self) -> str:
        hostname = str(self._get_machine_name() or platform.node() or "localhost")
        program = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"
        name = self.stream_template.format(
            service=self.service,
            environment=self.environment,
            hostname=hostname,
            machine_name=hostname,
            pid=os.getpid(),
            process_id=os.getpid(),
            program=program,
            program_name=program,
            uuid=uuid.uuid4().hex[:12],
            strftime=_dt.datetime.now(_dt.UTC),
        )
        name = name.replace(":", "_").replace("*", "_")[:512]
        return name or f"{self.service}-{os.getpid()}"

    def _get_stream_name(self, message: object = None) -> str:
        """The stream this process writes to (watchtower hook)."""
        return self._stream

    def _init_process_state(self) -> None:
        """Fresh synchronisation and buffers (in a new process, or after gevent patching)."""
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._buffer = EventBuffer(self.buffer_max_bytes, self.buffer_max_events)
        self._counters = _Counters()
        self._seq = 0
        self._inflight: list[Event] | None = None
        self._inflight_min = 0
        self._inflight_taken = False
        self._spilling_min: int | None = None
        self._flushing_min: int | None = None
        self._abandoned_min: int | None = None  # dropped at close, left to the journal
        self._journal_retry_at = 0.0
        self._ts_low = 0
        self._ts_high = -1  # the first record computes the accepted window
        self._wake = False
        self._drain_until = 0
        self._flush_requests = 0
        self._stopping = False
        self._stop_sender = False
        self._close_soft_deadline: float | None = None
        self._healthy = True
        self._probe_delay = self.backoff_base
        self._next_probe = 0.0
        now = time.monotonic()
        self._next_flush = now + self.flush_interval
        self._next_stats = now + self.stats_interval if self.stats_interval > 0 else float("inf")
        self._next_replay_check = now
        self._next_recover = now + 60.0
        self._spool_full_until = 0.0

    def _ensure_process(self) -> None:
        """(Re)start per-process state and the sender in the current process."""
        if self._pid == os.getpid():
            self._generation = _FORK_GENERATION
            return
        with _PROCESS_LOCK:
            if self._pid == os.getpid():
                self._generation = _FORK_GENERATION
                return
            forked = self._pid != -1
            if forked:
                for journal in (self._journal, self._journal_off):
                    if journal is not None:
                        journal.forget_after_fork()
                if self._spool is not None:
                    self._spool.forget_after_fork()
                if self._own_client:
                    self.cwl_client = make_client(**self._client_args)
                self._init_process_state()
            self._spool = None
            self._stream = self._stream_name()
            self._journal = self._journal_off = None
            self._open_storage()
            self._pid = os.getpid()
            self._generation = _FORK_GENERATION
            self._batch_bytes = GREENLET_BATCH_BYTES if _sender_is_greenlet() else MAX_BATCH_BYTES
            self._trigger_bytes = min(self._batch_bytes, self.buffer_max_bytes // 2)
            if not self._closed:
                thread = threading.Thread(
                    target=self._run, name=f"logship-sender-{self.log_group_name}", daemon=True
                )
                self._thread = thread
                thread.start()

    def _open_storage(self) -> None:
        """Open the spool and the journal where they are missing (at start, and again every
        minute after a failure: a read-only or full directory that recovers is used again).
        Without them records are shipped from memory and counted as ``unjournaled``."""
        if self.spool_dir is None:
            return
        spool = self._spool
        if spool is None:
            try:
                spool = Spool(self.spool_dir, self.spool_max_bytes, self.log_group_name)
            except OSError as exc:
                self._notices.say(
                    "spool",
                    f"spool disabled ({self.spool_dir}: {exc!r}); records are kept in memory "
                    "only, retried every minute",
                )
                return
            with self._lock:
                self._spool = spool
                self._spool_full_until = 0.0
        if self._journal is not None or self._journal_off is not None:
            return
        try:
            journal = Journal(
                spool.directory,
                spool.group_key,
                self.log_group_name,
                spool.owner,
                self._stream,
                max_bytes=self.spool_max_bytes,
            )
        except OSError as exc:
            self._notices.say(
                "journal",
                f"journal disabled ({spool.directory}: {exc!r}); records are kept in memory "
                "only, retried every minute",
            )
            return
        with self._lock:
            self._journal = journal

    def _clock_window(self) -> int:
        """Refresh the window of record timestamps CloudWatch accepts, less the margins;
        returns now in milliseconds. Call under the lock."""
        now = int(time.time() * 1000)
        self._ts_low = now - self._max_age_ms() + CLOCK_MARGIN_OLD_MS
        self._ts_high = now + MAX_EVENT_FUTURE_MS - CLOCK_MARGIN_NEW_MS
        return now

    def _max_age_ms(self) -> int:
        """Age beyond which CloudWatch refuses an event: 14 days, or the retention if shorter."""
        if self.retention_days and self.retention_days * 86_400_000 < MAX_EVENT_AGE_MS:
            return self.retention_days * 86_400_000
        return MAX_EVENT_AGE_MS

    # -- logging.Handler API ---------------------------------------------------------------------

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep out our own transport's records and anything logged from inside the handler."""
        if _IN_HANDLER.get():
            if not record.__dict__.get(_INTERNAL_ATTR):
                self._counters.suppressed += 1
            return False
        name = record.name
        if name.startswith(_IGNORED_PREFIXES) and name.split(".", 1)[0] in IGNORED_LOGGERS:
            return False
        if _INTERNAL_ATTR in record.__dict__:
            return False
        return bool(super().filter(record)) if self.filters else True

    def emit(self, record: logging.LogRecord) -> None:
        """Format and buffer one record (never blocks on the network)."""
        token = _IN_HANDLER.set(True)
        try:
            if self._generation != _FORK_GENERATION:
                self._ensure_process()
            if self._closed:
                with self._cond:
                    self._counters.drop(record.levelno)
                return
            formatter = self.formatter
            if type(formatter) is JsonFormatter:  # the hot path, inlined
                text, size, truncated = formatter.format_event(record)
                self._enqueue(
                    int(record.created) * 1000 + int(record.msecs),
                    record.levelno,
                    text,
                    size,
                    truncated,
                )
                if truncated or formatter.repaired != self._repaired_seen:
                    self._format_notices(formatter, truncated)
            else:
                self._enqueue_record(record)
        except Exception:  # noqa: BLE001 - logging handlers report through handleError
            self.handleError(record)
        finally:
            _IN_HANDLER.reset(token)

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

    def _enqueue_record(self, record: logging.LogRecord) -> None:
        formatter = self.formatter
        if isinstance(formatter, JsonFormatter):
            text, size, truncated = formatter.format_event(record)
        else:
            text = self.format(record)
            raw = text.encode("utf-8", "replace")
            truncated = False
            if len(raw) > self.max_message_bytes:
                raw = raw[: self.max_message_bytes].decode("utf-8", "ignore").encode("utf-8")
                text = raw.decode("utf-8")
                truncated = True
            size = len(raw)
        timestamp = int(record.created) * 1000 + int(record.msecs)
        self._enqueue(timestamp, record.levelno, text, size, truncated)

    def _enqueue(self, timestamp: int, level: int, text: str, size: int, truncated: bool) -> None:
        spill: list[Event] | None = None
        adjusted = ""
        with self._lock:  # the condition's lock (a plain lock is cheaper to enter)
            self._seq += 1
            counters = self._counters
            if not self._ts_low <= timestamp <= self._ts_high:
                now = self._clock_window()
                if not self._ts_low <= timestamp <= self._ts_high:
                    # CloudWatch would refuse it: ship it at the time it was logged (its JSON
                    # keeps its own timestamp).
                    adjusted = "too_old" if timestamp < self._ts_low else "too_new"
                    counters.clock_adjusted[adjusted] += 1
                    timestamp = now
            journal = self._journal
            if journal is not None:
                try:
                    journal.append(self._seq, timestamp, level, text)
                except OSError as exc:
                    self._journal_failed(exc)
            elif self._journal_off is not None:
                self._journal_paused()
            elif self._journal_wanted:
                counters.unjournaled += 1  # the spool directory is unusable
            event = _new_event(Event, (timestamp, level, text, size, self._seq))
            counters.queued += 1
            if truncated:
                counters.truncated += 1
            buffer = self._buffer
            if (
                buffer.count >= buffer.max_events
                or buffer.bytes + size + EVENT_OVERHEAD_BYTES > buffer.max_bytes
            ):
                if (
                    self._spool is not None
                    and self._spilling_min is None
                    and time.monotonic() >= self._spool_full_until
                ):
                    # Full: move the older half to disk (this thread) instead of dropping.
                    spill = buffer.pop_oldest(
                        max(buffer.bytes // 2, event.cost), max(1, buffer.count // 2)
                    )
                    if spill:
                        self._spilling_min = spill[0].seq
                if buffer.fits(event):
                    buffer.append(event)
                else:
                    evicted = buffer.evict_for(event)
                    if evicted is None:
                        counters.drop(level)
                    else:
                        for victim in evicted:
                            counters.drop(victim.level)
                        buffer.append(event)
            else:
                buffer.append(event)
            if buffer.bytes > counters.buffer_bytes_peak:
                counters.buffer_bytes_peak = buffer.bytes
            if buffer.count == 1:
                self._cond.notify_all()  # the sender may be idle: start the flush timer
            elif not self._wake and (
                buffer.bytes >= self._trigger_bytes or buffer.count >= self._trigger_events
            ):
                self._wake = True
                self._cond.notify_all()
        if adjusted:
            self._notices.say(
                "clock",
                "records with a timestamp CloudWatch would refuse (older than "
                f"{self._max_age_ms() // 86_400_000} days or over 2 hours ahead) were shipped "
                "at the time they were logged; their JSON keeps their own timestamp "
                "(counted as clock_adjusted)",
            )
        if spill:
            failed: list[Event] = []
            try:
                failed = self._spool_events(spill, self._stream)
            finally:
                with self._cond:
                    self._spilling_min = None
                    self._checkpoint(self._take_back(spill, failed))
                    self._cond.notify_all()

    def _take_back(self, events: list[Event], failed: list[Event]) -> list[Event]:
        """Put ``failed`` (events of ``events`` the spool could not take) back into the
        buffer, dropping and counting what does not fit; returns the events of ``events`` now
        resolved (written, or dropped and counted). Call under the lock."""
        if not failed:
            return events
        left = self._buffer.requeue(failed)
        counters = self._counters
        for event in left:
            counters.drop(event.level)
        if self._buffer.bytes > counters.buffer_bytes_peak:
            counters.buffer_bytes_peak = self._buffer.bytes
        back = {event.seq for event in failed}.difference(event.seq for event in left)
        return [event for event in events if event.seq not in back]

    # -- journal ---------------------------------------------------------------------------------

    def _journal_failed(self, exc: OSError) -> None:
        """An append failed (disk full, read-only, over the bound): count the record, pause the
        journal for a second and say so once a minute (under the lock; never raises)."""
        self._counters.unjournaled += 1
        self._journal_off, self._journal = self._journal, None
        self._journal_retry_at = time.monotonic() + 1.0
        with contextlib.suppress(Exception):
            self._notices.say(
                "journal-write",
                f"journal write failed ({exc!r}); records are kept in memory only until it works",
            )

    def _journal_paused(self) -> None:
        self._counters.unjournaled += 1
        if time.monotonic() >= self._journal_retry_at:
            self._journal, self._journal_off = self._journal_off, None  # try again next record

    def _resolved_through(self) -> int:
        """Highest sequence number at or below which every event is resolved (sent, spooled,
        rejected or dropped and counted). Call under the lock."""
        low = self._seq + 1
        oldest = self._buffer.min_seq()
        if oldest is not None and oldest < low:
            low = oldest
        if self._inflight is not None and self._inflight_min < low:
            low = self._inflight_min
        for pending in (self._spilling_min, self._flushing_min, self._abandoned_min):
            if pending is not None and pending < low:
                low = pending
        return low - 1

    def _checkpoint(self, resolved: Sequence[Event] | None = None) -> None:
        """Record in the journal how far everything is resolved, and ``resolved`` (events just
        sent, spooled or given up). Call under the lock."""
        journal = self._journal or self._journal_off
        if journal is None:
            return
        try:
            if resolved:
                journal.resolve([event.seq for event in resolved])
            journal.checkpoint(self._resolved_through())
        except OSError as exc:
            with contextlib.suppress(Exception):
                self._notices.say("journal-checkpoint", f"journal checkpoint failed: {exc!r}")

    def _recover_journals(self) -> None:
        """Move the undelivered records of dead processes' journals (this group) to the spool."""
        spool = self._spool
        if spool is None:
            return
        live: dict[str, bool] = {}

        def write(batch: Sequence[Event], stream: str) -> dict[int, int]:
            result = spool.write(batch, stream)
            return result.dropped

        result = recover_dead(
            spool.directory,
            spool.group_key,
            spool.owner,
            lambda owner: spool.owner_alive(owner, live),
            write,
            plan_batches,
        )
        if not result.owners:
            return
        dropped = sum(result.dropped.values())
        with self._cond:
            counters = self._counters
            counters.journal_recovered += result.events - dropped
            counters.journal_corrupt += result.corrupt
            for level, count in result.dropped.items():
                counters.drop(level, count)
            self._next_replay_check = time.monotonic()
        if result.corrupt or dropped:
            self._notices.say(
                "journal-recovery",
                f"journal recovery: {result.events - dropped} records to the spool, "
                f"{result.corrupt} unreadable lines, {dropped} dropped (spool full)",
            )

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
            with contextlib.suppress(Exception):
                self._close_journal()
            with contextlib.suppress(Exception):
                if self._spool is not None and self._pid == os.getpid():
                    self._spool.close()
            logging.Handler.close(self)

    def _close_journal(self) -> None:
        if self._pid != os.getpid():
            return
        with self._cond:
            journal = self._journal or self._journal_off
            self._journal = self._journal_off = None
            if journal is None:
                return
            resolved = self._resolved_through()
            with contextlib.suppress(OSError):
                journal.checkpoint(resolved)
            journal.close(resolved_all=resolved >= self._seq)

    def _flush(self, timeout: float | None, closing: bool) -> None:
        if self._pid != os.getpid():
            # A forked process that never logged through this handler: nothing of its own.
            if closing:
                self._closed = True
            return
        if self._thread is not None and threading.current_thread() is self._thread:
            return
        budget = self.shutdown_timeout if timeout is None else max(0.0, float(timeout))
        start = time.monotonic()
        deadline = start + budget
        soft = deadline - min(2.0, budget * 0.2)
        cond = self._cond
        leftovers: list[Event] = []
        with cond:
            target = self._seq
            if closing:
                self._stopping = True
                self._close_soft_deadline = soft
            self._flush_requests += 1
            cond.notify_all()
            try:
                while not self._flushed_through(target):
                    remaining = soft - time.monotonic()
                    thread = self._thread
                    if remaining <= 0 or thread is None or not thread.is_alive():
                        break
                    cond.wait(min(remaining, 0.25))
                if not self._flushed_through(target):
                    leftovers = self._buffer.drain()
                    if self._inflight is not None and not self._inflight_taken:
                        self._inflight_taken = True
                        leftovers = self._inflight + leftovers
                    if leftovers:
                        self._flushing_min = min(event.seq for event in leftovers)
            finally:
                self._flush_requests -= 1
        if leftovers:
            failed: list[Event] = []
            try:
                failed = self._spool_events(leftovers, self._stream)
            finally:
                with cond:
                    self._flushing_min = None
                    if failed and closing:
                        # The process is ending: counted as dropped, and left unresolved in
                        # the journal, whose next owner delivers what it holds of them.
                        for event in failed:
                            self._counters.drop(event.level)
                        kept = {event.seq for event in failed}
                        low = min(kept)
                        if self._abandoned_min is None or low < self._abandoned_min:
                            self._abandoned_min = low
                        self._checkpoint([e for e in leftovers if e.seq not in kept])
                    else:
                        self._checkpoint(self._take_back(leftovers, failed))
        if closing:
            with cond:
                self._stop_sender = True
                cond.notify_all()
            thread = self._thread
            if thread is not None and thread.is_alive():
                thread.join(max(0.0, min(0.5, deadline - time.monotonic())))

    def _flushed_through(self, target: int) -> bool:
        oldest = self._buffer.min_seq()
        if oldest is not None and oldest <= target:
            return False
        if self._inflight is not None and not self._inflight_taken and self._inflight_min <= target:
            return False
        return not (self._spilling_min is not None and self._spilling_min <= target)

    # -- counters --------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counters (events unless noted) and current state.

        ``queued`` accepted into the buffer; ``sent`` accepted by CloudWatch (replays
        included); ``retried`` retry attempts (requests); ``spooled`` written to the spool;
        ``replayed`` delivered from the spool; ``dropped`` given up, by level; ``rejected``
        refused by CloudWatch or, for their age, not sent (``too_old``, ``too_new``,
        ``expired``, ``invalid``); ``truncated`` cut to ``max_message_bytes``; ``suppressed``
        records logged from inside the handler and ignored; ``unjournaled`` not written to the
        journal; ``journal_recovered`` / ``journal_corrupt`` records of dead processes moved
        to the spool / unreadable; ``spool_failed`` events the spool could not take (kept in
        memory); ``spool_corrupt`` unreadable spool lines and files; ``clock_adjusted`` records
        shipped at logging time for a timestamp CloudWatch refuses; ``repaired`` records made
        valid JSON, by reason (:data:`~logship.formatter.REPAIR_REASONS`); ``spool`` and
        ``journal`` whether each is working.
        """
        with self._cond:
            counters = self._counters
            return {
                "queued": counters.queued,
                "sent": counters.sent,
                "retried": counters.retried,
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
                "spool": self._spool is not None,
                "journal": self._journal is not None,
                "buffer_events": self._buffer.count,
                "buffer_bytes": self._buffer.bytes,
                "buffer_bytes_peak": counters.buffer_bytes_peak,
                "buffer_max_bytes": self.buffer_max_bytes,
                "healthy": self._healthy,
                "log_group": self.log_group_name,
                "log_stream": self._stream,
            }

    def _repairs(self) -> dict[str, int]:
        formatter = self.formatter
        if isinstance(formatter, JsonFormatter):
            return {reason: count for reason, count in formatter.repairs.items() if count}
        return {}

    # -- sender ----------------------------------------------------------------------------------

    def _run(self) -> None:
        _IN_HANDLER.set(True)
        try:
            if self._spool is not None:
                with contextlib.suppress(OSError):
                    self._recover_journals()
            self._setup_remote()
            if self._spool is not None:
                with contextlib.suppress(OSError):
                    self._spool.recover()
            while True:
                try:
                    if not self._step():
                        break
                except Exception as exc:  # noqa: BLE001 - the sender must outlive any bug
                    self._notices.say("sender", f"sender error (continuing): {exc!r}")
                    self._recover_inflight()
                    with self._cond:
                        self._cond.wait(1.0)
        except BaseException as exc:  # GreenletExit / SystemExit at interpreter exit
            if not self._stopping:
                self._notices.say("sender", f"sender stopped: {exc!r}")
            raise
        finally:
            with contextlib.suppress(Exception), self._cond:
                self._cond.notify_all()

    def _recover_inflight(self) -> None:
        """After an unexpected error: keep the batch that was in flight (spool it)."""
        with self._cond:
            events = self._inflight if not self._inflight_taken else None
        failed: list[Event] = []
        if events:
            try:
                failed = self._spool_events(events, self._stream)
            except Exception:  # noqa: BLE001 - keep it in memory instead
                failed = list(events)
        self._finish_inflight(failed)

    def _step(self) -> bool:
        """Wait for and do one unit of work; False when the sender should exit."""
        cond = self._cond
        action = ""
        events: list[Event] = []
        with cond:
            while True:
                now = time.monotonic()
                buffer = self._buffer
                if self._stop_sender or (self._stopping and buffer.count == 0):
                    return False
                healthy = self._healthy or now >= self._next_probe
                if buffer.count and now >= self._next_flush:
                    # Timed flush: send what is buffered now (not what arrives meanwhile).
                    self._drain_until = self._seq
                    self._next_flush = now + self.flush_interval
                oldest = buffer.min_seq() if buffer.count else None
                # Unhealthy with the spool unusable (full, read-only, missing): memory holds
                # the events until the next probe instead of a drain that cannot be written.
                spoolable = not self._journal_wanted or (
                    self._spool is not None and now >= self._spool_full_until
                )
                if (
                    oldest is not None
                    and (healthy or spoolable)
                    and (
                        self._wake
                        or self._flush_requests
                        or self._stopping
                        or oldest <= self._drain_until
                    )
                ):
                    if healthy:
                        self._clock_window()
                        events = buffer.pop_batch(BatchBuilder(max_bytes=self._batch_bytes))
                        action = "send"
                    else:
                        events = buffer.drain()
                        action = "spool"
                    self._inflight = events
                    self._inflight_min = min(event.seq for event in events)
                    self._inflight_taken = False
                    self._wake = (
                        buffer.bytes >= self._trigger_bytes or buffer.count >= self._trigger_events
                    )
                    break
                self._wake = False
                if buffer.count == 0:
                    # Idle: the next event waits at most one interval from its arrival.
                    self._next_flush = now + self.flush_interval
                if healthy and self._spool is not None and now >= self._next_replay_check:
                    action = "replay"
                    break
                if now >= self._next_stats:
                    self._next_stats = now + self.stats_interval
                    action = "stats"
                    break
                if self._journal_wanted and now >= self._next_recover:
                    self._next_recover = now + 60.0
                    action = "recover"
                    break
                wait = min(self._next_stats - now, 30.0)
                if buffer.count:
                    wait = min(wait, self._next_flush - now)
                if self._journal_wanted:
                    wait = min(wait, self._next_recover - now)
                if self._spool is not None:
                    wait = min(
                        wait,
                        (self._next_replay_check if healthy else self._next_probe) - now,
                    )
                elif not healthy:
                    wait = min(wait, self._next_probe - now)
                if not healthy and self._spool_full_until > now:
                    wait = min(wait, self._spool_full_until - now)
                cond.wait(max(0.005, wait))
        if action == "send":
            self._send_inflight(events)
        elif action == "spool":
            self._spool_inflight(events)
        elif action == "replay":
            self._replay_one()
        elif action == "stats":
            self._emit_stats()
        elif action == "recover":
            if self._spool is None or (self._journal is None and self._journal_off is None):
                self._open_storage()
            if self._spool is not None:
                with contextlib.suppress(OSError):
                    self._spool.recover()
                with contextlib.suppress(OSError):
                    self._recover_journals()
        return True

    def _finish_inflight(self, failed: list[Event] | None = None) -> bool:
        """Clear the in-flight batch, putting ``failed`` (neither sent nor spooled) back into
        the buffer; False when a flush/close already took it over."""
        with self._cond:
            taken = self._inflight_taken
            events = self._inflight
            self._inflight = None
            self._inflight_taken = False
            if events and not taken:
                self._checkpoint(self._take_back(events, failed or []))
            else:
                self._checkpoint(None)
            self._cond.notify_all()
            return not taken

    def _send_inflight(self, events: list[Event]) -> None:
        handled = self._deliver(events, self._stream)
        with self._cond:
            taken = self._inflight_taken
        failed: list[Event] = []
        if not handled and not taken:
            failed = self._spool_events(events, self._stream)
        self._finish_inflight(failed)

    def _spool_inflight(self, events: list[Event]) -> None:
        with self._cond:
            taken = self._inflight_taken
        failed: list[Event] = []
        if not taken:
            failed = self._spool_events(events, self._stream)
        self._finish_inflight(failed)

    def _retry_deadline(self) -> float | None:
        return self._close_soft_deadline if self._stopping else None

    def _deliver(self, events: Sequence[Event], stream: str) -> bool:
        """Send one batch with retries. True when handled (sent, or rejected for good);
        False when it should be spooled."""
        events = self._sendable(events)
        if not events:
            return True
        attempt = 0
        created = False
        while True:
            outcome, detail = self._put(events, stream)
            if outcome is _Outcome.SENT:
                self._account(events, detail if isinstance(detail, Mapping) else {})
                self._mark_healthy()
                return True
            if outcome is _Outcome.DROP:
                with self._cond:
                    self._counters.rejected["invalid"] += len(events)
                self._notices.say("invalid", f"CloudWatch refused a batch for good: {detail}")
                self._mark_healthy()
                return True
            if outcome is _Outcome.MISSING and not created:
                created = True
                self._create_stream(stream)
                continue
            attempt += 1
            if attempt >= self.max_attempts or self._stop_sender:
                self._mark_unhealthy(str(detail))
                return False
            delay = random.uniform(  # noqa: S311 - jitter, not cryptography
                0.0, min(self.backoff_cap, self.backoff_base * (2**attempt))
            )
            deadline = self._retry_deadline()
            if deadline is not None and time.monotonic() + delay >= deadline:
                self._mark_unhealthy(str(detail))
                return False
            with self._cond:
                self._counters.retried += 1
                if self._inflight_taken:
                    return True  # a flush/close spooled this batch meanwhile
                self._cond.wait(delay)
                if self._taken_over():
                    return True  # taken over during the wait: sending it now would duplicate it

    def _taken_over(self) -> bool:
        """Whether a flush/close took the batch in flight over (call under the lock)."""
        return self._inflight_taken

    def _sendable(self, events: Sequence[Event]) -> Sequence[Event]:
        """The events of a batch (in time order) that CloudWatch would accept now; the rest
        (aged past 14 days or the retention while spooled, or over 2 hours ahead after the
        clock went back) are counted as rejected and said once, never sent: emulators take
        them, CloudWatch refuses them one by one."""
        if not events:
            return events
        now = int(time.time() * 1000)
        oldest = now - MAX_EVENT_AGE_MS
        expired = now - self._max_age_ms()
        newest = now + MAX_EVENT_FUTURE_MS
        if events[0].timestamp >= expired and events[-1].timestamp <= newest:
            return events
        keep: list[Event] = []
        counts = {"too_old": 0, "expired": 0, "too_new": 0}
        for event in events:
            if event.timestamp < oldest:
                counts["too_old"] += 1
            elif event.timestamp < expired:
                counts["expired"] += 1
            elif event.timestamp > newest:
                counts["too_new"] += 1
            else:
                keep.append(event)
        with self._cond:
            for key, count in counts.items():
                self._counters.rejected[key] += count
        self._notices.say(
            "rejected-clock",
            "events CloudWatch would refuse for their age or a future timestamp were not sent "
            "(counted as rejected)",
            data={"rejected": counts},
        )
        return keep

    def _put(self, events: Sequence[Event], stream: str) -> tuple[_Outcome, object]:
        log_events: list[InputLogEventTypeDef] = [
            {"timestamp": event.timestamp, "message": event.message} for event in events
        ]
        try:
            response = self.cwl_client.put_log_events(
                logGroupName=self.log_group_name, logStreamName=stream, logEvents=log_events
            )
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code == "ResourceNotFoundException":
                return _Outcome.MISSING, code
            if code in _ACCEPTED_CODES:
                return _Outcome.SENT, {}
            if code in _DROP_CODES:
                return _Outcome.DROP, f"{code}: {exc}"
            return _Outcome.RETRY, code or repr(exc)
        except ParamValidationError as exc:
            return _Outcome.DROP, repr(exc)
        except BotoCoreError as exc:
            return _Outcome.RETRY, type(exc).__name__
        except Exception as exc:  # noqa: BLE001 - any transport failure means "try later"
            return _Outcome.RETRY, repr(exc)
        return _Outcome.SENT, response

    def _account(self, events: Sequence[Event], response: Mapping[str, Any]) -> None:
        """Count sent and rejected events from a PutLogEvents response.

        Index semantics differ between CloudWatch's documentation and emulators, so counts
        are the larger of the index-based and the clock-based classification.
        """
        info = response.get("rejectedLogEventsInfo") or {}
        total = len(events)
        too_old = too_new = expired = 0
        if info:
            now = int(time.time() * 1000)

            def index(key: str) -> int:
                try:
                    return max(0, min(total, int(info[key])))
                except (KeyError, TypeError, ValueError):
                    return 0

            if "tooOldLogEventEndIndex" in info:
                local = sum(1 for event in events if event.timestamp < now - MAX_EVENT_AGE_MS)
                too_old = min(total, max(index("tooOldLogEventEndIndex"), local))
            if "expiredLogEventEndIndex" in info:
                local = 0
                if self.retention_days:
                    boundary = now - self.retention_days * 86_400_000
                    local = sum(1 for event in events if event.timestamp < boundary)
                expired = max(0, min(total, max(index("expiredLogEventEndIndex"), local)) - too_old)
            if "tooNewLogEventStartIndex" in info:
                local = sum(1 for event in events if event.timestamp > now + MAX_EVENT_FUTURE_MS)
                too_new = min(
                    total - too_old - expired, max(total - index("tooNewLogEventStartIndex"), local)
                )
        with self._cond:
            counters = self._counters
            counters.rejected["too_old"] += too_old
            counters.rejected["expired"] += expired
            counters.rejected["too_new"] += too_new
            counters.sent += total - too_old - expired - too_new

    def _mark_healthy(self) -> None:
        with self._cond:
            if not self._healthy:
                self._next_replay_check = time.monotonic()
            self._healthy = True
            self._probe_delay = self.backoff_base

    def _mark_unhealthy(self, reason: str) -> None:
        with self._cond:
            self._healthy = False
            self._probe_delay = min(
                self.probe_interval_cap, max(self.backoff_base, self._probe_delay * 2)
            )
            delay = random.uniform(self._probe_delay / 2, self._probe_delay)  # noqa: S311 - jitter
            self._next_probe = time.monotonic() + delay
        self._notices.say("unhealthy", f"CloudWatch unavailable ({reason}); spooling")

    def _create_stream(self, stream: str) -> None:
        try:
            self._idempotent_call(  # type: ignore[no-untyped-call]
                "create_log_stream", logGroupName=self.log_group_name, logStreamName=stream
            )
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code == "ResourceNotFoundException" and self.create_group:
                self._setup_group()
                with contextlib.suppress(ClientError, BotoCoreError):
                    self._idempotent_call(  # type: ignore[no-untyped-call]
                        "create_log_stream", logGroupName=self.log_group_name, logStreamName=stream
                    )
        except BotoCoreError:
            pass
        except Exception as exc:  # noqa: BLE001 - the next put retries; never kill the sender
            self._notices.say("stream", f"creating stream {stream} failed: {exc!r}")

    def _setup_group(self) -> None:
        try:
            self._ensure_log_group()  # type: ignore[no-untyped-call]
            if self.retention_days:
                self._idempotent_call(  # type: ignore[no-untyped-call]
                    "put_retention_policy",
                    logGroupName=self.log_group_name,
                    retentionInDays=self.retention_days,
                )
        except Exception as exc:  # noqa: BLE001 - best effort; puts retry and spool
            self._notices.say("group", f"creating log group {self.log_group_name} failed: {exc!r}")

    def _setup_remote(self) -> None:
        if self.create_group:
            self._setup_group()
        self._create_stream(self._stream)

    # -- spool -----------------------------------------------------------------------------------

    def _spool_events(self, events: Sequence[Event], stream: str) -> list[Event]:
        """Write events to the spool in valid batches; count what the spool's cap gives up.

        Returns the events that could not be written at all (the spool directory is full,
        read-only or missing): the caller keeps them in memory or counts them as dropped.
        Without a spool directory configured, events are dropped and counted here.
        """
        spool = self._spool
        if spool is None:
            if self._journal_wanted:
                with self._cond:
                    self._counters.spool_failed += len(events)
                    self._spool_full_until = time.monotonic() + 5.0
                return list(events)
            with self._cond:
                for event in events:
                    self._counters.drop(event.level)
            return []
        batches, oversized = plan_batches(events)
        written = 0
        failed: list[Event] = []
        dropped: dict[int, int] = {}
        for event in oversized:
            dropped[event.level] = dropped.get(event.level, 0) + 1
        for batch in batches:
            try:
                result = spool.write(batch, stream)
            except OSError as exc:
                self._notices.say(
                    "spool-write",
                    f"spool write failed ({exc!r}); records are kept in memory while it fails "
                    "(counted as spool_failed)",
                )
                failed.extend(batch)
                continue
            written += result.written
            for level, count in result.dropped.items():
                dropped[level] = dropped.get(level, 0) + count
        with self._cond:
            self._counters.spooled += written
            self._counters.spool_failed += len(failed)
            for level, count in dropped.items():
                self._counters.drop(level, count)
            if dropped or failed:
                # The spool is full (or failing): memory holds what it can for a while.
                self._spool_full_until = time.monotonic() + 5.0
            if written:
                self._next_replay_check = min(self._next_replay_check, time.monotonic() + 1.0)
        return failed

    def _replay_one(self) -> None:
        """Replay the oldest spooled batch, merged with more spooled batches of the same
        stream up to the request limits: when CloudWatch throttles, each request it accepts
        then carries up to 10,000 events or 1 MiB instead of one flush interval's worth."""
        spool = self._spool
        if spool is None:
            return
        try:
            claimed = spool.claim()
        except OSError as exc:
            self._notices.say("spool-claim", f"spool claim failed: {exc!r}")
            claimed = None
        if claimed is None:
            with self._cond:
                self._next_replay_check = time.monotonic() + 5.0
            self._check_corrupt_files(spool)
            return
        files = [claimed]
        foreign: list[ClaimedFile] = []
        if claimed.group == self.log_group_name:
            count = len(claimed.events)
            size = batch_cost(claimed.events)
            for _ in range(REPLAY_MERGE_FILES):
                if count >= MAX_BATCH_EVENTS or size >= self._batch_bytes:
                    break
                try:
                    more = spool.claim()
                except OSError:
                    break
                if more is None:
                    break
                if more.group != claimed.group or more.stream != claimed.stream:
                    foreign.append(more)  # another stream's: back once this replay is done
                    continue
                files.append(more)
                count += len(more.events)
                size += batch_cost(more.events)
        try:
            self._replay(files, spool)
        finally:
            for other in foreign:
                spool.release(other)
            self._check_corrupt_files(spool)

    def _check_corrupt_files(self, spool: Spool) -> None:
        files = spool.corrupt_files - self._spool_corrupt_seen
        if files > 0:
            self._spool_corrupt_seen = spool.corrupt_files
            self._note_spool_corrupt(files)

    def _note_spool_corrupt(self, count: int) -> None:
        """Unreadable spool lines or files (set aside in ``corrupt/``): count, say once."""
        with self._cond:
            self._counters.spool_corrupt += count
        self._notices.say(
            "spool-corrupt",
            "unreadable spool data skipped: lines that do not parse, files whose header does "
            "not parse moved to corrupt/ (counted as spool_corrupt)",
        )

    def _replay(self, files: list[ClaimedFile], spool: Spool) -> None:
        first = files[0]
        if first.group != self.log_group_name:
            for claimed in files:
                spool.release(claimed)
            return
        corrupt = sum(claimed.corrupt for claimed in files)
        if corrupt:
            self._note_spool_corrupt(corrupt)
        batches, oversized = plan_batches(
            [event for claimed in files for event in claimed.events], max_bytes=self._batch_bytes
        )
        with self._cond:
            for event in oversized:
                self._counters.drop(event.level)
        for number, batch in enumerate(batches):
            before = self._counters.sent
            if self._deliver(batch, first.stream):
                with self._cond:
                    self._counters.replayed += self._counters.sent - before
                continue
            if number == 0:
                for claimed in files:
                    spool.release(claimed)
            else:  # keep exactly-once: re-spool only what was not sent, then drop the files
                rest = [event for later in batches[number:] for event in later]
                lost = self._spool_events(rest, first.stream)
                if lost:  # another process's sequence numbers: they cannot join the buffer
                    with self._cond:
                        for event in lost:
                            self._counters.drop(event.level)
                for claimed in files:
                    spool.complete(claimed)
            return
        for claimed in files:
            spool.complete(claimed)
        with self._cond:
            self._spool_full_until = 0.0  # room was made

    # -- stats record ----------------------------------------------------------------------------

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
            extra={"data": snapshot, _INTERNAL_ATTR: True},
        )
        try:
            if not self._closed:
                self._enqueue_record(record)
            self._stats_logger.handle(record)
        except Exception as exc:  # noqa: BLE001 - stats must never stop the sender
            self._notices.say("stats", f"stats record failed: {exc!r}")

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(log_group_name={self.log_group_name!r}, "
            f"stream={self._stream!r})"
        )


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
        self._notices = _Notices(
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
        if self._failed_at is not None and time.monotonic() - self._failed_at < 60.0:
            return None
        token = _IN_HANDLER.set(True)
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
            _IN_HANDLER.reset(token)
        return self._inner

    def filter(self, record: logging.LogRecord) -> bool:
        """Same exclusions as :meth:`CloudWatchHandler.filter`."""
        if _IN_HANDLER.get() or record.__dict__.get(_INTERNAL_ATTR):
            return False
        name = record.name
        if name.startswith(_IGNORED_PREFIXES) and name.split(".", 1)[0] in IGNORED_LOGGERS:
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
    return [handler for handler in list(_INSTANCES) if handler._pid == os.getpid()]


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
