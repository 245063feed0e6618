"""Log shipping benchmark: CPU per log event, logship vs watchtower 3.4.0, against local moto.

    .venv/bin/python bench/logs/run.py                 # table
    .venv/bin/python bench/logs/run.py --json out.json # and JSON
    .venv/bin/python bench/logs/run.py --proxy-cmd "..." --proxy-path /healthz  # see README

Both handlers point at a moto server started here on 127.0.0.1. CPU is measured with
time.process_time() (all threads, so background sending during the loop counts) and
time.thread_time() (the logging thread alone: format + enqueue) over N events, median of
several interleaved rounds.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import logging
import os
import shlex
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import watchtower
from logship.cloudwatch import CloudWatchHandler, make_client
from logship.formatter import JsonFormatter
from testkit import http_ready, start

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/harness.py
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/logs/sampling.py
import sampling as spy  # noqa: E402
from harness import free_port, moto_url, static_upstream, wrk  # noqa: E402

REGION = "us-east-1"
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


# -- CPU per event ------------------------------------------------------------------------------


def client(url: str) -> Any:
    return make_client(
        region_name=REGION,
        endpoint_url=url,
        aws_access_key_id=FAKE_AWS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_AWS["AWS_SECRET_ACCESS_KEY"],
    )


def make_watchtower(url: str, group: str, json_format: bool) -> logging.Handler:
    handler = watchtower.CloudWatchLogHandler(
        log_group_name=group, boto3_client=client(url), create_log_group=True, send_interval=5
    )
    if json_format:
        handler.setFormatter(JsonFormatter("bench", "bench"))
    return handler


def make_logship(url: str, group: str, spool_dir: Path | None = None) -> logging.Handler:
    """logship without a spool (memory only), or with one: then every record is also written
    to the process's journal before ``emit`` returns."""
    return CloudWatchHandler(
        group,
        service="bench",
        environment="bench",
        boto3_client=client(url),
        create_log_group=True,
        spool_dir=spool_dir,
        stats_interval=0,
    )


def emit_loop(logger: logging.Logger, count: int, message: str) -> None:
    data = {"duration_ms": 12.5, "upstream": "catalog", "status": 200}
    if message == "plain":
        for i in range(count):
            logger.info("request %s %s -> %d", "GET", "/api/items/42", i)
    else:
        for i in range(count):
            logger.info("request %s %s -> %d", "GET", "/api/items/42", i, extra={"data": data})


def measure(
    handler: logging.Handler, logger: logging.Logger, events: int, message: str
) -> dict[str, float]:
    """One measured chunk: emit ``events`` records, then flush (delivery, measured apart)."""
    cpu0, thread0, wall0 = time.process_time(), time.thread_time(), time.perf_counter()
    emit_loop(logger, events, message)
    cpu1, thread1, wall1 = time.process_time(), time.thread_time(), time.perf_counter()
    handler.flush()
    cpu2 = time.process_time()
    return {
        "process_us": (cpu1 - cpu0) / events * 1e6,
        "thread_us": (thread1 - thread0) / events * 1e6,
        "wall_us": (wall1 - wall0) / events * 1e6,
        "with_delivery_us": (cpu2 - cpu0) / events * 1e6,
    }


def count_events(url: str, group: str) -> int:
    logs = client(url)
    total = 0
    kwargs: dict[str, Any] = {"logGroupName": group, "startTime": 0}
    for _ in range(100_000):
        page = logs.filter_log_events(**kwargs)
        total += len(page.get("events", []))
        if not page.get("nextToken") or not page.get("events"):
            break
        kwargs["nextToken"] = page["nextToken"]
    logs.close()
    return total


