"""RFC 9457 problem details (``application/problem+json``) for every error response."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

PROBLEM_CONTENT_TYPE = "application/problem+json"

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FieldError:
    """One invalid input field; ``field`` is a dotted path such as ``price`` or ``items.0.id``."""

    field: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class ProblemError(Exception):
    """Raised by views to abort a request with a problem response."""

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


class ValidationFailed(ProblemError):
    """422 Unprocessable Content with per-field errors."""

    def __init__(self, errors: Sequence[FieldError], detail: str | None = None) -> None:
        super().__init__(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            detail or "The request body failed validation.",
            errors=errors,
        )


# RFC 9110 names that differ from the (older) phrases in Python 3.11's http.HTTPStatus.
_TITLE_OVERRIDES = {413: "Content Too Large", 422: "Unprocessable Content"}


def status_title(status: int) -> str:
    if status in _TITLE_OVERRIDES:
        return _TITLE_OVERRIDES[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_response(
    request: HttpRequest,
    status: int,
    detail: str,
    *,
    title: str | None = None,
    type_uri: str = "about:blank",
    errors: Iterable[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JsonResponse:
    body: dict[str, Any] = {
        "type": type_uri,
        "title": title or status_title(status),
        "status": int(status),
        "detail": detail,
        "instance": request.path,
    }
    if errors is not None:
        body["errors"] = [error.to_dict() for error in errors]
    response = JsonResponse(body, status=status, content_type=PROBLEM_CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def response_for_problem(request: HttpRequest, exc: ProblemError) -> JsonResponse:
    return problem_response(
        request,
        exc.status,
        exc.detail,
        title=exc.title,
        type_uri=exc.type_uri,
        errors=exc.errors or None,
        headers=exc.headers,
    )


def method_not_allowed(request: HttpRequest, allowed: Iterable[str]) -> JsonResponse:
    allow = ", ".join(sorted(set(allowed)))
    return problem_response(
        request,
        HTTPStatus.METHOD_NOT_ALLOWED,
        f"Method {request.method} is not allowed for this resource.",
        headers={"Allow": allow},
    )


# --- Django error handlers (wired up in catalog_project.urls) ---------------------------


def bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return problem_response(request, HTTPStatus.BAD_REQUEST, "The request could not be processed.")


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return problem_response(
        request, HTTPStatus.FORBIDDEN, "You do not have permission to access this resource."
    )


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return problem_response(request, HTTPStatus.NOT_FOUND, "The requested resource was not found.")


@csrf_exempt
def route_not_found(request: HttpRequest) -> JsonResponse:
    """Catch-all view for paths no other URL pattern matches (any method)."""
    return page_not_found(request)


def server_error(request: HttpRequest) -> JsonResponse:
    return problem_response(
        request, HTTPStatus.INTERNAL_SERVER_ERROR, "An unexpected error occurred."
    )
