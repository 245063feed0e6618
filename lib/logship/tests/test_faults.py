"""Fault injection between the handler and moto: outages, spool replay, drop policy."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from .conftest import fetch_messages, wait_until
from .faultproxy import FaultProxy
from .helpers import attached, handler_for

OUTAGE_SECONDS = float(os.environ.get("LOGSHIP_OUTAGE_SECONDS", "120"))
OUTAGE_MODES = ("throttle", "503", "reset", "blackhole")


def run_outage(
    moto_url: str, group: str, logs: Any, tmp_path: Path, proxy: FaultProxy, seconds: float
) -> None:
    """Log steadily through an outage that cycles every fault mode; all events must arrive
    exactly once afterwards, and the buffer must stay within its bound throughout."""
    buffer_max = 64 * 1024
    handler = handler_for(
        proxy.url,
        group,
        tmp_path,
        read_timeout=1.5,
        buffer_max_bytes=buffer_max,
        buffer_max_events=400,
        max_message_bytes=8192,
        flush_interval=0.5,
        max_attempts=3,
        backoff_base=0.05,
        backoff_cap=0.5,
        probe_interval_cap=2.0,
        stats_interval=5,
    )
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, handler.stats()["buffer_bytes"])
            stop.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    sent = 0
    with attached(handler) as logger:
        try:

            def emit(n: int) -> None:
                nonlocal sent
                for _ in range(n):
                    logger.info("event %06d", sent, extra={"seq": sent, "pad": "p" * (sent % 700)})
                    sent += 1

            emit(50)
            # The transport faults twice, then throttling: a throttle makes the sender pace its
            # calls (up to 16 s apart), so it comes last, long enough for a probe or a call
            # (probes are at most 2 s apart here) to meet it.
            segment = max(1.0, seconds / 8)
            transport = [mode for mode in OUTAGE_MODES if mode != "throttle"]
            phases = [(mode, segment) for mode in transport * 2]
            phases.append(("throttle", max(3.0, seconds - segment * len(phases))))
            for mode, length in phases:
                proxy.mode = mode
                end = time.monotonic() + length
                while time.monotonic() < end:
                    emit(10)
                    time.sleep(0.1)  # ~100 events/s, ~35 KB/s: the buffer overflows in seconds
            during = handler.stats()
            proxy.mode = "pass"
            emit(50)

            def all_arrived() -> bool:
                handler.flush(5)
                return len(fetch_messages(logs, group)) >= sent

            assert wait_until(all_arrived, 120, 1.0), handler.stats()
            time.sleep(2)  # anything still in flight would show up as a duplicate
            final = handler.stats()
        finally:
            stop.set()
            sampler.join(5)
    seqs = [m["data"]["seq"] for m in fetch_messages(logs, group) if m["logger"] != "logship.stats"]
    assert sorted(seqs) == list(range(sent)), "every event exactly once"
    assert peak <= buffer_max
    assert final["buffer_bytes_peak"] <= buffer_max
    assert during["spooled"] > 0 and during["retried"] > 0
    assert final["replayed"] > 0 and final["dropped_total"] == 0
    assert {"throttle", "503", "reset", "blackhole"} <= set(proxy.counts)


def test_outage_short(
    moto_url: str, group: str, logs: Any, tmp_path: Path, proxy: FaultProxy
) -> None:
    run_outage(moto_url, group, logs, tmp_path, proxy, seconds=12)


@pytest.mark.slow
def test_outage_long(
    moto_url: str, group: str, logs: Any, tmp_path: Path, proxy: FaultProxy
) -> None:
    """Default two minutes; LOGSHIP_OUTAGE_SECONDS changes it."""
    run_outage(moto_url, group, logs, tmp_path, proxy, seconds=OUTAGE_SECONDS)


@pytest.mark.parametrize("fault", ["throttle", "503"])
def test_spool_replay_after_restart_exactly_once(
    moto_url: str, group: str, logs: Any, tmp_path: Path, proxy: FaultProxy, fault: str
) -> None:
    proxy.mode = fault
    first = handler_for(proxy.url, group, tmp_path, max_attempts=2)
    with attached(first) as logger:
        for i in range(300):
            logger.warning("before restart %d", i, extra={"seq": i})
        start = time.monotonic()
        first.close(3)  # CloudWatch is failing at shutdown: everything goes to the spool
        assert time.monotonic() - start < 3.5
        stats = first.stats()
    assert stats["spooled"] == 300 and stats["sent"] == 0 and stats["dropped_total"] == 0
    assert fetch_messages(logs, group) == []

    proxy.mode = "pass"
    # Two new processes' handlers start on the same spool: each file is replayed once.
    second = handler_for(proxy.url, group, tmp_path)
    third = handler_for(proxy.url, group, tmp_path)
    with attached(second), attached(third):
        assert wait_until(lambda: len(fetch_messages(logs, group)) >= 300, 30, 0.5)
        time.sleep(2)
        replayed = second.stats()["replayed"] + third.stats()["replayed"]
    seqs = sorted(m["data"]["seq"] for m in fetch_messages(logs, group))
    assert seqs == list(range(300))
    assert replayed == 300
    assert not list((tmp_path / "spool" / "ready").iterdir())
    assert not list((tmp_path / "spool" / "claimed").iterdir())


def test_transient_errors_are_retried_then_delivered(
    moto_url: str, group: str, logs: Any, tmp_path: Path, proxy: FaultProxy
) -> None:
    proxy.mode = "503"
    handler = handler_for(proxy.url, group, tmp_path, max_attempts=100, backoff_cap=0.2)
    with attached(handler) as logger:
        for i in range(10):
            logger.info("retry me %d", i)
        assert wait_until(lambda: proxy.counts["503"] >= 4, 10, 0.05)
        proxy.mode = "pass"
        handler.flush(10)
        stats = handler.stats()
    assert stats["retried"] >= 2 and stats["sent"] == 10 and stats["spooled"] == 0
    assert len(fetch_messages(logs, group)) == 10


def wait_for_stuck_sender(handler: Any, logger: logging.Logger, proxy: FaultProxy) -> None:
    """Prime: the sender takes one batch into a black hole and stays there."""
    assert wait_until(lambda: proxy.counts["pass"] >= 1, 10, 0.02)  # stream created
    proxy.mode = "blackhole"
    for i in range(5):
        logger.critical("primer %d", i)
    assert wait_until(
        lambda: handler.stats()["buffer_events"] == 0 and proxy.counts["blackhole"] >= 1, 10, 0.05
    )


@pytest.mark.parametrize("spool", ["none", "full"])
def test_drop_policy_lowest_levels_first(
    moto_url: str, group: str, tmp_path: Path, proxy: FaultProxy, spool: str
) -> None:
    options: dict[str, Any] = {"spool_dir": None} if spool == "none" else {"spool_max_bytes": 1}
    handler = handler_for(
        proxy.url,
        group,
        tmp_path,
        read_timeout=60,
        buffer_max_events=50,
        max_attempts=1,
        flush_interval=0.1,
        **options,
    )
    with attached(handler) as logger:
        wait_for_stuck_sender(handler, logger, proxy)
        for i in range(50):
            logger.debug("d %d", i)
        for i in range(30):
            logger.info("i %d", i)
        for i in range(30):
            logger.warning("w %d", i)
        for i in range(10):
            logger.error("e %d", i)
        for i in range(5):
            logger.debug("late d %d", i)
        stats = handler.stats()
        proxy.mode = "pass"
    # 30 INFO evict 30 DEBUG; 30 WARNING evict the other 20 DEBUG and 10 INFO; 10 ERROR evict
    # 10 INFO; the 5 late DEBUG find nothing lower and are dropped. With a full spool the first
    # overflow spills (and loses) the older 25 DEBUG instead, which ends the same way.
    assert stats["dropped"] == {"DEBUG": 55, "INFO": 20}
    assert stats["buffer_events"] == 50
    assert "WARNING" not in stats["dropped"] and "ERROR" not in stats["dropped"]


def test_replay_merges_spooled_batches_up_to_the_request_limits(
    moto_url: str, group: str, logs: Any, tmp_path: Path, proxy: FaultProxy
) -> None:
    """Thirty one-interval batches left by a throttled process go out in one request each
    for far fewer requests: each accepted request is filled toward the service limits."""
    from logship.batching import Event
    from logship.spool import Spool

    dead = Spool(tmp_path / "spool", 10_000_000, group)
    for batch in range(30):
        events = [
            Event(int(time.time() * 1000) - 60_000 + batch * 10 + i, logging.INFO, m, len(m), i)
            for i, m in enumerate(f"spooled {batch}-{i:02d}" for i in range(10))
        ]
        assert dead.write(events, "throttled-task").written == 10
    dead.forget_after_fork()  # that process is gone: its lock is free
    proxy.keep_bodies = True
    handler = handler_for(proxy.url, group, tmp_path)
    with attached(handler):
        assert wait_until(lambda: len(fetch_messages_of(logs, group, "throttled-task")) >= 300, 30)
        # the counter moves once the request has returned, a moment after moto stored it
        assert wait_until(lambda: handler.stats()["replayed"] >= 300, 10)
        replayed = handler.stats()["replayed"]
    puts = [body for _mode, body in proxy.put_bodies if b"throttled-task" in body]
    assert replayed == 300
    assert len(puts) <= 2, f"{len(puts)} requests for 30 spooled batches"
    messages = sorted(fetch_messages_of(logs, group, "throttled-task"))
    assert messages == sorted(f"spooled {b}-{i:02d}" for b in range(30) for i in range(10))


def fetch_messages_of(logs: Any, group: str, stream: str) -> list[str]:
    """Raw messages of one stream."""
    try:
        events = logs.get_log_events(
            logGroupName=group, logStreamName=stream, startFromHead=True, limit=10_000
        )["events"]
    except logs.exceptions.ResourceNotFoundException:
        return []
    return [event["message"] for event in events]


def test_throttling_paces_calls_and_sends_the_backlog_in_few_full_calls(
    moto_url: str, group: str, logs: Any, tmp_path: Path, proxy: FaultProxy
) -> None:
    """A throttled process slows its calls down (one per paced interval, not a retry storm),
    keeps the throttled events in memory rather than on disk, and once CloudWatch takes
    calls again sends the backlog in as few calls as the request limits allow."""
    proxy.mode = "throttle"
    proxy.keep_bodies = True
    handler = handler_for(proxy.url, group, tmp_path, flush_interval=0.2)
    with attached(handler) as logger:
        for i in range(300):
            logger.info("paced %d", i, extra={"seq": i})
            time.sleep(0.01)  # 3 s of logging: 15 flush intervals
        during = handler.stats()
        throttled_puts = sum(1 for mode, _ in proxy.put_bodies if mode == "throttle")
        proxy.mode = "pass"

        def arrived() -> bool:
            return len(fetch_messages(logs, group)) >= 300

        assert wait_until(arrived, 30, 0.25), handler.stats()
        time.sleep(1)
        final = handler.stats()
    passed_puts = sum(1 for mode, _ in proxy.put_bodies if mode == "pass")
    assert during["throttled"] >= 1 and during["pace_per_s"] > 0
    # unpaced, every 0.2 s flush and its backoff retries would have been refused: ~30 calls
    assert throttled_puts <= 5, f"{throttled_puts} throttled calls in 3 s"
    assert during["spooled"] == 0 and during["dropped_total"] == 0
    assert passed_puts <= 3, f"{passed_puts} calls for the backlog"
    seqs = sorted(m["data"]["seq"] for m in fetch_messages(logs, group))
    assert seqs == list(range(300)), "every event exactly once"
    assert final["sent"] == 300 and final["retried"] == 0
