#!/usr/bin/env python
"""Start the orders service under uvicorn (no reload, no access log).

uvicorn runs in this process (``uvicorn.run``), so SIGTERM/SIGINT reach it directly and
shut it down gracefully. Logging uses ``logship``: every record, uvicorn's own included, is
one JSON object on stdout and, when ``LOG_CLOUDWATCH_GROUP`` is set, also shipped to
CloudWatch Logs; the application writes one access record per request (logger
``orders.access``) and flushes the shipper when its lifespan ends.

Usage (works from any directory)::

    python upstreams/fastapi_api/run.py --host 127.0.0.1 --port 8002
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import uvicorn
from logship.asgi import uvicorn_log_config
from logship.config import ConfigError

from orders_service.config import Settings

SERVICE_DIR = Path(__file__).resolve().parent
ASGI_APP = "orders_service.app:app"
DEFAULT_LOG_SERVICE = "orders"
DEFAULT_LOG_ENVIRONMENT = "development"
# Third-party loggers that would otherwise add a record per outbound catalog call (the
# catalog writes its own access record with the same request id).
QUIET_LOGGERS = ("httpx", "httpcore")


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


def log_config(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """uvicorn's ``log_config``: JSON on stdout, CloudWatch when ``LOG_CLOUDWATCH_GROUP`` is
    set (a handler created lazily in the process that logs), uvicorn's access log off.

    ``LOG_SERVICE``/``LOG_ENVIRONMENT`` override the defaults ``orders``/``development``;
    the other ``LOG_*`` variables are read by logship. Raises ``ConfigError`` on bad values.
    """
    env = dict(os.environ) if environ is None else environ
    config = uvicorn_log_config(
        env.get("LOG_SERVICE", "").strip() or DEFAULT_LOG_SERVICE,
        env.get("LOG_ENVIRONMENT", "").strip() or DEFAULT_LOG_ENVIRONMENT,
        env=env,
        access_log=False,
    )
    loggers: dict[str, Any] = config.setdefault("loggers", {})
    for name in QUIET_LOGGERS:
        loggers.setdefault(name, {"level": "WARNING"})
    return config


def uvicorn_options(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run(ASGI_APP, ...)``."""
    return {
        "app_dir": str(SERVICE_DIR),
        "host": args.host,
        "port": args.port,
        "workers": args.workers,
        "access_log": False,
        "timeout_graceful_shutdown": args.graceful_timeout,
        "timeout_keep_alive": args.keep_alive,
        "log_level": args.log_level,
        "log_config": log_config(),
        "lifespan": "on",
        "reload": False,
    }


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        Settings.from_env()  # every variable, checked before uvicorn starts
        options = uvicorn_options(args)
    except ConfigError as exc:
        print(f"orders: configuration error: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(2) from exc
    uvicorn.run(ASGI_APP, **options)


if __name__ == "__main__":
    main()
