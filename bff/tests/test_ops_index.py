"""The error-group index against a real redis-server: ingest through the app, read through the
ops API (counts, releases, routes, sparkline, latest occurrences, resolve and reopen, traffic),
and the 503 when the index cannot answer."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from bff.client_errors.index import (
    RING_MINUTES,
    SAMPLE_MAX_BYTES,
    ErrorIndex,
    IndexFeed,
    TrafficCounter,
    index_from_uri,
    sample_json,
)
from bff.client_errors.ingest import TRAFFIC_EXTENSION_KEY
from flask import Flask
from flask.testing import FlaskClient
from testkit import free_port

from bff import metrics

from .test_client_errors import ingest_app, report
from .upstream_stub import StubServer

MINUTE = 60_000
T0 = 1_800_000_000_000  # a whole minute


def app_on(url: str, **env: str) -> Flask:
    return ingest_app(BFF_RATELIMIT_STORAGE_URI=url, **env)


def send(client: FlaskClient, n: int = 1, **overrides: Any) -> None:
    for i in range(n):
        headers = {"X-Request-ID": f"req-{overrides.get('incident', 'X')}-{i}"}
        resp = client.post("/api/client-errors", json=report(**overrides), headers=headers)
        assert resp.status_code == 202, resp.get_data(as_text=True)


def only_group(client: FlaskClient, **query: str) -> dict[str, Any]:
    resp = client.get("/api/ops/client-errors", query_string=query)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    [group] = resp.get_json()["groups"]
    return group  # type: ignore[no-any-return]


@pytest.fixture
def index(redis_url: str) -> Iterator[ErrorIndex]:
    built = index_from_uri(redis_url)
    assert built is not None
    yield built
    built.client.close()


def test_reports_are_grouped_counted_and_shared_between_tasks(redis_url: str) -> None:
    task_a, task_b = app_on(redis_url).test_client(), app_on(redis_url).test_client()
    send(task_a, 3, incident="AAAA-0001", route="/products/[id]")
    send(task_b, 2, incident="AAAA-0002", release="build-def456", route="/cart")
    send(task_b, 1, error={"type": "RangeError", "message": "other", "stack": ""})
    body = task_a.get("/api/ops/client-errors?since=60").get_json()
    assert body["matched"] == 2 and body["truncated"] is False and body["status"] == "open"
    first, second = body["groups"]
    assert first["count"] == 5 and second["count"] == 1
    assert first["type"] == "TypeError" and first["message"] == "boom 42"
    assert first["releases"] == ["build-abc123", "build-def456"]
    assert first["routes"] == ["/products/[id]", "/cart"]
    assert first["first_seen"] <= first["last_seen"] and first["last_seen"].endswith("Z")
    assert first["status"] == "open" and first["sessions"] == 1
    assert len(first["sparkline"]) == 60 and sum(first["sparkline"]) == 5
    assert first["sparkline"][-1] + first["sparkline"][-2] == 5
    assert "sample" not in first  # the list stays small; the group's page has it


def test_group_page_has_sample_latest_releases_routes_and_minutes(redis_url: str) -> None:
    client = app_on(redis_url).test_client()
    send(client, 2, incident="PAGE-0001")
    send(client, 1, incident="PAGE-0002", release="build-2", request_ids=["up-1", "up-2"])
    fingerprint = only_group(client)["fingerprint"]
    resp = client.get(f"/api/ops/client-errors/{fingerprint}?minutes=30")
    assert resp.status_code == 200
    group = resp.get_json()
    assert group["count"] == 3 and group["last_release"] == "build-2"
    assert [(r["release"], r["count"]) for r in group["releases"]] == [
        ("build-abc123", 2),
        ("build-2", 1),
    ]
    assert all(r["first_seen"].endswith("Z") for r in group["releases"])
    assert group["routes"] == [{"route": "/products/[id]", "count": 3}]
    newest = group["latest"][0]
    assert newest["incident"] == "PAGE-0002" and newest["request_id"] == "req-PAGE-0002-0"
    assert newest["failed_request_ids"] == ["up-1", "up-2"] and newest["release"] == "build-2"
    assert [e["incident"] for e in group["latest"]] == ["PAGE-0002", "PAGE-0001", "PAGE-0001"]
    assert len(group["minutes"]) == 30 and sum(m["count"] for m in group["minutes"]) == 3
    sample = group["sample"]
    assert sample["request_id"] == "req-PAGE-0002-0"
    assert sample["data"]["incident"] == "PAGE-0002"
    assert sample["data"]["frames"][0]["function"] == "renderItem"
    assert client.get("/api/ops/client-errors/0123456789abcdef").status_code == 404
    bad = client.get("/api/ops/client-errors/NOT-A-FINGERPRINT")
    assert bad.status_code == 400
    assert bad.get_json(force=True)["type"] == "urn:bff:problem:bad-fingerprint"


def test_latest_occurrences_are_bounded(redis_url: str) -> None:
    client = app_on(redis_url).test_client()
    send(client, 25, incident="MANY-0001")
    fingerprint = only_group(client)["fingerprint"]
    group = client.get(f"/api/ops/client-errors/{fingerprint}").get_json()
    assert group["count"] == 25 and len(group["latest"]) == 20
    assert group["latest"][0]["request_id"] == "req-MANY-0001-24"


def test_resolve_then_reopen_in_a_newer_release(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = app_on(redis_url).test_client()
    send(client, 2, release="build-1")
    fingerprint = only_group(client)["fingerprint"]
    resolved = client.put(f"/api/ops/client-errors/{fingerprint}/resolution")
    assert resolved.status_code == 200
    assert resolved.get_json()["status"] == "resolved"
    assert resolved.get_json()["resolved_release"] == "build-1"
    assert client.get("/api/ops/client-errors").get_json()["groups"] == []  # open only
    send(client, 1, release="build-1")  # the old release again: counted, still resolved
    group = only_group(client, status="resolved")
    assert group["count"] == 3 and group["status"] == "resolved"
    with caplog.at_level(logging.INFO, logger="bff.ops.index"):
        send(client, 1, release="build-2")  # a newer release: reopens
    group = only_group(client)
    assert group["status"] == "open" and group["count"] == 4
    assert group["reopened_in"] == "build-2" and group["resolved_at"] is None
    assert [r.getMessage() for r in caplog.records if r.name == "bff.ops.index"] == [
        "error group reopened"
    ]
    assert only_group(client, status="all")["fingerprint"] == fingerprint
    client.put(f"/api/ops/client-errors/{fingerprint}/resolution")
    reopened = client.delete(f"/api/ops/client-errors/{fingerprint}/resolution")
    assert reopened.status_code == 200 and reopened.get_json()["status"] == "open"
    missing = client.put("/api/ops/client-errors/0123456789abcdef/resolution")
    assert missing.status_code == 404
    assert missing.get_json(force=True)["type"] == "urn:bff:problem:error-group-not-found"


def test_a_new_group_is_logged_once(redis_url: str, caplog: pytest.LogCaptureFixture) -> None:
    client = app_on(redis_url).test_client()
    with caplog.at_level(logging.INFO, logger="bff.ops.index"):
        send(client, 3)
    [record] = [r for r in caplog.records if r.name == "bff.ops.index"]
    assert record.getMessage() == "new error group"
    assert record.data["release"] == "build-abc123"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "query",
    ["status=closed", "sort=random", "since=0", "since=abc", "limit=0", "limit=201", "limit=x"],
)
def test_bad_list_queries_are_400(redis_url: str, query: str) -> None:
    resp = app_on(redis_url).test_client().get(f"/api/ops/client-errors?{query}")
    assert resp.status_code == 400
    assert resp.get_json(force=True)["type"] == "urn:bff:problem:bad-query"


def test_minute_ring_forgets_yesterday_exactly(index: ErrorIndex) -> None:
    data = {"type": "E", "message": "m", "release": "r1", "incident": "RING-0001"}
    for offset in (0, 0, 5):
        index.record("a" * 16, data, sample=b"{}", request_id=None, now_ms=T0 + offset * MINUTE)
    later = T0 + RING_MINUTES * MINUTE  # the same slot as T0, a day later
    index.record("a" * 16, data, sample=b"{}", request_id=None, now_ms=later)
    group = index.group("a" * 16, now_ms=later)
    assert group is not None and group["count"] == 4
    counts = {m["t"]: m["count"] for m in group["minutes"] if m["count"]}
    assert counts == {T0 + 5 * MINUTE: 1, later: 1}


def test_list_window_and_order(index: ErrorIndex) -> None:
    def record(fp: str, n: int, at: int) -> None:
        for _ in range(n):
            index.record(fp * 16, {"type": "E"}, sample=b"{}", request_id=None, now_ms=at)

    record("a", 3, T0 - 120 * MINUTE)
    record("b", 2, T0 - 2 * MINUTE)
    record("c", 1, T0)
    matched, groups = index.groups(since_ms=T0 - 60 * MINUTE, now_ms=T0)
    assert matched == 2 and [g["fingerprint"][0] for g in groups] == ["b", "c"]
    matched, groups = index.groups(since_ms=0, sort="last_seen", now_ms=T0, limit=2)
    assert matched == 3 and [g["fingerprint"][0] for g in groups] == ["c", "b"]


def test_groups_are_forgotten_after_their_ttl(redis_url: str) -> None:
    index = index_from_uri(redis_url, group_ttl=60)
    assert index is not None
    index.record("a" * 16, {"type": "E"}, sample=b"{}", request_id=None, now_ms=T0)
    index.record("b" * 16, {"type": "E"}, sample=b"{}", request_id=None, now_ms=T0 + 2 * MINUTE)
    assert index.groups(since_ms=0, status="all", now_ms=T0 + 2 * MINUTE)[0] == 1
    assert index.client.zscore(f"{index.prefix}by_count", "a" * 16) is None


def test_sample_is_bounded() -> None:
    data = {"type": "E", "message": "m", "breadcrumbs": ["x" * 1000] * 100, "frames": []}
    sample = sample_json("2026-01-01T00:00:00.000Z", "client error: E: m", "rid", data)
    assert len(sample) <= SAMPLE_MAX_BYTES and b"sample_trimmed" in sample
    huge = {"type": "E", "message": "m", "url": "u", "csp": {"x": "y" * 100_000}}
    assert len(sample_json("2026-01-01T00:00:00.000Z", "m", None, huge)) <= SAMPLE_MAX_BYTES


def test_traffic_counts_proxied_requests_and_client_errors(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Requests are counted from the ``bff.access`` records (INFO, as the BFF logs)."""
    caplog.set_level(logging.INFO, logger="bff.access")
    stub = StubServer().start()
    try:
        app = ingest_app(BFF_RATELIMIT_STORAGE_URI=redis_url, BFF_UPSTREAM_CATALOG_URL=stub.url)
        client = app.test_client()
        for _ in range(3):
            client.get("/api/catalog/items")
        client.get("/api/orders/1")  # orders is a closed port: 502
        send(client, 2)
        counter: TrafficCounter = app.extensions[TRAFFIC_EXTENSION_KEY]
        assert counter.flush() is True
        body = client.get("/api/ops/traffic?minutes=5").get_json()
    finally:
        stub.stop()
    assert len(body["buckets"]) == 5
    assert body["totals"]["requests"] == 4 and body["totals"]["errors_5xx"] == 1
    assert body["totals"]["client_errors"] == 2


