"""OpenAPI description of the ops API (``/api/ops/*``), merged into ``/openapi.json``; its
parameters and schemas are the models of ``bff.schemas.ops``."""

from __future__ import annotations

from typing import Any, Final

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode

from .schemas.document import (
    RETRY_AFTER_HEADER,
    edge_responses,
    json_response,
    problem,
    query_parameters,
    ref,
)
from .schemas.events import ClientErrorEvent
from .schemas.ops import (
    FINGERPRINT_PATTERN,
    INCIDENT_CODE_PATTERN,
    ClientErrors,
    ErrorGroupPage,
    Frame,
    GroupQuery,
    GroupsQuery,
    Incident,
    IncidentNotConfigured,
    IncidentQuery,
    OpsSummary,
    Resolution,
    Traffic,
    TrafficQuery,
)

SECURITY_SCHEMES: dict[str, Any] = {
    "opsBearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "The value of BFF_OPS_TOKEN. Without a configured token the ops API is "
        "open in development and answers 404 in production.",
    }
}

#: The models this part of the document refers to (``components.schemas``); ``ClientErrorEvent``
#: and ``Frame`` type an event's ``data`` for the site.
MODELS: Final[list[tuple[type[BaseModel], JsonSchemaMode]]] = [
    (OpsSummary, "serialization"),
    (ClientErrors, "serialization"),
    (ErrorGroupPage, "serialization"),
    (Resolution, "serialization"),
    (Incident, "serialization"),
    (IncidentNotConfigured, "serialization"),
    (Traffic, "serialization"),
    (Frame, "serialization"),
    (ClientErrorEvent, "serialization"),
]

_TAG = ["ops"]
_SECURITY: list[dict[str, list[str]]] = [{"opsBearer": []}]


def _common() -> dict[str, Any]:
    return {
        **edge_responses(),
        "401": problem(
            "Missing or wrong bearer token.",
            {"WWW-Authenticate": {"schema": {"type": "string"}}},
        ),
        "404": problem("Production without BFF_OPS_TOKEN: the ops API does not exist."),
        "429": problem(
            "Too many requests with a missing or wrong token from this client (BFF_OPS_AUTH_RATE).",
            RETRY_AFTER_HEADER,
        ),
    }


_LOGS_DOWN = problem("CloudWatch Logs could not be read.", RETRY_AFTER_HEADER)
_INDEX_DOWN = problem(
    "The error-group index (Redis) is not configured or cannot be reached: no numbers are "
    "given rather than wrong ones.",
    RETRY_AFTER_HEADER,
)
_BAD_QUERY = "A query parameter is refused (`errors` names each one)."
_FINGERPRINT_PARAM = {
    "name": "fingerprint",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": FINGERPRINT_PATTERN},
}


def ops_paths() -> dict[str, Any]:
    """Path items for the ops endpoints."""
    not_found = problem("No such group in the index.")
    resolution = {
        "200": json_response("The new state", Resolution),
        **_common(),
        "400": problem("Not a fingerprint."),
        "404": not_found,
        "503": _INDEX_DOWN,
    }
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
                "responses": {"200": json_response("Summary", OpsSummary), **_common()},
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
                "parameters": query_parameters(GroupsQuery),
                "responses": {
                    "200": json_response(
                        "Groups, most frequent (or most recent) first", ClientErrors
                    ),
                    **_common(),
                    "400": problem(_BAD_QUERY),
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
                "parameters": [_FINGERPRINT_PARAM, *query_parameters(GroupQuery)],
                "responses": {
                    "200": json_response("The group", ErrorGroupPage),
                    **_common(),
                    "400": problem("Not a fingerprint, or a refused query parameter."),
                    "404": not_found,
                    "503": _INDEX_DOWN,
                },
            }
        },
        "/api/ops/client-errors/{fingerprint}/resolution": {
            "parameters": [_FINGERPRINT_PARAM],
            "put": {
                "operationId": "ops_resolve_error_group",
                "tags": _TAG,
                "security": _SECURITY,
                "summary": "Mark a group resolved",
                "description": "Resolved at the group's last release. It reopens by itself "
                "when an event arrives in a release the index first saw after the resolution; "
                "events of older releases are counted and leave it resolved.",
                "responses": resolution,
            },
            "delete": {
                "operationId": "ops_reopen_error_group",
                "tags": _TAG,
                "security": _SECURITY,
                "summary": "Reopen a group",
                "responses": resolution,
            },
        },
        "/api/ops/incidents/{code}": {
            "get": {
                "operationId": "ops_incident",
                "tags": _TAG,
                "security": _SECURITY,
                "summary": "The client-error event(s) with one incident code",
                "description": "With `related`: the server log records of the failed requests "
                "the events list, joined on `request_id` across every service's streams. "
                "Without a log group configured: 200 with `configured: false`.",
                "parameters": [
                    {
                        "name": "code",
                        "in": "path",
                        "required": True,
                        "description": "The code shown to the user (case-insensitive).",
                        "schema": {"type": "string", "pattern": INCIDENT_CODE_PATTERN},
                    },
                    *query_parameters(IncidentQuery),
                ],
                "responses": {
                    "200": json_response(
                        "Matching events, newest first",
                        {"oneOf": [ref(Incident), ref(IncidentNotConfigured)]},
                    ),
                    **_common(),
                    "400": problem("Not an incident code, or a refused query parameter."),
                    "404": problem(
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
                "parameters": query_parameters(TrafficQuery),
                "responses": {
                    "200": json_response(
                        "One bucket per minute, oldest first, empty minutes included", Traffic
                    ),
                    **_common(),
                    "400": problem(_BAD_QUERY),
                    "503": _INDEX_DOWN,
                },
            }
        },
    }
