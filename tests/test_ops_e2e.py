"""The ops API end to end: the real BFF under gunicorn reading the CloudWatch emulator."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from .procs import Service, free_port, start_bff

TOKEN = "ops-e2e-" + "k" * 40
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def get(
    url: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], dict[str, Any]]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read() or b"null")


def poll(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    """``check()`` until it returns something truthy (or the time is up: its last answer)."""
    deadline = time.monotonic() + timeout
    while True:
        answer = check()
        if answer or time.monotonic() > deadline:
            return answer
        time.sleep(0.3)


@pytest.fixture(scope="module")
def ops_bff(log_dir: Path, bff_env: dict[str, str]) -> Iterator[Service]:
    svc = start_bff(
        log_dir,
        {**bff_env, "BFF_OPS_TOKEN": TOKEN, "BFF_OPS_CACHE_SECONDS": "0"},
        name="bff-ops",
    )
    yield svc
    svc.stop()
    assert not svc.crashes(), svc.crashes()


def client_error_record(incident: str, fingerprint: str, message: str) -> dict[str, Any]:
    """One event exactly as the client-error ingest writes it (the shared contract)."""
    return {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "level": "ERROR",
        "logger": "bff.client_errors",
        "message": f"client error: TypeError: {message}",
        "service": "bff",
        "environment": "test",
        "request_id": f"req-{incident.lower()}",
        "trace_id": None,
        "data": {
            "source": "reporter",
            "kind": "error",
            "incident": incident,
            "fingerprint": fingerprint,
            "release": "e2e-build",
            "type": "TypeError",
            "message": message,
            "url": "http://127.0.0.1/products/1?x=1",
            "route": "/products/[id]",
            "session": f"tab-{incident}",
            "user_agent": "e2e",
            "client_ip": "127.0.0.0",
            "received_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "frames": [
                {
                    "function": "ItemList",
                    "file": "src/components/catalog/item-list.tsx",
                    "line": 21,
                    "column": 9,
                    "status": "symbolicated",
                    "minified": {"file": "/_next/static/chunks/abc.js", "line": 1, "column": 4242},
                }
            ],
            "breadcrumbs": [],
            "request_ids": [],
            "scrubbed": {},
        },
    }


@pytest.fixture(scope="module")
def written(moto: Service, log_group: str) -> dict[str, str]:
    """Three client errors (two fingerprints) written straight into a client-errors stream."""
    logs = boto3.client(
        "logs",
        endpoint_url=moto.url,
        region_name="eu-west-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    try:
        logs.create_log_group(logGroupName=log_group)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    stream = f"client-errors/e2e-host/{uuid.uuid4().hex[:6]}"
    logs.create_log_stream(logGroupName=log_group, logStreamName=stream)
    tag = uuid.uuid4().hex[:8].upper()
    ids = {
        "fp_a": uuid.uuid4().hex[:16],
        "fp_b": uuid.uuid4().hex[:16],
        "inc_a1": f"E2E-{tag}-A1",
        "inc_a2": f"E2E-{tag}-A2",
        "inc_b": f"E2E-{tag}-B1",
    }
    now = int(time.time() * 1000)
    records = [
        client_error_record(ids["inc_a1"], ids["fp_a"], "x is undefined"),
        client_error_record(ids["inc_a2"], ids["fp_a"], "x is undefined"),
        client_error_record(ids["inc_b"], ids["fp_b"], "cannot read properties of null"),
    ]
    logs.put_log_events(
        logGroupName=log_group,
        logStreamName=stream,
        logEvents=[
            {"timestamp": now - 3000 + i * 1000, "message": json.dumps(r)}
            for i, r in enumerate(records)
        ],
    )
    return ids


def test_token_is_enforced(ops_bff: Service) -> None:
    status, headers, body = get(f"{ops_bff.url}/api/ops/summary")
    assert status == 401
    assert headers["WWW-Authenticate"].startswith("Bearer")
    assert headers["Content-Type"] == "application/problem+json"
    assert body["status"] == 401
    status, _, _ = get(f"{ops_bff.url}/api/ops/summary", {"Authorization": "Bearer nope"})
    assert status == 401
    status, _, body = get(f"{ops_bff.url}/api/ops/summary", AUTH)
    assert status == 200
    assert {u["name"]: u["healthy"] for u in body["upstreams"]} == {
        "catalog": True,
        "orders": True,
    }
    assert body["logging"]["shipping"] is True


def test_client_errors_are_grouped(ops_bff: Service, written: dict[str, str]) -> None:
    def groups() -> dict[str, Any]:
        _, _, body = get(f"{ops_bff.url}/api/ops/client-errors?since=60", AUTH)
        found = {g["fingerprint"]: g for g in body["groups"]}
        return found if {written["fp_a"], written["fp_b"]} <= set(found) else {}

    found = poll(groups)
    assert found, "client errors never showed up"
    a = found[written["fp_a"]]
    assert a["count"] == 2 and a["type"] == "TypeError" and a["message"] == "x is undefined"
    assert a["incidents"] == [written["inc_a2"], written["inc_a1"]]
    assert a["releases"] == ["e2e-build"]
    assert a["sample"]["data"]["frames"][0]["function"] == "ItemList"
    assert found[written["fp_b"]]["count"] == 1


def test_incident_lookup(ops_bff: Service, written: dict[str, str]) -> None:
    code = written["inc_b"]
    status, _, body = poll(lambda: _found(get(f"{ops_bff.url}/api/ops/incidents/{code}", AUTH)))
    assert status == 200, body
    assert body["incident"] == code
    assert body["events"][0]["data"]["fingerprint"] == written["fp_b"]
    assert body["events"][0]["request_id"] == f"req-{code.lower()}"
    status, _, body = get(f"{ops_bff.url}/api/ops/incidents/{code.lower()}", AUTH)
    assert status == 200
    status, _, body = get(f"{ops_bff.url}/api/ops/incidents/NO-SUCH-CODE", AUTH)
    assert status == 404 and body["type"] == "urn:bff:problem:incident-not-found"
    status, _, body = get(f"{ops_bff.url}/api/ops/incidents/bad_code!", AUTH)
    assert status == 400 and body["type"] == "urn:bff:problem:bad-incident-code"


def test_incident_joins_server_records_of_failed_requests(
    ops_bff: Service, moto: Service, log_group: str
) -> None:
    """Failed requests through the real BFF leave access records in every service's stream;
    the incident that lists their request ids answers with those records."""
    tag = uuid.uuid4().hex[:8]
    failed = [f"e2e-join-{tag}-{i}" for i in range(2)]
    for request_id in failed:
        status, _, _ = get(
            f"{ops_bff.url}/api/catalog/items/99999999", {"X-Request-ID": request_id}
        )
        assert status == 404
    status, _, _ = get(
        f"{ops_bff.url}/api/catalog/items?page_size=1", {"X-Request-ID": f"e2e-ok-{tag}"}
    )
    assert status == 200
    logs = boto3.client(
        "logs",
        endpoint_url=moto.url,
        region_name="eu-west-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    stream = f"client-errors/e2e-host/{tag}"
    logs.create_log_stream(logGroupName=log_group, logStreamName=stream)
    code = f"E2E-JOIN-{tag.upper()}"
    record = client_error_record(code, uuid.uuid4().hex[:16], "items failed to load")
    record["data"]["request_ids"] = [*failed, 'not "an" id']
    logs.put_log_events(
        logGroupName=log_group,
        logStreamName=stream,
        logEvents=[{"timestamp": int(time.time() * 1000), "message": json.dumps(record)}],
    )

    def joined() -> dict[str, Any] | None:
        status, _, body = get(f"{ops_bff.url}/api/ops/incidents/{code}", AUTH)
        if status != 200:
            return None
        services = {(r["request_id"], r["service"]) for r in body["related"]["records"]}
        wanted = {(rid, svc) for rid in failed for svc in ("bff", "catalog")}
        return body if wanted <= services else None

    body = poll(joined, timeout=30)
    assert body, "server records of the failed requests never joined the incident"
    related = body["related"]
    assert related["request_ids"] == failed
    assert related["truncated"] is False and "unavailable" not in related
    records = related["records"]
    assert {r["request_id"] for r in records} == set(failed)
    assert all(not r["stream"].startswith("client-errors/") for r in records)
    assert [r["timestamp"] for r in records] == sorted(r["timestamp"] for r in records)
    bff_access = [r for r in records if r["logger"] == "bff.access"]
    assert len(bff_access) == 2
    assert all(r["status"] == 404 and r["method"] == "GET" for r in bff_access)
    assert all(r["path"] == "/api/catalog/items/99999999" for r in bff_access)
    assert all(isinstance(r["duration_ms"], int | float) for r in bff_access)
    assert all(r["upstream_status"] == 404 for r in bff_access)


def _found(
    answer: tuple[int, dict[str, str], dict[str, Any]],
) -> tuple[int, dict[str, str], dict[str, Any]] | None:
    return answer if answer[0] == 200 else None


def test_traffic_counts_proxied_requests(ops_bff: Service) -> None:
    _, _, before = get(f"{ops_bff.url}/api/ops/traffic?minutes=10", AUTH)
    for i in range(5):
        status, _, _ = get(
            f"{ops_bff.url}/api/catalog/items?page_size=1", {"X-Request-ID": f"ops-e2e-{i}"}
        )
        assert status == 200
    for _ in range(2):
        status, _, _ = get(f"{ops_bff.url}/api/catalog/items/99999999")
        assert status == 404

    def counted() -> dict[str, Any] | None:
        _, _, body = get(f"{ops_bff.url}/api/ops/traffic?minutes=10", AUTH)
        grew = body["totals"]["requests"] - before["totals"]["requests"]
        grew_4xx = body["totals"]["errors_4xx"] - before["totals"]["errors_4xx"]
        return body if grew >= 7 and grew_4xx >= 2 else None

    body = poll(counted)
    assert body, "access records never counted"
    assert len(body["buckets"]) == 10
    assert sum(b["requests"] for b in body["buckets"]) == body["totals"]["requests"]
    assert body["buckets"][-1]["requests"] + body["buckets"][-2]["requests"] >= 7


def test_bad_query_is_400(ops_bff: Service) -> None:
    status, _, body = get(f"{ops_bff.url}/api/ops/traffic?minutes=0", AUTH)
    assert status == 400 and body["type"] == "urn:bff:problem:bad-query"


def test_unreachable_cloudwatch_is_503(
    log_dir: Path, bff_env: dict[str, str], tmp_path: Path
) -> None:
    """Logs endpoint down: the ops API says so (503 problem), the BFF keeps serving."""
    env = {
        **bff_env,
        "LOG_CLOUDWATCH_ENDPOINT": f"http://127.0.0.1:{free_port()}",
        "LOG_SPOOL_DIR": str(tmp_path / "spool"),
        "BFF_WORKERS": "1",
    }
    svc = start_bff(log_dir, env, name="bff-ops-nologs")
    try:
        started = time.monotonic()
        status, headers, body = get(f"{svc.url}/api/ops/client-errors")
        assert status == 503, body
        assert body["type"] == "urn:bff:problem:logs-unavailable"
        assert "CloudWatch Logs cannot be reached" in body["detail"]
        assert headers["Retry-After"] == "10"
        assert time.monotonic() - started < 15
        status, _, _ = get(f"{svc.url}/api/catalog/items?page_size=1")
        assert status == 200
    finally:
        svc.stop()
