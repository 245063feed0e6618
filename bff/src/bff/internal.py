"""Endpoints for operators: reachable inside the network, never routed by the load balancer
(it sends only ``/api/*`` to the BFF)."""

from __future__ import annotations

import os

from flask import Blueprint, Response, jsonify
from logship import setup as logship_setup

bp = Blueprint("internal", __name__, url_prefix="/internal")


@bp.get("/logging")
def logging_stats() -> Response:
    """Log shipping counters of the worker process that answers (each worker ships its own)."""
    active = logship_setup.active()
    handler = active.cloudwatch_handler if active is not None else None
    response = jsonify(
        pid=os.getpid(),
        shipping=handler is not None,
        group=getattr(handler, "log_group_name", None),
        stats=active.stats() if active is not None else {},
    )
    response.headers["Cache-Control"] = "no-store"
    return response
