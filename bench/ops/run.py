"""Ops view benchmark: the error-group index at a million events.

    .venv/bin/python bench/ops/run.py                 # 1,000,000 events, 5,000 groups, 4 BFFs
    .venv/bin/python bench/ops/run.py --quick         # 20,000 events, 500 groups (~1 min)
    .venv/bin/python bench/ops/run.py --events 200000 --json bench/results/ops.json

Four BFF instances (separate gunicorn masters on free ports, one worker each, exactly as in
production: ``bff/gunicorn.conf.py``) share one Debian ``redis-server`` (rate limits and the
index) and ship their logs to bench/ingest's PutLogEvents sink. A sender posts reports over
keep-alive connections to all four, event k belonging to group k mod G, and counts the 202s
per group. At checkpoints (10k, 100k, 300k, 1M events, or the --quick ones) it pauses and
times ``GET /api/ops/client-errors`` (the whole list: every group is considered, the top 100
answered) against ``GET /healthz`` of the same BFF as the reference, sequentially. At the end
it compares every group's count in the index with what the BFFs accepted (exact or not).

Then the ingest cost of the index: wrk posting one report at 10 connections to one BFF with
two workers, (a) rate limits in memory and no index, (b) rate limits in Redis and no index,
(c) rate limits in Redis and the index (production). The index's own cost is (c) against (b).

Targets: ``/api/ops/client-errors`` p99 < 50 ms at every checkpoint, counts exact.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for harness.py
sys.path.insert(1, str(Path(__file__).resolve().parents[1] / "ingest"))  # the logs sink
from harness import (  # noqa: E402
    BenchError,
    Processes,
    free_port,
    log,
    positive_int,
    run_benchmark,
    stop_group,
    wait_until_ready,
    wrk,
    wrk_post_script,
)
from sink import sink_server  # noqa: E402
from testkit import http_ready, redis_server  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
P99_TARGET_MS = 50.0
LIST_SAMPLES = 200
FULL_CHECKPOINTS = (10_000, 100_000, 300_000, 1_000_000)
QUICK_CHECKPOINTS = (2_000, 20_000)
LETTERS = "ghijklmnopqrstuvwxyz"  # no hex digits: the fingerprint masks numbers and hex ids


def group_word(group: int) -> str:
    """A letters-only name per group (numbers would be masked into one fingerprint)."""
    word = ""
    value = group
    while True:
        word = LETTERS[value % len(LETTERS)] + word
        value //= len(LETTERS)
        if value == 0:
            return word


def report_body(group: int) -> bytes:
    """A ~700-byte report of group ``group``."""
    word = group_word(group)
    doc = {
        "v": 1,
        "incident": "BENCH-OPS-1",
        "kind": "error",
        "error": {
            "type": "TypeError",
            "message": f"bench failure {word}",
            "stack": f"TypeError: bench failure {word}\n"
            f"    at render_{word} (http://127.0.0.1/_next/static/chunks/app.js:1:100)\n"
            "    at main (http://127.0.0.1/_next/static/chunks/main.js:1:200)",
        },
        "url": "http://127.0.0.1/products/1",
        "route": f"/products/{LETTERS[group % 7]}",
        "release": "bench-1",
        "session": f"tab-{word}",
        "breadcrumbs": [{"t": 1_700_000_000_000, "type": "click", "data": {"target": "button"}}],
        "request_ids": [],
    }
    return json.dumps(doc).encode()


def post_request(port: int, body: bytes) -> bytes:
    """The raw HTTP/1.1 request posting ``body`` to the ingest."""
    head = (
        f"POST /api/client-errors HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class Connection:
    """One keep-alive connection that sends a prepared request and reads the status."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buffer = b""

    def exchange(self, request: bytes) -> int:
        """Send ``request``; the response's status (its body read and dropped)."""
        self.sock.sendall(request)
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise BenchError("connection closed by the BFF")
            self.buffer += chunk
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        match = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        length = int(match.group(1)) if match else 0
        while len(rest) < length:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise BenchError("connection closed by the BFF")
            rest += chunk
        self.buffer = rest[length:]
        return int(head.split(b" ", 2)[1])

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()


