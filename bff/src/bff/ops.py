"""The ops API behind the site's ``/ops`` page: upstream health, log shipping counters, client
errors grouped by fingerprint, one incident by its code, and requests per minute.

Everything but the summary is read back from CloudWatch Logs (``filter_log_events``), bounded in
pages, events and time, and cached briefly per worker. Access rules (``BFF_OPS_TOKEN``):

* token set: ``Authorization: Bearer <token>`` is required (constant-time compare), else 401;
* no token in production: the endpoints answer 404, as if they did not exist;
* no token elsewhere: open, for local development.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from typing import TYPE_CHECKING, Any, Protocol, cast

import orjson
from botocore.exceptions import BotoCoreError, ClientError
from flask import Blueprint, Flask, Response, current_app, request
from flask.blueprints import BlueprintSetupState
from logship import setup as logship_setup
from logship.config import parse_env as parse_log_env
from werkzeug.exceptions import NotFound

from .errors import problem_response
from .health import check_upstreams
from .proxy.pool import UpstreamClients
from .ratelimit import client_key
from .settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_logs.client import CloudWatchLogsClient

bp = Blueprint("ops", __name__, url_prefix="/api/ops")

CLIENT_ERRORS_STREAM_PREFIX = "client-errors/"
INCIDENT_CODE = re.compile(r"[A-Z0-9-]{6,32}")
MAX_PAGES = 20  # filter_log_events pages per query (each up to 10,000 events / 1 MB)
MAX_EVENTS = 20_000  # events read per query; past this the answer says "truncated"
SCAN_SECONDS = 8.0  # wall-clock budget per query, below gunicorn's 30 s worker timeout
MAX_GROUPS = 100
MAX_INCIDENTS_PER_GROUP = 5
MAX_INCIDENT_EVENTS = 20
MAX_RELATED_IDS = 10  # request ids of failed calls looked up per incident
MAX_RELATED_RECORDS = 200
RELATED_BEFORE_MS = 15 * 60_000  # server records searched from this long before the event ...
RELATED_AFTER_MS = 5 * 60_000  # ... to this long after it
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")  # what the BFF accepts as X-Request-ID
RELATED_DATA_FIELDS = ("status", "method", "path", "duration_ms", "upstream_status")
CACHE_ENTRIES = 64
DAY_MINUTES = 1440
RETENTION_MINUTES = 14 * DAY_MINUTES


class LogsClient(Protocol):
    """The one CloudWatch Logs call the ops API makes (a boto3 ``logs`` client has it)."""

    def filter_log_events(self, **kwargs: Any) -> Mapping[str, Any]:
        """One page of events."""


class LogsUnavailable(Exception):
    """CloudWatch Logs could not be read; the message says why."""


@dataclass
class LogsSource:
    """Where the ops API reads logs: the group, and a CloudWatch Logs client made on first use
    (after gunicorn's fork, in the worker that uses it)."""

    group: str | None
    make_client: Callable[[], LogsClient]
    _client: LogsClient | None = field(default=None, repr=False)

    def client(self) -> LogsClient:
        """The client, created once."""
        if self._client is None:
            self._client = self.make_client()
        return self._client


def logs_source_from_env(env: Mapping[str, str]) -> LogsSource:
    """The log group and endpoint logship ships to (``LOG_CLOUDWATCH_GROUP``, ``..._ENDPOINT``)."""
    log_settings = parse_log_env(env)

    def make_client() -> LogsClient:
        import boto3
        import botocore.config

        client: CloudWatchLogsClient = boto3.session.Session().client(
            "logs",
            region_name=log_settings.region,
            endpoint_url=log_settings.endpoint_url,
            config=botocore.config.Config(
                connect_timeout=2,
                read_timeout=5,
                retries={"total_max_attempts": 2, "mode": "standard"},
                max_pool_connections=4,
            ),
        )
        return cast(LogsClient, client)

    return LogsSource(group=log_settings.cloudwatch_group, make_client=make_client)


@bp.record_once
def _install(state: BlueprintSetupState) -> None:
    state.app.extensions.setdefault("bff.ops.logs", logs_source_from_env(os.environ))
    state.app.extensions.setdefault("bff.ops.cache", {})


# -- access ---------------------------------------------------------------------------------------


def token_matches(expected: str, authorization: str | None) -> bool:
    """True when ``authorization`` is ``Bearer <expected>`` (scheme case-insensitive; the token
    compared in constant time)."""
    if not authorization:
        return False
    scheme, _, presented = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode(), expected.encode())


