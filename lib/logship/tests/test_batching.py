"""Batches within every PutLogEvents limit; the buffer's bounds and drop order."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from logship.batching import BatchBuilder, Event, batch_cost, plan_batches, validate_batch
from logship.buffer import EventBuffer
from logship.limits import (
    EVENT_OVERHEAD_BYTES,
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    MAX_BATCH_SPAN_MS,
    MAX_MESSAGE_BYTES_HARD,
)

DAY = 24 * 60 * 60 * 1000
LEVELS = [logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL]


def event(ts: int, size: int, seq: int, level: int = logging.INFO) -> Event:
    return Event(ts, level, "x" * 0, size, seq)  # message text is irrelevant to the limits


events_strategy = st.lists(
    st.tuples(
        st.integers(min_value=1_700_000_000_000, max_value=1_700_000_000_000 + 3 * DAY),
        st.one_of(
            st.integers(min_value=0, max_value=2_000),
            st.integers(min_value=100_000, max_value=MAX_MESSAGE_BYTES_HARD + 10),
        ),
        st.sampled_from(LEVELS),
    ),
    max_size=400,
).map(lambda items: [event(ts, size, seq, level) for seq, (ts, size, level) in enumerate(items)])


def check(batches: list[list[Event]], max_bytes: int, max_events: int, max_span: int) -> None:
    for batch in batches:
        assert batch, "no empty batches"
        assert validate_batch(batch, max_bytes, max_events, max_span) == []
        assert len(batch) <= max_events
        assert sum(e.size + EVENT_OVERHEAD_BYTES for e in batch) <= max_bytes
        assert [e.timestamp for e in batch] == sorted(e.timestamp for e in batch)
        assert batch[-1].timestamp - batch[0].timestamp <= max_span


@settings(max_examples=300, deadline=None)
@given(
    events=events_strategy,
    limits=st.sampled_from(
        [
            (MAX_BATCH_BYTES, MAX_BATCH_EVENTS, MAX_BATCH_SPAN_MS),
            (300_000, 7, 3_600_000),
            (5_000, 3, 1000),
        ]
    ),
)
def test_plan_batches_respects_every_limit(
    events: list[Event], limits: tuple[int, int, int]
) -> None:
    max_bytes, max_events, max_span = limits
    batches, oversized = plan_batches(events, max_bytes, max_events, max_span)
    check(batches, max_bytes, max_events, max_span)
    sent = [e.seq for batch in batches for e in batch] + [e.seq for e in oversized]
    assert sorted(sent) == [e.seq for e in events]  # each event exactly once
    assert all(e.size + EVENT_OVERHEAD_BYTES > max_bytes for e in oversized)


@settings(max_examples=200, deadline=None)
@given(events=events_strategy, max_bytes=st.integers(min_value=2_000_000, max_value=50_000_000))
def test_buffer_batches_respect_limits_and_bounds(events: list[Event], max_bytes: int) -> None:
    buffer = EventBuffer(max_bytes=max_bytes, max_events=250)
    accepted: list[int] = []
    for item in events:
        if item.size + EVENT_OVERHEAD_BYTES > MAX_BATCH_BYTES:
            continue
        if buffer.fits(item):
            buffer.append(item)
            accepted.append(item.seq)
        assert buffer.bytes <= max_bytes and buffer.count <= 250
    taken: list[int] = []
    while buffer.count:
        batch = buffer.pop_batch(BatchBuilder())
        check([batch], MAX_BATCH_BYTES, MAX_BATCH_EVENTS, MAX_BATCH_SPAN_MS)
        taken.extend(e.seq for e in batch)
    assert sorted(taken) == sorted(accepted)
    assert buffer.bytes == 0


def test_ten_thousand_event_cap() -> None:
    events = [event(1_700_000_000_000 + i, 1, i) for i in range(25_000)]
    batches, _ = plan_batches(events)
    assert [len(b) for b in batches] == [10_000, 10_000, 5_000]


def test_byte_cap_counts_overhead() -> None:
    size = 1000
    per_batch = MAX_BATCH_BYTES // (size + EVENT_OVERHEAD_BYTES)
    events = [event(1_700_000_000_000, size, i) for i in range(per_batch + 1)]
    batches, _ = plan_batches(events)
    assert len(batches[0]) == per_batch
    assert batch_cost(batches[0]) <= MAX_BATCH_BYTES < batch_cost(events)


def test_span_splits_and_order() -> None:
    base = 1_700_000_000_000
    events = [event(base + DAY + 5, 1, 0), event(base, 1, 1), event(base + DAY - 1, 1, 2)]
    batches, _ = plan_batches(events)
    assert [[e.seq for e in b] for b in batches] == [[1, 2], [0]]


def test_builder_rejects_limits_above_cloudwatch() -> None:
    with pytest.raises(ValueError):
        BatchBuilder(max_bytes=MAX_BATCH_BYTES + 1)
    with pytest.raises(ValueError):
        BatchBuilder(max_events=MAX_BATCH_EVENTS + 1)


# -- drop policy ------------------------------------------------------------------------------


def test_buffer_evicts_lowest_levels_first() -> None:
    buffer = EventBuffer(max_bytes=10**9, max_events=6)
    seq = 0

    def add(level: int) -> list[Event] | None:
        nonlocal seq
        seq += 1
        item = Event(seq, level, "", 10, seq)
        if buffer.fits(item):
            buffer.append(item)
            return []
        evicted = buffer.evict_for(item)
        if evicted is not None:
            buffer.append(item)
        return evicted

    for level in (
        logging.DEBUG,
        logging.DEBUG,
        logging.INFO,
        logging.INFO,
        logging.WARNING,
        logging.WARNING,
    ):
        assert add(level) == []
    evicted = add(logging.ERROR)
    assert evicted is not None and [e.level for e in evicted] == [logging.DEBUG]
    evicted = add(logging.ERROR)
    assert evicted is not None and [e.level for e in evicted] == [logging.DEBUG]
    evicted = add(logging.WARNING)
    assert evicted is not None and [e.level for e in evicted] == [logging.INFO]
    assert add(logging.INFO) is None  # nothing lower than INFO left: the new one is dropped
    assert buffer.level_counts() == {logging.INFO: 1, logging.WARNING: 3, logging.ERROR: 2}


def test_buffer_evicts_by_bytes() -> None:
    buffer = EventBuffer(max_bytes=3 * (100 + EVENT_OVERHEAD_BYTES), max_events=100)
    for seq, level in enumerate((logging.DEBUG, logging.INFO, logging.INFO)):
        buffer.append(Event(seq, level, "", 100, seq))
    big = Event(9, logging.ERROR, "", 200, 9)
    evicted = buffer.evict_for(big)
    assert evicted is not None and [e.level for e in evicted] == [logging.DEBUG, logging.INFO]
    buffer.append(big)
    assert buffer.bytes <= buffer.max_bytes


def test_buffer_pop_is_in_arrival_order_across_levels() -> None:
    buffer = EventBuffer(max_bytes=10**6, max_events=100)
    levels = [logging.INFO, logging.DEBUG, logging.ERROR, logging.INFO, logging.DEBUG]
    for seq, level in enumerate(levels):
        buffer.append(Event(1000 + seq, level, "", 1, seq))
    assert [e.seq for e in buffer.drain()] == [0, 1, 2, 3, 4]


def test_greenlet_sender_sends_smaller_batches(tmp_path: Path) -> None:
    """Under gevent the sender shares the hub with the app, so its batches are capped at
    ``GREENLET_BATCH_BYTES``; every event is still delivered."""
    script = tmp_path / "green.py"
    script.write_text(
        textwrap.dedent(
            """
            from gevent import monkey
            monkey.patch_all()
            import json, logging
            from logship.cloudwatch import CloudWatchHandler, GREENLET_BATCH_BYTES

            class Client:
                def __init__(self):
                    self.batches = []
                def put_log_events(self, logGroupName, logStreamName, logEvents):
                    self.batches.append(sum(len(e["message"]) + 26 for e in logEvents))
                    return {}
                def __getattr__(self, name):
                    return lambda **kwargs: {}

            client = Client()
            handler = CloudWatchHandler(
                log_group_name="g", boto3_client=client, spool_dir=None, flush_interval=0.05
            )
            log = logging.getLogger("green")
            log.propagate = False
            log.addHandler(handler)
            for i in range(1000):
                log.warning("x" * 2000)
            handler.close(10)
            print(json.dumps({"cap": GREENLET_BATCH_BYTES, "batches": client.batches,
                              "sent": handler.stats()["sent"]}))
            """
        )
    )
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=True
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["sent"] == 1000
    assert len(result["batches"]) >= 8
    assert max(result["batches"]) <= result["cap"]
