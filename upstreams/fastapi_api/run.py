#!/usr/bin/env python
"""Start the orders service under uvicorn (no reload, no access log).

Usage (works from any directory)::

    python upstreams/fastapi_api/run.py --host 127.0.0.1 --port 8002
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

SERVICE_DIR = Path(__file__).resolve().parent
ASGI_APP = "orders_service.app:app"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run the orders service under uvicorn.")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8002, help="bind port (default: 8002)")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes (default: 1; orders are stored per process)",
    )
    parser.add_argument(
        "--graceful-timeout",
        type=int,
        default=10,
        help="seconds to finish in-flight requests on shutdown (default: 10)",
    )
    parser.add_argument(
        "--keep-alive",
        type=int,
        default=5,
        help="seconds to keep idle client connections open (default: 5)",
    )
    parser.add_argument(
        "--log-level",
        default="warning",
        choices=["critical", "error", "warning", "info", "debug", "trace"],
        help="uvicorn log level (default: warning)",
    )
    return parser.parse_args(argv)


def uvicorn_argv(args: argparse.Namespace) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        ASGI_APP,
        "--app-dir",
        str(SERVICE_DIR),
        "--host",
        args.host,
        "--port",
        str(args.port),
        "--workers",
        str(args.workers),
        "--no-access-log",
        "--timeout-graceful-shutdown",
        str(args.graceful_timeout),
        "--timeout-keep-alive",
        str(args.keep_alive),
        "--log-level",
        args.log_level,
        "--lifespan",
        "on",
    ]


def main(argv: Sequence[str] | None = None) -> NoReturn:
    command = uvicorn_argv(parse_args(argv))
    sys.stdout.flush()
    sys.stderr.flush()
    # Replace this process so signals (SIGTERM/SIGINT) go straight to uvicorn.
    os.execvp(command[0], command)  # noqa: S606 - fixed argv, no shell


if __name__ == "__main__":
    main()
