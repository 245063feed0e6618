"""What the BFF's metrics cost: the EMF writers' CPU, and the BFF with metrics on vs off.

Three parts, each printed as ratios against a reference measured in the same run:

1. **Writers**, in this process (CPU time, median of interleaved rounds):
   * per request: the BFF's ``Recorder.request`` and its share of ``drain`` (queue, then
     aggregate in memory) against ``aws-embedded-metrics`` writing one document per request
     (what its ``metric_scope`` does: a context with the dimensions and two metrics,
     serialized); and the access path's hook (``record_access``) alone;
   * per document: one document with a request count and a 100-value latency distribution,
     built and encoded by ``bff.metrics.emf`` and by ``aws-embedded-metrics``'s serializer
     (100 raw values: it has no Values/Counts form).
   ``aws-embedded-metrics`` is not a dependency of the project: install it where this runs
   (``pip install aws-embedded-metrics==3.5.0``, or ``PYTHONPATH`` to a ``pip install
   --target`` directory); without it only the BFF's figures are printed.
2. **In process**: the BFF app proxying 1 KiB from a static nginx through Flask's test client,
   CPU per request with the recorder on and off in alternating chunks (same app, same
   requests), and the same with off in both chunks as the ratio's noise floor.
3. **Under gunicorn**: the BFF under its production gunicorn config, shipping its logs to
   bench/ingest's PutLogEvents sink, with ``BFF_METRICS_INTERVAL=10`` (on) and ``0`` (off),
   interleaved rounds; requests per second (wrk) and the BFF's CPU per request (its process
   group's jiffies), on/off.

Run: ``.venv/bin/python bench/metrics/run.py [--duration 10] [--rounds 3]``; ``--quick`` is a
smoke run. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import math
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(1, str(ROOT / "bench" / "ingest"))  # the PutLogEvents sink

from bff.metrics.emf import Distribution, Series, documents, encode  # noqa: E402
from bff.metrics.recorder import Recorder  # noqa: E402
from harness import (  # noqa: E402 - bench/ is put on sys.path above
    BenchError,
    Processes,
    busy_pct,
    free_port,
    group_jiffies,
    log,
    package_version,
    positive_int,
    repo_commit,
    run_benchmark,
    static_upstream,
    stop_group,
    wait_until_ready,
    warn_if_busy,
    wrk,
    wrk_available,
)
from sink import sink_server  # noqa: E402
from testkit import http_ready  # noqa: E402

FAKE_AWS = {
    "AWS_REGION": "eu-west-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
}


# -- part 1: the writers -----------------------------------------------------------------------


def cpu_us_per_op(op: Callable[[], object], count: int) -> float:
    """CPU microseconds per call of ``op`` over ``count`` calls."""
    start = time.process_time()
    for _ in range(count):
        op()
    return (time.process_time() - start) * 1e6 / count


def median_interleaved(
    ops: dict[str, Callable[[], object]], count: int, rounds: int
) -> dict[str, float]:
    """Each op's median CPU per call over ``rounds`` rounds, the ops interleaved in each."""
    samples: dict[str, list[float]] = {name: [] for name in ops}
    for _ in range(rounds):
        for name, op in ops.items():
            samples[name].append(cpu_us_per_op(op, count))
    return {name: statistics.median(values) for name, values in samples.items()}


def our_request_op() -> Callable[[], object]:
    recorder = Recorder("production")
    rng = random.Random(1)
    latencies = [rng.lognormvariate(2, 0.8) for _ in range(4096)]
    routes = ["catalog", "orders"]
    state = {"i": 0}

    def op() -> None:
        i = state["i"] = state["i"] + 1
        ms = latencies[i & 4095]
        recorder.request(routes[i & 1], 200, ms, routes[i & 1], ms * 0.8, 200)
        if i % 1000 == 0:
            recorder.drain()  # the flusher's aggregation, counted here per request
        if i % 100_000 == 0:
            recorder.take()  # a flush now and then keeps the aggregates to one interval's size

    return op


def hook_op() -> Callable[[], object]:
    """The access path's call, as the proxy makes it (environ lookups included)."""
    from bff import metrics

    recorder = Recorder("production")
    environ = {
        "bff.route": "catalog",
        "bff.upstream": "catalog",
        "bff.upstream_ms": 3.2,
        "bff.upstream_status": 200,
    }
    state = {"i": 0}

    def op() -> None:
        metrics._current = recorder
        i = state["i"] = state["i"] + 1
        metrics.record_access(environ, 200, 4.0 + (i & 63))
        if i % 100_000 == 0:
            recorder.take()  # keeps the queue short (the aggregation is timed above)

    return op


