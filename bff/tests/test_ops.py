from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from bff.openapi import build_document
from bff.ops import (
    MAX_PAGES,
    MAX_RELATED_IDS,
    LogsSource,
    failed_request_ids,
    init_app,
    related_records,
    scan_events,
    token_matches,
)
from bff.settings import SettingsError
from botocore.exceptions import ClientError, EndpointConnectionError
from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate

from bff import create_app

from .conftest import make_settings
from .upstream_stub import StubServer

TOKEN = "t" * 40
NOW_MS = int(time.time() * 1000)


def client_error(
    fingerprint: str,
    incident: str,
    *,
    ago_ms: int = 1000,
    stream: str = "client-errors/host/1",
    release: str = "build-1",
    message: str = "x is undefined",
) -> dict[str, Any]:
    """A CloudWatch event as the client-error ingest writes it."""
    record = {
        "timestamp": "2026-01-01T00:00:00.000Z",
        "level": "ERROR",
        "logger": "bff.client_errors",
        "message": f"client error: TypeError: {message}",
        "service": "bff",
        "environment": "test",
        "request_id": f"rid-{incident}",
        "trace_id": None,
        "data": {
            "source": "reporter",
            "kind": "error",
            "incident": incident,
            "fingerprint": fingerprint,
            "release": release,
            "type": "TypeError",
            "message": message,
            "url": "https://shop.example/products/1",
            "route": "/products/[id]",
            "session": f"s-{incident}",
            "frames": [
                {
                    "function": "renderItem",
                    "file": "src/components/catalog/item-list.tsx",
                    "line": 12,
                    "column": 7,
                    "status": "symbolicated",
                    "minified": {"file": "/_next/static/chunks/a.js", "line": 1, "column": 999},
                }
            ],
        },
    }
    return {
        "logStreamName": stream,
        "timestamp": NOW_MS - ago_ms,
        "message": json.dumps(record),
        "eventId": incident,
    }


def access_event(status: int, ago_ms: int, stream: str = "bff/host/7") -> dict[str, Any]:
    record = {
        "logger": "bff.access",
        "message": f"GET /api/catalog/items {status}",
        "data": {"method": "GET", "path": "/api/catalog/items", "status": status},
    }
    return {"logStreamName": stream, "timestamp": NOW_MS - ago_ms, "message": json.dumps(record)}


class FakeLogs:
    """Answers filter_log_events from a list of events, in pages; records every call.

    Like the emulator, it ignores logStreamNamePrefix and filterPattern."""

    def __init__(
        self, events: list[dict[str, Any]] | None = None, page_size: int = 100, error: Any = None
    ) -> None:
        self.events = events or []
        self.page_size = page_size
        self.error = error
        self.calls: list[dict[str, Any]] = []

    def filter_log_events(self, **kwargs: Any) -> Mapping[str, Any]:
        self.calls.append(kwargs)
        if self.error is not None:
            raise self.error
        start = int(kwargs.get("nextToken") or 0)
        page = self.events[start : start + self.page_size]
        answer: dict[str, Any] = {"events": page}
        if start + self.page_size < len(self.events):
            answer["nextToken"] = str(start + self.page_size)
        return answer


def app_with(logs: FakeLogs | None, group: str | None = "/test/ops", **env: str) -> Flask:
    app = create_app(make_settings("http://127.0.0.1:9", **env))
    init_app(app, LogsSource(group=group, make_client=lambda: logs or FakeLogs()))
    return app


@pytest.fixture
def logs() -> FakeLogs:
    return FakeLogs(
        [
            client_error("aaaaaaaaaaaaaaaa", "INC-000001", ago_ms=50_000),
            client_error("aaaaaaaaaaaaaaaa", "INC-000002", ago_ms=20_000, release="build-2"),
            client_error("aaaaaaaaaaaaaaaa", "INC-000003", ago_ms=10_000, release="build-2"),
            client_error("bbbbbbbbbbbbbbbb", "INC-000004", ago_ms=5_000, message="boom"),
            access_event(200, 3_000),  # another stream: the emulator returns it anyway
            {"logStreamName": "client-errors/h/2", "timestamp": NOW_MS, "message": "not json"},
        ],
        page_size=2,
    )


@pytest.fixture
def ops(logs: FakeLogs) -> FlaskClient:
    return app_with(logs).test_client()


