#!/usr/bin/env python3
"""Fleet simulator: N senders pacing PutLogEvents against one account-wide token bucket.

A discrete-event model of what ``bench/fleet/run.py`` measures, in seconds of CPU instead of
minutes on both cores, so a change to ``logship.pacing`` can be judged over many seeds. It
drives the real :class:`logship.pacing.Pacer` (one per task, each with its own seeded
``random.Random``) with a model of the sender's decisions (``logship.sender.Sender.step``):

- records arrive evenly at ``rate`` per second per task, each ``record_bytes`` long (plus
  CloudWatch's 26 bytes per event), from a random phase, for ``load_s`` seconds;
- unpaced, a timed flush every ``LOG_FLUSH_INTERVAL`` (5 s, first one at a random point within
  5 s of the first record: the idle sender's 5 s replay checks restart the timer) sends what is
  buffered in batches of ``GREENLET_BATCH_BYTES`` (gevent workers), and a buffer that reaches
  the trigger (that size, or 10,000 events) wakes the sender at once;
- paced (``pacer.active``), a call goes out when ``pacer.ready(now)``, or ``ready_early`` once
  half the buffer (4 MiB, 10,000 events) is full, and takes up to 1 MiB / 10,000 events;
- ``pacer.called(now, load, backlog)`` when the call goes out (the batch and everything
  waiting, in full requests, as ``logship.delivery`` passes them), the sink's decision
  ``latency_s / 2`` later (plus 6.5 ms per MiB of encoding and signing), the answer
  ``latency_s / 2`` after that: ``accepted`` or ``throttled(now, waited)``, waited being the
  age of the batch's oldest event; a throttled batch goes back to the front of the buffer;
- the sink is ``bench/ingest/sink.py``'s ``_allow_put``: a token bucket of ``max(1, quota)``
  tokens refilled at ``quota`` per second, full at the start; a scenario may have another
  writer take every token for ``foreign_s`` seconds from ``foreign_at`` (every call throttled,
  the bucket empty after).

Not modelled: the spool (the backlog has no bound here: past the 8 MiB buffer the sender
spools, and the spool is replayed at the same pace), the stats records and journal, CPU
contention between the tasks, the bench's 0.5 s polling of the sink.

Per run it reports what the fleet bench reports: accepted and throttled calls, events per
accepted call, the least- and best-served task's share of its records delivered by the end of
the load, the drain time after the load, and records per second per unit of quota over load
and drain; the largest backlog of a task (bytes not yet accepted) and, with a foreign writer,
the recovery: from the writer's end until every task's backlog stays within twice its
largest before the writer came; over seeds, the median and the worst seed of each, and how
many runs had a task with nothing delivered during the load.

    .venv/bin/python bench/fleet/sim.py                       # every scenario, 20 seeds
    .venv/bin/python bench/fleet/sim.py --scenario q1 --seeds 50
    .venv/bin/python bench/fleet/sim.py --tasks 16 --rate 41 --quota 2 --seeds 10
    .venv/bin/python bench/fleet/sim.py --logship-src /tmp/ref/lib/logship/src  # another Pacer

Pure Python, no I/O; every run is bounded by ``load_s + max_drain_s`` of simulated time.
"""

from __future__ import annotations

import argparse
import dataclasses
import heapq
import importlib.util
import inspect
import math
import random
import statistics
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, cast

from logship.batching import request_share
from logship.limits import EVENT_OVERHEAD_BYTES, MAX_BATCH_BYTES, MAX_BATCH_EVENTS
from logship.sender import GREENLET_BATCH_BYTES

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ingest"))
from sink import TokenBucket  # noqa: E402 - bench/ingest is not a package

#: Encoding and signing one PutLogEvents request in a gevent worker (seconds per MiB).
ENCODE_S_PER_MIB = 0.0065
#: The sender's shortest wait (``cond.wait(max(0.005, ...))``).
MIN_WAIT_S = 0.005


