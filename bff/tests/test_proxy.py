from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from bff.proxy.app import UpstreamAborted
from flask.testing import FlaskClient

from bff import create_app

from .conftest import make_settings, routes_file
from .upstream_stub import StubServer

PROBLEM = "application/problem+json"


def catalog_only_app(tmp_path: Path, stub: StubServer, *options: str) -> Any:
    """An app whose one route, /api/catalog -> the stub, has the given TOML option lines."""
    table = (
        "[upstreams.catalog]\n[upstreams.orders]\n"
        '[[routes]]\nname="catalog"\nprefix="/api/catalog"\nupstream="catalog"\n'
        'upstream_prefix="/catalog"\n' + "".join(f"{line}\n" for line in options)
    )
    return create_app(make_settings(stub.url, BFF_ROUTES_FILE=routes_file(tmp_path, table)))


def echo(client: FlaskClient, path: str = "/api/catalog/echo", **kw: Any) -> dict[str, Any]:
    resp = client.get(path, **kw)
    assert resp.status_code == 200, resp.data
    data: dict[str, Any] = resp.get_json()
    data["_response"] = resp
    data["_h"] = {k.lower(): v for k, v in data["headers"]}
    return data


def assert_problem(resp: Any, status: int, slug: str) -> dict[str, Any]:
    assert resp.status_code == status
    assert resp.headers["Content-Type"] == PROBLEM
    body: dict[str, Any] = resp.get_json(force=True)
    assert body["status"] == status
    assert body["type"].endswith(slug)
    assert body["request_id"] == resp.headers["X-Request-ID"]
    return body


def test_forwards_path_query_and_identity(client: FlaskClient, stub: StubServer) -> None:
    data = echo(client, "/api/catalog/echo?q=a%20b&x=1&x=2")
    assert data["target"] == "/catalog/echo?q=a%20b&x=1&x=2"
    h = data["_h"]
    rid = data["_response"].headers["X-Request-ID"]
    assert h["x-request-id"] == rid and len(rid) == 32
    assert h["traceparent"].startswith("00-")
    assert h["host"] == stub.url.removeprefix("http://")
    assert h["x-forwarded-for"] == "127.0.0.1"
    assert h["x-forwarded-proto"] == "http"
    assert h["x-forwarded-host"] == "localhost"


def test_client_request_id_and_trace_are_propagated(client: FlaskClient) -> None:
    tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    data = echo(client, headers={"X-Request-ID": "abc-123", "traceparent": tp})
    assert data["_response"].headers["X-Request-ID"] == "abc-123"
    assert data["_h"]["x-request-id"] == "abc-123"
    assert data["_h"]["traceparent"].split("-")[1] == "4bf92f3577b34da6a3ce929d0e0e4736"


def test_unsafe_request_id_is_replaced(client: FlaskClient) -> None:
    data = echo(client, headers={"X-Request-ID": "bad id<>"})
    rid = data["_response"].headers["X-Request-ID"]
    assert rid != "bad id<>" and data["_h"]["x-request-id"] == rid


def test_hop_by_hop_and_spoofed_request_headers_removed(client: FlaskClient) -> None:
    data = echo(
        client,
        headers={
            "Connection": "X-Private",
            "X-Private": "1",
            "Keep-Alive": "5",
            "TE": "trailers",
            "Proxy-Authorization": "Basic x",
            "X-Forwarded-For": "6.6.6.6",
            "Forwarded": "for=6.6.6.6",
            "X-Kept": "yes",
        },
    )
    h = data["_h"]
    for gone in ("connection", "x-private", "keep-alive", "te", "proxy-authorization", "forwarded"):
        assert gone not in h
    assert h["x-forwarded-for"] == "127.0.0.1"
    assert h["x-kept"] == "yes"


