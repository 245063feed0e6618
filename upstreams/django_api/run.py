#!/usr/bin/env python
"""Start the catalog service.

Applies migrations, seeds the demo catalogue (idempotent) and then replaces this process
with gunicorn serving ``catalog_project.wsgi:application`` using threaded (``gthread``)
workers, so slow endpoints such as ``/catalog/_test/delay`` do not block other requests.
Logging (JSON on stdout, CloudWatch per worker, flush at worker exit) is set up by
``gunicorn.conf.py`` next to this file.

Usage (works from any directory)::

    python upstreams/django_api/run.py --host 127.0.0.1 --port 8001 [--workers 2 --threads 8]
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import logship.setup

SERVICE_DIR = Path(__file__).resolve().parent
SETTINGS_MODULE = "catalog_project.settings"
WSGI_APP = "catalog_project.wsgi:application"
GUNICORN_CONFIG = SERVICE_DIR / "gunicorn.conf.py"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run the catalog service under gunicorn.")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8001, help="bind port (default: 8001)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default: 2)")
    parser.add_argument("--threads", type=int, default=8, help="threads per worker (default: 8)")
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
        choices=["debug", "info", "warning", "error", "critical"],
        help="gunicorn error-log level (default: warning)",
    )
    parser.add_argument(
        "--no-seed", action="store_true", help="apply migrations but skip the demo data"
    )
    return parser.parse_args(argv)


def prepare_database(*, seed: bool) -> None:
    """Apply migrations and (optionally) seed, quietly, in this process."""
    if str(SERVICE_DIR) not in sys.path:
        sys.path.insert(0, str(SERVICE_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS_MODULE)

    import django
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections

    django.setup()
    database = Path(settings.DATABASES["default"]["NAME"])
    database.parent.mkdir(parents=True, exist_ok=True)
    try:
        call_command("migrate", interactive=False, verbosity=0)
        if seed:
            call_command("seed", verbosity=0)
    finally:
        connections.close_all()
        # exec() skips exit handlers: deliver whatever was logged here (usually nothing).
        logship.setup.shutdown()


def gunicorn_argv(args: argparse.Namespace) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gunicorn",
        WSGI_APP,
        "--config",
        str(GUNICORN_CONFIG),
        "--chdir",
        str(SERVICE_DIR),
        "--bind",
        f"{args.host}:{args.port}",
        "--workers",
        str(args.workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(args.threads),
        "--graceful-timeout",
        str(args.graceful_timeout),
        "--keep-alive",
        str(args.keep_alive),
        "--log-level",
        args.log_level,
        # Several instances may run side by side (tests, benchmarks): no shared control
        # socket in the home directory.
        "--no-control-socket",
    ]


def main(argv: Sequence[str] | None = None) -> NoReturn:
    args = parse_args(argv)
    sys.path.insert(0, str(SERVICE_DIR))
    from catalog_project.config import settings_or_exit

    settings_or_exit()  # a bad variable: one line and exit 2, before migrations or gunicorn
    prepare_database(seed=not args.no_seed)
    command = gunicorn_argv(args)
    sys.stdout.flush()
    sys.stderr.flush()
    # Replace this process so signals (SIGTERM/SIGINT) go straight to the gunicorn master.
    os.execvp(command[0], command)  # noqa: S606 - fixed argv, no shell


if __name__ == "__main__":
    main()
