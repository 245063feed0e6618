"""Building PutLogEvents batches that CloudWatch accepts (pure; no I/O, no clock).

A batch holds at most ``MAX_BATCH_EVENTS`` events, at most ``MAX_BATCH_BYTES`` counting each
message's UTF-8 bytes plus ``EVENT_OVERHEAD_BYTES``, spans less than 24 hours, and is sent in
time order.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence
from typing import Final, NamedTuple

from .limits import EVENT_OVERHEAD_BYTES, MAX_BATCH_BYTES, MAX_BATCH_EVENTS, MAX_BATCH_SPAN_MS

__all__ = ["BatchBuilder", "Event", "batch_cost", "plan_batches", "validate_batch"]


class Event(NamedTuple):
    """One log event: CloudWatch timestamp (ms), level number, message, UTF-8 size, sequence.

    A tuple, so the hot path can build it without a Python-level ``__init__``.
    """

    timestamp: int
    level: int
    message: str
    size: int
    seq: int

    @property
    def cost(self) -> int:
        """Bytes this event counts against the batch limit."""
        return self.size + EVENT_OVERHEAD_BYTES

    def __repr__(self) -> str:
        return f"Event(ts={self.timestamp}, level={self.level}, size={self.size}, seq={self.seq})"


def batch_cost(events: Iterable[Event]) -> int:
    """Bytes a batch counts against ``MAX_BATCH_BYTES``."""
    return sum(event.size + EVENT_OVERHEAD_BYTES for event in events)


def request_share(cost: int, count: int) -> float:
    """``count`` events costing ``cost`` bytes (:func:`batch_cost`) as a share of a full
    ``PutLogEvents`` request (1 MiB or 10,000 events, whichever binds)."""
    return max(cost / MAX_BATCH_BYTES, count / MAX_BATCH_EVENTS)


_ORDER: Final = operator.attrgetter("timestamp", "seq")


class BatchBuilder:
    """Accumulates events while they fit; :meth:`build` returns them in time order."""

    __slots__ = ("_events", "_max_ts", "_min_ts", "bytes", "max_bytes", "max_events", "max_span")

    def __init__(
        self,
        max_bytes: int = MAX_BATCH_BYTES,
        max_events: int = MAX_BATCH_EVENTS,
        max_span_ms: int = MAX_BATCH_SPAN_MS,
    ) -> None:
        if max_bytes > MAX_BATCH_BYTES or max_events > MAX_BATCH_EVENTS:
            raise ValueError("batch limits above CloudWatch's")
        if max_span_ms > MAX_BATCH_SPAN_MS:
            raise ValueError("batch span above CloudWatch's")
        self.max_bytes = max_bytes
        self.max_events = max_events
        self.max_span = max_span_ms
        self._events: list[Event] = []
        self.bytes = 0
        self._min_ts = 0
        self._max_ts = 0

    def __len__(self) -> int:
        return len(self._events)

    def fits_alone(self, event: Event) -> bool:
        """Whether ``event`` could be sent at all under these limits."""
        return event.size + EVENT_OVERHEAD_BYTES <= self.max_bytes

    def fits(self, event: Event) -> bool:
        """Whether ``event`` can join the batch without breaking a limit."""
        if not self._events:
            return self.fits_alone(event)
        if len(self._events) >= self.max_events:
            return False
        if self.bytes + event.size + EVENT_OVERHEAD_BYTES > self.max_bytes:
            return False
        low = min(self._min_ts, event.timestamp)
        high = max(self._max_ts, event.timestamp)
        return high - low <= self.max_span

    def add(self, event: Event) -> None:
        """Add an event; call :meth:`fits` first."""
        if not self._events:
            self._min_ts = self._max_ts = event.timestamp
        else:
            self._min_ts = min(self._min_ts, event.timestamp)
            self._max_ts = max(self._max_ts, event.timestamp)
        self._events.append(event)
        self.bytes += event.size + EVENT_OVERHEAD_BYTES

    def extend(self, events: list[Event], cost: int, low: int, high: int) -> None:
        """Add events already checked against the limits (see ``EventBuffer.pop_batch``)."""
        if not events:
            return
        if self._events:
            low = min(low, self._min_ts)
            high = max(high, self._max_ts)
        self._events.extend(events)
        self.bytes += cost
        self._min_ts, self._max_ts = low, high

    def build(self) -> list[Event]:
        """The events in time order (stable for equal timestamps)."""
        return sorted(self._events, key=_ORDER)


def plan_batches(
    events: Iterable[Event],
    max_bytes: int = MAX_BATCH_BYTES,
    max_events: int = MAX_BATCH_EVENTS,
    max_span_ms: int = MAX_BATCH_SPAN_MS,
) -> tuple[list[list[Event]], list[Event]]:
    """Split events into valid batches, in time order.

    Returns ``(batches, oversized)``: ``oversized`` are events too large to send at all.
    """
    ordered = sorted(events, key=_ORDER)
    batches: list[list[Event]] = []
    oversized: list[Event] = []
    builder = BatchBuilder(max_bytes, max_events, max_span_ms)
    for event in ordered:
        if not builder.fits_alone(event):
            oversized.append(event)
            continue
        if not builder.fits(event):
            batches.append(builder.build())
            builder = BatchBuilder(max_bytes, max_events, max_span_ms)
        builder.add(event)
    if len(builder):
        batches.append(builder.build())
    return batches, oversized


def validate_batch(
    events: Sequence[Event],
    max_bytes: int = MAX_BATCH_BYTES,
    max_events: int = MAX_BATCH_EVENTS,
    max_span_ms: int = MAX_BATCH_SPAN_MS,
) -> list[str]:
    """Every CloudWatch rule the batch breaks (empty when it is valid)."""
    problems: list[str] = []
    if not events:
        return ["empty batch"]
    if len(events) > max_events:
        problems.append(f"{len(events)} events > {max_events}")
    cost = batch_cost(events)
    if cost > max_bytes:
        problems.append(f"{cost} bytes > {max_bytes}")
    stamps = [event.timestamp for event in events]
    if any(a > b for a, b in zip(stamps, stamps[1:], strict=False)):
        problems.append("not in time order")
    if max(stamps) - min(stamps) > max_span_ms:
        problems.append("spans more than 24 hours")
    return problems
