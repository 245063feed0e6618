"""The CloudWatch handler's per-process state, as a few small objects under one lock.

:class:`Shared` is what the handler (:mod:`logship.cloudwatch`), the intake
(:mod:`logship.intake`), the sender (:mod:`logship.sender`) and the delivery and storage
steps (:mod:`logship.delivery`, :mod:`logship.storage`) share: the lock and its condition, the
buffer, the sequence number and

* :class:`Counters` — what ``handler.stats()`` reports;
* :class:`Health` — whether CloudWatch answers, and when to probe it again;
* :class:`Timers` — when the next flush, stats record, replay check and journal recovery are due;
* :class:`Pending` — the batch in flight and the batches on their way to the spool, whose oldest
  sequence numbers bound the journal's checkpoint;
* :class:`Control` — what the sender was asked to do (wake, drain, flush, stop);
* :class:`ClockWindow` — the record timestamps CloudWatch accepts;
* :class:`JournalSlot` — the journal: working, paused after a write error, or none;
* :class:`~logship.pacing.Pacer` — the pace of ``PutLogEvents`` calls under throttling.

A new process (a fork) gets a new :class:`Shared`; nothing here is shared across processes.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from .buffer import EventBuffer
from .limits import MAX_EVENT_AGE_MS, MAX_EVENT_FUTURE_MS
from .notices import notice
from .pacing import Pacer

if TYPE_CHECKING:
    from .batching import Event
    from .journal import Journal
    from .spool import Spool

__all__ = [
    "CLOCK_MARGIN_NEW_MS",
    "CLOCK_MARGIN_OLD_MS",
    "ClockWindow",
    "Control",
    "Counters",
    "Health",
    "JournalSlot",
    "Notices",
    "Pending",
    "Shared",
    "Timers",
    "level_name",
]

#: A record is given the time it was logged when its own timestamp is older than CloudWatch
#: accepts (14 days, or the retention) less this margin (it may wait in the buffer or spool) ...
CLOCK_MARGIN_OLD_MS: Final = 60 * 60 * 1000
#: ... or further in the future than CloudWatch accepts (2 hours) less this margin.
CLOCK_MARGIN_NEW_MS: Final = 5 * 60 * 1000

_LEVEL_NAMES: Final = {
    logging.DEBUG: "DEBUG",
    logging.INFO: "INFO",
    logging.WARNING: "WARNING",
    logging.ERROR: "ERROR",
    logging.CRITICAL: "CRITICAL",
}

# Guards the notices' rate limits (a dict lookup, never while writing); re-created after fork.
_NOTICE_LOCK = threading.Lock()


def _reset_notice_lock() -> None:
    global _NOTICE_LOCK  # noqa: PLW0603 - fresh after fork
    _NOTICE_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_notice_lock)


def level_name(level: int) -> str:
    """``"INFO"`` for 20, ``"Level 25"`` for custom levels."""
    return _LEVEL_NAMES.get(level) or logging.getLevelName(level)


class Notices:
    """Rate-limited notices on stderr, one JSON record each (:mod:`logship.notices`; never
    through logging: no feedback loops)."""

    def __init__(self, interval: float = 60.0, service: str = "", environment: str = "") -> None:
        self.interval = interval
        self.service = service
        self.environment = environment
        self._last: dict[str, float] = {}

    def say(self, key: str, message: str, data: Mapping[str, Any] | None = None) -> None:
        """Write the notice ``key`` unless it was written less than ``interval`` ago."""
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


class Counters:
    """Event counts since the handler started in this process (see ``handler.stats()``)."""

    __slots__ = (
        "buffer_bytes_peak", "clock_adjusted", "dropped", "journal_corrupt",
        "journal_recovered", "queued", "rejected", "replayed", "retried", "sent",
        "spool_corrupt", "spool_failed", "spooled", "suppressed", "throttled", "truncated",
        "unjournaled",
    )  # fmt: skip

    def __init__(self) -> None:
        self.queued = 0
        self.throttled = 0
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
        """Count ``count`` events of ``level`` given up."""
        name = level_name(level)
        self.dropped[name] = self.dropped.get(name, 0) + count

    def drop_events(self, events: list[Event]) -> None:
        """Count each of ``events`` as given up, by its level."""
        for event in events:
            self.drop(event.level)


class Health:
    """Whether CloudWatch answers; while it does not, probes are spaced by a growing,
    jittered interval (``backoff_base`` doubling up to ``probe_interval_cap``)."""

    __slots__ = ("backoff_base", "healthy", "next_probe", "probe_delay", "probe_interval_cap")

    def __init__(self, backoff_base: float, probe_interval_cap: float) -> None:
        self.backoff_base = backoff_base
        self.probe_interval_cap = probe_interval_cap
        self.healthy = True
        self.probe_delay = backoff_base
        self.next_probe = 0.0

    def due(self, now: float) -> bool:
        """Whether a send may be tried now (healthy, or the next probe is due)."""
        return self.healthy or now >= self.next_probe

    def mark_healthy(self) -> bool:
        """CloudWatch answered; True when it had been marked unhealthy."""
        was = self.healthy
        self.healthy = True
        self.probe_delay = self.backoff_base
        return not was

    def mark_unhealthy(self) -> None:
        """CloudWatch did not take a batch after its retries: probe again later."""
        self.healthy = False
        self.probe_delay = min(
            self.probe_interval_cap, max(self.backoff_base, self.probe_delay * 2)
        )
        delay = random.uniform(self.probe_delay / 2, self.probe_delay)  # noqa: S311 - jitter
        self.next_probe = time.monotonic() + delay


class Timers:
    """Monotonic times at which the sender's periodic work is next due."""

    __slots__ = (
        "next_flush", "next_recover", "next_replay_check", "next_stats", "spool_full_until",
    )  # fmt: skip

    def __init__(self, flush_interval: float, stats_interval: float) -> None:
        now = time.monotonic()
        self.next_flush = now + flush_interval
        self.next_stats = now + stats_interval if stats_interval > 0 else float("inf")
        self.next_replay_check = now
        self.next_recover = now + 60.0
        #: Until then the spool is taken as full (or failing): memory holds what it can.
        self.spool_full_until = 0.0

    def replay_soon(self, within: float = 1.0) -> None:
        """Look at the spool within ``within`` seconds."""
        self.next_replay_check = min(self.next_replay_check, time.monotonic() + within)


