"""End to end: real HTTP through the BFF under gunicorn to the real Django and FastAPI services."""

from __future__ import annotations

import gzip
import http.client
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .procs import Service, free_port, start_bff

PROBLEM = "application/problem+json"


def request(
    base: Service | str,
    method: str,
    path: str,
    body: bytes | Iterator[bytes] | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 15.0,
) -> tuple[http.client.HTTPResponse, bytes]:
    url = base.url if isinstance(base, Service) else base
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    conn.request(
        method,
        path,
        body=body,
        headers=headers or {},
        encode_chunked=body is not None and not isinstance(body, bytes),
    )
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp, data


def raw_exchange(service: Service, payload: bytes, timeout: float = 10.0) -> bytes:
    """Send bytes no well-behaved client would send; return everything the server answers."""
    with socket.create_connection(("127.0.0.1", service.port), timeout=timeout) as sock:
        sock.sendall(payload)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks) and payload.startswith(b"GET"):
                head, _, rest = b"".join(chunks).partition(b"\r\n\r\n")
                length = [h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")]
                if length and len(rest) >= int(length[0].split(b":")[1]):
                    break
        return b"".join(chunks)


def parse_raw(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, body


def problem(resp: http.client.HTTPResponse, data: bytes, status: int) -> dict[str, Any]:
    assert resp.status == status, data
    assert resp.getheader("Content-Type") == PROBLEM
    doc: dict[str, Any] = json.loads(data)
    assert doc["status"] == status
    assert doc["request_id"] == resp.getheader("X-Request-ID")
    return doc


# --- the happy paths, through both upstreams -------------------------------------------------


def test_catalog_list_through_the_bff(bff: Service) -> None:
    resp, data = request(bff, "GET", "/api/catalog/items?page=1&page_size=5")
    assert resp.status == 200, data
    doc = json.loads(data)
    assert len(doc["items"]) == 5 and doc["total"] >= 5
    assert resp.getheader("X-Request-ID")


def test_request_id_and_trace_reach_the_upstream(bff: Service) -> None:
    tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    for prefix in ("/api/catalog", "/api/orders"):
        resp, data = request(
            bff,
            "GET",
            f"{prefix}/_test/echo?x=1",
            headers={"X-Request-ID": "e2e-req-1", "traceparent": tp},
        )
        assert resp.status == 200, data
        echo = json.loads(data)
        assert echo["headers"]["x-request-id"] == "e2e-req-1"
        assert echo["headers"]["traceparent"].split("-")[1] == "4bf92f3577b34da6a3ce929d0e0e4736"
        assert echo["headers"]["x-forwarded-for"] == "127.0.0.1"
        assert echo["query"] == "x=1"
        assert resp.getheader("X-Request-ID") == "e2e-req-1"


def test_order_flow_through_the_bff(bff: Service) -> None:
    body = json.dumps(
        {"items": [{"item_id": 1, "quantity": 2}], "customer_email": "ada@example.com"}
    ).encode()
    resp, data = request(
        bff,
        "POST",
        "/api/orders",
        body,
        {"Content-Type": "application/json", "X-Request-ID": "order-e2e"},
    )
    assert resp.status == 201, data
    order = json.loads(data)
    location = resp.getheader("Location")
    assert location is not None and location.startswith("/api/orders/"), location
    resp, data = request(bff, "GET", location)
    assert resp.status == 200 and json.loads(data)["id"] == order["id"]


def test_upstream_validation_errors_pass_through(bff: Service) -> None:
    resp, data = request(
        bff, "POST", "/api/orders", b'{"items": []}', {"Content-Type": "application/json"}
    )
    assert resp.status == 422
    assert resp.getheader("Content-Type", "").startswith(PROBLEM)
    assert json.loads(data)["errors"]


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/api/orders", b'{"items": []}', 422),  # FastAPI's problem
        ("GET", "/api/orders/999999", None, 404),
        ("GET", "/api/catalog/items/999999", None, 404),  # Django's problem
        ("GET", "/api/nope", None, 404),  # the BFF's own, from Flask
        ("GET", "/nope", None, 404),
        ("POST", "/openapi.json", None, 405),
        ("PATCH", "/api/catalog/items", None, 405),  # the BFF's own, from the proxy
    ],
)
def test_one_problem_shape_whoever_produced_it(
    bff: Service, method: str, path: str, body: bytes | None, status: int
) -> None:
    """Upstream problems get the public path as instance and the request id, like the BFF's."""
    headers = {"X-Request-ID": "one-shape-1", "Content-Type": "application/json"}
    resp, data = request(bff, method, path, body, headers)
    doc = problem(resp, data, status)
    assert resp.reason == http.client.responses[status]  # "Not Found", not "NOT FOUND"
    assert doc["instance"] == path
    assert doc["request_id"] == "one-shape-1"
    assert {"type", "title", "detail"} <= set(doc)
    assert "If you entered the URL manually" not in doc["detail"]
    assert int(resp.getheader("Content-Length", "-1")) == len(data)


