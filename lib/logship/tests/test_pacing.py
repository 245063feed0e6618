"""logship.pacing: the call pace under throttling, driven by a clock passed in."""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path
from types import ModuleType

import pytest
from logship.pacing import (
    FULL_LOAD,
    MAX_INTERVAL,
    MAX_URGENCY,
    MIN_DEMAND_INTERVAL,
    MIN_INTERVAL,
    MIN_RETRY_S,
    QUIET_S,
    RELEASE_RATE,
    SPEEDUP_CALLS,
    URGENCY_S,
    Pacer,
)


def pacer(seed: int = 7) -> Pacer:
    return Pacer(random.Random(seed))


def paced(seed: int = 7, at: float = 0.0) -> Pacer:
    """A pacer that has just been throttled once at ``at``, on its first call (no demand
    known: the longest period)."""
    p = pacer(seed)
    p.called(at)
    p.throttled(at)
    return p


def accept(p: Pacer, now: float, load: float = 0.0) -> None:
    p.called(now, load, load)
    p.accepted(now)


class Stream:
    """Records arriving at ``rate`` full requests per second; each call takes what waits, up
    to one request, and tells the pacer its load and the backlog."""

    def __init__(self, p: Pacer, rate: float) -> None:
        self.p = p
        self.rate = rate
        self.backlog = 0.0
        self.now = 0.0

    def call(self, at: float) -> float:
        self.backlog += self.rate * (at - self.now)
        self.now = at
        load = min(1.0, self.backlog)
        self.p.called(at, load, self.backlog)
        return load

    def accept(self, at: float) -> None:
        load = self.call(at)
        self.p.accepted(at)
        self.backlog -= load

    def refuse(self, at: float) -> None:
        self.call(at)
        self.p.throttled(at)


def stream(p: Pacer, rate: float, every: float, until: float, refused: int = 0) -> Stream:
    """A call every ``every`` seconds until ``until``; every ``refused``-th call is throttled
    (its batch stays in the backlog) and pacing reset, so only the demand is measured."""
    s = Stream(p, rate)
    calls = 0
    while s.now + every <= until + 1e-9:
        calls += 1
        if refused and calls % refused == 0:
            s.refuse(s.now + every)
            p.reset()
        else:
            s.accept(s.now + every)
    return s


def test_unthrottled_calls_are_not_paced() -> None:
    p = pacer()
    for now in (0.0, 0.001, 0.002):
        assert p.ready(now)
        accept(p, now, 0.25)
    assert not p.active and p.rate == 0.0 and p.delay(0.002) == 0.0


def test_the_first_throttle_before_any_rate_is_known_starts_at_the_longest_period() -> None:
    p = pacer(1)
    p.called(0.0, 0.25, 0.25)
    p.throttled(0.0)
    assert p.active and p.period == MAX_INTERVAL and p.rate == pytest.approx(1 / MAX_INTERVAL)
    assert MIN_RETRY_S <= p.next_call <= MAX_INTERVAL
    assert not p.ready(p.next_call - 0.001) and p.ready(p.next_call)


@pytest.mark.parametrize(
    ("rate", "every", "period"),
    [
        pytest.param(0.4, 0.125, 2.5, id="busy-small-batches"),
        pytest.param(0.4, 1.0, 2.5, id="busy-large-batches"),
        pytest.param(8 / 3, 0.1, MIN_DEMAND_INTERVAL, id="over-two-requests-a-second"),
        pytest.param(0.035, 5.0, MAX_INTERVAL, id="quiet"),
    ],
)
def test_the_first_throttle_starts_at_the_period_that_carries_the_demand(
    rate: float, every: float, period: float
) -> None:
    """A worker shipping 0.4 MiB/s in 256 KiB calls paces at one full request per 2.5 s, not
    one per 16 s: pacing cuts the calls, not the bytes."""
    p = pacer()
    stream(p, rate, every, until=30.0)
    assert p.demand(p.last_call) == pytest.approx(rate, rel=0.05)
    p.throttled(p.last_call + 0.01)
    assert p.period == pytest.approx(period, rel=0.05)


def test_the_demand_counts_a_refused_batch_once() -> None:
    p = pacer()
    stream(p, 0.4, 0.25, until=30.0, refused=3)
    assert p.demand(p.last_call) == pytest.approx(0.4, rel=0.05)


def test_the_demand_fades_when_the_records_stop() -> None:
    p = pacer()
    stream(p, 0.4, 0.25, until=30.0)
    p.called(60.0, 0.001, 0.001)  # 30 s later, one record
    p.throttled(60.0)
    assert p.period == MAX_INTERVAL


def test_an_accepted_call_keeps_its_phase_one_period_later_without_jitter() -> None:
    """The next call goes out exactly one period after the accepted one went out (not after
    its answer): a task keeps the phase at which it got through."""
    for seed in range(20):
        p = paced(seed)
        p.called(7.25, 0.1, 0.1)
        p.accepted(7.3)  # the answer comes a little later
        assert p.next_call == 7.25 + MAX_INTERVAL
        assert p.period == MAX_INTERVAL  # one accepted call does not change the period


def test_a_throttle_after_an_accepted_call_doubles_the_period() -> None:
    p = paced()
    now = 10.0
    for _ in range(SPEEDUP_CALLS):
        accept(p, now, 0.1)
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
    for seed in range(3):
        q = paced(seed)
        for _ in range(SPEEDUP_CALLS):
            accept(q, 10.0, 0.1)
        q.called(20.0)
        q.throttled(20.0)  # lost the slot: doubled
        assert q.period == MAX_INTERVAL
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


