"""Pieces of the OpenAPI document built from the models: references, responses, the problem
response, the edge's responses, query parameters and ``components.schemas``."""

from __future__ import annotations

from typing import Any, Final

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from ..problems import PROBLEM_CONTENT_TYPE
from .problem import Problem

REF_TEMPLATE: Final = "#/components/schemas/{model}"
REQUEST_ID_HEADER: Final = {
    "description": "Request id: the client's X-Request-ID if it was a safe token, else generated.",
    "schema": {"type": "string"},
}
#: Seconds until the request may succeed (a rate limit, an open circuit, an unreachable store).
RETRY_AFTER_HEADER: Final = {"Retry-After": {"schema": {"type": "integer"}}}


def ref(model: type[BaseModel]) -> dict[str, str]:
    """A reference to ``model``'s schema in ``components.schemas``."""
    return {"$ref": REF_TEMPLATE.format(model=model.__name__)}


def json_response(description: str, model: type[BaseModel] | dict[str, Any]) -> dict[str, Any]:
    """A response with an ``application/json`` body of ``model`` (or an inline schema)."""
    schema = ref(model) if isinstance(model, type) else model
    return {
        "description": description,
        "headers": {"X-Request-ID": REQUEST_ID_HEADER},
        "content": {"application/json": {"schema": schema}},
    }


def problem(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    """A response with a problem+json body (the one ``Problem`` schema)."""
    return {
        "description": description,
        "headers": {"X-Request-ID": REQUEST_ID_HEADER, **(headers or {})},
        "content": {PROBLEM_CONTENT_TYPE: {"schema": ref(Problem)}},
    }


def edge_responses() -> dict[str, dict[str, Any]]:
    """What the HTTP edge (``bff.proxy.server``) answers on any path before the application
    sees the request; the connection is closed after each."""
    return {
        "400": problem(
            "A malformed request: bad framing or header syntax (answered by the edge), or a "
            "refused parameter or body (answered by the operation; `errors` names the fields)."
        ),
        "414": problem("Request target longer than the edge accepts (BFF_EDGE_MAX_REQUEST_LINE)."),
        "431": problem("Too many header fields, or a request head over the edge's limit."),
    }


def query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """The query parameters ``model`` reads (``schemas.validation.query_model``)."""
    schema = model.model_json_schema(ref_template=REF_TEMPLATE)
    required = set(schema.get("required", ()))
    params = []
    for name, prop in schema["properties"].items():
        prop = dict(prop)
        prop.pop("title", None)
        param: dict[str, Any] = {"name": name, "in": "query", "required": name in required}
        description = prop.pop("description", None)
        if description:
            param["description"] = description
        param["schema"] = prop
        params.append(param)
    return params


def component_schemas(models: list[tuple[type[BaseModel], JsonSchemaMode]]) -> dict[str, Any]:
    """``components.schemas``: each model's JSON schema and those it refers to."""
    _, top = models_json_schema(models, ref_template=REF_TEMPLATE)
    schemas: dict[str, Any] = top.get("$defs", {})
    return {name: _without_null_defaults(schemas[name]) for name in sorted(schemas)}


def _without_null_defaults(node: Any) -> Any:
    """``node`` without ``"default": null``: an optional member that may be absent says so by
    not being required (generators such as openapi-typescript read any default as "always
    present")."""
    if isinstance(node, dict):
        return {
            key: _without_null_defaults(value)
            for key, value in node.items()
            if not (key == "default" and value is None)
        }
    if isinstance(node, list):
        return [_without_null_defaults(value) for value in node]
    return node