# --- streaming both ways -----------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["/api/catalog", "/api/orders"])
def test_response_streams_as_the_upstream_produces_it(bff: Service, prefix: str) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", bff.port, timeout=10)
    started = time.monotonic()
    conn.request("GET", f"{prefix}/_test/stream?chunks=4&interval_ms=400&size=8")
    resp = conn.getresponse()
    first = resp.read1(65536)
    first_at = time.monotonic() - started
    rest = resp.read()
    total = time.monotonic() - started
    conn.close()
    assert resp.status == 200
    assert first and rest
    # four chunks 400 ms apart: a buffering proxy would deliver the first byte after ~1.2 s
    assert first_at < total - 0.6, (first_at, total)


@pytest.mark.parametrize(
    ("prefix", "pieces"),
    [
        pytest.param("/api/catalog", 5, id="django-buffered-small"),
        pytest.param("/api/catalog", 12_000, id="django-buffered-spooled"),
        pytest.param("/api/orders", 5, id="fastapi-streamed"),
    ],
)
def test_chunked_request_bodies_reach_the_upstream(bff: Service, prefix: str, pieces: int) -> None:
    def body() -> Iterator[bytes]:
        for i in range(pieces):
            yield f"piece-{i};".encode()
            if pieces < 10:
                time.sleep(0.05)

    resp, data = request(
        bff, "POST", f"{prefix}/_test/echo", body(), {"Content-Type": "text/plain"}
    )
    assert resp.status == 200, data
    expected = "".join(f"piece-{i};" for i in range(pieces))
    assert json.loads(data)["body_length"] == len(expected)
    assert json.loads(data)["body"] == expected


def test_large_fixed_length_body(bff: Service) -> None:
    payload = b"a" * 600_000
    resp, data = request(
        bff, "POST", "/api/catalog/_test/echo", payload, {"Content-Type": "text/plain"}
    )
    assert resp.status == 200
    assert json.loads(data)["body_length"] == 600_000


def test_body_over_the_cap_is_413(bff: Service) -> None:
    resp, data = request(
        bff, "POST", "/api/orders", b"x" * 300_000, {"Content-Type": "application/json"}
    )
    problem(resp, data, 413)


def test_chunked_body_over_the_cap_is_413(bff: Service) -> None:
    def body() -> Iterator[bytes]:
        for _ in range(40):
            yield b"y" * 8192

    resp, data = request(bff, "POST", "/api/orders", body(), {"Content-Type": "text/plain"})
    problem(resp, data, 413)


# --- headers the proxy must get right ----------------------------------------------------------


def test_set_cookie_and_redirects(bff: Service) -> None:
    resp, _ = request(bff, "GET", "/api/catalog/_test/cookie")
    cookies = resp.headers.get_all("Set-Cookie") or []
    assert len(cookies) == 2
    assert any("Path=/api/catalog" in c for c in cookies), cookies
    for absolute in ("0", "1"):
        resp, _ = request(
            bff, "GET", f"/api/catalog/_test/redirect?to=/catalog/items&absolute={absolute}"
        )
        assert resp.status == 302
        assert resp.getheader("Location") == "/api/catalog/items"