def test_trusted_proxy_count(stub: StubServer) -> None:
    app = create_app(make_settings(stub.url, BFF_TRUSTED_PROXIES="1"))
    data = echo(
        app.test_client(),
        headers={
            "X-Forwarded-For": "6.6.6.6, 203.0.113.9",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "shop.example",
        },
        environ_base={"REMOTE_ADDR": "10.0.0.2"},
    )
    h = data["_h"]
    assert h["x-forwarded-for"] == "203.0.113.9, 10.0.0.2"
    assert h["x-forwarded-proto"] == "https"
    assert h["x-forwarded-host"] == "shop.example"


def test_hop_by_hop_response_headers_removed(client: FlaskClient) -> None:
    resp = client.get("/api/catalog/hop")
    assert resp.status_code == 200
    for gone in ("X-Upstream-Secret", "Keep-Alive", "Proxy-Authenticate", "Trailer", "Upgrade"):
        assert gone not in resp.headers
    assert resp.headers.get("Server") != "upstream/1.0"
    assert resp.headers.getlist("X-Request-ID") == [resp.headers["X-Request-ID"]]
    assert resp.headers["X-Request-ID"] != "upstream-made-this-up"
    assert resp.headers["X-Kept"] == "yes"


@pytest.mark.parametrize("size", [0, 10, 65_536, 65_537, 500_000], ids=lambda s: f"{s}B")
def test_request_bodies_arrive_intact(client: FlaskClient, size: int) -> None:
    payload = bytes(i % 251 for i in range(size))
    resp = client.post(
        "/api/catalog/echo", data=payload, headers={"Content-Type": "application/octet-stream"}
    )
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["body_length"] == size
    assert body["body"].encode("latin-1") == payload


def test_body_over_cap_is_413_without_contacting_upstream(
    client: FlaskClient, stub: StubServer
) -> None:
    resp = client.post("/api/catalog/echo", data=b"x" * (1_048_576 + 1))
    body = assert_problem(resp, 413, "body-too-large")
    assert "1048576" in body["detail"]
    assert stub.hits["/catalog/echo"] == 0


def test_method_not_in_route_is_405(tmp_path: Path, stub: StubServer) -> None:
    app = catalog_only_app(tmp_path, stub, 'methods=["GET","HEAD"]')
    resp = app.test_client().delete("/api/catalog/echo")
    assert_problem(resp, 405, "method-not-allowed")
    assert resp.headers["Allow"] == "GET, HEAD"
    assert stub.hits["/catalog/echo"] == 0


@pytest.mark.parametrize(
    "path",
    [
        "/api/catalog/../admin",
        "/api/catalog/%2e%2e/admin",
        "/api/catalog/..%2fadmin",
        "/api/catalog//admin",
        "/api/catalog/a%5cb",
        "/api/catalog/%00",
    ],
)
def test_hostile_paths_are_400(client: FlaskClient, stub: StubServer, path: str) -> None:
    resp = client.get(path)
    assert_problem(resp, 400, "bad-path")
    assert sum(stub.hits.values()) == 0


def test_unreachable_upstream_is_502(client: FlaskClient) -> None:
    resp = client.get("/api/orders/anything")
    body = assert_problem(resp, 502, "upstream-unreachable")
    assert body["instance"] == "/api/orders/anything"


@pytest.mark.parametrize("path", ["garbage", "reset"])
def test_broken_upstream_is_502(client: FlaskClient, path: str) -> None:
    assert_problem(client.get(f"/api/catalog/{path}"), 502, "upstream-bad-response")


def test_slow_upstream_is_504_and_not_retried(tmp_path: Path, stub: StubServer) -> None:
    app = catalog_only_app(tmp_path, stub, "read_timeout=0.2", "retries=2")
    assert_problem(app.test_client().get("/api/catalog/slow?s=1"), 504, "upstream-timeout")
    assert stub.hits["/catalog/slow"] == 1


def test_deadline_caps_the_whole_exchange(tmp_path: Path, stub: StubServer) -> None:
    app = catalog_only_app(tmp_path, stub, "connect_timeout=0.1", "read_timeout=5", "deadline=0.3")
    assert_problem(app.test_client().get("/api/catalog/slow?s=1"), 504, "upstream-timeout")


