"""Rate limits: per client and per fingerprint, memory and a real redis-server, fail-open."""

from __future__ import annotations

import time

import pytest
from bff.settings import SettingsError, load_settings
from testkit import free_port

from .conftest import CLOSED_PORT_URL
from .test_client_errors import SENTRY_EVENT, Records, envelope, ingest_app, records, report

__all__ = ["records"]

BASE = {"BFF_UPSTREAM_CATALOG_URL": CLOSED_PORT_URL, "BFF_UPSTREAM_ORDERS_URL": CLOSED_PORT_URL}


def test_client_limit_gives_429_with_retry_after() -> None:
    client = ingest_app(BFF_CLIENT_ERRORS_RATE="2/minute").test_client()
    statuses = [client.post("/api/client-errors", json=report()).status_code for _ in range(3)]
    assert statuses == [202, 202, 429]
    resp = client.post("/api/client-errors", json=report())
    assert resp.headers["Content-Type"] == "application/problem+json"
    assert 1 <= int(resp.headers["Retry-After"]) <= 60
    assert resp.get_json()["type"] == "urn:bff:problem:rate-limited"
    counters = client.get("/internal/client-errors").get_json()["counters"]
    assert counters["rate_limited"] == {"client": 2}


def test_client_limit_is_per_address() -> None:
    client = ingest_app(BFF_CLIENT_ERRORS_RATE="1/minute").test_client()
    first = {"REMOTE_ADDR": "198.51.100.1"}
    second = {"REMOTE_ADDR": "198.51.100.2"}
    assert client.post("/api/client-errors", json=report(), environ_base=first).status_code == 202
    assert client.post("/api/client-errors", json=report(), environ_base=first).status_code == 429
    assert client.post("/api/client-errors", json=report(), environ_base=second).status_code == 202


def test_fingerprint_limit_spans_clients(records: Records) -> None:
    client = ingest_app(BFF_CLIENT_ERRORS_FINGERPRINT_RATE="2/minute").test_client()
    codes = [
        client.post(
            "/api/client-errors", json=report(), environ_base={"REMOTE_ADDR": f"192.0.2.{i}"}
        ).status_code
        for i in range(3)
    ]
    assert codes == [202, 202, 429]
    other = report(error={"type": "RangeError", "message": "different"})
    assert client.post("/api/client-errors", json=other).status_code == 202
    assert len(records.parsed()) == 3


def test_envelope_429_carries_sentry_rate_limits() -> None:
    client = ingest_app(BFF_CLIENT_ERRORS_RATE="1/minute").test_client()
    body = envelope(({"type": "event"}, __import__("json").dumps(SENTRY_EVENT).encode()))
    assert client.post("/api/client-errors/envelope", data=body).status_code == 202
    resp = client.post("/api/client-errors/envelope", data=body)
    assert resp.status_code == 429
    retry = resp.headers["Retry-After"]
    assert resp.headers["X-Sentry-Rate-Limits"] == f"{retry}::organization"


def test_vitals_have_their_own_limit() -> None:
    client = ingest_app(BFF_VITALS_RATE="1/minute").test_client()
    batch = {"v": 1, "metrics": [{"name": "LCP", "value": 1200, "rating": "good", "id": "v1"}]}
    assert client.post("/api/vitals", json=batch).status_code == 202
    assert client.post("/api/vitals", json=batch).status_code == 429
    assert client.post("/api/client-errors", json=report()).status_code == 202


def test_redis_limits_are_shared_between_apps(redis_url: str) -> None:
    env = {"BFF_RATELIMIT_STORAGE_URI": redis_url, "BFF_CLIENT_ERRORS_RATE": "3/minute"}
    first = ingest_app(**env).test_client()
    second = ingest_app(**env).test_client()
    codes = [c.post("/api/client-errors", json=report()).status_code for c in (first, second) * 2]
    assert codes == [202, 202, 202, 429]
    assert (
        first.get("/internal/client-errors").get_json()["counters"]["ratelimit"]["storage"]
        == "redis"
    )


def test_redis_down_fails_open_counts_and_warns_once(records: Records) -> None:
    client = ingest_app(
        BFF_RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{free_port()}/0",
        BFF_CLIENT_ERRORS_RATE="1/minute",
    ).test_client()
    started = time.monotonic()
    codes = [client.post("/api/client-errors", json=report()).status_code for _ in range(5)]
    assert codes == [202] * 5
    assert time.monotonic() - started < 3
    stats = client.get("/internal/client-errors").get_json()["counters"]["ratelimit"]
    assert stats["storage_errors"] == 1  # then the storage is left alone for a few seconds
    assert stats["failed_open"] >= 5
    warnings = [r for r in records.parsed("bff.ratelimit") if r["level"] == "WARNING"]
    assert len(warnings) == 1
    assert len(records.parsed()) == 5  # every report was still logged


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BFF_CLIENT_ERRORS_RATE": "lots"}, "BFF_CLIENT_ERRORS_RATE"),
        (
            {"BFF_CLIENT_ERRORS_FINGERPRINT_RATE": "10/fortnight"},
            "BFF_CLIENT_ERRORS_FINGERPRINT_RATE",
        ),
        ({"BFF_VITALS_RATE": "-1/minute"}, "BFF_VITALS_RATE"),
        ({"BFF_RATELIMIT_STORAGE_URI": "memcached://x"}, "BFF_RATELIMIT_STORAGE_URI"),
        ({"BFF_RATELIMIT_STORAGE_URI": "redis:x"}, "BFF_RATELIMIT_STORAGE_URI"),
    ],
)
def test_bad_limits_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings({**BASE, **env})


def test_limit_defaults() -> None:
    ingest = load_settings(BASE).client_errors
    assert (ingest.rate, ingest.fingerprint_rate, ingest.vitals_rate) == (
        "60/minute",
        "100/minute",
        "120/minute",
    )
    assert ingest.ratelimit_storage_uri == "memory://"


def test_proxy_routes_and_health_are_never_limited() -> None:
    client = ingest_app(BFF_CLIENT_ERRORS_RATE="1/minute").test_client()
    for _ in range(5):
        assert client.get("/healthz").status_code == 200
