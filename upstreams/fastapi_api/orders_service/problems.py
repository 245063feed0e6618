"""RFC 9457 problem details (``application/problem+json``) for every error response."""

from __future__ import annotations

import http.client
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match

from orders_service.request_id import REQUEST_ID_HEADER, get_request_id

PROBLEM_MEDIA_TYPE = "application/problem+json"

# RFC 9110 names that differ from the (older) phrases in Python 3.11's http.HTTPStatus.
_TITLE_OVERRIDES = {413: "Content Too Large", 422: "Unprocessable Content"}

# Parameter locations reported by FastAPI validation errors.
_PARAMETER_LOCATIONS = frozenset({"query", "path", "header", "cookie"})


class FieldErrorModel(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """Schema of problem responses, for the OpenAPI document."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str
    errors: list[FieldErrorModel] | None = None


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class ProblemError(Exception):
    """Raised by endpoints to abort a request with a problem response."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        type_uri: str = "about:blank",
        errors: Sequence[FieldError] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title
        self.type_uri = type_uri
        self.errors = tuple(errors)
        self.headers = dict(headers or {})


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries documenting problem+json errors in OpenAPI."""
    return {
        status: {
            "model": Problem,
            "description": status_title(status),
            "content": {PROBLEM_MEDIA_TYPE: {}},
        }
        for status in statuses
    }


def status_title(status: int) -> str:
    if status in _TITLE_OVERRIDES:
        return _TITLE_OVERRIDES[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_response(
    request: Request,
    status: int,
    detail: str,
    *,
    title: str | None = None,
    type_uri: str = "about:blank",
    errors: Iterable[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": type_uri,
        "title": title or status_title(status),
        "status": int(status),
        "detail": detail,
        "instance": request.url.path,
    }
    if errors is not None:
        body["errors"] = [error.to_dict() for error in errors]
    return JSONResponse(
        body, status_code=status, headers=dict(headers or {}), media_type=PROBLEM_MEDIA_TYPE
    )


# --- exception handlers ------------------------------------------------------------------


async def _handle_problem(request: Request, exc: ProblemError) -> JSONResponse:
    return problem_response(
        request,
        exc.status,
        exc.detail,
        title=exc.title,
        type_uri=exc.type_uri,
        errors=exc.errors or None,
        headers=exc.headers,
    )


_DEFAULT_DETAILS = {
    404: "The requested resource was not found.",
}


async def _handle_http_exception(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    status = exc.status_code
    headers = dict(exc.headers or {})
    detail = exc.detail if isinstance(exc.detail, str) else ""
    if status == 405:
        headers["Allow"] = ", ".join(sorted(_allowed_methods(request, headers.get("Allow", ""))))
        detail = f"Method {request.method} is not allowed for this resource."
    elif not detail or detail == http.client.responses.get(status):
        detail = _DEFAULT_DETAILS.get(status, status_title(status))
    return problem_response(request, status, detail, headers=headers)


_CANDIDATE_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request, reported: str) -> set[str]:
    """All methods the app accepts for this path.

    Starlette reports only the methods of the first route whose path matched, but a path
    may be served by several routes (``GET /orders`` and ``POST /orders``). Probe the
    router with each common method instead.
    """
    allowed = {method.strip() for method in reported.split(",") if method.strip()}
    routes: list[BaseRoute] = list(request.app.router.routes)
    for method in _CANDIDATE_METHODS:
        probe = {**request.scope, "method": method}
        if any(route.matches(probe)[0] is Match.FULL for route in routes):
            allowed.add(method)
    if "GET" in allowed:
        allowed.add("HEAD")  # served by HeadAsGetMiddleware
    return allowed


def _field_path(location: Sequence[str | int]) -> str:
    """``("body", "items", 0, "quantity")`` -> ``items.0.quantity``; ``("body",)`` -> ``body``."""
    parts = list(location)
    if len(parts) > 1 and parts[0] in _PARAMETER_LOCATIONS | {"body"}:
        parts = parts[1:]
    return ".".join(str(part) for part in parts)


def _is_json_media_type(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


async def _handle_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = list(exc.errors())
    if any(error.get("type") == "json_invalid" for error in errors):
        return problem_response(request, 400, "The request body is not valid JSON.")
    if (
        isinstance(exc.body, bytes | bytearray)
        and exc.body
        and not _is_json_media_type(request.headers.get("content-type", ""))
    ):
        # FastAPI only decodes JSON when the Content-Type says so.
        return problem_response(request, 415, "The request body must be sent as application/json.")

    field_errors = [
        FieldError(_field_path(error.get("loc", ())), str(error.get("msg", "Invalid value.")))
        for error in errors
    ]
    in_parameters = any(
        error.get("loc") and error["loc"][0] in _PARAMETER_LOCATIONS for error in errors
    )
    if in_parameters:
        return problem_response(
            request, 400, "The request parameters are invalid.", errors=field_errors
        )
    return problem_response(
        request, 422, "The request body failed validation.", errors=field_errors
    )


async def _handle_unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    # Runs in ServerErrorMiddleware, outside the request-id middleware: set the header here.
    # Starlette re-raises the exception afterwards so the server still logs the traceback.
    response = problem_response(request, 500, "An unexpected error occurred.")
    response.headers[REQUEST_ID_HEADER] = get_request_id(request)
    return response


ExceptionHandlers = dict[
    int | type[Exception], Callable[[Request, Any], Coroutine[Any, Any, Response]]
]


def problem_exception_handlers() -> ExceptionHandlers:
    """Exception handlers that render every error as problem+json (pass to ``FastAPI()``)."""
    return {
        ProblemError: _handle_problem,
        StarletteHTTPException: _handle_http_exception,
        RequestValidationError: _handle_validation_error,
        Exception: _handle_unexpected_error,
    }
