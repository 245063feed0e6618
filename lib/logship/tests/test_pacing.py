"""logship.pacing: the call pace under throttling, driven by a clock passed in."""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path

import pytest
from logship.pacing import (
    CUT,
    CUT_UNSERVED,
    JITTER,
    MAX_INTERVAL,
    MAX_URGENCY,
    MIN_RETRY_S,
    QUIET_S,
    RECOVERY_CALLS,
    RELEASE_RATE,
    RETRY_SPREAD,
    START_RATE,
    Pacer,
)

LOW, HIGH = RETRY_SPREAD


def pacer(seed: int = 7, start_rate: float = START_RATE) -> Pacer:
    return Pacer(random.Random(seed), start_rate=start_rate)


def test_unthrottled_calls_are_not_paced() -> None:
    p = pacer()
    for now in (0.0, 0.001, 0.002):
        assert p.ready(now)
        p.called(now)
        p.accepted(now)
    assert not p.active and p.delay(0.002) == 0.0


def test_the_first_throttle_paces_at_half_the_rate_the_process_called_at() -> None:
    p = pacer(start_rate=0.2)  # one call per 5 s flush interval
    p.called(0.0)
    p.throttled(0.0)
    assert p.active and p.rate == pytest.approx(0.1)
    assert LOW * 10 <= p.next_call <= HIGH * 10
    fast = pacer(start_rate=50.0)  # never above START_RATE
    fast.called(0.0)
    fast.throttled(0.0)
    assert fast.rate == pytest.approx(START_RATE)


def test_a_throttle_after_an_accepted_call_halves_the_rate() -> None:
    p = pacer()
    p.called(0.0)
    p.throttled(0.0)
    start = p.rate
    p.called(5.0)
    p.accepted(5.0)
    grown = p.rate
    assert grown == pytest.approx(start * (1 + 1 / RECOVERY_CALLS))
    p.called(10.0)
    p.throttled(10.0)
    assert p.rate == pytest.approx(grown * CUT)


def test_a_task_that_got_nothing_through_is_cut_less_than_one_that_did() -> None:
    """A throttle counts fully against a task only when it had its share since the last one:
    the unserved task keeps more calls, so the same misses do not starve it."""
    served, unserved = pacer(1), pacer(2)
    for p in (served, unserved):
        p.called(0.0)
        p.throttled(0.0)
    now = 0.0
    for _ in range(4):
        now += 20.0
        served.called(now)
        served.accepted(now)
        served.called(now + 1)
        served.throttled(now + 1)
        unserved.called(now + 1)
        unserved.throttled(now + 1)
    assert CUT < CUT_UNSERVED < 1.0
    assert unserved.rate > served.rate
    assert unserved.rate == pytest.approx(max(1 / MAX_INTERVAL, 0.5 * CUT_UNSERVED**4))


def test_the_rate_never_falls_below_one_call_per_max_interval() -> None:
    p = pacer()
    now = 0.0
    for i in range(20):
        p.called(now)
        if i % 2:
            p.accepted(now)
        else:
            p.throttled(now)
        assert p.rate >= 1.0 / MAX_INTERVAL
        assert p.delay(now) <= MAX_INTERVAL * max(HIGH, 1 + JITTER)
        now = p.next_call
    assert p.rate == pytest.approx(1.0 / MAX_INTERVAL, rel=0.2)


def test_after_a_throttle_tasks_spread_over_several_intervals_not_one() -> None:
    """Tasks throttled by the same window draw their next call from half an interval to two
    intervals later, not all one interval (+-25%) later, where they would collide again."""
    delays = []
    for seed in range(200):
        p = pacer(seed, start_rate=0.2)
        p.called(0.0)
        p.throttled(0.0)
        delays.append(p.next_call / p.interval())
    assert min(delays) >= LOW and max(delays) <= HIGH
    assert min(delays) < 1 - JITTER and max(delays) > 1 + JITTER
    thirds = [0, 0, 0]
    for d in delays:
        thirds[min(2, int((d - LOW) / (HIGH - LOW) * 3))] += 1
    assert min(thirds) >= 40, thirds  # spread over the whole range, not bunched


