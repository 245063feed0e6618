"""The ops API end to end: the real BFF under gunicorn (two workers) with a real redis-server
for the error-group index, and the CloudWatch emulator for incidents and request ids."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .procs import Service, free_port, logs_client, start_bff

TOKEN = "ops-e2e-" + "k" * 40
AUTH = {"Authorization": f"Bearer {TOKEN}"}
GENEROUS_LIMITS = {
    "BFF_CLIENT_ERRORS_RATE": "1000000/minute",
    "BFF_CLIENT_ERRORS_FINGERPRINT_RATE": "1000000/minute",
}


def post(url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> int:
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def call(url: str, method: str) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(url, headers=AUTH, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return int(resp.status), json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), json.loads(exc.read() or b"null")


def report(
    incident: str, message: str, release: str = "e2e-1", route: str = "/cart"
) -> dict[str, Any]:
    """A report as the site's reporter sends it."""
    return {
        "v": 1,
        "incident": incident,
        "kind": "error",
        "error": {
            "type": "TypeError",
            "message": message,
            "stack": f"TypeError: {message}\n    at pay (http://127.0.0.1/_next/static/chunks/a.js:1:2)",
        },
        "url": "http://127.0.0.1/cart",
        "route": route,
        "release": release,
        "session": f"tab-{incident}",
        "breadcrumbs": [],
        "request_ids": [f"failed-{incident.lower()}"],
    }


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
def ops_bff(log_dir: Path, bff_env: dict[str, str], redis_url: str) -> Iterator[Service]:
    svc = start_bff(
        log_dir,
        {
            **bff_env,
            **GENEROUS_LIMITS,
            "BFF_OPS_TOKEN": TOKEN,
            "BFF_OPS_CACHE_SECONDS": "0",
            "BFF_RATELIMIT_STORAGE_URI": redis_url,
            "LOG_STATS_INTERVAL": "1",
        },
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
    logs = logs_client(moto)
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


def test_reports_are_indexed_and_grouped(ops_bff: Service) -> None:
    """Reports through the real ingest (two gunicorn workers) are counted exactly in the index;
    the list, the group's page and its latest occurrences read it at once, no polling."""
    tag = uuid.uuid4().hex[:8]
    first, second = f"pay failed {tag}", f"cart empty {tag}"
    sent = {first: 0, second: 0}
    for i in range(12):
        message = first if i % 3 else second
        code = f"E2E-{tag.upper()}-{i:02d}"
        status = post(
            f"{ops_bff.url}/api/client-errors",
            report(code, message, release="e2e-1" if i < 6 else "e2e-2"),
            {"X-Request-ID": f"e2e-report-{tag}-{i:02d}"},
        )
        assert status == 202
        sent[message] += 1
    status, _, body = get(f"{ops_bff.url}/api/ops/client-errors?since=60&status=all", AUTH)
    assert status == 200, body
    found = {g["message"]: g for g in body["groups"]}
    assert {m: found[m]["count"] for m in sent} == sent  # exact
    group = found[first]
    assert group["type"] == "TypeError" and sorted(group["releases"]) == ["e2e-1", "e2e-2"]
    assert group["routes"] == ["/cart"] and sum(group["sparkline"]) == sent[first]
    status, _, page = get(f"{ops_bff.url}/api/ops/client-errors/{group['fingerprint']}", AUTH)
    assert status == 200, page
    latest = page["latest"][0]
    assert latest["request_id"] == f"e2e-report-{tag}-11"
    assert latest["incident"] == f"E2E-{tag.upper()}-11"
    assert latest["failed_request_ids"] == [f"failed-e2e-{tag}-11"]
    assert page["sample"]["data"]["frames"][0]["function"] == "pay"
    assert sorted((r["release"], r["count"]) for r in page["releases"]) == [
        ("e2e-1", 4),
        ("e2e-2", 4),
    ]


def test_resolve_and_reopen_in_a_newer_release(ops_bff: Service) -> None:
    tag = uuid.uuid4().hex[:8].upper()
    message = f"checkout broke {tag}"
    ingest = f"{ops_bff.url}/api/client-errors"
    assert post(ingest, report(f"RES-{tag}-1", message, "r-1")) == 202
    _, _, body = get(f"{ops_bff.url}/api/ops/client-errors?since=60", AUTH)
    [group] = [g for g in body["groups"] if g["message"] == message]
    resolution = f"{ops_bff.url}/api/ops/client-errors/{group['fingerprint']}/resolution"
    status, answer = call(resolution, "PUT")
    assert status == 200 and answer["status"] == "resolved"
    assert answer["resolved_release"] == "r-1"
    _, _, body = get(f"{ops_bff.url}/api/ops/client-errors?since=60", AUTH)
    assert message not in {g["message"] for g in body["groups"]}
    assert post(ingest, report(f"RES-{tag}-2", message, "r-1")) == 202
    _, _, page = get(f"{ops_bff.url}/api/ops/client-errors/{group['fingerprint']}", AUTH)
    assert page["status"] == "resolved" and page["count"] == 2
    assert post(ingest, report(f"RES-{tag}-3", message, "r-2")) == 202
    _, _, page = get(f"{ops_bff.url}/api/ops/client-errors/{group['fingerprint']}", AUTH)
    assert page["status"] == "open" and page["reopened_in"] == "r-2" and page["count"] == 3
    status, answer = call(f"{ops_bff.url}/api/ops/client-errors/{'0' * 16}/resolution", "PUT")
    assert status == 404


def test_client_errors_stream_holds_reports_only(
    ops_bff: Service, moto: Service, log_group: str
) -> None:
    """logship's periodic stats records (every second here) go to the BFF's own stream, never
    to the client-errors stream, where they were counted as an error group."""
    logs = logs_client(moto)
    since = int(time.time() * 1000) - 120_000

    def loggers(prefix: str) -> list[str]:
        found = []
        kwargs: dict[str, Any] = {"logGroupName": log_group, "startTime": since}
        for _ in range(20):
            page = logs.filter_log_events(**kwargs)
            for event in page.get("events", []):
                if event["logStreamName"].startswith(prefix):
                    found.append(json.loads(event["message"]).get("logger", "?"))
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
        return found

    assert poll(lambda: "logship.stats" in loggers("bff/"), timeout=20), "no stats records"
    client_stream = loggers("client-errors/")
    assert client_stream and set(client_stream) == {"bff.client_errors"}


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
    logs = logs_client(moto)
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

    body = poll(counted)  # each worker adds its counts every 2 s
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
        status, headers, body = get(f"{svc.url}/api/ops/incidents/ABC-123")
        assert status == 503, body
        assert body["type"] == "urn:bff:problem:logs-unavailable"
        assert "CloudWatch Logs cannot be reached" in body["detail"]
        assert headers["Retry-After"] == "10"
        assert time.monotonic() - started < 15
        status, _, _ = get(f"{svc.url}/api/catalog/items?page_size=1")
        assert status == 200
    finally:
        svc.stop()


def test_index_down_keeps_ingest_and_answers_503(
    log_dir: Path, bff_env: dict[str, str], tmp_path: Path
) -> None:
    """Redis unreachable: reports are still accepted and logged (the incident lookup finds
    them in CloudWatch); the group list, a group's page and the traffic answer 503, no numbers."""
    env = {
        **bff_env,
        **GENEROUS_LIMITS,
        "BFF_RATELIMIT_STORAGE_URI": f"redis://127.0.0.1:{free_port()}/0",
        "BFF_WORKERS": "1",
    }
    svc = start_bff(log_dir, env, name="bff-ops-noindex")
    try:
        code = f"NOIDX-{uuid.uuid4().hex[:8].upper()}"
        for i in range(3):
            assert post(f"{svc.url}/api/client-errors", report(f"{code}-{i}", "lost?")) == 202
        for path in ("client-errors", "traffic", "client-errors/0123456789abcdef"):
            status, headers, body = get(f"{svc.url}/api/ops/{path}")
            assert status == 503, (path, body)
            assert body["type"] == "urn:bff:problem:index-unavailable"
            assert "Redis" in body["detail"] and headers["Retry-After"] == "10"
        _, _, stats = get(f"{svc.url}/internal/client-errors")
        assert stats["counters"]["accepted"] == {"reporter": 3}
        assert stats["counters"]["index"]["failed"] == 1
        found = poll(lambda: _found(get(f"{svc.url}/api/ops/incidents/{code}-2")), timeout=30)
        assert found, "the report never reached CloudWatch"
        status, _, _ = get(f"{svc.url}/api/catalog/items?page_size=1")
        assert status == 200
    finally:
        svc.stop()
    assert not svc.crashes(), svc.crashes()
