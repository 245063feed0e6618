#!/usr/bin/env python3
"""Fleet benchmark: N BFF tasks shipping logs to one CloudWatch endpoint under an account quota.

In AWS, PutLogEvents is throttled per account and Region, shared by every task of every
service. This runs N BFFs (separate gunicorn masters, one worker each, each standing for an ECS
task with its own spool directory) behind which a fast upstream answers; a load generator sends
each task a fixed request rate with unique request ids; every task ships its records to one
log endpoint (bench/ingest/sink.py) that enforces an account-wide PutLogEvents rate (a token
bucket, ``ThrottlingException`` beyond it) and keeps the request id of every access record.

It reports, per task and for the fleet: requests answered, records delivered, lost and
duplicated; PutLogEvents accepted and throttled per second (the retry pressure); events per
accepted request (how well batching uses the quota); the largest spool on disk during the
run; and how long the fleet took to drain once the load stopped.

    .venv/bin/python bench/fleet/run.py                          # 8 tasks, 5 PutLogEvents/s
    .venv/bin/python bench/fleet/run.py --tasks 4 --rate 2 --rps 50 --duration 60
    .venv/bin/python bench/fleet/run.py --quick                  # smoke run
    .venv/bin/python bench/fleet/run.py --logship-src /tmp/ref/lib/logship/src   # a reference

``--logship-src`` runs the tasks with logship imported from another tree (say, ``git archive``
of the commit before a change), so a change and its reference are measured in one session.

Loopback only; every loop bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/: the shared harness
from harness import (  # noqa: E402
    BenchError,
    Processes,
    busy_pct,
    free_port,
    log,
    run_benchmark,
    wait_until_ready,
)

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SINK = REPO / "bench" / "ingest" / "sink.py"
UPSTREAM_DIR = REPO / "bench" / "edge"
GROUP = "/bench/fleet"
DRAIN_TIMEOUT_S = 180.0

ROUTES_TOML = """\
[upstreams.static]
health_path = "/healthz"

[[routes]]
name = "static"
prefix = "/api/static"
upstream = "static"
upstream_prefix = "/static"
methods = ["GET"]
"""


@dataclasses.dataclass(frozen=True)
class Options:
    """Parsed command-line options."""

    tasks: int
    rate: float
    rps: float
    duration: float
    json_path: Path | None
    keep_tmp: bool
    logship_src: Path | None = None


@dataclasses.dataclass
class Task:
    """One BFF task: its port, spool directory and what its load generator saw."""

    index: int
    port: int
    spool: Path
    sent: int = 0
    answered: list[str] = dataclasses.field(default_factory=list)
    failed: int = 0
    max_spool_bytes: int = 0
    #: Events of this task's streams the sink had accepted when the load stopped.
    delivered_in_load: int = 0
    #: Seconds after the load stopped until every answered request's record had arrived.
    drain_s: float | None = None


def parse_args(argv: Sequence[str]) -> Options:
    """Parse the command line."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", type=int, default=8, help="BFF tasks (default 8)")
    p.add_argument("--rate", type=float, default=5.0, help="account PutLogEvents per second")
    p.add_argument("--rps", type=float, default=40.0, help="requests per second per task")
    p.add_argument("--duration", type=float, default=30.0, help="seconds of load")
    p.add_argument("--quick", action="store_true", help="smoke run: 2 tasks, 3 s")
    p.add_argument("--json", type=Path, default=None, help="write the results to this file")
    p.add_argument("--keep-tmp", action="store_true", help="keep the temp dir (logs, spools)")
    p.add_argument(
        "--logship-src",
        type=Path,
        default=None,
        help="import logship from this directory in the tasks (a reference tree)",
    )
    ns = p.parse_args(argv)
    if not 1 <= ns.tasks <= 32 or ns.rate < 0 or ns.rps <= 0 or not 0 < ns.duration <= 600:
        p.error("need 1-32 tasks, rate >= 0, rps > 0, duration in (0, 600]")
    src = ns.logship_src.resolve() if ns.logship_src is not None else None
    if src is not None and not (src / "logship" / "pacing.py").is_file():
        p.error(f"--logship-src: no logship package in {src}")
    if ns.quick:
        return Options(2, ns.rate, 20.0, 3.0, ns.json, ns.keep_tmp, src)
    return Options(ns.tasks, ns.rate, ns.rps, ns.duration, ns.json, ns.keep_tmp, src)


