"""A per-upstream circuit breaker: fail fast with 503 while an upstream keeps failing."""

from __future__ import annotations

import time
from collections.abc import Callable

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class CircuitBreaker:
    """Opens after ``failures`` failures in a row; one probe may pass after ``reset_seconds``.

    A successful probe closes the circuit; a failed one opens it again for another period.
    State is per worker process: each worker learns on its own, which needs no coordination.
    """

    def __init__(
        self, failures: int, reset_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.threshold = failures
        self.reset_seconds = reset_seconds
        self._clock = clock
        self._failures = 0
        self._opened_at = 0.0
        self._state = CLOSED
        self._probe_out = False
        self.opened = 0  # times the circuit opened (read by bff.metrics)
        self.closed = 0  # times a probe closed it again

    @property
    def state(self) -> str:
        """``closed``, ``open`` or ``half_open`` as of now."""
        if self._state == OPEN and self._clock() - self._opened_at >= self.reset_seconds:
            return HALF_OPEN
        return self._state

    def retry_after(self) -> float:
        """Seconds until the next probe is allowed (0 when closed)."""
        if self._state != OPEN:
            return 0.0
        return max(0.0, self.reset_seconds - (self._clock() - self._opened_at))

    def allow(self) -> bool:
        """Whether a request may go upstream now; in half-open state only one probe at a time."""
        if self._state == CLOSED:
            return True
        if self._state == OPEN:
            if self._clock() - self._opened_at < self.reset_seconds:
                return False
            self._state = HALF_OPEN
            self._probe_out = False
        if self._probe_out:
            return False
        self._probe_out = True
        return True

    def record_success(self) -> None:
        """An exchange with the upstream worked."""
        if self._state != CLOSED:
            self.closed += 1
        self._failures = 0
        self._state = CLOSED
        self._probe_out = False

    def record_failure(self) -> None:
        """An exchange failed (connect error, reset or timeout)."""
        self._failures += 1
        if self._state == HALF_OPEN or self._failures >= self.threshold:
            if self._state != OPEN:
                self.opened += 1
            self._state = OPEN
            self._opened_at = self._clock()
            self._probe_out = False

    def release(self) -> None:
        """A request that was allowed ended without telling success or failure (e.g. 413)."""
        if self._state == HALF_OPEN:
            self._probe_out = False
