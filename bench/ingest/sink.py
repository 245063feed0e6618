"""A minimal CloudWatch Logs endpoint for benchmarks: accepts and counts, stores nothing.

    .venv/bin/python bench/ingest/sink.py --port 4599

It speaks the service's JSON protocol (``POST /`` with ``X-Amz-Target: Logs_20140328.<Op>``)
for what logship calls: ``CreateLogGroup``, ``CreateLogStream``, ``DescribeLogGroups``,
``DescribeLogStreams``, ``PutRetentionPolicy`` and ``PutLogEvents``, answering as CloudWatch
does (``ResourceAlreadyExistsException`` for an existing stream, ``ResourceNotFoundException``
for events to a missing stream, ``nextSequenceToken`` on success). It checks the batch limits
(at most 10,000 events, 1,048,576 bytes counting 26 bytes per event) and answers
``InvalidParameterException`` beyond them. ``GET /stats`` returns the counters as JSON.

Two options serve the fleet benchmark (bench/fleet): ``--rate N`` throttles ``PutLogEvents``
account-wide to N requests per second (a token bucket with one second of burst, answering
``ThrottlingException`` as CloudWatch does), and ``--ids`` keeps the ``request_id`` of every
access record received (``GET /ids``), so loss and duplicates can be counted exactly.

A real deployment ships to a remote service, so a benchmark that runs moto (pure Python,
parsing and storing every event) on the same cores as the BFF charges the BFF for work it
would not do; this sink costs one JSON parse per batch.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from testkit import free_port, http_ready, start

MAX_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD = 26
TARGET_PREFIX = "Logs_20140328."


class TokenBucket:
    """The account-wide ``PutLogEvents`` quota: ``rate`` tokens a second, one second of burst
    (at least one token); also the model ``bench/fleet/sim.py`` runs against."""

    def __init__(self, rate: float, now: float) -> None:
        self.rate = rate
        self.burst = max(1.0, rate)
        self.tokens = self.burst
        self.refilled = now

    def allow(self, now: float) -> bool:
        """Take a token at ``now`` if there is one."""
        self.tokens = min(self.burst, self.tokens + (now - self.refilled) * self.rate)
        self.refilled = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    def empty(self, now: float) -> None:
        """Another writer took every token as it came."""
        self.tokens = 0.0
        self.refilled = now


class Sink:
    """Log groups, streams and counters; the handling of one decoded request."""

    def __init__(self, rate: float = 0.0, keep_ids: bool = False) -> None:
        self.groups: set[str] = set()
        self.streams: set[tuple[str, str]] = set()
        self.counts: dict[str, int] = {
            "requests": 0,
            "batches": 0,
            "events": 0,
            "bytes": 0,
            "throttled": 0,
            "duplicates": 0,
        }
        self.per_stream: dict[str, int] = {}
        self.rate = rate
        self._bucket = TokenBucket(rate, time.monotonic())
        self.keep_ids = keep_ids
        self.ids: set[str] = set()

    def _allow_put(self) -> bool:
        """The account-wide PutLogEvents quota (token bucket, one second of burst)."""
        return self.rate <= 0 or self._bucket.allow(time.monotonic())

    def _record_ids(self, events: list[Any]) -> None:
        for event in events:
            message = str(event.get("message", ""))
            if '"bff.access"' not in message:
                continue
            try:
                rid = orjson.loads(message).get("request_id")
            except orjson.JSONDecodeError:
                continue
            if isinstance(rid, str):
                if rid in self.ids:
                    self.counts["duplicates"] += 1
                self.ids.add(rid)

    def handle(self, operation: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """The status and JSON answer for one operation."""
        self.counts["requests"] += 1
        group = str(body.get("logGroupName", ""))
        stream = str(body.get("logStreamName", ""))
        if operation == "PutLogEvents":
            if not self._allow_put():
                self.counts["throttled"] += 1
                return _error("ThrottlingException", "Rate exceeded")
            if (group, stream) not in self.streams:
                return _error(
                    "ResourceNotFoundException", "The specified log stream does not exist."
                )
            events = body.get("logEvents") or []
            size = sum(len(str(e.get("message", "")).encode()) + EVENT_OVERHEAD for e in events)
            if len(events) > MAX_EVENTS or size > MAX_BATCH_BYTES:
                return _error("InvalidParameterException", "batch over the service limits")
            self.counts["batches"] += 1
            self.counts["events"] += len(events)
            self.counts["bytes"] += size
            self.per_stream[stream] = self.per_stream.get(stream, 0) + len(events)
            if self.keep_ids:
                self._record_ids(events)
            return 200, {"nextSequenceToken": f"{self.counts['batches']:056d}"}
        if operation == "CreateLogGroup":
            if group in self.groups:
                return _error(
                    "ResourceAlreadyExistsException", "The specified log group already exists"
                )
            self.groups.add(group)
            return 200, {}
        if operation == "CreateLogStream":
            if group not in self.groups:
                self.groups.add(group)  # the bench does not exercise group creation
            if (group, stream) in self.streams:
                return _error(
                    "ResourceAlreadyExistsException", "The specified log stream already exists"
                )
            self.streams.add((group, stream))
            return 200, {}
        if operation == "DescribeLogGroups":
            prefix = str(body.get("logGroupNamePrefix", ""))
            names = sorted(g for g in self.groups if g.startswith(prefix))
            return 200, {"logGroups": [{"logGroupName": g, "storedBytes": 0} for g in names]}
        if operation == "DescribeLogStreams":
            prefix = str(body.get("logStreamNamePrefix", ""))
            names = sorted(s for g, s in self.streams if g == group and s.startswith(prefix))
            return 200, {"logStreams": [{"logStreamName": s} for s in names]}
        if operation == "PutRetentionPolicy":
            return 200, {}
        return _error("UnknownOperationException", f"not supported by the sink: {operation}")


def _error(code: str, message: str) -> tuple[int, dict[str, Any]]:
    return 400, {"__type": code, "message": message}


class _Connection(asyncio.Protocol):
    """HTTP/1.1 with keep-alive and Content-Length bodies (what botocore sends)."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)  # noqa: S101
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).decode("latin-1")
            lines = head.split("\r\n")
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0") or 0)
            if len(self.buffer) < end + 4 + length:
                return
            body = bytes(self.buffer[end + 4 : end + 4 + length])
            del self.buffer[: end + 4 + length]
            self._answer(lines[0], headers, body)

    def _answer(self, request_line: str, headers: dict[str, str], body: bytes) -> None:
        method, _, rest = request_line.partition(" ")
        path = rest.partition(" ")[0]
        if method == "GET" and path == "/stats":
            status, answer = 200, {**self.sink.counts, "streams": self.sink.per_stream}
            kind = "application/json"
        elif method == "GET" and path == "/ids":
            status, answer = 200, {"ids": sorted(self.sink.ids)}
            kind = "application/json"
        else:
            target = headers.get("x-amz-target", "")
            try:
                doc = orjson.loads(body) if body else {}
            except orjson.JSONDecodeError:
                doc = None
            if not target.startswith(TARGET_PREFIX) or not isinstance(doc, dict):
                status, answer = _error("SerializationException", "bad request")
            else:
                status, answer = self.sink.handle(target[len(TARGET_PREFIX) :], doc)
            kind = "application/x-amz-json-1.1"
        payload = orjson.dumps(answer)
        reason = "OK" if status == 200 else "Bad Request"
        assert self.transport is not None  # noqa: S101
        self.transport.write(
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: {kind}\r\n"
            f"Content-Length: {len(payload)}\r\nx-amzn-RequestId: sink\r\n\r\n".encode()
            + payload
        )


