"""Pacing ``PutLogEvents`` calls by the throttle this process sees (AIMD on the call rate).

CloudWatch Logs throttles ``PutLogEvents`` per account and Region, shared by every task of
every service, and no task sees the others' calls: a throttle only says that some call took
the account's capacity just before this one. :class:`Pacer` turns that signal into a call rate
for this process, by these rules:

* **Start.** The first throttle starts pacing at half the rate the process was calling at
  (one call per flush interval, at most one a second): that rate was too high for the account.
* **Decrease, by the share already had.** A throttle after an accepted call halves the rate;
  a throttle with no accepted call since the previous one cuts it by a quarter only. A task
  that got nothing through is already below its share of the quota; halving it again on every
  miss is what starved single tasks while others kept theirs.
* **Floor.** At least one call every ``MAX_INTERVAL`` (16 s) while events wait: a task never
  falls silent, and a call that waited that long carries up to 1 MiB / 10,000 events.
* **Spread after a throttle.** The next call goes out at a random point between half an
  interval and one and a half intervals later (decorrelated, not the same interval +-25% for
  everyone throttled by the same window; a wider spread, up to two intervals, left the quota
  idle longer in ``bench/fleet/sim.py`` for no fewer throttles per accepted call), and sooner
  for a batch that has waited long: the delay is
  divided by the age of the batch's oldest event in intervals (1 to ``MAX_URGENCY``), never
  under ``MIN_RETRY_S``. Tasks collided on one window spread over the next ones, and the
  task whose events are oldest tries most often.
* **Increase.** Each accepted call adds an eighth of the rate set by the last decrease; the
  next call waits one interval, jittered by +-25%.
* **End.** Pacing ends when the rate has grown back past ``RELEASE_RATE`` calls per second,
  after ``QUIET_S`` seconds without a throttle, or when an outage takes over
  (:meth:`Pacer.reset`); a throttle after that starts again from the rate pacing ended at, not
  from the start rate.

While pacing, the sender fills each call up to CloudWatch's limits (1 MiB, 10,000 events), so
fewer, larger calls carry the same events.

Pure and clock-driven (``now`` is passed in), so it is tested without sleeping.
"""

from __future__ import annotations

import random
from typing import Final

__all__ = ["Pacer"]

#: Highest rate given to the first throttle of an unpaced process (calls per second); it starts
#: at half the rate the process was calling at (the sender passes one call per flush interval).
START_RATE: Final = 1.0
#: Lowest rate: at least one call this often while throttled (seconds between calls).
MAX_INTERVAL: Final = 16.0
#: Pacing ends once the rate grows back past this (calls per second).
RELEASE_RATE: Final = 4.0
#: Pacing also ends after this many seconds without a throttle.
QUIET_S: Final = 60.0
#: After a decrease, this many accepted calls bring the rate back to where it was before it.
RECOVERY_CALLS: Final = 8
#: Spread of each interval after an accepted call (fraction either side).
JITTER: Final = 0.25
#: The rate's cut on a throttle after an accepted call, and on one with none since the last.
CUT: Final = 0.5
CUT_UNSERVED: Final = 0.75
#: After a throttle the next call comes this many intervals later (a uniform draw) ...
RETRY_SPREAD: Final = (0.5, 1.5)
#: ... divided by the throttled batch's age in intervals, at most this much ...
MAX_URGENCY: Final = 4.0
#: ... and never sooner than this (seconds).
MIN_RETRY_S: Final = 1.0


class Pacer:
    """Call-rate control for one process's ``PutLogEvents`` calls (not thread-safe: the
    sender calls it under the handler's lock)."""

    __slots__ = (
        "_random", "_resume_rate", "_served", "_start_rate", "_step", "last_call", "next_call",
        "rate", "throttled_at",
    )  # fmt: skip

    def __init__(self, rng: random.Random | None = None, start_rate: float = START_RATE) -> None:
        #: Calls per second while pacing; 0.0 when not pacing.
        self.rate = 0.0
        self.next_call = 0.0
        self.last_call = float("-inf")
        self.throttled_at = float("-inf")
        self._step = 0.0
        #: Whether a call was accepted since the last throttle (a share was had).
        self._served = True
        self._start_rate = min(START_RATE, max(1.0 / MAX_INTERVAL, start_rate / 2.0))
        self._resume_rate = self._start_rate
        self._random = rng or random.Random()  # noqa: S311 - jitter, not cryptography

    @property
    def active(self) -> bool:
        """Whether calls are paced (a throttle was seen and the rate has not recovered)."""
        return self.rate > 0.0

    def interval(self) -> float:
        """Seconds between calls at the current rate (0 when not pacing)."""
        return 1.0 / self.rate if self.rate > 0.0 else 0.0

    def ready(self, now: float) -> bool:
        """Whether a call may go out at ``now``."""
        return now >= self.next_call

    def ready_early(self, now: float) -> bool:
        """Whether a call may go out at ``now`` when the buffer is filling up: at least half
        an interval after the last call."""
        return now >= self.last_call + self.interval() / 2.0

    def reset(self) -> None:
        """End pacing (an outage, not a throttle, is being handled: the probes take over)."""
        if self.rate > 0.0:
            self._resume_rate = min(self._start_rate, self.rate)
        self.rate = 0.0
        self.next_call = 0.0
        self._served = True

    def delay(self, now: float) -> float:
        """Seconds until a call may go out (0 when it may now)."""
        return max(0.0, self.next_call - now)

    def called(self, now: float) -> None:
        """A call goes out at ``now``: the next waits one jittered interval."""
        self.last_call = now
        if self.rate > 0.0:
            spread = self._random.uniform(1.0 - JITTER, 1.0 + JITTER)
            self.next_call = now + spread / self.rate

    def throttled(self, now: float, waited: float = 0.0) -> None:
        """The last call was refused for the account's rate, its oldest event ``waited``
        seconds old: start pacing or cut the rate (by the share had since the last throttle),
        and wait a spread-out delay, shorter for a batch that has waited long."""
        floor = 1.0 / MAX_INTERVAL
        if self.rate <= 0.0:
            self.rate = self._resume_rate
        else:
            self.rate = max(floor, self.rate * (CUT if self._served else CUT_UNSERVED))
        self._served = False
        self.throttled_at = now
        self._step = self.rate / RECOVERY_CALLS
        self.last_call = now
        urgency = min(MAX_URGENCY, max(1.0, waited * self.rate))
        low, high = RETRY_SPREAD
        wait = self._random.uniform(low, high) / self.rate / urgency
        self.next_call = now + max(MIN_RETRY_S, wait)

    def accepted(self, now: float) -> None:
        """The last call was accepted: grow the rate by one step; end pacing past
        ``RELEASE_RATE`` or after ``QUIET_S`` without a throttle."""
        self._served = True
        if self.rate <= 0.0:
            return
        self.rate += self._step
        if self.rate >= RELEASE_RATE or now - self.throttled_at >= QUIET_S:
            self._resume_rate = min(self._start_rate, self.rate)
            self.rate = 0.0
            self.next_call = now
