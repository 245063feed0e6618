"""Liveness and readiness endpoints, shaped for a load balancer's target-group health check."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, current_app, jsonify

from .errors import problem_response
from .proxy.pool import UpstreamClients, UpstreamError, exchange
from .settings import Settings

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """Alive: the process answers. Depends on nothing, so an upstream outage never kills the BFF."""
    response = jsonify(status="ok")
    response.headers["Cache-Control"] = "no-store"
    return response


def check_upstreams(settings: Settings, clients: UpstreamClients) -> tuple[bool, dict[str, Any]]:
    """Ask each upstream's health path once; report status, latency and circuit state."""
    report: dict[str, Any] = {}
    all_ok = True
    timeout = settings.readiness_timeout
    for name, upstream in settings.upstreams.items():
        started = time.monotonic()
        entry: dict[str, Any] = {"circuit": clients.breaker(name).state}
        host = upstream.host if upstream.port in (80, 443) else f"{upstream.host}:{upstream.port}"
        try:
            resp, _ = exchange(
                clients.pool(name),
                "GET",
                upstream.base_path + upstream.health_path,
                {"host": host, "user-agent": "bff-readiness", "accept": "application/json"},
                timeout,
            )
            entry["status"] = resp.status
            ok = 200 <= resp.status < 300
        except UpstreamError as exc:
            entry["error"] = exc.kind
            ok = False
        entry["ok"] = ok
        entry["latency_ms"] = round((time.monotonic() - started) * 1000, 2)
        report[name] = entry
        all_ok = all_ok and ok
    return all_ok, report


@bp.get("/readyz")
def readyz() -> Response:
    """Ready: every upstream answers its health check (cached briefly so probes stay cheap).

    Unready is a 503 problem+json whose ``upstreams`` member says which upstream failed.
    """
    settings: Settings = current_app.config["BFF_SETTINGS"]
    clients: UpstreamClients = current_app.extensions["bff.clients"]
    cache: dict[str, Any] = current_app.extensions.setdefault("bff.readiness", {"at": None})
    now = time.monotonic()
    if cache["at"] is None or now - cache["at"] >= settings.readiness_cache_seconds:
        ok, report = check_upstreams(settings, clients)
        cache.update(at=now, ok=ok, report=report)
    if cache["ok"]:
        response = jsonify(status="ready", upstreams=cache["report"])
        response.headers["Cache-Control"] = "no-store"
        return response
    failing = ", ".join(n for n, e in cache["report"].items() if not e["ok"])
    return problem_response(
        503,
        "not-ready",
        f"upstreams not reachable: {failing}",
        extra={"upstreams": cache["report"]},
    )
