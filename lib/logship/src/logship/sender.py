"""The sender of one process: a thread (a greenlet under gevent's patching) that waits for work
and does one step at a time — send a batch, spool it while CloudWatch is down, replay the
spool, write a stats record, recover dead processes' journals — and the flush/close that hands
it a deadline.

The steps themselves live in :mod:`logship.delivery` and :mod:`logship.storage`; this module
decides which one runs and keeps the batch in flight accounted for. Under throttling
(:mod:`logship.pacing`) a send or replay waits for the pacer (a send may go after half the
interval once half the buffer is full), takes whatever is buffered at that moment, and fills
the call up to CloudWatch's limits; a throttled batch goes back into the buffer (or, when the
buffer has no room for it, to the spool).
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Final

from .batching import BatchBuilder, Event, batch_cost
from .delivery import Delivered
from .limits import MAX_BATCH_BYTES, MAX_BATCH_EVENTS

if TYPE_CHECKING:
    from .delivery import Delivery
    from .pacing import Pacer
    from .state import Notices, Shared
    from .storage import Storage

__all__ = ["GREENLET_BATCH_BYTES", "IN_HANDLER", "Sender", "sender_is_greenlet"]

#: Batch cap when the sender is a greenlet (gevent has patched threading): building, signing and
#: writing a PutLogEvents request holds the hub for its whole duration (about 6.5 ms of CPU per
#: MiB on an idle core, more on busy ones), so every request in the process waits that long.
#: A quarter of CloudWatch's limit keeps each hold short; events and delivery are unchanged.
#: While throttled, calls are few and each fills up to CloudWatch's limit instead.
GREENLET_BATCH_BYTES: Final = 256 * 1024

#: Set while logship itself works: records logged meanwhile never come back into the handler.
IN_HANDLER: ContextVar[bool] = ContextVar("logship_in_handler", default=False)


def sender_is_greenlet() -> bool:
    """Whether a sender "thread" started now would be a greenlet on the caller's hub."""
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and bool(monkey.is_module_patched("threading"))


