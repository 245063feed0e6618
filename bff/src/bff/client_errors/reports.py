"""Browser reports: the Reporting API (``application/reports+json``) and legacy CSP reports
(``application/csp-report``)."""

from __future__ import annotations

from typing import Any, Final

from pydantic import TypeAdapter, ValidationError

from ..schemas.ingest import (
    MAX_MESSAGE_CHARS,
    MAX_REPORTS,
    MAX_URL_CHARS,
    CspReport,
    ReportingApiBatch,
    ReportingApiReport,
)
from ..schemas.validation import field_errors, summary
from .events import ClientError, InvalidInput, new_incident

__all__ = ["MAX_REPORTS", "parse_csp_report", "parse_reporting_api"]

_TEXT_LIMIT: Final = 1024
_BATCH: Final = TypeAdapter(ReportingApiBatch)


def _refused(exc: ValidationError, what: str) -> InvalidInput:
    errors = field_errors(exc)
    return InvalidInput(422, "invalid-report", f"{what}: {summary(errors)}", errors)


def _text(value: Any, limit: int = _TEXT_LIMIT) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 10**9:
        return None
    return value


def _csp_error(
    *, source: str, directive: str | None, blocked: str | None, document: str | None,
    source_file: str | None, line: int | None, disposition: str | None, sample: str | None,
) -> ClientError:  # fmt: skip
    directive = directive or "unknown"
    blocked = blocked or "unknown"
    csp = {
        "directive": directive,
        "blocked": blocked,
        "document": document,
        "source_file": source_file,
        "line": line,
    }
    if disposition is not None:
        csp["disposition"] = disposition
    if sample is not None:
        csp["sample"] = sample
    return ClientError(
        source=source,
        kind="csp",
        incident=new_incident(),
        type="CSPViolation",
        message=f"{directive} {blocked}",
        url=document if document and document.startswith(("http://", "https://")) else None,
        csp=csp,
    )


def parse_csp_report(doc: Any) -> ClientError:
    """A legacy ``{"csp-report": {...}}`` body (``report-uri``)."""
    try:
        body = CspReport.model_validate(doc).csp_report
    except ValidationError as exc:
        raise _refused(exc, 'a CSP report must be {"csp-report": {...}}') from None
    return _csp_error(
        source="csp",
        directive=_text(body.get("effective-directive"), 128)
        or _text(body.get("violated-directive"), 128),
        blocked=_text(body.get("blocked-uri"), MAX_URL_CHARS),
        document=_text(body.get("document-uri"), MAX_URL_CHARS),
        source_file=_text(body.get("source-file"), MAX_URL_CHARS),
        line=_int(body.get("line-number")),
        disposition=_text(body.get("disposition"), 16),
        sample=_text(body.get("script-sample"), 256),
    )


def _reporting_api_item(report: ReportingApiReport) -> ClientError:
    kind = report.type[:64]
    body: dict[str, Any] = report.body if isinstance(report.body, dict) else {}
    url = _text(report.url, MAX_URL_CHARS)
    if kind == "csp-violation":
        return _csp_error(
            source="csp",
            directive=_text(body.get("effectiveDirective"), 128),
            blocked=_text(body.get("blockedURL"), MAX_URL_CHARS),
            document=_text(body.get("documentURL"), MAX_URL_CHARS) or url,
            source_file=_text(body.get("sourceFile"), MAX_URL_CHARS),
            line=_int(body.get("lineNumber")),
            disposition=_text(body.get("disposition"), 16),
            sample=_text(body.get("sample"), 256),
        )
    message = (
        _text(body.get("message"), MAX_MESSAGE_CHARS)
        or _text(body.get("reason"), MAX_MESSAGE_CHARS)
        or _text(body.get("id"), 256)
        or kind
    )
    return ClientError(
        source="reporting-api",
        kind=kind,
        incident=new_incident(),
        type=kind,
        message=message,
        url=url if url is not None and url.startswith(("http://", "https://")) else None,
    )


def parse_reporting_api(doc: Any) -> list[ClientError]:
    """A Reporting API batch: a JSON array of ``{type, age, url, user_agent, body}``."""
    try:
        reports = _BATCH.validate_python(doc)
    except ValidationError as exc:
        raise _refused(
            exc, f"a reports+json body must be an array of at most {MAX_REPORTS} reports"
        ) from None
    return [_reporting_api_item(report) for report in reports]