def test_redis_down_keeps_ingest_and_answers_503(caplog: pytest.LogCaptureFixture) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    app = app_on(url)
    client = app.test_client()
    with caplog.at_level(logging.WARNING, logger="bff.ops.index"):
        send(client, 3)
    counters = client.get("/internal/client-errors").get_json()["counters"]
    assert counters["accepted"] == {"reporter": 3}
    assert counters["index"]["failed"] == 1 and counters["index"]["skipped"] == 2
    assert [r.getMessage() for r in caplog.records].count(
        "error index unavailable, client errors are logged but not indexed"
    ) == 1
    for method, path in INDEX_ENDPOINTS:
        resp = client.open(path, method=method)
        assert resp.status_code == 503, path
        body = resp.get_json(force=True)
        assert body["type"] == "urn:bff:problem:index-unavailable"
        assert "Redis" in body["detail"] and resp.headers["Retry-After"] == "10"
        assert "groups" not in body and "buckets" not in body


INDEX_ENDPOINTS = [
    ("GET", "/api/ops/client-errors"),
    ("GET", "/api/ops/traffic"),
    ("GET", "/api/ops/client-errors/" + "a" * 16),
    ("PUT", "/api/ops/client-errors/" + "a" * 16 + "/resolution"),
    ("DELETE", "/api/ops/client-errors/" + "a" * 16 + "/resolution"),
]


