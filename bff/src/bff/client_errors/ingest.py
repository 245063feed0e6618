"""The ingest endpoints: ``POST /api/client-errors`` (our reports), ``.../envelope`` (Sentry),
``.../reports`` (Reporting API and CSP), and ``GET /internal/client-errors`` (counters).

Every accepted report becomes one ``WARNING`` record from logger ``bff.client_errors`` (see
``docs/client-errors.md`` for the event schema). Noise is answered 202 and counted, never
logged; rate-limited reports get 429 with ``Retry-After``; bad bodies get 400/413/415/422.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from logship import setup as logship_setup
from pydantic import BaseModel

from .. import metrics as bff_metrics
from ..errors import current_request_id, problem_response
from ..ratelimit import Decision, RateLimits, client_key
from ..schemas.ingest import (
    BrowserReportsAccepted,
    EnvelopeAccepted,
    ReportAccepted,
)
from ..settings import ClientErrorSettings
from .envelope import parse_envelope
from .events import ClientError, InvalidInput, event_data, truncate_ip
from .fingerprint import csp_fingerprint, fingerprint
from .index import (
    ErrorIndex,
    IndexFeed,
    TrafficCounter,
    count_access_records,
    index_from_uri,
    sample_json,
)
from .noise import csp_noise_reason, noise_reason
from .report import parse_json, parse_report
from .reports import parse_csp_report, parse_reporting_api
from .scrub import Scrubber
from .symbolicate import DirectoryMaps, S3Client, S3Maps, SourceMaps, Symbolicator

bp = Blueprint("client_errors", __name__)

LOGGER_NAME: Final = "bff.client_errors"
REPORT_MAX_BYTES: Final = 64 * 1024
ENVELOPE_MAX_BYTES: Final = 256 * 1024
REPORTS_MAX_BYTES: Final = 64 * 1024
REPORT_TYPES: Final = frozenset({"application/json", "text/plain"})
ENVELOPE_TYPES: Final = frozenset(
    {"text/plain", "application/x-sentry-envelope", "application/octet-stream", ""}
)
REPORTS_TYPES: Final = frozenset(
    {"application/reports+json", "application/csp-report", "application/json"}
)
_EXTENSION_KEY: Final = "bff.client_errors"
INDEX_EXTENSION_KEY: Final = "bff.errors.index"
TRAFFIC_EXTENSION_KEY: Final = "bff.errors.traffic"

log = logging.getLogger(LOGGER_NAME)


def _bump(counter: dict[str, int], key: str, amount: int = 1) -> None:
    counter[key] = counter.get(key, 0) + amount


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one report: ``accepted``, ``filtered`` or ``limited``."""

    state: str
    retry_after: int = 0


class ClientErrorIngest:
    """Per-worker pipeline: noise filter, scrubbing, symbolication, fingerprint, limit, log."""

    def __init__(
        self,
        settings: ClientErrorSettings,
        limits: RateLimits,
        symbolicator: Symbolicator,
        index: ErrorIndex | None = None,
    ) -> None:
        self.settings = settings
        self.limits = limits
        self.symbolicator = symbolicator
        self.index = IndexFeed(index) if index is not None else None
        self.counters: dict[str, dict[str, int]] = {
            "accepted": {},
            "filtered": {},
            "scrubbed": {},
            "rate_limited": {},
            "symbolication": {},
            "invalid": {},
            "skipped_items": {},
        }

    def count(self, group: str, key: str, amount: int = 1) -> None:
        """Add to one counter."""
        _bump(self.counters[group], key, amount)

    def limit(self, name: str, key: str) -> Decision:
        """Check limit ``name`` for ``key``, counting refusals."""
        decision = self.limits.hit(name, key)
        if not decision.allowed:
            self.count("rate_limited", name)
        return decision

    def _scrub(self, error: ClientError, scrubber: Scrubber) -> None:
        """Scrub what fingerprinting, symbolication and the log message read; the rest of
        the record (breadcrumbs included) is scrubbed once, by ``Scrubber.event``."""
        error.type = scrubber.clean(error.type)
        error.message = scrubber.clean(error.message)
        if error.url is not None:
            error.url = scrubber.clean(error.url)
        if error.route is not None:
            error.route = scrubber.clean(error.route)
        for frame in error.frames:
            if frame.file is not None:
                frame.file = scrubber.clean(frame.file)
            if frame.function is not None:
                frame.function = scrubber.clean(frame.function)
        if error.csp is not None:
            error.csp = scrubber.data(error.csp)

    def process(self, error: ClientError) -> Outcome:
        """Run one report through the pipeline; logs it when accepted."""
        if error.csp is not None:
            reason = csp_noise_reason(error.csp.get("blocked"), error.csp.get("source_file"))
        else:
            reason = noise_reason(error.message, error.frames)
        if reason is not None:
            self.count("filtered", reason)
            return Outcome("filtered")
        scrubber = Scrubber() if self.settings.scrub else None
        if scrubber is not None:
            self._scrub(error, scrubber)
        user_agent = request.headers.get("User-Agent", "")[:512] or None
        if error.csp is not None:
            group_key = csp_fingerprint(
                str(error.csp.get("directive")), str(error.csp.get("blocked"))
            )
        else:
            self.symbolicator.symbolicate(error.frames, error.release, _origins(error.url))
            for frame in error.frames:
                self.count("symbolication", frame.status)
            group_key = fingerprint(error.type, error.message, error.frames)
        decision = self.limit("fingerprint", group_key)
        if not decision.allowed:
            return Outcome("limited", decision.retry_after)
        data = event_data(
            error,
            fingerprint=group_key,
            client_ip=truncate_ip(request.remote_addr),
            user_agent=user_agent,
            received_at=_now_iso(),
        )
        record_data: Mapping[str, Any]
        if scrubber is not None:
            record_data = scrubber.event(data)  # logship's formatter need not walk it again
            for rule, hits in scrubber.counts.items():
                self.count("scrubbed", rule, hits)
        else:
            data["scrubbed"] = {}
            record_data = data
        message = error.log_message()
        log.warning(message, extra={"data": record_data})
        self.count("accepted", error.source)
        bff_metrics.client_error(error.kind, error.release)
        if self.index is not None:  # after the record: an index outage never loses an event
            request_id = current_request_id()
            sample = sample_json(data["received_at"], message, request_id, record_data)
            self.index.record(group_key, record_data, sample=sample, request_id=request_id)
        return Outcome("accepted")

    def snapshot(self) -> dict[str, Any]:
        """Every counter of this worker."""
        maps = self.symbolicator.maps
        return {
            **{name: dict(values) for name, values in self.counters.items()},
            "ratelimit": self.limits.snapshot(),
            "sourcemaps": maps.cached() if maps is not None else None,
            "index": dict(self.index.stats) if self.index is not None else None,
        }


