"""End to end: the real service (run.py -> gunicorn) ships its JSON records to a real
CloudWatch Logs emulator (moto server), and delivers what it still holds when it stops."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
from logship.testing import Record, fetch_records, logging_env, logs_client, wait_for_records
from testkit import MotoServer, Process
from testkit.sample_services import SampleServices

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def start_catalog(
    services: SampleServices, moto: MotoServer, group: str, *, flush_interval: str
) -> Process:
    """The catalog (two workers) shipping to ``group`` on the emulator."""
    workdir = services.workdir
    env = logging_env(moto.url, group, workdir / "spool", flush_interval=flush_interval)
    env["CATALOG_DB_PATH"] = str(workdir / "catalog.sqlite3")
    return services.start("catalog", env, args=["--workers", "2", "--threads", "4"])


def is_access(record: Record, request_id_prefix: str) -> bool:
    return record.get("logger") == "catalog.access" and str(record.get("request_id")).startswith(
        request_id_prefix
    )


def test_access_record_reaches_cloudwatch(
    cloudwatch_emulator: MotoServer, log_group: str, sample_service: SampleServices
) -> None:
    moto, group = cloudwatch_emulator, log_group
    catalog = start_catalog(sample_service, moto, group, flush_interval="0.2")
    request_id = f"cw-{uuid.uuid4().hex}"
    try:
        with httpx.Client(trust_env=False, timeout=10.0) as http:
            response = http.get(
                f"{catalog.url}/catalog/items",
                params={"page_size": 2, "token": "s3cret"},
                headers={"X-Request-ID": request_id, "traceparent": TRACEPARENT},
            )
        assert response.status_code == 200
        found = wait_for_records(
            logs_client(moto.url), group, lambda record: is_access(record, request_id)
        )
        assert len(found) == 1, f"no access record in CloudWatch:\n{catalog.output()}"
        record = found[0]
        assert record["service"] == "catalog"
        assert record["environment"] == "development"
        assert record["level"] == "INFO"
        assert record["trace_id"] == TRACE_ID
        assert record["message"] == "GET /catalog/items 200"
        data = record["data"]
        assert data["method"] == "GET"
        assert data["path"] == "/catalog/items"
        assert data["status"] == 200
        assert data["bytes_out"] == len(response.content)
        assert data["duration_ms"] >= 0
        assert "s3cret" not in data["query"]
        assert "page_size=2" in data["query"]
        # The same record also went to stdout as one JSON line.
        assert request_id in catalog.output()
    finally:
        catalog.stop()
    assert catalog.returncode == 0, catalog.output()


def test_records_buffered_at_sigterm_are_delivered(
    cloudwatch_emulator: MotoServer, log_group: str, tmp_path: Path, sample_service: SampleServices
) -> None:
    moto, group = cloudwatch_emulator, log_group
    # A long flush interval: nothing is sent before shutdown, so every record below can only
    # reach CloudWatch through the flush at worker exit.
    catalog = start_catalog(sample_service, moto, group, flush_interval="60")
    burst = 20
    prefix = f"burst-{uuid.uuid4().hex}-"
    client = logs_client(moto.url)
    try:
        with httpx.Client(trust_env=False, timeout=10.0) as http:
            for index in range(burst):
                response = http.get(
                    f"{catalog.url}/healthz", headers={"X-Request-ID": f"{prefix}{index}"}
                )
                assert response.status_code == 200
        assert not [record for record in fetch_records(client, group) if is_access(record, prefix)]
    finally:
        catalog.stop()
    assert catalog.returncode == 0, catalog.output()
    found = wait_for_records(client, group, lambda record: is_access(record, prefix), count=burst)
    assert sorted(record["request_id"] for record in found) == sorted(
        f"{prefix}{index}" for index in range(burst)
    ), catalog.output()
    assert not list((tmp_path / "spool").rglob("*.jsonl")), "events were spooled, not delivered"
