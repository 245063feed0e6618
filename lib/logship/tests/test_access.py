from __future__ import annotations

import logging

import pytest
from logship.access import log_access


def test_access_record_shape_and_redaction(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("svc.access")
    caplog.set_level(logging.INFO, logger="svc.access")
    log_access(
        logger,
        "GET",
        "/a",
        "q=1&token=s3cret",
        200,
        1.23456,
        42,
        data={"route": "r"},
        request_id="rid-1",
    )
    (rec,) = caplog.records
    assert rec.getMessage() == "GET /a 200"
    assert rec.request_id == "rid-1"  # type: ignore[attr-defined]
    assert rec.data == {  # type: ignore[attr-defined]
        "method": "GET",
        "path": "/a",
        "query": "q=1&token=[REDACTED]",
        "status": 200,
        "duration_ms": 1.235,
        "bytes_out": 42,
        "route": "r",
    }
    assert not hasattr(rec, "trace_id")


def test_nothing_is_built_when_the_level_is_off(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="svc.access")
    log_access(logging.getLogger("svc.access"), "GET", "/a", "", 200, 1.0, 0)
    assert caplog.records == []
