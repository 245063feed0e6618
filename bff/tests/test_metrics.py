"""bff.metrics: EMF splitting rules, aggregation, dimension caps, and the hooks in the app."""

from __future__ import annotations

import io
import json
import logging
import math
import random
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import pytest
from bff.metrics.emf import MAX_DIMENSIONS, Distribution, Series, documents
from bff.metrics.recorder import MAX_RELEASES, MAX_ROUTES, Histogram, Recorder, status_class
from bff.settings import SettingsError
from flask import Flask
from logship.formatter import RESERVED_KEYS, JsonFormatter

from bff import create_app, metrics

from .conftest import make_settings
from .emf_validation import problems
from .test_client_errors import report
from .test_vitals import batch
from .upstream_stub import StubServer

TS = 1_796_600_000_000


def valid(docs: Iterable[Mapping[str, Any]], max_dimensions: int = 9) -> list[dict[str, Any]]:
    out = [dict(doc) for doc in docs]
    for doc in out:
        assert problems(doc, max_dimensions=max_dimensions) == [], doc
    return out


def series(n_metrics: int = 0, dims: Mapping[str, str] | None = None) -> Series:
    dims = dims or {"Environment": "test"}
    s = Series("Test", dims, [list(dims)])
    for i in range(n_metrics):
        s.add(f"M{i:03d}", "Count", i)
    return s


def spread(n: int, start: float = 1.0) -> Distribution:
    values = [start * (1.1**i) for i in range(n)]
    counts = [1 + i % 3 for i in range(n)]
    total = math.fsum(v * c for v, c in zip(values, counts, strict=True))
    return Distribution(values, counts, min(values), max(values), total)


# -- the splitting rules ----------------------------------------------------------------------


def test_100_metrics_fit_one_document() -> None:
    [doc] = valid(documents(series(100), TS))
    assert len(doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]) == 100


