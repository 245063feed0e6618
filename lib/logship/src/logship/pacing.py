"""Pacing ``PutLogEvents`` calls by the throttle this process sees: keep a slot, search for one.

CloudWatch Logs throttles ``PutLogEvents`` per account and Region, shared by every task of
every service, and no task sees the others' calls: a throttle only says that some call took
the account's capacity just before this one. Calls at random times share such a quota badly:
against a bucket of one call, an aggregate rate L meets a quota Q with ``Q L / (Q + L)``
accepted calls, so one throttle per accepted call uses half the quota, and a task can miss
many tries in a row while others get through. :class:`Pacer` instead keeps each process at a
fixed phase of a period once a call got through there, so processes that found different
phases stop colliding (as slotted random access does), by these rules:

* **Start.** The first throttle starts pacing at one call per ``MAX_INTERVAL`` (16 s): the
  period.
* **Keep the slot.** After an accepted call the next one goes out exactly one period after it
  went out, without jitter: the process keeps the phase at which it got through.
* **Lose the slot.** A throttle right after an accepted call doubles the period (at most
  ``MAX_INTERVAL``): another process calls at that phase, or the fleet calls too often.
* **Search, sooner the longer the records waited.** After a throttle the next call goes out at
  a random point of the next period (a new phase), that delay divided by the age of the
  throttled batch's oldest event in units of ``URGENCY_S`` (1 to ``MAX_URGENCY``), never
  sooner than ``MIN_RETRY_S``: a process that just lost its slot tries again within a
  period, one whose records have waited 40 s within 2 s, so the least-served process tries
  most often.
* **Speed up.** After ``SPEEDUP_CALLS`` accepted calls in a row the period halves: a stream
  that needs more than one full call per period gets more calls when the quota has room.
* **End.** Pacing ends when the period falls under ``1 / RELEASE_RATE``, after ``QUIET_S``
  seconds without a throttle, or when an outage takes over (:meth:`Pacer.reset`).

While pacing, the sender fills each call up to CloudWatch's limits (1 MiB, 10,000 events), so a
slot of 16 s carries up to 1 MiB per stream. ``bench/fleet/sim.py`` compares these rules with
the previous ones (AIMD on a jittered call rate) over many seeds.

Pure and clock-driven (``now`` is passed in), so it is tested without sleeping.
"""

from __future__ import annotations

import random
from typing import Final

__all__ = ["Pacer"]

#: The longest period while paced, and the one pacing starts at (seconds between calls).
MAX_INTERVAL: Final = 16.0
#: Pacing ends once the rate grows past this (calls per second).
RELEASE_RATE: Final = 4.0
#: Pacing also ends after this many seconds without a throttle.
QUIET_S: Final = 60.0
#: The period halves after this many accepted calls in a row.
SPEEDUP_CALLS: Final = 3
#: After a throttle the delay to the next call (a random point of the period) is divided by the
#: throttled batch's age in these units (seconds) ...
URGENCY_S: Final = 5.0
#: ... at most this much ...
MAX_URGENCY: Final = 8.0
#: ... and is never shorter than this (seconds).
MIN_RETRY_S: Final = 2.0


class Pacer:
    """Call pace for one process's ``PutLogEvents`` calls (not thread-safe: the sender calls
    it under the handler's lock)."""

    __slots__ = (
        "_holding", "_random", "_streak", "last_call", "next_call", "period", "throttled_at",
    )  # fmt: skip

    def __init__(self, rng: random.Random | None = None, start_rate: float = 1.0) -> None:
        """``start_rate`` is the rate the process calls at unpaced; pacing starts at one call
        per ``MAX_INTERVAL`` whatever it is (kept for callers that pass it)."""
        del start_rate
        #: Seconds between calls while pacing; 0.0 when not pacing.
        self.period = 0.0
        self.next_call = 0.0
        self.last_call = float("-inf")
        self.throttled_at = float("-inf")
        #: Whether the last call was accepted (this process holds a phase of the period).
        self._holding = False
        #: Accepted calls in a row.
        self._streak = 0
        self._random = rng or random.Random()  # noqa: S311 - spread, not cryptography

    @property
    def active(self) -> bool:
        """Whether calls are paced (a throttle was seen and pacing has not ended)."""
        return self.period > 0.0

    @property
    def rate(self) -> float:
        """Calls per second while pacing; 0.0 when not pacing."""
        return 1.0 / self.period if self.period > 0.0 else 0.0

    def interval(self) -> float:
        """Seconds between calls (0 when not pacing)."""
        return self.period

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

    def called(self, now: float) -> None:
        """A call goes out at ``now``."""
        self.last_call = now

    def throttled(self, now: float, waited: float = 0.0) -> None:
        """The last call was refused for the account's rate, its oldest event ``waited``
        seconds old: start pacing, or double the period if the call had a slot; the next call
        searches a new phase, sooner the longer the batch waited."""
        if self.period <= 0.0:
            self.period = MAX_INTERVAL
        elif self._holding:
            self.period = min(MAX_INTERVAL, self.period * 2.0)
        self._holding = False
        self._streak = 0
        self.throttled_at = now
        urgency = min(MAX_URGENCY, max(1.0, waited / URGENCY_S))
        wait = self._random.uniform(0.0, self.period) / urgency
        self.next_call = now + max(MIN_RETRY_S, wait)

    def accepted(self, now: float) -> None:
        """The last call was accepted: keep its phase (the next call one period after it went
        out), halve the period after ``SPEEDUP_CALLS`` in a row; end pacing past
        ``RELEASE_RATE`` or after ``QUIET_S`` without a throttle."""
        if self.period <= 0.0:
            return
        self._holding = True
        self._streak += 1
        if self._streak >= SPEEDUP_CALLS:
            self._streak = 0
            self.period /= 2.0
        if self.period * RELEASE_RATE < 1.0 or now - self.throttled_at >= QUIET_S:
            self._end(now)
            return
        self.next_call = self.last_call + self.period

    def _end(self, now: float) -> None:
        self.period = 0.0
        self.next_call = now
        self._holding = False
        self._streak = 0