def library_request_op(lib: Any) -> Callable[[], object]:
    context_cls, serializer = lib

    def op() -> list[str]:
        context = context_cls.empty()
        context.namespace = "FrontDoor/BFF"
        context.put_dimensions(
            {"Environment": "production", "Route": "catalog", "StatusClass": "2xx"}
        )
        context.put_metric("Requests", 1, "Count")
        context.put_metric("Latency", 12.5, "Milliseconds")
        result: list[str] = serializer.serialize(context)
        return result

    return op


def sample_values(n: int = 100) -> tuple[list[float], list[int]]:
    rng = random.Random(2)
    values = sorted({round(rng.lognormvariate(2, 0.8), 3) for _ in range(n * 2)})[:n]
    return values, [1 + i % 4 for i in range(len(values))]


def our_document_op() -> Callable[[], object]:
    values, counts = sample_values()
    total = math.fsum(v * c for v, c in zip(values, counts, strict=True))

    def op() -> list[str]:
        series = Series(
            "FrontDoor/BFF",
            {"Environment": "production", "Route": "catalog", "StatusClass": "2xx"},
            [["Environment", "Route", "StatusClass"], ["Environment", "StatusClass"]],
        )
        series.add("Requests", "Count", sum(counts))
        series.add(
            "Latency",
            "Milliseconds",
            Distribution(list(values), list(counts), values[0], values[-1], total),
        )
        return [encode(doc) for doc in documents(series, 1_796_600_000_000)]

    return op


def library_document_op(lib: Any) -> Callable[[], object]:
    context_cls, serializer = lib
    values, counts = sample_values()

    def op() -> list[str]:
        context = context_cls.empty()
        context.namespace = "FrontDoor/BFF"
        context.put_dimensions(
            {"Environment": "production", "Route": "catalog", "StatusClass": "2xx"}
        )
        context.put_metric("Requests", sum(counts), "Count")
        for value in values:
            context.put_metric("Latency", value, "Milliseconds")
        result: list[str] = serializer.serialize(context)
        return result

    return op


def load_library() -> Any:
    try:  # optional, and not a dependency of the project: loaded by name
        context = importlib.import_module("aws_embedded_metrics.logger.metrics_context")
        serializer = importlib.import_module("aws_embedded_metrics.serializers.log_serializer")
    except ImportError:
        return None
    return context.MetricsContext, serializer.LogSerializer


def writers(count: int, rounds: int) -> dict[str, Any]:
    lib = load_library()
    per_request: dict[str, Callable[[], object]] = {"bff_recorder": our_request_op()}
    per_document: dict[str, Callable[[], object]] = {"bff_emf": our_document_op()}
    if lib is not None:
        per_request["aws_embedded_metrics"] = library_request_op(lib)
        per_document["aws_embedded_metrics"] = library_document_op(lib)
    report: dict[str, Any] = {
        "aws_embedded_metrics": package_version("aws-embedded-metrics") if lib else None,
        "per_request_us": median_interleaved(per_request, count * 10, rounds),
        "per_document_us": median_interleaved(per_document, count, rounds),
        "hook_us": median_interleaved({"record_access": hook_op()}, count * 10, rounds),
    }
    return report


def print_writers(report: dict[str, Any]) -> None:
    print("\nEMF writers: CPU per operation (median of interleaved rounds)")
    version = report["aws_embedded_metrics"]
    for part, label in (("per_request_us", "per request"), ("per_document_us", "per document")):
        row = report[part]
        ours_key = "bff_recorder" if part == "per_request_us" else "bff_emf"
        line = f"  {label:13} bff.metrics {row[ours_key]:8.2f} us"
        if "aws_embedded_metrics" in row:
            lib = row["aws_embedded_metrics"]
            ratio = lib / row[ours_key]
            line += f"   aws-embedded-metrics {version} {lib:8.2f} us   ratio {ratio:.1f}x"
        print(line)
    if version is None:
        print("  (aws-embedded-metrics not installed: only the BFF's figures)")
    print(f"  the access path's hook (record_access) {report['hook_us']['record_access']:.2f} us")


# -- part 2: BFF throughput ------------------------------------------------------------------------


@contextlib.contextmanager
def servers(tmp: Path) -> Iterator[tuple[Processes, str, str]]:
    """A static nginx (the upstream) and bench/ingest's PutLogEvents sink."""
    procs = Processes(tmp)
    try:
        with static_upstream("bench-metrics-nginx-") as upstream, sink_server(tmp) as sink:
            yield procs, upstream, sink
    finally:
        procs.close()