def test_idempotent_requests_retry_connection_failures(
    client: FlaskClient, stub: StubServer
) -> None:
    assert client.get("/api/catalog/reset").status_code == 502
    assert stub.hits["/catalog/reset"] == 2  # one retry (routes.toml: retries = 1)
    assert client.post("/api/catalog/reset", data=b"{}").status_code == 502
    assert stub.hits["/catalog/reset"] == 3  # POST is never repeated


def test_retry_on_status_when_configured(tmp_path: Path, stub: StubServer) -> None:
    app = catalog_only_app(tmp_path, stub, "retries=2", "retry_on_status=[503]", "retry_backoff=0")
    resp = app.test_client().get("/api/catalog/status/503")
    assert resp.status_code == 503  # the upstream's own answer, after the retries ran out
    assert stub.hits["/catalog/status/503"] == 3


def test_circuit_opens_then_probes(stub: StubServer) -> None:
    app = create_app(
        make_settings(stub.url, BFF_CIRCUIT_FAILURES="3", BFF_CIRCUIT_RESET_SECONDS="0.2")
    )
    client = app.test_client()
    for _ in range(3):
        assert client.get("/api/orders/x").status_code == 502
    resp = client.get("/api/orders/x")
    assert_problem(resp, 503, "circuit-open")
    assert int(resp.headers["Retry-After"]) >= 1
    # the catalog upstream has its own breaker and is unaffected
    assert client.get("/api/catalog/echo").status_code == 200


def test_set_cookie_headers_kept_apart_and_mapped(client: FlaskClient) -> None:
    resp = client.get("/api/catalog/cookies")
    assert resp.headers.getlist("Set-Cookie") == [
        "session=abc; Path=/api/catalog; HttpOnly; SameSite=Lax",
        "theme=dark; Path=/api/catalog/items",
        "other=1; Path=/elsewhere",
    ]


@pytest.mark.parametrize(
    ("to", "location"),
    [
        ("relative", "/api/catalog/items/7"),
        ("absolute", "/api/catalog/items/7?x=1"),
        ("outside", "/admin/"),
        ("external", "https://example.org/catalog/x"),
    ],
)
def test_redirects_are_passed_not_followed(client: FlaskClient, to: str, location: str) -> None:
    resp = client.get(f"/api/catalog/redirect?to={to}")
    assert resp.status_code == 302
    assert resp.headers["Location"] == location


def test_gzip_passes_through_untouched(client: FlaskClient) -> None:
    resp = client.get("/api/catalog/gzip", headers={"Accept-Encoding": "gzip"})
    assert resp.headers["Content-Encoding"] == "gzip"
    assert int(resp.headers["Content-Length"]) == len(resp.data)
    assert json.loads(gzip.decompress(resp.data)[:20]) == {"compressed": True}


def test_chunked_upstream_response_streams(client: FlaskClient) -> None:
    resp = client.get("/api/catalog/chunked")
    assert resp.data == b"part0\npart1\npart2\n"
    assert "Transfer-Encoding" not in resp.headers


def test_large_response_streams_in_pieces(app: Any) -> None:
    client = app.test_client()
    resp = client.get("/api/catalog/large?kb=1024", buffered=False)
    pieces = list(resp.response)
    assert sum(map(len, pieces)) == 1024 * 1024
    assert len(pieces) > 1
    resp.close()


def test_truncated_upstream_body_aborts_the_response(client: FlaskClient) -> None:
    with pytest.raises(UpstreamAborted):  # the headers were already on their way
        client.get("/api/catalog/truncated-large")


def test_truncated_small_upstream_body_is_a_502(client: FlaskClient) -> None:
    resp = client.get("/api/catalog/truncated")
    assert resp.status_code == 502
    assert resp.get_json()["type"].endswith("upstream-bad-response")


