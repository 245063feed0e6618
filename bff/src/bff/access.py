"""One access record per proxied request, as structured log data (logger ``bff.access``)."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from logship.redact import redact_query

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

log = logging.getLogger("bff.access")


def emit(environ: WSGIEnvironment, status: int, bytes_out: int, *, aborted: bool = False) -> None:
    """Log the request described by ``environ`` (the proxy records its facts there as it goes)."""
    if not log.isEnabledFor(logging.INFO):
        return
    started: float = environ.get("bff.started", 0.0)
    duration_ms = round((time.monotonic() - started) * 1000.0, 3) if started else None
    method = environ.get("REQUEST_METHOD", "")
    path = environ.get("PATH_INFO", "")
    query = environ.get("QUERY_STRING", "")
    upstream_ms = environ.get("bff.upstream_ms")
    data = {
        "method": method,
        "route": environ.get("bff.route"),
        "path": path,
        "query": redact_query(query) if query else "",
        "status": status,
        "duration_ms": duration_ms,
        "bytes_in": environ.get("bff.bytes_in", 0),
        "bytes_out": bytes_out,
        "upstream": environ.get("bff.upstream"),
        "upstream_status": environ.get("bff.upstream_status"),
        "upstream_ms": round(upstream_ms, 3) if upstream_ms is not None else None,
        "retries": environ.get("bff.retries", 0),
        "client_ip": environ.get("REMOTE_ADDR"),
        "user_agent": environ.get("HTTP_USER_AGENT"),
        "problem": environ.get("bff.problem"),
        "aborted": aborted,
    }
    level = logging.WARNING if aborted or status >= 500 else logging.INFO
    log.log(
        level,
        "%s %s %s",
        method,
        path,
        status,
        extra={
            "data": data,
            "request_id": environ.get("bff.request_id"),
            "trace_id": environ.get("bff.trace_id"),
        },
    )
