"""The durable storage steps of one process: open the spool and the journal, write events to
the spool in valid batches, put back what it cannot take, replay spooled batches, checkpoint
the journal, and move dead processes' journals to the spool.

Each step takes the shared state (:class:`~logship.state.Shared`) and, for replays, the
function that delivers a batch, so it can be driven alone.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

from .batching import Event, batch_cost, plan_batches
from .delivery import Delivered
from .journal import Journal, recover_dead
from .limits import MAX_BATCH_EVENTS
from .spool import ClaimedFile, Spool

if TYPE_CHECKING:
    from .state import Notices, Shared

__all__ = ["REPLAY_MERGE_FILES", "Deliver", "Storage"]

#: Spool files merged into one replay at most (each is one flush interval's batch).
REPLAY_MERGE_FILES: Final = 64

#: Sends one batch to a stream (:meth:`logship.delivery.Delivery.deliver`).
Deliver = Callable[[Sequence[Event], str], Delivered]


class Storage:
    """Spool and journal of one process for one log group."""

    def __init__(
        self,
        shared: Shared,
        notices: Notices,
        group: str,
        stream: str,
        spool_dir: Path | None,
        spool_max_bytes: int,
    ) -> None:
        self.shared = shared
        self.notices = notices
        self.group = group
        self.stream = stream
        self.spool_dir = spool_dir
        self.spool_max_bytes = spool_max_bytes
        self._spool_corrupt_seen = 0

    # -- opening ---------------------------------------------------------------------------------

    def open(self) -> None:
        """Open the spool and the journal where they are missing (at start, and again every
        minute after a failure: a read-only or full directory that recovers is used again).
        Without them records are shipped from memory and counted as ``unjournaled``."""
        if self.spool_dir is None:
            return
        shared = self.shared
        spool = shared.spool
        if spool is None:
            try:
                spool = Spool(self.spool_dir, self.spool_max_bytes, self.group)
            except OSError as exc:
                self.notices.say(
                    "spool",
                    f"spool disabled ({self.spool_dir}: {exc!r}); records are kept in memory "
                    "only, retried every minute",
                )
                return
            with shared.lock:
                shared.spool = spool
                shared.timers.spool_full_until = 0.0
        if shared.journal.current() is not None:
            return
        try:
            journal = Journal(
                spool.directory,
                spool.group_key,
                self.group,
                spool.owner,
                self.stream,
                max_bytes=self.spool_max_bytes,
            )
        except OSError as exc:
            self.notices.say(
                "journal",
                f"journal disabled ({spool.directory}: {exc!r}); records are kept in memory "
                "only, retried every minute",
            )
            return
        with shared.lock:
            shared.journal.active = journal

    def periodic(self) -> None:
        """The minute's work: reopen what failed, recover spool claims and dead journals."""
        if self.shared.spool is None or self.shared.journal.current() is None:
            self.open()
        spool = self.shared.spool
        if spool is not None:
            with contextlib.suppress(OSError):
                spool.recover()
            with contextlib.suppress(OSError):
                self.recover_journals()

    # -- spool writes ----------------------------------------------------------------------------

    def spool_events(self, events: Sequence[Event], stream: str) -> list[Event]:
        """Write events to the spool in valid batches; count what the spool's cap gives up.

        Returns the events that could not be written at all (the spool directory is full,
        read-only or missing): the caller keeps them in memory or counts them as dropped.
        Without a spool directory configured, events are dropped and counted here.
        """
        shared = self.shared
        spool = shared.spool
        if spool is None:
            if shared.journal.wanted:
                with shared.cond:
                    shared.counters.spool_failed += len(events)
                    shared.timers.spool_full_until = time.monotonic() + 5.0
                return list(events)
            with shared.cond:
                for event in events:
                    shared.counters.drop(event.level)
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
                self.notices.say(
                    "spool-write",
                    f"spool write failed ({exc!r}); records are kept in memory while it fails "
                    "(counted as spool_failed)",
                )
                failed.extend(batch)
                continue
            written += result.written
            for level, count in result.dropped.items():
                dropped[level] = dropped.get(level, 0) + count
        with shared.cond:
            counters = shared.counters
            counters.spooled += written
            counters.spool_failed += len(failed)
            for level, count in dropped.items():
                counters.drop(level, count)
            if dropped or failed:
                # The spool is full (or failing): memory holds what it can for a while.
                shared.timers.spool_full_until = time.monotonic() + 5.0
            if written:
                shared.timers.replay_soon()
        return failed

    def take_back(self, events: list[Event], failed: list[Event]) -> list[Event]:
        """Put ``failed`` (events of ``events`` the spool could not take) back into the
        buffer, dropping and counting what does not fit; returns the events of ``events`` now
        resolved (written, or dropped and counted). Call under the lock."""
        if not failed:
            return events
        shared = self.shared
        left = shared.buffer.requeue(failed)
        shared.counters.drop_events(left)
        shared.note_buffer_peak()
        back = {event.seq for event in failed}.difference(event.seq for event in left)
        return [event for event in events if event.seq not in back]

    # -- journal ---------------------------------------------------------------------------------

    def checkpoint(self, resolved: Sequence[Event] | None = None) -> None:
        """Record in the journal how far everything is resolved, and ``resolved`` (events just
        sent, spooled or given up). Call under the lock."""
        shared = self.shared
        journal = shared.journal.current()
        if journal is None:
            return
        try:
            if resolved:
                journal.resolve([event.seq for event in resolved])
            journal.checkpoint(shared.resolved_through())
        except OSError as exc:
            with contextlib.suppress(Exception):
                self.notices.say("journal-checkpoint", f"journal checkpoint failed: {exc!r}")

    def close_journal(self) -> None:
        """Checkpoint and close the journal (deleted when everything is resolved)."""
        shared = self.shared
        with shared.cond:
            slot = shared.journal
            journal = slot.current()
            slot.active = slot.paused = None
            if journal is None:
                return
            resolved = shared.resolved_through()
            with contextlib.suppress(OSError):
                journal.checkpoint(resolved)
            journal.close(resolved_all=resolved >= shared.seq)

    def recover_journals(self) -> None:
        """Move the undelivered records of dead processes' journals (this group) to the spool."""
        shared = self.shared
        spool = shared.spool
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
        with shared.cond:
            counters = shared.counters
            counters.journal_recovered += result.events - dropped
            counters.journal_corrupt += result.corrupt
            for level, count in result.dropped.items():
                counters.drop(level, count)
            shared.timers.next_replay_check = time.monotonic()
        if result.corrupt or dropped:
            self.notices.say(
                "journal-recovery",
                f"journal recovery: {result.events - dropped} records to the spool, "
                f"{result.corrupt} unreadable lines, {dropped} dropped (spool full)",
            )

    # -- replay ----------------------------------------------------------------------------------

    def replay_one(self, deliver: Deliver, max_bytes: int) -> None:
        """Replay the oldest spooled batch, merged with more spooled batches of the same
        stream up to the request limits (``max_bytes``, 10,000 events): when CloudWatch
        throttles, each request it accepts then carries up to 10,000 events or 1 MiB instead
        of one flush interval's worth."""
        shared = self.shared
        spool = shared.spool
        if spool is None:
            return
        try:
            claimed = spool.claim()
        except OSError as exc:
            self.notices.say("spool-claim", f"spool claim failed: {exc!r}")
            claimed = None
        if claimed is None:
            with shared.cond:
                shared.timers.next_replay_check = time.monotonic() + 5.0
            self._check_corrupt_files(spool)
            return
        files = [claimed]
        foreign: list[ClaimedFile] = []
        if claimed.group == self.group:
            count = len(claimed.events)
            size = batch_cost(claimed.events)
            for _ in range(REPLAY_MERGE_FILES):
                if count >= MAX_BATCH_EVENTS or size >= max_bytes:
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
            self._replay(files, spool, deliver, max_bytes)
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
        with self.shared.cond:
            self.shared.counters.spool_corrupt += count
        self.notices.say(
            "spool-corrupt",
            "unreadable spool data skipped: lines that do not parse, files whose header does "
            "not parse moved to corrupt/ (counted as spool_corrupt)",
        )

    def _replay(
        self, files: list[ClaimedFile], spool: Spool, deliver: Deliver, max_bytes: int
    ) -> None:
        shared = self.shared
        first = files[0]
        if first.group != self.group:
            for claimed in files:
                spool.release(claimed)
            return
        corrupt = sum(claimed.corrupt for claimed in files)
        if corrupt:
            self._note_spool_corrupt(corrupt)
        batches, oversized = plan_batches(
            [event for claimed in files for event in claimed.events], max_bytes=max_bytes
        )
        with shared.cond:
            shared.counters.drop_events(oversized)
        for number, batch in enumerate(batches):
            before = shared.counters.sent
            if deliver(batch, first.stream) is Delivered.HANDLED:
                with shared.cond:
                    shared.counters.replayed += shared.counters.sent - before
                continue
            if number == 0:
                for claimed in files:
                    spool.release(claimed)
            else:  # keep exactly-once: re-spool only what was not sent, then drop the files
                rest = [event for later in batches[number:] for event in later]
                lost = self.spool_events(rest, first.stream)
                if lost:  # another process's sequence numbers: they cannot join the buffer
                    with shared.cond:
                        shared.counters.drop_events(lost)
                for claimed in files:
                    spool.complete(claimed)
            return
        for claimed in files:
            spool.complete(claimed)
        with shared.cond:
            shared.timers.spool_full_until = 0.0  # room was made