@pytest.mark.parametrize(("method", "path"), INDEX_ENDPOINTS)
def test_no_redis_configured_is_503_not_numbers(method: str, path: str) -> None:
    client = ingest_app().test_client()  # memory:// rate limits: no index
    send(client, 1)
    resp = client.open(path, method=method)
    assert resp.status_code == 503
    body = resp.get_json(force=True)
    assert body["type"] == "urn:bff:problem:index-unavailable" and body["index"] is False
    assert "BFF_RATELIMIT_STORAGE_URI" in body["detail"]


@pytest.mark.parametrize(
    ("path", "slug"),
    [
        ("/api/ops/client-errors?since=0", "bad-query"),
        ("/api/ops/traffic?minutes=", "bad-query"),
        ("/api/ops/client-errors/" + "a" * 16 + "?minutes=x", "bad-query"),
        ("/api/ops/client-errors/NOT-A-FINGERPRINT?minutes=x", "bad-fingerprint"),
    ],
)
def test_bad_requests_are_refused_before_the_index_is_needed(path: str, slug: str) -> None:
    client = ingest_app().test_client()  # no index: a 503 would mean the order changed
    resp = client.get(path)
    assert resp.status_code == 400
    assert resp.get_json(force=True)["type"] == f"urn:bff:problem:{slug}"


