"""Logs end to end: every service ships JSON to the emulator; one request id joins the hops."""

from __future__ import annotations

import json
import signal
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from .procs import Service, logs_client, start_bff


def events(moto: Service, group: str) -> list[dict[str, Any]]:
    """Every event in the group, parsed (each must be one JSON object)."""
    client = logs_client(moto)
    out: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"logGroupName": group}
    for _ in range(200):
        try:
            page = client.filter_log_events(**kwargs)
        except client.exceptions.ResourceNotFoundException:
            return out
        out.extend(json.loads(e["message"]) for e in page["events"])
        if not page.get("nextToken"):
            break
        kwargs["nextToken"] = page["nextToken"]
    return out


def wait_for(
    moto: Service, group: str, predicate: Any, count: int = 1, timeout: float = 20.0
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    found: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        found = [e for e in events(moto, group) if predicate(e)]
        if len(found) >= count:
            return found
        time.sleep(0.3)
    return found


def get(url: str, request_id: str) -> int:
    req = urllib.request.Request(url, headers={"X-Request-ID": request_id})
    with urllib.request.urlopen(req, timeout=15) as resp:
        resp.read()
        return int(resp.status)


RESERVED = {
    "timestamp",
    "level",
    "logger",
    "message",
    "service",
    "environment",
    "request_id",
    "trace_id",
    "location",
}


def test_one_request_id_joins_the_bff_and_both_upstreams(
    bff: Service, moto: Service, log_group: str
) -> None:
    rid = f"join-{uuid.uuid4().hex[:12]}"
    body = json.dumps(
        {"items": [{"item_id": 3, "quantity": 1}], "customer_email": "join@example.com"}
    ).encode()
    req = urllib.request.Request(
        f"{bff.url}/api/orders",
        data=body,
        method="POST",
        headers={"X-Request-ID": rid, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=15) as resp:
        assert resp.status == 201

    found = wait_for(moto, log_group, lambda e: e.get("request_id") == rid, count=3)
    by_service = {(e["service"], e["logger"]) for e in found}
    assert ("bff", "bff.access") in by_service, found
    assert ("orders", "orders.access") in by_service, found
    assert ("catalog", "catalog.access") in by_service, found  # orders priced it via catalog
    access = next(e for e in found if e["logger"] == "bff.access")
    assert RESERVED <= set(access)
    data = access["data"]
    assert data["status"] == 201 and data["route"] == "orders" and data["upstream"] == "orders"
    assert data["upstream_status"] == 201 and data["bytes_in"] == len(body)
    assert data["client_ip"] == "127.0.0.1"
    trace_ids = {e["trace_id"] for e in found}
    assert len(trace_ids) == 1, "one trace across the hops"


def test_secrets_never_reach_the_logs(bff: Service, moto: Service, log_group: str) -> None:
    rid = f"redact-{uuid.uuid4().hex[:12]}"
    assert get(f"{bff.url}/api/catalog/items?page=1&access_token=hunter2&api_key=k3y", rid) == 200
    found = wait_for(moto, log_group, lambda e: e.get("request_id") == rid, count=2)
    assert found
    blob = json.dumps(found)
    assert "hunter2" not in blob and "k3y" not in blob


def test_gunicorn_and_bff_records_are_json(bff: Service, moto: Service, log_group: str) -> None:
    found = wait_for(moto, log_group, lambda e: e.get("service") == "bff")
    assert found and all(RESERVED <= set(e) for e in found)
    for line in bff.log().splitlines():
        json.loads(line)  # stdout is one JSON object per line too


def test_log_shipping_counters_endpoint(bff: Service) -> None:
    with urllib.request.urlopen(f"{bff.url}/internal/logging", timeout=10) as resp:
        doc = json.loads(resp.read())
    assert doc["shipping"] is True
    for key in ("queued", "sent", "dropped", "spooled", "rejected"):
        assert key in json.dumps(doc["stats"])


def test_sigterm_delivers_every_queued_event(
    log_dir: Path, bff_env: dict[str, str], moto: Service, tmp_path: Path
) -> None:
    group = f"/test/sigterm-{uuid.uuid4().hex[:8]}"
    env = {
        **bff_env,
        "LOG_CLOUDWATCH_GROUP": group,
        "LOG_FLUSH_INTERVAL": "30",
        "LOG_SPOOL_DIR": str(tmp_path / "spool"),
    }
    svc = start_bff(log_dir, env, name="bff-logs-sigterm")
    prefix = f"term-{uuid.uuid4().hex[:8]}"
    n = 30
    try:
        for i in range(n):
            assert get(f"{svc.url}/api/catalog/items?page_size=1", f"{prefix}-{i}") == 200
    finally:
        svc.proc.send_signal(signal.SIGTERM)
        assert svc.proc.wait(25) == 0
    arrived = wait_for(
        moto,
        group,
        lambda e: (
            str(e.get("request_id", "")).startswith(prefix) and e.get("logger") == "bff.access"
        ),
        count=n,
        timeout=10,
    )
    assert len(arrived) == n


@pytest.mark.parametrize("service", ["catalog", "orders"])
def test_upstreams_log_json_with_the_request_id(
    bff: Service, moto: Service, log_group: str, service: str
) -> None:
    rid = f"{service}-{uuid.uuid4().hex[:10]}"
    assert get(f"{bff.url}/api/{service}/_test/echo", rid) == 200
    found = wait_for(
        moto, log_group, lambda e: e.get("request_id") == rid and e.get("service") == service
    )
    assert found, f"no {service} record with request id {rid}"
    assert RESERVED <= set(found[0])
