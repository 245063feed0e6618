"""gunicorn integration: problem+json for requests gunicorn rejects before the app sees them."""

from __future__ import annotations

import socket
from typing import Any

from gunicorn import util

from .headers import new_id
from .problems import PROBLEM_CONTENT_TYPE, problem_body


def write_problem_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """Drop-in for ``gunicorn.util.write_error`` answering with RFC 9457 problem+json."""
    request_id = new_id()
    slug = reason.lower().replace(" ", "-") or "error"
    body = problem_body(status_int, slug, mesg or reason, request_id=request_id, title=reason)
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\n"
        "Connection: close\r\n"
        f"Content-Type: {PROBLEM_CONTENT_TYPE}\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"X-Request-ID: {request_id}\r\n"
        "\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


def install_problem_errors() -> None:
    """Make gunicorn's own error pages (bad request line, oversized headers, ...) problem+json."""
    util.write_error = write_problem_error


def exit_worker(worker: Any) -> None:
    """Close pooled upstream connections when a worker exits."""
    app = getattr(worker, "wsgi", None)
    clients = getattr(app, "extensions", {}).get("bff.clients") if app is not None else None
    if clients is not None:
        clients.close()
