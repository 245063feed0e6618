"""Client-error ingest benchmark: reports/s and p99 of ``POST /api/client-errors``.

    .venv/bin/python bench/ingest/run.py                # 10 s per run at 1, 10 and 50 connections
    .venv/bin/python bench/ingest/run.py --quick        # ~20 s smoke run (10 connections, 3 s)
    .venv/bin/python bench/ingest/run.py --json bench/results/ingest.json

The BFF runs exactly as in production (``gunicorn -c bff/gunicorn.conf.py``, gevent_pywsgi
workers) and ships its logs (the client-error stream included), in two labelled runs: to the
bench's minimal PutLogEvents sink (``sink.py``: CloudWatch is remote in production, so the BFF
should not share its cores with an emulator) and to a moto server (``--logs sink|moto|both``).
wrk posts a realistic ~3 KB report (12 frames, 10 breadcrumbs, an e-mail to scrub):

* ``plain``: no release, so frames are not symbolicated (status ``no-release``);
* ``symbolicated``: release set, frames on an esbuild-minified bundle of realistic size whose
  map is in ``BFF_SOURCEMAPS_DIR`` (the cache is warm after the warm-up);
* reference, same run: ``GET /healthz`` of the same BFF, so the ratio is the ingest's own cost.

Rate limits are raised through the environment (``BFF_CLIENT_ERRORS_RATE`` and
``BFF_CLIENT_ERRORS_FINGERPRINT_RATE``), not disabled in code.
Targets: plain >= 2,000 reports/s with p99 <= 10 ms (10 connections); symbolicated >= 500/s.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from logship.testing import logging_env
from testkit import Process, http_ready, start

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # bench/, for harness.py
from harness import NOT_CHECKED, free_port, moto_url, wrk, wrk_post_script  # noqa: E402
from report import CHUNK, make_report  # noqa: E402
from sink import sink_server, sink_stats  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ESBUILD = ROOT / "web" / "node_modules" / ".bin" / "esbuild"
RELEASE = "bench-release-1"
TARGETS = {"plain": 2000.0, "symbolicated": 500.0}
P99_TARGET_MS = 10.0


def build_bundle(workdir: Path, functions: int) -> tuple[str, Path]:
    """An esbuild-minified bundle of ``functions`` small modules' worth of code, and its map."""
    lines = []
    for i in range(functions):
        lines.append(
            f"export function handler{i}(items: Array<{{ id: number; price: number }}>)"
            ": number {\n"
            f"  let total = {i};\n"
            "  for (const item of items) {\n"
            "    if (item.price < 0) {\n"
            f'      throw new TypeError("bad price in handler{i}: " + item.id);\n'
            "    }\n"
            "    total += item.price * (item.id % 7);\n"
            "  }\n"
            "  return total;\n"
            "}\n"
        )
    exports = ", ".join(f"handler{i}" for i in range(functions))
    lines.append(f"(globalThis as Record<string, unknown>).handlers = [{exports}];\n")
    (workdir / "app.ts").write_text("".join(lines), encoding="utf-8")
    out = workdir / "app.js"
    subprocess.run(
        [
            str(ESBUILD),
            str(workdir / "app.ts"),
            "--bundle",
            "--minify",
            "--sourcemap",
            f"--outfile={out}",
        ],
        check=True,
        capture_output=True,
    )
    return out.read_text(encoding="utf-8"), workdir / "app.js.map"


def throw_positions(bundle: str, count: int) -> list[tuple[int, int]]:
    """1-based (line, column) of the first ``count`` throw statements in the bundle."""
    found = []
    for number, line in enumerate(bundle.splitlines(), start=1):
        for match in re.finditer(r"throw ", line):
            found.append((number, match.start() + 1))
            if len(found) == count:
                return found
    return found


def internal_stats(base: str) -> dict[str, Any]:
    with urllib.request.urlopen(base + "/internal/client-errors", timeout=5) as response:
        stats: dict[str, Any] = json.load(response)
    return stats


def start_bff(env: dict[str, str], work: Path, label: str, port: int) -> Process:
    """The BFF under gunicorn exactly as in production, ``env`` its whole environment, output
    to ``<work>/bff-<label>.log``; returns once ``/healthz`` answers."""
    argv = [str(Path(sys.executable).parent / "gunicorn"), "-c", "bff/gunicorn.conf.py",
            "bff:create_app()"]  # fmt: skip
    return start(
        "bff",
        argv,
        log_dir=work,
        log_name=f"bff-{label}",
        port=port,
        env=env,
        inherit_env=False,
        cwd=ROOT,
        ready=http_ready(f"http://127.0.0.1:{port}/healthz"),
    )


