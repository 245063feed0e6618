"""The BFF's metrics, as CloudWatch Embedded Metric Format documents in its own log stream.

Each worker aggregates in memory (:class:`~bff.metrics.recorder.Recorder`) and writes EMF
documents every ``BFF_METRICS_INTERVAL`` seconds (default 60; 0 turns metrics off) and when
it exits, through logship's CloudWatch handler into the stream the worker already ships
(CloudWatch extracts the metrics; no agent). A process that does not ship to CloudWatch
(``LOG_CLOUDWATCH_GROUP`` unset: unit tests, scripts) aggregates but writes nothing, since
nothing would extract the metrics.

Functions other modules call (each returns at once and never raises):

* :func:`record_access` — the proxy's access path, once per proxied request;
* :func:`client_error` — client-error ingest, once per accepted report;
* :func:`web_vital` — ``POST /api/vitals``, once per metric;
* :func:`new_error_group` — the error-group index, when it sees a group for the first time.

Metrics, dimensions and the alarms built on them: docs/ops.md, "Metrics, alarms and queries".
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

from .emf import Series, encode
from .recorder import NAMESPACE, Recorder

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment
    from flask import Flask, Response

    from ..proxy.pool import UpstreamClients
    from ..settings import Settings

log = logging.getLogger("bff.metrics")

MAX_EVENT_BYTES: Final = 256 * 1024  # the EMF specification's bound on one document
DRAIN_SECONDS: Final = 1.0  # how often queued requests are aggregated
DRAIN_SLICE: Final = 1000  # requests aggregated between two yields to the worker's requests
_current: Recorder | None = None
_flusher: Flusher | None = None


def current() -> Recorder | None:
    """This process's recorder, or None when metrics are off."""
    return _current


def record_access(environ: WSGIEnvironment, status: int, elapsed_ms: float) -> None:
    """Count one proxied request from what the access path recorded in ``environ``."""
    recorder = _current
    if recorder is None:
        return
    get = environ.get
    recorder.observe(  # one append; Recorder.drain aggregates it off the request path
        (
            get("bff.route") or "unmatched",
            status,
            elapsed_ms,
            get("bff.upstream"),
            get("bff.upstream_ms"),
            get("bff.upstream_status"),
            get("bff.problem"),
        )
    )


def client_error(kind: str, release: str | None) -> None:
    """Count one accepted client error by kind and release (unknown kinds count as ``other``)."""
    recorder = _current
    if recorder is not None:
        recorder.client_error(kind, release)


def new_error_group(kind: str, release: str | None) -> None:
    """Count an error group seen for the first time, for the ``NewErrorGroup`` alarm.

    Call it from the error-group index exactly once per group, at the moment the index first
    records that group (in production, the alarm fires on any non-zero sum). ``kind`` is the
    report's kind (``error``, ``unhandledrejection``, ``boundary``, ``server``, ``csp``, ...;
    anything else is counted as ``other``) and ``release`` the release the report names (None
    when it names none). Never pass a fingerprint or message: they would become dimensions.
    Returns at once (an in-memory count, written with the next flush); never raises.
    """
    recorder = _current
    if recorder is not None:
        recorder.new_error_group(kind, release)


def web_vital(name: str, route: str | None, value: float) -> None:
    """Record one Web Vitals value (LCP, INP, CLS, FCP or TTFB) of a page route."""
    recorder = _current
    if recorder is not None:
        recorder.vital(name, route, value)


# -- writing -----------------------------------------------------------------------------------


def _emf_record(handler: logging.Handler, text: str) -> logging.LogRecord:
    """A record that logship's CloudWatch handler writes as exactly ``text``.

    CloudWatch reads ``_aws`` only at the top level of an event, and logship's formatter nests
    caller data under ``data``. Its formatter caches each record's formatted event on the record
    (``format_event``: "handlers sharing this formatter format once"); the record is handed
    over with that cache already holding the document, so the handler's own fast path writes it
    as it is, and no other record is touched. ``test_metrics`` and ``test_metrics_e2e`` pin
    this behaviour.
    """
    from logship.formatter import _CACHE_ATTR, FormattedEvent

    record = log.makeRecord(log.name, logging.INFO, __file__, 0, "emf", (), None)
    record.__dict__[_CACHE_ATTR] = (
        handler.formatter,
        FormattedEvent(text, len(text.encode("utf-8")), False),
    )
    return record


