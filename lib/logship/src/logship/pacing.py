"""Pacing ``PutLogEvents`` calls by the throttle this process sees: keep a slot, search for one.

CloudWatch Logs throttles ``PutLogEvents`` per account and Region, shared by every task of
every service, and no task sees the others' calls: a throttle only says that some call took
the account's capacity just before this one. Calls at random times share such a quota badly:
against a bucket of one call, an aggregate rate L meets a quota Q with ``Q L / (Q + L)``
accepted calls, so one throttle per accepted call uses half the quota, and a task can miss
many tries in a row while others get through. :class:`Pacer` instead keeps each process at a
fixed phase of a period once a call got through there, so processes that found different
phases stop colliding (as slotted random access does), at a period set by what the process
has to send, by these rules:

* **Demand.** Every call tells the pacer its share of a full request (1 MiB or 10,000 events,
  whichever binds) and the backlog it was taken from; what arrived between two calls (the
  backlog grown, plus what the earlier call delivered) gives the records' arrival rate in full
  requests per second, averaged over ``DEMAND_S``. Its inverse, from ``MIN_DEMAND_INTERVAL``
  (0.5 s) to ``MAX_INTERVAL`` (16 s), is the demand's period: one full request per period
  carries the stream.
* **Start.** The first throttle starts pacing at the demand's period (16 s before a second
  call showed a rate): a worker calling 8 times a second with 2.3 MB/s of records goes to two
  full requests a second, a quiet task to one request per 16 s.
* **Keep the slot.** After an accepted call the next one goes out exactly one period after it
  went out, without jitter: the process keeps the phase at which it got through.
* **Lose the slot.** A throttle right after an accepted call doubles the period (at most
  ``MAX_INTERVAL``): another process calls at that phase, or the fleet calls too often.
* **Search, sooner the longer the records waited.** After a throttle the next call goes out at
  a random point of the next period (a new phase), that delay divided by the age of the
  throttled batch's oldest event in units of ``URGENCY_S`` (1 to ``MAX_URGENCY``), never
  sooner than ``MIN_RETRY_S`` (2 s) or the period if shorter: the least-served process tries
  most often, and a busy stream finds the quota again within its period.
* **Speed up.** An accepted call that filled a request (``FULL_LOAD``: records are left
  behind) halves the period at once while the period is longer than the demand's; any
  ``SPEEDUP_CALLS`` accepted calls in a row halve it too. A stream throttled back comes back
  to its own pace in one call per halving, and past it by three calls per halving.
* **End.** Pacing ends when the period is down to ``1 / RELEASE_RATE`` and a call no longer
  fills a request (full calls keep pacing, and speeding up, down to ``MIN_INTERVAL``: no
  burst of small unpaced calls while a backlog drains), after ``QUIET_S`` seconds without a
  throttle, or when an outage takes over (:meth:`Pacer.reset`).

While pacing, the sender fills each call up to CloudWatch's limits (1 MiB, 10,000 events), so a
slot of 16 s carries up to 1 MiB per stream. ``bench/fleet/sim.py`` compares these rules with
earlier ones over many seeds (its README's "Simulator" section has the figures): the fleets of
quiet tasks pace as with the 16 s start, and two such workers whose quota another writer took
for 5 s are back to their steady backlog within 3.3 s of it (worst of 100 seeds), against
about two minutes when every throttle started at 16 s.

Pure and clock-driven (``now`` is passed in), so it is tested without sleeping.
"""

from __future__ import annotations

import math
import random
from typing import Final

__all__ = ["Pacer"]

#: The longest period while paced (seconds between calls).
MAX_INTERVAL: Final = 16.0
#: Pacing ends once the period comes down to one call per this many per second and a call
#: no longer fills a request ...
RELEASE_RATE: Final = 4.0
#: ... while full calls may go on speeding up to this period (seconds).
MIN_INTERVAL: Final = 1.0 / 16.0
#: The shortest period the demand sets (pacing starts at): two halvings above the release.
MIN_DEMAND_INTERVAL: Final = 2.0 / RELEASE_RATE
#: Pacing also ends after this many seconds without a throttle.
QUIET_S: Final = 60.0
#: The period halves after this many accepted calls in a row ...
SPEEDUP_CALLS: Final = 3
#: ... or at once after an accepted call this full (of a request's limits) while the period is
#: longer than the demand's.
FULL_LOAD: Final = 0.9
#: The time constant of the demand estimate (seconds).
DEMAND_S: Final = 5.0
#: After a throttle the delay to the next call (a random point of the period) is divided by the
#: throttled batch's age in these units (seconds) ...
URGENCY_S: Final = 5.0
#: ... at most this much ...
MAX_URGENCY: Final = 8.0
#: ... and is never shorter than this (seconds), or the period when that is shorter.
MIN_RETRY_S: Final = 2.0


