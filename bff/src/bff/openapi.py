"""The BFF's OpenAPI 3.1 document: paths from the route table and the blueprints, every schema
generated from the models in ``bff.schemas``, so the document cannot drift from the code."""

from __future__ import annotations

from importlib import metadata
from typing import Any, Final

import orjson
from flask import Blueprint, Response, current_app
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode

from . import ops_openapi
from .client_errors import openapi as client_errors_openapi
from .schemas.document import (
    REQUEST_ID_HEADER,
    RETRY_AFTER_HEADER,
    component_schemas,
    edge_responses,
    json_response,
    problem,
)
from .schemas.meta import Alive, Ready
from .schemas.problem import Problem
from .settings import Route, Settings

bp = Blueprint("openapi", __name__)

#: The path below a route prefix that the proxy forwards: segments of any characters but "/",
#: "\\" and control characters, never "." or ".." (paths.rebase_path refuses those with a 400).
#: One segment here: a generated "/" would be sent percent-encoded, which is refused as well.
PATH_PATTERN: Final = (
    r"^(?:[^./\\\x00-\x1f\x7f][^/\\\x00-\x1f\x7f]*"
    r"|\.[^./\\\x00-\x1f\x7f][^/\\\x00-\x1f\x7f]*"
    r"|\.\.[^/\\\x00-\x1f\x7f]+)$"
)


def package_version() -> str:
    """The installed ``bff`` distribution's version (bff/pyproject.toml), as /ops shows it."""
    try:
        return metadata.version("bff")
    except metadata.PackageNotFoundError:
        return "unknown"


def _route_operations(route: Route) -> dict[str, Any]:
    upstream = route.upstream.name
    responses: dict[str, Any] = {
        "default": {
            "description": f"Whatever the {upstream} service answers, streamed through unchanged "
            "(hop-by-hop headers removed, Location and Set-Cookie paths mapped to this prefix, "
            "a problem+json body given the public `instance` and the `request_id`). That "
            "includes the service's own 4xx for requests it refuses, and its 405 with its own "
            "`Allow` for a method the resource below the prefix does not support.",
            "headers": {"X-Request-ID": REQUEST_ID_HEADER},
        },
        **edge_responses(),
        "400": problem(
            "Hostile or malformed path (dot segments, encoded slashes, '//'), an unreadable "
            "request body, or malformed framing (answered by the edge)."
        ),
        "405": problem(
            "Method not allowed on this route.", {"Allow": {"schema": {"type": "string"}}}
        ),
        "413": problem(f"Request body over {route.max_body_bytes} bytes."),
        "502": problem(f"The {upstream} service could not be reached or broke the connection."),
        "503": problem(
            f"Circuit open: the {upstream} service failed repeatedly and is not contacted "
            "for a while.",
            RETRY_AFTER_HEADER,
        ),
        "504": problem(
            f"The {upstream} service did not answer within {route.read_timeout:g} s "
            f"(overall deadline {route.deadline:g} s)."
        ),
    }
    parameters = [
        {
            "name": "path",
            "in": "path",
            "required": True,
            "description": f"Path below {route.prefix}, forwarded to "
            f"{upstream}:{route.target_prefix or '/'} (deeper paths with '/' are forwarded too).",
            "schema": {"type": "string", "pattern": PATH_PATTERN},
        },
        {
            "name": "X-Request-ID",
            "in": "header",
            "required": False,
            "description": "Propagated to the upstream and returned; 1-128 of [A-Za-z0-9._-] "
            "(anything else is replaced by a generated id).",
            "schema": {"type": "string"},
        },
        {
            "name": "traceparent",
            "in": "header",
            "required": False,
            "description": "W3C trace context; continued when valid, started otherwise.",
            "schema": {"type": "string"},
        },
    ]
    retry_note = (
        f"Retried up to {route.retries} time(s) on connection failures for idempotent methods, "
        "never after the response has started."
        if route.retries
        else "Never retried."
    )
    operations: dict[str, Any] = {"parameters": parameters}
    for method in sorted(route.methods):
        operations[method.lower()] = {
            "operationId": f"{route.name}_{method.lower()}",
            "tags": [route.name],
            "summary": f"{method} proxied to the {upstream} service",
            "description": retry_note,
            "responses": responses,
        }
    return operations


def _meta_paths() -> dict[str, Any]:
    counters = {"type": "object", "additionalProperties": True}
    return {
        "/healthz": {
            "get": {
                "operationId": "healthz",
                "tags": ["health"],
                "summary": "Liveness: the process answers (no dependency checks)",
                "responses": {"200": json_response("Alive", Alive), **edge_responses()},
            }
        },
        "/readyz": {
            "get": {
                "operationId": "readyz",
                "tags": ["health"],
                "summary": "Readiness: every upstream answers its health check",
                "responses": {
                    "200": json_response("Every upstream is reachable", Ready),
                    **edge_responses(),
                    "503": problem("At least one upstream is unreachable; `upstreams` says which."),
                },
            }
        },
        "/internal/logging": {
            "get": {
                "operationId": "logging_stats",
                "tags": ["internal"],
                "summary": "Log shipping counters of the answering worker process",
                "description": "queued, sent, retried, spooled, replayed, dropped (by level), "
                "rejected and truncated events. Each gunicorn worker ships its own logs, so "
                "`pid` says which worker answered. Not routed by the load balancer.",
                "responses": {"200": json_response("Counters", counters), **edge_responses()},
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "tags": ["meta"],
                "summary": "This document",
                "responses": {
                    "200": json_response("OpenAPI 3.1 document", counters),
                    **edge_responses(),
                },
            }
        },
    }


def build_document(settings: Settings) -> dict[str, Any]:
    """The whole OpenAPI document for ``settings``."""
    paths = _meta_paths()
    for route in settings.routes:
        paths[route.prefix + "/{path}"] = _route_operations(route)
    paths.update(client_errors_openapi.ingest_paths())
    paths.update(ops_openapi.ops_paths())
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (Problem, "validation"),
        (Alive, "serialization"),
        (Ready, "serialization"),
        *client_errors_openapi.MODELS,
        *ops_openapi.MODELS,
    ]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "BFF",
            "version": package_version(),
            "description": "Same-origin front door for the site: proxies the catalog (Django) "
            "and orders (FastAPI) APIs under /api. Every error the BFF itself produces is an "
            "RFC 9457 problem+json document carrying the request id.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": ops_openapi.SECURITY_SCHEMES,
            "schemas": component_schemas(models),
        },
    }


@bp.get("/openapi.json")
def openapi_json() -> Response:
    """Serve the OpenAPI document."""
    settings: Settings = current_app.config["BFF_SETTINGS"]
    doc = current_app.extensions.get("bff.openapi")
    if doc is None:
        doc = current_app.extensions["bff.openapi"] = orjson.dumps(build_document(settings))
    return Response(doc, content_type="application/json")
