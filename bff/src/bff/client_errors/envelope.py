"""Sentry envelopes (what ``@sentry/browser`` posts to its ``tunnel``), parsed per the spec.

An envelope is a JSON header line, then items: a JSON item header line (``type``, optional
``length``) and a payload of exactly ``length`` bytes (then an optional newline), or, without
``length``, up to the next newline. ``event`` items become client errors; every other item
type (``session``, ``client_report``, ``transaction``, ``attachment``, ...) is skipped and
counted. A DSN or public key is not required: the endpoint is same-origin.

The framing is read here by hand (it is not JSON); the envelope header, each item header and
each event payload are validated by their models (``bff.schemas.sentry``). A line or payload
that is not a JSON object, or a member of the wrong type, is a 400 ``bad-envelope`` problem
whose ``errors`` name each refused member by a JSON pointer into that line or payload.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from ..schemas.ingest import MAX_BREADCRUMB_BYTES, MAX_MESSAGE_CHARS
from ..schemas.sentry import (
    MAX_LOGENTRY_CHARS,
    UNION_TAGS,
    EnvelopeHeader,
    EnvelopeItemHeader,
    SentryBreadcrumb,
    SentryEvent,
    SentryFrame,
    SentryMessage,
)
from ..schemas.validation import field_errors, summary
from .events import ClientError, InvalidInput, new_incident
from .stack import Frame
from .symbolicate import is_safe_release

MAX_ITEMS: Final = 32
MAX_EVENTS: Final = 4
#: Item types the Sentry SDKs send (develop.sentry.dev, "Envelope Items"): skipped ones are
#: counted under their own name, any other name under ``other``, so a client cannot grow the
#: counters (one key per invented type) without bound.
KNOWN_ITEM_TYPES: Final = frozenset(
    {
        "attachment", "check_in", "client_report", "event", "feedback", "log", "metric_meta",
        "otel_log", "profile", "profile_chunk", "replay_event", "replay_recording",
        "replay_video", "session", "sessions", "span", "statsd", "trace_metric", "transaction",
        "user_report",
    }
)  # fmt: skip
_EVENT_ID: Final = re.compile(r"^[0-9a-fA-F]{32}$|^[0-9a-fA-F-]{36}$")
_CRUMB_TYPES: Final = {"navigation": "navigation", "ui.click": "click", "fetch": "fetch",
                       "xhr": "fetch"}  # fmt: skip

Model = TypeVar("Model", bound=BaseModel)


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


def _read(model: type[Model], raw: bytes, what: str) -> Model:
    """``raw`` (one JSON line or payload) validated by ``model``, or a 400 problem naming each
    refused member by a JSON pointer into ``raw``."""
    doc = _json_object(raw, what)
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        errors = field_errors(exc, skip=UNION_TAGS)
        raise InvalidInput(
            400, "bad-envelope", f"{what} does not match its schema: {summary(errors)}", errors
        ) from None


def split_envelope(body: bytes) -> tuple[EnvelopeHeader, list[tuple[EnvelopeItemHeader, bytes]]]:
    """The envelope header and its ``(item header, payload)`` pairs, or a 400 problem."""
    end = body.find(b"\n")
    header = _read(EnvelopeHeader, body if end < 0 else body[:end], "the envelope header")
    items: list[tuple[EnvelopeItemHeader, bytes]] = []
    pos = len(body) if end < 0 else end + 1
    while pos < len(body):
        if body[pos : pos + 1] == b"\n":  # blank line between items
            pos += 1
            continue
        end = body.find(b"\n", pos)
        line = body[pos:] if end < 0 else body[pos:end]
        item_header = _read(EnvelopeItemHeader, line, f"item header {len(items)}")
        pos = len(body) if end < 0 else end + 1
        length = item_header.length
        if length is not None:
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


def _frames(frames: list[SentryFrame]) -> list[Frame]:
    # Sentry lists the outermost frame first; ours are innermost first.
    return [
        Frame(
            function=raw.function,
            file=raw.abs_path or raw.filename,
            line=raw.lineno,
            column=raw.colno,
            in_app=raw.in_app,
        )
        for raw in reversed(frames)
    ]


def _breadcrumbs(crumbs: list[SentryBreadcrumb]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for crumb in crumbs:
        stamp = crumb.timestamp
        if isinstance(stamp, str) or stamp is None:  # RFC 3339 or absent: not read
            continue
        category = crumb.category or ""
        data: dict[str, Any] = crumb.data or {}
        if crumb.message is not None:
            data = {**data, "message": crumb.message}
        try:
            if len(orjson.dumps(data)) > MAX_BREADCRUMB_BYTES:
                continue
        except TypeError:
            continue
        kind = _CRUMB_TYPES.get(category, category[:32] or "default")
        out.append({"t": stamp * 1000.0, "type": kind, "data": data})
    return out


def _message_text(message: str | SentryMessage | None) -> str | None:
    if isinstance(message, SentryMessage):
        message = message.formatted or message.message
    return (message[:MAX_MESSAGE_CHARS] or None) if message else None


def event_to_error(event: SentryEvent, fallback_id: str | None) -> ClientError:
    """A :class:`ClientError` from one validated Sentry event."""
    event_id = event.event_id if event.event_id is not None else fallback_id
    if event_id is not None and _EVENT_ID.match(event_id):
        incident = event_id.replace("-", "").upper()
    else:
        incident = new_incident()
    kind = "error"
    main = event.main_exception()
    if main is not None:
        error_type = main.type or "Error"
        message = main.value or ""
        frames = _frames(main.stacktrace.frames) if main.stacktrace is not None else []
        if main.mechanism is not None and main.mechanism.type == "onunhandledrejection":
            kind = "unhandledrejection"
    else:
        error_type, frames = "Message", []
        logentry = event.logentry if isinstance(event.logentry, str) else None
        message = (
            _message_text(event.message)
            or (logentry[:MAX_LOGENTRY_CHARS] if logentry else None)
            or ""
        )
    url = event.request.url if event.request is not None else None
    release = event.release
    return ClientError(
        source="sentry",
        kind=kind,
        incident=incident,
        type=error_type,
        message=message,
        frames=frames,
        url=url if url is not None and url.startswith(("http://", "https://", "/")) else None,
        route=event.transaction,
        release=release if is_safe_release(release) else None,
        session=None,
        breadcrumbs=_breadcrumbs(event.crumbs()),
        ts=None,
    )


def parse_envelope(body: bytes) -> Envelope:
    """Parse a whole envelope; malformed framing, headers or events are a 400 problem."""
    header, items = split_envelope(body)
    envelope = Envelope(event_id=header.event_id)
    for index, (item_header, payload) in enumerate(items):
        kind = item_header.type
        if kind != "event" or len(envelope.errors) >= MAX_EVENTS:
            name = kind if kind in KNOWN_ITEM_TYPES else "other"
            envelope.skipped[name] = envelope.skipped.get(name, 0) + 1
            continue
        event = _read(SentryEvent, payload, f"item {index} (event)")
        envelope.errors.append(event_to_error(event, header.event_id))
    return envelope
