"""``X-Request-ID`` propagation and the access record, as a pure ASGI middleware (safe for
streaming responses)."""

from __future__ import annotations

import logging
import time

from logship import context
from logship.access import log_access as write_access_record
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID_HEADER_BYTES = REQUEST_ID_HEADER.encode("ascii")
_TRACEPARENT_HEADER_BYTES = b"traceparent"

access_log = logging.getLogger("orders.access")
error_log = logging.getLogger("orders.error")


def normalise_request_id(value: str | None) -> str:
    """Return ``value`` if it is a safe request id (logship's rule: a short token carrying no
    personal data), otherwise a fresh uuid4 hex string."""
    return context.request_id_from(value)


def get_request_id(request: Request) -> str:
    """The id assigned by :class:`RequestIdMiddleware` (generated if it did not run)."""
    state = request.scope.setdefault("state", {})
    request_id = state.get("request_id")
    if not isinstance(request_id, str):
        request_id = normalise_request_id(None)
        state["request_id"] = request_id
    return request_id


def log_access(scope: Scope, status: int, bytes_out: int, started: float) -> None:
    """Write the access record of the request in ``scope`` (logger ``orders.access``, INFO).

    ``request_id``/``trace_id`` are not passed here: the JSON formatter takes them from the
    ids bound by :class:`RequestIdMiddleware`.
    """
    write_access_record(
        access_log,
        str(scope.get("method", "")),
        str(scope.get("path", "")),
        bytes(scope.get("query_string", b"")).decode("latin-1"),
        status,
        (time.perf_counter() - started) * 1000.0,
        bytes_out,
    )


class RequestIdMiddleware:
    """Keep a valid incoming ``X-Request-ID`` (``[A-Za-z0-9._-]{1,128}``) or generate one,
    and write one access record per request.

    The id is stored as ``request.state.request_id`` and set on every response. Together
    with the trace id of a valid ``traceparent`` header it is bound to
    :mod:`logship.context` while the request is handled, so every record logged meanwhile
    carries both. The access record (logger ``orders.access``) is written once the last
    body chunk has been sent (or when the request ends without a complete response); an
    exception escaping the application is logged with its traceback (logger
    ``orders.error``) before it propagates.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = time.perf_counter()
        incoming = None
        traceparent = None
        for name, value in scope["headers"]:
            lowered = name.lower()
            if lowered == _REQUEST_ID_HEADER_BYTES and incoming is None:
                incoming = value.decode("latin-1")
            elif lowered == _TRACEPARENT_HEADER_BYTES and traceparent is None:
                traceparent = value.decode("latin-1")
        request_id = normalise_request_id(incoming)
        scope.setdefault("state", {})["request_id"] = request_id
        encoded = request_id.encode("ascii")
        status: int | None = None
        bytes_out = 0
        logged = False

        def finish(final_status: int) -> None:
            nonlocal logged
            if not logged:
                logged = True
                log_access(scope, final_status, bytes_out, started)

        async def send_with_request_id(message: Message) -> None:
            nonlocal status, bytes_out
            kind = message["type"]
            if kind == "http.response.start":
                status = int(message["status"])
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() != _REQUEST_ID_HEADER_BYTES
                ]
                headers.append((_REQUEST_ID_HEADER_BYTES, encoded))
                message = {**message, "headers": headers}
            elif kind == "http.response.body":
                bytes_out += len(message.get("body", b""))
            await send(message)
            if (kind == "http.response.body" and not message.get("more_body", False)) or (
                kind == "http.response.pathsend"
            ):
                finish(status if status is not None else 500)

        trace_id = context.trace_id_from_traceparent(traceparent)
        with context.bind(request_id=request_id, trace_id=trace_id):
            try:
                await self.app(scope, receive, send_with_request_id)
            except Exception:
                error_log.exception(
                    "Unhandled exception: %s %s", scope.get("method", ""), scope.get("path", "")
                )
                raise
            finally:
                # No complete response: an exception (the server error handler answers 500
                # outside this middleware), a disconnected client or a cancelled request.
                finish(status if status is not None else 500)