async def serve(host: str, port: int, rate: float = 0.0, keep_ids: bool = False) -> None:
    """Serve until SIGTERM or SIGINT."""
    loop = asyncio.get_running_loop()
    sink = Sink(rate, keep_ids)
    server = await loop.create_server(lambda: _Connection(sink), host, port)
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set_result, None)
    async with server:
        await stop


@contextlib.contextmanager
def sink_server(workdir: Path, extra_args: list[str] | None = None) -> Iterator[str]:
    """Start the sink on a free loopback port in its own process (testkit: a bounded readiness
    wait, the output's tail on failure, SIGTERM then SIGKILL); yields its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start(
        "sink",
        [sys.executable, str(Path(__file__)), "--port", str(port), *(extra_args or [])],
        log_dir=workdir,
        port=port,
        ready=http_ready(url + "/stats"),
        timeout=15,
    )
    with server:
        yield url


def sink_stats(url: str) -> dict[str, Any]:
    """The sink's counters."""
    with urllib.request.urlopen(url + "/stats", timeout=2) as response:  # noqa: S310 - loopback
        stats: dict[str, Any] = orjson.loads(response.read())
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--rate", type=float, default=0.0, help="PutLogEvents per second (0: no limit)"
    )
    parser.add_argument("--ids", action="store_true", help="keep access records' request ids")
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port, args.rate, args.ids))


if __name__ == "__main__":
    main()
