"""The BFF's OpenAPI 3.1 document, generated from the route table so it cannot drift."""

from __future__ import annotations

from importlib import metadata
from typing import Any

import orjson
from flask import Blueprint, Response, current_app

from . import ops_openapi
from .client_errors import openapi as client_errors_openapi
from .problems import PROBLEM_CONTENT_TYPE
from .settings import Route, Settings

bp = Blueprint("openapi", __name__)

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_REQUEST_ID_HEADER = {
    "description": "Request id: the client's X-Request-ID if it was a safe token, else generated.",
    "schema": {"type": "string"},
}


def package_version() -> str:
    """The installed ``bff`` distribution's version (bff/pyproject.toml), as /ops shows it."""
    try:
        return metadata.version("bff")
    except metadata.PackageNotFoundError:
        return "unknown"


def _problem(description: str, extra_headers: dict[str, Any] | None = None) -> dict[str, Any]:
    headers: dict[str, Any] = {"X-Request-ID": _REQUEST_ID_HEADER}
    headers.update(extra_headers or {})
    return {
        "description": description,
        "headers": headers,
        "content": {PROBLEM_CONTENT_TYPE: {"schema": _PROBLEM_REF}},
    }


def _route_operations(route: Route) -> dict[str, Any]:
    upstream = route.upstream.name
    responses: dict[str, Any] = {
        "default": {
            "description": f"Whatever the {upstream} service answers, streamed through unchanged "
            "(hop-by-hop headers removed, Location and Set-Cookie paths mapped to this prefix).",
            "headers": {"X-Request-ID": _REQUEST_ID_HEADER},
        },
        "400": _problem(
            "Hostile or malformed path (dot segments, encoded slashes, '//'), "
            "or an unreadable request body."
        ),
        "405": _problem(
            "Method not allowed on this route.", {"Allow": {"schema": {"type": "string"}}}
        ),
        "413": _problem(f"Request body over {route.max_body_bytes} bytes."),
        "502": _problem(f"The {upstream} service could not be reached or broke the connection."),
        "503": _problem(
            f"Circuit open: the {upstream} service failed repeatedly and is not contacted "
            "for a while.",
            {"Retry-After": {"schema": {"type": "integer"}}},
        ),
        "504": _problem(
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
            f"{upstream}:{route.target_prefix or '/'}",
            "schema": {"type": "string"},
        },
        {
            "name": "X-Request-ID",
            "in": "header",
            "required": False,
            "description": "Propagated to the upstream and returned; 1-128 of [A-Za-z0-9._-].",
            "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,128}$"},
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


def build_document(settings: Settings) -> dict[str, Any]:
    """The whole OpenAPI document for ``settings``."""
    paths: dict[str, Any] = {
        "/healthz": {
            "get": {
                "operationId": "healthz",
                "tags": ["health"],
                "summary": "Liveness: the process answers (no dependency checks)",
                "responses": {
                    "200": {
                        "description": "Alive",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {"status": {"const": "ok"}},
                                    "required": ["status"],
                                }
                            }
                        },
                    }
                },
            }
        },
        "/readyz": {
            "get": {
                "operationId": "readyz",
                "tags": ["health"],
                "summary": "Readiness: every upstream answers its health check",
                "responses": {
                    "200": {
                        "description": "Every upstream is reachable",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "status": {"const": "ready"},
                                        "upstreams": {"type": "object"},
                                    },
                                    "required": ["status", "upstreams"],
                                }
                            }
                        },
                    },
                    "503": _problem(
                        "At least one upstream is unreachable; `upstreams` says which."
                    ),
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
                "responses": {
                    "200": {"description": "Counters", "content": {"application/json": {}}}
                },
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "tags": ["meta"],
                "summary": "This document",
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.1 document",
                        "content": {"application/json": {}},
                    }
                },
            }
        },
    }
    for route in settings.routes:
        paths[route.prefix + "/{path}"] = _route_operations(route)
    paths.update(client_errors_openapi.ingest_paths())
    paths.update(ops_openapi.ops_paths())
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
            "schemas": {
                **client_errors_openapi.SCHEMAS,
                "Problem": {
                    "type": "object",
                    "properties": {
                        "type": {"type": "string", "format": "uri-reference"},
                        "title": {"type": "string"},
                        "status": {"type": "integer"},
                        "detail": {"type": "string"},
                        "instance": {"type": "string"},
                        "request_id": {"type": "string"},
                    },
                    "required": ["type", "title", "status"],
                },
            },
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