class PacerLike(Protocol):
    """What the sender uses of :class:`logship.pacing.Pacer`."""

    @property
    def active(self) -> bool: ...
    def ready(self, now: float) -> bool: ...
    def ready_early(self, now: float) -> bool: ...
    def delay(self, now: float) -> float: ...
    def called(self, now: float, load: float = 0.0, backlog: float = 0.0) -> None: ...
    def accepted(self, now: float) -> None: ...
    def throttled(self, now: float, waited: float = 0.0) -> None: ...


PacerFactory = Callable[[random.Random], PacerLike]


@dataclasses.dataclass(frozen=True)
class Scenario:
    """One fleet: tasks, their records, the account quota, the sender's settings."""

    tasks: int = 8
    rate: float = 41.0  # records per second per task (40 access records + the worker's own)
    record_bytes: int = 900
    quota: float = 1.0  # PutLogEvents per second, account-wide
    load_s: float = 30.0
    latency_s: float = 0.004
    flush_interval: float = 5.0
    batch_bytes: int = GREENLET_BATCH_BYTES
    buffer_max_bytes: int = 8 * 1024 * 1024
    buffer_max_events: int = 20_000
    max_drain_s: float = 180.0
    #: Another writer in the account takes the whole quota from ``foreign_at`` for
    #: ``foreign_s`` seconds: every call is throttled then, and the bucket is empty after.
    foreign_at: float | None = None
    foreign_s: float = 0.0


#: The scenarios the fleet bench was measured at, and three more: a quota that does not bind, a
#: large fleet, and two busy tasks that need more than one full call per 16 s each.
SCENARIOS: dict[str, Scenario] = {
    "q1": Scenario(tasks=8, rate=40.0, quota=1.0),
    "q0.5": Scenario(tasks=8, rate=60.0, quota=0.5),
    "q5": Scenario(tasks=8, rate=40.0, quota=5.0),
    "fleet64": Scenario(tasks=64, rate=40.0, quota=4.0),
    "busy2": Scenario(tasks=2, rate=200.0, quota=0.5),
    # a BFF worker under load (3,400 records/s of 670 bytes, 2.3 MB/s), the quota not binding
    # but taken by another writer for 5 s; and four of them really over the quota
    "burst": Scenario(
        tasks=2, rate=3400.0, record_bytes=670, quota=50.0, foreign_at=10.0, foreign_s=5.0
    ),
    "busy4": Scenario(tasks=4, rate=3400.0, record_bytes=670, quota=4.0),
}


@dataclasses.dataclass(frozen=True)
class Result:
    """What one run measured (the fleet bench's figures)."""

    accepted: int
    throttled: int
    events_per_call: float
    share_min: float
    share_max: float
    drain_s: float | None  # None: not drained within max_drain_s
    per_quota: float | None  # records/s per unit of quota over load + drain
    records: int
    delivered: int
    starved: int = 0  # tasks with no record delivered during the load
    backlog_bytes: int = 0  # the largest backlog of a task (bytes not yet accepted)
    recovery_s: float | None = None  # after the foreign writer: until every backlog is back

    @property
    def throttled_per_accepted(self) -> float:
        return self.throttled / self.accepted if self.accepted else math.inf


