"""Helpers for the JSON views: method dispatch, body parsing and query parameters."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from decimal import Decimal
from functools import wraps
from http import HTTPStatus
from typing import Any, NoReturn

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.views.decorators.csrf import csrf_exempt

from catalog.problems import (
    FieldError,
    ProblemError,
    ValidationFailed,
    method_not_allowed,
    response_for_problem,
)

ViewFunc = Callable[..., HttpResponseBase]

_INTEGER_RE = re.compile(r"-?[0-9]{1,12}")


def api_view(methods: Iterable[str] | None) -> Callable[[ViewFunc], ViewFunc]:
    """Turn a function into a JSON API view.

    * ``methods`` lists the accepted methods (``HEAD`` is implied by ``GET``; ``OPTIONS``
      is answered automatically). ``None`` accepts every method.
    * Other methods get a 405 problem response with an ``Allow`` header.
    * ``ProblemError`` raised by the view becomes a problem+json response.
    * CSRF protection is disabled: the API is not cookie-authenticated.
    """
    allowed: frozenset[str] | None = None
    if methods is not None:
        names = {method.upper() for method in methods}
        if "GET" in names:
            names.add("HEAD")
        names.add("OPTIONS")
        allowed = frozenset(names)

    def decorator(view: ViewFunc) -> ViewFunc:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if allowed is not None:
                if request.method not in allowed:
                    return method_not_allowed(request, allowed)
                if request.method == "OPTIONS":
                    response = HttpResponse(status=HTTPStatus.NO_CONTENT)
                    response["Allow"] = ", ".join(sorted(allowed))
                    return response
            try:
                return view(request, *args, **kwargs)
            except ProblemError as exc:
                return response_for_problem(request, exc)

        return csrf_exempt(wrapper)

    return decorator


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


def _is_json_media_type(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def parse_json_object(request: HttpRequest) -> dict[str, Any]:
    """Parse the request body as a JSON object.

    Numbers with a fraction are parsed as ``Decimal`` so prices keep their exact value.

    * empty body -> 422 (``body`` is required)
    * body with a non-JSON ``Content-Type`` (or none) -> 415
    * malformed JSON (including ``NaN``/``Infinity``) -> 400
    * JSON that is not an object -> 422
    """
    try:
        raw = request.body
    except RequestDataTooBig as exc:
        raise ProblemError(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "The request body is too large."
        ) from exc
    if not raw:
        raise ValidationFailed([FieldError("body", "A JSON request body is required.")])
    if not _is_json_media_type(request.content_type or ""):
        raise ProblemError(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            "The request body must be sent as application/json.",
        )
    try:
        data = json.loads(raw, parse_float=Decimal, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProblemError(HTTPStatus.BAD_REQUEST, "The request body is not valid JSON.") from exc
    if not isinstance(data, dict):
        raise ValidationFailed([FieldError("body", "The request body must be a JSON object.")])
    return data


def int_query_param(
    request: HttpRequest, name: str, default: int, *, minimum: int, maximum: int
) -> int:
    """Read an integer query parameter within ``[minimum, maximum]``; otherwise 400."""
    raw = request.GET.get(name)
    if raw is None or raw == "":
        return default
    if not _INTEGER_RE.fullmatch(raw) or not minimum <= int(raw) <= maximum:
        raise ProblemError(
            HTTPStatus.BAD_REQUEST,
            f"Invalid query parameter {name!r}.",
            errors=[FieldError(name, f"Must be an integer between {minimum} and {maximum}.")],
        )
    return int(raw)