def _cloudwatch_handler() -> logging.Handler | None:
    """logship's CloudWatch handler of this process (its main stream), if it ships."""
    from logship import setup as logship_setup

    active = logship_setup.active()
    return active.cloudwatch_handler if active is not None else None


def envelope(service: str, environment: str | None = None) -> dict[str, Any]:
    """Root members every document also carries: logship's reserved keys (the same record
    schema as every other record, so ``make logs``, Logs Insights (``filter logger =
    "bff.metrics"``) and the ops queries can tell them apart). EMF ignores members it does not
    reference; none of these is a metric or dimension name (the dimension is ``Environment``)."""
    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
    return {
        "timestamp": stamp,
        "level": "INFO",
        "logger": log.name,
        "message": "metrics",
        "service": service,
        "environment": environment,
        "request_id": None,
        "trace_id": None,
        "location": None,
    }


def write_documents(
    docs: Iterable[Mapping[str, Any]], service: str = "bff", environment: str | None = None
) -> int:
    """Write each document as one log event of this worker's CloudWatch stream; the count
    written (0 without a CloudWatch handler)."""
    handler = _cloudwatch_handler()
    if handler is None:
        return 0
    limit = min(MAX_EVENT_BYTES, int(getattr(handler, "max_message_bytes", MAX_EVENT_BYTES)))
    root = envelope(service, environment)
    written = 0
    for doc in docs:
        text = encode({**root, **doc})
        if len(text.encode("utf-8")) > limit:  # not reachable with the BFF's series (tested)
            log.error("metrics: a document of %d bytes is over the event limit", len(text))
            continue
        handler.handle(_emf_record(handler, text))
        written += 1
    return written


