from __future__ import annotations

from bff.proxy.circuit import CLOSED, HALF_OPEN, OPEN, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_threshold_and_probes_once() -> None:
    clock = Clock()
    cb = CircuitBreaker(3, 10.0, clock)
    for _ in range(2):
        assert cb.allow()
        cb.record_failure()
    assert cb.state == CLOSED
    assert cb.allow()
    cb.record_failure()
    assert cb.state == OPEN and not cb.allow()
    assert 9.9 < cb.retry_after() <= 10.0
    clock.now += 10
    assert cb.state == HALF_OPEN
    assert cb.allow()
    assert not cb.allow(), "only one probe at a time"
    cb.record_failure()
    assert cb.state == OPEN and not cb.allow()
    clock.now += 10
    assert cb.allow()
    cb.record_success()
    assert cb.state == CLOSED and cb.allow() and cb.allow()


def test_success_resets_the_count() -> None:
    cb = CircuitBreaker(2, 1.0, Clock())
    cb.record_failure()
    cb.record_success()
    cb.record_failure()
    assert cb.state == CLOSED


def test_release_frees_the_probe() -> None:
    clock = Clock()
    cb = CircuitBreaker(1, 1.0, clock)
    cb.record_failure()
    clock.now += 1
    assert cb.allow()
    cb.release()
    assert cb.allow()