class Pending:
    """Events taken out of the buffer and not yet resolved: the batch in flight (which a
    flush at its deadline may take over), a spill to the spool by the logging thread, the
    leftovers a flush is spooling, and what a close gave up (left to the journal)."""

    __slots__ = (
        "abandoned_min", "flushing_min", "inflight", "inflight_min", "inflight_taken",
        "spilling_min",
    )  # fmt: skip

    def __init__(self) -> None:
        self.inflight: list[Event] | None = None
        self.inflight_min = 0
        self.inflight_taken = False
        self.spilling_min: int | None = None
        self.flushing_min: int | None = None
        self.abandoned_min: int | None = None

    def begin(self, events: list[Event]) -> None:
        """``events`` are now in flight."""
        self.inflight = events
        self.inflight_min = min(event.seq for event in events)
        self.inflight_taken = False

    def end(self) -> tuple[list[Event] | None, bool]:
        """Clear the batch in flight; returns it and whether a flush took it over."""
        events, taken = self.inflight, self.inflight_taken
        self.inflight = None
        self.inflight_taken = False
        return events, taken

    def taken_over(self) -> bool:
        """Whether a flush/close took the batch in flight over (sending it would duplicate)."""
        return self.inflight_taken

    def lowest(self, low: int) -> int:
        """The lowest pending sequence number, or ``low`` if lower."""
        if self.inflight is not None and self.inflight_min < low:
            low = self.inflight_min
        for mark in (self.spilling_min, self.flushing_min, self.abandoned_min):
            if mark is not None and mark < low:
                low = mark
        return low


class Control:
    """What the sender was asked to do: wake up for a full batch (``trigger_bytes`` or
    ``trigger_events`` buffered), drain what was buffered by a timed flush, serve flush
    requests, stop (after draining, or at once)."""

    __slots__ = (
        "close_soft_deadline", "drain_until", "flush_requests", "stop_sender", "stopping",
        "trigger_bytes", "trigger_events", "wake",
    )  # fmt: skip

    def __init__(self) -> None:
        self.wake = False
        self.trigger_bytes = 1
        self.trigger_events = 1
        self.drain_until = 0
        self.flush_requests = 0
        self.stopping = False
        self.stop_sender = False
        self.close_soft_deadline: float | None = None

    def retry_deadline(self) -> float | None:
        """When retries must give up (closing), else None."""
        return self.close_soft_deadline if self.stopping else None