def test_upstream_failure_records_carry_the_request_and_trace_ids(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    with caplog.at_level("WARNING", logger="bff.proxy"):
        client.get(
            "/api/catalog/truncated",
            headers={
                "X-Request-ID": "rid-trace-1",
                "traceparent": f"00-{trace}-00f067aa0ba902b7-01",
            },
        )
        with pytest.raises(UpstreamAborted):
            client.get(
                "/api/catalog/truncated-large",
                headers={
                    "X-Request-ID": "rid-trace-2",
                    "traceparent": f"00-{trace}-00f067aa0ba902b7-01",
                },
            )
    records = [r for r in caplog.records if r.name.startswith("bff.proxy")]
    assert {getattr(r, "request_id", None) for r in records} == {"rid-trace-1", "rid-trace-2"}
    assert {getattr(r, "trace_id", None) for r in records} == {trace}


def test_a_malformed_upstream_head_is_a_502(client: FlaskClient) -> None:
    """Invalid field names or control characters in an upstream's head fail the exchange: the
    response is never repaired and passed on."""
    resp = client.get("/api/catalog/badheader", headers={"X-Request-ID": "bad-head-1"})
    assert resp.status_code == 502
    assert resp.headers["Content-Type"] == "application/problem+json"
    assert resp.headers["X-Request-ID"] == "bad-head-1"
    assert resp.get_json()["type"].endswith("upstream-bad-response")
    assert "X-Good" not in resp.headers


def test_head_and_no_body_statuses(client: FlaskClient) -> None:
    assert client.head("/api/catalog/echo").data == b""
    resp = client.get("/api/catalog/status/204")
    assert resp.status_code == 204 and resp.data == b""
    resp = client.get("/api/catalog/status/418")
    assert resp.status_code == 418 and resp.get_json() == {"status": 418}


def test_only_route_prefixes_are_proxied(client: FlaskClient, stub: StubServer) -> None:
    assert_problem(client.get("/api/catalogue/x"), 404, "not-found")
    assert_problem(client.get("/api/unknown"), 404, "not-found")
    assert sum(stub.hits.values()) == 0


def test_upstream_problems_carry_the_public_instance_and_request_id(client: FlaskClient) -> None:
    name = "problem"
    resp = client.get(f"/api/catalog/{name}", headers={"X-Request-ID": "rid-problem-1"})
    assert resp.status_code == 409
    assert resp.headers["Content-Type"].startswith(PROBLEM)
    assert int(resp.headers["Content-Length"]) == len(resp.data)
    doc = json.loads(resp.data)
    assert doc["instance"] == f"/api/catalog/{name}"  # the upstream said /catalog/...
    assert doc["request_id"] == "rid-problem-1" == resp.headers["X-Request-ID"]
    assert (doc["type"], doc["title"], doc["status"]) == ("about:blank", "Conflict", 409)


def test_head_of_an_upstream_problem_sends_no_stale_length(client: FlaskClient) -> None:
    # The GET body is rewritten (public instance, request id), so the upstream's length would be
    # wrong for it: the HEAD answer omits Content-Length instead of misstating it.
    get = client.get("/api/catalog/problem")
    head = client.head("/api/catalog/problem")
    assert head.status_code == get.status_code == 409
    assert head.data == b""
    assert head.headers.get("Content-Length") in (None, get.headers["Content-Length"])


@pytest.mark.parametrize(
    "name", ["problem-gzip", "problem-large", "problem-invalid", "problem-array", "problem-chunked"]
)
def test_other_upstream_problem_bodies_pass_unchanged(client: FlaskClient, name: str) -> None:
    resp = client.get(f"/api/catalog/{name}")
    assert resp.status_code == 409
    if name != "problem-chunked":
        assert int(resp.headers["Content-Length"]) == len(resp.data)
    if name == "problem-gzip":
        assert json.loads(gzip.decompress(resp.data))["instance"] == "/catalog/problem-gzip"
    elif name in ("problem-large", "problem-chunked"):
        assert json.loads(resp.data)["instance"] == f"/catalog/{name}"
    elif name == "problem-invalid":
        assert resp.data == b'{"title": "Conflict", "status": 409'
    else:
        assert resp.data == b"[1, 2]"