# -- access -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        pytest.param(f"Bearer {TOKEN}", True, id="exact"),
        pytest.param(f"bearer {TOKEN}", True, id="scheme-case-insensitive"),
        pytest.param(f"Bearer  {TOKEN} ", True, id="extra-spaces"),
        pytest.param(None, False, id="missing"),
        pytest.param("", False, id="empty"),
        pytest.param(f"Basic {TOKEN}", False, id="other-scheme"),
        pytest.param(f"Bearer {TOKEN}x", False, id="longer"),
        pytest.param(f"Bearer {TOKEN[:-1]}", False, id="prefix"),
        pytest.param("Bearer", False, id="no-token"),
        pytest.param(f"Bearer {TOKEN.upper()}", False, id="token-case-sensitive"),
        pytest.param("Bearer \u00e9\u00e9", False, id="non-ascii"),
    ],
)
def test_token_matches(header: str | None, ok: bool) -> None:
    assert token_matches(TOKEN, header) is ok


def test_open_without_token_in_development(ops: FlaskClient) -> None:
    resp = ops.get("/api/ops/incidents/INC-000002")
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "no-store"


def test_token_required_when_configured(logs: FakeLogs) -> None:
    client = app_with(logs, BFF_OPS_TOKEN=TOKEN).test_client()
    missing = client.get("/api/ops/summary")
    assert missing.status_code == 401
    assert missing.headers["Content-Type"] == "application/problem+json"
    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="ops"'
    assert missing.get_json(force=True)["type"] == "urn:bff:problem:unauthorized"
    wrong = client.get("/api/ops/client-errors", headers={"Authorization": "Bearer " + "u" * 40})
    assert wrong.status_code == 401
    assert 'error="invalid_token"' in wrong.headers["WWW-Authenticate"]
    assert logs.calls == []  # nothing read before the token was checked
    good = client.get("/api/ops/incidents/INC-000002", headers={"Authorization": f"Bearer {TOKEN}"})
    assert good.status_code == 200


def test_production_without_token_hides_the_endpoints(logs: FakeLogs) -> None:
    client = app_with(logs, BFF_ENV="production").test_client()
    for path in ("/api/ops/summary", "/api/ops/client-errors", "/api/ops/incidents/ABC-123"):
        resp = client.get(path)
        assert resp.status_code == 404, path
        assert resp.headers["Content-Type"] == "application/problem+json"
    assert logs.calls == []


def test_production_with_token_works(logs: FakeLogs) -> None:
    client = app_with(logs, BFF_ENV="production", BFF_OPS_TOKEN=TOKEN).test_client()
    resp = client.get("/api/ops/incidents/INC-000002", headers={"Authorization": f"Bearer {TOKEN}"})
    assert resp.status_code == 200


@pytest.mark.parametrize(
    "value", ["short", "changeme", "x" * 31, "tab\tinside" + "x" * 30], ids=repr
)
def test_weak_tokens_fail_at_start_up(value: str) -> None:
    with pytest.raises(SettingsError, match="BFF_OPS_TOKEN"):
        make_settings("http://127.0.0.1:9", BFF_OPS_TOKEN=value)


def test_token_never_in_settings_repr() -> None:
    settings = make_settings("http://127.0.0.1:9", BFF_OPS_TOKEN=TOKEN)
    assert settings.ops_token == TOKEN
    assert TOKEN not in repr(settings)


# -- client errors (the index itself: test_ops_index.py) ----------------------------------------


def test_summary_is_cached_briefly(stub: StubServer) -> None:
    client = create_app(make_settings(stub.url)).test_client()
    client.get("/api/ops/summary")
    probes = sum(stub.hits.values())
    client.get("/api/ops/summary")
    assert sum(stub.hits.values()) == probes


def test_cache_can_be_turned_off(stub: StubServer) -> None:
    client = create_app(make_settings(stub.url, BFF_OPS_CACHE_SECONDS="0")).test_client()
    client.get("/api/ops/summary")
    probes = sum(stub.hits.values())
    client.get("/api/ops/summary")
    assert sum(stub.hits.values()) == 2 * probes


