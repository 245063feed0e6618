"""``X-Request-ID`` propagation as a pure ASGI middleware (safe for streaming responses)."""

from __future__ import annotations

import re
import uuid

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID_HEADER_BYTES = REQUEST_ID_HEADER.encode("ascii")
_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,128}")


def normalise_request_id(value: str | None) -> str:
    """Return ``value`` if it is a safe request id, otherwise a fresh uuid4 hex string."""
    if value is not None and _REQUEST_ID_RE.fullmatch(value):
        return value
    return uuid.uuid4().hex


def get_request_id(request: Request) -> str:
    """The id assigned by :class:`RequestIdMiddleware` (generated if it did not run)."""
    state = request.scope.setdefault("state", {})
    request_id = state.get("request_id")
    if not isinstance(request_id, str):
        request_id = normalise_request_id(None)
        state["request_id"] = request_id
    return request_id


class RequestIdMiddleware:
    """Keep a valid incoming ``X-Request-ID`` (``[A-Za-z0-9._-]{1,128}``) or generate one.

    The id is stored as ``request.state.request_id`` and set on every response.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        incoming = None
        for name, value in scope["headers"]:
            if name.lower() == _REQUEST_ID_HEADER_BYTES:
                incoming = value.decode("latin-1")
                break
        request_id = normalise_request_id(incoming)
        scope.setdefault("state", {})["request_id"] = request_id
        encoded = request_id.encode("ascii")

        async def send_with_request_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() != _REQUEST_ID_HEADER_BYTES
                ]
                headers.append((_REQUEST_ID_HEADER_BYTES, encoded))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_request_id)