def test_gzip_passthrough_keeps_length_consistent(bff: Service) -> None:
    resp, data = request(
        bff, "GET", "/api/catalog/_test/large?kb=100&gzip=1", headers={"Accept-Encoding": "gzip"}
    )
    assert resp.status == 200
    assert resp.getheader("Content-Encoding") == "gzip"
    assert int(resp.getheader("Content-Length", "-1")) == len(data)
    assert len(gzip.decompress(data)) >= 100 * 1024


def test_upstream_status_codes_pass_through(bff: Service) -> None:
    for code in (201, 204, 404, 409, 500, 503):
        resp, _ = request(bff, "GET", f"/api/orders/_test/status/{code}")
        assert resp.status == code  # an upstream's own answer is never rewritten


# --- hostile and malformed input through the real server ---------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        b"/api/catalog/../admin",
        b"/api/catalog/%2e%2e/%2e%2e/etc/passwd",
        b"/api/catalog/..%2f..%2fadmin",
        b"/api/catalog//evil.example/x",
        b"/api/catalog/..\\..\\admin",
        b"/api/catalog/%5c..%5cadmin",
        b"/api/catalog/%00",
    ],
)
def test_hostile_paths_are_refused(bff: Service, target: bytes) -> None:
    raw = raw_exchange(bff, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    status, headers, body = parse_raw(raw)
    assert status == 400, raw
    assert headers["content-type"] == PROBLEM
    assert json.loads(body)["status"] == 400


def test_absolute_form_target_never_changes_the_upstream_host(bff: Service) -> None:
    raw = raw_exchange(
        bff,
        b"GET http://169.254.169.254/api/catalog/_test/echo HTTP/1.1\r\nHost: 169.254.169.254\r\n"
        b"Connection: close\r\n\r\n",
    )
    status, _, body = parse_raw(raw)
    assert status == 200, raw
    echo = json.loads(body)
    assert echo["service"] == "catalog"
    assert echo["headers"]["host"].startswith("127.0.0.1:")


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        pytest.param(b"GARBAGE\r\n\r\n", 400, id="bad-request-line"),
        pytest.param(b"G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400, id="bad-method"),
        pytest.param(b"GET / HTTP/9.9\r\nHost: x\r\n\r\n", 505, id="unsupported-version"),
        pytest.param(
            b"GET /api/catalog/items HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n",
            431,
            id="oversized-header",
        ),
        pytest.param(
            b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, id="oversized-url"
        ),
        pytest.param(
            b"GET / HTTP/1.1\r\nHost: x\r\n"
            + b"".join(b"X-H%d: 1\r\n" % i for i in range(120))
            + b"\r\n",
            431,
            id="too-many-headers",
        ),
        pytest.param(
            b"POST /api/orders HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            400,
            id="cl-and-te",
        ),
        pytest.param(
            b"POST /api/orders HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"zz\r\nabc\r\n0\r\n\r\n",
            400,
            id="bad-chunk-size",
        ),
        pytest.param(
            b"POST /api/catalog/_test/echo HTTP/1.1\r\nHost: x\r\n"
            b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
            400,
            id="bad-chunk-size-buffered",
        ),
        pytest.param(
            b"POST /api/orders HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
            400,
            id="chunked-not-final",
        ),
        pytest.param(
            b"POST /api/orders HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            501,
            id="unsupported-te",
        ),
        pytest.param(
            b"POST /api/orders HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
            b"Content-Length: 2\r\n\r\nab",
            400,
            id="conflicting-lengths",
        ),
    ],
)
def test_malformed_requests_get_problem_json(bff: Service, payload: bytes, status: int) -> None:
    raw = raw_exchange(bff, payload)
    got, headers, body = parse_raw(raw)
    assert got == status, raw[:300]
    assert headers["content-type"] == PROBLEM
    assert json.loads(body)["status"] == status