@pytest.mark.parametrize(
    "since",
    ["abc", "0", "-5", "1.5", "20161", "9" * 30, "", "²", "\u0661\u0662", " 5", "+5"],
    ids=repr,
)
def test_bad_since_is_400(ops: FlaskClient, logs: FakeLogs, since: str) -> None:
    resp = ops.get("/api/ops/client-errors", query_string={"since": since})
    assert resp.status_code == 400
    body = resp.get_json(force=True)
    assert body["type"] == "urn:bff:problem:bad-query"
    assert body["errors"][0]["parameter"] == "since"
    assert body["detail"].startswith("since: must be")
    assert logs.calls == []


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/api/ops/traffic?minutes=", "minutes"),
        ("/api/ops/traffic?minutes=%C2%B2", "minutes"),
        ("/api/ops/traffic?minutes=1441", "minutes"),
        ("/api/ops/client-errors/0123456789abcdef?minutes=0", "minutes"),
        ("/api/ops/incidents/ABC-123?since=", "since"),
        ("/api/ops/client-errors?limit=201", "limit"),
        ("/api/ops/client-errors?status=closed", "status"),
    ],
)
def test_every_query_is_read_through_its_model(ops: FlaskClient, path: str, name: str) -> None:
    resp = ops.get(path)
    assert resp.status_code == 400, resp.data
    body = resp.get_json(force=True)
    assert body["type"] == "urn:bff:problem:bad-query"
    assert [e["parameter"] for e in body["errors"]] == [name]


def test_no_log_group_is_explained_not_an_error() -> None:
    client = app_with(None, group=None).test_client()
    body = client.get("/api/ops/incidents/ABC-123").get_json()
    assert body["configured"] is False
    assert "LOG_CLOUDWATCH_GROUP" in body["detail"]


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(EndpointConnectionError(endpoint_url="http://127.0.0.1:9"), id="down"),
        pytest.param(
            ClientError({"Error": {"Code": "AccessDeniedException"}}, "FilterLogEvents"),
            id="denied",
        ),
        pytest.param(
            ClientError({"Error": {"Code": "ThrottlingException"}}, "FilterLogEvents"),
            id="throttled",
        ),
    ],
)
def test_cloudwatch_failures_are_503_problems(error: Exception) -> None:
    client = app_with(FakeLogs(error=error)).test_client()
    for path in ("/api/ops/incidents/ABC-123",):
        resp = client.get(path)
        assert resp.status_code == 503, path
        body = resp.get_json(force=True)
        assert body["type"] == "urn:bff:problem:logs-unavailable"
        assert "CloudWatch Logs" in body["detail"]
        assert resp.headers["Retry-After"] == "10"


def test_failures_are_not_cached() -> None:
    logs = FakeLogs(error=EndpointConnectionError(endpoint_url="http://127.0.0.1:9"))
    logs.events = [client_error("a" * 16, "INC-000009")]
    client = app_with(logs).test_client()
    assert client.get("/api/ops/incidents/INC-000009").status_code == 503
    logs.error = None
    assert client.get("/api/ops/incidents/INC-000009").status_code == 200


def test_missing_log_group_is_not_found_not_an_error() -> None:
    error = ClientError({"Error": {"Code": "ResourceNotFoundException"}}, "FilterLogEvents")
    resp = app_with(FakeLogs(error=error)).test_client().get("/api/ops/incidents/ABC-123")
    assert resp.status_code == 404


def endless_pages() -> FakeLogs:
    return FakeLogs([client_error("c" * 16, f"INC-{i:06d}") for i in range(10_000)], page_size=1)


def test_scan_stops_after_max_pages() -> None:
    logs = endless_pages()
    scan = scan_events(logs, "g", stream_prefix="client-errors/", start_ms=0, end_ms=NOW_MS)
    assert len(logs.calls) == MAX_PAGES and scan.truncated is True
    assert len(scan.events) == MAX_PAGES


def test_scan_stops_at_max_events() -> None:
    logs = endless_pages()
    scan = scan_events(
        logs, "g", stream_prefix="client-errors/", start_ms=0, end_ms=NOW_MS, max_events=3
    )
    assert len(logs.calls) == 3 and scan.truncated is True


def test_scan_stops_when_out_of_time() -> None:
    ticks: Iterator[float] = iter(range(1000))
    logs = endless_pages()
    scan = scan_events(
        logs,
        "g",
        stream_prefix="client-errors/",
        start_ms=0,
        end_ms=NOW_MS,
        budget_seconds=4,
        clock=lambda: float(next(ticks)),
    )
    assert len(logs.calls) == 4 and scan.truncated is True


# -- incidents --------------------------------------------------------------------------------