@pytest.mark.parametrize(
    ("waited_intervals", "urgency"),
    [
        pytest.param(0.0, 1.0, id="fresh"),
        pytest.param(1.0, 1.0, id="one-interval"),
        pytest.param(3.0, 3.0, id="three-intervals"),
        pytest.param(100.0, MAX_URGENCY, id="capped"),
    ],
)
def test_a_batch_that_waited_longer_is_tried_again_sooner(
    waited_intervals: float, urgency: float
) -> None:
    for seed in range(20):
        p = pacer(seed, start_rate=0.125)  # paced at one call per 16 s
        p.called(100.0)
        p.throttled(100.0, waited=waited_intervals / 0.0625)
        interval = p.interval()
        delay = p.next_call - 100.0
        assert max(MIN_RETRY_S, LOW * interval / urgency) <= delay <= HIGH * interval / urgency


def test_a_retry_never_comes_sooner_than_the_minimum() -> None:
    p = pacer()
    p.called(0.0)
    p.throttled(0.0)
    p.rate = RELEASE_RATE - 0.01  # near the release rate: intervals of 0.25 s
    p.called(1.0)
    p.throttled(1.0, waited=3600.0)
    assert p.next_call - 1.0 >= MIN_RETRY_S


def test_accepted_calls_bring_the_rate_back_linearly() -> None:
    p = pacer()
    p.called(0.0)
    p.throttled(0.0)
    before = p.rate
    p.called(1.0)
    p.accepted(1.0)
    p.called(2.0)
    p.throttled(2.0)  # served since the last throttle: halved
    halved = p.rate
    assert halved == pytest.approx(before * (1 + 1 / RECOVERY_CALLS) * CUT)
    now = 2.0
    for _ in range(RECOVERY_CALLS):
        now += 1.0
        p.called(now)
        p.accepted(now)
    assert p.rate == pytest.approx(2 * halved)


def test_after_an_accepted_call_the_next_waits_one_jittered_interval() -> None:
    p = pacer()
    p.called(0.0)
    p.throttled(0.0)
    p.called(10.0)
    p.accepted(10.0)
    interval_before_growth = 1.0 / (p.rate - p.rate / (RECOVERY_CALLS + 1))
    assert 10.0 + (1 - JITTER) * interval_before_growth <= p.next_call
    assert p.next_call <= 10.0 + (1 + JITTER) * interval_before_growth


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
    start = q.rate
    q.throttled(0.5)
    q.accepted(QUIET_S + 1.0)
    assert not q.active
    q.called(QUIET_S + 2.0)
    q.throttled(QUIET_S + 2.0)  # resumes near the rate it ended at, not from the start
    assert q.rate < start


def test_a_filling_buffer_may_call_after_half_an_interval_not_before() -> None:
    p = pacer()
    p.called(10.0)
    p.throttled(10.0)  # rate 0.5: a slot every ~2 s
    p.called(11.0)
    assert not p.ready_early(11.9) and p.ready_early(12.0)
    assert not p.ready(12.0)


def test_an_outage_ends_pacing_and_a_later_throttle_resumes_near_the_last_pace() -> None:
    p = pacer()
    p.called(0.0)
    p.throttled(0.0)
    p.called(1.0)
    p.throttled(1.0)
    cut = p.rate
    p.reset()
    assert not p.active and p.ready(1.0)
    p.called(2.0)
    p.throttled(2.0)
    assert p.rate == pytest.approx(cut)


SIM = Path(__file__).resolve().parents[3] / "bench" / "fleet" / "sim.py"


@pytest.mark.skipif(not SIM.is_file(), reason="bench/fleet/sim.py is not in this tree")
@pytest.mark.parametrize("seed", [0, 1])
def test_the_fleet_simulator_delivers_every_record_once_under_the_quota(seed: int) -> None:
    """bench/fleet/sim.py drives this Pacer for a throttled fleet: every record arrives, in
    order and once (the simulator raises on a gap or a repeat), and the calls stay paced."""
    spec = importlib.util.spec_from_file_location("fleet_sim", SIM)
    assert spec is not None and spec.loader is not None
    sim = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = sim
    spec.loader.exec_module(sim)
    result = sim.simulate(sim.SCENARIOS["q1"], seed)
    assert result.delivered == result.records > 0
    assert result.drain_s is not None
    assert result.throttled > 0  # the quota binds: this exercises the pacing
    assert result.throttled <= 2 * result.accepted  # no retry storm
