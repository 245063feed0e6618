from __future__ import annotations

import logging
from typing import Any

import pytest
from flask.testing import FlaskClient


def records(caplog: pytest.LogCaptureFixture) -> list[Any]:
    return [r for r in caplog.records if r.name == "bff.access"]


def test_one_access_record_per_proxied_request(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bff.access")
    resp = client.post(
        "/api/catalog/echo?token=s3cret&q=mugs",
        data=b"abc",
        headers={"X-Request-ID": "acc-1", "User-Agent": "pytest-agent"},
        environ_base={"REMOTE_ADDR": "203.0.113.7"},
    )
    assert resp.status_code == 200
    (rec,) = records(caplog)
    data = rec.data
    assert rec.request_id == "acc-1" and len(rec.trace_id) == 32
    assert data["method"] == "POST" and data["route"] == "catalog"
    assert data["path"] == "/api/catalog/echo"
    assert "s3cret" not in data["query"] and "q=mugs" in data["query"]
    assert data["status"] == 200 and data["upstream_status"] == 200
    assert data["bytes_in"] == 3 and data["bytes_out"] == len(resp.data)
    assert data["upstream"] == "catalog" and data["retries"] == 0
    assert data["client_ip"] == "203.0.113.7" and data["user_agent"] == "pytest-agent"
    assert data["duration_ms"] >= data["upstream_ms"] >= 0
    assert data["aborted"] is False


def test_problems_are_logged_with_their_slug(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bff.access")
    client.get("/api/orders/x")
    (rec,) = records(caplog)
    assert rec.levelno == logging.WARNING
    assert rec.data["status"] == 502 and rec.data["problem"] == "upstream-unreachable"
    assert rec.data["upstream_status"] is None


def test_aborted_stream_is_a_warning(client: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bff.access")
    with pytest.raises(Exception):  # noqa: B017 - the server cuts the connection
        client.get("/api/catalog/truncated-large")
    (rec,) = records(caplog)
    assert rec.levelno == logging.WARNING and rec.data["aborted"] is True
    assert rec.data["bytes_out"] == 300_000


def test_a_small_truncated_body_is_a_502_with_a_record(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    """A body short of its (small) Content-Length is read before anything goes to the client,
    so the client gets a clean 502 instead of a cut connection."""
    caplog.set_level(logging.INFO, logger="bff.access")
    resp = client.get("/api/catalog/truncated")
    assert resp.status_code == 502
    (rec,) = records(caplog)
    assert rec.data["status"] == 502
