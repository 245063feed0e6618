"""One access record per HTTP request, with the same shape in every service.

The record's message is ``"<method> <path> <status>"`` and its ``data`` holds method, path,
query, status, duration_ms and bytes_out, plus whatever a service adds. Personal data and
secrets in the path and the query are replaced here, at the source (:mod:`logship.scrub`);
the formatter's rules cover everything else.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from .redact import redact_query
from .scrub import scrub_path, scrub_query

__all__ = ["log_access"]


def log_access(
    logger: logging.Logger,
    method: str,
    path: str,
    query: str,
    status: int,
    duration_ms: float,
    bytes_out: int,
    *,
    level: int = logging.INFO,
    data: Mapping[str, Any] | None = None,
    request_id: str | None = None,
    trace_id: str | None = None,
) -> None:
    """Write the access record; ids default to the ones bound with :func:`logship.bind`."""
    if not logger.isEnabledFor(level):
        return
    if path:
        path = scrub_path(path)
    fields: dict[str, Any] = {
        "method": method,
        "path": path,
        "query": redact_query(scrub_query(query)) if query else "",
        "status": status,
        "duration_ms": round(duration_ms, 3),
        "bytes_out": bytes_out,
    }
    if data:
        fields.update(data)
    extra: dict[str, Any] = {"data": fields}
    if request_id is not None:
        extra["request_id"] = request_id
    if trace_id is not None:
        extra["trace_id"] = trace_id
    logger.log(level, "%s %s %s", method, path, status, extra=extra)