def test_incident_found(ops: FlaskClient, logs: FakeLogs) -> None:
    resp = ops.get("/api/ops/incidents/inc-000002")  # users may type it in lower case
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["incident"] == "INC-000002"
    assert [e["data"]["incident"] for e in body["events"]] == ["INC-000002"]
    assert body["events"][0]["request_id"] == "rid-INC-000002"
    assert logs.calls[0]["filterPattern"] == '{ $.data.incident = "INC-000002" }'


def test_incident_not_found_is_404_problem(ops: FlaskClient) -> None:
    resp = ops.get("/api/ops/incidents/NOPE-NOPE")
    assert resp.status_code == 404
    body = resp.get_json(force=True)
    assert body["type"] == "urn:bff:problem:incident-not-found"
    assert body["incident"] == "NOPE-NOPE"


@pytest.mark.parametrize(
    "code", ["abc", "A" * 33, "ABC_123", "ABC%20123", 'ABC"}OR{', "ABC.123"], ids=repr
)
def test_bad_incident_code_is_400(ops: FlaskClient, logs: FakeLogs, code: str) -> None:
    resp = ops.get(f"/api/ops/incidents/{code}")
    assert resp.status_code == 400
    assert resp.get_json(force=True)["type"] == "urn:bff:problem:bad-incident-code"
    assert logs.calls == []


def server_record(
    request_id: str, ago_ms: int, stream: str = "catalog/host/3", **data: Any
) -> dict[str, Any]:
    """A CloudWatch event as a service's access log writes it."""
    record = {
        "logger": stream.split("/")[0] if "/" in stream else "x",
        "level": "WARNING",
        "service": stream.split("/")[0],
        "message": f"GET /items {data.get('status', 500)}",
        "request_id": request_id,
        "data": {"method": "GET", "path": "/items", "duration_ms": 1.5, "bytes_out": 9, **data},
    }
    return {"logStreamName": stream, "timestamp": NOW_MS - ago_ms, "message": json.dumps(record)}


def incident_with_ids(ids: list[Any], ago_ms: int = 60_000) -> dict[str, Any]:
    event = client_error("dddddddddddddddd", "REL-000001", ago_ms=ago_ms)
    record = json.loads(event["message"])
    record["data"]["request_ids"] = ids
    return {**event, "message": json.dumps(record)}


def test_incident_joins_server_records_of_failed_requests() -> None:
    minute = 60_000
    logs = FakeLogs(
        [
            incident_with_ids(["req-a", "req-b", 'bad"}', 7]),
            server_record("req-b", 30_000, "bff/host/1", status=502, upstream_status=500),
            server_record("req-a", 90_000, status=500),
            server_record("req-a", 50_000, "orders/host/2", status=503),
            server_record("req-other", 40_000, status=500),  # another request
            server_record("req-a", minute + 16 * minute),  # before the window
            server_record("req-a", -10 * minute),  # after the window (clock skew)
            {**server_record("req-a", 55_000), "logStreamName": "client-errors/h/1"},
            {"logStreamName": "bff/host/1", "timestamp": NOW_MS, "message": "not json"},
        ],
        page_size=3,
    )
    body = app_with(logs).test_client().get("/api/ops/incidents/REL-000001").get_json()
    related = body["related"]
    assert related["request_ids"] == ["req-a", "req-b"]
    assert related["truncated"] is False
    assert [(r["request_id"], r["service"], r["status"]) for r in related["records"]] == [
        ("req-a", "catalog", 500),
        ("req-a", "orders", 503),
        ("req-b", "bff", 502),
    ]
    first = related["records"][0]
    assert first["method"] == "GET" and first["path"] == "/items"
    assert first["duration_ms"] == 1.5 and first["upstream_status"] is None
    assert first["level"] == "WARNING" and "bytes_out" not in first
    related_call = next(c for c in logs.calls if "req-a" in c.get("filterPattern", ""))
    assert related_call["filterPattern"] == ('{ $.request_id = "req-a" || $.request_id = "req-b" }')
    assert "logStreamNamePrefix" not in related_call
    event_ms = NOW_MS - minute
    assert related_call["startTime"] == event_ms - 15 * minute
    assert related_call["endTime"] <= event_ms + 5 * minute


def test_incident_without_request_ids_reads_nothing_more(ops: FlaskClient, logs: FakeLogs) -> None:
    body = ops.get("/api/ops/incidents/INC-000002").get_json()
    assert body["related"] == {"request_ids": [], "truncated": False, "records": []}
    assert len(logs.calls) == 3  # the incident scan's pages only


