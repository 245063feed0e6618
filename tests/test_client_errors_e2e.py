"""Client-error ingest end to end: the real BFF under gunicorn, the moto server (CloudWatch Logs
and S3), a real redis-server, and a source map built by esbuild."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from testkit import RedisServer

from .procs import ROOT, Service, start_bff

ESBUILD = ROOT / "web" / "node_modules" / ".bin" / "esbuild"
RELEASE = "e2e-build-1"
CHUNK = "_next/static/chunks/app-e2e.js"
SOURCE = """\
export function computeTotal(items: number[]): number {
  let total = 0;
  for (const item of items) {
    total += item;
  }
  if (total > 10) {
    throw new TypeError("total too large: " + total);
  }
  return total;
}
(globalThis as { checkout?: () => number }).checkout = () => computeTotal([5, 6, 7]);
"""
THROW_LINE = 7
EMAIL = "shopper.e2e@example.org"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, bytes]:
    """A minified bundle and its source map, built by esbuild from SOURCE."""
    workdir = tmp_path_factory.mktemp("esbuild")
    (workdir / "checkout.ts").write_text(SOURCE, encoding="utf-8")
    subprocess.run(
        [
            str(ESBUILD),
            str(workdir / "checkout.ts"),
            "--bundle",
            "--minify",
            "--sourcemap",
            f"--outfile={workdir / 'out.js'}",
        ],
        check=True,
        capture_output=True,
    )
    return (workdir / "out.js").read_text(), (workdir / "out.js.map").read_bytes()


@pytest.fixture(scope="module")
def maps_dir(tmp_path_factory: pytest.TempPathFactory, bundle: tuple[str, bytes]) -> Path:
    root = tmp_path_factory.mktemp("sourcemaps")
    target = root / RELEASE / f"{CHUNK}.map"
    target.parent.mkdir(parents=True)
    target.write_bytes(bundle[1])
    return root


@pytest.fixture(scope="module")
def maps_bucket(moto: Service, bundle: tuple[str, bytes]) -> str:
    """An S3 bucket in the moto server holding the map; returns its s3:// URI."""
    bucket = f"maps-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client(
        "s3",
        endpoint_url=moto.url,
        region_name="eu-west-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_object(Bucket=bucket, Key=f"web/{RELEASE}/{CHUNK}.map", Body=bundle[1])
    return f"s3://{bucket}/web"


def _ingest_env(bff_env: dict[str, str], **extra: str) -> dict[str, str]:
    return {
        **bff_env,
        "BFF_WORKERS": "1",
        "BFF_CLIENT_ERRORS_RATE": "100000/minute",
        "BFF_CLIENT_ERRORS_FINGERPRINT_RATE": "100000/minute",
        **extra,
    }


@pytest.fixture(scope="module")
def bff_dir(
    log_dir: Path, bff_env: dict[str, str], maps_dir: Path, redis: RedisServer
) -> Iterator[Service]:
    svc = start_bff(
        log_dir,
        _ingest_env(
            bff_env, BFF_SOURCEMAPS_DIR=str(maps_dir), BFF_RATELIMIT_STORAGE_URI=redis.url_for(0)
        ),
        name="bff-ingest-dir",
    )
    yield svc
    svc.stop()
    assert not svc.crashes(), svc.crashes()


@pytest.fixture(scope="module")
def bff_s3(
    log_dir: Path, bff_env: dict[str, str], maps_bucket: str, moto: Service
) -> Iterator[Service]:
    svc = start_bff(
        log_dir,
        _ingest_env(
            bff_env, BFF_SOURCEMAPS_S3_URI=maps_bucket, BFF_SOURCEMAPS_S3_ENDPOINT=moto.url
        ),
        name="bff-ingest-s3",
    )
    yield svc
    svc.stop()
    assert not svc.crashes(), svc.crashes()


