"""logship.pacing: the call pace under throttling, driven by a clock passed in."""

from __future__ import annotations

import random

import pytest
from logship.pacing import MAX_INTERVAL, QUIET_S, RECOVERY_CALLS, RELEASE_RATE, START_RATE, Pacer


def pacer() -> Pacer:
    return Pacer(random.Random(7))


def test_unthrottled_calls_are_not_paced() -> None:
    p = pacer()
    for now in (0.0, 0.001, 0.002):
        assert p.ready(now)
        p.called(now)
        p.accepted(now)
    assert not p.active and p.delay(0.002) == 0.0


def test_a_throttle_starts_pacing_and_each_one_halves_the_rate() -> None:
    p = pacer()
    p.called(0.0)
    p.throttled(0.0)
    assert p.active and p.rate == START_RATE
    assert not p.ready(0.5) and p.ready(1.26)
    p.called(2.0)
    p.throttled(2.0)
    assert p.rate == START_RATE / 2
    assert 2.0 + 0.75 * 2 <= p.next_call <= 2.0 + 1.25 * 2


def test_the_rate_never_falls_below_one_call_per_max_interval() -> None:
    p = pacer()
    now = 0.0
    for _ in range(20):
        p.called(now)
        p.throttled(now)
        now = p.next_call
    assert p.rate == pytest.approx(1.0 / MAX_INTERVAL)
    assert p.delay(now - 1.0) <= MAX_INTERVAL * 1.25


def test_accepted_calls_bring_the_rate_back_linearly() -> None:
    p = pacer()
    p.called(0.0)
    p.throttled(0.0)
    p.called(1.0)
    p.throttled(1.0)  # rate 0.5, step 0.5 / RECOVERY_CALLS
    now = 2.0
    for _ in range(RECOVERY_CALLS):
        now += 1.0
        p.called(now)
        p.accepted(now)
    assert p.rate == pytest.approx(START_RATE)


def test_pacing_ends_past_the_release_rate_or_after_a_quiet_spell() -> None:
    p = pacer()
    p.called(0.0)
    p.throttled(0.0)
    p.rate = RELEASE_RATE - 0.001
    p.accepted(1.0)
    assert not p.active and p.ready(1.0)
    q = pacer()
    q.called(0.0)
    q.throttled(0.0)
    q.throttled(0.5)
    q.accepted(QUIET_S + 1.0)
    assert not q.active
    q.called(QUIET_S + 2.0)
    q.throttled(QUIET_S + 2.0)  # resumes near the rate it ended at, not from the start
    assert q.rate < START_RATE


def test_jitter_spreads_tasks_that_were_throttled_together() -> None:
    starts = set()
    for seed in range(8):
        p = Pacer(random.Random(seed))
        p.called(0.0)
        p.throttled(0.0)
        starts.add(round(p.next_call, 3))
    assert len(starts) == 8


def test_a_filling_buffer_may_call_after_half_an_interval_not_before() -> None:
    p = pacer()
    p.called(10.0)
    p.throttled(10.0)
    p.called(11.0)
    p.throttled(11.0)  # rate 0.5: a slot every ~2 s
    assert not p.ready_early(11.9) and p.ready_early(12.0)
    assert not p.ready(12.0)


def test_an_outage_ends_pacing_and_a_later_throttle_resumes_near_the_last_pace() -> None:
    p = pacer()
    p.called(0.0)
    p.throttled(0.0)
    p.called(1.0)
    p.throttled(1.0)
    p.reset()
    assert not p.active and p.ready(1.0)
    p.called(2.0)
    p.throttled(2.0)
    assert p.rate == START_RATE / 2