def test_a_busy_stream_searches_within_its_own_period() -> None:
    """A stream paced at one call per 0.5 s tries again within 0.5 s of a throttle, not after
    the 2 s a quiet task waits at least."""
    for seed in range(50):
        p = pacer(seed)
        stream(p, 3.0, 0.1, until=10.0)
        p.throttled(10.0)
        assert p.period == MIN_DEMAND_INTERVAL < MIN_RETRY_S
        assert p.next_call - 10.0 == pytest.approx(MIN_DEMAND_INTERVAL)


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
        accept(p, now, 0.1)
        now += p.period
    assert p.period == MAX_INTERVAL
    p.called(now)
    p.throttled(now)  # the count starts again
    now += 20.0
    for _ in range(SPEEDUP_CALLS - 1):
        accept(p, now, 0.1)
        now += p.period
    assert p.period == MAX_INTERVAL
    accept(p, now, 0.1)
    assert p.period == MAX_INTERVAL / 2
    assert p.next_call == now + MAX_INTERVAL / 2


def test_a_full_accepted_call_halves_the_period_at_once_down_to_the_demands() -> None:
    """A busy stream throttled back to 16 s comes back to its own pace in one accepted full
    call per halving; past it, only by calls in a row."""
    p = pacer()
    s = stream(p, 0.6, 0.25, until=20.0)  # the demand's period: 1 / 0.6 s
    s.refuse(20.25)
    assert p.period == pytest.approx(1 / 0.6, rel=0.05)
    p.period = MAX_INTERVAL  # as after losing the slot four times
    periods = []
    for _ in range(5):
        s.accept(p.next_call)
        periods.append(p.period)
    assert p.demand_interval() == pytest.approx(1 / 0.6, rel=0.05)
    # 16 s > 8 > 4 > 2 > 1/0.6: halved at once each time; 1 s < 1/0.6: kept
    assert periods == [8.0, 4.0, 2.0, 1.0, 1.0]


def test_a_call_that_is_not_full_does_not_halve_at_once() -> None:
    p = paced()
    accept(p, 5.0, FULL_LOAD - 0.01)
    assert p.period == MAX_INTERVAL


def test_pacing_ends_at_the_release_rate_once_a_call_leaves_nothing_behind() -> None:
    p = paced()
    now, accepted, fastest = 1.0, 0, 0.0
    while p.active and accepted < 100:
        fastest = p.rate
        accept(p, now, 0.5)
        accepted += 1
        now += 0.01  # well within the quiet spell
    halvings = 0
    period = MAX_INTERVAL
    while period * RELEASE_RATE > 1.0:
        period /= 2
        halvings += 1
    assert accepted == halvings * SPEEDUP_CALLS
    assert fastest == pytest.approx(RELEASE_RATE / 2)  # the last pace, halved to the release
    assert not p.active and p.ready(now) and p.delay(now) == 0.0


def test_full_calls_stay_paced_past_the_release_rate_down_to_the_shortest_period() -> None:
    """A backlog drains in full calls at a growing pace, not in a burst of small unpaced ones
    that would spend the quota four times as fast."""
    p = paced()
    now = 1.0
    for _ in range(100):
        accept(p, now, 1.0)
        now += 0.01
    assert p.active and p.period == MIN_INTERVAL
    accept(p, now, 0.5)  # the backlog is gone
    assert not p.active


def test_pacing_ends_after_a_quiet_spell_and_a_later_throttle_starts_again() -> None:
    p = paced()
    accept(p, 5.0, 0.1)
    still_paced = p.active
    accept(p, QUIET_S + 1.0, 1.0)  # no throttle for QUIET_S, full call or not
    assert still_paced and not p.active and p.ready(QUIET_S + 1.0)
    p.called(QUIET_S + 2.0)
    p.throttled(QUIET_S + 2.0)
    assert p.active


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
    assert p.active


SIM = Path(__file__).resolve().parents[3] / "bench" / "fleet" / "sim.py"


def fleet_sim() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fleet_sim", SIM)
    assert spec is not None and spec.loader is not None
    sim = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = sim
    spec.loader.exec_module(sim)
    return sim


@pytest.mark.skipif(not SIM.is_file(), reason="bench/fleet/sim.py is not in this tree")
@pytest.mark.parametrize("seed", [0, 1])
def test_the_fleet_simulator_delivers_every_record_once_under_the_quota(seed: int) -> None:
    """bench/fleet/sim.py drives this Pacer for a throttled fleet: every record arrives, in
    order and once (the simulator raises on a gap or a repeat), and the calls stay paced."""
    sim = fleet_sim()
    result = sim.simulate(sim.SCENARIOS["q1"], seed)
    assert result.delivered == result.records > 0
    assert result.drain_s is not None
    assert result.throttled > 0  # the quota binds: this exercises the pacing
    assert result.throttled <= 2 * result.accepted  # no retry storm


@pytest.mark.skipif(not SIM.is_file(), reason="bench/fleet/sim.py is not in this tree")
@pytest.mark.parametrize("seed", [0, 1])
def test_a_busy_stream_is_back_within_seconds_of_a_foreign_writer_taking_the_quota(
    seed: int,
) -> None:
    """Two workers shipping 2.3 MB/s each; another writer takes the whole quota for 5 s: both
    are back to their steady backlog within 5 s of it, without a retry storm."""
    sim = fleet_sim()
    result = sim.simulate(sim.SCENARIOS["burst"], seed)
    assert result.delivered == result.records > 0
    assert result.recovery_s is not None and result.recovery_s < 5.0
    assert 0 < result.throttled <= 0.1 * result.accepted
