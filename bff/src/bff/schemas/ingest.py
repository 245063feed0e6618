"""What the ingest endpoints accept and answer: client-error reports (format v1), Web Vitals
batches, Reporting API and CSP reports, and the 202 bodies."""

from __future__ import annotations

import math
from typing import Annotated, Any, Final, Literal

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

MAX_BREADCRUMBS: Final = 30
MAX_BREADCRUMB_BYTES: Final = 2048
MAX_REQUEST_IDS: Final = 10
MAX_MESSAGE_CHARS: Final = 8192
MAX_STACK_CHARS: Final = 32768
MAX_FRAMES: Final = 50  # frames read from a stack, innermost first
MAX_URL_CHARS: Final = 2048
MAX_ROUTE_CHARS: Final = 256
MAX_REPORTS: Final = 32
MAX_METRICS: Final = 20
MAX_VITAL_VALUE: Final = 3_600_000.0  # an hour in ms; CLS is unitless and far below

INCIDENT_PATTERN: Final = r"^[A-Z0-9-]{6,32}$"
SESSION_PATTERN: Final = r"^[A-Za-z0-9._:-]{1,128}$"
REQUEST_ID_PATTERN: Final = r"^[A-Za-z0-9._-]{1,128}$"
ERROR_TYPE_PATTERN: Final = r"^[^\x00-\x1f]{1,200}$"
#: A release is a path token (it names a source-map directory): a letter or digit first, then
#: letters, digits and ._- with no ".." anywhere; at most 128 characters.
RELEASE_PATTERN: Final = r"^[A-Za-z0-9](?:\.?[A-Za-z0-9_-])*\.?$"
#: An http(s) URL or an absolute path, without control characters.
URL_PATTERN: Final = r"^(?:https?://|/)[^\x00-\x1f\x7f-\x9f]*$"

#: Strict: a string is never a number, a number never a string, true never 1.
_STRICT = ConfigDict(strict=True, allow_inf_nan=False, extra="ignore")

Release = Annotated[str, Field(max_length=128, pattern=RELEASE_PATTERN)]
PageUrl = Annotated[
    str,
    Field(
        max_length=MAX_URL_CHARS,
        pattern=URL_PATTERN,
        description="An http(s) URL or an absolute path.",
    ),
]
Route = Annotated[str, Field(max_length=MAX_ROUTE_CHARS)]


def json_number(value: Any) -> int | float:
    """A JSON number, kept as sent (an integer stays an integer in the record); never a
    boolean, a string or a non-finite value."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("number_type", "must be a number")
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an integer too large for a double
        finite = False
    if not finite:
        raise PydanticCustomError("finite_number", "must be a finite number")
    return value


def _vital_value(value: Any) -> int | float:
    number = json_number(value)
    if not 0 <= number <= MAX_VITAL_VALUE:
        raise PydanticCustomError("vital_range", f"must be from 0 to {MAX_VITAL_VALUE:.0f}")
    return number


#: A JSON number (one schema, one error message, an integer kept as an integer).
Number = Annotated[int | float, PlainValidator(json_number), WithJsonSchema({"type": "number"})]
EpochMs = Annotated[Number, Field(description="Epoch milliseconds.")]


def _small_json(data: dict[str, Any]) -> dict[str, Any]:
    if len(orjson.dumps(data)) > MAX_BREADCRUMB_BYTES:
        raise ValueError(f"must be at most {MAX_BREADCRUMB_BYTES} bytes as JSON")
    return data


class ReportedError(BaseModel):
    """The error itself."""

    model_config = _STRICT

    type: str = Field(pattern=ERROR_TYPE_PATTERN, description="The error's class name.")
    message: str = Field(max_length=MAX_MESSAGE_CHARS)
    stack: str | None = Field(default=None, max_length=MAX_STACK_CHARS)


class Breadcrumb(BaseModel):
    """Something the user or the page did before the error."""

    model_config = _STRICT

    t: EpochMs
    type: Literal["navigation", "click", "fetch"]
    data: Annotated[
        dict[str, Any],
        AfterValidator(_small_json),
        Field(description=f"At most {MAX_BREADCRUMB_BYTES} bytes as JSON."),
    ] = Field(default_factory=dict)


class ClientErrorReport(BaseModel):
    """Client error report, format v1 (unknown keys are ignored)."""

    model_config = _STRICT

    v: Literal[1]
    incident: str = Field(pattern=INCIDENT_PATTERN, description="The code shown to the user.")
    kind: Literal["error", "unhandledrejection", "boundary", "server"]
    error: ReportedError
    url: PageUrl
    route: Route | None = None
    release: Release | None = None
    session: str | None = Field(default=None, pattern=SESSION_PATTERN)
    digest: str | None = Field(default=None, pattern=SESSION_PATTERN)
    breadcrumbs: list[Breadcrumb] | None = Field(default=None, max_length=MAX_BREADCRUMBS)
    request_ids: list[Annotated[str, Field(pattern=REQUEST_ID_PATTERN)]] | None = Field(
        default=None,
        max_length=MAX_REQUEST_IDS,
        description="X-Request-ID of the API calls that failed before the error.",
    )
    ts: EpochMs | None = Field(default=None, description="Client clock, epoch milliseconds.")


class WebVital(BaseModel):
    """One Web Vitals measurement."""

    model_config = _STRICT

    name: Literal["LCP", "INP", "CLS", "FCP", "TTFB"]
    value: Annotated[
        int | float,
        PlainValidator(_vital_value),
        WithJsonSchema({"type": "number", "minimum": 0, "maximum": MAX_VITAL_VALUE}),
        Field(description="Milliseconds (CLS: unitless)."),
    ]
    rating: Literal["good", "needs-improvement", "poor"]
    id: str = Field(min_length=1, max_length=128)
    navigationType: str | None = Field(default=None, max_length=32)  # noqa: N815 - web-vitals' name


class WebVitalsBatch(BaseModel):
    """A page's Web Vitals, sent as the page is hidden."""

    model_config = _STRICT

    v: Literal[1]
    release: Release | None = None
    url: PageUrl | None = None
    route: Route | None = None
    metrics: list[WebVital] = Field(min_length=1, max_length=MAX_METRICS)


class ReportingApiReport(BaseModel):
    """One report of a Reporting API batch (``application/reports+json``); ``body`` depends on
    ``type`` (``csp-violation``, ``deprecation``, ``intervention``, ``crash``, ...)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(
        min_length=1, description="The report type; the first 64 characters are kept."
    )
    url: Any = None
    age: Any = None
    user_agent: Any = None
    body: Any = None


ReportingApiBatch = Annotated[list[ReportingApiReport], Field(max_length=MAX_REPORTS)]


class CspReport(BaseModel):
    """A legacy CSP report (``report-uri``, ``application/csp-report``)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    csp_report: dict[str, Any] = Field(alias="csp-report")


class ReportAccepted(BaseModel):
    """A report was taken (logged, or counted as known noise)."""

    incident: str
    request_id: str


class EnvelopeAccepted(BaseModel):
    """An envelope was taken; ``id`` is its event id, as Sentry's SDK expects."""

    id: str | None
    request_id: str


class BrowserReportsAccepted(BaseModel):
    """What became of each report of the batch."""

    accepted: int
    filtered: int
    rate_limited: int
    request_id: str


class VitalsAccepted(BaseModel):
    """How many metrics were logged."""

    accepted: int
    request_id: str
