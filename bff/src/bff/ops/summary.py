"""``GET /api/ops/summary``: upstream health and latency, log shipping counters, the version."""

from __future__ import annotations

import os
import time
from typing import Any

from flask import Response, current_app
from logship import setup as logship_setup

from ..health import check_upstreams
from ..openapi import package_version
from ..proxy.pool import UpstreamClients
from ..schemas.ops import OpsSummary
from ..settings import Settings
from .blueprint import bp, iso_ms, json_response
from .cache import cached


def shipping_counters() -> dict[str, Any]:
    """Log shipping state of this worker (what ``/internal/logging`` serves)."""
    active = logship_setup.active()
    handler = active.cloudwatch_handler if active is not None else None
    return {
        "pid": os.getpid(),
        "shipping": handler is not None,
        "group": getattr(handler, "log_group_name", None),
        "stats": active.stats() if active is not None else {},
    }


@bp.get("/summary")
def summary() -> Response:
    """Upstream health and latency, this worker's log shipping counters, the BFF's version."""
    settings: Settings = current_app.config["BFF_SETTINGS"]
    clients: UpstreamClients = current_app.extensions["bff.clients"]

    def build() -> dict[str, Any]:
        _, report = check_upstreams(settings, clients)
        upstreams = []
        for name, entry in report.items():
            upstream = settings.upstreams[name]
            upstreams.append(
                {
                    "name": name,
                    "host": f"{upstream.host}:{upstream.port}",
                    "healthy": entry["ok"],
                    "status": entry.get("status"),
                    "error": entry.get("error"),
                    "latency_ms": entry["latency_ms"],
                    "circuit": entry["circuit"],
                }
            )
        return {
            "service": settings.service,
            "environment": settings.environment,
            "version": package_version(),
            "generated_at": iso_ms(int(time.time() * 1000)),
            "upstreams": upstreams,
        }

    payload = dict(cached(("summary",), build))
    payload["logging"] = shipping_counters()  # per worker and cheap: never cached
    return json_response(OpsSummary.model_validate(payload))
