"""The ops API (``/api/ops/*``): its query parameters and its answers."""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from .events import Frame
from .validation import QueryInt, bounded

__all__ = ["Frame"]  # the frames of an event's data, typed for the site

DAY_MINUTES: Final = 1440
RETENTION_MINUTES: Final = 14 * DAY_MINUTES
DEFAULT_GROUPS: Final = 50
MAX_GROUPS: Final = 200
FINGERPRINT_PATTERN: Final = r"^[0-9a-f]{16}$"
#: Incident codes are case-insensitive: the code a user reads out is upper-cased.
INCIDENT_CODE_PATTERN: Final = r"^[A-Za-z0-9-]{6,32}$"

GroupStatus = Literal["open", "resolved"]
#: ``2026-01-02T03:04:05.678Z``: every time the ops API writes, UTC, milliseconds
Time = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


def _is_none(value: object) -> bool:
    """Members that are absent rather than null when they do not apply."""
    return value is None


class _Query(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class GroupsQuery(_Query):
    """``GET /api/ops/client-errors``."""

    since: QueryInt = bounded(
        DAY_MINUTES, RETENTION_MINUTES, "Groups with an event in this many minutes."
    )
    status: Literal["open", "resolved", "all"] = "open"
    sort: Literal["count", "last_seen"] = "count"
    limit: QueryInt = bounded(DEFAULT_GROUPS, MAX_GROUPS, "At most this many groups.")


class GroupQuery(_Query):
    """``GET /api/ops/client-errors/{fingerprint}``."""

    minutes: QueryInt = bounded(
        DAY_MINUTES, DAY_MINUTES, "Per-minute counts for this many minutes."
    )


class IncidentQuery(_Query):
    """``GET /api/ops/incidents/{code}``."""

    since: QueryInt = bounded(7 * DAY_MINUTES, RETENTION_MINUTES, "Look back this many minutes.")


class TrafficQuery(_Query):
    """``GET /api/ops/traffic``."""

    minutes: QueryInt = bounded(60, DAY_MINUTES, "Window length in minutes.")


class UpstreamHealth(BaseModel):
    """One upstream's health probe."""

    name: str
    host: str = Field(description="host:port the BFF connects to.")
    healthy: bool
    status: int | None = Field(description="The health path's HTTP status, if it answered.")
    error: str | None
    latency_ms: float
    circuit: str = Field(description="closed, open or half-open.")


class ShippingCounters(BaseModel):
    """Log shipping state of the worker that answered."""

    pid: int
    shipping: bool
    group: str | None
    stats: dict[str, Any]


class OpsSummary(BaseModel):
    """Upstream health, this worker's log shipping, the BFF's version."""

    service: str
    environment: str
    version: str
    generated_at: Time
    upstreams: list[UpstreamHealth]
    logging: ShippingCounters


class GroupFacts(BaseModel):
    """What the index keeps on every error group."""

    fingerprint: str
    status: GroupStatus
    count: int = Field(description="Every event since the group was first seen.")
    first_seen: Time | None
    last_seen: Time | None
    type: str
    message: str
    last_release: str | None
    resolved_at: Time | None
    resolved_release: str | None
    reopened_at: Time | None
    reopened_in: str | None
    sessions: int = Field(description="Distinct sessions (HyperLogLog, ~1%).")


class ErrorGroup(GroupFacts):
    """One group of the list, with its per-minute sparkline (oldest first)."""

    releases: list[str]
    routes: list[str]
    sparkline: list[int]


class ClientErrors(BaseModel):
    """Error groups with an event in the last ``since_minutes``, from the index."""

    configured: bool
    since_minutes: int
    status: Literal["open", "resolved", "all"]
    sort: Literal["count", "last_seen"]
    generated_at: Time
    matched: int = Field(description="Every group that matched; at most `limit` are listed.")
    truncated: bool
    sparkline_minutes: int
    groups: list[ErrorGroup]


class ReleaseCount(BaseModel):
    """A release the group was seen in."""

    release: str
    count: int
    first_seen: Time | None


class RouteCount(BaseModel):
    """A page route the group was seen on."""

    route: str | None
    count: int


class Occurrence(BaseModel):
    """One of the newest occurrences: its incident code and the request id of its report."""

    timestamp: Time | None
    incident: str | None
    request_id: str | None
    release: str | None = None
    route: str | None = None
    failed_request_ids: list[str] = Field(default_factory=list)


class MinuteCount(BaseModel):
    """Events in one minute."""

    t: Time
    count: int


class OpsEvent(BaseModel):
    """One client-error record as stored in CloudWatch."""

    timestamp: Time
    stream: str | None = Field(
        default=None,
        exclude_if=_is_none,
        description="The CloudWatch log stream (not kept with a group's sample).",
    )
    message: str | None
    request_id: str | None
    data: dict[str, Any] = Field(
        description="The client-error event (see ClientErrorEvent) as stored: records of "
        "older versions may differ, so read it defensively."
    )


class ErrorGroupPage(GroupFacts):
    """One group: releases, routes, newest occurrences, per-minute counts, a sample event."""

    generated_at: Time
    releases: list[ReleaseCount]
    routes: list[RouteCount]
    latest: list[Occurrence]
    minutes: list[MinuteCount]
    sample: OpsEvent | None


class Resolution(BaseModel):
    """A group's state after resolving or reopening it."""

    fingerprint: str
    status: GroupStatus
    resolved_at: Time | None
    resolved_release: str | None


class RelatedRecord(BaseModel):
    """A server log record of one of the incident's failed requests (any service)."""

    timestamp: Time
    stream: str
    service: str
    logger: str | None
    level: str | None
    message: str | None
    request_id: str | None
    status: int | None
    method: str | None
    path: str | None
    duration_ms: float | None
    upstream_status: int | None


class Related(BaseModel):
    """Server log records whose ``request_id`` is one of the events' failed request ids, from 15
    minutes before the oldest event to 5 minutes after the newest, oldest first, at most 200.
    ``unavailable`` says why they could not be read (the events are still answered)."""

    request_ids: list[str]
    start: Time | None = Field(default=None, exclude_if=_is_none)
    end: Time | None = Field(default=None, exclude_if=_is_none)
    truncated: bool
    unavailable: str | None = Field(default=None, exclude_if=_is_none)
    records: list[RelatedRecord]


class Incident(BaseModel):
    """The client-error events with one incident code, newest first."""

    configured: Literal[True] = True
    incident: str
    log_group: str
    since_minutes: int
    truncated: bool
    events: list[OpsEvent]
    related: Related


class IncidentNotConfigured(BaseModel):
    """The BFF ships no logs (no LOG_CLOUDWATCH_GROUP), so there is nothing to read: explained,
    not an error."""

    configured: Literal[False] = False
    detail: str
    incident: str
    events: list[OpsEvent] = Field(max_length=0)


class TrafficBucket(BaseModel):
    """One minute of traffic."""

    t: Time
    requests: int
    errors_4xx: int
    errors_5xx: int
    client_errors: int


class TrafficTotals(BaseModel):
    """The window's sums."""

    requests: int
    errors_4xx: int
    errors_5xx: int
    client_errors: int


class Traffic(BaseModel):
    """One bucket per minute, oldest first, empty minutes included."""

    configured: bool
    minutes: int
    bucket_seconds: int
    generated_at: Time
    totals: TrafficTotals
    buckets: list[TrafficBucket]
