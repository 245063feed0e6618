"""Small formatting helpers shared by models and views."""

from __future__ import annotations

from datetime import UTC, datetime


def format_timestamp(value: datetime) -> str:
    """Format an aware datetime as ISO 8601 in UTC with millisecond precision and a ``Z``."""
    text = value.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.removesuffix("+00:00") + "Z"
