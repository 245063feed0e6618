"""Our own report format (v1), validated by its model (``bff.schemas.ingest.ClientErrorReport``);
unknown keys are ignored.

See ``docs/client-errors.md`` for the format. Limits: ``error.message`` 8 KiB, ``error.stack``
32 KiB, ``url`` 2 KiB, 30 breadcrumbs of at most 2 KiB each, 10 request ids.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError

from ..schemas.ingest import ClientErrorReport
from ..schemas.validation import field_errors, summary
from .events import ClientError, InvalidInput
from .stack import parse_stack

__all__ = ["parse_json", "parse_report"]


def parse_json(body: bytes) -> Any:
    """The JSON document in ``body``, or a 400 problem."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(400, "bad-json", f"body is not valid JSON: {exc.msg}") from None


def parse_report(doc: Any) -> ClientError:
    """A :class:`ClientError` from a decoded v1 report (``ClientErrorReport``), or a 422
    problem listing every refused field."""
    try:
        report = ClientErrorReport.model_validate(doc)
    except ValidationError as exc:
        errors = field_errors(exc)
        if isinstance(doc, dict) and any(e["pointer"] == "/v" for e in errors):
            raise InvalidInput(
                422, "unsupported-version", "only report version 1 is accepted",
                [{"pointer": "/v", "detail": "must be 1"}],
            ) from None  # fmt: skip
        raise InvalidInput(
            422, "invalid-report", f"the report does not match format v1: {summary(errors)}",
            errors,
        ) from None  # fmt: skip
    error = report.error
    return ClientError(
        source="server" if report.kind == "server" else "reporter",
        kind=report.kind,
        incident=report.incident,
        type=error.type,
        message=error.message,
        frames=parse_stack(error.stack),
        url=report.url,
        route=report.route,
        release=report.release,
        session=report.session,
        digest=report.digest,
        breadcrumbs=[
            {"t": crumb.t, "type": crumb.type, "data": crumb.data}
            for crumb in report.breadcrumbs or ()
        ],
        request_ids=list(report.request_ids or ()),
        ts=float(report.ts) if report.ts is not None else None,
    )