def venv_bin(name: str) -> str:
    """A tool from the repo's virtualenv (or beside this interpreter)."""
    path = REPO / ".venv" / "bin" / name
    return str(path if path.exists() else Path(sys.executable).parent / name)


def http_ok(url: str) -> str | None:
    """None when ``url`` answers 200, else why not."""
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - loopback only
            return None if resp.status == 200 else f"HTTP {resp.status}"
    except OSError as exc:
        return str(exc)


def sink_get(url: str, path: str) -> dict[str, Any]:
    """A JSON document from the sink."""
    with urllib.request.urlopen(url + path, timeout=10) as resp:  # noqa: S310 - loopback only
        doc: dict[str, Any] = json.loads(resp.read())
    return doc


def start_sink(procs: Processes, rate: float) -> str:
    """The log endpoint with the account quota; returns its URL."""
    port = free_port()
    argv = [sys.executable, str(SINK), "--port", str(port), "--rate", str(rate), "--ids"]
    proc = procs.start("sink", argv, cwd=REPO)
    url = f"http://127.0.0.1:{port}"
    wait_until_ready(procs, "sink", proc, lambda: http_ok(url + "/stats"), "answering")
    return url


def start_upstream(procs: Processes) -> int:
    """The fast upstream every task proxies to (bench/edge/upstream.py under gevent)."""
    port = free_port()
    argv = [
        venv_bin("gunicorn"),
        "--bind",
        f"127.0.0.1:{port}",
        "--worker-class",
        "gevent",
        "--workers",
        "1",
        "--log-level",
        "warning",
        "--no-control-socket",
        "upstream:app",
    ]
    proc = procs.start("upstream", argv, cwd=UPSTREAM_DIR)
    url = f"http://127.0.0.1:{port}/healthz"
    wait_until_ready(procs, "upstream", proc, lambda: http_ok(url), "healthy")
    return port


def start_task(
    procs: Processes,
    tmp: Path,
    index: int,
    sink: str,
    upstream: int,
    logship_src: Path | None = None,
) -> Task:
    """One BFF task: a gunicorn master with one worker, its own spool, shipping to the sink."""
    port = free_port()
    spool = tmp / f"spool-{index}"
    routes = tmp / "routes.toml"
    if not routes.exists():
        routes.write_text(ROUTES_TOML)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp),
        "BFF_BIND": f"127.0.0.1:{port}",
        "BFF_WORKERS": "1",
        "BFF_ROUTES_FILE": str(routes),
        "BFF_UPSTREAM_STATIC_URL": f"http://127.0.0.1:{upstream}",
        "BFF_SERVICE_NAME": f"bff-task{index}",
        "LOG_CLOUDWATCH_GROUP": GROUP,
        "LOG_CLOUDWATCH_ENDPOINT": sink,
        "LOG_CLOUDWATCH_CREATE_GROUP": "1",
        "LOG_SPOOL_DIR": str(spool),
        "AWS_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
    }
    if logship_src is not None:
        env["PYTHONPATH"] = str(logship_src)  # ahead of the venv's editable install
    argv = [venv_bin("gunicorn"), "-c", "bff/gunicorn.conf.py", "bff:create_app()"]
    proc = procs.start(f"task{index}", argv, cwd=REPO, env=env)
    url = f"http://127.0.0.1:{port}/healthz"
    wait_until_ready(procs, f"task{index}", proc, lambda: http_ok(url), "healthy")
    return Task(index, port, spool)


async def _load_one(task: Task, rps: float, duration: float) -> None:
    """Send ``rps`` requests per second for ``duration`` over one keep-alive connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", task.port)
    interval = 1.0 / rps
    started = time.monotonic()
    n = 0
    try:
        while time.monotonic() - started < duration:
            rid = f"t{task.index}-{n}"
            n += 1
            task.sent += 1
            writer.write(
                b"GET /api/static/1k.json HTTP/1.1\r\nHost: bench\r\nX-Request-ID: %b\r\n\r\n"
                % rid.encode()
            )
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await asyncio.wait_for(reader.readexactly(length), 10)
            if head.startswith(b"HTTP/1.1 200"):
                task.answered.append(rid)
            else:
                task.failed += 1
            delay = started + n * interval - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def spool_bytes(path: Path) -> int:
    """Bytes on disk under a spool directory."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += (Path(root) / name).stat().st_size
    return total