@bp.before_request
def _require_token() -> Response | None:
    settings: Settings = current_app.config["BFF_SETTINGS"]
    if settings.ops_token is None:
        if settings.environment == "production":
            raise NotFound()
        return None
    authorization = request.headers.get("Authorization")
    if token_matches(settings.ops_token, authorization):
        return None
    limits = current_app.extensions.get("bff.ratelimits")
    if limits is not None:  # failed attempts only: guessing the token is slow, using it is free
        decision = limits.hit("ops_auth", client_key())
        if not decision.allowed:
            return problem_response(
                429,
                "rate-limited",
                "too many requests with a missing or wrong ops token from this client",
                headers={"Retry-After": str(decision.retry_after)},
            )
    challenge = 'Bearer realm="ops"'
    if authorization:
        challenge += ', error="invalid_token"'
    return problem_response(
        401,
        "unauthorized",
        "the ops API needs Authorization: Bearer <BFF_OPS_TOKEN>",
        headers={"WWW-Authenticate": challenge},
    )


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


# -- helpers shared by the endpoints --------------------------------------------------------------


def iso_ms(epoch_ms: int) -> str:
    """``2026-01-02T03:04:05.678Z`` for an epoch in milliseconds."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def _json(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status=status, content_type="application/json")


def _minutes_param(name: str, default: int, maximum: int) -> int | Response:
    raw = request.args.get(name)
    if raw is None or raw.strip() == "":
        return default
    text = raw.strip()
    if not text.isdigit() or not 1 <= int(text) <= maximum:
        return problem_response(
            400,
            "bad-query",
            f"{name} must be a whole number of minutes from 1 to {maximum}, got {raw[:40]!r}",
        )
    return int(text)


def _cached(key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
    """``build()``, or its result from the last ``BFF_OPS_CACHE_SECONDS`` in this worker."""
    settings: Settings = current_app.config["BFF_SETTINGS"]
    cache: dict[tuple[Any, ...], tuple[float, Any]] = current_app.extensions["bff.ops.cache"]
    now = time.monotonic()
    hit = cache.get(key)
    if hit is not None and now < hit[0]:
        return hit[1]
    value = build()
    if settings.ops_cache_seconds > 0:
        if len(cache) >= CACHE_ENTRIES:
            cache.clear()
        cache[key] = (now + settings.ops_cache_seconds, value)
    return value


def _unavailable(exc: LogsUnavailable) -> Response:
    return problem_response(503, "logs-unavailable", str(exc), headers={"Retry-After": "10"})


@dataclass
class Scan:
    """Events read from CloudWatch: parsed records with their stream and timestamp."""

    events: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)
    scanned: int = 0
    unreadable: int = 0
    truncated: bool = False
    missing_group: bool = False


def scan_events(
    client: LogsClient,
    group: str,
    *,
    stream_prefix: str,
    start_ms: int,
    end_ms: int,
    filter_pattern: str | None = None,
    keep: Callable[[dict[str, Any]], bool] = lambda record: True,
    max_pages: int = MAX_PAGES,
    max_events: int = MAX_EVENTS,
    budget_seconds: float = SCAN_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> Scan:
    """Page through ``filter_log_events`` for streams under ``stream_prefix``, bounded in pages,
    events and wall-clock time; JSON records that ``keep`` accepts are returned.

    The stream prefix, the time range and ``keep`` are also applied here, so an endpoint that
    ignores the server-side filters (an emulator) gives the same answer.
    """
    scan = Scan()
    deadline = clock() + budget_seconds
    request_args: dict[str, Any] = {"logGroupName": group, "startTime": start_ms, "endTime": end_ms}
    if stream_prefix:  # CloudWatch refuses an empty prefix; "" means every stream
        request_args["logStreamNamePrefix"] = stream_prefix
    if filter_pattern:
        request_args["filterPattern"] = filter_pattern
    token: str | None = None
    for page_number in range(max_pages):
        if token is not None:
            request_args["nextToken"] = token
        try:
            page = client.filter_log_events(**request_args)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ResourceNotFoundException":
                scan.missing_group = True
                return scan
            raise LogsUnavailable(f"CloudWatch Logs refused the query: {code or exc}") from None
        except BotoCoreError as exc:
            raise LogsUnavailable(f"CloudWatch Logs cannot be reached: {exc}") from None
        for event in page.get("events") or ():
            if not str(event.get("logStreamName", "")).startswith(stream_prefix):
                continue
            scan.scanned += 1
            try:
                record = orjson.loads(event.get("message", ""))
            except orjson.JSONDecodeError:
                scan.unreadable += 1
                continue
            if not isinstance(record, dict):
                scan.unreadable += 1
                continue
            timestamp = event.get("timestamp")
            if not isinstance(timestamp, int):
                timestamp = 0
            if start_ms <= timestamp <= end_ms and keep(record):
                scan.events.append((timestamp, str(event["logStreamName"]), record))
        token = page.get("nextToken")
        if not token:
            return scan
        if scan.scanned >= max_events or clock() >= deadline or page_number == max_pages - 1:
            scan.truncated = True
            return scan
    return scan


# -- summary --------------------------------------------------------------------------------------


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


def _bff_version() -> str:
    try:
        return metadata.version("bff")
    except metadata.PackageNotFoundError:
        return "unknown"


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
            "version": _bff_version(),
            "generated_at": iso_ms(int(time.time() * 1000)),
            "upstreams": upstreams,
        }

    payload = dict(_cached(("summary",), build))
    payload["logging"] = shipping_counters()  # per worker and cheap: never cached
    return _json(payload)


# -- client errors --------------------------------------------------------------------------------


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
        group["sample"] = _event_view(timestamp, stream, record)
    ordered = sorted(groups.values(), key=lambda g: (g["count"], g["last_seen"]), reverse=True)
    for group in ordered:
        group["sessions"] = len(group["sessions"])
    return ordered[:MAX_GROUPS]


def _event_view(timestamp: int, stream: str, record: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "timestamp": iso_ms(timestamp),
        "stream": stream,
        "message": record.get("message"),
        "request_id": record.get("request_id"),
        "data": record.get("data"),
    }


def _log_group_missing(payload: dict[str, Any]) -> Response:
    payload.update(
        configured=False,
        detail="LOG_CLOUDWATCH_GROUP is not set: the BFF ships no logs, so there is nothing "
        "to read. Set it (and LOG_CLOUDWATCH_ENDPOINT for the local emulator).",
    )
    return _json(payload)


@bp.get("/client-errors")
def client_errors() -> Response:
    """Client errors of the last ``since`` minutes, grouped by fingerprint."""
    since = _minutes_param("since", DAY_MINUTES, RETENTION_MINUTES)
    if isinstance(since, Response):
        return since
    source: LogsSource = current_app.extensions["bff.ops.logs"]
    if source.group is None:
        return _log_group_missing({"since_minutes": since, "groups": []})
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
        return _json(_cached(("client-errors", since), build))
    except LogsUnavailable as exc:
        return _unavailable(exc)


@bp.get("/incidents/<code>")
def incident(code: str) -> Response:
    """Every client-error event carrying incident ``code`` (the code users quote)."""
    normalized = code.strip().upper()
    if not INCIDENT_CODE.fullmatch(normalized):
        return problem_response(
            400,
            "bad-incident-code",
            "an incident code is 6 to 32 letters, digits and '-'",
        )
    since = _minutes_param("since", 7 * DAY_MINUTES, RETENTION_MINUTES)
    if isinstance(since, Response):
        return since
    source: LogsSource = current_app.extensions["bff.ops.logs"]
    if source.group is None:
        return _log_group_missing({"incident": normalized, "events": []})
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
        return _unavailable(exc)
    if not scan.events:
        return problem_response(
            404,
            "incident-not-found",
            f"no client error with incident {normalized} in the last {since} minutes"
            + (" (the search stopped early)" if scan.truncated else ""),
            extra={"incident": normalized, "truncated": scan.truncated},
        )
    newest_first = sorted(scan.events, key=lambda item: item[0], reverse=True)[:MAX_INCIDENT_EVENTS]
    return _json(
        {
            "incident": normalized,
            "log_group": group_name,
            "since_minutes": since,
            "truncated": scan.truncated,
            "events": [_event_view(*item) for item in newest_first],
            "related": related_records(source.client(), group_name, newest_first, end_ms),
        }
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


# -- traffic --------------------------------------------------------------------------------------


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
    minutes = _minutes_param("minutes", 60, DAY_MINUTES)
    if isinstance(minutes, Response):
        return minutes
    settings: Settings = current_app.config["BFF_SETTINGS"]
    source: LogsSource = current_app.extensions["bff.ops.logs"]
    if source.group is None:
        return _log_group_missing({"minutes": minutes, "buckets": []})
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
        return _json(_cached(("traffic", minutes), build))
    except LogsUnavailable as exc:
        return _unavailable(exc)


def init_app(app: Flask, source: LogsSource) -> None:
    """Read logs through ``source`` instead of the one built from ``LOG_CLOUDWATCH_*``."""
    app.extensions["bff.ops.logs"] = source
    app.extensions["bff.ops.cache"] = {}
