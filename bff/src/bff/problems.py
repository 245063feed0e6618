"""RFC 9457 problem details: every error the BFF produces has this shape."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import orjson

PROBLEM_CONTENT_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:bff:problem:"


def reason(status: int) -> str:
    """The standard reason phrase for ``status`` (empty for unknown codes)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def status_line(status: int, phrase: str | None = None) -> str:
    """A WSGI status line such as ``"502 Bad Gateway"``."""
    return f"{status} {phrase or reason(status) or 'Unknown'}"


def problem_body(
    status: int,
    slug: str,
    detail: str,
    *,
    request_id: str | None,
    instance: str | None = None,
    title: str | None = None,
    extra: dict[str, Any] | None = None,
) -> bytes:
    """Serialise one problem document; ``extra`` adds extension members that cannot replace ours."""
    doc: dict[str, Any] = dict(extra or {})
    doc.update(
        {
            "type": TYPE_PREFIX + slug,
            "title": title or reason(status) or "Error",
            "status": status,
            "detail": detail,
        }
    )
    if instance is not None:
        doc["instance"] = instance
    if request_id is not None:
        doc["request_id"] = request_id
    return orjson.dumps(doc)


def problem_headers(
    body: bytes, request_id: str | None, extra: list[tuple[str, str]] | None = None
) -> list[tuple[str, str]]:
    """Response headers for a problem body."""
    headers = [
        ("Content-Type", PROBLEM_CONTENT_TYPE),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
    ]
    if request_id is not None:
        headers.append(("X-Request-ID", request_id))
    if extra:
        headers.extend(extra)
    return headers
