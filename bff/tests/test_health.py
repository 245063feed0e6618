from __future__ import annotations

from flask.testing import FlaskClient

from bff import create_app

from .conftest import make_settings
from .upstream_stub import StubServer


def test_healthz_depends_on_nothing(client: FlaskClient) -> None:
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok"}
    assert resp.headers["X-Request-ID"]


def test_readyz_reports_each_upstream(stub: StubServer) -> None:
    app = create_app(make_settings(stub.url, stub.url))
    resp = app.test_client().get("/readyz")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["status"] == "ready"
    assert set(body["upstreams"]) == {"catalog", "orders"}
    assert body["upstreams"]["catalog"]["ok"] is True
    assert stub.hits["/healthz"] == 2


def test_readyz_is_503_problem_when_an_upstream_is_down(client: FlaskClient) -> None:
    resp = client.get("/readyz")
    assert resp.status_code == 503
    assert resp.headers["Content-Type"] == "application/problem+json"
    body = resp.get_json(force=True)
    assert body["upstreams"]["orders"]["ok"] is False
    assert body["upstreams"]["catalog"]["ok"] is True
    assert "orders" in body["detail"]


def test_readyz_is_cached_briefly(stub: StubServer) -> None:
    app = create_app(make_settings(stub.url, stub.url))
    client = app.test_client()
    client.get("/readyz")
    client.get("/readyz")
    assert stub.hits["/healthz"] == 2  # one check per upstream, not per probe