def cpu_benchmark(events: int, rounds: int, message: str) -> dict[str, Any]:
    """All handlers live side by side; each round measures every handler once (rotating order)
    on a chunk of ``events``, flushing after each chunk, so machine noise hits them alike."""
    results: dict[str, list[dict[str, float]]] = {}
    delivered: dict[str, int] = {}
    with moto_server() as url, tempfile.TemporaryDirectory(prefix="bench-logs-spool-") as spool:
        factories: dict[str, Callable[[str], logging.Handler]] = {
            "watchtower 3.4.0 (plain text)": lambda g: make_watchtower(url, g, json_format=False),
            "watchtower 3.4.0 + JsonFormatter": lambda g: make_watchtower(url, g, json_format=True),
            "logship, no spool (memory only)": lambda g: make_logship(url, g),
            "logship + spool and journal": lambda g: make_logship(url, g, Path(spool)),
        }
        live: dict[str, tuple[logging.Handler, logging.Logger, str]] = {}
        for name, build in factories.items():
            group = f"/bench/{uuid.uuid4().hex[:10]}"
            handler = build(group)
            logger = logging.getLogger(f"bench.{uuid.uuid4().hex[:8]}")
            logger.propagate = False
            logger.setLevel(logging.INFO)
            logger.addHandler(handler)
            emit_loop(logger, 200, message)  # warm-up: client, stream, caches
            handler.flush()
            live[name] = (handler, logger, group)
        names = list(live)
        try:
            for round_number in range(rounds):
                shift = round_number % len(names)
                for name in names[shift:] + names[:shift]:
                    handler, logger, _ = live[name]
                    results.setdefault(name, []).append(measure(handler, logger, events, message))
        finally:
            for name, (handler, logger, group) in live.items():
                logger.removeHandler(handler)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    handler.close()
                delivered[name] = count_events(url, group)
    summary: dict[str, Any] = {}
    for name, runs in results.items():
        summary[name] = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        summary[name]["delivered"] = delivered[name]
        summary[name]["expected"] = rounds * events + 200
    baseline = summary["watchtower 3.4.0 (plain text)"]
    for entry in summary.values():
        entry["ratio_process"] = entry["process_us"] / baseline["process_us"]
        entry["ratio_thread"] = entry["thread_us"] / baseline["thread_us"]
        entry["ratio_with_delivery"] = entry["with_delivery_us"] / baseline["with_delivery_us"]
    return {"events": events, "rounds": rounds, "message": message, "results": summary}


def print_cpu_table(report: dict[str, Any]) -> None:
    print(
        f"\nCPU per log event (format + enqueue): {report['rounds']} interleaved chunks of "
        f"{report['events']} events per handler, median; message: {report['message']}"
    )
    header = (
        f"{'handler':34} {'thread us':>9} {'x wt':>6} {'process us':>10} {'x wt':>6} "
        f"{'incl. send':>10} {'x wt':>6} {'delivered':>13}"
    )
    print(header)
    print("-" * len(header))
    for name, row in report["results"].items():
        print(
            f"{name:34} {row['thread_us']:9.2f} {row['ratio_thread']:6.2f} "
            f"{row['process_us']:10.2f} {row['ratio_process']:6.2f} "
            f"{row['with_delivery_us']:10.2f} {row['ratio_with_delivery']:6.2f} "
            f"{row['delivered']:>6}/{row['expected']:<6}"
        )
    print(
        "thread us: time.thread_time of the logging thread (format + enqueue); process us: "
        "time.process_time, all threads, during the loop;\nincl. send: process CPU until "
        "flush() returned (delivery included); x wt: ratio to plain watchtower 3.4.0."
    )


# -- proxy throughput, shipping on vs off -------------------------------------------------------


def python_load(url: str, duration: float, concurrency: int, max_requests: int) -> dict[str, float]:
    """Keep-alive GETs from ``concurrency`` threads, bounded by time and count."""
    target = url.removeprefix("http://")
    host_port, _, path = target.partition("/")
    host, _, port = host_port.partition(":")
    path = "/" + path
    latencies: list[float] = []
    errors = 0
    non_2xx = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + duration
    budget = [max_requests]

    def worker() -> None:
        nonlocal errors
        conn = http.client.HTTPConnection(host, int(port or 80), timeout=10)
        local: list[float] = []
        try:
            while time.monotonic() < deadline:
                with lock:
                    if budget[0] <= 0:
                        break
                    budget[0] -= 1
                start = time.perf_counter()
                try:
                    conn.request("GET", path)
                    response = conn.getresponse()
                    response.read()
                    local.append(time.perf_counter() - start)
                    if not 200 <= response.status < 300:
                        with lock:
                            non_2xx[0] += 1
                except (OSError, http.client.HTTPException):
                    with lock:
                        errors += 1
                    conn.close()
                    conn = http.client.HTTPConnection(host, int(port or 80), timeout=10)
        finally:
            conn.close()
            with lock:
                latencies.extend(local)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(duration + 30)
    elapsed = time.monotonic() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "non_2xx": non_2xx[0],
        "rps": len(latencies) / elapsed if elapsed else 0.0,
        "p50_ms": latencies[len(latencies) // 2] * 1000 if latencies else 0.0,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000 if latencies else 0.0,
    }


def session_cpu_seconds(session: int) -> float:
    """CPU seconds (user + system) used so far by the live processes of ``session`` (Linux
    /proc; a server started with ``start_new_session`` is its own session)."""
    ticks = sum(
        int(fields[11]) + int(fields[12])
        for _, fields in spy.proc_stats()
        if int(fields[3]) == session
    )
    return ticks / os.sysconf("SC_CLK_TCK")