class Flusher:
    """Flush a recorder every ``interval`` seconds on a background thread (a greenlet under
    gevent), and once more on :meth:`stop`."""

    def __init__(
        self,
        recorder: Recorder,
        interval: float,
        write: Callable[[Iterable[Mapping[str, Any]]], int] = write_documents,
    ) -> None:
        self.recorder = recorder
        self.interval = interval
        self._write = write
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    def start(self) -> None:
        """Start the background flushes."""
        self._thread = threading.Thread(target=self._run, name="bff-metrics", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        due = time.monotonic() + self.interval
        while not self._stop.wait(min(DRAIN_SECONDS, self.interval)):
            try:
                # In slices, yielding between them: under gevent this thread is a greenlet
                # of the worker, and a long slice would hold up its requests.
                while self.recorder.drain(DRAIN_SLICE) == DRAIN_SLICE:
                    time.sleep(0)
            except Exception:  # noqa: BLE001 - a failed drain must not stop the flushes
                log.exception("metrics: drain failed")
            if time.monotonic() >= due:
                due += self.interval
                self.flush()

    def flush(self) -> int:
        """Write what was recorded since the last flush; the number of documents."""
        try:
            return self._write(self.recorder.flush())
        except Exception:  # noqa: BLE001 - a failed flush must not stop the next one
            log.exception("metrics: flush failed")
            return 0

    def cancel(self) -> None:
        """Stop the background flushes without writing."""
        self._stop.set()

    def stop(self) -> int:
        """Stop the background flushes and write what is left (worker exit)."""
        self._stop.set()
        if self._pid != os.getpid():
            return 0
        return self.flush()


def flush_on_exit() -> None:
    """Write the last interval's documents; for gunicorn's ``worker_exit`` (before logship
    flushes its handler) and for interpreter exit. Never raises."""
    global _flusher  # noqa: PLW0603 - one recorder per worker process
    flusher, _flusher = _flusher, None
    if flusher is not None:
        flusher.stop()


# -- gauges read at each flush -------------------------------------------------------------------


class Gauges:
    """Point-in-time series: circuit states per upstream and logship's delivery counters."""

    def __init__(self, recorder_series: Callable[[Mapping[str, str], list[list[str]]], Series],
                 clients: UpstreamClients | None, upstreams: Iterable[str]) -> None:  # fmt: skip
        self._series = recorder_series
        self._clients = clients
        self._upstreams = tuple(upstreams)
        self._last: dict[str, int] = {}

    def __call__(self) -> list[Series]:
        out: list[Series] = []
        try:
            out.extend(self._circuits())
            out.extend(self._logship())
        except Exception:  # noqa: BLE001 - gauges must never stop a flush
            log.exception("metrics: gauges not read")
        return out

    def _delta(self, key: str, total: int) -> int:
        previous = self._last.get(key, 0)
        self._last[key] = total
        return max(0, total - previous)

    def _circuits(self) -> list[Series]:
        clients = self._clients
        if clients is None:
            return []
        from ..proxy.circuit import CLOSED

        out = []
        for name in self._upstreams:
            breaker = clients.breaker(name)
            series = self._series({"Upstream": name}, [["Environment", "Upstream"]])
            series.add("CircuitOpen", "None", 0 if breaker.state == CLOSED else 1)
            series.add("CircuitOpened", "Count", self._delta(f"opened:{name}", breaker.opened))
            series.add("CircuitClosed", "Count", self._delta(f"closed:{name}", breaker.closed))
            out.append(series)
        return out

    def _logship(self) -> list[Series]:
        from logship import setup as logship_setup

        active = logship_setup.active()
        if active is None or active.cloudwatch_handler is None:
            return []
        stats = [active.stats(), *active.stream_stats().values()]
        dropped = sum(int(s.get("dropped_total", 0)) for s in stats)
        rejected = sum(sum(dict(s.get("rejected", {})).values()) for s in stats)
        spooled = sum(int(s.get("spooled", 0)) for s in stats)
        buffered = sum(int(s.get("buffer_bytes", 0)) for s in stats)
        series = self._series({}, [["Environment"]])
        series.add("LogEventsDropped", "Count", self._delta("dropped", dropped))
        series.add("LogEventsRejected", "Count", self._delta("rejected", rejected))
        series.add("LogEventsSpooled", "Count", self._delta("spooled", spooled))
        series.add("LogBufferBytes", "Bytes", buffered)
        spool_dir = active.settings.spool_dir
        if spool_dir:
            series.add("LogSpoolBytes", "Bytes", spool_bytes(spool_dir))
        return [series]


def spool_bytes(directory: str) -> int:
    """Bytes of batch files in logship's spool directory (shared by the task's processes)."""
    total = 0
    for sub in ("ready", "claimed", "tmp"):
        try:
            with os.scandir(os.path.join(directory, sub)) as scan:
                for entry in scan:
                    try:
                        total += entry.stat().st_size
                    except OSError:
                        continue
        except OSError:
            continue
    return total


# -- wiring ----------------------------------------------------------------------------------------


def init_app(app: Flask, settings: Settings, clients: UpstreamClients | None = None) -> None:
    """Turn metrics on for this process (``settings.metrics_interval`` > 0): a recorder, its
    flusher, and request counting for the Flask endpoints (the proxy counts its own)."""
    global _current, _flusher  # noqa: PLW0603 - one recorder per worker process
    shutdown()  # a new app in the same process (tests) replaces the previous recorder
    if settings.metrics_interval <= 0:
        return
    recorder = Recorder(settings.environment, namespace=NAMESPACE)
    gauges = Gauges(recorder.series, clients, settings.upstreams)
    recorder.set_gauges(gauges)
    _current = recorder
    _flusher = Flusher(
        recorder,
        settings.metrics_interval,
        lambda docs: write_documents(docs, settings.service, settings.environment),
    )
    _flusher.start()
    atexit.unregister(flush_on_exit)
    atexit.register(flush_on_exit)

    from flask import request

    @app.before_request
    def _started() -> None:
        request.environ.setdefault("bff.metrics_started", time.monotonic())

    @app.after_request
    def _count(response: Response) -> Response:
        started = request.environ.get("bff.metrics_started")
        if started is not None and _current is recorder:
            rule = request.url_rule
            recorder.request(
                rule.endpoint if rule is not None else "unmatched",
                response.status_code,
                (time.monotonic() - started) * 1000.0,
            )
        return response


def shutdown() -> None:
    """Stop flushing and forget the recorder (tests; a worker uses :func:`flush_on_exit`)."""
    global _current, _flusher  # noqa: PLW0603 - one recorder per worker process
    flusher, _flusher, _current = _flusher, None, None
    if flusher is not None:
        flusher.cancel()


__all__ = [
    "MAX_EVENT_BYTES",
    "Flusher",
    "client_error",
    "current",
    "flush_on_exit",
    "init_app",
    "new_error_group",
    "record_access",
    "shutdown",
    "web_vital",
    "write_documents",
]
