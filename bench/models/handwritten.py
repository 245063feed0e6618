"""The client-error report's validation as it was written by hand before ``bff.schemas``
(``bff/src/bff/client_errors/report.py`` up to the commit that replaced it), kept only as the
reference of ``bench/models/run.py``. Stack parsing is left out: every variant shares it."""

from __future__ import annotations

import math
import re
from typing import Any, Final

import orjson
from bff.client_errors.events import InvalidInput
from bff.client_errors.symbolicate import is_safe_release

KINDS: Final = ("error", "unhandledrejection", "boundary", "server")
BREADCRUMB_TYPES: Final = ("navigation", "click", "fetch")
MAX_BREADCRUMBS: Final = 30
MAX_BREADCRUMB_BYTES: Final = 2048
MAX_REQUEST_IDS: Final = 10
MAX_MESSAGE_CHARS: Final = 8192
MAX_URL_CHARS: Final = 2048
MAX_STACK_CHARS: Final = 32768
_INCIDENT: Final = re.compile(r"^[A-Z0-9-]{6,32}$")
_TOKEN: Final = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_REQUEST_ID: Final = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_TYPE: Final = re.compile(r"^[^\x00-\x1f]{1,200}$")


class _Errors:
    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, pointer: str, detail: str) -> None:
        if len(self.items) < 20:
            self.items.append({"pointer": pointer, "detail": detail})


def parse_json(body: bytes) -> Any:
    """The JSON document in ``body``, or a 400 problem."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(400, "bad-json", f"body is not valid JSON: {exc.msg}") from None


def _string(
    doc: dict[str, Any],
    key: str,
    errors: _Errors,
    *,
    pointer: str,
    limit: int,
    required: bool = False,
    pattern: re.Pattern[str] | None = None,
) -> str | None:
    value = doc.get(key)
    if value is None:
        if required:
            errors.add(pointer, "is required")
        return None
    if not isinstance(value, str):
        errors.add(pointer, "must be a string")
        return None
    if len(value) > limit:
        errors.add(pointer, f"must be at most {limit} characters")
        return None
    if pattern is not None and pattern.match(value) is None:
        errors.add(pointer, f"must match {pattern.pattern}")
        return None
    return value


def _url(value: str | None, errors: _Errors, pointer: str) -> str | None:
    if value is None:
        return None
    if not (value.startswith(("https://", "http://", "/")) and value.isprintable()):
        errors.add(pointer, "must be an http(s) URL or an absolute path")
        return None
    return value


def _breadcrumbs(raw: Any, errors: _Errors) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        errors.add("/breadcrumbs", "must be an array")
        return []
    if len(raw) > MAX_BREADCRUMBS:
        errors.add("/breadcrumbs", f"must have at most {MAX_BREADCRUMBS} items")
        return []
    out: list[dict[str, Any]] = []
    for index, crumb in enumerate(raw):
        where = f"/breadcrumbs/{index}"
        if not isinstance(crumb, dict):
            errors.add(where, "must be an object")
            continue
        t = crumb.get("t")
        if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t):
            errors.add(f"{where}/t", "must be a number (epoch ms)")
            continue
        kind = crumb.get("type")
        if kind not in BREADCRUMB_TYPES:
            errors.add(f"{where}/type", f"must be one of {', '.join(BREADCRUMB_TYPES)}")
            continue
        data = crumb.get("data", {})
        if not isinstance(data, dict):
            errors.add(f"{where}/data", "must be an object")
            continue
        if len(orjson.dumps(data)) > MAX_BREADCRUMB_BYTES:
            errors.add(f"{where}/data", f"must be at most {MAX_BREADCRUMB_BYTES} bytes as JSON")
            continue
        out.append({"t": t, "type": kind, "data": data})
    return out


def _request_ids(raw: Any, errors: _Errors) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > MAX_REQUEST_IDS:
        errors.add("/request_ids", f"must be an array of at most {MAX_REQUEST_IDS} ids")
        return []
    ids: list[str] = []
    for index, rid in enumerate(raw):
        if not isinstance(rid, str) or _REQUEST_ID.match(rid) is None:
            errors.add(f"/request_ids/{index}", "must be 1-128 of [A-Za-z0-9._-]")
        else:
            ids.append(rid)
    return ids


def parse_report(doc: Any) -> dict[str, Any]:
    """The checked fields of a decoded v1 report, or InvalidInput listing every error."""
    if not isinstance(doc, dict):
        raise InvalidInput(422, "invalid-report", "the report must be a JSON object")
    errors = _Errors()
    version = doc.get("v")
    if isinstance(version, bool) or version != 1:
        raise InvalidInput(
            422, "unsupported-version", "only report version 1 is accepted", [
                {"pointer": "/v", "detail": "must be 1"}
            ]
        )  # fmt: skip
    incident = _string(doc, "incident", errors, pointer="/incident", limit=32, required=True,
                       pattern=_INCIDENT)  # fmt: skip
    kind = doc.get("kind")
    if kind not in KINDS:
        errors.add("/kind", f"must be one of {', '.join(KINDS)}")
    error = doc.get("error")
    error_type = message = stack = None
    if not isinstance(error, dict):
        errors.add("/error", "must be an object")
    else:
        error_type = _string(error, "type", errors, pointer="/error/type", limit=200,
                             required=True, pattern=_TYPE)  # fmt: skip
        message = _string(error, "message", errors, pointer="/error/message",
                          limit=MAX_MESSAGE_CHARS, required=True)  # fmt: skip
        stack = _string(error, "stack", errors, pointer="/error/stack", limit=MAX_STACK_CHARS)
    url = _url(_string(doc, "url", errors, pointer="/url", limit=MAX_URL_CHARS, required=True),
               errors, "/url")  # fmt: skip
    route = _string(doc, "route", errors, pointer="/route", limit=256)
    release = _string(doc, "release", errors, pointer="/release", limit=128)
    if release is not None and not is_safe_release(release):
        errors.add("/release", "must be 1-128 of [A-Za-z0-9._-], starting with a letter or digit")
    session = _string(doc, "session", errors, pointer="/session", limit=128, pattern=_TOKEN)
    digest = _string(doc, "digest", errors, pointer="/digest", limit=128, pattern=_TOKEN)
    breadcrumbs = _breadcrumbs(doc.get("breadcrumbs"), errors)
    request_ids = _request_ids(doc.get("request_ids"), errors)
    ts = doc.get("ts")
    if ts is not None and (
        isinstance(ts, bool) or not isinstance(ts, int | float) or not math.isfinite(ts)
    ):
        errors.add("/ts", "must be a number (epoch ms)")
        ts = None
    if errors.items:
        raise InvalidInput(422, "invalid-report", "the report does not match format v1",
                           errors.items)  # fmt: skip
    return {
        "incident": incident,
        "kind": kind,
        "type": error_type,
        "message": message,
        "stack": stack,
        "url": url,
        "route": route,
        "release": release,
        "session": session,
        "digest": digest,
        "breadcrumbs": breadcrumbs,
        "request_ids": request_ids,
        "ts": ts,
    }
