"""uvicorn/FastAPI: JSON logging config and a request-context middleware.

::

    from logship.asgi import RequestContextMiddleware, uvicorn_log_config

    app.add_middleware(RequestContextMiddleware)
    uvicorn.run(app, log_config=uvicorn_log_config("orders", "prod"))

and flush on shutdown (a lifespan handler)::

    from logship.setup import shutdown
    ...
    shutdown(timeout=10)
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from . import context as _context
from .config import parse_env, parse_level
from .setup import ConfigError, dict_config

__all__ = ["RequestContextMiddleware", "uvicorn_log_config"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def uvicorn_log_config(
    service: str | None = None,
    environment: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    level: str | int | None = None,
    access_log: bool = True,
) -> dict[str, Any]:
    """A ``log_config`` dict for uvicorn: its loggers propagate to the root logger, which
    writes JSON to stdout and, when ``LOG_CLOUDWATCH_GROUP`` is set, ships to CloudWatch
    through a handler created lazily in each worker process."""
    settings = parse_env(os.environ if env is None else env)
    if level is not None:
        settings = type(settings)(
            **{**settings.as_dict(), "level": parse_level("level", str(level))}
        )
    service_name = service or settings.service
    if not service_name:
        raise ConfigError("service: pass uvicorn_log_config(service=...) or set LOG_SERVICE")
    return dict_config(
        service_name,
        environment or settings.environment or "",
        settings,
        loggers={
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {
                "handlers": [],
                "propagate": access_log,
                "level": "INFO" if access_log else "WARNING",
            },
        },
    )


class RequestContextMiddleware:
    """Pure ASGI middleware: binds ``request_id`` (``X-Request-ID`` or new) and ``trace_id``
    (``traceparent``) for each HTTP/WebSocket request and echoes ``X-Request-ID``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {bytes(key).lower(): bytes(value) for key, value in scope.get("headers", [])}
        request_id = _context.request_id_from(headers.get(b"x-request-id", b"").decode("latin-1"))
        trace_id = _context.trace_id_from_traceparent(
            headers.get(b"traceparent", b"").decode("latin-1")
        )

        async def send_with_id(message: Message) -> None:
            if message.get("type") == "http.response.start":
                raw = list(message.get("headers", []))
                if not any(bytes(key).lower() == b"x-request-id" for key, _ in raw):
                    raw.append((b"x-request-id", request_id.encode("latin-1", "replace")))
                message["headers"] = raw
            await send(message)

        with _context.bind(request_id=request_id, trace_id=trace_id):
            await self.app(scope, receive, send_with_id)