def wrk_clean(url: str, duration: float, connections: int) -> dict[str, float]:
    """One wrk run: requests per second, p50 and p99 in ms; any non-2xx answer or socket error
    fails the run (a proxy answering errors fast is not the figure wanted)."""
    run = wrk(url, duration, connections)
    if not run.clean:
        raise BenchError(f"wrk saw errors against {url}:\n{run.output}")
    return {"rps": run.rps, "p50_ms": run.p50_ms, "p99_ms": run.p99_ms}


def one_run(
    procs: Processes,
    upstream: str,
    sink: str,
    tmp: Path,
    metrics_interval: str,
    duration: float,
    connections: int,
    label: str,
) -> dict[str, float]:
    port = free_port()
    env = {
        **os.environ,
        **FAKE_AWS,
        "BFF_ROUTES_FILE": str(ROOT / "bench" / "logs" / "static-routes.toml"),
        "BFF_UPSTREAM_STATIC_URL": upstream,
        "BFF_ENV": "production",
        "BFF_BIND": f"127.0.0.1:{port}",
        "BFF_METRICS_INTERVAL": metrics_interval,
        "LOG_CLOUDWATCH_GROUP": f"/bench/metrics/{uuid.uuid4().hex[:8]}",
        "LOG_CLOUDWATCH_ENDPOINT": sink,
        "LOG_CLOUDWATCH_CREATE_GROUP": "true",
        "LOG_SPOOL_DIR": str(tmp / f"spool-{label}-{port}"),
        "LOG_STDOUT": "unshipped",
    }
    name = f"bff-{label}-{port}"
    proc = procs.start(
        name,
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            str(ROOT / "bff/gunicorn.conf.py"),
            "bff:create_app()",
        ],  # fmt: skip
        ROOT,
        env,
    )
    base = f"http://127.0.0.1:{port}"

    try:
        wait_until_ready(procs, name, proc, http_ready(base + "/healthz"), "ready")
        url = base + "/api/static/1k.json"
        wrk_clean(url, 1, connections)  # warm-up
        before = group_jiffies(frozenset({proc.pid}))
        result = wrk_clean(url, duration, connections)
        used = group_jiffies(frozenset({proc.pid})) - before
        requests = result["rps"] * max(1, int(duration))
        result["cpu_us_per_request"] = (
            used / os.sysconf("SC_CLK_TCK") * 1e6 / requests if requests else 0.0
        )
        return result
    finally:
        procs.procs.remove((name, proc))
        stop_group(proc)


def throughput(duration: float, rounds: int, connections: int) -> dict[str, Any]:
    wrk_available()
    runs: dict[str, list[dict[str, float]]] = {"off": [], "on": []}
    with (
        tempfile.TemporaryDirectory(prefix="bench-metrics-") as work,
        servers(Path(work)) as (
            procs,
            upstream,
            sink,
        ),
    ):
        for index in range(rounds):
            order = ("off", "on") if index % 2 == 0 else ("on", "off")
            for label in order:
                interval = "10" if label == "on" else "0"
                row = one_run(procs, upstream, sink, Path(work), interval, duration,
                              connections, label)  # fmt: skip
                log(f"round {index + 1} metrics {label}: {row['rps']:.0f} req/s, "
                    f"{row['cpu_us_per_request']:.0f} us CPU/request")  # fmt: skip
                runs[label].append(row)
    med = {
        label: {
            key: statistics.median(r[key] for r in rows)
            for key in ("rps", "p50_ms", "p99_ms", "cpu_us_per_request")
        }
        for label, rows in runs.items()
    }
    return {
        "runs": runs,
        "median": med,
        "rps_ratio_on_off": med["on"]["rps"] / med["off"]["rps"] if med["off"]["rps"] else 0.0,
        "cpu_ratio_on_off": (
            med["on"]["cpu_us_per_request"] / med["off"]["cpu_us_per_request"]
            if med["off"]["cpu_us_per_request"]
            else 0.0
        ),
    }


