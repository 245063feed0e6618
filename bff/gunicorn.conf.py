"""gunicorn configuration for the BFF (production and local development alike).

Run: gunicorn -c bff/gunicorn.conf.py 'bff:create_app()'
gevent workers measured fastest for this I/O-bound proxy; each worker builds its own upstream
connection pools after the fork (the app is not preloaded).
"""

import logging
import os
import sys
from typing import NoReturn

from bff.proxy.server import exit_worker, install_problem_errors
from bff.settings import SettingsError, load_settings
from logship import gunicorn as logship_gunicorn
from logship import setup as logship_setup
from logship.config import ConfigError
from logship.notices import notice

from bff import metrics as bff_metrics


def _fail(message: str) -> NoReturn:
    """Stop before gunicorn starts, with one line naming the bad variable."""
    print(f"bff: configuration error: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


# Every BFF_* variable, gunicorn's included, is read here once, in the master, by the one
# settings model (bff.settings.Settings), before gunicorn prints or forks anything.
try:
    _settings = load_settings(os.environ)
except SettingsError as exc:
    _fail(str(exc))
_server = _settings.server

bind = _server.bind
workers = _server.workers
worker_class = _server.worker_class
# Connections are cheap greenlets, and each wait on one is bounded (bff/proxy/server.py): a
# high ceiling keeps a few thousand slow clients from filling the worker before they time out.
worker_connections = _server.worker_connections
# BFF_KEEPALIVE_TIMEOUT, 75 s by default: above the ALB's 60 s idle timeout, so the ALB closes
# first. The worker applies it (and the other BFF_*_TIMEOUT settings) itself.
keepalive = int(_settings.edge.keepalive_timeout)
timeout = 30
graceful_timeout = _server.graceful_timeout  # SIGTERM: drain in-flight
preload_app = False
# The request limits the worker enforces (bff.settings.EdgeSettings), for gunicorn's own parsers.
limit_request_line = _settings.edge.max_request_line
limit_request_fields = _settings.edge.max_header_fields
limit_request_field_size = _settings.edge.max_header_line
proc_name = "bff"
accesslog = None  # the app writes one structured access record per request (logger bff.access)
errorlog = "-"
loglevel = _server.log_level
# Every record, gunicorn's own included, is one JSON object on stdout; CloudWatch shipping is
# added in each worker after the fork (LOG_CLOUDWATCH_GROUP), never in the master.
try:
    logconfig_dict = logship_gunicorn.logconfig_dict(
        service=_settings.service, environment=_settings.environment
    )
except ConfigError as exc:  # one line naming the LOG_* variable
    _fail(str(exc))
# Accepted client-error reports (logger bff.client_errors) go to a stream of their own.
CLIENT_ERRORS_STREAM = _server.client_errors_stream
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
            _settings.service,
            _settings.environment,
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