class ClockWindow:
    """Record timestamps CloudWatch accepts, less margins (``low <= ts <= high``)."""

    __slots__ = ("high", "low", "retention_days")

    def __init__(self, retention_days: int | None) -> None:
        self.retention_days = retention_days
        self.low = 0
        self.high = -1  # the first record computes the window

    def max_age_ms(self) -> int:
        """Age beyond which CloudWatch refuses an event: 14 days, or the retention if shorter."""
        if self.retention_days and self.retention_days * 86_400_000 < MAX_EVENT_AGE_MS:
            return self.retention_days * 86_400_000
        return MAX_EVENT_AGE_MS

    def refresh(self) -> int:
        """Recompute the window; returns now in milliseconds."""
        now = int(time.time() * 1000)
        self.low = now - self.max_age_ms() + CLOCK_MARGIN_OLD_MS
        self.high = now + MAX_EVENT_FUTURE_MS - CLOCK_MARGIN_NEW_MS
        return now


class JournalSlot:
    """This process's journal: ``active`` when appends work, ``paused`` for a second after an
    append failed, neither when it could not be opened (``wanted``: a spool directory is set)."""

    __slots__ = ("active", "paused", "retry_at", "wanted")

    def __init__(self, wanted: bool) -> None:
        self.wanted = wanted
        self.active: Journal | None = None
        self.paused: Journal | None = None
        self.retry_at = 0.0

    def current(self) -> Journal | None:
        """The journal, working or paused."""
        return self.active or self.paused

    def pause(self) -> None:
        """An append failed: stop appending for a second."""
        self.paused, self.active = self.active, None
        self.retry_at = time.monotonic() + 1.0

    def note_skipped(self) -> None:
        """A record was not journaled while paused: try again once the second is over."""
        if time.monotonic() >= self.retry_at:
            self.active, self.paused = self.paused, None


class Shared:
    """Everything the handler's threads share in one process, guarded by ``lock``
    (``cond`` is its condition: the sender waits on it)."""

    __slots__ = (
        "buffer", "clock", "cond", "control", "counters", "health", "journal", "lock",
        "pacer", "pending", "seq", "spool", "timers",
    )  # fmt: skip

    def __init__(
        self,
        *,
        buffer_max_bytes: int,
        buffer_max_events: int,
        flush_interval: float,
        stats_interval: float,
        backoff_base: float,
        probe_interval_cap: float,
        retention_days: int | None,
        journal_wanted: bool,
    ) -> None:
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.buffer = EventBuffer(buffer_max_bytes, buffer_max_events)
        self.counters = Counters()
        self.seq = 0
        self.pending = Pending()
        self.health = Health(backoff_base, probe_interval_cap)
        self.timers = Timers(flush_interval, stats_interval)
        self.control = Control()
        self.clock = ClockWindow(retention_days)
        self.journal = JournalSlot(journal_wanted)
        self.pacer = Pacer()
        self.spool: Spool | None = None

    def resolved_through(self) -> int:
        """Highest sequence number at or below which every event is resolved (sent, spooled,
        rejected or dropped and counted). Call under the lock."""
        low = self.seq + 1
        oldest = self.buffer.min_seq()
        if oldest is not None and oldest < low:
            low = oldest
        return self.pending.lowest(low) - 1

    def flushed_through(self, target: int) -> bool:
        """Whether every event up to ``target`` has left the buffer and the sender's hands.
        Call under the lock."""
        oldest = self.buffer.min_seq()
        if oldest is not None and oldest <= target:
            return False
        pending = self.pending
        if (
            pending.inflight is not None
            and not pending.inflight_taken
            and pending.inflight_min <= target
        ):
            return False
        return not (pending.spilling_min is not None and pending.spilling_min <= target)

    def note_buffer_peak(self) -> None:
        """Record the buffer's size if it is the largest so far. Call under the lock."""
        if self.buffer.bytes > self.counters.buffer_bytes_peak:
            self.counters.buffer_bytes_peak = self.buffer.bytes
