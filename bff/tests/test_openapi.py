from __future__ import annotations

from http import HTTPStatus
from importlib import metadata

import pytest
from bff.openapi import build_document, package_version
from bff.settings import Settings
from flask.testing import FlaskClient
from openapi_spec_validator import validate


def test_document_is_valid_openapi(settings: Settings) -> None:
    validate(build_document(settings))  # type: ignore[arg-type]


def test_served_document_lists_every_route(client: FlaskClient, settings: Settings) -> None:
    resp = client.get("/openapi.json")
    assert resp.status_code == 200
    doc = resp.get_json()
    for route in settings.routes:
        ops = doc["paths"][route.prefix + "/{path}"]
        assert {m.lower() for m in route.methods} <= set(ops)
        assert {"413", "502", "503", "504"} <= set(ops["get"]["responses"])
    assert {"/healthz", "/readyz", "/openapi.json"} <= set(doc["paths"])


def test_flask_errors_are_problems(client: FlaskClient) -> None:
    resp = client.post("/healthz")
    assert resp.status_code == 405
    assert resp.headers["Content-Type"] == "application/problem+json"
    assert "GET" in resp.headers["Allow"]


def test_ingest_endpoints_are_documented(client: FlaskClient) -> None:
    doc = client.get("/openapi.json").get_json()
    for path in (
        "/api/client-errors",
        "/api/client-errors/envelope",
        "/api/client-errors/reports",
        "/api/vitals",
    ):
        responses = doc["paths"][path]["post"]["responses"]
        assert {"202", "400", "413", "415", "422", "429"} <= set(responses), path
    assert (
        "X-Sentry-Rate-Limits"
        in (doc["paths"]["/api/client-errors/envelope"]["post"]["responses"]["429"]["headers"])
    )
    assert {"ClientErrorReport", "WebVitalsBatch"} <= set(doc["components"]["schemas"])


def test_document_version_is_the_package_version(client: FlaskClient) -> None:
    doc = client.get("/openapi.json").get_json()
    assert doc["info"]["version"] == metadata.version("bff") == package_version()


@pytest.mark.parametrize(
    ("method", "path", "status", "detail"),
    [
        ("GET", "/nope", 404, "nothing is served at /nope"),
        ("GET", "/api/nope", 404, "nothing is served at /api/nope"),
        ("POST", "/healthz", 405, "POST is not allowed on /healthz"),
        ("DELETE", "/openapi.json", 405, "DELETE is not allowed on /openapi.json"),
    ],
)
def test_flask_errors_speak_like_the_proxy(
    client: FlaskClient, method: str, path: str, status: int, detail: str
) -> None:
    resp = client.open(path, method=method, headers={"X-Request-ID": "rid-flask-1"})
    assert resp.status == f"{status} {HTTPStatus(status).phrase}"  # not "404 NOT FOUND"
    assert resp.headers["Content-Type"] == "application/problem+json"
    doc = resp.get_json(force=True)
    assert doc["detail"].startswith(detail)
    assert "If you entered the URL manually" not in doc["detail"]
    assert doc["instance"] == path
    assert doc["request_id"] == "rid-flask-1" == resp.headers["X-Request-ID"]
    assert doc["status"] == status


def test_ops_summary_shows_the_same_version(client: FlaskClient) -> None:
    resp = client.get("/api/ops/summary")
    assert resp.status_code == 200, resp.data
    version = resp.get_json()["version"]
    assert version == client.get("/openapi.json").get_json()["info"]["version"]


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def test_every_schema_comes_from_a_model_and_every_ref_resolves(settings: Settings) -> None:
    doc = build_document(settings)
    schemas = doc["components"]["schemas"]
    assert set(schemas["Problem"]["required"]) == {"type", "title", "status"}
    for target in _refs(doc):
        assert target.removeprefix("#/components/schemas/") in schemas, target
    problem_refs = [r for r in _refs(doc["paths"]) if r.endswith("/Problem")]
    assert problem_refs and all(r == "#/components/schemas/Problem" for r in problem_refs)
    for model in ("ClientErrors", "ErrorGroupPage", "Incident", "Traffic", "OpsSummary"):
        assert model in schemas


def test_query_parameters_are_the_models_fields(settings: Settings) -> None:
    doc = build_document(settings)
    params = {p["name"]: p for p in doc["paths"]["/api/ops/traffic"]["get"]["parameters"]}
    assert params["minutes"]["schema"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 1440,
        "default": 60,
    }
    assert params["minutes"]["required"] is False


def test_every_operation_documents_what_the_edge_answers(settings: Settings) -> None:
    doc = build_document(settings)
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            assert {"400", "414", "431"} <= set(operation["responses"]), (method, path)
