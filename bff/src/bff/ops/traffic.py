"""``GET /api/ops/traffic``: proxied requests and 4xx/5xx answers per minute."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from flask import Response, current_app

from ..settings import Settings
from .blueprint import DAY_MINUTES, bp, iso_ms, json_response, minutes_param
from .cache import cached
from .logs import (
    EXTENSION_KEY,
    LogsSource,
    LogsUnavailable,
    log_group_missing,
    scan_events,
    unavailable,
)


def bucket_traffic(
    events: Iterable[tuple[int, str, dict[str, Any]]], start_ms: int, end_ms: int
) -> list[dict[str, Any]]:
    """Requests, 4xx and 5xx per minute from access records, one bucket for every minute from
    ``start_ms`` to ``end_ms`` (empty minutes included, so a chart has no gaps)."""
    first = start_ms // 60_000
    last = end_ms // 60_000
    buckets: list[dict[str, Any]] = [
        {"t": iso_ms(minute * 60_000), "requests": 0, "errors_4xx": 0, "errors_5xx": 0}
        for minute in range(first, last + 1)
    ]
    for timestamp, _stream, record in events:
        index = timestamp // 60_000 - first
        if not 0 <= index < len(buckets):
            continue
        data = record.get("data")
        status = data.get("status") if isinstance(data, dict) else None
        bucket = buckets[index]
        bucket["requests"] += 1
        if isinstance(status, int):
            if 500 <= status <= 599:
                bucket["errors_5xx"] += 1
            elif 400 <= status <= 499:
                bucket["errors_4xx"] += 1
    return buckets


@bp.get("/traffic")
def traffic() -> Response:
    """Proxied requests and 4xx/5xx answers per minute over the last ``minutes`` minutes."""
    minutes = minutes_param("minutes", 60, DAY_MINUTES)
    if isinstance(minutes, Response):
        return minutes
    settings: Settings = current_app.config["BFF_SETTINGS"]
    source: LogsSource = current_app.extensions[EXTENSION_KEY]
    if source.group is None:
        return log_group_missing({"minutes": minutes, "buckets": []})
    group_name = source.group

    def build() -> dict[str, Any]:
        end_ms = int(time.time() * 1000)
        start_ms = (end_ms // 60_000 - minutes + 1) * 60_000
        scan = scan_events(
            source.client(),
            group_name,
            stream_prefix=f"{settings.service}/",
            start_ms=start_ms,
            end_ms=end_ms,
            filter_pattern='{ $.logger = "bff.access" }',
            keep=lambda record: record.get("logger") == "bff.access",
        )
        buckets = bucket_traffic(scan.events, start_ms, end_ms)
        return {
            "configured": True,
            "log_group": group_name,
            "minutes": minutes,
            "bucket_seconds": 60,
            "generated_at": iso_ms(end_ms),
            "truncated": scan.truncated,
            "totals": {
                name: sum(b[name] for b in buckets)
                for name in ("requests", "errors_4xx", "errors_5xx")
            },
            "buckets": buckets,
        }

    try:
        return json_response(cached(("traffic", minutes), build))
    except LogsUnavailable as exc:
        return unavailable(exc)
