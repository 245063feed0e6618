"""OpenAPI description of the ops API (``/api/ops/*``), merged into ``/openapi.json``."""

from __future__ import annotations

from typing import Any

from .problems import PROBLEM_CONTENT_TYPE

SECURITY_SCHEMES: dict[str, Any] = {
    "opsBearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "The value of BFF_OPS_TOKEN. Without a configured token the ops API is "
        "open in development and answers 404 in production.",
    }
}

_TAG = ["ops"]
_SECURITY: list[dict[str, list[str]]] = [{"opsBearer": []}]


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _minutes(name: str, default: int, maximum: int, what: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": what,
        "schema": {"type": "integer", "minimum": 1, "maximum": maximum, "default": default},
    }


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_COMMON = {
    "401": _problem("Missing or wrong bearer token (WWW-Authenticate: Bearer)."),
    "404": _problem("Production without BFF_OPS_TOKEN: the ops API does not exist."),
    "429": _problem(
        "Too many requests with a missing or wrong token from this client "
        "(BFF_OPS_AUTH_RATE; Retry-After)."
    ),
}
_LOGS_DOWN = _problem("CloudWatch Logs could not be read (Retry-After).")
_BAD_QUERY = _problem("A query parameter is out of range.")
_FRAME = {
    "type": "object",
    "properties": {
        "function": {"type": ["string", "null"]},
        "file": {"type": ["string", "null"]},
        "line": {"type": ["integer", "null"]},
        "column": {"type": ["integer", "null"]},
        "status": {
            "enum": [
                "symbolicated",
                "no-release",
                "no-map",
                "map-unreadable",
                "not-in-map",
                "not-minified",
            ]
        },
        "minified": {"type": "object"},
    },
}
_EVENT = {
    "type": "object",
    "description": "One client-error record as stored in CloudWatch; `data` follows the "
    "client-error event contract (incident, fingerprint, frames, breadcrumbs, ...).",
    "properties": {
        "timestamp": {"type": "string", "format": "date-time"},
        "stream": {"type": "string"},
        "message": {"type": "string"},
        "request_id": {"type": ["string", "null"]},
        "data": {
            "type": "object",
            "properties": {"frames": {"type": "array", "items": _FRAME}},
        },
    },
}

_RELATED = {
    "type": "object",
    "description": "Server log records (any stream but `client-errors/`) whose `request_id` is "
    "one of the events' `data.request_ids` (the failed API calls the browser made; at most 10 "
    "ids), from 15 minutes before the oldest event to 5 minutes after the newest, oldest first, "
    "at most 200. `unavailable` says why they could not be read (the events are still "
    "answered).",
    "required": ["request_ids", "truncated", "records"],
    "properties": {
        "request_ids": {"type": "array", "items": {"type": "string"}},
        "start": {"type": "string", "format": "date-time"},
        "end": {"type": "string", "format": "date-time"},
        "truncated": {"type": "boolean"},
        "unavailable": {"type": "string"},
        "records": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["timestamp", "stream", "service"],
                "properties": {
                    "timestamp": {"type": "string", "format": "date-time"},
                    "stream": {"type": "string"},
                    "service": {"type": "string"},
                    "logger": {"type": ["string", "null"]},
                    "level": {"type": ["string", "null"]},
                    "message": {"type": ["string", "null"]},
                    "request_id": {"type": ["string", "null"]},
                    "status": {"type": ["integer", "null"]},
                    "method": {"type": ["string", "null"]},
                    "path": {"type": ["string", "null"]},
                    "duration_ms": {"type": ["number", "null"]},
                    "upstream_status": {"type": ["integer", "null"]},
                },
            },
        },
    },
}


