"""The parts of a Sentry envelope the BFF reads: the envelope header, each item header, and the
payload of ``event`` items (what ``@sentry/browser`` posts to its ``tunnel``).

Only the members the ingest reads are declared; SDKs send many more, which are ignored. The
types of what is read are checked (strict: a string is never a number, ``true`` never ``1``)
and a wrong type refuses the envelope. Lengths are not refused but cut, as the ingest always
did: text to a bound per member, frames and breadcrumbs to the last ones (the ingest reads the
last exception of the chain). Values the ingest cannot use read as absent rather than refused:
an empty string, a line or column outside 1..999,999,999, a breadcrumb timestamp that is not a
number (the protocol also allows an RFC 3339 string; such a breadcrumb is left out).

The envelope's framing (newline-delimited lines and ``length``-counted payloads) is not JSON
and is read by ``bff.client_errors.envelope``; each JSON line or payload it finds is validated
by one of these models.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Final, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PlainValidator,
    Tag,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from .ingest import MAX_BREADCRUMBS, MAX_FRAMES, MAX_MESSAGE_CHARS, MAX_URL_CHARS, json_number

MAX_FIELD_CHARS: Final = 1024
MAX_TYPE_CHARS: Final = 200
MAX_RELEASE_CHARS: Final = 128
MAX_TRANSACTION_CHARS: Final = 256
MAX_CRUMB_MESSAGE_CHARS: Final = 512
MAX_LOGENTRY_CHARS: Final = 512
MAX_LINE: Final = 1_000_000_000
#: The tags of the unions below: pydantic puts the tag of the member it tried in an error's
#: location; it is not a member of the document, so JSON pointers leave it out.
UNION_TAGS: Final = frozenset({"string", "object", "array"})

_SENTRY = ConfigDict(strict=True, extra="ignore")

Item = TypeVar("Item")


def _clip(limit: int) -> Callable[[str | None], str | None]:
    def clip(value: str | None) -> str | None:
        return (value[:limit] or None) if value is not None else None

    return clip


def _last(count: int) -> Callable[[list[Item]], list[Item]]:
    def last(values: list[Item]) -> list[Item]:
        return values[-count:]

    return last


def _json_kind(value: Any) -> str | None:
    """The JSON type of ``value``: the tag of the union member it is validated as."""
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "number"
    return None


def _either(first: str, second: str) -> Discriminator:
    """Pick the union member by the value's JSON type; any other type is one error."""
    return Discriminator(
        _json_kind,
        custom_error_type="union_type",
        custom_error_message=f"must be {'an' if first[0] in 'aeiou' else 'a'} {first} or "
        f"{'an' if second[0] in 'aeiou' else 'a'} {second}",
    )


#: Text cut to a member's bound (an empty string reads as absent).
TypeName = Annotated[str | None, AfterValidator(_clip(MAX_TYPE_CHARS))]
MessageText = Annotated[str | None, AfterValidator(_clip(MAX_MESSAGE_CHARS))]
UrlText = Annotated[str | None, AfterValidator(_clip(MAX_URL_CHARS))]
ReleaseText = Annotated[str | None, AfterValidator(_clip(MAX_RELEASE_CHARS))]
TransactionText = Annotated[str | None, AfterValidator(_clip(MAX_TRANSACTION_CHARS))]
CrumbMessage = Annotated[str | None, AfterValidator(_clip(MAX_CRUMB_MESSAGE_CHARS))]
_CUT_FIELD: Final = f"Cut to {MAX_FIELD_CHARS} characters; empty reads as absent."
_LINE: Final = "1-based; outside 1..999,999,999 it reads as absent."


def _timestamp(value: Any) -> int | float | str:
    kind = type(value)
    if kind is str or (kind is float and value - value == 0.0):  # a string, a finite float
        return value  # type: ignore[no-any-return]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("union_type", "must be a number or a string")
    return json_number(value)


#: A breadcrumb's time: epoch seconds, or an RFC 3339 string (accepted, not read)
Timestamp = Annotated[
    int | float | str,
    PlainValidator(_timestamp),
    WithJsonSchema({"oneOf": [{"type": "number"}, {"type": "string"}]}),
]


class EnvelopeHeader(BaseModel):
    """The envelope's first line."""

    model_config = _SENTRY

    event_id: str | None = Field(default=None, description="Answered back as the 202's `id`.")


class EnvelopeItemHeader(BaseModel):
    """The JSON line before each item's payload."""

    model_config = _SENTRY

    type: str = Field(
        description="`event` items are ingested; every other type is skipped and counted."
    )
    length: int | None = Field(
        default=None,
        ge=0,
        description="The payload's length in bytes; without it the payload runs to the next "
        "newline.",
    )


class SentryFrame(BaseModel):
    """One stack frame (Sentry lists the outermost first)."""

    model_config = _SENTRY

    function: str | None = Field(default=None, description=_CUT_FIELD)
    abs_path: str | None = Field(default=None, description=f"Read before `filename`. {_CUT_FIELD}")
    filename: str | None = Field(default=None, description=_CUT_FIELD)
    lineno: int | None = Field(default=None, description=_LINE)
    colno: int | None = Field(default=None, description=_LINE)
    in_app: bool | None = None


def _frames(frames: list[SentryFrame]) -> list[SentryFrame]:
    """The last :data:`MAX_FRAMES` frames, text cut and lines out of range read as absent: one
    pass over the list rather than a validator per member (each is a call into Python, and
    frames are most of an event)."""
    frames = frames[-MAX_FRAMES:]
    for frame in frames:
        values = frame.__dict__  # the validated members; set directly, they are checked
        for name in ("function", "abs_path", "filename"):
            text = values[name]
            if text is not None and (not text or len(text) > MAX_FIELD_CHARS):
                values[name] = text[:MAX_FIELD_CHARS] or None
        for name in ("lineno", "colno"):
            number = values[name]
            if number is not None and not 0 < number < MAX_LINE:
                values[name] = None
    return frames


