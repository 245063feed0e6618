"""``POST /api/vitals``: Web Vitals batches from the site, one ``bff.vitals`` record per metric."""

from __future__ import annotations

import logging
from typing import Any, Final

from flask import Blueprint, Flask, Response
from pydantic import ValidationError

from . import metrics as bff_metrics
from .client_errors.events import InvalidInput
from .client_errors.ingest import (
    accepted_response,
    check_media_type,
    current,
    invalid_response,
    rate_limited_response,
    read_body,
)
from .client_errors.report import parse_json
from .client_errors.scrub import Scrubber
from .errors import current_request_id
from .ratelimit import client_key
from .schemas.ingest import VitalsAccepted, WebVitalsBatch
from .schemas.validation import field_errors, summary

bp = Blueprint("vitals", __name__)
log = logging.getLogger("bff.vitals")

VITALS_MAX_BYTES: Final = 16 * 1024


def parse_vitals(doc: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The batch's context (release, url, route) and its metrics (``WebVitalsBatch``), or a
    422 problem naming every refused field."""
    try:
        batch = WebVitalsBatch.model_validate(doc)
    except ValidationError as exc:
        errors = field_errors(exc)
        raise InvalidInput(
            422, "invalid-vitals", f"the batch is not valid: {summary(errors)}", errors
        ) from None
    context = {"release": batch.release, "url": batch.url, "route": batch.route}
    metrics = [
        {"name": m.name, "value": m.value, "rating": m.rating, "id": m.id, "nav": m.navigationType}
        for m in batch.metrics
    ]
    return context, metrics


@bp.post("/api/vitals")
def vitals() -> Response:
    """Log each Web Vitals metric of the batch as one ``bff.vitals`` record."""
    ingest = current()
    try:
        check_media_type(frozenset({"application/json", "text/plain"}))
        decision = ingest.limit("vitals", client_key())
        if not decision.allowed:
            return rate_limited_response(decision, "too many vitals from this client")
        context, metrics = parse_vitals(parse_json(read_body(VITALS_MAX_BYTES)))
    except InvalidInput as exc:
        return invalid_response(exc)
    scrubber = Scrubber()
    for key in ("url", "route"):
        if context[key] is not None and ingest.settings.scrub:
            context[key] = scrubber.text(context[key])
    for metric in metrics:
        if ingest.settings.scrub:
            metric["id"] = scrubber.text(metric["id"])
        data = {
            "name": metric["name"],
            "value": metric["value"],
            "rating": metric["rating"],
            "route": context["route"],
            "url": context["url"],
            "release": context["release"],
            "id": metric["id"],
        }
        if metric["nav"] is not None:
            data["navigation_type"] = metric["nav"]
        log.info("web vital %s", metric["name"], extra={"data": data})
        bff_metrics.web_vital(metric["name"], context["route"], metric["value"])
    ingest.count("accepted", "vitals", len(metrics))
    answer = VitalsAccepted(accepted=len(metrics), request_id=current_request_id())
    return accepted_response(answer)


def init_app(app: Flask) -> None:
    """Register the endpoint (needs the client-error ingest for limits and counters)."""
    app.register_blueprint(bp)
