"""``POST /api/vitals``: one ``bff.vitals`` record per metric, strict validation, fuzzing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .test_client_errors import Records, ingest, ingest_app, records

__all__ = ["ingest", "records"]


def batch(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "v": 1,
        "release": "build-abc123",
        "url": "https://shop.example/products/1?token=abc",
        "route": "/products/[id]",
        "metrics": [
            {
                "name": "LCP",
                "value": 1830.5,
                "rating": "good",
                "id": "v5-1",
                "navigationType": "navigate",
            },
            {"name": "CLS", "value": 0.02, "rating": "good", "id": "v5-2"},
            {"name": "INP", "value": 520, "rating": "poor", "id": "v5-3"},
        ],
    }
    doc.update(overrides)
    return doc


def test_each_metric_is_one_record(ingest: FlaskClient, records: Records) -> None:
    resp = ingest.post("/api/vitals", json=batch())
    assert resp.status_code == 202 and resp.get_json()["accepted"] == 3
    logged = records.parsed("bff.vitals")
    assert [r["message"] for r in logged] == ["web vital LCP", "web vital CLS", "web vital INP"]
    data = logged[0]["data"]
    assert {k: data[k] for k in ("name", "value", "rating", "route", "release", "id")} == {
        "name": "LCP",
        "value": 1830.5,
        "rating": "good",
        "route": "/products/[id]",
        "release": "build-abc123",
        "id": "v5-1",
    }
    assert data["url"] == "https://shop.example/products/1?token=[REDACTED]"
    assert all(r["level"] == "INFO" for r in logged)


def test_sendbeacon_text_plain(ingest: FlaskClient) -> None:
    resp = ingest.post("/api/vitals", data=json.dumps(batch()), content_type="text/plain")
    assert resp.status_code == 202


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"v": 2}, id="version"),
        pytest.param({"metrics": []}, id="empty"),
        pytest.param(
            {"metrics": [{"name": "LCP", "value": 1, "rating": "good", "id": "x"}] * 21},
            id="too-many",
        ),
        pytest.param(
            {"metrics": [{"name": "FID", "value": 1, "rating": "good", "id": "x"}]}, id="name"
        ),
        pytest.param(
            {"metrics": [{"name": "LCP", "value": -1, "rating": "good", "id": "x"}]}, id="negative"
        ),
        pytest.param(
            {"metrics": [{"name": "LCP", "value": True, "rating": "good", "id": "x"}]}, id="bool"
        ),
        pytest.param(
            {"metrics": [{"name": "LCP", "value": 3.5e16, "rating": "good", "id": "x"}]}, id="huge"
        ),
        pytest.param(
            {"metrics": [{"name": "LCP", "value": "1", "rating": "good", "id": "x"}]}, id="string"
        ),
        pytest.param(
            {"metrics": [{"name": "LCP", "value": 1, "rating": "ok", "id": "x"}]}, id="rating"
        ),
        pytest.param({"metrics": [{"name": "LCP", "value": 1, "rating": "good"}]}, id="no-id"),
        pytest.param({"metrics": ["LCP"]}, id="not-object"),
        pytest.param({"release": "../x"}, id="release"),
        pytest.param({"url": "javascript:1"}, id="url"),
    ],
)
def test_invalid_batches_are_422(
    ingest: FlaskClient, records: Records, change: dict[str, Any]
) -> None:
    resp = ingest.post("/api/vitals", json=batch(**change))
    assert resp.status_code == 422
    body = resp.get_json()
    assert body["type"] == "urn:bff:problem:invalid-vitals"
    assert body["errors"] and all(e["pointer"].startswith("/") for e in body["errors"])
    assert records.parsed("bff.vitals") == []


def test_too_large_is_413() -> None:
    client = ingest_app().test_client()
    resp = client.post("/api/vitals", data=b"x" * 20_000, content_type="application/json")
    assert resp.status_code == 413


_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=10,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    metric=st.dictionaries(
        st.sampled_from(["name", "value", "rating", "id", "navigationType"]), _values
    )
)
def test_fuzz_metrics_never_5xx(ingest: FlaskClient, metric: dict[str, Any]) -> None:
    resp = ingest.post("/api/vitals", json=batch(metrics=[metric]))
    assert resp.status_code in (202, 400, 422)  # 400: Infinity is not JSON