def wrk_load(url: str, duration: float, concurrency: int) -> dict[str, float]:
    """One wrk run (bench/harness.py) as the row this benchmark prints."""
    run = wrk(url, duration, concurrency)
    return {
        "rps": run.rps,
        "requests": float(run.requests),
        "non_2xx": float(run.non_2xx),
        "errors": float(run.socket_errors),
        "p50_ms": run.p50_ms,
        "p99_ms": run.p99_ms,
    }


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """The moto server (bench/harness.py) in a scratch directory; yields its URL."""
    with (
        tempfile.TemporaryDirectory(prefix="bench-logs-moto-") as work,
        moto_url(Path(work)) as url,
    ):
        yield url


@contextlib.contextmanager
def logs_endpoint(kind: str) -> Iterator[str]:
    """Where the server under test ships: a moto server, or bench/ingest's PutLogEvents sink
    (cheap: one JSON parse per batch; CloudWatch is remote in production)."""
    if kind == "moto":
        with moto_server() as url:
            yield url
        return
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ingest"))
    from sink import sink_server  # noqa: PLC0415 - bench/ingest is not a package

    with (
        tempfile.TemporaryDirectory(prefix="bench-logs-sink-") as work,
        sink_server(Path(work)) as url,
    ):
        yield url


def _one_run(
    command: str,
    path: str,
    health: str,
    duration: float,
    concurrency: int,
    max_requests: int,
    wrk: bool,
    extra_env: dict[str, str] | None,
    logs_url: str | None,
    profile: Path | None = None,
) -> dict[str, Any]:
    """One server started by ``command``, shipping to ``logs_url`` (None: shipping off), under
    load; refuses figures built on error answers."""
    port = free_port()
    env = {**os.environ, **FAKE_AWS, **(extra_env or {})}
    env.pop("LOG_CLOUDWATCH_GROUP", None)
    if logs_url is not None:
        env.update(
            LOG_CLOUDWATCH_GROUP=f"/bench/proxy/{uuid.uuid4().hex[:8]}",
            LOG_CLOUDWATCH_ENDPOINT=logs_url,
            LOG_CLOUDWATCH_CREATE_GROUP="true",
        )
    argv = [part.replace("{port}", str(port)) for part in shlex.split(command)]
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="bench-logs-server-") as work:
        server = start(
            "server",
            argv,
            log_dir=Path(work),
            port=port,
            env=env,
            inherit_env=False,
            ready=http_ready(base + health, statuses=range(200, 500)),
        )
        with server:
            return _measure(
                server.pid, base + path, duration, concurrency, max_requests, wrk, profile
            )


def _measure(
    pid: int,
    url: str,
    duration: float,
    concurrency: int,
    max_requests: int,
    wrk: bool,
    profile: Path | None = None,
) -> dict[str, Any]:
    """Load ``url`` (served by the session of ``pid``) and count that session's CPU; with
    ``profile``, py-spy records the workers meanwhile (into ``profile``-{worker}.txt)."""
    python_load(url, 1.0, 2, 1000)  # warm-up
    with spy.record(pid, profile):
        cpu = session_cpu_seconds(pid)
        row: dict[str, Any] = dict(
            wrk_load(url, duration, concurrency)
            if wrk
            else python_load(url, duration, concurrency, max_requests)
        )
        cpu = session_cpu_seconds(pid) - cpu
    if row.get("non_2xx") or row.get("errors"):
        raise RuntimeError(
            f"{url} gave {int(row.get('non_2xx', 0))} non-2xx answers and "
            f"{int(row.get('errors', 0))} errors: the figures would measure failures"
        )
    row["server_cpu_us_per_request"] = cpu / row["requests"] * 1e6 if row.get("requests") else 0.0
    return row


