"""End to end: the real orders (run.py -> uvicorn) and catalog (run.py -> gunicorn) services
ship their JSON records to a real CloudWatch Logs emulator (moto server); one request id
joins the orders access record and the catalog access record of its outbound call, and what
is still buffered at SIGTERM is delivered."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
from logship.testing import Record, fetch_records, logging_env, logs_client, wait_for_records
from testkit import MotoServer
from testkit.sample_services import SampleServices

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def is_access(record: Record, logger: str, request_id_prefix: str) -> bool:
    return record.get("logger") == logger and str(record.get("request_id")).startswith(
        request_id_prefix
    )


def test_one_request_id_joins_orders_and_catalog(
    cloudwatch_emulator: MotoServer, log_group: str, tmp_path: Path, sample_service: SampleServices
) -> None:
    moto, group = cloudwatch_emulator.url, log_group
    catalog_env = logging_env(moto, group, tmp_path / "spool-catalog", flush_interval="0.2")
    catalog_env["CATALOG_DB_PATH"] = str(tmp_path / "catalog.sqlite3")
    catalog = sample_service.start("catalog", catalog_env)
    try:
        orders_env = logging_env(moto, group, tmp_path / "spool-orders", flush_interval="0.2")
        orders_env["CATALOG_API_URL"] = catalog.url
        orders = sample_service.start("orders", orders_env)
        request_id = f"cw-{uuid.uuid4().hex}"
        try:
            with httpx.Client(trust_env=False, timeout=10.0) as http:
                response = http.post(
                    f"{orders.url}/orders?token=s3cret",
                    json={"items": [{"item_id": 1, "quantity": 1}], "customer_email": "a@b.co"},
                    headers={"X-Request-ID": request_id, "traceparent": TRACEPARENT},
                )
            assert response.status_code == 201, response.text
            client = logs_client(moto)
            found = wait_for_records(
                client,
                group,
                lambda record: (
                    record.get("request_id") == request_id
                    and record.get("logger") in ("orders.access", "catalog.access")
                ),
                count=2,
            )
            by_logger = {record["logger"]: record for record in found}
            assert set(by_logger) == {"orders.access", "catalog.access"}, (
                f"{found}\n{orders.output()}\n{catalog.output()}"
            )
            order_record = by_logger["orders.access"]
            assert order_record["service"] == "orders"
            assert order_record["level"] == "INFO"
            assert order_record["trace_id"] == TRACE_ID
            assert order_record["message"] == "POST /orders 201"
            data = order_record["data"]
            assert data["status"] == 201
            assert data["bytes_out"] == len(response.content)
            assert data["duration_ms"] > 0
            assert "s3cret" not in data["query"]
            catalog_record = by_logger["catalog.access"]
            assert catalog_record["service"] == "catalog"
            assert catalog_record["trace_id"] == TRACE_ID
            assert catalog_record["message"] == "GET /catalog/items/1 200"
            # The same record also went to stdout as one JSON line.
            assert request_id in orders.output()
        finally:
            orders.stop()
    finally:
        catalog.stop()


def test_records_buffered_at_sigterm_are_delivered(
    cloudwatch_emulator: MotoServer, log_group: str, tmp_path: Path, sample_service: SampleServices
) -> None:
    moto, group = cloudwatch_emulator.url, log_group
    # A long flush interval: nothing is sent before shutdown, so every record below can only
    # reach CloudWatch through the flush in the lifespan shutdown.
    env = logging_env(moto, group, tmp_path / "spool", flush_interval="60")
    env["CATALOG_API_URL"] = "http://127.0.0.1:9"  # not called by /healthz
    orders = sample_service.start("orders", env)
    burst = 20
    prefix = f"burst-{uuid.uuid4().hex}-"
    client = logs_client(moto)
    try:
        with httpx.Client(trust_env=False, timeout=10.0) as http:
            for index in range(burst):
                response = http.get(
                    f"{orders.url}/healthz", headers={"X-Request-ID": f"{prefix}{index}"}
                )
                assert response.status_code == 200
        buffered = fetch_records(client, group)
        assert not [record for record in buffered if is_access(record, "orders.access", prefix)]
    finally:
        orders.stop()
    found = wait_for_records(
        client, group, lambda record: is_access(record, "orders.access", prefix), count=burst
    )
    assert sorted(record["request_id"] for record in found) == sorted(
        f"{prefix}{index}" for index in range(burst)
    ), orders.output()
    assert not list((tmp_path / "spool").rglob("*.jsonl")), "events were spooled, not delivered"
