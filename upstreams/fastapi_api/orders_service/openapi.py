"""The service's OpenAPI document, corrected to describe the responses it really sends.

FastAPI documents a ``responses=`` model under ``application/json`` and adds a 422
``HTTPValidationError`` to every operation with parameters. This service answers every error
as ``application/problem+json`` and invalid parameters with 400, so the document is rewritten
to say exactly that; generated clients then type errors correctly.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from orders_service.problems import PROBLEM_MEDIA_TYPE

_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")
_FASTAPI_VALIDATION_REF = "#/components/schemas/HTTPValidationError"


def _fix_responses(responses: dict[str, Any]) -> None:
    for status, response in list(responses.items()):
        content: dict[str, Any] = response.get("content", {})
        json_schema = content.get("application/json", {}).get("schema", {})
        if json_schema.get("$ref") == _FASTAPI_VALIDATION_REF:
            del responses[status]
        elif PROBLEM_MEDIA_TYPE in content and "application/json" in content:
            response["content"] = {PROBLEM_MEDIA_TYPE: content["application/json"]}


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document with problem+json errors and no phantom 422 responses."""
    document = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            _fix_responses(operation.get("responses", {}))
    schemas: dict[str, Any] = document.get("components", {}).get("schemas", {})
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    return document


def install_openapi(app: FastAPI) -> None:
    """Serve :func:`build_openapi` (computed once) at the app's ``/openapi.json``."""
    cached: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        if not cached:
            cached.update(build_openapi(app))
        return cached

    app.openapi = openapi  # type: ignore[method-assign]
