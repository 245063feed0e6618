"""``GET /api/ops/traffic``: proxied requests, 4xx and 5xx answers and client errors per
minute, read from the index (every BFF task adds its counts; see ``TrafficCounter``)."""

from __future__ import annotations

import time

from flask import Response

from ..schemas.ops import Traffic, TrafficQuery
from .blueprint import bp, iso_ms, json_response, query
from .groups import current_index

SERIES = ("requests", "errors_4xx", "errors_5xx", "client_errors")


@bp.get("/traffic")
def traffic() -> Response:
    """One bucket per minute over the last ``minutes`` minutes, empty minutes included."""
    minutes = query(TrafficQuery).minutes
    index = current_index()
    now_ms = int(time.time() * 1000)
    first = now_ms // 60_000 - minutes + 1
    rows = index.traffic(first, minutes)
    buckets = [{"t": iso_ms(row["minute"] * 60_000), **{s: row[s] for s in SERIES}} for row in rows]
    return json_response(
        Traffic.model_validate(
            {
                "configured": True,
                "minutes": minutes,
                "bucket_seconds": 60,
                "generated_at": iso_ms(now_ms),
                "totals": {s: sum(b[s] for b in buckets) for s in SERIES},
                "buckets": buckets,
            }
        )
    )