def send_range(
    ports: Sequence[int], first: int, last: int, groups: int, connections: int
) -> tuple[list[int], int, float]:
    """Post events ``first``..``last - 1`` (event k is group k mod ``groups``) over
    ``connections`` per BFF; accepted (202) counts per group, failures, seconds taken."""
    bodies = [report_body(g) for g in range(groups)]
    requests = {port: [post_request(port, b) for b in bodies] for port in ports}
    accepted = [0] * groups
    failures = [0]
    lock = threading.Lock()
    lanes = [(port, lane) for port in ports for lane in range(connections)]
    errors: list[BaseException] = []

    def worker(index: int, port: int) -> None:
        local = [0] * groups
        failed = 0
        conn = Connection(port)
        try:
            for k in range(first + index, last, len(lanes)):
                group = k % groups
                if conn.exchange(requests[port][group]) == 202:
                    local[group] += 1
                else:
                    failed += 1
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            errors.append(exc)
        finally:
            conn.close()
        with lock:
            for g, n in enumerate(local):
                accepted[g] += n
            failures[0] += failed

    started = time.monotonic()
    threads = [
        threading.Thread(target=worker, args=(i, port), daemon=True)
        for i, (port, _lane) in enumerate(lanes)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise BenchError(f"sending failed: {errors[0]!r}")
    return accepted, failures[0], time.monotonic() - started


def timed_gets(url: str, samples: int, headers: dict[str, str] | None = None) -> list[float]:
    """``samples`` sequential GETs of ``url`` (a fresh urllib request each), in ms."""
    times = []
    for _ in range(samples):
        req = urllib.request.Request(url, headers=headers or {})
        started = time.perf_counter()
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - loopback
            resp.read()
            if resp.status != 200:
                raise BenchError(f"{url} answered {resp.status}")
        times.append((time.perf_counter() - started) * 1000)
    return times


def percentile(values: Sequence[float], pct: float) -> float:
    """The ``pct`` percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))]


def start_bff(
    procs: Processes,
    name: str,
    env: dict[str, str],
    workers: int,
    app: str = "bff:create_app()",
) -> int:
    """One BFF (its own gunicorn master) on a free port; returns the port."""
    port = free_port()
    full = {**env, "BFF_BIND": f"127.0.0.1:{port}", "BFF_WORKERS": str(workers)}
    argv = [str(BIN / "gunicorn"), "-c", "bff/gunicorn.conf.py", app]
    if app != "bff:create_app()":
        argv[1:1] = ["--pythonpath", str(Path(__file__).resolve().parent)]
    proc = procs.start(name, argv, cwd=ROOT, env=full)
    wait_until_ready(procs, name, proc, http_ready(f"http://127.0.0.1:{port}/healthz"), "healthy")
    return port


def base_env(logs_url: str, workdir: Path, name: str) -> dict[str, str]:
    """A production BFF shipping its logs to the sink, limits raised through the environment."""
    return {
        "PATH": "/usr/bin:/bin",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_REGION": "eu-west-1",
        "LOG_CLOUDWATCH_GROUP": "/bench/ops",
        "LOG_CLOUDWATCH_ENDPOINT": logs_url,
        "LOG_CLOUDWATCH_CREATE_GROUP": "1",
        "LOG_FLUSH_INTERVAL": "1",
        "LOG_SPOOL_DIR": str(workdir / f"spool-{name}"),
        "BFF_ENV": "production",
        "BFF_OPS_TOKEN": "bench-ops-token-" + "b" * 32,
        "BFF_UPSTREAM_CATALOG_URL": "http://127.0.0.1:9",
        "BFF_UPSTREAM_ORDERS_URL": "http://127.0.0.1:9",
        "BFF_CLIENT_ERRORS_RATE": "1000000000/minute",
        "BFF_CLIENT_ERRORS_FINGERPRINT_RATE": "1000000000/minute",
    }


def index_counts(redis_url: str) -> dict[str, int]:
    """Every group's count in the index, by message (read straight from Redis)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    members = cast(list[bytes], client.zrange("bff:errors:by_count", 0, -1))
    fingerprints = [member.decode() for member in members]
    pipe = client.pipeline(transaction=False)
    for fp in fingerprints:
        pipe.hmget(f"bff:errors:g:{fp}", ["message", "count"])
    counts = {}
    for message, count in pipe.execute():
        counts[message.decode()] = int(count)
    client.close()
    return counts


def measure_volume(args: argparse.Namespace, procs: Processes, workdir: Path) -> dict[str, Any]:
    """The million events through four BFFs, the list timed at each checkpoint, counts compared."""
    checkpoints = [c for c in (QUICK_CHECKPOINTS if args.quick else FULL_CHECKPOINTS)]
    checkpoints = [c for c in checkpoints if c < args.events] + [args.events]
    with redis_server(workdir) as redis, sink_server(workdir) as logs_url:
        redis_url = redis.url
        ports = []
        for i in range(args.instances):
            env = {**base_env(logs_url, workdir, f"bff{i}"), "BFF_RATELIMIT_STORAGE_URI": redis_url}
            ports.append(start_bff(procs, f"bff{i}", env, workers=1))
        log(f"{args.instances} BFFs on ports {ports}, one redis-server, logs to the sink")
        token = {"Authorization": "Bearer bench-ops-token-" + "b" * 32}
        accepted = [0] * args.groups
        failures = 0
        sent = 0
        send_seconds = 0.0
        rows = []
        for checkpoint in checkpoints:
            got, failed, seconds = send_range(
                ports, sent, checkpoint, args.groups, args.connections
            )
            accepted = [a + b for a, b in zip(accepted, got, strict=True)]
            failures += failed
            send_seconds += seconds
            log(
                f"{checkpoint:,} events sent ({(checkpoint - sent) / seconds:,.0f}/s over "
                f"{args.instances} BFFs), {failed} not accepted"
            )
            sent = checkpoint
            time.sleep(1.0)
            base = f"http://127.0.0.1:{ports[0]}"
            reference = timed_gets(f"{base}/healthz", LIST_SAMPLES)
            listing = timed_gets(f"{base}/api/ops/client-errors?status=all", LIST_SAMPLES, token)
            row = {
                "events": checkpoint,
                "list_p50_ms": round(statistics.median(listing), 2),
                "list_p99_ms": round(percentile(listing, 99), 2),
                "healthz_p50_ms": round(statistics.median(reference), 2),
                "healthz_p99_ms": round(percentile(reference, 99), 2),
            }
            row["p99_ratio"] = round(row["list_p99_ms"] / row["healthz_p99_ms"], 1)
            rows.append(row)
            log(
                f"  /api/ops/client-errors p50 {row['list_p50_ms']} ms, p99 "
                f"{row['list_p99_ms']} ms (healthz p99 {row['healthz_p99_ms']} ms)"
            )
        counts = index_counts(redis_url)
    expected = {f"bench failure {group_word(g)}": n for g, n in enumerate(accepted) if n}
    wrong = {m: (n, counts.get(m)) for m, n in expected.items() if counts.get(m) != n}
    extra = sorted(set(counts) - set(expected))
    return {
        "events": sent,
        "groups": args.groups,
        "instances": args.instances,
        "accepted": sum(accepted),
        "not_accepted": failures,
        "events_per_second": round(sent / send_seconds, 1),
        "checkpoints": rows,
        "groups_in_index": len(counts),
        "groups_wrong": len(wrong),
        "groups_unexpected": len(extra),
        "index_total": sum(counts.values()),
        "exact": not wrong and not extra and sum(counts.values()) == sum(accepted),
        "examples_wrong": dict(list(wrong.items())[:5]),
    }


def run_wrk(url: str, script: Path, seconds: float) -> dict[str, float]:
    """wrk posting with ``script`` at 10 connections: requests/s and p99 in ms."""
    run = wrk(url, seconds, 10, script=script)
    return {
        "reports_per_s": run.rps,
        "p99_ms": round(run.p99_ms, 2),
        "non_2xx": float(run.non_2xx),
    }


def measure_ingest(
    args: argparse.Namespace, procs: Processes, workdir: Path
) -> list[dict[str, Any]]:
    """Ingest with the index off and on (same BFF, two workers, wrk at 10 connections)."""
    body = report_body(7)
    script = wrk_post_script(workdir, body)
    results: list[dict[str, Any]] = []
    with redis_server(workdir / "ingest") as redis, sink_server(workdir) as logs_url:
        shared = {"BFF_RATELIMIT_STORAGE_URI": redis.url}
        variants: list[tuple[str, dict[str, str], str]] = [
            ("memory limits, no index", {}, "bff:create_app()"),
            ("redis limits, no index", shared, "noindex:create_app()"),
            ("redis limits + index", shared, "bff:create_app()"),
        ]
        for round_number in range(args.rounds):
            for label, extra, app in variants:
                name = f"ingest-{len(results)}"
                env = {**base_env(logs_url, workdir, name), **extra}
                port = start_bff(procs, name, env, workers=2, app=app)
                url = f"http://127.0.0.1:{port}/api/client-errors"
                run_wrk(url, script, 2)  # warm-up
                result = run_wrk(url, script, args.ingest_seconds)
                results.append({"variant": label, "round": round_number, **result})
                log(
                    f"ingest, {label}: {result['reports_per_s']:,.0f} reports/s, "
                    f"p99 {result['p99_ms']} ms"
                )
                stop_last(procs)
    return results


def stop_last(procs: Processes) -> None:
    """Stop the newest process started (the BFF just measured)."""
    _name, proc = procs.procs.pop()
    stop_group(proc)


@contextmanager
def workspace() -> Iterator[Path]:
    """A scratch directory, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="bench-ops-") as tmp:
        path = Path(tmp)
        (path / "ingest").mkdir()
        yield path


def summarize(volume: dict[str, Any], ingest: list[dict[str, Any]]) -> list[str]:
    """The result lines."""
    lines = [
        f"volume: {volume['events']:,} events across {volume['groups']:,} groups through "
        f"{volume['instances']} BFFs at {volume['events_per_second']:,.0f} events/s; accepted "
        f"{volume['accepted']:,}, index total {volume['index_total']:,}, groups in index "
        f"{volume['groups_in_index']:,}: counts {'EXACT' if volume['exact'] else 'WRONG'}",
    ]
    for row in volume["checkpoints"]:
        verdict = "ok" if row["list_p99_ms"] < P99_TARGET_MS else "OVER TARGET"
        lines.append(
            f"  at {row['events']:>9,} events: /api/ops/client-errors p50 {row['list_p50_ms']:>6} "
            f"ms p99 {row['list_p99_ms']:>6} ms ({row['p99_ratio']}x healthz p99 "
            f"{row['healthz_p99_ms']} ms) [{verdict}, target < {P99_TARGET_MS:g} ms]"
        )
    by_variant: dict[str, list[dict[str, Any]]] = {}
    for row in ingest:
        by_variant.setdefault(row["variant"], []).append(row)
    medians = {
        v: (
            statistics.median(r["reports_per_s"] for r in rows),
            statistics.median(r["p99_ms"] for r in rows),
        )
        for v, rows in by_variant.items()
    }
    for variant, (rps, p99) in medians.items():
        lines.append(f"ingest, {variant}: {rps:,.0f} reports/s, p99 {p99} ms (median of rounds)")
    off = medians.get("redis limits, no index")
    on = medians.get("redis limits + index")
    if off and on:
        lines.append(
            f"index cost: reports/s on/off {on[0] / off[0]:.2f}x, p99 on/off {on[1] / off[1]:.2f}x"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="20,000 events, 500 groups")
    parser.add_argument("--events", type=positive_int, default=None)
    parser.add_argument("--groups", type=positive_int, default=None)
    parser.add_argument("--instances", type=positive_int, default=4)
    parser.add_argument("--connections", type=positive_int, default=2, help="per BFF")
    parser.add_argument("--rounds", type=positive_int, default=None, help="ingest rounds")
    parser.add_argument("--ingest-seconds", type=float, default=None)
    parser.add_argument("--skip-ingest", action="store_true", help="the volume run only")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args(argv)
    args.events = args.events or (20_000 if args.quick else 1_000_000)
    args.groups = args.groups or (500 if args.quick else 5_000)
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.ingest_seconds = args.ingest_seconds or (3.0 if args.quick else 10.0)
    if shutil.which("wrk") is None and not args.skip_ingest:
        raise BenchError("wrk is not installed (apt-get install wrk)")

    def bench() -> int:
        with workspace() as workdir:
            procs = Processes(workdir)
            try:
                volume = measure_volume(args, procs, workdir)
                procs.close()
                ingest = [] if args.skip_ingest else measure_ingest(args, procs, workdir)
            finally:
                procs.close()
        lines = summarize(volume, ingest)
        print("\n".join(lines))
        if args.json is not None:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(
                json.dumps({"volume": volume, "ingest": ingest}, indent=2), encoding="utf-8"
            )
        slow = [r for r in volume["checkpoints"] if r["list_p99_ms"] >= P99_TARGET_MS]
        return 0 if volume["exact"] and not slow else 1

    return run_benchmark(bench)


if __name__ == "__main__":
    sys.exit(main())