class Task:
    """One process: its records (indexes into an even arrival schedule), buffer and pacer."""

    __slots__ = (
        "backlog_peak", "busy", "delivered", "delivered_upto", "drain_until", "in_load", "index",
        "last_delivery", "last_over", "n", "next_flush", "pacer", "period", "phase", "sent_upto",
        "steady", "token",
    )  # fmt: skip

    def __init__(self, index: int, scenario: Scenario, rng: random.Random, pacer: PacerLike):
        self.index = index
        self.period = 1.0 / scenario.rate
        self.phase = rng.uniform(0.0, self.period)
        self.n = max(0, math.ceil((scenario.load_s - self.phase) / self.period))
        self.pacer = pacer
        self.sent_upto = 0  # records before this index are delivered or in flight
        self.delivered_upto = 0  # records before this index are delivered
        self.delivered = 0
        self.in_load = 0  # delivered by the end of the load
        self.last_delivery = 0.0
        self.drain_until = 0  # a timed flush sends every record before this index
        self.next_flush = self.phase + rng.uniform(0.0, scenario.flush_interval)
        self.busy = False  # a call is in flight
        self.token = 0  # the current wake-up (older ones are stale)
        self.backlog_peak = 0  # records not yet accepted, at the most
        self.steady = 0  # ... at the most in the steady state before the foreign writer
        self.last_over = -math.inf  # the last time the backlog was over twice that

    def generated(self, now: float) -> int:
        """Records that have arrived by ``now``."""
        if now < self.phase:
            return 0
        return min(self.n, int((now - self.phase) / self.period) + 1)

    def arrival(self, index: int) -> float:
        return self.phase + index * self.period


