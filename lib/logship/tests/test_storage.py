"""logship.storage: spool writes, put-backs and replays of one process, driven with a real spool
directory and a delivery function passed in (no server)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

from logship.batching import Event
from logship.delivery import Delivered
from logship.state import Notices, Shared
from logship.storage import Storage


def storage_for(tmp_path: Path, spool: bool = True, buffer_max_events: int = 100) -> Storage:
    shared = Shared(
        buffer_max_bytes=1 << 20,
        buffer_max_events=buffer_max_events,
        flush_interval=1.0,
        stats_interval=0,
        backoff_base=0.01,
        probe_interval_cap=0.1,
        retention_days=None,
        journal_wanted=spool,
    )
    storage = Storage(shared, Notices(), "/g", "s", tmp_path / "spool" if spool else None, 10 << 20)
    storage.open()
    return storage


def events(count: int, first_seq: int = 1) -> list[Event]:
    now = int(time.time() * 1000)
    return [
        Event(now + first_seq + i, logging.INFO, f"m{first_seq + i}", 2, first_seq + i)
        for i in range(count)
    ]


def test_spooled_events_are_replayed_merged_into_one_call(tmp_path: Path) -> None:
    storage = storage_for(tmp_path)
    try:
        for start in (1, 11, 21):
            assert storage.spool_events(events(10, start), "s") == []
        calls: list[list[str]] = []

        def deliver(batch: Sequence[Event], stream: str) -> Delivered:
            calls.append([event.message for event in batch])
            return Delivered.HANDLED

        storage.replay_one(deliver, 1 << 20)
        assert calls == [[f"m{seq}" for seq in range(1, 31)]]
        counters = storage.shared.counters
        assert counters.spooled == 30 and counters.replayed == 0  # deliver() counts sends
        assert storage.shared.spool is not None and storage.shared.spool.pending() == 0
    finally:
        storage.close_journal()
        if storage.shared.spool is not None:
            storage.shared.spool.close()


def test_a_failed_replay_leaves_the_files_for_later(tmp_path: Path) -> None:
    storage = storage_for(tmp_path)
    try:
        storage.spool_events(events(5), "s")
        storage.replay_one(lambda batch, stream: Delivered.THROTTLED, 1 << 20)
        assert storage.shared.spool is not None and storage.shared.spool.pending() == 1
    finally:
        storage.close_journal()
        if storage.shared.spool is not None:
            storage.shared.spool.close()


def test_without_a_spool_directory_events_are_dropped_and_counted(tmp_path: Path) -> None:
    storage = storage_for(tmp_path, spool=False)
    assert storage.spool_events(events(4), "s") == []
    assert storage.shared.counters.dropped == {"INFO": 4}


def test_take_back_requeues_what_fits_and_counts_the_rest(tmp_path: Path) -> None:
    storage = storage_for(tmp_path, spool=False, buffer_max_events=3)
    batch = events(5)
    with storage.shared.cond:
        resolved = storage.take_back(batch, batch)
    assert storage.shared.buffer.count == 3
    assert storage.shared.counters.dropped == {"INFO": 2}
    assert [event.seq for event in resolved] == [4, 5]