def proxy_throughput(
    command: str,
    path: str = "/",
    health: str = "/",
    duration: float = 10.0,
    concurrency: int = 16,
    max_requests: int = 1_000_000,
    use_wrk: bool | None = None,
    extra_env: dict[str, str] | None = None,
    logs: str = "moto",
    rounds: int = 3,
    profile: Path | None = None,
) -> dict[str, Any]:
    """Requests per second through a server started by ``command``, with log shipping off
    (no LOG_CLOUDWATCH_GROUP) and on (shipping to a local moto server, or with ``logs="sink"``
    to bench/ingest's PutLogEvents sink).

    ``command`` is run through shlex with ``{port}`` replaced by a free port; it must serve
    ``http://127.0.0.1:{port}{path}`` and read the ``LOG_*`` variables (e.g. gunicorn with the
    logship hooks). Only 127.0.0.1 is contacted; load is bounded by ``duration`` and
    ``max_requests``. With ``profile`` (a directory), py-spy samples the workers of every run
    and the report's ``profile`` says which functions the "on" runs spent more in per request.
    """
    wrk = shutil.which("wrk") is not None if use_wrk is None else use_wrk
    runs: dict[str, list[dict[str, Any]]] = {"off": [], "on": []}
    ratios: list[float] = []
    cpu_ratios: list[float] = []
    if profile:
        profile.mkdir(parents=True, exist_ok=True)
    with logs_endpoint(logs) as moto:
        for round_no in range(max(1, rounds)):
            # off/on, then on/off: a drift in the machine's load hits both sides alike
            order = ("off", "on") if round_no % 2 == 0 else ("on", "off")
            pair: dict[str, dict[str, Any]] = {}
            for label in order:
                pair[label] = _one_run(
                    command,
                    path,
                    health,
                    duration,
                    concurrency,
                    max_requests,
                    wrk,
                    extra_env,
                    moto if label == "on" else None,
                    profile / f"{logs}-{label}-{round_no}" if profile else None,
                )
                runs[label].append(pair[label])
            if pair["off"]["rps"]:
                ratios.append(pair["on"]["rps"] / pair["off"]["rps"])
            if pair["off"]["server_cpu_us_per_request"]:
                cpu_ratios.append(
                    pair["on"]["server_cpu_us_per_request"]
                    / pair["off"]["server_cpu_us_per_request"]
                )
    results: dict[str, Any] = {
        label: min(
            rows, key=lambda row: abs(row["rps"] - statistics.median(r["rps"] for r in rows))
        )
        for label, rows in runs.items()
    }
    results["rounds"] = len(ratios)
    results["ratios_on_off"] = ratios
    results["ratio_on_off"] = statistics.median(ratios) if ratios else 0.0
    results["cpu_ratio_on_off"] = statistics.median(cpu_ratios) if cpu_ratios else 0.0
    results["load_tool"] = "wrk" if wrk else "python"
    results["logs"] = logs
    if profile:
        results["profile"] = spy.compare(
            sorted(profile.glob(f"{logs}-on-*.txt")),
            sum(row["requests"] for row in runs["on"]),
            sorted(profile.glob(f"{logs}-off-*.txt")),
            sum(row["requests"] for row in runs["off"]),
        )
    return results


def bff_throughput(
    duration: float,
    concurrency: int,
    use_wrk: bool | None,
    logs: str = "moto",
    spool: bool = True,
    profile: Path | None = None,
    stdout: str = "unshipped",
    rounds: int = 3,
) -> dict[str, Any]:
    """The BFF under its production gunicorn config, proxying 1 KiB, shipping off vs on (with
    the spool and journal on, as deployed, unless ``spool`` is false). ``stdout``:
    ``unshipped`` (as deploy/stack.yaml sets it: a process that ships prints nothing, so "on"
    replaces the stdout copy) or ``always`` (every record on stdout too, "on" adds shipping)."""
    root = Path(__file__).resolve().parents[2]
    routes = root / "bench" / "logs" / "static-routes.toml"
    with (
        static_upstream() as upstream,
        tempfile.TemporaryDirectory(prefix="bench-logs-bff-spool-") as spool_dir,
    ):
        command = (
            f"{sys.executable} -m gunicorn -c {root}/bff/gunicorn.conf.py "
            "-b 127.0.0.1:{port} bff:create_app()"
        )
        return proxy_throughput(
            command,
            "/api/static/1k.json",
            "/healthz",
            duration,
            concurrency,
            use_wrk=use_wrk,
            extra_env={
                "BFF_ROUTES_FILE": str(routes),
                "BFF_UPSTREAM_STATIC_URL": upstream,
                "BFF_ENV": "production",
                "LOG_SPOOL_DIR": spool_dir if spool else "off",
                "LOG_STDOUT": stdout,
            },
            logs=logs,
            rounds=rounds,
            profile=profile,
        )