def in_process(chunks: int, per_chunk: int) -> dict[str, Any]:
    """CPU per proxied request of the BFF app in this process (Flask's test client, a static
    nginx upstream), metrics on and off in alternating chunks: the same app and the same
    requests, only the recorder differs, so other load on the machine falls on both alike."""
    from bff.settings import load_settings

    from bff import create_app, metrics

    with static_upstream("bench-metrics-nginx-") as upstream:
        settings = load_settings(
            {
                "BFF_ROUTES_FILE": str(ROOT / "bench" / "logs" / "static-routes.toml"),
                "BFF_UPSTREAM_STATIC_URL": upstream,
                "BFF_ENV": "production",
                "BFF_METRICS_INTERVAL": "3600",
            }
        )
        app = create_app(settings)
        recorder = metrics.current()
        if recorder is None:
            raise BenchError("metrics did not turn on")
        client = app.test_client()

        def chunk() -> float:
            start = time.process_time()
            for _ in range(per_chunk):
                resp = client.get("/api/static/1k.json", buffered=True)
                if resp.status_code != 200:
                    raise BenchError(f"in-process proxy answered {resp.status_code}")
            return (time.process_time() - start) * 1e6 / per_chunk

        chunk()  # warm-up: connections pooled, caches filled
        samples: dict[str, list[float]] = {"off": [], "on": [], "off_a": [], "off_b": []}
        for index in range(chunks):
            for label in ("off", "on") if index % 2 == 0 else ("on", "off"):
                metrics._current = recorder if label == "on" else None
                samples[label].append(chunk())
            # The same comparison with metrics off in both: the noise floor of the ratio.
            metrics._current = None
            for label in ("off_a", "off_b") if index % 2 == 0 else ("off_b", "off_a"):
                samples[label].append(chunk())
        metrics.shutdown()

    def paired(a: str, b: str) -> float:
        return statistics.median(x / y for x, y in zip(samples[a], samples[b], strict=True))

    return {
        "cpu_us_per_request": {k: statistics.median(v) for k, v in samples.items()},
        "ratio_on_off": paired("on", "off"),
        "ratio_off_off": paired("off_b", "off_a"),
        "chunks": chunks,
        "per_chunk": per_chunk,
    }


def print_in_process(report: dict[str, Any]) -> None:
    cpu = report["cpu_us_per_request"]
    print(f"\nIn-process proxy CPU per request ({report['chunks']} alternating chunks of "
          f"{report['per_chunk']}): off {cpu['off']:.0f} us, on {cpu['on']:.0f} us, "
          f"on/off {report['ratio_on_off']:.3f} (median of paired chunks; off/off, the "
          f"noise floor: {report['ratio_off_off']:.3f})")  # fmt: skip


def print_throughput(report: dict[str, Any]) -> None:
    print("\nBFF proxying 1 KiB, shipping logs, metrics off vs on (medians)")
    print(f"  {'metrics':8} {'req/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'CPU us/req':>11}")
    for label in ("off", "on"):
        row = report["median"][label]
        print(f"  {label:8} {row['rps']:9.0f} {row['p50_ms']:7.2f} {row['p99_ms']:7.2f} "
              f"{row['cpu_us_per_request']:11.0f}")  # fmt: skip
    print(f"  on/off: throughput {report['rps_ratio_on_off']:.3f}, "
          f"CPU per request {report['cpu_ratio_on_off']:.3f}")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument("--rounds", type=positive_int, default=3, help="interleaved rounds")
    parser.add_argument("--connections", type=positive_int, default=10)
    parser.add_argument("--docs", type=positive_int, default=2000, help="documents per round")
    parser.add_argument("--chunks", type=positive_int, default=40, help="in-process chunks")
    parser.add_argument("--skip-bff", action="store_true", help="no gunicorn runs")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 s, 1 round")
    parser.add_argument("--json", type=Path, help="write every figure as JSON")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.rounds, args.docs, args.chunks = 1.0, 1, 200, 2

    def run() -> int:
        warn_if_busy(busy_pct(), "before the run")
        report: dict[str, Any] = {"commit": repo_commit(ROOT)}
        report["writers"] = writers(args.docs, max(3, args.rounds))
        print_writers(report["writers"])
        report["in_process"] = in_process(args.chunks, 10 if args.quick else 200)
        print_in_process(report["in_process"])
        if not args.skip_bff:
            report["bff"] = throughput(args.duration, args.rounds, args.connections)
            print_throughput(report["bff"])
            off_cpu = report["bff"]["median"]["off"]["cpu_us_per_request"]
            hook = report["writers"]["hook_us"]["record_access"]
            if off_cpu:
                print(f"  the hook's CPU as a share of the BFF's CPU per request (off): "
                      f"{hook / off_cpu:.4f}")  # fmt: skip
        if args.json:
            args.json.write_text(json.dumps(report, indent=2) + "\n")
            print(f"\nwrote {args.json}")
        return 0

    return run_benchmark(run)


if __name__ == "__main__":
    sys.exit(main())
