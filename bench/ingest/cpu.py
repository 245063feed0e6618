"""CPU per report, in process: the BFF's WSGI app called directly, logging set up as in a worker.

    .venv/bin/python bench/ingest/cpu.py                 # CPU per request, per target
    .venv/bin/python bench/ingest/cpu.py --cprofile 30   # plus the top 30 functions (plain)
    .venv/bin/python bench/ingest/cpu.py --envelope-before HEAD~1 --rounds 7

Logging is configured as ``bff/gunicorn.conf.py`` does in a worker (JSON to stdout, here
/dev/null; CloudWatch shipping with the client-error stream) against the bench's log sink, so
the cost of formatting and queueing each record is included and the shipping thread's is not
(it runs off the request path). The report is the one ``run.py`` posts; the envelope holds
the same error as ``@sentry/browser`` sends it (an ``event`` item, no release).

``--envelope-before REV`` compares the envelope parser of git revision REV (its
``bff/src/bff/client_errors/envelope.py``, loaded beside the current one) with the current one:
the two are swapped into the same app in alternating rounds, ``healthz`` measured in each round
as the reference, and the medians and their ratio printed.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.util
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from logship import setup as logship_setup  # noqa: E402
from logship.testing import logging_env  # noqa: E402
from report import CHUNK, make_report  # noqa: E402
from run import RELEASE, build_bundle, throw_positions  # noqa: E402
from sink import sink_server  # noqa: E402

BASE = "http://127.0.0.1:8080"
ROOT = Path(__file__).resolve().parents[2]
ENVELOPE_MODULE = "bff/src/bff/client_errors/envelope.py"


def make_envelope(base: str, positions: list[tuple[int, int]]) -> bytes:
    """The error of ``make_report`` as ``@sentry/browser`` 9 posts it to its tunnel: header
    line, an ``event`` item header without ``length``, the event (no release)."""
    event_id = uuid.uuid4().hex
    sdk = {"name": "sentry.javascript.browser", "version": "9.46.0"}
    frames = [
        {
            "filename": f"{base}/{CHUNK}",
            "function": f"handler{i}",
            "in_app": True,
            "lineno": line,
            "colno": col,
        }
        for i, (line, col) in reversed(list(enumerate(positions)))  # outermost first
    ]
    crumbs: list[dict[str, Any]] = []
    for i in range(10):
        stamp = 1_700_000_000 + i * 0.75
        if i % 3 == 0:
            crumbs.append({"timestamp": stamp, "category": "navigation",
                           "data": {"from": "/", "to": f"/products/{i}"}})  # fmt: skip
        elif i % 3 == 1:
            crumbs.append({"timestamp": stamp, "category": "ui.click", "message": "button.buy"})
        else:
            crumbs.append({"timestamp": stamp, "category": "fetch", "type": "http",
                           "data": {"method": "GET", "url": f"/api/catalog/products/{i}",
                                    "status_code": 200}})  # fmt: skip
    event = {
        "exception": {
            "values": [
                {
                    "type": "TypeError",
                    "value": "bad price in handler3: 1234 (customer jane.doe@example.com)",
                    "stacktrace": {"frames": frames},
                    "mechanism": {"type": "onerror", "handled": False},
                }
            ]
        },
        "level": "error",
        "platform": "javascript",
        "request": {
            "url": f"{base}/products/1234?ref=newsletter&utm_source=mail",
            "headers": {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0"},
        },
        "event_id": event_id,
        "timestamp": 1_700_000_010.0,
        "environment": "production",
        "transaction": "/products/[id]",
        "sdk": sdk,
        "breadcrumbs": crumbs,
        "contexts": {"trace": {"trace_id": uuid.uuid4().hex, "span_id": uuid.uuid4().hex[:16]}},
        "tags": {"route": "/products/[id]"},
    }
    header = {"event_id": event_id, "sent_at": "2026-12-07T05:00:00.000Z", "sdk": sdk}
    lines = [json.dumps(header), json.dumps({"type": "event"}), json.dumps(event)]
    return "\n".join(lines).encode()


def envelope_parser_at(revision: str, workdir: Path) -> Any:
    """``parse_envelope`` of ``envelope.py`` at git ``revision``, as a module of the current
    ``bff.client_errors`` package (its relative imports resolve to the current modules)."""
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{revision}:{ENVELOPE_MODULE}"],  # noqa: S607
        check=True,
        capture_output=True,
    ).stdout
    path = workdir / "envelope_before.py"
    path.write_bytes(source)
    name = "bff.client_errors._envelope_before"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None  # noqa: S101
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module.parse_envelope


def wsgi_caller(
    app: Any, method: str, path: str, body: bytes, content_type: str = "application/json"
) -> Callable[[], int]:
    """A function that sends one request through ``app`` and returns the status code."""
    headers = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8080",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8080",
        "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0",
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if body:
        headers["CONTENT_TYPE"] = content_type
        headers["CONTENT_LENGTH"] = str(len(body))
    status: list[str] = []

    def start_response(code: str, _headers: Any, _exc: Any = None) -> Any:
        status.append(code)
        return lambda _data: None

    def call() -> int:
        environ = dict(headers)
        environ["wsgi.input"] = io.BytesIO(body)
        status.clear()
        for _ in app(environ, start_response):
            pass
        return int(status[0][:3])

    return call


def cpu_once(call: Callable[[], int], iterations: int) -> float:
    """Microseconds of process CPU per call over one round of ``iterations`` calls."""
    start = time.process_time()
    for _ in range(iterations):
        call()
    return (time.process_time() - start) / iterations * 1e6


def cpu_per_call(call: Callable[[], int], iterations: int) -> float:
    """Microseconds of process CPU per call (median of three rounds)."""
    return sorted(cpu_once(call, iterations) for _ in range(3))[1]


def compare_envelope_parsers(
    calls: dict[str, Callable[[], int]], before: Any, iterations: int, rounds: int
) -> None:
    """Alternate the envelope parser of ``before`` and the current one in the same app, round
    by round (``healthz`` measured in each round as the reference); print the medians."""
    import bff.client_errors.ingest as ingest_module

    endpoint_globals = vars(ingest_module)  # the endpoint looks the parser up here
    current = endpoint_globals["parse_envelope"]
    samples: dict[str, list[float]] = {"healthz": [], "before": [], "after": []}
    for index in range(rounds):
        samples["healthz"].append(cpu_once(calls["healthz"], iterations))
        order = [("before", before), ("after", current)]
        for label, parser in order if index % 2 == 0 else reversed(order):
            endpoint_globals["parse_envelope"] = parser
            assert calls["envelope"]() == 202, label  # noqa: S101
            samples[label].append(cpu_once(calls["envelope"], iterations))
    endpoint_globals["parse_envelope"] = current
    medians = {label: statistics.median(values) for label, values in samples.items()}
    print(f"\nenvelope parser, {rounds} alternating rounds of {iterations} requests")
    print(f"{'variant':<14}{'CPU us/req':>12}{'over healthz':>14}  rounds")
    for label, values in samples.items():
        shown = " ".join(f"{v:.0f}" for v in values)
        over = medians[label] - medians["healthz"]
        print(f"{label:<14}{medians[label]:>12.0f}{over:>14.0f}  {shown}")
    total = medians["after"] / medians["before"]
    over = (medians["after"] - medians["healthz"]) / (medians["before"] - medians["healthz"])
    print(f"after / before: {total:.3f} (CPU per request), {over:.3f} (over healthz)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--cprofile", type=int, default=0, help="print the top N functions")
    parser.add_argument("--target", default="plain", help="the target to profile")
    parser.add_argument(
        "--envelope-before", metavar="REV", help="compare the envelope parser of git REV"
    )
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds (compare)")
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="profile-ingest-") as tmp,
        sink_server(Path(tmp)) as sink,
    ):
        work = Path(tmp)
        bundle, map_path = build_bundle(work, 3000)
        target = work / "maps" / RELEASE / f"{CHUNK}.map"
        target.parent.mkdir(parents=True)
        target.write_bytes(map_path.read_bytes())
        positions = throw_positions(bundle, 12)
        env = {
            **logging_env(sink, "/bench/profile", work / "spool", flush_interval="1"),
            "BFF_UPSTREAM_CATALOG_URL": "http://127.0.0.1:9",
            "BFF_UPSTREAM_ORDERS_URL": "http://127.0.0.1:9",
            "BFF_ENV": "production",
            "BFF_SOURCEMAPS_DIR": str(work / "maps"),
            "BFF_CLIENT_ERRORS_RATE": "100000000/minute",
            "BFF_CLIENT_ERRORS_FINGERPRINT_RATE": "100000000/minute",
        }
        os.environ.clear()
        os.environ.update(env)
        from bff import create_app

        devnull = open(os.devnull, "w")  # noqa: SIM115 - closed below
        logship_setup.configure(
            "bff", "production", streams={"bff.client_errors": "client-errors/{pid}"},
            stream=devnull,
        )  # fmt: skip
        app = create_app().wsgi_app
        calls = {
            "healthz": wsgi_caller(app, "GET", "/healthz", b""),
            "plain": wsgi_caller(
                app, "POST", "/api/client-errors", make_report(BASE, positions, None)
            ),
            "symbolicated": wsgi_caller(
                app, "POST", "/api/client-errors", make_report(BASE, positions, RELEASE)
            ),
            "envelope": wsgi_caller(
                app,
                "POST",
                "/api/client-errors/envelope",
                make_envelope(BASE, positions),
                "text/plain;charset=UTF-8",
            ),
        }
        for name, call in calls.items():
            status = call()
            assert status in (200, 202), (name, status)  # noqa: S101
        results = {name: cpu_per_call(call, args.iterations) for name, call in calls.items()}
        print(f"{'target':<14}{'CPU us/req':>12}{'over healthz':>14}")
        for name, micros in results.items():
            print(f"{name:<14}{micros:>12.0f}{micros - results['healthz']:>14.0f}")
        if args.envelope_before:
            before = envelope_parser_at(args.envelope_before, work)
            compare_envelope_parsers(calls, before, args.iterations, args.rounds)
        if args.cprofile:
            profiler = cProfile.Profile()
            call = calls[args.target]
            profiler.enable()
            for _ in range(args.iterations):
                call()
            profiler.disable()
            stats = pstats.Stats(profiler)
            stats.sort_stats("tottime").print_stats(args.cprofile)
            stats.sort_stats("cumulative").print_stats(args.cprofile + 20)
        logship_setup.shutdown(5)
        devnull.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
