"""``GET /api/ops/client-errors``: client errors grouped by fingerprint."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterable, Mapping
from typing import Any

from flask import Response, current_app

from .blueprint import DAY_MINUTES, RETENTION_MINUTES, bp, iso_ms, json_response, minutes_param
from .cache import cached
from .incidents import event_view
from .logs import (
    CLIENT_ERRORS_STREAM_PREFIX,
    EXTENSION_KEY,
    LogsSource,
    LogsUnavailable,
    log_group_missing,
    scan_events,
    unavailable,
)

MAX_GROUPS = 100
MAX_INCIDENTS_PER_GROUP = 5


def _text(value: Any, limit: int = 1000) -> str:
    return value[:limit] if isinstance(value, str) else ""


def fingerprint_of(data: Mapping[str, Any]) -> str:
    """The event's ``fingerprint``, or one derived from type and message when it has none."""
    given = data.get("fingerprint")
    if isinstance(given, str) and re.fullmatch(r"[0-9a-f]{16}", given):
        return given
    basis = f"{_text(data.get('type'))}:{_text(data.get('message'))}".encode()
    return hashlib.sha256(basis).hexdigest()[:16]


def group_client_errors(events: Iterable[tuple[int, str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Group client-error records by fingerprint: counts, first/last seen, releases, a few
    incident codes and the newest event as the sample; most frequent first."""
    groups: dict[str, dict[str, Any]] = {}
    for timestamp, stream, record in sorted(events, key=lambda item: item[0]):
        data = record.get("data")
        if not isinstance(data, dict):
            continue
        key = fingerprint_of(data)
        group = groups.get(key)
        if group is None:
            group = groups[key] = {
                "fingerprint": key,
                "count": 0,
                "first_seen": iso_ms(timestamp),
                "releases": [],
                "sources": [],
                "incidents": [],
                "sessions": set(),
            }
        group["count"] += 1
        group["last_seen"] = iso_ms(timestamp)
        group["type"] = _text(data.get("type"), 200) or "Error"
        group["message"] = _text(data.get("message"))
        for member, value in (("releases", data.get("release")), ("sources", data.get("source"))):
            if isinstance(value, str) and value and value not in group[member]:
                group[member].append(value[:100])
        incident = data.get("incident")
        if isinstance(incident, str) and incident:
            if incident in group["incidents"]:
                group["incidents"].remove(incident)
            group["incidents"].insert(0, incident)
            del group["incidents"][MAX_INCIDENTS_PER_GROUP:]
        session = data.get("session")
        if isinstance(session, str) and len(group["sessions"]) < 10_000:
            group["sessions"].add(session)
        group["sample"] = event_view(timestamp, stream, record)
    ordered = sorted(groups.values(), key=lambda g: (g["count"], g["last_seen"]), reverse=True)
    for group in ordered:
        group["sessions"] = len(group["sessions"])
    return ordered[:MAX_GROUPS]


@bp.get("/client-errors")
def client_errors() -> Response:
    """Client errors of the last ``since`` minutes, grouped by fingerprint."""
    since = minutes_param("since", DAY_MINUTES, RETENTION_MINUTES)
    if isinstance(since, Response):
        return since
    source: LogsSource = current_app.extensions[EXTENSION_KEY]
    if source.group is None:
        return log_group_missing({"since_minutes": since, "groups": []})
    group_name = source.group

    def build() -> dict[str, Any]:
        end_ms = int(time.time() * 1000)
        scan = scan_events(
            source.client(),
            group_name,
            stream_prefix=CLIENT_ERRORS_STREAM_PREFIX,
            start_ms=end_ms - since * 60_000,
            end_ms=end_ms,
            keep=lambda record: isinstance(record.get("data"), dict),
        )
        groups = group_client_errors(scan.events)
        return {
            "configured": True,
            "log_group": group_name,
            "since_minutes": since,
            "generated_at": iso_ms(end_ms),
            "events": len(scan.events),
            "scanned": scan.scanned,
            "unreadable": scan.unreadable,
            "truncated": scan.truncated,
            "group_missing": scan.missing_group,
            "groups": groups,
        }

    try:
        return json_response(cached(("client-errors", since), build))
    except LogsUnavailable as exc:
        return unavailable(exc)
