"""Sentry envelopes (what ``@sentry/browser`` posts to its ``tunnel``), parsed per the spec.

An envelope is a JSON header line, then items: a JSON item header line (``type``, optional
``length``) and a payload of exactly ``length`` bytes (then an optional newline), or, without
``length``, up to the next newline. ``event`` items become client errors; every other item
type (``session``, ``client_report``, ``transaction``, ``attachment``, ...) is skipped and
counted. A DSN or public key is not required: the endpoint is same-origin.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from .events import ClientError, InvalidInput, new_incident
from .report import MAX_BREADCRUMB_BYTES, MAX_BREADCRUMBS, MAX_MESSAGE_CHARS, MAX_URL_CHARS
from .stack import MAX_FRAMES, Frame
from .symbolicate import is_safe_release

MAX_ITEMS: Final = 32
MAX_EVENTS: Final = 4
_EVENT_ID: Final = re.compile(r"^[0-9a-fA-F]{32}$|^[0-9a-fA-F-]{36}$")
_MAX_LINE: Final = 1_000_000_000
_CRUMB_TYPES: Final = {"navigation": "navigation", "ui.click": "click", "fetch": "fetch",
                       "xhr": "fetch"}  # fmt: skip


@dataclass
class Envelope:
    """What an envelope held: its event id, the errors, and the item types skipped."""

    event_id: str | None
    errors: list[ClientError] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidInput(400, "bad-envelope", f"{what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise InvalidInput(400, "bad-envelope", f"{what} must be a JSON object")
    return value


def split_envelope(body: bytes) -> tuple[dict[str, Any], list[tuple[dict[str, Any], bytes]]]:
    """The envelope header and its ``(item header, payload)`` pairs, or a 400 problem."""
    end = body.find(b"\n")
    header = _json_object(body if end < 0 else body[:end], "the envelope header")
    items: list[tuple[dict[str, Any], bytes]] = []
    pos = len(body) if end < 0 else end + 1
    while pos < len(body):
        if body[pos : pos + 1] == b"\n":  # blank line between items
            pos += 1
            continue
        end = body.find(b"\n", pos)
        line = body[pos:] if end < 0 else body[pos:end]
        item_header = _json_object(line, f"item header {len(items)}")
        if not isinstance(item_header.get("type"), str):
            raise InvalidInput(400, "bad-envelope", f"item header {len(items)} has no type")
        pos = len(body) if end < 0 else end + 1
        length = item_header.get("length")
        if length is not None:
            if isinstance(length, bool) or not isinstance(length, int) or length < 0:
                raise InvalidInput(400, "bad-envelope", "item length must be a whole number")
            if pos + length > len(body):
                raise InvalidInput(400, "bad-envelope", "item length runs past the body")
            payload = body[pos : pos + length]
            pos += length
            if body[pos : pos + 1] == b"\n":
                pos += 1
        else:
            end = body.find(b"\n", pos)
            payload = body[pos:] if end < 0 else body[pos:end]
            pos = len(body) if end < 0 else end + 1
        items.append((item_header, payload))
        if len(items) > MAX_ITEMS:
            raise InvalidInput(400, "bad-envelope", f"more than {MAX_ITEMS} items")
    return header, items


def _text(value: Any, limit: int) -> str | None:
    if isinstance(value, str) and value:
        return value[:limit]
    return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < _MAX_LINE:
        return None
    return value


def _frames(stacktrace: Any) -> list[Frame]:
    if not isinstance(stacktrace, dict) or not isinstance(stacktrace.get("frames"), list):
        return []
    frames: list[Frame] = []
    # Sentry lists the outermost frame first; ours are innermost first.
    for raw in reversed(stacktrace["frames"][-MAX_FRAMES:]):
        if not isinstance(raw, dict):
            continue
        in_app = raw.get("in_app")
        frames.append(
            Frame(
                function=_text(raw.get("function"), 1024),
                file=_text(raw.get("abs_path"), 1024) or _text(raw.get("filename"), 1024),
                line=_int(raw.get("lineno")),
                column=_int(raw.get("colno")),
                in_app=in_app if isinstance(in_app, bool) else None,
            )
        )
    return frames


def _breadcrumbs(raw: Any) -> list[dict[str, Any]]:
    values = raw.get("values") if isinstance(raw, dict) else raw
    if not isinstance(values, list):
        return []
    out: list[dict[str, Any]] = []
    for crumb in values[-MAX_BREADCRUMBS:]:
        if not isinstance(crumb, dict):
            continue
        stamp = crumb.get("timestamp")
        if isinstance(stamp, bool) or not isinstance(stamp, int | float):
            continue
        if not math.isfinite(stamp):
            continue
        raw_category = crumb.get("category")
        category: str = raw_category if isinstance(raw_category, str) else ""
        raw_data = crumb.get("data")
        data: dict[str, Any] = raw_data if isinstance(raw_data, dict) else {}
        message = _text(crumb.get("message"), 512)
        if message is not None:
            data = {**data, "message": message}
        try:
            if len(orjson.dumps(data)) > MAX_BREADCRUMB_BYTES:
                continue
        except TypeError:
            continue
        kind = _CRUMB_TYPES.get(category, category[:32] or "default")
        out.append({"t": stamp * 1000.0, "type": kind, "data": data})
    return out


def event_to_error(event: dict[str, Any], fallback_id: str | None) -> ClientError:
    """A :class:`ClientError` from one Sentry event payload."""
    event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else fallback_id
    if event_id is not None and _EVENT_ID.match(event_id):
        incident = event_id.replace("-", "").upper()
    else:
        incident = new_incident()
    exception = event.get("exception")
    values = exception.get("values") if isinstance(exception, dict) else exception
    kind = "error"
    error_type, message, frames = "Error", "", []
    if isinstance(values, list) and values and isinstance(values[-1], dict):
        main = values[-1]
        error_type = _text(main.get("type"), 200) or "Error"
        message = _text(main.get("value"), MAX_MESSAGE_CHARS) or ""
        frames = _frames(main.get("stacktrace"))
        mechanism = main.get("mechanism")
        if isinstance(mechanism, dict) and mechanism.get("type") == "onunhandledrejection":
            kind = "unhandledrejection"
    else:
        raw_message = event.get("message")
        if isinstance(raw_message, dict):
            raw_message = raw_message.get("formatted") or raw_message.get("message")
        error_type = "Message"
        message = _text(raw_message, MAX_MESSAGE_CHARS) or _text(event.get("logentry"), 512) or ""
    raw_request = event.get("request")
    request: dict[str, Any] = raw_request if isinstance(raw_request, dict) else {}
    url = _text(request.get("url"), MAX_URL_CHARS)
    release = _text(event.get("release"), 128)
    return ClientError(
        source="sentry",
        kind=kind,
        incident=incident,
        type=error_type,
        message=message,
        frames=frames,
        url=url if url is not None and url.startswith(("http://", "https://", "/")) else None,
        route=_text(event.get("transaction"), 256),
        release=release if is_safe_release(release) else None,
        session=None,
        breadcrumbs=_breadcrumbs(event.get("breadcrumbs")),
        ts=None,
    )


def parse_envelope(body: bytes) -> Envelope:
    """Parse a whole envelope; malformed framing or event JSON is a 400 problem."""
    header, items = split_envelope(body)
    header_id = header.get("event_id") if isinstance(header.get("event_id"), str) else None
    envelope = Envelope(event_id=header_id)
    for item_header, payload in items:
        kind = item_header["type"]
        if kind != "event" or len(envelope.errors) >= MAX_EVENTS:
            name = kind if kind.replace("_", "").isalnum() and len(kind) <= 32 else "other"
            envelope.skipped[name] = envelope.skipped.get(name, 0) + 1
            continue
        event = _json_object(payload, "an event item")
        envelope.errors.append(event_to_error(event, header_id))
    return envelope