class SentryStacktrace(BaseModel):
    """An exception's stack trace."""

    model_config = _SENTRY

    frames: Annotated[list[SentryFrame], AfterValidator(_frames)] = Field(
        default_factory=list, description=f"The last (innermost) {MAX_FRAMES} are read."
    )


class SentryMechanism(BaseModel):
    """How the exception was caught."""

    model_config = _SENTRY

    type: str | None = Field(
        default=None, description="`onunhandledrejection` makes the kind `unhandledrejection`."
    )


class SentryExceptionValue(BaseModel):
    """One exception of the chain; the ingest reads the last (the one thrown)."""

    model_config = _SENTRY

    type: TypeName = Field(
        default=None,
        description=f"The error's class name (`Error` when absent); cut to {MAX_TYPE_CHARS} "
        "characters.",
    )
    value: MessageText = Field(
        default=None, description=f"The message; cut to {MAX_MESSAGE_CHARS} characters."
    )
    stacktrace: SentryStacktrace | None = None
    mechanism: SentryMechanism | None = None


class SentryException(BaseModel):
    """The exception interface."""

    model_config = _SENTRY

    values: list[SentryExceptionValue] | None = None


class SentryMessage(BaseModel):
    """A message given as an object: ``formatted`` is read, else ``message``."""

    model_config = _SENTRY

    formatted: str | None = None
    message: str | None = None


class SentryRequest(BaseModel):
    """The page the event happened on."""

    model_config = _SENTRY

    url: UrlText = Field(
        default=None,
        description=f"Kept when it is an http(s) URL or an absolute path; cut to "
        f"{MAX_URL_CHARS} characters.",
    )


class SentryBreadcrumb(BaseModel):
    """Something the user or the page did before the event."""

    model_config = _SENTRY

    timestamp: Timestamp | None = Field(
        default=None,
        description="Epoch seconds; a breadcrumb without a numeric timestamp is left out.",
    )
    category: str | None = Field(
        default=None,
        description="`navigation`, `ui.click`, `fetch` and `xhr` map to the event's breadcrumb "
        "types; others are kept as their first 32 characters.",
    )
    message: CrumbMessage = Field(
        default=None,
        description=f"Added to `data` as `message`; cut to {MAX_CRUMB_MESSAGE_CHARS} characters.",
    )
    data: dict[str, Any] | None = Field(
        default=None, description="A breadcrumb whose data is over 2048 bytes as JSON is left out."
    )


Breadcrumbs = Annotated[list[SentryBreadcrumb], AfterValidator(_last(MAX_BREADCRUMBS))]


class SentryBreadcrumbs(BaseModel):
    """Breadcrumbs in the protocol's object form."""

    model_config = _SENTRY

    values: Breadcrumbs | None = Field(
        default=None, description=f"The last {MAX_BREADCRUMBS} are read."
    )


class SentryEvent(BaseModel):
    """The payload of an ``event`` item: the members the ingest reads."""

    model_config = _SENTRY

    event_id: str | None = Field(
        default=None,
        description="32 hex digits (dashes allowed) become the incident code; otherwise the "
        "envelope header's, else a new code.",
    )
    exception: (
        Annotated[
            Annotated[SentryException, Tag("object")]
            | Annotated[list[SentryExceptionValue], Tag("array")],
            _either("object", "array"),
        ]
        | None
    ) = Field(default=None, description="`{values: [...]}`, or the list of values itself.")
    message: (
        Annotated[
            Annotated[str, Tag("string")] | Annotated[SentryMessage, Tag("object")],
            _either("string", "object"),
        ]
        | None
    ) = Field(
        default=None,
        description=f"Read when there is no exception; cut to {MAX_MESSAGE_CHARS} characters.",
    )
    logentry: (
        Annotated[
            Annotated[str, Tag("string")] | Annotated[dict[str, Any], Tag("object")],
            _either("string", "object"),
        ]
        | None
    ) = Field(
        default=None,
        description=f"Read when it is a string and there is no message; cut to "
        f"{MAX_LOGENTRY_CHARS} characters.",
    )
    request: SentryRequest | None = None
    transaction: TransactionText = Field(
        default=None, description=f"The route; cut to {MAX_TRANSACTION_CHARS} characters."
    )
    release: ReleaseText = Field(
        default=None,
        description="Kept when it is a safe path token (it names a source-map directory); cut "
        f"to {MAX_RELEASE_CHARS} characters.",
    )
    breadcrumbs: (
        Annotated[
            Annotated[SentryBreadcrumbs, Tag("object")] | Annotated[Breadcrumbs, Tag("array")],
            _either("object", "array"),
        ]
        | None
    ) = Field(
        default=None,
        description=f"`{{values: [...]}}` or the list itself; the last {MAX_BREADCRUMBS} are read.",
    )

    def main_exception(self) -> SentryExceptionValue | None:
        """The exception the ingest reads: the last of the chain (the one thrown)."""
        exception = self.exception
        values = exception.values if isinstance(exception, SentryException) else exception
        return values[-1] if values else None

    def crumbs(self) -> list[SentryBreadcrumb]:
        """The breadcrumbs, whichever form they came in."""
        crumbs = self.breadcrumbs
        if isinstance(crumbs, SentryBreadcrumbs):
            return crumbs.values or []
        return crumbs or []
