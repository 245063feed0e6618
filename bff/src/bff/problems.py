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


#: Upstream problem documents up to this size are given the public ``instance`` and the request
#: id; a larger, compressed, chunked or unparsable body passes through unchanged.
PUBLIC_PROBLEM_MAX_BYTES = 65_536


def is_problem(headers: list[tuple[str, str]]) -> bool:
    """Whether response ``headers`` announce an uncompressed problem+json body of known length
    (a chunked one is streamed as it comes, whether or not it all arrived with the head)."""
    problem = sized = False
    for name, value in headers:
        lower = name.lower()
        if lower == "content-type":
            problem = value.split(";", 1)[0].strip().lower() == PROBLEM_CONTENT_TYPE
        elif lower == "content-length":
            sized = True
        elif lower == "content-encoding" and value.strip().lower() not in ("", "identity"):
            return False
    return problem and sized


def public_problem(body: bytes, instance: str, request_id: str) -> bytes | None:
    """An upstream's problem document with the BFF's public ``instance`` and ``request_id``;
    None when ``body`` is too large or not a JSON object (it is then passed on as it came)."""
    if not body or len(body) > PUBLIC_PROBLEM_MAX_BYTES:
        return None
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(doc, dict):
        return None
    doc["instance"] = instance
    doc["request_id"] = request_id
    return orjson.dumps(doc)