def test_unknown_method_on_route_is_405(bff: Service) -> None:
    resp, data = request(bff, "PROPFIND", "/api/catalog/items")
    assert problem(resp, data, 405)
    assert "GET" in (resp.getheader("Allow") or "")


def test_bff_survives_the_abuse(bff: Service) -> None:
    resp, _ = request(bff, "GET", "/healthz")
    assert resp.status == 200
    assert not bff.crashes(), bff.crashes()


# --- upstream faults ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def strict_bff(
    log_dir: Path, bff_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """A BFF with short timeouts, and an orders upstream where nothing listens."""
    routes = tmp_path_factory.mktemp("routes") / "routes.toml"
    routes.write_text(
        "[upstreams.catalog]\n[upstreams.orders]\n"
        '[[routes]]\nname = "catalog"\nprefix = "/api/catalog"\nupstream = "catalog"\n'
        'upstream_prefix = "/catalog"\nread_timeout = 0.5\ndeadline = 2.0\n'
        '[[routes]]\nname = "orders"\nprefix = "/api/orders"\nupstream = "orders"\n'
        'upstream_prefix = "/orders"\nconnect_timeout = 0.5\n',
        encoding="utf-8",
    )
    env = {
        **bff_env,
        "BFF_ROUTES_FILE": str(routes),
        "BFF_UPSTREAM_ORDERS_URL": f"http://127.0.0.1:{free_port()}",
        "BFF_WORKERS": "1",
        "BFF_CIRCUIT_FAILURES": "3",
        "BFF_CIRCUIT_RESET_SECONDS": "30",
    }
    svc = start_bff(log_dir, env, name="bff-strict")
    yield svc
    svc.stop()


def test_slow_upstream_gives_504(strict_bff: Service) -> None:
    resp, data = request(strict_bff, "GET", "/api/catalog/_test/delay?ms=2000")
    problem(resp, data, 504)


def test_down_upstream_gives_502_then_503_circuit(strict_bff: Service) -> None:
    for _ in range(3):
        resp, data = request(strict_bff, "GET", "/api/orders")
        problem(resp, data, 502)
    resp, data = request(strict_bff, "GET", "/api/orders")
    doc = problem(resp, data, 503)
    assert "circuit" in doc["type"]
    assert int(resp.getheader("Retry-After", "0")) > 0
    resp, data = request(strict_bff, "GET", "/readyz")
    assert resp.status == 503 and json.loads(data)["upstreams"]["orders"]["ok"] is False


def test_readyz_and_openapi(bff: Service) -> None:
    resp, data = request(bff, "GET", "/readyz")
    assert resp.status == 200, data
    resp, data = request(bff, "GET", "/openapi.json")
    assert resp.status == 200 and "/api/catalog/{path}" in json.loads(data)["paths"]


# --- lifecycle ---------------------------------------------------------------------------------


def test_sigterm_drains_in_flight_requests(log_dir: Path, bff_env: dict[str, str]) -> None:
    svc = start_bff(log_dir, bff_env, name="bff-drain")
    conn = http.client.HTTPConnection("127.0.0.1", svc.port, timeout=15)
    conn.request("GET", "/api/catalog/_test/delay?ms=1500")
    time.sleep(0.3)
    svc.proc.send_signal(15)
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    assert resp.status == 200 and json.loads(body)["slept_ms"] == 1500
    assert svc.proc.wait(15) == 0
    assert not svc.crashes(), svc.crashes()


def test_bad_configuration_stops_the_bff_with_one_clear_line(
    log_dir: Path, bff_env: dict[str, str]
) -> None:
    with pytest.raises(RuntimeError) as info:
        start_bff(
            log_dir,
            {**bff_env, "BFF_UPSTREAM_ORDERS_URL": "changeme"},
            name="bff-bad",
        )
    message = str(info.value)
    assert "bff: configuration error: BFF_UPSTREAM_ORDERS_URL is required" in message
    assert "Traceback" not in message
