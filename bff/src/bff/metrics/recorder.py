"""Per-worker aggregation of the BFF's metrics, turned into EMF documents at each flush.

A request is recorded by appending one tuple to a queue; the flusher aggregates the queue
every second in slices (``drain``), so the request path does no more than the append. The
rarer observations (client errors, vitals) are aggregated at once, under the same lock held
for no I/O; a flush swaps the aggregates out and builds the documents outside the lock.
Dimension values that come from clients (a page's route, a release) are checked and capped
per interval, so a hostile client cannot mint metrics (each distinct dimension value is a
billed CloudWatch metric).
"""

from __future__ import annotations

import math
import re
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from logship.scrub import scrub_path, scrub_text

from .emf import Distribution, Series, documents

NAMESPACE: Final = "FrontDoor/BFF"
OTHER: Final = "other"
NONE: Final = "none"
MAX_ROUTES: Final = 50  # distinct page routes per interval and worker
MAX_RELEASES: Final = 20  # distinct releases per interval and worker
VITALS: Final = {"LCP": "Milliseconds", "INP": "Milliseconds", "CLS": "None",
                 "FCP": "Milliseconds", "TTFB": "Milliseconds"}  # fmt: skip
ERROR_KINDS: Final = frozenset(
    {
        "error",
        "unhandledrejection",
        "boundary",
        "server",
        "csp",
        "deprecation",
        "intervention",
        "crash",
        "reporting",
    }  # fmt: skip
)
UPSTREAM_PROBLEMS: Final = frozenset(
    {"upstream-unreachable", "upstream-timeout", "upstream-bad-response", "circuit-open"}
)
_PAGE_ROUTE = re.compile(r"/[A-Za-z0-9_\-./\[\]()]{0,127}")
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,127}")
# Buckets 4% wide on a log scale: a bucket's middle is within 2% of every value in it (AWS's
# Java EMF library uses 10%); 1 ms to 60 s spans about 280 buckets.
_GROWTH: Final = math.log(1.04)


def _bucket(value: float) -> int:
    return math.floor(math.log(value) / _GROWTH) if value > 0 else -(2**31)


def _middle(bucket: int) -> float:
    return 0.0 if bucket == -(2**31) else math.exp((bucket + 0.5) * _GROWTH)


class Histogram:
    """Values counted into log-scale buckets, with the exact count, sum, minimum and maximum."""

    __slots__ = ("buckets", "count", "high", "low", "total")

    def __init__(self) -> None:
        self.buckets: dict[int, int] = {}
        self.count = 0
        self.total = 0.0
        self.low = math.inf
        self.high = -math.inf

    def add(self, value: float) -> None:
        """Count one observation (>= 0)."""
        self.count += 1
        self.total += value
        if value < self.low:
            self.low = value
        if value > self.high:
            self.high = value
        bucket = _bucket(value)
        self.buckets[bucket] = self.buckets.get(bucket, 0) + 1

    def distribution(self) -> Distribution:
        """The EMF distribution (bucket middles kept within the observed minimum and maximum)."""
        merged: dict[float, int] = {}
        for bucket, count in self.buckets.items():
            value = min(max(_middle(bucket), self.low), self.high)
            merged[value] = merged.get(value, 0) + count
        return Distribution(
            values=list(merged),
            counts=list(merged.values()),
            minimum=self.low,
            maximum=self.high,
            total=self.total,
        )


@dataclass(slots=True)
class _Upstream:
    requests: int = 0
    errors: int = 0
    latency: Histogram | None = None


class _Interval:
    """Everything recorded since the last flush."""

    __slots__ = ("client_errors", "new_groups", "releases", "requests", "routes", "upstream_errors",
                 "upstreams", "vitals")  # fmt: skip

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str], Histogram] = {}
        self.upstreams: dict[str, _Upstream] = {}
        self.upstream_errors: dict[tuple[str, str], int] = {}
        self.client_errors: dict[tuple[str, str], int] = {}
        self.new_groups: dict[tuple[str, str], int] = {}
        self.vitals: dict[tuple[str, str], Histogram] = {}
        self.routes: set[str] = set()
        self.releases: set[str] = set()


