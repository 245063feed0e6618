"""One access record per proxied request, as structured log data (logger ``bff.access``)."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from logship.access import log_access

from . import metrics
from .client_errors.index import count_request

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

log = logging.getLogger("bff.access")


def emit(environ: WSGIEnvironment, status: int, bytes_out: int, *, aborted: bool = False) -> None:
    """Log the request described by ``environ`` (the proxy records its facts there as it goes)."""
    elapsed_ms = (time.monotonic() - environ["bff.started"]) * 1000.0
    metrics.record_access(environ, status, elapsed_ms)
    count_request(status)
    level = logging.WARNING if aborted or status >= 500 else logging.INFO
    if not log.isEnabledFor(level):
        return
    upstream_ms = environ.get("bff.upstream_ms")
    log_access(
        log,
        environ.get("REQUEST_METHOD", ""),
        environ.get("PATH_INFO", ""),
        environ.get("QUERY_STRING", ""),
        status,
        elapsed_ms,
        bytes_out,
        level=level,
        data={
            "route": environ.get("bff.route"),
            "bytes_in": environ.get("bff.bytes_in", 0),
            "upstream": environ.get("bff.upstream"),
            "upstream_status": environ.get("bff.upstream_status"),
            "upstream_ms": round(upstream_ms, 3) if upstream_ms is not None else None,
            "retries": environ.get("bff.retries", 0),
            "client_ip": environ.get("REMOTE_ADDR"),
            "user_agent": environ.get("HTTP_USER_AGENT"),
            "problem": environ.get("bff.problem"),
            "aborted": aborted,
        },
        request_id=environ.get("bff.request_id"),
        trace_id=environ.get("bff.trace_id"),
    )
