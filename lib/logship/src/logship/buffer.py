"""A bounded in-memory event buffer that gives up the lowest levels first (not thread-safe;
the handler serialises access with its own lock)."""

from __future__ import annotations

import bisect
import operator
from collections import deque

from .batching import BatchBuilder, Event
from .limits import EVENT_OVERHEAD_BYTES

__all__ = ["EventBuffer"]

_SEQ = operator.attrgetter("seq")


class EventBuffer:
    """Events grouped by level, each group in arrival order.

    ``bytes`` counts each event's UTF-8 message size plus the 26-byte CloudWatch overhead and
    never exceeds ``max_bytes``; ``count`` never exceeds ``max_events``.
    """

    __slots__ = ("_levels", "_queues", "bytes", "count", "max_bytes", "max_events")

    def __init__(self, max_bytes: int, max_events: int) -> None:
        if max_bytes <= 0 or max_events <= 0:
            raise ValueError("buffer bounds must be positive")
        self.max_bytes = max_bytes
        self.max_events = max_events
        self._queues: dict[int, deque[Event]] = {}
        self._levels: list[int] = []
        self.bytes = 0
        self.count = 0

    def __len__(self) -> int:
        return self.count

    def fits(self, event: Event) -> bool:
        """Whether ``event`` can be added without evicting anything."""
        return (
            self.count < self.max_events
            and self.bytes + event.size + EVENT_OVERHEAD_BYTES <= self.max_bytes
        )

    def append(self, event: Event) -> None:
        """Add an event (call :meth:`fits` or :meth:`evict_for` first)."""
        queue = self._queues.get(event.level)
        if queue is None:
            queue = self._queues[event.level] = deque()
            bisect.insort(self._levels, event.level)
        queue.append(event)
        self.bytes += event.size + EVENT_OVERHEAD_BYTES
        self.count += 1

    def evict_for(self, event: Event) -> list[Event] | None:
        """Evict strictly lower-level events, lowest level and oldest first, to make room.

        Returns the evicted events, or None (and evicts nothing) when even evicting every
        lower-level event would not make room; then the caller drops ``event`` itself.
        """
        cost = event.size + EVENT_OVERHEAD_BYTES
        if cost > self.max_bytes:
            return None
        need_bytes = self.bytes + cost - self.max_bytes
        need_count = self.count + 1 - self.max_events
        lower = [level for level in self._levels if level < event.level]
        available_bytes = 0
        available_count = 0
        for level in lower:
            for queued in self._queues[level]:
                available_bytes += queued.size + EVENT_OVERHEAD_BYTES
            available_count += len(self._queues[level])
        if available_bytes < need_bytes or available_count < need_count:
            return None
        evicted: list[Event] = []
        freed_bytes = 0
        for level in lower:
            queue = self._queues[level]
            while queue and (freed_bytes < need_bytes or len(evicted) < need_count):
                victim = queue.popleft()
                freed_bytes += victim.size + EVENT_OVERHEAD_BYTES
                evicted.append(victim)
            if freed_bytes >= need_bytes and len(evicted) >= need_count:
                break
        self.bytes -= freed_bytes
        self.count -= len(evicted)
        return evicted

    def _oldest(self) -> deque[Event] | None:
        best: deque[Event] | None = None
        best_seq = 0
        for level in self._levels:
            queue = self._queues[level]
            if queue and (best is None or queue[0].seq < best_seq):
                best = queue
                best_seq = queue[0].seq
        return best

    def min_seq(self) -> int | None:
        """Sequence number of the oldest buffered event."""
        queue = self._oldest()
        return queue[0].seq if queue else None

    def pop_batch(self, builder: BatchBuilder) -> list[Event]:
        """Move the oldest events into ``builder`` while they fit; returns the batch.

        A tight loop (it runs for every event shipped): limits are checked inline.
        """
        max_bytes = builder.max_bytes
        max_events = builder.max_events
        max_span = builder.max_span
        taken: list[Event] = []
        total = 0
        low = high = 0
        active = [self._queues[level] for level in self._levels if self._queues[level]]
        single = active[0] if len(active) == 1 else None
        while self.count:
            queue = single if single is not None else self._oldest()
            if not queue:
                break
            head = queue[0]
            cost = head.size + EVENT_OVERHEAD_BYTES
            stamp = head.timestamp
            if taken:
                if len(taken) >= max_events or total + cost > max_bytes:
                    break
                new_low = stamp if stamp < low else low
                new_high = stamp if stamp > high else high
                if new_high - new_low > max_span:
                    break
                low, high = new_low, new_high
            elif cost > max_bytes:
                break
            else:
                low = high = stamp
            queue.popleft()
            taken.append(head)
            total += cost
        self.bytes -= total
        self.count -= len(taken)
        builder.extend(taken, total, low, high)
        return builder.build()

    def pop_oldest(self, max_bytes: int, max_events: int | None = None) -> list[Event]:
        """Remove the oldest events up to ``max_bytes`` and ``max_events`` (at least one),
        in arrival order."""
        taken: list[Event] = []
        total = 0
        limit = self.count if max_events is None else max(1, max_events)
        while self.count and len(taken) < limit:
            queue = self._oldest()
            if queue is None:
                break
            head = queue[0]
            cost = head.size + EVENT_OVERHEAD_BYTES
            if taken and total + cost > max_bytes:
                break
            queue.popleft()
            total += cost
            taken.append(head)
        self.bytes -= total
        self.count -= len(taken)
        return taken

    def requeue(self, events: list[Event]) -> list[Event]:
        """Put events taken earlier back at the front of their levels (a batch that could be
        neither sent nor spooled), highest level and oldest first while they fit; returns the
        events that did not fit (the caller counts them as dropped)."""
        room_bytes = self.max_bytes - self.bytes
        room_count = self.max_events - self.count
        kept: list[Event] = []
        left: list[Event] = []
        for event in sorted(events, key=lambda e: (-e.level, e.seq)):
            cost = event.size + EVENT_OVERHEAD_BYTES
            if room_count > 0 and cost <= room_bytes:
                kept.append(event)
                room_bytes -= cost
                room_count -= 1
            else:
                left.append(event)
        by_level: dict[int, list[Event]] = {}
        for event in kept:
            by_level.setdefault(event.level, []).append(event)
            self.bytes += event.size + EVENT_OVERHEAD_BYTES
            self.count += 1
        for level, back in by_level.items():
            back.sort(key=_SEQ)
            queue = self._queues.get(level)
            if queue is None:
                self._queues[level] = deque(back)
                bisect.insort(self._levels, level)
            elif queue and queue[0].seq < back[-1].seq:  # interleaved: keep sequence order
                self._queues[level] = deque(sorted([*queue, *back], key=_SEQ))
            else:
                queue.extendleft(reversed(back))
        return left

    def drain(self) -> list[Event]:
        """Remove and return everything, in arrival order."""
        return self.pop_oldest(self.bytes + 1) if self.count else []

    def level_counts(self) -> dict[int, int]:
        """Buffered events per level."""
        return {level: len(self._queues[level]) for level in self._levels if self._queues[level]}
