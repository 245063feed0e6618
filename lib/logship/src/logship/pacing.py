"""Pacing ``PutLogEvents`` calls by the throttle this process sees (AIMD on the call rate).

CloudWatch Logs throttles ``PutLogEvents`` per account and Region, shared by every task of
every service. A throttled call is a rate signal, not an outage: :class:`Pacer` halves this
process's call rate on each ``ThrottlingException`` and adds a step (an eighth of the halved
rate) after each accepted call, each call spaced by its interval with +-25% jitter so tasks do
not line up. While pacing, the sender fills each call up to CloudWatch's limits (1 MiB, 10,000
events), so fewer, larger calls carry the same events. Pacing ends when the rate has grown back
past ``RELEASE_RATE`` calls per second, after ``QUIET_S`` seconds without a throttle, or when
an outage takes over (:meth:`Pacer.reset`); a throttle after that starts again from the rate
pacing ended at, not from the start rate.

Pure and clock-driven (``now`` is passed in), so it is tested without sleeping.
"""

from __future__ import annotations

import random
from typing import Final

__all__ = ["Pacer"]

#: Rate given to the first throttle of an unpaced process (calls per second), unless the
#: sender passes its own (one call per flush interval: what it was doing when throttled).
START_RATE: Final = 1.0
#: Lowest rate: at least one call this often while throttled (seconds between calls).
MAX_INTERVAL: Final = 60.0
#: Pacing ends once the rate grows back past this (calls per second).
RELEASE_RATE: Final = 4.0
#: Pacing also ends after this many seconds without a throttle.
QUIET_S: Final = 60.0
#: After a halving, this many accepted calls bring the rate back to where it was.
RECOVERY_CALLS: Final = 8
#: Spread of each interval (fraction either side), so tasks do not call in step.
JITTER: Final = 0.25


class Pacer:
    """Call-rate control for one process's ``PutLogEvents`` calls (not thread-safe: the
    sender calls it under the handler's lock)."""

    __slots__ = (
        "_random", "_resume_rate", "_start_rate", "_step", "last_call", "next_call", "rate",
        "throttled_at",
    )  # fmt: skip

    def __init__(self, rng: random.Random | None = None, start_rate: float = START_RATE) -> None:
        #: Calls per second while pacing; 0.0 when not pacing.
        self.rate = 0.0
        self.next_call = 0.0
        self.last_call = float("-inf")
        self.throttled_at = float("-inf")
        self._step = 0.0
        self._start_rate = min(START_RATE, max(1.0 / MAX_INTERVAL, start_rate))
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

    def delay(self, now: float) -> float:
        """Seconds until a call may go out (0 when it may now)."""
        return max(0.0, self.next_call - now)

    def called(self, now: float) -> None:
        """A call goes out at ``now``: the next waits one jittered interval."""
        self.last_call = now
        if self.rate > 0.0:
            spread = self._random.uniform(1.0 - JITTER, 1.0 + JITTER)
            self.next_call = now + spread / self.rate

    def throttled(self, now: float) -> None:
        """The last call was refused for the account's rate: halve the rate (or start pacing),
        and wait one interval from now."""
        if self.rate <= 0.0:
            self.rate = self._resume_rate
        else:
            self.rate = max(1.0 / MAX_INTERVAL, self.rate / 2.0)
        self.throttled_at = now
        self._step = self.rate / RECOVERY_CALLS
        self.called(now)

    def accepted(self, now: float) -> None:
        """The last call was accepted: grow the rate by one step; end pacing past
        ``RELEASE_RATE`` or after ``QUIET_S`` without a throttle."""
        if self.rate <= 0.0:
            return
        self.rate += self._step
        if self.rate >= RELEASE_RATE or now - self.throttled_at >= QUIET_S:
            self._resume_rate = min(self._start_rate, self.rate)
            self.rate = 0.0
            self.next_call = now
