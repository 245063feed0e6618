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

_INDEX_DOWN = _problem(
    "The error-group index (Redis) is not configured or cannot be reached: no numbers are "
    "given rather than wrong ones (Retry-After)."
)
_FINGERPRINT_PARAM = {
    "name": "fingerprint",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[0-9a-f]{16}$"},
}
_TIME_OR_NULL = {"type": ["string", "null"], "format": "date-time"}
_GROUP_FIELDS: dict[str, Any] = {
    "fingerprint": {"type": "string"},
    "status": {"enum": ["open", "resolved"]},
    "count": {"type": "integer"},
    "first_seen": _TIME_OR_NULL,
    "last_seen": _TIME_OR_NULL,
    "type": {"type": "string"},
    "message": {"type": "string"},
    "last_release": {"type": ["string", "null"]},
    "resolved_at": _TIME_OR_NULL,
    "resolved_release": {"type": ["string", "null"]},
    "reopened_at": _TIME_OR_NULL,
    "reopened_in": {"type": ["string", "null"]},
    "sessions": {"type": "integer", "description": "Distinct sessions (HyperLogLog, ~1%)."},
}
_GROUP_REQUIRED = ["fingerprint", "status", "count", "first_seen", "last_seen", "type", "message"]
_GROUP_SUMMARY = {
    "type": "object",
    "required": [*_GROUP_REQUIRED, "releases", "routes", "sparkline", "sessions"],
    "properties": {
        **_GROUP_FIELDS,
        "releases": {"type": "array", "items": {"type": "string"}},
        "routes": {"type": "array", "items": {"type": "string"}},
        "sparkline": {"type": "array", "items": {"type": "integer"}},
    },
}
_OCCURRENCE = {
    "type": "object",
    "required": ["incident", "request_id", "timestamp"],
    "properties": {
        "timestamp": _TIME_OR_NULL,
        "incident": {"type": ["string", "null"]},
        "request_id": {"type": ["string", "null"]},
        "release": {"type": ["string", "null"]},
        "route": {"type": ["string", "null"]},
        "failed_request_ids": {"type": "array", "items": {"type": "string"}},
    },
}
_GROUP_PAGE = {
    "type": "object",
    "required": [*_GROUP_REQUIRED, "releases", "routes", "latest", "minutes", "sample"],
    "properties": {
        **_GROUP_FIELDS,
        "generated_at": {"type": "string", "format": "date-time"},
        "releases": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["release", "count"],
                "properties": {
                    "release": {"type": "string"},
                    "count": {"type": "integer"},
                    "first_seen": _TIME_OR_NULL,
                },
            },
        },
        "routes": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["route", "count"],
                "properties": {"route": {"type": "string"}, "count": {"type": "integer"}},
            },
        },
        "latest": {"type": "array", "items": _OCCURRENCE},
        "minutes": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["t", "count"],
                "properties": {
                    "t": {"type": "string", "format": "date-time"},
                    "count": {"type": "integer"},
                },
            },
        },
        "sample": {"oneOf": [_EVENT, {"type": "null"}]},
    },
}
_RESOLUTION = {
    "type": "object",
    "required": ["fingerprint", "status"],
    "properties": {
        "fingerprint": {"type": "string"},
        "status": {"enum": ["open", "resolved"]},
        "resolved_at": _TIME_OR_NULL,
        "resolved_release": {"type": ["string", "null"]},
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
                "summary": "Error groups from the index",
                "description": "Read from the error-group index in Redis, which every BFF task "
                "updates as it ingests a report (never a scan of raw events): groups with an "
                "event in the last `since` minutes, at most `limit`, `matched` counts them all. "
                "`count` is every event of the group since it was first seen; `sparkline` the "
                "events per minute over the last `sparkline_minutes` minutes, oldest first.",
                "parameters": [
                    _minutes("since", 1440, 20160, "Groups with an event in this many minutes."),
                    {
                        "name": "status",
                        "in": "query",
                        "required": False,
                        "schema": {"enum": ["open", "resolved", "all"], "default": "open"},
                    },
                    {
                        "name": "sort",
                        "in": "query",
                        "required": False,
                        "schema": {"enum": ["count", "last_seen"], "default": "count"},
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "description": "At most this many groups.",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
                    },
                ],
                "responses": {
                    "200": _json(
                        "Groups, most frequent (or most recent) first",
                        {
                            "type": "object",
                            "required": ["since_minutes", "status", "matched", "groups"],
                            "properties": {
                                "configured": {"type": "boolean"},
                                "since_minutes": {"type": "integer"},
                                "status": {"enum": ["open", "resolved", "all"]},
                                "sort": {"enum": ["count", "last_seen"]},
                                "generated_at": {"type": "string", "format": "date-time"},
                                "matched": {"type": "integer"},
                                "truncated": {"type": "boolean"},
                                "sparkline_minutes": {"type": "integer"},
                                "groups": {"type": "array", "items": _GROUP_SUMMARY},
                            },
                        },
                    ),
                    "400": _BAD_QUERY,
                    **_COMMON,
                    "503": _INDEX_DOWN,
                },
            }
        },
        "/api/ops/client-errors/{fingerprint}": {
            "get": {
                "operationId": "ops_error_group",
                "tags": _TAG,
                "security": _SECURITY,
                "summary": "One error group: releases, routes, latest occurrences, sample",
                "description": "From the index. `latest` lists the newest occurrences (at most "
                "20) with their incident code (the incident view reads CloudWatch for one code) "
                "and the request id of the report; `minutes` the events per minute over the "
                "last `minutes` minutes (at most 24 h).",
                "parameters": [
                    _FINGERPRINT_PARAM,
                    _minutes("minutes", 1440, 1440, "Per-minute counts for this many minutes."),
                ],
                "responses": {
                    "200": _json("The group", _GROUP_PAGE),
                    "400": _problem("Not a fingerprint, or `minutes` out of range."),
                    **_COMMON,
                    "404": _problem("No such group in the index."),
                    "503": _INDEX_DOWN,
                },
            }
        },
        "/api/ops/client-errors/{fingerprint}/resolution": {
            "put": {
                "operationId": "ops_resolve_error_group",
                "tags": _TAG,
                "security": _SECURITY,
                "summary": "Mark a group resolved",
                "description": "Resolved at the group's last release. It reopens by itself "
                "when an event arrives in a release the index first saw after the resolution; "
                "events of older releases are counted and leave it resolved.",
                "parameters": [_FINGERPRINT_PARAM],
                "responses": {
                    "200": _json("The new state", _RESOLUTION),
                    "400": _problem("Not a fingerprint."),
                    **_COMMON,
                    "404": _problem("No such group in the index."),
                    "503": _INDEX_DOWN,
                },
            },
            "delete": {
                "operationId": "ops_reopen_error_group",
                "tags": _TAG,
                "security": _SECURITY,
                "summary": "Reopen a group",
                "parameters": [_FINGERPRINT_PARAM],
                "responses": {
                    "200": _json("The new state", _RESOLUTION),
                    "400": _problem("Not a fingerprint."),
                    **_COMMON,
                    "404": _problem("No such group in the index."),
                    "503": _INDEX_DOWN,
                },
            },
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
                "summary": "Proxied requests, 4xx, 5xx and client errors per minute",
                "description": "From the index: every BFF task counts its `bff.access` records "
                "and adds them every 2 s; client errors are counted as they are ingested.",
                "parameters": [_minutes("minutes", 60, 1440, "Window length in minutes.")],
                "responses": {
                    "200": _json(
                        "One bucket per minute, oldest first, empty minutes included",
                        {
                            "type": "object",
                            "properties": {
                                "configured": {"type": "boolean"},
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
                                            "client_errors": {"type": "integer"},
                                        },
                                    },
                                },
                            },
                        },
                    ),
                    "400": _BAD_QUERY,
                    **_COMMON,
                    "503": _INDEX_DOWN,
                },
            }
        },
    }
