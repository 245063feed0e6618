"""The client-error event: the ``data`` of every ``bff.client_errors`` record (the contract in
docs/client-errors.md), whatever source the report came from."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class FramePosition(BaseModel):
    """Where a symbolicated frame was in the minified bundle."""

    model_config = ConfigDict(extra="allow")

    file: str | None = None
    line: int | None = None
    column: int | None = None


class Frame(BaseModel):
    """A stack frame, innermost first (symbolicated when a source map was found)."""

    model_config = ConfigDict(extra="allow")

    function: str | None = None
    file: str | None = None
    line: int | None = None
    column: int | None = None
    status: str | None = Field(
        default=None,
        description="symbolicated, no-release, no-map, map-unreadable, not-in-map, not-minified",
    )
    minified: FramePosition | None = None


class ClientErrorEvent(BaseModel):
    """One accepted client error as logged; the ops API returns it as an event's ``data``."""

    model_config = ConfigDict(extra="forbid")

    source: Literal["reporter", "sentry", "csp", "reporting-api", "server"]
    kind: str
    incident: str
    fingerprint: str = Field(description="16 hex digits: the error group.")
    release: str | None
    type: str
    message: str
    url: str | None
    route: str | None
    session: str | None
    user_agent: str | None
    client_ip: str | None = Field(description="The client address with the host part zeroed.")
    received_at: str = Field(json_schema_extra={"format": "date-time"})
    frames: list[Frame]
    breadcrumbs: list[dict[str, Any]]
    request_ids: list[str] = Field(description="X-Request-ID of the API calls that failed.")
    digest: str | None = None
    client_ts: float | None = None
    csp: dict[str, Any] | None = None
    scrubbed: dict[str, int] = Field(description="Scrubbing hits per rule.")