def batch_limits(buffer_max_bytes: int, buffer_max_events: int) -> tuple[int, int, int]:
    """Batch bytes for a sender started now, and the buffer sizes that wake it (half the
    buffer, at most one batch)."""
    batch_bytes = GREENLET_BATCH_BYTES if sender_is_greenlet() else MAX_BATCH_BYTES
    trigger_events = max(1, min(MAX_BATCH_EVENTS, buffer_max_events // 2))
    return batch_bytes, min(batch_bytes, buffer_max_bytes // 2), trigger_events


class Sender:
    """Runs the sending steps of one process for one stream."""

    def __init__(
        self,
        shared: Shared,
        storage: Storage,
        delivery: Delivery,
        notices: Notices,
        *,
        stream: str,
        flush_interval: float,
        stats_interval: float,
        batch_bytes: int,
        trigger_bytes: int,
        trigger_events: int,
        emit_stats: Callable[[], None],
    ) -> None:
        self.shared = shared
        self.storage = storage
        self.delivery = delivery
        self.notices = notices
        self.stream = stream
        self.flush_interval = flush_interval
        self.stats_interval = stats_interval
        self.batch_bytes = batch_bytes
        self.trigger_bytes = trigger_bytes
        self.trigger_events = trigger_events
        #: While paced, a call may go out before its slot (at the earliest half an interval
        #: after the last call) once half the buffer is full, so the buffer need not spill.
        self.paced_trigger_bytes = shared.buffer.max_bytes // 2
        self.emit_stats = emit_stats
        self.thread: threading.Thread | None = None

    def start(self, name: str) -> None:
        """Start the sender thread (or greenlet)."""
        thread = threading.Thread(target=self.run, name=name, daemon=True)
        self.thread = thread
        thread.start()

    def is_current(self) -> bool:
        """Whether the caller is the sender itself."""
        return self.thread is not None and threading.current_thread() is self.thread

    # -- the loop --------------------------------------------------------------------------------

    def run(self) -> None:
        """The sender's body: recover, create the stream, then steps until stopped."""
        IN_HANDLER.set(True)
        shared = self.shared
        try:
            if shared.spool is not None:
                with contextlib.suppress(OSError):
                    self.storage.recover_journals()
            self.delivery.setup(self.stream)
            if shared.spool is not None:
                with contextlib.suppress(OSError):
                    shared.spool.recover()
            while True:
                try:
                    if not self.step():
                        break
                except Exception as exc:  # noqa: BLE001 - the sender must outlive any bug
                    self.notices.say("sender", f"sender error (continuing): {exc!r}")
                    self._recover_inflight()
                    with shared.cond:
                        shared.cond.wait(1.0)
        except BaseException as exc:  # GreenletExit / SystemExit at interpreter exit
            if not shared.control.stopping:
                self.notices.say("sender", f"sender stopped: {exc!r}")
            raise
        finally:
            with contextlib.suppress(Exception), shared.cond:
                shared.cond.notify_all()

    def step(self) -> bool:
        """Wait for and do one unit of work; False when the sender should exit."""
        shared = self.shared
        cond = shared.cond
        control = shared.control
        timers = shared.timers
        health = shared.health
        pacer = shared.pacer
        action = ""
        events: list[Event] = []
        with cond:
            while True:
                now = time.monotonic()
                buffer = shared.buffer
                if control.stop_sender or (control.stopping and buffer.count == 0):
                    return False
                control.trigger_bytes = (
                    self.paced_trigger_bytes if pacer.active else self.trigger_bytes
                )
                healthy = health.due(now)
                if buffer.count and now >= timers.next_flush:
                    # Timed flush: send what is buffered now (not what arrives meanwhile).
                    control.drain_until = shared.seq
                    timers.next_flush = now + self.flush_interval
                oldest = buffer.min_seq() if buffer.count else None
                # Unhealthy with the spool unusable (full, read-only, missing): memory holds
                # the events until the next probe instead of a drain that cannot be written.
                spoolable = not shared.journal.wanted or (
                    shared.spool is not None and now >= timers.spool_full_until
                )
                if (
                    oldest is not None
                    and (healthy or spoolable)
                    and (
                        control.wake
                        or control.flush_requests
                        or control.stopping
                        or oldest <= control.drain_until
                        or (pacer.active and healthy)  # paced: each call takes what is there
                    )
                ):
                    if not healthy:
                        events = buffer.drain()
                        action = "spool"
                    elif pacer.ready(now) or (
                        pacer.ready_early(now)
                        and (
                            buffer.bytes >= control.trigger_bytes
                            or buffer.count >= control.trigger_events
                        )
                    ):
                        shared.clock.refresh()
                        events = buffer.pop_batch(BatchBuilder(max_bytes=self._max_bytes(pacer)))
                        action = "send"
                    if action:
                        shared.pending.begin(events)
                        control.wake = (
                            buffer.bytes >= control.trigger_bytes
                            or buffer.count >= control.trigger_events
                        )
                        break
                control.wake = False
                if buffer.count == 0:
                    # Idle: the next event waits at most one interval from its arrival.
                    timers.next_flush = now + self.flush_interval
                if (
                    healthy
                    and shared.spool is not None
                    and now >= timers.next_replay_check
                    and pacer.ready(now)
                ):
                    action = "replay"
                    break
                if now >= timers.next_stats:
                    timers.next_stats = now + self.stats_interval
                    action = "stats"
                    break
                if shared.journal.wanted and now >= timers.next_recover:
                    timers.next_recover = now + 60.0
                    action = "recover"
                    break
                cond.wait(max(0.005, self._wait(now, healthy)))
        if action == "send":
            self._send_inflight(events)
        elif action == "spool":
            self._spool_inflight(events)
        elif action == "replay":
            self.storage.replay_one(self.delivery.deliver, self._max_bytes(shared.pacer))
        elif action == "stats":
            self.emit_stats()
        elif action == "recover":
            self.storage.periodic()
        return True

    def _max_bytes(self, pacer: Pacer) -> int:
        """Bytes per call: CloudWatch's limit while throttled, else the sender's batch size."""
        return MAX_BATCH_BYTES if pacer.active else self.batch_bytes

    def _wait(self, now: float, healthy: bool) -> float:
        """Seconds until the next timed piece of work. Call under the lock."""
        shared = self.shared
        timers = shared.timers
        wait = min(timers.next_stats - now, 30.0)
        if shared.buffer.count:
            wait = min(wait, timers.next_flush - now)
        if shared.journal.wanted:
            wait = min(wait, timers.next_recover - now)
        if shared.spool is not None:
            wait = min(
                wait,
                (timers.next_replay_check if healthy else shared.health.next_probe) - now,
            )
        elif not healthy:
            wait = min(wait, shared.health.next_probe - now)
        if not healthy and timers.spool_full_until > now:
            wait = min(wait, timers.spool_full_until - now)
        pace = shared.pacer.delay(now)
        if pace > 0 and (shared.buffer.count or shared.spool is not None):
            wait = min(wait, pace)
        return wait

    # -- the batch in flight ---------------------------------------------------------------------

    def _finish_inflight(self, failed: list[Event] | None = None) -> bool:
        """Clear the in-flight batch, putting ``failed`` (neither sent nor spooled) back into
        the buffer; False when a flush/close already took it over."""
        shared = self.shared
        with shared.cond:
            events, taken = shared.pending.end()
            if events and not taken:
                self.storage.checkpoint(self.storage.take_back(events, failed or []))
            else:
                self.storage.checkpoint(None)
            shared.cond.notify_all()
            return not taken

    def _send_inflight(self, events: list[Event]) -> None:
        result = self.delivery.deliver(events, self.stream)
        if result is Delivered.THROTTLED and self._requeue_throttled(events):
            return
        with self.shared.cond:
            taken = self.shared.pending.inflight_taken
        failed: list[Event] = []
        if result is not Delivered.HANDLED and not taken:
            failed = self.storage.spool_events(events, self.stream)
        self._finish_inflight(failed)

    def _requeue_throttled(self, events: list[Event]) -> bool:
        """Put a throttled batch back into the buffer, oldest first, for the next paced call;
        False when the buffer has no room for all of it (or a flush took it over): the caller
        spools it instead, so nothing is dropped for the throttle."""
        shared = self.shared
        buffer = shared.buffer
        with shared.cond:
            pending = shared.pending
            if pending.inflight_taken or (
                buffer.count + len(events) > buffer.max_events
                or buffer.bytes + batch_cost(events) > buffer.max_bytes
            ):
                return False
            pending.end()
            shared.counters.drop_events(buffer.requeue(events))  # none: room was checked
            shared.note_buffer_peak()
            self.storage.checkpoint(None)
            shared.cond.notify_all()
            return True

    def _spool_inflight(self, events: list[Event]) -> None:
        with self.shared.cond:
            taken = self.shared.pending.inflight_taken
        failed: list[Event] = []
        if not taken:
            failed = self.storage.spool_events(events, self.stream)
        self._finish_inflight(failed)

    def _recover_inflight(self) -> None:
        """After an unexpected error: keep the batch that was in flight (spool it)."""
        shared = self.shared
        with shared.cond:
            pending = shared.pending
            events = pending.inflight if not pending.inflight_taken else None
        failed: list[Event] = []
        if events:
            try:
                failed = self.storage.spool_events(events, self.stream)
            except Exception:  # noqa: BLE001 - keep it in memory instead
                failed = list(events)
        self._finish_inflight(failed)

    # -- flush and close -------------------------------------------------------------------------

    def flush(self, budget: float, closing: bool) -> None:
        """Wait until the sender delivered everything buffered so far, up to 80% of
        ``budget`` seconds (at most 2 s less), then spool what is left (and a batch stuck in
        flight). With ``closing``, stop the sender afterwards."""
        if self.is_current():
            return
        shared = self.shared
        storage = self.storage
        start = time.monotonic()
        deadline = start + budget
        soft = deadline - min(2.0, budget * 0.2)
        cond = shared.cond
        control = shared.control
        pending = shared.pending
        leftovers: list[Event] = []
        with cond:
            target = shared.seq
            if closing:
                control.stopping = True
                control.close_soft_deadline = soft
            control.flush_requests += 1
            cond.notify_all()
            try:
                while not shared.flushed_through(target):
                    remaining = soft - time.monotonic()
                    thread = self.thread
                    if remaining <= 0 or thread is None or not thread.is_alive():
                        break
                    cond.wait(min(remaining, 0.25))
                if not shared.flushed_through(target):
                    leftovers = shared.buffer.drain()
                    if pending.inflight is not None and not pending.inflight_taken:
                        pending.inflight_taken = True
                        leftovers = pending.inflight + leftovers
                    if leftovers:
                        pending.flushing_min = min(event.seq for event in leftovers)
            finally:
                control.flush_requests -= 1
        if leftovers:
            failed: list[Event] = []
            try:
                failed = storage.spool_events(leftovers, self.stream)
            finally:
                with cond:
                    pending.flushing_min = None
                    if failed and closing:
                        # The process is ending: counted as dropped, and left unresolved in
                        # the journal, whose next owner delivers what it holds of them.
                        shared.counters.drop_events(failed)
                        kept = {event.seq for event in failed}
                        low = min(kept)
                        if pending.abandoned_min is None or low < pending.abandoned_min:
                            pending.abandoned_min = low
                        storage.checkpoint([e for e in leftovers if e.seq not in kept])
                    else:
                        storage.checkpoint(storage.take_back(leftovers, failed))
        if closing:
            with cond:
                control.stop_sender = True
                cond.notify_all()
            thread = self.thread
            if thread is not None and thread.is_alive():
                thread.join(max(0.0, min(0.5, deadline - time.monotonic())))
