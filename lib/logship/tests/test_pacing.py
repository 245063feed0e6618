"""logship.pacing: the call pace under throttling, driven by a clock passed in."""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path

import pytest
from logship.pacing import (
    MAX_INTERVAL,
    MAX_URGENCY,
    MIN_RETRY_S,
    QUIET_S,
    RELEASE_RATE,
    SPEEDUP_CALLS,
    URGENCY_S,
    Pacer,
)


def pacer(seed: int = 7) -> Pacer:
    return Pacer(random.Random(seed), start_rate=0.2)


def paced(seed: int = 7, at: float = 0.0) -> Pacer:
    """A pacer that has just been throttled once at ``at``."""
    p = pacer(seed)
    p.called(at)
    p.throttled(at)
    return p


def accept(p: Pacer, now: float) -> None:
    p.called(now)
    p.accepted(now)


def test_unthrottled_calls_are_not_paced() -> None:
    p = pacer()
    for now in (0.0, 0.001, 0.002):
        assert p.ready(now)
        accept(p, now)
    assert not p.active and p.rate == 0.0 and p.delay(0.002) == 0.0


def test_the_first_throttle_starts_pacing_at_the_longest_period() -> None:
    for start_rate in (0.2, 50.0):  # whatever the process called at
        p = Pacer(random.Random(1), start_rate=start_rate)
        p.called(0.0)
        p.throttled(0.0)
        assert p.active and p.period == MAX_INTERVAL and p.rate == pytest.approx(1 / MAX_INTERVAL)
        assert MIN_RETRY_S <= p.next_call <= MAX_INTERVAL
        assert not p.ready(p.next_call - 0.001) and p.ready(p.next_call)


def test_an_accepted_call_keeps_its_phase_one_period_later_without_jitter() -> None:
    """The next call goes out exactly one period after the accepted one went out (not after
    its answer): a task keeps the phase at which it got through."""
    for seed in range(20):
        p = paced(seed)
        p.called(7.25)
        p.accepted(7.3)  # the answer comes a little later
        assert p.next_call == 7.25 + MAX_INTERVAL
        assert p.period == MAX_INTERVAL  # one accepted call does not change the period


def test_a_throttle_after_an_accepted_call_doubles_the_period() -> None:
    p = paced()
    now = 10.0
    for _ in range(SPEEDUP_CALLS):
        accept(p, now)
        now += p.period
    halved = p.period
    assert halved == MAX_INTERVAL / 2
    p.called(now)
    p.throttled(now)  # the slot was lost
    assert p.period == MAX_INTERVAL
    p.called(now + 20)
    p.throttled(now + 20)  # already at the longest period
    assert p.period == MAX_INTERVAL


def test_a_throttle_while_searching_keeps_the_period() -> None:
    p = paced()
    for _ in range(SPEEDUP_CALLS):
        accept(p, 10.0)
    assert p.period == MAX_INTERVAL / 2
    p.called(20.0)
    p.throttled(20.0)  # lost the slot: doubled
    assert p.period == MAX_INTERVAL
    for seed in range(3):
        q = paced(seed)
        for _ in range(SPEEDUP_CALLS):
            accept(q, 10.0)
        q.called(20.0)
        q.throttled(20.0)
        q.called(30.0)
        q.throttled(30.0)  # no accepted call since the last throttle: searching
        assert q.period == MAX_INTERVAL


def test_after_a_throttle_the_next_call_searches_the_whole_period() -> None:
    """Tasks throttled by the same window draw their next call anywhere in the next period (a
    new phase each), not all at the same delay, where they would collide again."""
    delays = []
    for seed in range(300):
        p = paced(seed, at=100.0)
        delays.append(p.next_call - 100.0)
    assert min(delays) == MIN_RETRY_S  # draws under the minimum wait for it
    assert max(delays) <= MAX_INTERVAL and max(delays) > 0.9 * MAX_INTERVAL
    quarters = [0, 0, 0, 0]
    for d in delays:
        quarters[min(3, int(d / MAX_INTERVAL * 4))] += 1
    assert min(quarters) >= 50, quarters  # spread over the whole period, not bunched


@pytest.mark.parametrize(
    ("waited", "urgency"),
    [
        pytest.param(0.0, 1.0, id="fresh"),
        pytest.param(URGENCY_S, 1.0, id="one-unit"),
        pytest.param(3 * URGENCY_S, 3.0, id="three-units"),
        pytest.param(1000.0, MAX_URGENCY, id="capped"),
    ],
)
def test_a_batch_that_waited_longer_is_tried_again_sooner(waited: float, urgency: float) -> None:
    for seed in range(50):
        p = paced(seed)
        p.called(100.0)
        p.throttled(100.0, waited=waited)
        delay = p.next_call - 100.0
        assert MIN_RETRY_S <= delay <= max(MIN_RETRY_S, MAX_INTERVAL / urgency)


def test_a_retry_never_comes_sooner_than_the_minimum() -> None:
    for seed in range(50):
        p = paced(seed)
        p.called(1.0)
        p.throttled(1.0, waited=3600.0)
        assert p.next_call - 1.0 >= MIN_RETRY_S


def test_accepted_calls_in_a_row_halve_the_period_and_a_throttle_restarts_the_count() -> None:
    p = paced()
    now = 10.0
    for _ in range(SPEEDUP_CALLS - 1):
        accept(p, now)
        now += p.period
    assert p.period == MAX_INTERVAL
    p.called(now)
    p.throttled(now)  # the count starts again
    now += 20.0
    for _ in range(SPEEDUP_CALLS - 1):
        accept(p, now)
        now += p.period
    assert p.period == MAX_INTERVAL
    accept(p, now)
    assert p.period == MAX_INTERVAL / 2
    assert p.next_call == now + MAX_INTERVAL / 2


def test_pacing_ends_once_the_period_would_fall_under_the_release_rate() -> None:
    p = paced()
    now, accepted, fastest = 1.0, 0, 0.0
    while p.active and accepted < 100:
        fastest = p.rate
        accept(p, now)
        accepted += 1
        now += 0.01  # well within the quiet spell
    halvings = 0
    period = MAX_INTERVAL
    while period * RELEASE_RATE >= 1.0:
        period /= 2
        halvings += 1
    assert accepted == halvings * SPEEDUP_CALLS
    assert fastest == pytest.approx(RELEASE_RATE)  # the last pace was RELEASE_RATE itself
    assert not p.active and p.ready(now) and p.delay(now) == 0.0


def test_pacing_ends_after_a_quiet_spell_and_a_later_throttle_starts_again() -> None:
    p = paced()
    accept(p, 5.0)
    still_paced = p.active
    accept(p, QUIET_S + 1.0)  # no throttle for QUIET_S
    assert still_paced and not p.active and p.ready(QUIET_S + 1.0)
    p.called(QUIET_S + 2.0)
    p.throttled(QUIET_S + 2.0)
    assert p.period == MAX_INTERVAL


def test_a_filling_buffer_may_call_after_half_a_period_not_before() -> None:
    p = paced(at=10.0)
    p.called(11.0)
    assert not p.ready_early(11.0 + MAX_INTERVAL / 2 - 0.01)
    assert p.ready_early(11.0 + MAX_INTERVAL / 2)


def test_an_outage_ends_pacing() -> None:
    p = paced()
    accept(p, 5.0)
    p.reset()
    assert not p.active and p.ready(5.0) and p.rate == 0.0
    p.called(6.0)
    p.throttled(6.0)
    assert p.period == MAX_INTERVAL


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