async def _sample(
    tasks: list[Task], sink: str, stop: asyncio.Event, out: list[dict[str, Any]]
) -> None:
    """Once a second: the sink's counters and each task's spool size."""
    started = time.monotonic()
    while not stop.is_set():
        stats = await asyncio.to_thread(sink_get, sink, "/stats")
        for task in tasks:
            task.max_spool_bytes = max(task.max_spool_bytes, spool_bytes(task.spool))
        out.append(
            {
                "t": round(time.monotonic() - started, 1),
                **{
                    k: stats[k]
                    for k in ("requests", "batches", "events", "throttled", "duplicates")
                },
            }
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)


async def drive(tasks: list[Task], sink: str, opts: Options) -> list[dict[str, Any]]:
    """Load every task at once while sampling; return the samples."""
    samples: list[dict[str, Any]] = []
    stop = asyncio.Event()
    sampler = asyncio.create_task(_sample(tasks, sink, stop, samples))
    try:
        await asyncio.gather(*(_load_one(t, opts.rps, opts.duration) for t in tasks))
    finally:
        stop.set()
        await sampler
    streams = (await asyncio.to_thread(sink_get, sink, "/stats")).get("streams", {})
    for task in tasks:
        prefix = f"bff-task{task.index}/"
        task.delivered_in_load = sum(n for name, n in streams.items() if name.startswith(prefix))
    return samples


def wait_drained(tasks: list[Task], sink: str) -> tuple[float | None, set[str]]:
    """Seconds until the sink holds every answered request's record (None: not within the
    drain timeout), and the ids it holds."""
    want = {rid for task in tasks for rid in task.answered}
    started = time.monotonic()
    got: set[str] = set()
    while time.monotonic() - started < DRAIN_TIMEOUT_S:
        got = set(sink_get(sink, "/ids")["ids"])
        for task in tasks:
            task.max_spool_bytes = max(task.max_spool_bytes, spool_bytes(task.spool))
            if task.drain_s is None and set(task.answered) <= got:
                task.drain_s = time.monotonic() - started
        if want <= got:
            return time.monotonic() - started, got
        time.sleep(0.5)
    return None, got


def jain(values: Sequence[float]) -> float:
    """Jain's fairness index (1.0: every task got the same share)."""
    total = sum(values)
    squares = sum(v * v for v in values)
    return (total * total) / (len(values) * squares) if squares else 1.0


