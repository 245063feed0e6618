"""Problem+json for every error Flask itself produces (unknown paths, wrong methods, crashes)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, g, request
from logship import context as log_context
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from .problems import PROBLEM_CONTENT_TYPE, problem_body, status_line
from .proxy.headers import request_id_from

log = logging.getLogger("bff.app")


def current_request_id() -> str:
    """The request id of the current Flask request (accepted or generated once)."""
    rid: str | None = g.get("request_id")
    if rid is None:
        rid = request_id_from(request.headers.get("X-Request-ID"))
        g.request_id = rid
    return rid


def problem_response(
    status: int,
    slug: str,
    detail: str,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    """A problem+json Flask response for the current request."""
    rid = current_request_id()
    body = problem_body(status, slug, detail, request_id=rid, instance=request.path, extra=extra)
    response = Response(body, status=status, content_type=PROBLEM_CONTENT_TYPE)
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    slug = (exc.name or "error").lower().replace(" ", "-")
    headers = {}
    detail = exc.description or exc.name
    if status == 404 and detail == NotFound.description:
        detail = f"nothing is served at {request.path} (the routes are in /openapi.json)"
    elif status == 405:
        if exc.valid_methods:  # type: ignore[attr-defined]
            headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        if detail == MethodNotAllowed.description:
            detail = f"{request.method} is not allowed on {request.path}"
    return problem_response(status, slug, detail, headers)


def _unexpected(exc: Exception) -> Response:
    log.exception("unhandled error", extra={"request_id": current_request_id()})
    return problem_response(500, "internal-error", "the server failed to handle this request")


def _add_request_id(response: Response) -> Response:
    # werkzeug writes the reason phrase in capitals ("404 NOT FOUND"); RFC 9110's spelling
    response.status = status_line(response.status_code)
    response.headers["X-Request-ID"] = current_request_id()
    return response


def _bind_log_context() -> None:
    g.log_binding = log_context.bind(request_id=current_request_id())


def _unbind_log_context(_exc: BaseException | None) -> None:
    binding = g.pop("log_binding", None)
    if binding is not None:
        binding.reset()


def init_app(app: Flask) -> None:
    """Register the problem handlers, the request id on every Flask response, and the
    request id in every log record written while Flask handles a request."""
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    app.before_request(_bind_log_context)
    app.after_request(_add_request_id)
    app.teardown_request(_unbind_log_context)
