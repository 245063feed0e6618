"""Run the real service (run.py -> gunicorn) and talk to it over HTTP.

These checks cover what the Django test client cannot: the raw request target from
gunicorn, chunked request and response bodies, real Set-Cookie headers and concurrency.
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from testkit import Process

from catalog.seed_data import SEED_ITEMS


@pytest.fixture
def server(live_catalog: Process) -> Process:
    """The catalog under gunicorn (one worker, four threads), from testkit.sample_services."""
    return live_catalog


@pytest.fixture
def http(server: Process) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, trust_env=False, timeout=10.0) as client:
        yield client


def test_seeded_on_start(http: httpx.Client) -> None:
    body = http.get("/catalog/items").json()
    assert body["total"] == len(SEED_ITEMS)


def test_echo_preserves_raw_path_and_query(http: httpx.Client) -> None:
    response = http.get("/catalog/_test/echo/a%2Fb/%7Euser?x=%20y&x=2")
    body = response.json()
    assert body["path"] == "/catalog/_test/echo/a%2Fb/%7Euser"
    assert body["query"] == "x=%20y&x=2"


def test_echo_repeated_headers_are_folded_by_gunicorn(http: httpx.Client) -> None:
    response = http.get("/catalog/_test/echo", headers=[("X-Dup", "one"), ("X-Dup", "two")])
    assert response.json()["headers"]["x-dup"] == "one,two"


def test_echo_chunked_request_body(http: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"hello "
        yield b"chunked "
        yield b"world"

    response = http.post("/catalog/_test/echo", content=chunks())
    body = response.json()
    assert body["headers"]["transfer-encoding"] == "chunked"
    assert body["body"] == "hello chunked world"
    assert body["body_length"] == 19


def test_stream_is_chunked_and_incremental(http: httpx.Client) -> None:
    started = time.monotonic()
    arrivals: list[float] = []
    params = {"chunks": 3, "interval_ms": 300, "size": 8}
    with http.stream("GET", "/catalog/_test/stream", params=params) as response:
        assert response.headers["transfer-encoding"] == "chunked"
        assert "content-length" not in response.headers
        lines = []
        for line in response.iter_lines():
            arrivals.append(time.monotonic() - started)
            lines.append(json.loads(line))
    assert [line["index"] for line in lines] == [0, 1, 2]
    assert arrivals[0] < arrivals[-1] - 0.4


def test_large_gzip_has_correct_content_length(http: httpx.Client) -> None:
    with http.stream("GET", "/catalog/_test/large", params={"kb": 256, "gzip": 1}) as response:
        raw = b"".join(response.iter_raw())
        assert response.headers["content-encoding"] == "gzip"
        assert int(response.headers["content-length"]) == len(raw)
    assert len(gzip.decompress(raw)) == 256 * 1024


def test_two_set_cookie_headers(http: httpx.Client) -> None:
    response = http.get("/catalog/_test/cookie")
    assert response.headers.get_list("set-cookie") == [
        "session=abc; Path=/; HttpOnly; SameSite=Lax",
        "theme=dark; Path=/catalog; Max-Age=3600",
    ]


def test_absolute_redirect_uses_host_header(http: httpx.Client, server: Process) -> None:
    response = http.get("/catalog/_test/redirect", params={"to": "/catalog/items", "absolute": 1})
    assert response.status_code == 302
    assert response.headers["location"] == f"{server.url}/catalog/items"


def test_head_and_bodyless_statuses_are_clean(http: httpx.Client, server: Process) -> None:
    head = http.head("/catalog/items")
    assert head.status_code == 200
    assert int(head.headers["content-length"]) > 0
    assert head.content == b""
    assert http.get("/catalog/_test/status/204").content == b""
    assert "WSGI app sent body bytes" not in server.output()


def test_slow_requests_do_not_block_each_other(http: httpx.Client) -> None:
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = [
            pool.submit(http.get, "/catalog/_test/delay", params={"ms": 600}) for _ in range(3)
        ]
        results = [future.result() for future in futures]
    assert all(result.json() == {"slept_ms": 600} for result in results)
    assert time.monotonic() - started < 1.5


def test_request_id_round_trip(http: httpx.Client) -> None:
    response = http.get("/healthz", headers={"X-Request-ID": "live-check-1"})
    assert response.headers["x-request-id"] == "live-check-1"
