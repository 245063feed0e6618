"""logship's own stderr notices are JSON records with the formatter's reserved keys."""

from __future__ import annotations

import json
import logging

import pytest
from logship.notices import notice, notice_line
from logship.state import Notices

RESERVED = {
    "timestamp", "level", "logger", "message", "service", "environment", "request_id",
    "trace_id", "location",
}  # fmt: skip


def test_notice_line_is_one_json_record() -> None:
    line = notice_line("spool disabled (x)", service="svc", environment="prod")
    assert "\n" not in line
    doc = json.loads(line)
    assert RESERVED <= doc.keys()
    assert doc["logger"] == "logship" and doc["level"] == "WARNING"
    assert doc["service"] == "svc" and doc["environment"] == "prod"
    assert doc["location"]["function"] == "test_notice_line_is_one_json_record"


def test_handler_notices_are_json_and_rate_limited(capfd: pytest.CaptureFixture[str]) -> None:
    notices = Notices(service="orders", environment="test")
    notices.say("unhealthy", "CloudWatch unavailable (timeout); spooling")
    notices.say("unhealthy", "CloudWatch unavailable (timeout); spooling")
    lines = capfd.readouterr().err.splitlines()
    assert len(lines) == 1
    doc = json.loads(lines[0])
    assert doc["message"] == "CloudWatch unavailable (timeout); spooling"
    assert doc["service"] == "orders" and doc["data"] == {"notice": "unhealthy"}


def test_notices_redact_and_never_raise(capfd: pytest.CaptureFixture[str]) -> None:
    notice("failed for bob@example.com password=hunter2", level=logging.ERROR)
    doc = json.loads(capfd.readouterr().err)
    assert doc["level"] == "ERROR"
    assert "bob@" not in doc["message"] and "hunter2" not in doc["message"]
