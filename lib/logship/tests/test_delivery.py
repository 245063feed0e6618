"""logship.delivery: one batch through retries, stream creation and rejections, driven with a
recording client (no server)."""

from __future__ import annotations

import logging
import time

import pytest
from logship.batching import Event
from logship.delivery import Delivered, Delivery
from logship.pacing import MAX_INTERVAL
from logship.state import Notices, Shared

from .test_remote import RecordingClient, client_error

DAY_MS = 86_400_000


def shared_state() -> Shared:
    return Shared(
        buffer_max_bytes=1 << 20,
        buffer_max_events=1000,
        flush_interval=1.0,
        stats_interval=0,
        backoff_base=0.001,
        probe_interval_cap=0.01,
        retention_days=None,
        journal_wanted=False,
    )


def events(count: int = 3, at: int | None = None) -> list[Event]:
    now = int(time.time() * 1000) if at is None else at
    return [Event(now + i, logging.INFO, f"m{i}", 2, i + 1) for i in range(count)]


def delivery(client: RecordingClient, shared: Shared, **options: object) -> Delivery:
    return Delivery(shared, Notices(), client, "/g", backoff_base=0.001, **options)  # type: ignore[arg-type]


def test_sent_batch_is_counted_and_keeps_health() -> None:
    shared = shared_state()
    client = RecordingClient({})
    assert delivery(client, shared).deliver(events(), "s") is Delivered.HANDLED
    assert shared.counters.sent == 3 and shared.health.healthy


def test_invalid_batch_is_dropped_for_good_without_retry(capfd: pytest.CaptureFixture[str]) -> None:
    shared = shared_state()
    client = RecordingClient(client_error("InvalidParameterException"))
    assert delivery(client, shared).deliver(events(), "s") is Delivered.HANDLED
    assert shared.counters.rejected["invalid"] == 3 and len(client.calls) == 1
    assert '"invalid"' in capfd.readouterr().err


def test_missing_stream_is_created_once_then_sent() -> None:
    shared = shared_state()
    client = RecordingClient(client_error("ResourceNotFoundException"), {}, {})
    assert delivery(client, shared).deliver(events(), "s") is Delivered.HANDLED
    assert [name for name, _ in client.calls] == [
        "put_log_events",
        "create_log_stream",
        "put_log_events",
    ]


def test_server_errors_are_retried_then_left_to_the_spool(
    capfd: pytest.CaptureFixture[str],
) -> None:
    shared = shared_state()
    client = RecordingClient(*[client_error("ServiceUnavailableException")] * 4)
    assert delivery(client, shared, max_attempts=4).deliver(events(), "s") is Delivered.FAILED
    assert len(client.calls) == 4 and shared.counters.retried == 3
    assert not shared.health.healthy
    assert "CloudWatch unavailable" in capfd.readouterr().err


def test_events_cloudwatch_would_refuse_for_their_age_are_not_sent(
    capfd: pytest.CaptureFixture[str],
) -> None:
    shared = shared_state()
    client = RecordingClient({})
    now = int(time.time() * 1000)
    batch = [*events(2, at=now - 15 * DAY_MS), *events(2, at=now)]
    assert delivery(client, shared).deliver(batch, "s") is Delivered.HANDLED
    assert shared.counters.rejected["too_old"] == 2 and shared.counters.sent == 2
    assert len(client.calls[0][1]["logEvents"]) == 2
    assert '"rejected-clock"' in capfd.readouterr().err


def test_a_throttled_call_is_not_retried_but_paces_the_next_ones() -> None:
    shared = shared_state()
    client = RecordingClient(client_error("ThrottlingException"), {}, {})
    deliver = delivery(client, shared).deliver
    pacer = shared.pacer
    assert deliver(events(), "s") is Delivered.THROTTLED
    assert len(client.calls) == 1 and shared.counters.throttled == 1
    assert shared.counters.retried == 0 and shared.health.healthy  # a pace, not an outage
    assert pacer.active and not pacer.ready(time.monotonic())
    paced = pacer.period
    assert paced == MAX_INTERVAL  # no rate known before the first call
    assert deliver(events(), "s") is Delivered.HANDLED
    # an accepted call keeps its slot: the next call exactly one period after it went out
    assert pacer.period == paced and pacer.next_call == pacer.last_call + paced
    assert not pacer.ready(time.monotonic())
    # an accepted call that fills a request (records are left behind) halves the period at once
    now = int(time.time() * 1000)
    full = [Event(now + i, logging.INFO, "x" * 100_000, 100_000, 10 + i) for i in range(10)]
    assert deliver(full, "s") is Delivered.HANDLED
    assert pacer.period == paced / 2 and pacer.next_call == pacer.last_call + paced / 2
