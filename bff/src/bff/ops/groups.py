"""Client errors grouped by fingerprint, read from the error-group index (never from raw events):
``GET /api/ops/client-errors`` (the list), ``GET /api/ops/client-errors/<fingerprint>`` (one
group's page) and ``PUT``/``DELETE .../<fingerprint>/resolution`` (resolve, reopen)."""

from __future__ import annotations

import re
import time
from typing import Any, Final

from flask import Response, current_app

from ..client_errors.index import ErrorIndex, IndexUnavailable
from ..client_errors.ingest import INDEX_EXTENSION_KEY
from ..errors import problem_response
from ..schemas.ops import (
    FINGERPRINT_PATTERN,
    ClientErrors,
    ErrorGroupPage,
    GroupQuery,
    GroupsQuery,
    Resolution,
)
from .blueprint import Refusal, bp, iso_ms, json_response, query

SPARK_MINUTES: Final = 60
FINGERPRINT: Final = re.compile(FINGERPRINT_PATTERN.strip("^$"))


def index_unavailable(detail: str) -> Response:
    """503 problem: the index cannot answer, so no numbers are shown at all."""
    return problem_response(
        503, "index-unavailable", detail, headers={"Retry-After": "10"}, extra={"index": False}
    )


@bp.errorhandler(IndexUnavailable)
def _index_failed(exc: IndexUnavailable) -> Response:
    return index_unavailable(str(exc))


def current_index() -> ErrorIndex:
    """This app's index; without one the request is refused with the 503 that says so (and
    when the index fails, ``IndexUnavailable`` is answered with the same 503)."""
    index: ErrorIndex | None = current_app.extensions.get(INDEX_EXTENSION_KEY)
    if index is None:
        raise Refusal(
            index_unavailable(
                "the error-group index needs Redis: BFF_RATELIMIT_STORAGE_URI is not a redis:// "
                "or rediss:// URL, so client errors are logged but not indexed"
            )
        )
    return index


def _times(group: dict[str, Any]) -> dict[str, Any]:
    for name in ("first_seen", "last_seen", "resolved_at", "reopened_at"):
        value = group.get(name)
        group[name] = iso_ms(value) if isinstance(value, int) else None
    return group


@bp.get("/client-errors")
def client_errors() -> Response:
    """Groups with an event in the last ``since`` minutes, from the index."""
    params = query(GroupsQuery)
    index = current_index()
    now_ms = int(time.time() * 1000)
    matched, groups = index.groups(
        since_ms=now_ms - params.since * 60_000,
        status=params.status,
        sort=params.sort,
        limit=params.limit,
        spark_minutes=SPARK_MINUTES,
        now_ms=now_ms,
    )
    return json_response(
        ClientErrors.model_validate(
            {
                "configured": True,
                "since_minutes": params.since,
                "status": params.status,
                "sort": params.sort,
                "generated_at": iso_ms(now_ms),
                "matched": matched,
                "truncated": matched > len(groups),
                "sparkline_minutes": SPARK_MINUTES,
                "groups": [_times(group) for group in groups],
            }
        )
    )


def _fingerprint(raw: str) -> str:
    if not FINGERPRINT.fullmatch(raw):
        raise Refusal(
            problem_response(
                400, "bad-fingerprint", "a fingerprint is 16 lower-case hexadecimal digits"
            )
        )
    return raw


def _not_found(fingerprint: str) -> Response:
    return problem_response(
        404,
        "error-group-not-found",
        f"no error group {fingerprint} in the index (groups are kept 14 days after their last "
        "event)",
        extra={"fingerprint": fingerprint},
    )


@bp.get("/client-errors/<fingerprint>")
def error_group(fingerprint: str) -> Response:
    """One group: facts, releases, routes, latest occurrences, sample, per-minute counts."""
    checked = _fingerprint(fingerprint)
    params = query(GroupQuery)
    index = current_index()
    now_ms = int(time.time() * 1000)
    group = index.group(checked, minutes=params.minutes, now_ms=now_ms)
    if group is None:
        return _not_found(checked)
    for release in group["releases"]:
        first = release["first_seen"]
        release["first_seen"] = iso_ms(first) if isinstance(first, int) else None
    for entry in group["latest"]:
        stamp = entry.get("t")
        entry["timestamp"] = iso_ms(stamp) if isinstance(stamp, int) else None
        entry.pop("t", None)
    group["minutes"] = [{"t": iso_ms(m["t"]), "count": m["count"]} for m in group["minutes"]]
    return json_response(
        ErrorGroupPage.model_validate({"generated_at": iso_ms(now_ms), **_times(group)})
    )


def _set_status(fingerprint: str, status: str) -> Response:
    checked = _fingerprint(fingerprint)
    index = current_index()
    found = index.set_status(checked, status)
    group = index.group(checked, minutes=1) if found else None
    if group is None:
        return _not_found(checked)
    return json_response(
        Resolution(
            fingerprint=checked,
            status=group["status"],
            resolved_at=iso_ms(group["resolved_at"]) if group["resolved_at"] else None,
            resolved_release=group["resolved_release"],
        )
    )


@bp.put("/client-errors/<fingerprint>/resolution")
def resolve(fingerprint: str) -> Response:
    """Mark a group resolved; it reopens when it comes back in a newer release."""
    return _set_status(fingerprint, "resolved")


@bp.delete("/client-errors/<fingerprint>/resolution")
def reopen(fingerprint: str) -> Response:
    """Reopen a resolved group by hand."""
    return _set_status(fingerprint, "open")