def measure(
    label: str,
    logs_url: str,
    work: Path,
    positions: list[tuple[int, int]],
    args: argparse.Namespace,
    connections: list[int],
    duration: float,
    warmup: float,
) -> tuple[list[dict[str, Any]], dict[str, Any], list[str]]:
    """Every target at every connection count against one fresh BFF shipping to ``logs_url``."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **logging_env(logs_url, "/bench/ingest", work / f"spool-{label}", flush_interval="1"),
        "BFF_BIND": f"127.0.0.1:{port}",
        "BFF_WORKERS": str(args.workers),
        "BFF_ENV": "production",
        "BFF_UPSTREAM_CATALOG_URL": "http://127.0.0.1:9",
        "BFF_UPSTREAM_ORDERS_URL": "http://127.0.0.1:9",
        "BFF_SOURCEMAPS_DIR": str(work / "maps"),
        "BFF_CLIENT_ERRORS_RATE": "100000000/minute",
        "BFF_CLIENT_ERRORS_FINGERPRINT_RATE": "100000000/minute",
    }
    scripts = {
        "plain": wrk_post_script(work, make_report(base, positions, None), name="plain"),
        "symbolicated": wrk_post_script(
            work, make_report(base, positions, RELEASE), name="symbolicated"
        ),
    }
    cpus = None if args.wrk_cpu == "none" else args.wrk_cpu
    results: list[dict[str, Any]] = []
    with start_bff(env, work, label, port) as bff:
        for name, script in (("healthz", None), *scripts.items()):
            url = base + ("/healthz" if script is None else "/api/client-errors")
            wrk(url, warmup, 10, script=script, cpus=cpus)  # warm-up (also the map cache)
            for c in connections:
                run = wrk(url, duration, c, threads=min(2, c), script=script, cpus=cpus)
                results.append(
                    {
                        "logs": label,
                        "target": name,
                        "connections": c,
                        "rps": run.rps,
                        "p50_ms": run.p50_ms,
                        "p99_ms": run.p99_ms,
                        "non_2xx": run.non_2xx,
                        "socket_errors": run.socket_errors,
                    }
                )
        stats = internal_stats(base)
    crashed = [
        line
        for line in bff.output().splitlines()
        if '"level":"ERROR"' in line or "Traceback" in line
    ]
    return results, stats, crashed


def print_results(label: str, results: list[dict[str, Any]]) -> list[str]:
    """The table for one log destination; returns the verdicts against the targets."""
    reference = {r["connections"]: r["rps"] for r in results if r["target"] == "healthz"}
    print(f"\n== logs shipped to {label} ==")
    print(
        f"{'target':<14}{'conns':>6}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'vs healthz':>12}"
        f"{'non-2xx':>9}"
    )
    verdicts = []
    for r in results:
        ratio = r["rps"] / reference[r["connections"]] if reference.get(r["connections"]) else 0
        r["ratio_vs_healthz"] = round(ratio, 3)
        print(
            f"{r['target']:<14}{r['connections']:>6}{r['rps']:>10.0f}{r['p50_ms']:>9.2f}"
            f"{r['p99_ms']:>9.2f}{ratio:>12.2f}{r['non_2xx']:>9}"
        )
        if r["target"] in TARGETS and r["connections"] == 10:
            ok = r["rps"] >= TARGETS[r["target"]]
            if r["target"] == "plain":
                ok = ok and r["p99_ms"] <= P99_TARGET_MS
            verdicts.append(f"{r['target']}: {'met' if ok else 'NOT met'}")
    return verdicts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument("--connections", default="1,10,50", help="comma-separated")
    parser.add_argument("--workers", type=int, default=2, help="BFF_WORKERS")
    parser.add_argument("--functions", type=int, default=3000, help="size of the bundle")
    parser.add_argument("--quick", action="store_true", help="~20 s: 10 connections, 3 s runs")
    parser.add_argument(
        "--logs",
        choices=("sink", "moto", "both"),
        default="both",
        help="where the BFF ships its logs: the bench's PutLogEvents sink, moto, or both runs",
    )
    parser.add_argument("--wrk-cpu", default="none", help="CPU to pin wrk to, or 'none'")
    parser.add_argument("--json", type=Path, help="also write results as JSON to this file")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    connections = [10] if args.quick else [int(c) for c in args.connections.split(",")]
    duration = 3.0 if args.quick else args.duration
    warmup = 1.0 if args.quick else 2.0
    labels = ("sink", "moto") if args.logs == "both" else (args.logs,)

    runs: dict[str, tuple[list[dict[str, Any]], dict[str, Any], list[str], dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        work = Path(tmp)
        bundle, map_path = build_bundle(work, args.functions)
        target = work / "maps" / RELEASE / f"{CHUNK}.map"
        target.parent.mkdir(parents=True)
        shutil.copy(map_path, target)
        positions = throw_positions(bundle, 12)
        size = len(make_report("http://127.0.0.1:65535", positions, RELEASE))
        print(
            f"bundle {len(bundle) // 1024} KiB, map {map_path.stat().st_size // 1024} KiB, "
            f"report ~{size} bytes, {args.workers} workers, wrk pinned to: {args.wrk_cpu}, "
            f"load average at start: {os.getloadavg()[0]:.2f}"
        )
        for label in labels:
            server = sink_server(work) if label == "sink" else moto_url(work)
            with server as logs_url:
                results, stats, crashed = measure(
                    label, logs_url, work, positions, args, connections, duration, warmup
                )
                received = sink_stats(logs_url) if label == "sink" else {}
            runs[label] = (results, stats, crashed, received)

    bad = False
    for label, (results, stats, crashed, received) in runs.items():
        name = "the bench's PutLogEvents sink" if label == "sink" else "moto (same cores)"
        verdicts = print_results(name, results)
        counters = stats["counters"]
        targets = NOT_CHECKED if args.quick else ", ".join(verdicts) or "not measured"
        print("targets at 10 connections:", targets)
        print("symbolication statuses (answering worker):", counters["symbolication"])
        print("source-map cache:", counters["sourcemaps"])
        print("client-errors stream shipping (answering worker):", stats.get("shipping"))
        if received:
            print(f"sink received: {received['events']} events in {received['batches']} batches")
        print("worker errors:", len(crashed))
        bad = bad or any(r["non_2xx"] for r in results) or bool(crashed)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    label: {"results": results, "stats": stats, "sink": received}
                    for label, (results, stats, _, received) in runs.items()
                },
                indent=2,
            )
        )
    return 1 if bad and args.quick else 0


if __name__ == "__main__":
    sys.exit(main())
