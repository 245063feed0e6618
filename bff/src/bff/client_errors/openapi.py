"""OpenAPI paths of the ingest endpoints (merged into ``/openapi.json``); their schemas are the
models of ``bff.schemas.ingest``."""

from __future__ import annotations

from typing import Any, Final

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import JsonSchemaMode

from ..schemas.document import REF_TEMPLATE, edge_responses, json_response, problem, ref
from ..schemas.ingest import (
    BrowserReportsAccepted,
    ClientErrorReport,
    CspReport,
    EnvelopeAccepted,
    ReportAccepted,
    ReportingApiBatch,
    ReportingApiReport,
    VitalsAccepted,
    WebVitalsBatch,
)
from ..schemas.sentry import EnvelopeHeader, EnvelopeItemHeader, SentryEvent
from .envelope import MAX_EVENTS, MAX_ITEMS
from .ingest import ENVELOPE_MAX_BYTES, REPORT_MAX_BYTES, REPORTS_MAX_BYTES

#: The models this part of the document refers to (``components.schemas``).
MODELS: Final[list[tuple[type[BaseModel], JsonSchemaMode]]] = [
    (ClientErrorReport, "validation"),
    (WebVitalsBatch, "validation"),
    (ReportingApiReport, "validation"),
    (CspReport, "validation"),
    (EnvelopeHeader, "validation"),
    (EnvelopeItemHeader, "validation"),
    (SentryEvent, "validation"),
    (ReportAccepted, "serialization"),
    (EnvelopeAccepted, "serialization"),
    (BrowserReportsAccepted, "serialization"),
    (VitalsAccepted, "serialization"),
]
_RETRY_AFTER: Final = {"description": "Seconds to wait", "schema": {"type": "integer"}}


_ENVELOPE_DESCRIPTION: Final = (
    "Newline-delimited, so the body is not one JSON document and has no JSON schema: a header "
    "line (a JSON object, `EnvelopeHeader`), then items, each a JSON item header line "
    "(`EnvelopeItemHeader`: `type` and optional `length`) and its payload: exactly `length` "
    "bytes (then an optional newline) or, without `length`, the rest of the line. At most "
    f"{MAX_ITEMS} items. The payload of an `event` item is a JSON object read as `SentryEvent` "
    "(only the members listed there are read; others are ignored); up to "
    f"{MAX_EVENTS} events are ingested. `session`, `client_report` and other items are "
    "skipped and counted. No DSN or public key is required. A header or event that is not a "
    "JSON object, or a member of the wrong type, is a 400 whose `errors` give a JSON pointer "
    "into that line or payload (the `detail` names which).\n\n"
    "Schemas: `#/components/schemas/EnvelopeHeader`, `#/components/schemas/EnvelopeItemHeader`, "
    "`#/components/schemas/SentryEvent`."
)


def _problems(cap: int, *, sentry: bool = False) -> dict[str, Any]:
    limited_headers: dict[str, Any] = {"Retry-After": _RETRY_AFTER}
    if sentry:
        limited_headers["X-Sentry-Rate-Limits"] = {
            "description": "Sentry's rate-limit header: `<seconds>:<categories>:organization`",
            "schema": {"type": "string"},
        }
    return {
        **edge_responses(),
        "400": problem(
            "Empty body; not valid JSON; for an envelope, malformed framing, or a header or event "
            "that does not match its schema (`errors` lists each refused member)"
        ),
        "413": problem(f"Body over {cap} bytes"),
        "415": problem("Unsupported Content-Type"),
        "422": problem(
            "Valid JSON that does not match the format; `errors` lists each refused member "
            "(a JSON pointer and the reason)"
        ),
        "429": problem("Rate limited (per client, or per error fingerprint)", limited_headers),
    }


def ingest_paths() -> dict[str, Any]:
    """The ingest endpoints' path items."""
    report = {"schema": ref(ClientErrorReport)}
    vitals = {"schema": ref(WebVitalsBatch)}
    batch_schema = TypeAdapter(ReportingApiBatch).json_schema(ref_template=REF_TEMPLATE)
    batch_schema.pop("$defs", None)  # ReportingApiReport is in components.schemas
    batch = {"schema": batch_schema}
    csp = {"schema": ref(CspReport)}
    counters = {"type": "object", "additionalProperties": True}
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
                    "content": {"application/json": report, "text/plain": report},
                },
                "responses": {
                    "202": json_response("Accepted", ReportAccepted),
                    **_problems(REPORT_MAX_BYTES),
                },
            }
        },
        "/api/client-errors/envelope": {
            "post": {
                "operationId": "client_errors_envelope",
                "tags": ["client-errors"],
                "summary": "Sentry envelope (`@sentry/browser` with `tunnel`)",
                "description": _ENVELOPE_DESCRIPTION,
                "requestBody": {
                    "required": True,
                    "content": {
                        "text/plain": {"schema": {"type": "string", "minLength": 1}},
                        "application/x-sentry-envelope": {
                            "schema": {"type": "string", "minLength": 1}
                        },
                    },
                },
                "responses": {
                    "202": json_response("Accepted", EnvelopeAccepted),
                    **_problems(ENVELOPE_MAX_BYTES, sentry=True),
                },
            }
        },
        "/api/client-errors/reports": {
            "post": {
                "operationId": "client_errors_browser_reports",
                "tags": ["client-errors"],
                "summary": "Reporting API batches and legacy CSP reports",
                "description": "`application/json` may carry either shape.",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/reports+json": batch,
                        "application/csp-report": csp,
                    },
                },
                "responses": {
                    "202": json_response("Accepted", BrowserReportsAccepted),
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
                    "content": {"application/json": vitals, "text/plain": vitals},
                },
                "responses": {
                    "202": json_response("Accepted", VitalsAccepted),
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
                "responses": {"200": json_response("Counters", counters), **edge_responses()},
            }
        },
    }
