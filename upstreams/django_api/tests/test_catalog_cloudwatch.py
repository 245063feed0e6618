"""End to end: the real service (run.py -> gunicorn) ships its JSON records to a real
CloudWatch Logs emulator (moto server), and delivers what it still holds when it stops."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from logship.testing import (
    Record,
    fetch_records,
    free_port,
    logging_env,
    logs_client,
    moto_server,
    stop_process,
    wait_for_records,
)

RUNNER = Path(__file__).resolve().parent.parent / "run.py"
STARTUP_TIMEOUT_S = 30.0
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


@dataclass
class Catalog:
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with moto_server(tmp_path_factory.mktemp("moto")) as url:
        yield url


def start_catalog(workdir: Path, moto_url: str, group: str, *, flush_interval: str) -> Catalog:
    port = free_port()
    env = logging_env(moto_url, group, workdir / "spool", flush_interval=flush_interval)
    env["CATALOG_DB_PATH"] = str(workdir / "catalog.sqlite3")
    log_path = workdir / "catalog.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(RUNNER), "--port", str(port), "--workers", "2", "--threads", "4"],
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    catalog = Catalog(f"http://127.0.0.1:{port}", process, log_path)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        with httpx.Client(trust_env=False, timeout=2.0) as client:
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"catalog exited early:\n{catalog.log()}")
                try:
                    if client.get(f"{catalog.base_url}/healthz").status_code == 200:
                        return catalog
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"catalog did not become healthy:\n{catalog.log()}")
                time.sleep(0.1)
    except BaseException:
        stop_process(process)
        raise


@pytest.fixture
def group() -> str:
    return f"/test/{uuid.uuid4()}"


def is_access(record: Record, request_id_prefix: str) -> bool:
    return record.get("logger") == "catalog.access" and str(record.get("request_id")).startswith(
        request_id_prefix
    )


def test_access_record_reaches_cloudwatch(moto: str, group: str, tmp_path: Path) -> None:
    catalog = start_catalog(tmp_path, moto, group, flush_interval="0.2")
    request_id = f"cw-{uuid.uuid4().hex}"
    try:
        with httpx.Client(trust_env=False, timeout=10.0) as http:
            response = http.get(
                f"{catalog.base_url}/catalog/items",
                params={"page_size": 2, "token": "s3cret"},
                headers={"X-Request-ID": request_id, "traceparent": TRACEPARENT},
            )
        assert response.status_code == 200
        found = wait_for_records(
            logs_client(moto), group, lambda record: is_access(record, request_id)
        )
        assert len(found) == 1, f"no access record in CloudWatch:\n{catalog.log()}"
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
        assert request_id in catalog.log()
    finally:
        stop_process(catalog.process)
    assert catalog.process.returncode == 0, catalog.log()


def test_records_buffered_at_sigterm_are_delivered(moto: str, group: str, tmp_path: Path) -> None:
    # A long flush interval: nothing is sent before shutdown, so every record below can only
    # reach CloudWatch through the flush at worker exit.
    catalog = start_catalog(tmp_path, moto, group, flush_interval="60")
    burst = 20
    prefix = f"burst-{uuid.uuid4().hex}-"
    client = logs_client(moto)
    try:
        with httpx.Client(trust_env=False, timeout=10.0) as http:
            for index in range(burst):
                response = http.get(
                    f"{catalog.base_url}/healthz", headers={"X-Request-ID": f"{prefix}{index}"}
                )
                assert response.status_code == 200
        assert not [record for record in fetch_records(client, group) if is_access(record, prefix)]
    finally:
        stop_process(catalog.process)
    assert catalog.process.returncode == 0, catalog.log()
    found = wait_for_records(client, group, lambda record: is_access(record, prefix), count=burst)
    assert sorted(record["request_id"] for record in found) == sorted(
        f"{prefix}{index}" for index in range(burst)
    ), catalog.log()
    assert not list((tmp_path / "spool").rglob("*.jsonl")), "events were spooled, not delivered"