def test_index_from_uri_only_for_redis() -> None:
    assert index_from_uri("memory://") is None
    built = index_from_uri("redis://127.0.0.1:9/0")
    assert built is not None and isinstance(built.client, redis.Redis)


def test_group_commit_batches_concurrent_events_and_counts_exactly(index: ErrorIndex) -> None:
    """Events queued while another request writes go in its next batch: fewer round trips
    than events, every event counted once."""
    feed = IndexFeed(index)
    barrier = threading.Barrier(16)

    def report_many(n: int) -> None:
        barrier.wait()
        for i in range(50):
            data = {"type": "E", "message": f"m{n % 4}", "release": "r", "incident": "GC-1"}
            feed.record(f"{n % 4:016x}", data, sample=b"{}", request_id=f"{n}-{i}")

    threads = [threading.Thread(target=report_many, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    deadline = time.monotonic() + 10
    while feed.stats["recorded"] < 800 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert feed.stats["recorded"] == 800 and feed.stats["failed"] == 0
    assert feed.stats["new"] == 4
    matched, groups = index.groups(since_ms=0, status="all")
    assert matched == 4 and sorted(g["count"] for g in groups) == [200] * 4


def test_new_and_reopened_groups_reach_the_metrics(redis_url: str) -> None:
    """A new group, and a resolved one back in a newer release, count ``NewErrorGroup``."""

    def new_groups() -> dict[str, int]:
        assert recorder is not None
        docs = recorder.flush()
        return {d["Release"]: d["NewErrorGroup"] for d in docs if "NewErrorGroup" in d}

    try:
        client = app_on(redis_url).test_client()
        recorder = metrics.current()
        assert recorder is not None
        send(client, 3, release="build-1")
        assert new_groups() == {"build-1": 1}
        fingerprint = only_group(client)["fingerprint"]
        client.put(f"/api/ops/client-errors/{fingerprint}/resolution")
        send(client, 1, release="build-1")
        send(client, 2, release="build-2")
        assert new_groups() == {"build-2": 1}
    finally:
        metrics.shutdown()
