"""Admitting one formatted record, in the thread that logs (the hot path of ``emit``).

Under the shared lock: a sequence number, the clock window (a timestamp CloudWatch would
refuse is replaced by now and counted), the journal line (:mod:`logship.journal`; a memory
copy), the bounded buffer (when full, the older half is spilled to the spool by this thread,
else lower levels are evicted and counted), and a wake-up for the sender when a batch is
ready. Outside the lock: the spill's spool write and the notices.
"""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING

from .batching import Event
from .limits import EVENT_OVERHEAD_BYTES

if TYPE_CHECKING:
    from .state import Notices, Shared
    from .storage import Storage

__all__ = ["Intake"]

_new_event = tuple.__new__  # builds an Event without the NamedTuple constructor's overhead
#: Records logged after ``close`` that are spooled one by one (an fsync each); more are dropped
#: and counted (a process that goes on logging after closing its handler is a bug to see).
MAX_LATE_RECORDS = 1_000


class Intake:
    """Puts records into the shared buffer (and the journal) of one process."""

    __slots__ = ("late", "notices", "shared", "storage", "stream")

    def __init__(
        self,
        shared: Shared,
        storage: Storage,
        notices: Notices,
        stream: str,
    ) -> None:
        self.shared = shared
        self.storage = storage
        self.notices = notices
        self.stream = stream
        #: Records logged after the handler closed (see :meth:`add_late`).
        self.late = 0

    def add(self, timestamp: int, level: int, text: str, size: int, truncated: bool) -> None:
        """Admit one formatted record (``size``: its UTF-8 bytes). Never blocks on the network."""
        shared = self.shared
        spill: list[Event] | None = None
        adjusted = ""
        with shared.lock:  # the condition's lock (a plain lock is cheaper to enter)
            shared.seq += 1
            seq = shared.seq
            counters = shared.counters
            clock = shared.clock
            if not clock.low <= timestamp <= clock.high:
                now = clock.refresh()
                if not clock.low <= timestamp <= clock.high:
                    # CloudWatch would refuse it: ship it at the time it was logged (its JSON
                    # keeps its own timestamp).
                    adjusted = "too_old" if timestamp < clock.low else "too_new"
                    counters.clock_adjusted[adjusted] += 1
                    timestamp = now
            slot = shared.journal
            journal = slot.active
            if journal is not None:
                try:
                    journal.append(seq, timestamp, level, text)
                except OSError as exc:
                    self._journal_failed(exc)
            elif slot.paused is not None:
                counters.unjournaled += 1
                slot.note_skipped()
            elif slot.wanted:
                counters.unjournaled += 1  # the spool directory is unusable
            event = _new_event(Event, (timestamp, level, text, size, seq))
            counters.queued += 1
            if truncated:
                counters.truncated += 1
            buffer = shared.buffer
            if (
                buffer.count >= buffer.max_events
                or buffer.bytes + size + EVENT_OVERHEAD_BYTES > buffer.max_bytes
            ):
                pending = shared.pending
                if (
                    shared.spool is not None
                    and pending.spilling_min is None
                    and time.monotonic() >= shared.timers.spool_full_until
                ):
                    # Full: move the older half to disk (this thread) instead of dropping.
                    spill = buffer.pop_oldest(
                        max(buffer.bytes // 2, event.cost), max(1, buffer.count // 2)
                    )
                    if spill:
                        pending.spilling_min = spill[0].seq
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
            control = shared.control
            if buffer.count == 1:
                shared.cond.notify_all()  # the sender may be idle: start the flush timer
            elif not control.wake and (
                buffer.bytes >= control.trigger_bytes or buffer.count >= control.trigger_events
            ):
                control.wake = True
                shared.cond.notify_all()
        if adjusted:
            self.notices.say(
                "clock",
                "records with a timestamp CloudWatch would refuse (older than "
                f"{clock.max_age_ms() // 86_400_000} days or over 2 hours ahead) were shipped "
                "at the time they were logged; their JSON keeps their own timestamp "
                "(counted as clock_adjusted)",
            )
        if spill:
            self._spill(spill)

    def add_late(self, timestamp: int, level: int, text: str, size: int) -> None:
        """Admit a record logged after the handler closed: straight to the spool as a batch of
        its own (fsync), so the next process on the directory delivers it; dropped and counted
        without a spool or past ``MAX_LATE_RECORDS``.

        gunicorn's gevent worker exits at once when its master dies (``sys.exit`` in
        ``notify``): ``worker_exit`` closes the handler while requests still run in other
        greenlets, and they log (and answer) while the process winds down."""
        shared = self.shared
        with shared.lock:
            shared.seq += 1
            seq = shared.seq
            counters = shared.counters
            self.late += 1
            if shared.spool is None or self.late > MAX_LATE_RECORDS:
                counters.drop(level)
                return
            counters.queued += 1
        event = _new_event(Event, (timestamp, level, text, size, seq))
        if self.storage.spool_events([event], self.stream):
            with shared.lock:
                counters.drop(level)

    def _spill(self, spill: list[Event]) -> None:
        """Write the buffer's older half to the spool (this thread); what the spool cannot
        take goes back into the buffer."""
        shared = self.shared
        storage = self.storage
        failed: list[Event] = []
        try:
            failed = storage.spool_events(spill, self.stream)
        finally:
            with shared.cond:
                shared.pending.spilling_min = None
                storage.checkpoint(storage.take_back(spill, failed))
                shared.cond.notify_all()

    def _journal_failed(self, exc: OSError) -> None:
        """An append failed (disk full, read-only, over the bound): count the record, pause the
        journal for a second and say so once a minute (under the lock; never raises)."""
        self.shared.counters.unjournaled += 1
        self.shared.journal.pause()
        with contextlib.suppress(Exception):
            self.notices.say(
                "journal-write",
                f"journal write failed ({exc!r}); records are kept in memory only until it works",
            )