class Sim:
    """One run of one scenario."""

    def __init__(self, scenario: Scenario, seed: int, make_pacer: PacerFactory) -> None:
        self.s = scenario
        rng = random.Random(seed)
        self.tasks = [
            Task(i, scenario, rng, make_pacer(random.Random(rng.getrandbits(64))))
            for i in range(scenario.tasks)
        ]
        self.cost = scenario.record_bytes + EVENT_OVERHEAD_BYTES
        self.trigger_bytes = min(scenario.batch_bytes, scenario.buffer_max_bytes // 2)
        self.trigger_events = max(1, min(MAX_BATCH_EVENTS, scenario.buffer_max_events // 2))
        self.paced_trigger_bytes = scenario.buffer_max_bytes // 2
        self.bucket = TokenBucket(scenario.quota, 0.0)
        self.accepted = 0
        self.throttled = 0
        self.events = 0
        self.heap: list[tuple[float, int, int, int, int, int]] = []
        self.seq = 0

    # -- the event queue ---------------------------------------------------------------------

    def push(self, when: float, kind: int, task: int, a: int = 0, b: int = 0) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (when, self.seq, kind, task, a, b))

    WAKE, DECIDE, ANSWER = 0, 1, 2

    def wake_at(self, task: Task, when: float) -> None:
        task.token += 1
        self.push(when, self.WAKE, task.index, task.token)

    # -- the sink ----------------------------------------------------------------------------

    def allow_put(self, now: float) -> bool:
        """bench/ingest/sink.py's token bucket, emptied while another writer holds the quota."""
        if self.s.quota <= 0:
            return True
        foreign = self.s.foreign_at
        if foreign is not None and foreign <= now < foreign + self.s.foreign_s:
            self.bucket.empty(now)
            return False
        return self.bucket.allow(now)

    # -- the sender --------------------------------------------------------------------------

    def step(self, task: Task, now: float) -> None:
        """``Sender.step`` for sends, at ``now``: send a batch or wait for the next reason."""
        s = self.s
        pacer = task.pacer
        generated = task.generated(now)
        count = generated - task.sent_upto
        trigger_bytes = self.paced_trigger_bytes if pacer.active else self.trigger_bytes
        trigger_count = min(self.trigger_events, math.ceil(trigger_bytes / self.cost))
        if count and now >= task.next_flush:
            task.drain_until = generated
            task.next_flush = now + s.flush_interval
        full = count >= trigger_count
        if count and (full or task.sent_upto < task.drain_until or pacer.active):
            if pacer.ready(now) or (pacer.ready_early(now) and full):
                max_bytes = MAX_BATCH_BYTES if pacer.active else s.batch_bytes
                n = max(1, min(count, MAX_BATCH_EVENTS, max_bytes // self.cost))
                lo = task.sent_upto
                task.sent_upto += n
                task.busy = True
                pacer.called(now, self.load(n), self.load(task.generated(now) - task.sent_upto + n))
                encode = ENCODE_S_PER_MIB * n * self.cost / MAX_BATCH_BYTES
                self.push(now + encode + s.latency_s / 2, self.DECIDE, task.index, lo, lo + n)
                return
        if count == 0:
            task.next_flush = now + s.flush_interval  # idle: the flush timer restarts
        waits: list[float] = []
        if count:
            waits.append(task.next_flush)
            if pacer.delay(now) > 0:
                waits.append(now + pacer.delay(now))
        if generated < task.n:
            if count == 0:
                waits.append(task.arrival(generated))  # the first record wakes the sender
            elif not full:
                waits.append(task.arrival(task.sent_upto + trigger_count - 1))
        if waits:
            self.wake_at(task, max(now + MIN_WAIT_S, min(waits)))

    def load(self, count: int) -> float:
        """``count`` records' share of a full request (1 MiB, 10,000 events)."""
        return request_share(count * self.cost, count)

    def decide(self, task: Task, now: float, lo: int, hi: int) -> None:
        backlog = task.generated(now) - task.delivered_upto
        task.backlog_peak = max(task.backlog_peak, backlog)
        foreign = self.s.foreign_at
        if foreign is not None:
            if 2.0 <= now < foreign:
                task.steady = max(task.steady, backlog)
            elif now >= foreign and backlog > 2 * task.steady:
                task.last_over = now
        ok = self.allow_put(now)
        if ok:
            self.accepted += 1
            self.events += hi - lo
            if lo != task.delivered_upto:
                raise AssertionError(f"task {task.index}: records {lo}-{hi} out of order")
            task.delivered_upto = hi
            task.delivered += hi - lo
            task.last_delivery = now
            if now <= self.s.load_s:
                task.in_load += hi - lo
        else:
            self.throttled += 1
        self.push(now + self.s.latency_s / 2, self.ANSWER, task.index, lo, hi if ok else -1)

    def answer(self, task: Task, now: float, lo: int, ok: bool) -> None:
        task.busy = False
        if ok:
            task.pacer.accepted(now)
        else:
            task.pacer.throttled(now, now - task.arrival(lo))
            task.sent_upto = lo  # back to the front of the buffer
        self.step(task, now)

    # -- one run -----------------------------------------------------------------------------

    def run(self) -> Result:
        s = self.s
        for task in self.tasks:
            self.wake_at(task, task.phase)
        end = s.load_s + s.max_drain_s
        total = sum(task.n for task in self.tasks)
        delivered = 0
        while self.heap:
            when, _, kind, index, a, b = heapq.heappop(self.heap)
            if when > end:
                break
            task = self.tasks[index]
            if kind == self.WAKE:
                if a == task.token and not task.busy:
                    self.step(task, when)
            elif kind == self.DECIDE:
                before = task.delivered
                self.decide(task, when, a, b)
                delivered += task.delivered - before
            else:
                self.answer(task, when, a, b >= 0)
            if delivered == total:
                break
        shares = [task.in_load / task.n if task.n else 1.0 for task in self.tasks]
        drain: float | None = None
        if delivered == total:
            last = max((task.last_delivery for task in self.tasks), default=0.0)
            drain = max(0.0, last - s.load_s)
        per_quota = total / (s.load_s + drain) / s.quota if drain is not None else None
        recovery: float | None = None
        if s.foreign_at is not None:
            over = max(task.last_over for task in self.tasks)
            recovery = max(0.0, over - s.foreign_at - s.foreign_s)
        return Result(
            accepted=self.accepted,
            throttled=self.throttled,
            events_per_call=self.events / self.accepted if self.accepted else 0.0,
            share_min=min(shares),
            share_max=max(shares),
            drain_s=drain,
            per_quota=per_quota,
            records=total,
            delivered=delivered,
            starved=sum(task.n > 0 and task.in_load == 0 for task in self.tasks),
            backlog_bytes=max(task.backlog_peak for task in self.tasks) * self.cost,
            recovery_s=recovery,
        )


def current_pacer(rng: random.Random) -> PacerLike:
    """logship's Pacer as installed."""
    from logship.pacing import Pacer

    return Pacer(rng)


class _Unloaded:
    """An earlier Pacer, whose ``called`` takes no load and whose constructor may want the
    unpaced call rate (one per flush interval, as ``logship.state.Shared`` passed it)."""

    def __init__(self, pacer: Any) -> None:
        self.pacer = pacer

    @property
    def active(self) -> bool:
        return bool(self.pacer.active)

    def ready(self, now: float) -> bool:
        return bool(self.pacer.ready(now))

    def ready_early(self, now: float) -> bool:
        return bool(self.pacer.ready_early(now))

    def delay(self, now: float) -> float:
        return float(self.pacer.delay(now))

    def called(self, now: float, load: float = 0.0, backlog: float = 0.0) -> None:
        del load, backlog
        self.pacer.called(now)

    def accepted(self, now: float) -> None:
        self.pacer.accepted(now)

    def throttled(self, now: float, waited: float = 0.0) -> None:
        self.pacer.throttled(now, waited)


def pacer_from(src: Path) -> PacerFactory:
    """The Pacer of another logship tree (``<src>/logship/pacing.py``, say a ``git archive`` of
    an earlier commit), loaded on its own (it imports only the standard library)."""
    path = src / "logship" / "pacing.py"
    spec = importlib.util.spec_from_file_location("reference_pacing", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"no pacing module at {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    cls = module.Pacer
    takes_load = "load" in inspect.signature(cls.called).parameters
    takes_rate = "start_rate" in inspect.signature(cls).parameters

    def make(rng: random.Random) -> PacerLike:
        if takes_rate:
            pacer = cls(rng, start_rate=1.0 / Scenario.flush_interval)
        else:
            pacer = cls(rng)
        return cast("PacerLike", pacer) if takes_load else _Unloaded(pacer)

    return make


def simulate(scenario: Scenario, seed: int, make_pacer: PacerFactory = current_pacer) -> Result:
    """One run of ``scenario`` with ``seed``."""
    return Sim(scenario, seed, make_pacer).run()


@dataclasses.dataclass(frozen=True)
class Summary:
    """Medians over seeds, and the worst seed of each figure."""

    runs: int
    accepted: float
    throttled: float
    throttled_per_accepted: float
    throttled_per_accepted_worst: float
    events_per_call: float
    share_min: float
    share_min_worst: float
    share_max: float
    drain_s: float
    drain_s_worst: float
    per_quota: float
    per_quota_worst: float
    undrained: int
    starved_runs: int  # runs in which some task had nothing delivered during the load
    starved_tasks: float  # such tasks per run (median)
    backlog_mb: float  # a task's largest backlog, MB
    backlog_mb_worst: float
    recovery_s: float | None  # after the foreign writer (None: the scenario has none)
    recovery_s_worst: float | None


def summarize(results: Sequence[Result]) -> Summary:
    """Median and worst seed over ``results`` (an undrained run counts as an infinite drain)."""
    med = statistics.median
    drains = [r.drain_s if r.drain_s is not None else math.inf for r in results]
    per_quota = [r.per_quota or 0.0 for r in results]
    ratios = [r.throttled_per_accepted for r in results]
    backlogs = [r.backlog_bytes / 1e6 for r in results]
    recoveries = [r.recovery_s for r in results if r.recovery_s is not None]
    return Summary(
        runs=len(results),
        accepted=med(r.accepted for r in results),
        throttled=med(r.throttled for r in results),
        throttled_per_accepted=med(ratios),
        throttled_per_accepted_worst=max(ratios),
        events_per_call=med(r.events_per_call for r in results),
        share_min=med(r.share_min for r in results),
        share_min_worst=min(r.share_min for r in results),
        share_max=med(r.share_max for r in results),
        drain_s=med(drains),
        drain_s_worst=max(drains),
        per_quota=med(per_quota),
        per_quota_worst=min(per_quota),
        undrained=sum(r.drain_s is None for r in results),
        starved_runs=sum(r.starved > 0 for r in results),
        starved_tasks=med(r.starved for r in results),
        backlog_mb=med(backlogs),
        backlog_mb_worst=max(backlogs),
        recovery_s=med(recoveries) if recoveries else None,
        recovery_s_worst=max(recoveries) if recoveries else None,
    )


HEADER = (
    "| scenario | accepted / throttled (per accepted; worst) | events per call "
    "| least-served share in load (median; worst) | runs with a starved task (starved tasks "
    "per run, median) | best-served | drain s (median; worst) "
    "| records/s per unit of quota (median; worst) | largest backlog MB (median; worst) "
    "| recovery s (median; worst) |"
)


def row(name: str, s: Summary) -> str:
    """One Markdown table row."""
    undrained = f", {s.undrained} undrained" if s.undrained else ""
    recovery = "-"
    if s.recovery_s is not None and s.recovery_s_worst is not None:
        recovery = f"{s.recovery_s:.1f}; {s.recovery_s_worst:.1f}"
    return (
        f"| {name} | {s.accepted:.0f} / {s.throttled:.0f} ({s.throttled_per_accepted:.2f}; "
        f"{s.throttled_per_accepted_worst:.2f}) | {s.events_per_call:.0f} "
        f"| {s.share_min:.2f}; {s.share_min_worst:.2f} | {s.starved_runs} of {s.runs} "
        f"({s.starved_tasks:g}) | {s.share_max:.2f} "
        f"| {s.drain_s:.1f}; {s.drain_s_worst:.1f}{undrained} "
        f"| {s.per_quota:.0f}; {s.per_quota_worst:.0f} "
        f"| {s.backlog_mb:.2f}; {s.backlog_mb_worst:.2f} | {recovery} |"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scenario", choices=sorted(SCENARIOS), action="append", default=None)
    p.add_argument("--tasks", type=int, default=None, help="tasks (a custom scenario)")
    p.add_argument("--rate", type=float, default=41.0, help="records/s per task")
    p.add_argument("--record-bytes", type=int, default=900)
    p.add_argument("--quota", type=float, default=1.0, help="PutLogEvents per second")
    p.add_argument("--load", type=float, default=30.0, help="seconds of load")
    p.add_argument("--latency", type=float, default=0.004, help="call round trip, seconds")
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--runs", action="store_true", help="print every run, not only medians")
    p.add_argument("--logship-src", type=Path, default=None, help="take Pacer from this tree")
    ns = p.parse_args(sys.argv[1:] if argv is None else argv)
    if not 1 <= ns.seeds <= 1000:
        p.error("--seeds: 1..1000")
    make = pacer_from(ns.logship_src.resolve()) if ns.logship_src else current_pacer
    scenarios: dict[str, Scenario] = {}
    if ns.tasks is not None:
        if not 1 <= ns.tasks <= 1000 or ns.rate <= 0 or ns.quota <= 0 or not 0 < ns.load <= 600:
            p.error("need 1-1000 tasks, rate > 0, quota > 0, load in (0, 600]")
        name = "custom"
        scenarios[name] = Scenario(
            tasks=ns.tasks,
            rate=ns.rate,
            record_bytes=ns.record_bytes,
            quota=ns.quota,
            load_s=ns.load,
            latency_s=ns.latency,
        )
    for name in ns.scenario or ([] if scenarios else list(SCENARIOS)):
        scenarios[name] = SCENARIOS[name]
    print(HEADER)
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, scenario in scenarios.items():
        results = []
        for seed in range(ns.first_seed, ns.first_seed + ns.seeds):
            result = simulate(scenario, seed, make)
            results.append(result)
            if ns.runs:
                print(row(f"{name} seed {seed}", summarize([result])))
        print(
            row(
                f"{name} ({scenario.tasks} x {scenario.rate:g}/s, Q={scenario.quota:g})",
                summarize(results),
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