def print_proxy_table(report: dict[str, Any]) -> None:
    print(
        f"\nProxy throughput, log shipping off vs on (load: {report['load_tool']}, "
        f"logs to {report.get('logs', 'moto')}, LOG_STDOUT={report.get('stdout', 'always')})"
    )
    print(f"{'shipping':10} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'server CPU us/req':>18}")
    for label in ("off", "on"):
        row = report[label]
        print(
            f"{label:10} {row['rps']:10.1f} {row['p50_ms']:8.2f} {row['p99_ms']:8.2f} "
            f"{row.get('server_cpu_us_per_request', 0.0):18.1f}"
        )
    rounds = ", ".join(f"{r:.3f}" for r in report.get("ratios_on_off", []))
    print(
        f"on/off throughput ratio: {report['ratio_on_off']:.3f} "
        f"(median of {report.get('rounds', 1)} alternating rounds: {rounds}; the rows above are "
        "each side's median run)"
    )
    print(
        f"on/off server CPU per request: {report.get('cpu_ratio_on_off', 0.0):.3f} "
        "(gunicorn master and workers; the log endpoint's CPU is not in it)"
    )
    if report.get("profile"):
        print("\nWhere the CPU shipping adds goes (py-spy, inclusive samples per 1,000 requests)")
        print(report["profile"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000, help="events per chunk")
    parser.add_argument("--rounds", type=int, default=40, help="chunks per handler")
    parser.add_argument(
        "--message",
        choices=["both", "data", "plain"],
        default="both",
        help="plain %%-formatted message, with extra data, or both (default)",
    )
    parser.add_argument("--json", type=Path, help="also write results as JSON to this file")
    parser.add_argument("--skip-cpu", action="store_true", help="only run --proxy-cmd")
    parser.add_argument(
        "--proxy-cmd", help="server command with {port}, e.g. gunicorn -b 127.0.0.1:{port} ..."
    )
    parser.add_argument(
        "--bff",
        action="store_true",
        help="measure the BFF proxying 1 KiB from nginx, log shipping off vs on",
    )
    parser.add_argument(
        "--sink",
        choices=["moto", "sink", "both"],
        default="moto",
        help="--bff ships to moto (same cores), bench/ingest's cheap PutLogEvents sink, or both",
    )
    parser.add_argument(
        "--no-spool", action="store_true", help="--bff with LOG_SPOOL_DIR=off (no journal)"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="--bff: record the workers with py-spy into this directory and compare on with off",
    )
    parser.add_argument(
        "--stdout",
        choices=["unshipped", "always", "both"],
        default="both",
        help="--bff: LOG_STDOUT of the runs (unshipped: as deployed; always: stdout copy kept)",
    )
    parser.add_argument("--proxy-path", default="/", help="path to load")
    parser.add_argument("--proxy-health", default="/", help="path that answers when ready")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--python-load", action="store_true", help="do not use wrk even if present")
    parser.add_argument("--bff-rounds", type=int, default=3, help="--bff: off/on pairs per run")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run of the harness: --bff only, 1 s, one round, the sink, with --profile",
    )
    args = parser.parse_args(argv)
    scratch = contextlib.ExitStack()
    if args.quick:
        args.skip_cpu, args.bff, args.duration, args.bff_rounds = True, True, 1.0, 1
        args.sink, args.stdout = "sink", "unshipped"
        if args.profile is None:
            args.profile = Path(scratch.enter_context(tempfile.TemporaryDirectory()))
    os.environ.update(FAKE_AWS)
    report: dict[str, Any] = {}
    if not args.skip_cpu:
        kinds = ["plain", "data"] if args.message == "both" else [args.message]
        report["cpu"] = {kind: cpu_benchmark(args.events, args.rounds, kind) for kind in kinds}
        for kind in kinds:
            print_cpu_table(report["cpu"][kind])
    if args.bff:
        for logs in ("moto", "sink") if args.sink == "both" else (args.sink,):
            for stdout in ("unshipped", "always") if args.stdout == "both" else (args.stdout,):
                key = "bff" if logs == "moto" else f"bff_{logs}"
                key += "" if stdout == "unshipped" else f"_stdout_{stdout}"
                report[key] = bff_throughput(
                    args.duration,
                    args.concurrency,
                    False if args.python_load else None,
                    logs=logs,
                    spool=not args.no_spool,
                    profile=args.profile / f"{logs}-{stdout}" if args.profile else None,
                    stdout=stdout,
                    rounds=args.bff_rounds,
                )
                report[key]["stdout"] = stdout
                print_proxy_table(report[key])
    if args.proxy_cmd:
        report["proxy"] = proxy_throughput(
            args.proxy_cmd,
            args.proxy_path,
            args.proxy_health,
            args.duration,
            args.concurrency,
            use_wrk=False if args.python_load else None,
        )
        print_proxy_table(report["proxy"])
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    scratch.close()
    if args.quick and "no samples" in str(report.get("bff_sink", {}).get("profile", "")):
        print("the profile has no samples", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