def test_101_metrics_are_split_into_two_documents_and_none_is_lost() -> None:
    docs = valid(documents(series(101), TS))
    assert [len(d["_aws"]["CloudWatchMetrics"][0]["Metrics"]) for d in docs] == [100, 1]
    seen = [m["Name"] for d in docs for m in d["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
    assert sorted(seen) == [f"M{i:03d}" for i in range(101)]
    assert all(d["Environment"] == "test" and d["_aws"]["Timestamp"] == TS for d in docs)
    assert sum(d[name] for d in docs for name in d if name.startswith("M")) == sum(range(101))


def test_250_metrics_make_three_documents() -> None:
    docs = valid(documents(series(250), TS))
    assert [len(d["_aws"]["CloudWatchMetrics"][0]["Metrics"]) for d in docs] == [100, 100, 50]


@pytest.mark.parametrize("n", [1, 100, 101, 250], ids=lambda n: f"{n}-values")
def test_distribution_values_split_at_100_and_add_up(n: int) -> None:
    dist = spread(n)
    s = series()
    s.add("Latency", "Milliseconds", dist)
    docs = valid(documents(s, TS))
    assert len(docs) == math.ceil(n / 100)
    parts = [d["Latency"] for d in docs]
    assert all(len(p["Values"]) <= 100 for p in parts)
    assert sorted(v for p in parts for v in p["Values"]) == sorted(dist.values)
    assert sum(p["Count"] for p in parts) == dist.count
    assert math.isclose(sum(p["Sum"] for p in parts), dist.total, rel_tol=1e-12)
    assert min(p["Min"] for p in parts) == dist.minimum
    assert max(p["Max"] for p in parts) == dist.maximum


def test_metrics_and_long_distributions_together() -> None:
    s = series(150)
    s.add("Latency", "Milliseconds", spread(101))
    docs = valid(documents(s, TS))
    # 151 definitions: 100 + 51, and the distribution's second 100-value piece adds one more
    assert len(docs) == 3
    names = [m["Name"] for d in docs for m in d["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
    assert names.count("Latency") == 2 and len(names) == 152


def test_many_dimension_values_make_one_document_each() -> None:
    docs = []
    for i in range(500):
        s = Series("Test", {"Environment": "test", "Route": f"r{i}"}, [["Environment", "Route"]])
        s.add("Requests", "Count", 1)
        docs.extend(documents(s, TS))
    assert len(valid(docs)) == 500
    assert {d["Route"] for d in docs} == {f"r{i}" for i in range(500)}


def test_a_dimension_set_of_30_keys_is_valid_and_31_is_refused() -> None:
    dims = {f"D{i:02d}": f"v{i}" for i in range(31)}
    keys = list(dims)
    s = Series("Test", dims, [keys[:MAX_DIMENSIONS]])
    s.add("Requests", "Count", 1)
    valid(documents(s, TS), max_dimensions=30)
    with pytest.raises(ValueError, match="at most 30"):
        Series("Test", dims, [keys])


@pytest.mark.parametrize(
    ("name", "unit", "value", "match"),
    [
        pytest.param("_aws", "Count", 1, "bad metric name", id="reserved"),
        pytest.param("Environment", "Count", 1, "bad metric name", id="a-dimension"),
        pytest.param("M", "Furlongs", 1, "unknown CloudWatch unit", id="unit"),
        pytest.param("M", "Count", math.nan, "finite", id="nan"),
    ],
)
def test_bad_metrics_are_refused(name: str, unit: str, value: float, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        series().add(name, unit, value)


def test_a_dimension_needs_a_value() -> None:
    with pytest.raises(ValueError, match="no value"):
        Series("Test", {"Environment": "x"}, [["Environment", "Route"]])
    with pytest.raises(ValueError, match="non-empty"):
        Series("Test", {"Environment": ""}, [["Environment"]])


# -- aggregation ------------------------------------------------------------------------------


def test_histogram_percentiles_stay_within_two_percent() -> None:
    rng = random.Random(7)
    observed = [rng.lognormvariate(3, 1) for _ in range(20_000)]
    histogram = Histogram()
    for value in observed:
        histogram.add(value)
    dist = histogram.distribution()
    assert dist.count == 20_000 and math.isclose(dist.total, math.fsum(observed))
    assert dist.minimum == min(observed) and dist.maximum == max(observed)
    pairs = sorted(zip(dist.values, dist.counts, strict=True))
    for q in (0.5, 0.75, 0.99):
        exact = sorted(observed)[int(q * len(observed))]
        running, found = 0, 0.0
        for value, count in pairs:
            running += count
            if running > q * len(observed):
                found = value
                break
        assert abs(found - exact) / exact < 0.02, (q, found, exact)
    assert len(pairs) < 300


def test_zero_values_are_kept() -> None:
    histogram = Histogram()
    for value in (0.0, 0.0, 0.1):
        histogram.add(value)
    dist = histogram.distribution()
    assert sorted(zip(dist.values, dist.counts, strict=True)) == [(0.0, 2), (0.1, 1)]


@pytest.mark.parametrize(
    ("status", "klass"),
    [(200, "2xx"), (204, "2xx"), (304, "3xx"), (404, "4xx"), (503, "5xx"), (99, "other")],
)
def test_status_class(status: int, klass: str) -> None:
    assert status_class(status) == klass


def docs_by(docs: list[dict[str, Any]], **dims: str) -> list[dict[str, Any]]:
    return [d for d in docs if all(d.get(k) == v for k, v in dims.items())]


def test_requests_and_upstream_errors_are_aggregated() -> None:
    recorder = Recorder("test", clock=lambda: TS / 1000)
    for i in range(300):  # 5% apart: 300 buckets, so the latency takes three documents
        recorder.request("catalog", 200, 1.05**i, "catalog", 3.0 + i, 200)
    recorder.request("catalog", 502, 40.0, "catalog", 30.0, None, "upstream-unreachable")
    recorder.request("catalog", 503, 0.2, "catalog", None, None, "circuit-open")
    recorder.request("orders", 500, 9.0, "orders", 8.0, 500)
    docs = valid(recorder.flush())
    ok = docs_by(docs, Route="catalog", StatusClass="2xx")
    assert len(ok) == 3 and ok[0]["Requests"] == 300 and ok[0]["_aws"]["Timestamp"] == TS
    assert sum(d["Latency"]["Count"] for d in ok) == 300
    [failed] = docs_by(docs, Route="catalog", StatusClass="5xx")
    assert failed["Requests"] == 2
    upstream = [d for d in docs_by(docs, Upstream="catalog") if "UpstreamRequests" in d]
    assert upstream[0]["UpstreamRequests"] == 301  # the circuit-open answer never went out
    assert upstream[0]["UpstreamErrors"] == 2
    kinds = {d["ErrorKind"]: d["UpstreamErrorsByKind"] for d in docs if "ErrorKind" in d}
    assert kinds == {"upstream-unreachable": 1, "circuit-open": 1, "status-5xx": 1}
    assert recorder.flush() == []  # a flush starts a new interval


def test_requests_are_queued_and_drained_in_slices() -> None:
    recorder = Recorder("test")
    for _ in range(5):
        recorder.request("catalog", 200, 1.0)
    assert recorder.drain(2) == 2 and recorder.drain(2) == 2 and recorder.drain(2) == 1
    assert recorder.drain() == 0
    recorder.request("catalog", 200, 1.0)  # still queued at the flush: taken too
    [doc] = valid(recorder.flush())
    assert doc["Requests"] == 6


def test_client_errors_by_kind_and_release_and_new_groups() -> None:
    recorder = Recorder("production")
    recorder.client_error("error", "build-1")
    recorder.client_error("error", "build-1")
    recorder.client_error("csp", None)
    recorder.client_error("made-up", "build-1")
    recorder.new_error_group("error", "build-1")
    docs = valid(recorder.flush())
    counts = {(d["Kind"], d["Release"]): d.get("ClientErrors") for d in docs}
    assert counts == {("error", "build-1"): 2, ("csp", "none"): 1, ("other", "build-1"): 1}
    [new] = [d for d in docs if "NewErrorGroup" in d]
    assert new["NewErrorGroup"] == 1 and new["Environment"] == "production"


def test_client_dimension_values_are_capped_and_nothing_is_dropped() -> None:
    recorder = Recorder("test")
    for i in range(MAX_ROUTES + 30):
        recorder.vital("LCP", f"/page-{i}", 1000.0 + i)
    for route in ("/x\nInjected", "not-a-path", "/" + "a" * 300, "/caf\u00e9", "/u/bob@x.io"):
        recorder.vital("LCP", route, 100.0)
    recorder.vital("LCP", None, 100.0)
    for i in range(MAX_RELEASES + 5):
        recorder.client_error("error", f"build-{i}")
    recorder.client_error("error", "bad release!")
    docs = valid(recorder.flush())
    routes = {d["Route"]: d["LCP"]["Count"] for d in docs if "LCP" in d}
    assert len(routes) == MAX_ROUTES + 2  # the first 50, "other" and "none"
    assert routes["other"] == 30 + 5 and routes["none"] == 1
    assert sum(routes.values()) == MAX_ROUTES + 30 + 6
    releases = {d["Release"]: d["ClientErrors"] for d in docs if "ClientErrors" in d}
    assert len(releases) == MAX_RELEASES + 1 and releases["other"] == 6


def test_dimension_values_logship_would_scrub_never_become_dimensions() -> None:
    recorder = Recorder("test")
    card = "4111111111111111"  # Luhn-valid test card
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    recorder.vital("LCP", f"/products/{card}", 100.0)
    recorder.vital("LCP", "/products/[id]", 100.0)
    recorder.client_error("error", card)
    recorder.client_error("error", jwt)
    recorder.client_error("error", "2026.12.07-1f3e9a0")
    docs = valid(recorder.flush())
    text = json.dumps(docs)
    assert card not in text and jwt not in text
    routes = {d["Route"] for d in docs if "LCP" in d}
    assert routes == {"other", "/products/[id]"}
    releases = {d["Release"]: d["ClientErrors"] for d in docs if "ClientErrors" in d}
    assert releases == {"other": 2, "2026.12.07-1f3e9a0": 1}


def test_unknown_vitals_and_bad_values_are_ignored() -> None:
    recorder = Recorder("test")
    recorder.vital("FID", "/", 10.0)
    recorder.vital("LCP", "/", math.inf)
    recorder.vital("LCP", "/", -1.0)
    assert recorder.flush() == []


def test_vitals_are_distributions_per_route() -> None:
    recorder = Recorder("test")
    for value in (1000.0, 2000.0, 3000.0, 4000.0):
        recorder.vital("LCP", "/products/[id]", value)
    recorder.vital("CLS", "/products/[id]", 0.0)
    [doc] = valid(recorder.flush())
    assert doc["Route"] == "/products/[id]"
    assert doc["LCP"]["Count"] == 4 and doc["LCP"]["Max"] == 4000.0
    assert doc["CLS"]["Values"] == [0.0]
    units = {m["Name"]: m["Unit"] for m in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert units == {"CLS": "None", "LCP": "Milliseconds"}


# -- writing ----------------------------------------------------------------------------------


def test_a_document_record_is_written_as_the_document_alone() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter("bff", "test"))
    doc = {"_aws": {"Timestamp": TS, "CloudWatchMetrics": []}, "Environment": "test"}
    record = metrics._emf_record(handler, json.dumps(doc))
    handler.handle(record)
    handler.handle(logging.LogRecord("bff.x", logging.INFO, __file__, 1, "hello", (), None))
    first, second = out.getvalue().splitlines()
    assert json.loads(first) == doc  # no logship envelope around it
    assert json.loads(second)["message"] == "hello" and json.loads(second)["service"] == "bff"


def test_the_largest_documents_stay_far_below_the_event_limit() -> None:
    recorder = Recorder("production")
    route = "/" + "r" * 127
    for name in ("LCP", "INP", "CLS", "FCP", "TTFB"):
        for i in range(300):  # 5% apart: every value its own bucket
            recorder.vital(name, route, 0.001 * 1.05**i)
    docs = valid(recorder.flush())
    assert max(len(json.dumps(d)) for d in docs) < metrics.MAX_EVENT_BYTES // 4


def test_without_a_cloudwatch_handler_nothing_is_written() -> None:
    assert metrics.write_documents([{"_aws": {}}]) == 0


def test_the_flusher_writes_each_interval_and_on_stop() -> None:
    written: list[dict[str, Any]] = []

    def write(docs: Iterable[Mapping[str, Any]]) -> int:
        batch = [dict(d) for d in docs]
        written.extend(batch)
        return len(batch)

    recorder = Recorder("test")
    flusher = metrics.Flusher(recorder, 3600, write)
    flusher.start()
    recorder.request("catalog", 200, 1.0)
    assert flusher.flush() == 1 and written[0]["Requests"] == 1
    recorder.request("catalog", 200, 1.0)
    assert flusher.stop() == 1 and len(written) == 2


# -- the app's hooks --------------------------------------------------------------------------


@pytest.fixture
def metrics_app(stub: StubServer) -> Iterator[Flask]:
    app = create_app(
        make_settings(
            stub.url,
            BFF_CIRCUIT_FAILURES="2",
            BFF_CLIENT_ERRORS_RATE="100000/minute",
            BFF_VITALS_RATE="100000/minute",
        )
    )
    yield app
    metrics.shutdown()


def flush() -> list[dict[str, Any]]:
    recorder = metrics.current()
    assert recorder is not None
    return valid(recorder.flush())


def test_proxied_and_flask_requests_are_counted(metrics_app: Flask) -> None:
    client = metrics_app.test_client()
    assert client.get("/api/catalog/items").status_code == 200
    assert client.get("/api/orders/1").status_code == 502  # nothing listens there
    assert client.get("/healthz").status_code == 200
    docs = flush()
    [ok] = docs_by(docs, Route="catalog", StatusClass="2xx")
    assert ok["Requests"] == 1
    [bad] = docs_by(docs, Route="orders", StatusClass="5xx")
    assert bad["Requests"] == 1
    assert any(d.get("Route") == "health.healthz" for d in docs)
    [kind] = docs_by(docs, Upstream="orders", ErrorKind="upstream-unreachable")
    assert kind["UpstreamErrorsByKind"] == 1


def test_circuit_changes_are_counted(metrics_app: Flask) -> None:
    client = metrics_app.test_client()
    flush()  # the gauges' baseline
    for _ in range(3):
        client.get("/api/orders/1")
    docs = flush()
    [circuit] = [d for d in docs_by(docs, Upstream="orders") if "CircuitOpen" in d]
    assert circuit["CircuitOpen"] == 1 and circuit["CircuitOpened"] == 1
    assert circuit["CircuitClosed"] == 0
    [catalog] = [d for d in docs_by(docs, Upstream="catalog") if "CircuitOpen" in d]
    assert catalog["CircuitOpen"] == 0


def test_client_errors_and_vitals_are_counted(metrics_app: Flask) -> None:
    client = metrics_app.test_client()
    assert client.post("/api/client-errors", json=report(release="build-7")).status_code == 202
    assert client.post("/api/vitals", json=batch()).status_code == 202
    docs = flush()
    [errors] = [d for d in docs if "ClientErrors" in d]
    assert (errors["Kind"], errors["Release"], errors["ClientErrors"]) == ("error", "build-7", 1)
    [vitals] = [d for d in docs if "LCP" in d]
    assert vitals["Route"] == "/products/[id]" and vitals["LCP"]["Values"] == [1830.5]
    assert vitals["INP"]["Values"] == [520] and "CLS" in vitals


def test_new_error_group_without_metrics_is_a_no_op() -> None:
    metrics.shutdown()
    metrics.new_error_group("error", "build-1")  # never raises, nothing to count into
    assert metrics.current() is None


def test_metrics_can_be_turned_off(stub: StubServer) -> None:
    create_app(make_settings(stub.url, BFF_METRICS_INTERVAL="0"))
    assert metrics.current() is None


@pytest.mark.parametrize("raw", ["-1", "abc", "3601", "nan"])
def test_bad_interval_is_refused(stub: StubServer, raw: str) -> None:
    with pytest.raises(SettingsError, match="BFF_METRICS_INTERVAL"):
        make_settings(stub.url, BFF_METRICS_INTERVAL=raw)


def test_documents_carry_logships_reserved_keys() -> None:
    root = metrics.envelope("bff", "production")
    # every key a logship record always has (exception, data and truncated only when present)
    assert set(root) == RESERVED_KEYS - {"exception", "data", "truncated"}
    assert root["logger"] == "bff.metrics" and root["environment"] == "production"
    assert root["timestamp"].endswith("Z") and len(root["timestamp"]) == 24