def status_class(status: int) -> str:
    """``2xx`` for 200-299 and so on; anything outside 100-599 is ``other``."""
    return f"{status // 100}xx" if 100 <= status <= 599 else OTHER


class Recorder:
    """This worker's metrics since the last flush; :meth:`flush` returns them as EMF documents.

    ``gauges``, when set, is called at each flush for series of point-in-time values (circuit
    states, log shipping counters).
    """

    def __init__(
        self,
        environment: str,
        *,
        namespace: str = NAMESPACE,
        clock: Callable[[], float] | None = None,
        gauges: Callable[[], list[Series]] | None = None,
    ) -> None:
        import time

        self.environment = environment
        self.namespace = namespace
        self._clock = clock or time.time
        self._gauges = gauges
        self._lock = threading.Lock()
        self._now = _Interval()
        # Requests are queued by the request path (deque appends are atomic) and aggregated
        # by drain(): the per-request work is one append. observe() takes the tuple
        # (route, status, elapsed_ms, upstream, upstream_ms, upstream_status, problem).
        self._queue: deque[tuple[Any, ...]] = deque()
        self.observe: Callable[[tuple[Any, ...]], None] = self._queue.append

    def set_gauges(self, gauges: Callable[[], list[Series]] | None) -> None:
        """Read ``gauges`` at each flush."""
        self._gauges = gauges

    # -- recording (the request path) -----------------------------------------------------------

    def request(
        self,
        route: str,
        status: int,
        elapsed_ms: float,
        upstream: str | None = None,
        upstream_ms: float | None = None,
        upstream_status: int | None = None,
        problem: str | None = None,
    ) -> None:
        """One answered request: its route (a configured name), status and latency, and what
        the upstream did (``problem`` is the problem slug the BFF answered with, if any).

        Only queued here (one append); :meth:`drain` aggregates, off the request path."""
        self.observe((route, status, elapsed_ms, upstream, upstream_ms, upstream_status, problem))

    def drain(self, limit: int = 0) -> int:
        """Aggregate up to ``limit`` queued requests (all of them with 0); how many it took."""
        queue = self._queue
        with self._lock:
            count = 0
            while queue and (not limit or count < limit):
                self._aggregate(*queue.popleft())
                count += 1
        return count

    def _aggregate(
        self,
        route: str,
        status: int,
        elapsed_ms: float,
        upstream: str | None,
        upstream_ms: float | None,
        upstream_status: int | None,
        problem: str | None,
    ) -> None:
        now = self._now
        key = (route, status_class(status))
        histogram = now.requests.get(key)
        if histogram is None:
            histogram = now.requests[key] = Histogram()
        histogram.add(elapsed_ms)
        if upstream is None:
            return
        entry = now.upstreams.get(upstream)
        if entry is None:
            entry = now.upstreams[upstream] = _Upstream()
        kind = None
        if problem in UPSTREAM_PROBLEMS:
            kind = problem
        elif upstream_status is not None and upstream_status >= 500:
            kind = "status-5xx"
        if upstream_ms is not None and problem != "circuit-open":
            entry.requests += 1
            if entry.latency is None:
                entry.latency = Histogram()
            entry.latency.add(upstream_ms)
        if kind is not None:
            entry.errors += 1
            error_key = (upstream, kind)
            now.upstream_errors[error_key] = now.upstream_errors.get(error_key, 0) + 1

    def client_error(self, kind: str, release: str | None) -> None:
        """One accepted client error report (counted by kind and release, never by group)."""
        with self._lock:
            key = (self._kind(kind), self._release(release))
            counts = self._now.client_errors
            counts[key] = counts.get(key, 0) + 1

    def new_error_group(self, kind: str, release: str | None) -> None:
        """An error group seen for the first time (by the error-group index)."""
        with self._lock:
            key = (self._kind(kind), self._release(release))
            counts = self._now.new_groups
            counts[key] = counts.get(key, 0) + 1

    def vital(self, name: str, route: str | None, value: float) -> None:
        """One Web Vitals measurement of a page route (``/products/[id]``)."""
        if name not in VITALS or not math.isfinite(value) or value < 0:
            return
        with self._lock:
            key = (self._route(route), name)
            histogram = self._now.vitals.get(key)
            if histogram is None:
                histogram = self._now.vitals[key] = Histogram()
            histogram.add(value)

    def _kind(self, kind: str) -> str:
        return kind if kind in ERROR_KINDS else OTHER

    def _release(self, release: str | None) -> str:
        if not release:
            return NONE
        seen = self._now.releases
        if release in seen:
            return release
        if (
            len(seen) >= MAX_RELEASES
            or not _TOKEN.fullmatch(release)
            or scrub_text(release) != release  # logship's rules: no card number, no secret
        ):
            return OTHER
        seen.add(release)
        return release

    def _route(self, route: str | None) -> str:
        if not route:
            return NONE
        seen = self._now.routes
        if route in seen:
            return route
        if (
            len(seen) >= MAX_ROUTES
            or not _PAGE_ROUTE.fullmatch(route)
            or not route.isascii()
            or scrub_path(route) != route  # logship's rules: no card number, no token
        ):
            return OTHER
        seen.add(route)
        return route

    # -- flushing ------------------------------------------------------------------------------

    def take(self) -> list[Series]:
        """The series recorded since the last call (and the gauges as of now); starts afresh."""
        self.drain()
        with self._lock:
            now, self._now = self._now, _Interval()
        return self._series(now) + (self._gauges() if self._gauges is not None else [])

    def flush(self) -> list[dict[str, Any]]:
        """Every EMF document for what was recorded since the last flush."""
        timestamp = int(self._clock() * 1000)
        return [doc for series in self.take() for doc in documents(series, timestamp)]

    def series(self, dimensions: Mapping[str, str], sets: list[list[str]]) -> Series:
        """An empty series in this recorder's namespace, with ``Environment`` added."""
        return Series(self.namespace, {"Environment": self.environment, **dimensions}, sets)

    def _series(self, now: _Interval) -> list[Series]:
        return list(self._iter_series(now))

    def _iter_series(self, now: _Interval) -> Iterator[Series]:
        env = "Environment"
        for (route, klass), histogram in now.requests.items():
            series = self.series(
                {"Route": route, "StatusClass": klass},
                [[env, "Route", "StatusClass"], [env, "StatusClass"], [env]],
            )
            series.add("Requests", "Count", histogram.count)
            series.add("Latency", "Milliseconds", histogram.distribution())
            yield series
        for upstream, entry in now.upstreams.items():
            series = self.series({"Upstream": upstream}, [[env, "Upstream"], [env]])
            series.add("UpstreamRequests", "Count", entry.requests)
            series.add("UpstreamErrors", "Count", entry.errors)
            if entry.latency is not None:
                series.add("UpstreamLatency", "Milliseconds", entry.latency.distribution())
            yield series
        for (upstream, kind), count in now.upstream_errors.items():
            series = self.series(
                {"Upstream": upstream, "ErrorKind": kind}, [[env, "Upstream", "ErrorKind"]]
            )
            series.add("UpstreamErrorsByKind", "Count", count)
            yield series
        for key in now.client_errors.keys() | now.new_groups.keys():
            kind, release = key
            series = self.series(
                {"Kind": kind, "Release": release},
                [[env, "Kind", "Release"], [env, "Kind"], [env]],
            )
            if key in now.client_errors:
                series.add("ClientErrors", "Count", now.client_errors[key])
            if key in now.new_groups:
                series.add("NewErrorGroup", "Count", now.new_groups[key])
            yield series
        by_route: dict[str, dict[str, Histogram]] = {}
        for (route, name), histogram in now.vitals.items():
            by_route.setdefault(route, {})[name] = histogram
        for route, vitals in by_route.items():
            series = self.series({"Route": route}, [[env, "Route"], [env]])
            for name, histogram in sorted(vitals.items()):
                series.add(name, VITALS[name], histogram.distribution())
            yield series


__all__ = ["NAMESPACE", "Histogram", "Recorder", "status_class"]