def ops_paths() -> dict[str, Any]:
    """Path items for the ops endpoints."""
    return {
        "/api/ops/summary": {
            "get": {
                "operationId": "ops_summary",
                "tags": _TAG,
                "security": _SECURITY,
                "summary": "Upstream health and latency, log shipping counters, BFF version",
                "description": "Upstreams are probed on their health path (cached for "
                "BFF_OPS_CACHE_SECONDS); the logging counters are those of the worker that "
                "answers (`logging.pid`).",
                "responses": {
                    "200": _json(
                        "Summary",
                        {
                            "type": "object",
                            "properties": {
                                "service": {"type": "string"},
                                "environment": {"type": "string"},
                                "version": {"type": "string"},
                                "generated_at": {"type": "string", "format": "date-time"},
                                "upstreams": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "properties": {
                                            "name": {"type": "string"},
                                            "host": {"type": "string"},
                                            "healthy": {"type": "boolean"},
                                            "status": {"type": ["integer", "null"]},
                                            "error": {"type": ["string", "null"]},
                                            "latency_ms": {"type": "number"},
                                            "circuit": {"type": "string"},
                                        },
                                    },
                                },
                                "logging": {"type": "object"},
                            },
                        },
                    ),
                    **_COMMON,
                },
            }
        },
        "/api/ops/client-errors": {
            "get": {
                "operationId": "ops_client_errors",
                "tags": _TAG,
                "security": _SECURITY,
                "summary": "Client errors grouped by fingerprint",
                "description": "Read from the log group's `client-errors/` streams; bounded "
                "(pages, events, 8 s), `truncated` says when a bound was hit. Without "
                "LOG_CLOUDWATCH_GROUP: 200 with `configured: false` and a `detail`.",
                "parameters": [_minutes("since", 1440, 20160, "Look back this many minutes.")],
                "responses": {
                    "200": _json(
                        "Groups, most frequent first",
                        {
                            "type": "object",
                            "properties": {
                                "configured": {"type": "boolean"},
                                "truncated": {"type": "boolean"},
                                "groups": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "properties": {
                                            "fingerprint": {"type": "string"},
                                            "count": {"type": "integer"},
                                            "first_seen": {"type": "string"},
                                            "last_seen": {"type": "string"},
                                            "type": {"type": "string"},
                                            "message": {"type": "string"},
                                            "releases": {
                                                "type": "array",
                                                "items": {"type": "string"},
                                            },
                                            "incidents": {
                                                "type": "array",
                                                "items": {"type": "string"},
                                            },
                                            "sessions": {"type": "integer"},
                                            "sample": _EVENT,
                                        },
                                    },
                                },
                            },
                        },
                    ),
                    "400": _BAD_QUERY,
                    **_COMMON,
                    "503": _LOGS_DOWN,
                },
            }
        },
        "/api/ops/incidents/{code}": {
            "get": {
                "operationId": "ops_incident",
                "tags": _TAG,
                "security": _SECURITY,
                "summary": "The client-error event(s) with one incident code",
                "description": "With `related`: the server log records of the failed requests "
                "the events list, joined on `request_id` across every service's streams.",
                "parameters": [
                    {
                        "name": "code",
                        "in": "path",
                        "required": True,
                        "description": "The code shown to the user (case-insensitive).",
                        "schema": {"type": "string", "pattern": "^[A-Za-z0-9-]{6,32}$"},
                    },
                    _minutes("since", 10080, 20160, "Look back this many minutes."),
                ],
                "responses": {
                    "200": _json(
                        "Matching events, newest first",
                        {
                            "type": "object",
                            "properties": {
                                "incident": {"type": "string"},
                                "truncated": {"type": "boolean"},
                                "events": {"type": "array", "items": _EVENT},
                                "related": _RELATED,
                            },
                        },
                    ),
                    "400": _problem("Not an incident code, or `since` out of range."),
                    **_COMMON,
                    "404": _problem(
                        "No event with that code (or, in production without a token, no ops API)."
                    ),
                    "503": _LOGS_DOWN,
                },
            }
        },
        "/api/ops/traffic": {
            "get": {
                "operationId": "ops_traffic",
                "tags": _TAG,
                "security": _SECURITY,
                "summary": "Proxied requests, 4xx and 5xx per minute",
                "description": "Counted from the BFF's `bff.access` records in its own streams.",
                "parameters": [_minutes("minutes", 60, 1440, "Window length in minutes.")],
                "responses": {
                    "200": _json(
                        "One bucket per minute, oldest first, empty minutes included",
                        {
                            "type": "object",
                            "properties": {
                                "minutes": {"type": "integer"},
                                "totals": {"type": "object"},
                                "buckets": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "properties": {
                                            "t": {"type": "string", "format": "date-time"},
                                            "requests": {"type": "integer"},
                                            "errors_4xx": {"type": "integer"},
                                            "errors_5xx": {"type": "integer"},
                                        },
                                    },
                                },
                            },
                        },
                    ),
                    "400": _BAD_QUERY,
                    **_COMMON,
                    "503": _LOGS_DOWN,
                },
            }
        },
    }