def report(
    opts: Options,
    tasks: list[Task],
    samples: list[dict[str, Any]],
    drain_s: float | None,
    got: set[str],
    final: dict[str, Any],
) -> dict[str, Any]:
    """Print the tables and return the results as a JSON-ready dict."""
    rows: list[dict[str, Any]] = []
    print(
        f"\nFleet: {opts.tasks} tasks x {opts.rps:g} req/s for {opts.duration:g} s; "
        f"account quota {opts.rate:g} PutLogEvents/s"
    )
    print(
        f"{'task':<7}{'sent':>8}{'answered':>10}{'delivered':>11}{'undeliv.':>9}{'max spool':>12}"
    )
    for task in tasks:
        answered = set(task.answered)
        delivered = len(answered & got)
        lost = len(answered - got)
        rows.append(
            {
                "task": task.index,
                "sent": task.sent,
                "answered": len(answered),
                "delivered": delivered,
                "lost": lost,
                "failed": task.failed,
                "max_spool_bytes": task.max_spool_bytes,
                "delivered_in_load": task.delivered_in_load,
                "drain_s": task.drain_s,
            }
        )
        print(
            f"task{task.index:<3}{task.sent:>8}{len(answered):>10}{delivered:>11}{lost:>9}"
            f"{task.max_spool_bytes / 1024:>10.0f} K"
        )
    answered_total = sum(r["answered"] for r in rows)
    lost_total = sum(r["lost"] for r in rows)
    load_samples = [s for s in samples if s["t"] > 0]
    duration = load_samples[-1]["t"] if load_samples else opts.duration
    accepted = final["batches"]
    throttled = final["throttled"]
    per_task_rate = [r["delivered"] / max(duration, 1e-9) for r in rows]
    # The share of the quota each task got while the load ran: events of its streams accepted
    # by then, per event it was offered (a starved task stands out as a low share).
    shares = [task.delivered_in_load / max(len(set(task.answered)), 1) for task in tasks]
    drains = [task.drain_s for task in tasks if task.drain_s is not None]
    result = {
        "config": dataclasses.asdict(opts)
        | {"json_path": None, "logship_src": str(opts.logship_src or "")},
        "tasks": rows,
        "answered": answered_total,
        "lost": lost_total,
        "duplicates": final["duplicates"],
        "put_accepted": accepted,
        "put_throttled": throttled,
        "throttled_per_accepted": throttled / accepted if accepted else None,
        "events_per_put": final["events"] / accepted if accepted else None,
        "drain_s": drain_s,
        "delivered_events_per_s_per_quota_unit": (
            answered_total / duration / opts.rate if opts.rate and duration else None
        ),
        # Over the load and the drain: what the fleet actually moved per unit of quota.
        "events_per_s_per_quota_unit_with_drain": (
            answered_total / (duration + drain_s) / opts.rate
            if opts.rate and drain_s is not None and lost_total == 0
            else None
        ),
        "fairness_jain": jain([r["delivered"] / max(r["answered"], 1) for r in rows]),
        "share_in_load_min": min(shares),
        "share_in_load_max": max(shares),
        "share_in_load_min_over_max": min(shares) / max(shares) if max(shares) else None,
        "task_drain_s_max": max(drains) if drains else None,
        "per_task_delivered_rate": per_task_rate,
        "samples": samples,
    }
    verdict = (
        "ZERO LOSS"
        if lost_total == 0
        else "NOT ALL DELIVERED within the drain timeout (still spooled or lost)"
    )
    print(
        f"\nrecords answered {answered_total}, undelivered {lost_total}, "
        f"duplicates {final['duplicates']} ({verdict})"
    )
    print(
        f"PutLogEvents accepted {accepted}, throttled {throttled}"
        + (f" ({throttled / accepted:.2f} throttled per accepted)" if accepted else "")
    )
    if accepted:
        print(f"events per accepted PutLogEvents: {final['events'] / accepted:.1f}")
    if opts.rate and duration:
        print(
            f"offered {answered_total / duration:.0f} events/s = "
            f"{answered_total / duration / opts.rate:.0f} events/s per PutLogEvents/s of quota"
        )
    drained = f"{drain_s:.1f} s" if drain_s is not None else f"NOT within {DRAIN_TIMEOUT_S:.0f} s"
    print(f"drain after the load stopped: {drained}")
    if result["events_per_s_per_quota_unit_with_drain"] is not None:
        print(
            "events/s per PutLogEvents/s of quota over load and drain (zero loss): "
            f"{result['events_per_s_per_quota_unit_with_drain']:.0f}"
        )
    print(
        f"fairness (Jain, delivered share per task): {result['fairness_jain']:.3f}; "
        f"largest spool {max(r['max_spool_bytes'] for r in rows) / 1024:.0f} KiB"
    )
    print(
        "share of its events delivered while the load ran, per task: "
        f"min {min(shares):.2f}, max {max(shares):.2f}"
        + (f" (min/max {min(shares) / max(shares):.2f})" if max(shares) else "")
        + (f"; slowest task drained {max(drains):.1f} s after the load" if drains else "")
    )
    if len(per_task_rate) > 1:
        print(
            f"delivered events/s per task: min {min(per_task_rate):.1f}, "
            f"median {statistics.median(per_task_rate):.1f}, max {max(per_task_rate):.1f}"
        )
    return result


def benchmark(opts: Options) -> int:
    """Start everything, load, drain, report, stop everything."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    procs = Processes(tmp)
    try:
        before = busy_pct()
        if before is not None and before > 15:
            log(f"WARNING: {before:.0f}% CPU busy before the run; figures will be noisy")
        sink = start_sink(procs, opts.rate)
        upstream = start_upstream(procs)
        tasks = [
            start_task(procs, tmp, i, sink, upstream, opts.logship_src) for i in range(opts.tasks)
        ]
        log(f"{len(tasks)} tasks up; loading for {opts.duration:g} s")
        samples = asyncio.run(drive(tasks, sink, opts))
        log("load stopped; waiting for every record to arrive")
        drain_s, got = wait_drained(tasks, sink)
        final = sink_get(sink, "/stats")
        result = report(opts, tasks, samples, drain_s, got, final)
        if opts.json_path is not None:
            opts.json_path.parent.mkdir(parents=True, exist_ok=True)
            opts.json_path.write_text(json.dumps(result, indent=2) + "\n")
            log(f"wrote {opts.json_path}")
        if not any(t.answered for t in tasks):
            raise BenchError("no request was answered")
    finally:
        procs.close()
        if opts.keep_tmp:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    return run_benchmark(lambda: benchmark(opts))


if __name__ == "__main__":
    sys.exit(main())
