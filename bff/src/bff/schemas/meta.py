"""The health answers."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class Alive(BaseModel):
    """The process answers."""

    status: Literal["ok"]


class Ready(BaseModel):
    """Every upstream answers its health check."""

    status: Literal["ready"]
    upstreams: dict[str, dict[str, Any]] = Field(
        description="Per upstream: ok, status or error, latency_ms, circuit."
    )
