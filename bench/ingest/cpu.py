"""CPU per report, in process: the BFF's WSGI app called directly, logging set up as in a worker.

    .venv/bin/python bench/ingest/cpu.py                 # CPU per request, per target
    .venv/bin/python bench/ingest/cpu.py --cprofile 30   # plus the top 30 functions (plain)

Logging is configured as ``bff/gunicorn.conf.py`` does in a worker (JSON to stdout, here
/dev/null; CloudWatch shipping with the client-error stream) against the bench's log sink, so
the cost of formatting and queueing each record is included and the shipping thread's is not
(it runs off the request path). The report is the one ``run.py`` posts.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from logship import setup as logship_setup  # noqa: E402
from logship.testing import logging_env  # noqa: E402
from run import CHUNK, RELEASE, build_bundle, make_report, throw_positions  # noqa: E402
from sink import sink_server  # noqa: E402

BASE = "http://127.0.0.1:8080"


def wsgi_caller(app: Any, method: str, path: str, body: bytes) -> Callable[[], int]:
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
        headers["CONTENT_TYPE"] = "application/json"
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


def cpu_per_call(call: Callable[[], int], iterations: int) -> float:
    """Microseconds of process CPU per call (median of three rounds)."""
    rounds = []
    for _ in range(3):
        start = time.process_time()
        for _ in range(iterations):
            call()
        rounds.append((time.process_time() - start) / iterations * 1e6)
    return sorted(rounds)[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--cprofile", type=int, default=0, help="print the top N functions")
    parser.add_argument("--target", default="plain", help="the target to profile")
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
        }
        for name, call in calls.items():
            status = call()
            assert status in (200, 202), (name, status)  # noqa: S101
        results = {name: cpu_per_call(call, args.iterations) for name, call in calls.items()}
        print(f"{'target':<14}{'CPU us/req':>12}{'over healthz':>14}")
        for name, micros in results.items():
            print(f"{name:<14}{micros:>12.0f}{micros - results['healthz']:>14.0f}")
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
