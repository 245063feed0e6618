"""OpenAPI paths and schemas of the ingest endpoints (merged into ``/openapi.json``)."""

from __future__ import annotations

from typing import Any, Final

from ..problems import PROBLEM_CONTENT_TYPE
from .ingest import ENVELOPE_MAX_BYTES, REPORT_MAX_BYTES, REPORTS_MAX_BYTES
from .report import BREADCRUMB_TYPES, KINDS, MAX_BREADCRUMBS, MAX_REQUEST_IDS

_PROBLEM: Final = {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
_RETRY_AFTER: Final = {"description": "Seconds to wait", "schema": {"type": "integer"}}
_NULLABLE_STRING: Final = {"type": ["string", "null"]}


def _problems(cap: int, *, sentry: bool = False) -> dict[str, Any]:
    limited_headers: dict[str, Any] = {"Retry-After": _RETRY_AFTER}
    if sentry:
        limited_headers["X-Sentry-Rate-Limits"] = {
            "description": "Sentry's rate-limit header: `<seconds>:<categories>:organization`",
            "schema": {"type": "string"},
        }
    return {
        "400": {
            "description": "Empty body or not valid JSON / envelope framing",
            "content": _PROBLEM,
        },
        "413": {"description": f"Body over {cap} bytes", "content": _PROBLEM},
        "415": {"description": "Unsupported Content-Type", "content": _PROBLEM},
        "422": {
            "description": "Valid JSON that does not match the format; `errors` lists "
            "JSON pointers",
            "content": _PROBLEM,
        },
        "429": {
            "description": "Rate limited (per client, or per error fingerprint)",
            "headers": limited_headers,
            "content": _PROBLEM,
        },
    }


SCHEMAS: Final[dict[str, Any]] = {
    "ClientErrorReport": {
        "type": "object",
        "description": "Client error report, format v1 (unknown keys are ignored).",
        "required": ["v", "incident", "kind", "error", "url"],
        "properties": {
            "v": {"const": 1},
            "incident": {"type": "string", "pattern": "^[A-Z0-9-]{6,32}$"},
            "kind": {"enum": list(KINDS)},
            "error": {
                "type": "object",
                "required": ["type", "message"],
                "properties": {
                    "type": {"type": "string", "maxLength": 200},
                    "message": {"type": "string", "maxLength": 8192},
                    "stack": {"type": "string", "maxLength": 32768},
                },
            },
            "url": {"type": "string", "maxLength": 2048},
            "route": {"type": "string", "maxLength": 256},
            "release": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"},
            "session": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"},
            "digest": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"},
            "breadcrumbs": {
                "type": "array",
                "maxItems": MAX_BREADCRUMBS,
                "items": {
                    "type": "object",
                    "required": ["t", "type"],
                    "properties": {
                        "t": {"type": "number", "description": "epoch ms"},
                        "type": {"enum": list(BREADCRUMB_TYPES)},
                        "data": {"type": "object", "description": "at most 2 KiB as JSON"},
                    },
                },
            },
            "request_ids": {
                "type": "array",
                "maxItems": MAX_REQUEST_IDS,
                "items": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,128}$"},
            },
            "ts": {"type": "number", "description": "client epoch ms"},
        },
    },
    "WebVitalsBatch": {
        "type": "object",
        "required": ["v", "metrics"],
        "properties": {
            "v": {"const": 1},
            "release": {"type": "string"},
            "url": {"type": "string", "maxLength": 2048},
            "route": {"type": "string", "maxLength": 256},
            "metrics": {
                "type": "array",
                "minItems": 1,
                "maxItems": 20,
                "items": {
                    "type": "object",
                    "required": ["name", "value", "rating", "id"],
                    "properties": {
                        "name": {"enum": ["LCP", "INP", "CLS", "FCP", "TTFB"]},
                        "value": {"type": "number", "minimum": 0},
                        "rating": {"enum": ["good", "needs-improvement", "poor"]},
                        "id": {"type": "string", "maxLength": 128},
                        "navigationType": {"type": "string", "maxLength": 32},
                    },
                },
            },
        },
    },
}


def _accepted(description: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"type": "object", "properties": properties}}},
    }


def ingest_paths() -> dict[str, Any]:
    """The ingest endpoints' path items."""
    report_ref = {"schema": {"$ref": "#/components/schemas/ClientErrorReport"}}
    vitals_ref = {"schema": {"$ref": "#/components/schemas/WebVitalsBatch"}}
    rid = {"type": "string"}
    return {
        "/api/client-errors": {
            "post": {
                "operationId": "client_errors_report",
                "tags": ["client-errors"],
                "summary": "One client error report (our reporter, or the Next.js server)",
                "description": "`text/plain` is accepted for `navigator.sendBeacon`. Known noise "
                "is answered 202 and counted, not logged.",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": report_ref, "text/plain": report_ref},
                },
                "responses": {
                    "202": _accepted(
                        "Accepted", {"incident": {"type": "string"}, "request_id": rid}
                    ),
                    **_problems(REPORT_MAX_BYTES),
                },
            }
        },
        "/api/client-errors/envelope": {
            "post": {
                "operationId": "client_errors_envelope",
                "tags": ["client-errors"],
                "summary": "Sentry envelope (`@sentry/browser` with `tunnel`)",
                "description": "`event` items are ingested; `session`, `client_report` and other "
                "items are skipped and counted. No DSN or public key is required.",
                "requestBody": {
                    "required": True,
                    "content": {
                        "text/plain": {"schema": {"type": "string"}},
                        "application/x-sentry-envelope": {"schema": {"type": "string"}},
                    },
                },
                "responses": {
                    "202": _accepted("Accepted", {"id": _NULLABLE_STRING, "request_id": rid}),
                    **_problems(ENVELOPE_MAX_BYTES, sentry=True),
                },
            }
        },
        "/api/client-errors/reports": {
            "post": {
                "operationId": "client_errors_browser_reports",
                "tags": ["client-errors"],
                "summary": "Reporting API batches and legacy CSP reports",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/reports+json": {"schema": {"type": "array"}},
                        "application/csp-report": {
                            "schema": {
                                "type": "object",
                                "required": ["csp-report"],
                                "properties": {"csp-report": {"type": "object"}},
                            }
                        },
                    },
                },
                "responses": {
                    "202": _accepted(
                        "Accepted",
                        {
                            "accepted": {"type": "integer"},
                            "filtered": {"type": "integer"},
                            "rate_limited": {"type": "integer"},
                            "request_id": rid,
                        },
                    ),
                    **_problems(REPORTS_MAX_BYTES),
                },
            }
        },
        "/api/vitals": {
            "post": {
                "operationId": "web_vitals",
                "tags": ["client-errors"],
                "summary": "A Web Vitals batch: one `bff.vitals` record per metric",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": vitals_ref, "text/plain": vitals_ref},
                },
                "responses": {
                    "202": _accepted(
                        "Accepted", {"accepted": {"type": "integer"}, "request_id": rid}
                    ),
                    **_problems(16 * 1024),
                },
            }
        },
        "/internal/client-errors": {
            "get": {
                "operationId": "client_errors_stats",
                "tags": ["internal"],
                "summary": "Ingest counters of the answering worker process",
                "description": "accepted (by source), filtered (by reason), scrubbed (by rule), "
                "rate_limited (by limit), symbolication (by frame status), invalid (by status), "
                "skipped envelope items, rate-limit storage errors, the source-map cache, and "
                "the client-errors stream's shipping counters. Not routed by the load balancer.",
                "responses": {
                    "200": {"description": "Counters", "content": {"application/json": {}}}
                },
            }
        },
    }