@pytest.fixture(scope="module")
def logs(moto: Service) -> Any:
    return boto3.client(
        "logs",
        endpoint_url=moto.url,
        region_name="eu-west-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def wait_client_errors(
    logs: Any, group: str, predicate: Callable[[dict[str, Any]], bool], timeout: float = 20.0
) -> tuple[str, dict[str, Any]]:
    """The first record in a ``client-errors/`` stream matching ``predicate``, with its stream."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            page = logs.filter_log_events(
                logGroupName=group, logStreamNamePrefix="client-errors/", startTime=0
            )
        except logs.exceptions.ResourceNotFoundException:
            page = {"events": []}
        for event in page.get("events", []):
            record = json.loads(event["message"])
            if predicate(record):
                return event["logStreamName"], record
        if time.monotonic() > deadline:
            raise AssertionError("no matching client-error record arrived")
        time.sleep(0.25)


def position_of(bundle: str, needle: str) -> tuple[int, int]:
    for number, line in enumerate(bundle.splitlines(), start=1):
        column = line.find(needle)
        if column >= 0:
            return number, column + 1
    raise AssertionError(needle)


def report(svc: Service, incident: str, bundle_text: str, **overrides: Any) -> dict[str, Any]:
    line, column = position_of(bundle_text, "throw ")
    doc: dict[str, Any] = {
        "v": 1,
        "incident": incident,
        "kind": "error",
        "error": {
            "type": "TypeError",
            "message": f"total too large: 18 for {EMAIL}",
            "stack": "TypeError: total too large: 18\n"
            f"    at e ({svc.url}/{CHUNK}:{line}:{column})",
        },
        "url": f"{svc.url}/checkout?token=abc123",
        "route": "/checkout",
        "release": RELEASE,
        "session": "tab-e2e",
        "breadcrumbs": [{"t": 1_700_000_000_000, "type": "click", "data": {"target": "#pay"}}],
        "request_ids": ["req-1"],
        "ts": 1_700_000_000_100,
    }
    doc.update(overrides)
    return doc


def test_report_lands_in_the_client_errors_stream_symbolicated_from_a_dir(
    bff_dir: Service, bundle: tuple[str, bytes], logs: Any, log_group: str
) -> None:
    incident = "E2E-DIR-" + uuid.uuid4().hex[:8].upper()
    resp = httpx.post(
        f"{bff_dir.url}/api/client-errors",
        json=report(bff_dir, incident, bundle[0]),
        headers={"User-Agent": "E2E-Browser/1.0", "X-Request-ID": "e2e-" + incident.lower()},
    )
    assert resp.status_code == 202, resp.text
    assert resp.json() == {"incident": incident, "request_id": "e2e-" + incident.lower()}
    stream, record = wait_client_errors(
        logs, log_group, lambda r: r.get("data", {}).get("incident") == incident
    )
    assert stream.startswith("client-errors/")
    assert record["logger"] == "bff.client_errors" and record["level"] == "WARNING"
    assert record["request_id"] == "e2e-" + incident.lower()
    data = record["data"]
    assert data["source"] == "reporter" and data["release"] == RELEASE
    assert data["client_ip"] == "127.0.0.0" and data["user_agent"] == "E2E-Browser/1.0"
    assert EMAIL not in json.dumps(record) and data["scrubbed"]["email"] == 1
    [frame] = data["frames"]
    assert frame["status"] == "symbolicated"
    assert frame["file"].endswith("checkout.ts") and frame["line"] == THROW_LINE
    assert frame["minified"]["file"].endswith(CHUNK)
    stats = httpx.get(f"{bff_dir.url}/internal/client-errors").json()
    assert stats["shipping"]["queued"] >= 1
    assert stats["counters"]["ratelimit"]["storage"] == "redis"


def test_symbolicated_from_an_s3_bucket(
    bff_s3: Service, bundle: tuple[str, bytes], logs: Any, log_group: str
) -> None:
    incident = "E2E-S3-" + uuid.uuid4().hex[:8].upper()
    resp = httpx.post(f"{bff_s3.url}/api/client-errors", json=report(bff_s3, incident, bundle[0]))
    assert resp.status_code == 202, resp.text
    _, record = wait_client_errors(
        logs, log_group, lambda r: r.get("data", {}).get("incident") == incident
    )
    [frame] = record["data"]["frames"]
    assert frame["status"] == "symbolicated" and frame["line"] == THROW_LINE


def test_sentry_envelope_lands(bff_dir: Service, logs: Any, log_group: str) -> None:
    event_id = uuid.uuid4().hex
    event = {
        "event_id": event_id,
        "release": RELEASE,
        "request": {"url": f"{bff_dir.url}/cart"},
        "exception": {
            "values": [
                {
                    "type": "ReferenceError",
                    "value": "cartTotal is not defined",
                    "stacktrace": {
                        "frames": [{"filename": "/x.js", "function": "f", "lineno": 1, "colno": 2}]
                    },
                }
            ]
        },
    }
    payload = json.dumps(event).encode()
    body = b"\n".join(
        [
            json.dumps({"event_id": event_id, "sent_at": "2026-01-01T00:00:00Z"}).encode(),
            json.dumps({"type": "event", "length": len(payload)}).encode(),
            payload,
            b'{"type":"session"}',
            b'{"sid":"s","status":"ok"}',
        ]
    )
    resp = httpx.post(
        f"{bff_dir.url}/api/client-errors/envelope",
        content=body,
        headers={"Content-Type": "text/plain;charset=UTF-8"},
    )
    assert resp.status_code == 202 and resp.json()["id"] == event_id
    _, record = wait_client_errors(
        logs, log_group, lambda r: r.get("data", {}).get("incident") == event_id.upper()
    )
    assert record["data"]["source"] == "sentry"
    assert record["message"] == "client error: ReferenceError: cartTotal is not defined"


def test_csp_report_lands(bff_dir: Service, logs: Any, log_group: str) -> None:
    blocked = f"https://evil-{uuid.uuid4().hex[:8]}.example/x.js"
    doc = {
        "csp-report": {
            "document-uri": f"{bff_dir.url}/",
            "effective-directive": "script-src-elem",
            "blocked-uri": blocked,
            "disposition": "enforce",
        }
    }
    resp = httpx.post(
        f"{bff_dir.url}/api/client-errors/reports",
        content=json.dumps(doc),
        headers={"Content-Type": "application/csp-report"},
    )
    assert resp.status_code == 202
    _, record = wait_client_errors(
        logs, log_group, lambda r: r.get("data", {}).get("csp", {}).get("blocked") == blocked
    )
    assert record["message"] == f"csp violation: script-src-elem {blocked}"
    assert record["data"]["source"] == "csp"


def test_limit_is_shared_by_two_bff_processes_through_redis(
    log_dir: Path, bff_env: dict[str, str], redis: RedisServer, bundle: tuple[str, bytes]
) -> None:
    env = {
        **bff_env,
        "BFF_WORKERS": "1",
        "BFF_RATELIMIT_STORAGE_URI": redis.url_for(1),
        "BFF_CLIENT_ERRORS_RATE": "3/minute",
    }
    first = start_bff(log_dir, env, name="bff-limit-a")
    second = start_bff(log_dir, env, name="bff-limit-b")
    try:
        codes = []
        for svc in (first, second, first, second):
            doc = report(svc, "E2E-LIMIT-1", bundle[0])
            resp = httpx.post(f"{svc.url}/api/client-errors", json=doc)
            codes.append(resp.status_code)
        assert codes == [202, 202, 202, 429]
        assert resp.headers["Content-Type"] == "application/problem+json"
        assert 1 <= int(resp.headers["Retry-After"]) <= 60
    finally:
        first.stop()
        second.stop()
    assert not first.crashes() and not second.crashes()


_bodies = st.one_of(
    st.binary(max_size=400),
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=40),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
        ),
        max_leaves=15,
    ).map(lambda v: json.dumps(v).encode()),
)
_targets = st.sampled_from(
    [
        ("/api/client-errors", "application/json"),
        ("/api/client-errors", "text/plain"),
        ("/api/client-errors/envelope", "text/plain"),
        ("/api/client-errors/reports", "application/reports+json"),
        ("/api/client-errors/reports", "application/csp-report"),
        ("/api/vitals", "application/json"),
        ("/api/client-errors", "application/xml"),
    ]
)


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=_bodies, target=_targets)
def test_fuzzed_bodies_never_5xx_on_the_live_server(
    bff_dir: Service, body: bytes, target: tuple[str, str]
) -> None:
    path, content_type = target
    resp = httpx.post(f"{bff_dir.url}{path}", content=body, headers={"Content-Type": content_type})
    assert resp.status_code < 500, resp.text
    assert bff_dir.proc.poll() is None
    assert not bff_dir.crashes()
