"""Metrics end to end: the BFF under gunicorn with real upstreams writes EMF documents into its
log stream; every document read back from the emulator is valid against the EMF schema, and
the counts add up to the traffic sent."""

from __future__ import annotations

import importlib.util
import json
import re
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from bff.metrics.recorder import Recorder

from .procs import ROOT, Service, start_bff
from .test_deploy import CfnLoader
from .test_logging_e2e import events

CLOSED_PORT_URL = "http://127.0.0.1:9"  # nothing listens: every exchange is a connect failure


def _emf_validation() -> ModuleType:
    path = ROOT / "bff" / "tests" / "emf_validation.py"
    spec = importlib.util.spec_from_file_location("emf_validation", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def call(bff: Service, method: str, path: str, body: Any = None) -> int:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{bff.url}{path}", data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            resp.read()
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        exc.read()
        return int(exc.code)


def report(release: str) -> dict[str, Any]:
    return {
        "v": 1,
        "incident": "K7Q2-M9XA",
        "kind": "error",
        "error": {"type": "TypeError", "message": "metrics e2e", "stack": "TypeError: x"},
        "url": "https://shop.example/products/1",
        "route": "/products/[id]",
        "release": release,
    }


def vitals(release: str) -> dict[str, Any]:
    return {
        "v": 1,
        "release": release,
        "url": "https://shop.example/products/1",
        "route": "/products/[id]",
        "metrics": [
            {"name": "LCP", "value": 2100.0, "rating": "good", "id": "v5-1"},
            {"name": "INP", "value": 180, "rating": "good", "id": "v5-2"},
            {"name": "CLS", "value": 0.01, "rating": "good", "id": "v5-3"},
            {"name": "FCP", "value": 900.0, "rating": "good", "id": "v5-4"},
            {"name": "TTFB", "value": 120.0, "rating": "good", "id": "v5-5"},
        ],
    }


def metric_keys(docs: list[dict[str, Any]]) -> set[tuple[str, frozenset[str]]]:
    """(metric name, dimension names) of every metric the documents define."""
    out = set()
    for doc in docs:
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                for keys in directive["Dimensions"]:
                    out.add((metric["Name"], frozenset(keys)))
    return out


def watched_by_stack() -> set[tuple[str, frozenset[str]]]:
    """(metric name, dimension names) of every FrontDoor/BFF metric that deploy/stack.yaml's
    alarms and dashboard read."""
    stack = yaml.load((ROOT / "deploy" / "stack.yaml").read_text(), Loader=CfnLoader)  # noqa: S506
    out: set[tuple[str, frozenset[str]]] = set()
    for res in stack["Resources"].values():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::CloudWatch::Alarm":
            metrics = [props] + [q["MetricStat"]["Metric"] for q in props.get("Metrics", [])
                                 if "MetricStat" in q]  # fmt: skip
            for m in metrics:
                if m.get("Namespace") == "FrontDoor/BFF":
                    out.add((m["MetricName"], frozenset(d["Name"] for d in m["Dimensions"])))
        elif res["Type"] == "AWS::CloudWatch::Dashboard":
            template, names = props["DashboardBody"]["Fn::Sub"]
            body = template.replace("${Alarms}", '"arn"')
            for name in ("Environment", "AWS::Region"):
                body = body.replace(f"${{{name}}}", "x")
            for widget in json.loads(body)["widgets"]:
                for row in widget["properties"].get("metrics", []):
                    if isinstance(row[0], dict):
                        found = re.search(
                            r"SEARCH\('\{FrontDoor/BFF,([^}]*)\} MetricName=\"(\w+)\"",
                            row[0]["expression"],
                        )
                        assert found, row
                        out.add((found.group(2), frozenset(found.group(1).split(","))))
                    elif row[0] == "FrontDoor/BFF":
                        out.add((row[1], frozenset(row[2:-1:2])))
    return out


def total(docs: list[dict[str, Any]], metric: str, **dims: str) -> float:
    """The sum of a metric over documents with these dimension values (Count of a
    distribution, the value of a number)."""
    out = 0.0
    for doc in docs:
        if metric in doc and all(doc.get(k) == v for k, v in dims.items()):
            value = doc[metric]
            out += value["Count"] if isinstance(value, dict) else value
    return out


def start_metrics_bff(
    log_dir: Path, bff_env: dict[str, str], spool: Path, interval: str
) -> tuple[Service, str]:
    group = f"/test/metrics-{uuid.uuid4().hex[:8]}"
    env = {
        **bff_env,
        "LOG_CLOUDWATCH_GROUP": group,
        "LOG_SPOOL_DIR": str(spool),
        "BFF_UPSTREAM_ORDERS_URL": CLOSED_PORT_URL,  # upstream errors and an open circuit
        "BFF_CIRCUIT_FAILURES": "3",
        "BFF_WORKERS": "2",
        "BFF_METRICS_INTERVAL": interval,
    }
    return start_bff(log_dir, env, name="bff-metrics"), group


@pytest.fixture
def metrics_bff(log_dir: Path, bff_env: dict[str, str], tmp_path: Path) -> tuple[Service, str]:
    # No periodic flush within the test: what arrives was written at worker exit.
    return start_metrics_bff(log_dir, bff_env, tmp_path / "spool", "60")


def test_every_emf_document_is_valid_and_counts_add_up(
    metrics_bff: tuple[Service, str], moto: Service
) -> None:
    bff, group = metrics_bff
    release = f"build-{uuid.uuid4().hex[:6]}"
    try:
        for _ in range(6):
            assert call(bff, "GET", "/api/catalog/items?page=1&page_size=2") == 200
        assert call(bff, "GET", "/api/catalog/items/999999") == 404
        orders = [call(bff, "GET", "/api/orders/1") for _ in range(8)]
        assert set(orders) <= {502, 503} and 502 in orders
        for _ in range(3):
            assert call(bff, "POST", "/api/client-errors", report(release)) == 202
        assert call(bff, "POST", "/api/vitals", vitals(release)) == 202
    finally:
        assert bff.stop() == 0
    assert not bff.crashes(), bff.crashes()

    validation = _emf_validation()
    deadline = time.monotonic() + 20
    docs: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        docs = [e for e in events(moto, group) if "_aws" in e]
        if total(docs, "LCP") >= 1 and total(docs, "ClientErrors") >= 3:
            break
        time.sleep(0.5)
    assert docs, "no EMF document reached the emulator"
    for doc in docs:
        assert validation.problems(doc) == [], doc
        assert doc["Environment"] == "test"
        assert (doc["logger"], doc["service"], doc["level"]) == ("bff.metrics", "bff", "INFO")
        assert doc["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "FrontDoor/BFF"

    assert total(docs, "Requests", Route="catalog", StatusClass="2xx") == 6
    assert total(docs, "Requests", Route="catalog", StatusClass="4xx") == 1
    assert total(docs, "Requests", Route="orders", StatusClass="5xx") == 8
    assert total(docs, "Latency", Route="catalog", StatusClass="2xx") == 6
    assert total(docs, "UpstreamLatency", Upstream="catalog") == 7
    assert total(docs, "UpstreamErrors", Upstream="orders") == 8
    assert (
        total(docs, "UpstreamErrorsByKind", Upstream="orders", ErrorKind="upstream-unreachable")
        >= 1
    )
    assert total(docs, "CircuitOpened", Upstream="orders") >= 1
    assert total(docs, "ClientErrors", Kind="error", Release=release) == 3
    for name in ("LCP", "INP", "CLS", "FCP", "TTFB"):
        assert total(docs, name, Route="/products/[id]") == 1, name
    assert any("LogBufferBytes" in doc for doc in docs)
    assert total(docs, "LogEventsDropped") == 0

    # Every metric the stack's alarms and dashboard read is one the BFF writes (the new-group
    # count comes from the error-group index, which this run does not configure).
    recorder = Recorder("test")
    recorder.new_error_group("error", release)
    written = metric_keys(docs) | metric_keys(recorder.flush())
    watched = watched_by_stack()
    assert len(watched) >= 15, watched
    assert watched <= written, watched - written


def test_documents_are_flushed_periodically_while_running(
    log_dir: Path, bff_env: dict[str, str], tmp_path: Path, moto: Service
) -> None:
    bff, group = start_metrics_bff(log_dir, bff_env, tmp_path / "spool", "1")
    try:
        for _ in range(4):
            assert call(bff, "GET", "/api/catalog/items?page=1&page_size=2") == 200
        deadline = time.monotonic() + 20
        docs: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            docs = [e for e in events(moto, group) if "_aws" in e]
            if total(docs, "Requests", Route="catalog") >= 4:
                break
            time.sleep(0.5)
        assert total(docs, "Requests", Route="catalog", StatusClass="2xx") == 4
        assert bff.proc.poll() is None  # written by the running workers, not at exit
        validation = _emf_validation()
        assert all(validation.problems(doc) == [] for doc in docs)
    finally:
        assert bff.stop() == 0
    assert not bff.crashes(), bff.crashes()