class Pacer:
    """Call pace for one process's ``PutLogEvents`` calls (not thread-safe: the sender calls
    it under the process's shared lock, ``Shared.cond``)."""

    __slots__ = (
        "_arrived", "_arrived_at", "_backlog", "_delivered", "_first_call", "_holding", "_load",
        "_random", "_streak", "last_call", "next_call", "period", "throttled_at",
    )  # fmt: skip

    def __init__(self, rng: random.Random | None = None) -> None:
        #: Seconds between calls while pacing; 0.0 when not pacing.
        self.period = 0.0
        self.next_call = 0.0
        self.last_call = float("-inf")
        self.throttled_at = float("-inf")
        #: Whether the last call was accepted (this process holds a phase of the period).
        self._holding = False
        #: Accepted calls in a row.
        self._streak = 0
        #: The last call: its share of a full request, what waited with it (in full
        #: requests, its own included), and what of it was delivered.
        self._load = 0.0
        self._backlog = 0.0
        self._delivered = 0.0
        #: Full requests' worth arrived since the first call, decayed by ``DEMAND_S``.
        self._arrived = 0.0
        self._arrived_at = 0.0
        self._first_call: float | None = None
        self._random = rng or random.Random()  # noqa: S311 - spread, not cryptography

    @property
    def active(self) -> bool:
        """Whether calls are paced (a throttle was seen and pacing has not ended)."""
        return self.period > 0.0

    @property
    def rate(self) -> float:
        """Calls per second while pacing; 0.0 when not pacing."""
        return 1.0 / self.period if self.period > 0.0 else 0.0

    def ready(self, now: float) -> bool:
        """Whether a call may go out at ``now``."""
        return now >= self.next_call

    def ready_early(self, now: float) -> bool:
        """Whether a call may go out at ``now`` when the buffer is filling up: at least half
        a period after the last call."""
        return now >= self.last_call + self.period / 2.0

    def reset(self) -> None:
        """End pacing (an outage, not a throttle, is being handled: the probes take over)."""
        self._end(0.0)

    def delay(self, now: float) -> float:
        """Seconds until a call may go out (0 when it may now)."""
        return max(0.0, self.next_call - now)

    def demand(self, now: float) -> float:
        """Full requests' worth of records arriving per second (over about ``DEMAND_S``), as
        the backlogs the calls found show it; 0.0 before a second call."""
        if self._first_call is None:
            return 0.0
        span = max(now - self._first_call, 1.0)
        weight = DEMAND_S * -math.expm1(-span / DEMAND_S)
        return self._decayed(now) / weight

    def demand_interval(self) -> float:
        """The period that carries the demand in full requests (``MIN_DEMAND_INTERVAL`` to
        ``MAX_INTERVAL``), as of the last call."""
        demand = self.demand(self.last_call)
        if demand <= 0.0:
            return MAX_INTERVAL
        return min(MAX_INTERVAL, max(MIN_DEMAND_INTERVAL, 1.0 / demand))

    def called(self, now: float, load: float = 0.0, backlog: float = 0.0) -> None:
        """A call goes out at ``now``, carrying ``load`` of a full request (the larger of its
        share of 1 MiB and of 10,000 events) out of ``backlog`` waiting (in full requests,
        this call's included): what arrived since the last call feeds the demand."""
        backlog = max(load, backlog)
        if self._first_call is None:
            self._first_call = now
        else:
            arrived = max(0.0, backlog - (self._backlog - self._delivered))
            # spread evenly since the last call: its share decayed to now
            spread = (now - self._arrived_at) / DEMAND_S
            share = -math.expm1(-spread) / spread if spread > 0.0 else 1.0
            self._arrived = self._decayed(now) + arrived * share
        self._arrived_at = now
        self.last_call = now
        self._load = load
        self._backlog = backlog
        self._delivered = 0.0

    def throttled(self, now: float, waited: float = 0.0) -> None:
        """The last call was refused for the account's rate, its oldest event ``waited``
        seconds old: start pacing at the demand's period, or double the period if the call
        had a slot; the next call searches a new phase, sooner the longer the batch waited."""
        if self.period <= 0.0:
            self.period = self.demand_interval()
        elif self._holding:
            self.period = min(MAX_INTERVAL, self.period * 2.0)
        self._holding = False
        self._streak = 0
        self.throttled_at = now
        urgency = min(MAX_URGENCY, max(1.0, waited / URGENCY_S))
        wait = self._random.uniform(0.0, self.period) / urgency
        self.next_call = now + max(min(MIN_RETRY_S, self.period), wait)

    def accepted(self, now: float) -> None:
        """The last call was accepted: keep its phase (the next call one period after it went
        out); halve the period after ``SPEEDUP_CALLS`` in a row, or at once after a full call
        while the period is longer than the demand's; end pacing at ``RELEASE_RATE`` once a
        call is not full, or after ``QUIET_S`` without a throttle."""
        self._delivered = self._load
        if self.period <= 0.0:
            return
        self._holding = True
        self._streak += 1
        full = self._load >= FULL_LOAD
        if (full and self.period > self.demand_interval()) or self._streak >= SPEEDUP_CALLS:
            self._streak = 0
            self.period = max(MIN_INTERVAL, self.period / 2.0)
        released = self.period * RELEASE_RATE <= 1.0 and not full
        if released or now - self.throttled_at >= QUIET_S:
            self._end(now)
            return
        self.next_call = self.last_call + self.period

    def _decayed(self, now: float) -> float:
        return self._arrived * math.exp(-max(0.0, now - self._arrived_at) / DEMAND_S)

    def _end(self, now: float) -> None:
        self.period = 0.0
        self.next_call = now
        self._holding = False
        self._streak = 0