def test_related_ids_are_capped_and_deduplicated() -> None:
    ids = [f"req-{i}" for i in range(15)]
    events = [(NOW_MS, "client-errors/x", {"data": {"request_ids": [*ids[:3], *ids]}})]
    assert failed_request_ids(events) == ids[:MAX_RELATED_IDS]


def test_related_scan_is_bounded() -> None:
    logs = FakeLogs(
        [incident_with_ids(["req-a"])]
        + [server_record("req-a", 1000 + i) for i in range(MAX_PAGES * 2)],
        page_size=1,
    )
    related = related_records(
        logs,
        "g",
        [(NOW_MS - 60_000, "client-errors/x", {"data": {"request_ids": ["req-a"]}})],
        NOW_MS,
    )
    assert related["truncated"] is True
    assert len(logs.calls) == MAX_PAGES


def test_related_failure_keeps_the_incident() -> None:
    logs = FakeLogs([incident_with_ids(["req-a"])])
    client = app_with(logs).test_client()
    calls = 0

    def flaky(**kwargs: Any) -> Mapping[str, Any]:
        nonlocal calls
        calls += 1
        if calls > 1:
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9")
        return FakeLogs.filter_log_events(logs, **kwargs)

    logs.filter_log_events = flaky  # type: ignore[method-assign]
    resp = client.get("/api/ops/incidents/REL-000001")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["events"][0]["data"]["incident"] == "REL-000001"
    assert body["related"]["records"] == []
    assert "cannot be reached" in body["related"]["unavailable"]


# -- traffic ----------------------------------------------------------------------------------


@pytest.mark.parametrize("minutes", ["0", "1441", "x"], ids=repr)
def test_bad_minutes_is_400(ops: FlaskClient, minutes: str) -> None:
    assert ops.get(f"/api/ops/traffic?minutes={minutes}").status_code == 400


# -- summary ----------------------------------------------------------------------------------


def test_summary_reports_upstreams_and_shipping(stub: StubServer) -> None:
    app = create_app(make_settings(stub.url))  # orders points at a closed port
    body = app.test_client().get("/api/ops/summary").get_json()
    upstreams = {u["name"]: u for u in body["upstreams"]}
    assert upstreams["catalog"]["healthy"] is True
    assert upstreams["catalog"]["host"] == stub.url.removeprefix("http://")
    assert upstreams["catalog"]["latency_ms"] >= 0
    assert upstreams["orders"]["healthy"] is False and upstreams["orders"]["error"]
    assert body["environment"] == "development" and body["service"] == "bff"
    assert body["version"]
    assert set(body["logging"]) == {"pid", "shipping", "group", "stats"}


def test_ops_endpoints_are_documented_with_bearer_security() -> None:
    doc = build_document(make_settings("http://127.0.0.1:9"))
    validate(doc)  # type: ignore[arg-type]
    assert doc["components"]["securitySchemes"]["opsBearer"]["scheme"] == "bearer"
    operations = [
        ("summary", "get"),
        ("client-errors", "get"),
        ("client-errors/{fingerprint}", "get"),
        ("client-errors/{fingerprint}/resolution", "put"),
        ("client-errors/{fingerprint}/resolution", "delete"),
        ("incidents/{code}", "get"),
        ("traffic", "get"),
    ]
    for path, method in operations:
        operation = doc["paths"][f"/api/ops/{path}"][method]
        assert operation["tags"] == ["ops"]
        assert operation["security"] == [{"opsBearer": []}]
        assert "401" in operation["responses"]


def test_wrong_tokens_are_rate_limited_per_client(logs: FakeLogs) -> None:
    """Guessing the token is slowed to BFF_OPS_AUTH_RATE per client; the right token is not."""
    client = app_with(logs, BFF_OPS_TOKEN=TOKEN, BFF_OPS_AUTH_RATE="3/minute").test_client()
    wrong = {"Authorization": "Bearer " + "u" * 40}
    assert [client.get("/api/ops/summary", headers=wrong).status_code for _ in range(3)] == [
        401
    ] * 3
    limited = client.get("/api/ops/summary", headers=wrong)
    assert limited.status_code == 429
    assert limited.headers["Content-Type"] == "application/problem+json"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert client.get("/api/ops/summary").status_code == 429  # a missing token counts too
    good = client.get("/api/ops/incidents/INC-000002", headers={"Authorization": f"Bearer {TOKEN}"})
    assert good.status_code == 200
