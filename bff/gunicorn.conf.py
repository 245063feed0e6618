"""gunicorn configuration for the BFF (production and local development alike).

Run: gunicorn -c bff/gunicorn.conf.py 'bff:create_app()'
gevent workers measured fastest for this I/O-bound proxy; each worker builds its own upstream
connection pools after the fork (the app is not preloaded).
"""

import logging
import os
import sys

from bff.proxy.server import exit_worker, install_problem_errors
from bff.settings import SettingsError, load_settings
from logship import gunicorn as logship_gunicorn
from logship import setup as logship_setup
from logship.config import ConfigError, validate_stream_template
from logship.notices import notice

from bff import metrics as bff_metrics


def _fail(message: str) -> None:
    """Stop before gunicorn starts, with one line naming the bad variable."""
    print(f"bff: configuration error: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


def _env_int(name: str, default: int, low: int, high: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        _fail(f"{name} must be an integer between {low} and {high}, got {raw!r}")
    return int(raw)


# Validate everything here, in the master, before gunicorn prints or forks anything.
try:
    _settings = load_settings(os.environ)
except SettingsError as exc:
    _fail(str(exc))

bind = os.environ.get("BFF_BIND", "127.0.0.1:8080")
workers = _env_int("BFF_WORKERS", 2, 1, 64)
worker_class = os.environ.get("BFF_WORKER_CLASS", "bff.proxy.server.Worker")
# Connections are cheap greenlets, and each wait on one is bounded (bff/proxy/server.py): a
# high ceiling keeps a few thousand slow clients from filling the worker before they time out.
worker_connections = _env_int("BFF_WORKER_CONNECTIONS", 10_000, 1, 100_000)
# BFF_KEEPALIVE_TIMEOUT, 75 s by default: above the ALB's 60 s idle timeout, so the ALB closes
# first. The worker applies it (and the other BFF_*_TIMEOUT settings) itself.
keepalive = int(_settings.edge.keepalive_timeout)
timeout = 30
graceful_timeout = _env_int("BFF_GRACEFUL_TIMEOUT", 20, 1, 600)  # SIGTERM: drain in-flight
preload_app = False
# The request limits the worker enforces (bff.settings.EdgeSettings), for gunicorn's own parsers.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
proc_name = "bff"
accesslog = None  # the app writes one structured access record per request (logger bff.access)
errorlog = "-"
loglevel = os.environ.get("BFF_LOG_LEVEL", "info")
# Every record, gunicorn's own included, is one JSON object on stdout; CloudWatch shipping is
# added in each worker after the fork (LOG_CLOUDWATCH_GROUP), never in the master.
try:
    logconfig_dict = logship_gunicorn.logconfig_dict(
        service=os.environ.get("BFF_SERVICE_NAME") or "bff",
        environment=os.environ.get("BFF_ENV") or "development",
    )
except ValueError as exc:  # logship's ConfigError: one line naming the variable
    _fail(str(exc))
# Accepted client-error reports (logger bff.client_errors) go to a stream of their own.
CLIENT_ERRORS_STREAM = (
    os.environ.get("LOG_CLOUDWATCH_CLIENT_ERRORS_STREAM", "").strip()
    or "client-errors/{hostname}/{pid}"
)
try:
    validate_stream_template(CLIENT_ERRORS_STREAM, "LOG_CLOUDWATCH_CLIENT_ERRORS_STREAM")
except ConfigError as exc:
    _fail(str(exc))
# X-Forwarded-* trust is decided in one place, the app's ProxyFix (BFF_TRUSTED_PROXIES).
secure_scheme_headers: dict[str, str] = {}
forwarded_allow_ips = ""
control_socket_disable = True  # no management socket in the container's home directory

install_problem_errors()


def post_worker_init(worker: object) -> None:
    """Create this worker's log handlers (after the fork and gevent's patching), with the
    client-error records routed to their own stream."""
    if logship_setup.active() is not None:
        return
    try:
        logship_setup.configure(
            os.environ.get("BFF_SERVICE_NAME") or "bff",
            os.environ.get("BFF_ENV") or "development",
            streams={"bff.client_errors": CLIENT_ERRORS_STREAM},
        )
    except ConfigError as exc:
        notice(f"configuration error: {exc}", level=logging.ERROR, service="bff")
        raise


def worker_exit(server: object, worker: object) -> None:
    """Release upstream connections and write the last metrics, then deliver or spool every
    buffered log event."""
    exit_worker(worker)
    bff_metrics.flush_on_exit()
    logship_gunicorn.worker_exit(server, worker)
