"""``GET /api/ops/incidents/<code>``: one incident's events and the server records of the
failed requests they list, read from CloudWatch with a time window and bounds."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from typing import Any

from flask import Response, current_app

from ..errors import problem_response
from ..schemas.ingest import REQUEST_ID_PATTERN
from ..schemas.ops import (
    INCIDENT_CODE_PATTERN,
    Incident,
    IncidentNotConfigured,
    IncidentQuery,
    OpsEvent,
    Related,
)
from .blueprint import bp, iso_ms, json_response, query
from .logs import (
    CLIENT_ERRORS_STREAM_PREFIX,
    EXTENSION_KEY,
    LOG_GROUP_MISSING,
    LogsClient,
    LogsSource,
    LogsUnavailable,
    scan_events,
    unavailable,
)

INCIDENT_CODE = re.compile(INCIDENT_CODE_PATTERN.strip("^$"))
MAX_INCIDENT_EVENTS = 20
MAX_RELATED_IDS = 10  # request ids of failed calls looked up per incident
MAX_RELATED_RECORDS = 200
RELATED_BEFORE_MS = 15 * 60_000  # server records searched from this long before the event ...
RELATED_AFTER_MS = 5 * 60_000  # ... to this long after it
REQUEST_ID = re.compile(REQUEST_ID_PATTERN)  # what a report may list as request_ids
RELATED_DATA_FIELDS = ("status", "method", "path", "duration_ms", "upstream_status")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def event_view(timestamp: int, stream: str, record: Mapping[str, Any]) -> OpsEvent:
    """One client-error record as the ops API shows it."""
    data = record.get("data")
    return OpsEvent.model_validate(
        {
            "timestamp": iso_ms(timestamp),
            "stream": stream,
            "message": _text(record.get("message")),
            "request_id": _text(record.get("request_id")),
            "data": data if isinstance(data, dict) else {},
        }
    )


@bp.get("/incidents/<code>")
def incident(code: str) -> Response:
    """Every client-error event carrying incident ``code`` (the code users quote)."""
    if not INCIDENT_CODE.fullmatch(code):
        return problem_response(
            400,
            "bad-incident-code",
            "an incident code is 6 to 32 letters, digits and '-'",
        )
    normalized = code.upper()
    since = query(IncidentQuery).since
    source: LogsSource = current_app.extensions[EXTENSION_KEY]
    if source.group is None:
        return json_response(
            IncidentNotConfigured(detail=LOG_GROUP_MISSING, incident=normalized, events=[])
        )
    group_name = source.group

    def matches(record: dict[str, Any]) -> bool:
        data = record.get("data")
        return isinstance(data, dict) and str(data.get("incident", "")).upper() == normalized

    end_ms = int(time.time() * 1000)
    try:
        scan = scan_events(
            source.client(),
            group_name,
            stream_prefix=CLIENT_ERRORS_STREAM_PREFIX,
            start_ms=end_ms - since * 60_000,
            end_ms=end_ms,
            filter_pattern=f'{{ $.data.incident = "{normalized}" }}',
            keep=matches,
        )
    except LogsUnavailable as exc:
        return unavailable(exc)
    if not scan.events:
        return problem_response(
            404,
            "incident-not-found",
            f"no client error with incident {normalized} in the last {since} minutes"
            + (" (the search stopped early)" if scan.truncated else ""),
            extra={"incident": normalized, "truncated": scan.truncated},
        )
    newest_first = sorted(scan.events, key=lambda item: item[0], reverse=True)[:MAX_INCIDENT_EVENTS]
    return json_response(
        Incident(
            incident=normalized,
            log_group=group_name,
            since_minutes=since,
            truncated=scan.truncated,
            events=[event_view(*item) for item in newest_first],
            related=Related.model_validate(
                related_records(source.client(), group_name, newest_first, end_ms)
            ),
        )
    )


def failed_request_ids(events: Iterable[tuple[int, str, dict[str, Any]]]) -> list[str]:
    """The distinct, well-formed ``data.request_ids`` of client-error events, at most
    ``MAX_RELATED_IDS``, in the order the events list them."""
    ids: list[str] = []
    for _timestamp, _stream, record in events:
        data = record.get("data")
        listed = data.get("request_ids") if isinstance(data, dict) else None
        for value in listed if isinstance(listed, list) else ():
            if isinstance(value, str) and REQUEST_ID.fullmatch(value) and value not in ids:
                ids.append(value)
                if len(ids) == MAX_RELATED_IDS:
                    return ids
    return ids


def request_id_filter(ids: Iterable[str]) -> str:
    """The CloudWatch JSON filter pattern for records whose ``request_id`` is one of ``ids``."""
    return "{ " + " || ".join(f'$.request_id = "{value}"' for value in ids) + " }"


def _related_view(timestamp: int, stream: str, record: Mapping[str, Any]) -> dict[str, Any]:
    data = record.get("data")
    fields = data if isinstance(data, dict) else {}
    service = record.get("service")
    return {
        "timestamp": iso_ms(timestamp),
        "stream": stream,
        "service": service if isinstance(service, str) else stream.split("/", 1)[0],
        "logger": record.get("logger"),
        "level": record.get("level"),
        "message": record.get("message"),
        "request_id": record.get("request_id"),
        **{name: fields.get(name) for name in RELATED_DATA_FIELDS},
    }


def related_records(
    client: LogsClient,
    group: str,
    events: list[tuple[int, str, dict[str, Any]]],
    now_ms: int,
) -> dict[str, Any]:
    """Server log records (any stream but ``client-errors/``) carrying one of the events'
    failed request ids, from ``RELATED_BEFORE_MS`` before the oldest event to
    ``RELATED_AFTER_MS`` after the newest; oldest first."""
    ids = failed_request_ids(events)
    answer: dict[str, Any] = {"request_ids": ids, "truncated": False, "records": []}
    if not ids or not events:
        return answer
    start_ms = min(item[0] for item in events) - RELATED_BEFORE_MS
    end_ms = min(max(item[0] for item in events) + RELATED_AFTER_MS, now_ms)
    answer.update(start=iso_ms(max(start_ms, 0)), end=iso_ms(max(end_ms, 0)))
    wanted = set(ids)
    try:
        scan = scan_events(
            client,
            group,
            stream_prefix="",
            start_ms=max(start_ms, 0),
            end_ms=max(end_ms, 0),
            filter_pattern=request_id_filter(ids),
            keep=lambda record: record.get("request_id") in wanted,
        )
    except LogsUnavailable as exc:
        answer["unavailable"] = str(exc)
        return answer
    found = sorted(
        (item for item in scan.events if not item[1].startswith(CLIENT_ERRORS_STREAM_PREFIX)),
        key=lambda item: item[0],
    )
    answer["truncated"] = scan.truncated or len(found) > MAX_RELATED_RECORDS
    answer["records"] = [_related_view(*item) for item in found[:MAX_RELATED_RECORDS]]
    return answer