def _now_iso() -> str:
    now = _dt.datetime.now(_dt.UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def _origins(page_url: str | None) -> set[str]:
    """Origins whose scripts are ours: the page's and the one this request came to."""
    origins = {f"{request.scheme}://{request.host}"}
    if page_url and "://" in page_url:
        try:
            parts = urlsplit(page_url)
        except ValueError:  # "http://[bad": no origin of ours
            return origins
        if parts.scheme in ("http", "https") and parts.netloc:
            origins.add(f"{parts.scheme}://{parts.netloc}")
    return origins


def _media_type() -> str:
    return (request.mimetype or "").lower()


def read_body(limit: int) -> bytes:
    """The request body, at most ``limit`` bytes (413 beyond, 400 when empty)."""
    length = request.content_length
    if length is not None and length > limit:
        raise InvalidInput(413, "body-too-large", f"the body must be at most {limit} bytes")
    data = request.stream.read(limit + 1)
    if len(data) > limit:
        raise InvalidInput(413, "body-too-large", f"the body must be at most {limit} bytes")
    if not data:
        raise InvalidInput(400, "empty-body", "the body is empty")
    return data


def current() -> ClientErrorIngest:
    """This app's ingest pipeline."""
    ingest: ClientErrorIngest = current_app.extensions[_EXTENSION_KEY]
    return ingest


def rate_limited_response(
    decision: Decision, detail: str, *, sentry_categories: str | None = None
) -> Response:
    headers = {"Retry-After": str(decision.retry_after)}
    if sentry_categories is not None:
        headers["X-Sentry-Rate-Limits"] = f"{decision.retry_after}:{sentry_categories}:organization"
    return problem_response(429, "rate-limited", detail, headers)


def invalid_response(exc: InvalidInput) -> Response:
    current().count("invalid", str(exc.status))
    extra = {"errors": exc.errors} if exc.errors else None
    return problem_response(exc.status, exc.slug, exc.detail, extra=extra)


def check_media_type(allowed: Iterable[str]) -> None:
    media = _media_type()
    if media not in allowed:
        kinds = ", ".join(sorted(t for t in allowed if t))
        raise InvalidInput(415, "unsupported-media-type", f"Content-Type must be one of {kinds}")


def accepted_response(answer: BaseModel) -> Response:
    """``answer`` (the endpoint's documented 202 body) as an uncached 202 response."""
    return Response(
        answer.model_dump_json(),
        202,
        mimetype="application/json",
        headers={"Cache-Control": "no-store"},
    )


@bp.post("/api/client-errors")
def client_errors() -> Response:
    """Accept one report in our own format (JSON, or text/plain from sendBeacon)."""
    ingest = current()
    try:
        check_media_type(REPORT_TYPES)
        decision = ingest.limit("client", client_key())
        if not decision.allowed:
            return rate_limited_response(decision, "too many error reports from this client")
        error = parse_report(parse_json(read_body(REPORT_MAX_BYTES)))
    except InvalidInput as exc:
        return invalid_response(exc)
    outcome = ingest.process(error)
    if outcome.state == "limited":
        return rate_limited_response(
            Decision(False, outcome.retry_after), "too many reports of this error"
        )
    return accepted_response(
        ReportAccepted(incident=error.incident, request_id=current_request_id())
    )


@bp.post("/api/client-errors/envelope")
def sentry_envelope() -> Response:
    """Accept a Sentry envelope (``@sentry/browser`` with ``tunnel``)."""
    ingest = current()
    try:
        check_media_type(ENVELOPE_TYPES)
        decision = ingest.limit("client", client_key())
        if not decision.allowed:
            return rate_limited_response(
                decision, "too many error reports from this client", sentry_categories=""
            )
        envelope = parse_envelope(read_body(ENVELOPE_MAX_BYTES))
    except InvalidInput as exc:
        return invalid_response(exc)
    for kind, count in envelope.skipped.items():
        ingest.count("skipped_items", kind, count)
    outcomes = [ingest.process(error) for error in envelope.errors]
    limited = [o for o in outcomes if o.state == "limited"]
    if limited and len(limited) == len(outcomes):
        retry = max(o.retry_after for o in limited)
        return rate_limited_response(
            Decision(False, retry), "too many reports of this error", sentry_categories="error"
        )
    event_id = envelope.event_id
    if event_id is None and envelope.errors:
        event_id = envelope.errors[0].incident.lower()
    return accepted_response(EnvelopeAccepted(id=event_id, request_id=current_request_id()))


@bp.post("/api/client-errors/reports")
def browser_reports() -> Response:
    """Accept Reporting API batches and legacy CSP reports."""
    ingest = current()
    try:
        check_media_type(REPORTS_TYPES)
        decision = ingest.limit("client", client_key())
        if not decision.allowed:
            return rate_limited_response(decision, "too many reports from this client")
        doc = parse_json(read_body(REPORTS_MAX_BYTES))
        media = _media_type()
        # each media type has one shape; plain application/json may carry either
        if media == "application/reports+json" or (
            media != "application/csp-report" and isinstance(doc, list)
        ):
            errors = parse_reporting_api(doc)
        else:
            errors = [parse_csp_report(doc)]
    except InvalidInput as exc:
        return invalid_response(exc)
    outcomes = [ingest.process(error) for error in errors]
    states = [o.state for o in outcomes]
    limited = [o for o in outcomes if o.state == "limited"]
    if limited and len(limited) == len(outcomes):
        retry = max(o.retry_after for o in limited)
        return rate_limited_response(Decision(False, retry), "too many reports of this kind")
    return accepted_response(
        BrowserReportsAccepted(
            accepted=states.count("accepted"),
            filtered=states.count("filtered"),
            rate_limited=len(limited),
            request_id=current_request_id(),
        )
    )


@bp.get("/internal/client-errors")
def ingest_stats() -> Response:
    """Ingest counters of the worker that answers, and its client-errors stream's shipping."""
    active = logship_setup.active()
    handler = active.stream_handlers.get(LOGGER_NAME) if active is not None else None
    response = jsonify(
        pid=os.getpid(),
        counters=current().snapshot(),
        shipping=handler.stats() if handler is not None else None,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def make_symbolicator(
    settings: ClientErrorSettings, s3_client: S3Client | None = None
) -> Symbolicator:
    """The symbolicator for ``settings``: maps from a directory, from S3, or none."""
    store: DirectoryMaps | S3Maps | None = None
    if settings.sourcemaps_dir is not None:
        store = DirectoryMaps(settings.sourcemaps_dir)
    elif settings.sourcemaps_s3_uri is not None:
        if s3_client is None:
            import boto3
            import botocore.config

            s3_client = boto3.client(
                "s3",
                endpoint_url=settings.sourcemaps_s3_endpoint,
                config=botocore.config.Config(
                    connect_timeout=1.0, read_timeout=3.0, retries={"total_max_attempts": 2}
                ),
            )
        store = S3Maps(s3_client, settings.sourcemaps_s3_uri)
    if store is None:
        return Symbolicator(None)
    return Symbolicator(
        SourceMaps(
            store,
            max_maps=settings.sourcemaps_cache_maps,
            max_bytes=settings.sourcemaps_cache_bytes,
        )
    )


def init_app(app: Flask, settings: ClientErrorSettings, s3_client: S3Client | None = None) -> None:
    """Register the endpoints and build this worker's pipeline (limits, symbolicator)."""
    limits = RateLimits(settings)
    limits.init_app(app)
    index = index_from_uri(settings.ratelimit_storage_uri)
    app.extensions[INDEX_EXTENSION_KEY] = index
    if index is not None:
        counter = TrafficCounter(index)
        app.extensions[TRAFFIC_EXTENSION_KEY] = counter
        count_access_records(counter)
    app.extensions[_EXTENSION_KEY] = ClientErrorIngest(
        settings, limits, make_symbolicator(settings, s3_client), index
    )
    app.register_blueprint(bp)
