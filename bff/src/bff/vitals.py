"""``POST /api/vitals``: Web Vitals batches from the site, one ``bff.vitals`` record per metric."""

from __future__ import annotations

import logging
import math
from typing import Any, Final

from flask import Blueprint, Flask, Response, jsonify

from . import metrics as bff_metrics
from .client_errors.events import InvalidInput
from .client_errors.ingest import (
    check_media_type,
    current,
    invalid_response,
    rate_limited_response,
    read_body,
)
from .client_errors.report import MAX_URL_CHARS, parse_json
from .client_errors.scrub import Scrubber
from .client_errors.symbolicate import is_safe_release
from .errors import current_request_id
from .ratelimit import client_key

bp = Blueprint("vitals", __name__)
log = logging.getLogger("bff.vitals")

VITALS_MAX_BYTES: Final = 16 * 1024
NAMES: Final = ("LCP", "INP", "CLS", "FCP", "TTFB")
RATINGS: Final = ("good", "needs-improvement", "poor")
MAX_METRICS: Final = 20
MAX_VALUE: Final = 3_600_000.0  # an hour in ms; CLS is unitless and far below


def _metric(raw: Any, index: int) -> dict[str, Any]:
    where = f"/metrics/{index}"
    if not isinstance(raw, dict):
        raise InvalidInput(422, "invalid-vitals", f"{where} must be an object")
    name = raw.get("name")
    value = raw.get("value")
    rating = raw.get("rating")
    metric_id = raw.get("id")
    nav = raw.get("navigationType")
    problems = []
    if name not in NAMES:
        problems.append({"pointer": f"{where}/name", "detail": f"must be one of {NAMES}"})
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 <= value <= MAX_VALUE
    ):
        problems.append({"pointer": f"{where}/value", "detail": "must be a number >= 0"})
    if rating not in RATINGS:
        problems.append({"pointer": f"{where}/rating", "detail": f"must be one of {RATINGS}"})
    if not isinstance(metric_id, str) or not 1 <= len(metric_id) <= 128:
        problems.append({"pointer": f"{where}/id", "detail": "must be 1-128 characters"})
    if nav is not None and (not isinstance(nav, str) or len(nav) > 32):
        problems.append({"pointer": f"{where}/navigationType", "detail": "must be a short string"})
    if problems:
        raise InvalidInput(422, "invalid-vitals", "a metric is invalid", problems)
    return {"name": name, "value": value, "rating": rating, "id": metric_id, "nav": nav}


def parse_vitals(doc: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The batch's context (release, url, route) and its metrics, or a 422 problem."""
    if not isinstance(doc, dict) or isinstance(doc.get("v"), bool) or doc.get("v") != 1:
        raise InvalidInput(422, "invalid-vitals", 'the body must be {"v": 1, ...}')
    metrics = doc.get("metrics")
    if not isinstance(metrics, list) or not 1 <= len(metrics) <= MAX_METRICS:
        raise InvalidInput(422, "invalid-vitals", f"metrics must hold 1-{MAX_METRICS} items")
    release = doc.get("release")
    url = doc.get("url")
    route = doc.get("route")
    if release is not None and (not isinstance(release, str) or not is_safe_release(release)):
        raise InvalidInput(422, "invalid-vitals", "release must be a safe token")
    if url is not None and (
        not isinstance(url, str)
        or len(url) > MAX_URL_CHARS
        or not url.startswith(("http://", "https://", "/"))
    ):
        raise InvalidInput(422, "invalid-vitals", "url must be an http(s) URL or a path")
    if route is not None and (not isinstance(route, str) or len(route) > 256):
        raise InvalidInput(422, "invalid-vitals", "route must be a string of at most 256")
    context = {"release": release, "url": url, "route": route}
    return context, [_metric(raw, index) for index, raw in enumerate(metrics)]


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
    response = jsonify(accepted=len(metrics), request_id=current_request_id())
    response.status_code = 202
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    """Register the endpoint (needs the client-error ingest for limits and counters)."""
    app.register_blueprint(bp)
