"""The /orders/_test/ endpoints, through httpx's ASGI transport."""

from __future__ import annotations

import base64
import gzip
import json
import time
from typing import Any

import httpx
import pytest

from orders_service.app import create_app
from orders_service.config import Settings
from orders_service.routes import diagnostics
from orders_support import assert_problem

pytestmark = pytest.mark.anyio


# --- echo --------------------------------------------------------------------------------


async def test_echo_get(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/orders/_test/echo?b=2&a=1&a=3", headers={"X-Custom": "hello", "Accept": "text/plain"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["service"] == "orders"
    assert body["method"] == "GET"
    assert body["path"] == "/orders/_test/echo"
    assert body["query"] == "b=2&a=1&a=3"
    assert body["headers"]["x-custom"] == "hello"
    assert body["headers"]["accept"] == "text/plain"
    assert body["headers"]["host"] == "testserver"
    assert body["body"] == ""
    assert body["body_encoding"] == "utf-8"
    assert body["body_length"] == 0


async def test_echo_preserves_percent_encoding(client: httpx.AsyncClient) -> None:
    response = await client.get("/orders/_test/echo/a%2Fb/c%20d?x=%20y")
    body = response.json()
    assert body["path"] == "/orders/_test/echo/a%2Fb/c%20d"
    assert body["query"] == "x=%20y"


async def test_echo_joins_repeated_headers(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/orders/_test/echo", headers=[("X-Dup", "one"), ("X-Dup", "two"), ("x-dup", "three")]
    )
    assert response.json()["headers"]["x-dup"] == "one, two, three"


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "PROPFIND", "OPTIONS"])
async def test_echo_any_method_with_utf8_body(client: httpx.AsyncClient, method: str) -> None:
    text = '{"greeting": "grüß dich"}'
    response = await client.request(
        method,
        "/orders/_test/echo/x/y",
        content=text.encode(),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["method"] == method
    assert body["path"] == "/orders/_test/echo/x/y"
    assert body["body"] == text
    assert body["body_encoding"] == "utf-8"
    assert body["body_length"] == len(text.encode())
    assert body["headers"]["content-length"] == str(len(text.encode()))


async def test_echo_binary_body_is_base64(client: httpx.AsyncClient) -> None:
    payload = bytes(range(256))
    body = (await client.post("/orders/_test/echo", content=payload)).json()
    assert body["body_encoding"] == "base64"
    assert base64.b64decode(body["body"]) == payload
    assert body["body_length"] == 256


async def test_echo_accepts_bodies_above_the_api_limit(client: httpx.AsyncClient) -> None:
    payload = b"a" * (3 * 1024 * 1024)
    body = (await client.post("/orders/_test/echo", content=payload)).json()
    assert body["body_length"] == len(payload)


async def test_echo_rejects_declared_huge_body(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/orders/_test/echo",
        content=b"x",
        headers={"content-length": str(diagnostics.MAX_ECHO_BODY_BYTES + 1)},
    )
    assert_problem(response, 413)


@pytest.mark.parametrize("suffix", ["", "/", "/deep/er/path.json"])
async def test_echo_sub_paths(client: httpx.AsyncClient, suffix: str) -> None:
    response = await client.get(f"/orders/_test/echo{suffix}")
    assert response.status_code == 200
    assert response.json()["path"] == f"/orders/_test/echo{suffix}"


# --- stream ------------------------------------------------------------------------------


async def test_stream(client: httpx.AsyncClient) -> None:
    started = time.monotonic()
    response = await client.get(
        "/orders/_test/stream", params={"chunks": 4, "interval_ms": 30, "size": 10}
    )
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert "content-length" not in response.headers
    assert response.headers["content-type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert [line["index"] for line in lines] == [0, 1, 2, 3]
    assert all(line["padding"] == "x" * 10 for line in lines)
    assert response.text.endswith("\n")
    assert elapsed >= 0.09


async def test_stream_defaults(client: httpx.AsyncClient) -> None:
    response = await client.get("/orders/_test/stream", params={"interval_ms": 0})
    lines = response.text.splitlines()
    assert len(lines) == 5
    assert json.loads(lines[0]) == {"index": 0, "padding": "x" * 16}


@pytest.mark.parametrize(
    "params",
    [
        {"chunks": "1001"},
        {"chunks": "-1"},
        {"interval_ms": "10001"},
        {"size": str(1024 * 1024 + 1)},
        {"size": "big"},
    ],
)
async def test_stream_bounds(client: httpx.AsyncClient, params: dict[str, str]) -> None:
    body = assert_problem(await client.get("/orders/_test/stream", params=params), 400)
    assert body["errors"][0]["field"] == next(iter(params))


# --- delay -------------------------------------------------------------------------------


async def test_delay(client: httpx.AsyncClient) -> None:
    started = time.monotonic()
    response = await client.get("/orders/_test/delay", params={"ms": 50})
    assert time.monotonic() - started >= 0.05
    assert response.json() == {"slept_ms": 50}


@pytest.mark.parametrize("value", ["60001", "-5", "soon"])
async def test_delay_bounds(client: httpx.AsyncClient, value: str) -> None:
    body = assert_problem(await client.get("/orders/_test/delay", params={"ms": value}), 400)
    assert body["errors"][0]["field"] == "ms"


# --- status ------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [200, 201, 202, 301, 400, 401, 404, 418, 429, 500, 502, 503, 599])
async def test_status_with_body(client: httpx.AsyncClient, code: int) -> None:
    response = await client.get(f"/orders/_test/status/{code}")
    assert response.status_code == code
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"status": code}


@pytest.mark.parametrize("code", [204, 205, 304])
async def test_status_without_body(client: httpx.AsyncClient, code: int) -> None:
    response = await client.get(f"/orders/_test/status/{code}")
    assert response.status_code == code
    assert response.content == b""
    assert "content-type" not in response.headers
    assert response.headers.get("content-length") == ("0" if code == 205 else None)


async def test_status_any_method(client: httpx.AsyncClient) -> None:
    response = await client.post("/orders/_test/status/201", content=b"ignored")
    assert response.status_code == 201
    assert (await client.request("PROPFIND", "/orders/_test/status/207")).status_code == 207


@pytest.mark.parametrize("code", [100, 101, 199, 600, 999])
async def test_status_out_of_range(client: httpx.AsyncClient, code: int) -> None:
    assert_problem(await client.get(f"/orders/_test/status/{code}"), 400)


# --- large -------------------------------------------------------------------------------


@pytest.mark.parametrize("kb", [1, 100, 1024])
async def test_large_exact_size(client: httpx.AsyncClient, kb: int) -> None:
    response = await client.get("/orders/_test/large", params={"kb": kb})
    assert response.status_code == 200
    assert len(response.content) == kb * 1024
    assert response.headers["content-length"] == str(kb * 1024)
    assert "content-encoding" not in response.headers
    assert response.json()["kb"] == kb


async def test_large_default_and_zero(client: httpx.AsyncClient) -> None:
    assert len((await client.get("/orders/_test/large")).content) == 100 * 1024
    response = await client.get("/orders/_test/large", params={"kb": 0})
    assert response.json() == {"kb": 0, "padding": ""}


async def test_large_gzip(client: httpx.AsyncClient) -> None:
    async with client.stream("GET", "/orders/_test/large", params={"kb": 64, "gzip": 1}) as resp:
        raw = b"".join([chunk async for chunk in resp.aiter_raw()])
        assert resp.headers["content-encoding"] == "gzip"
        assert resp.headers["content-type"] == "application/json"
        assert resp.headers["content-length"] == str(len(raw))
    plain = gzip.decompress(raw)
    assert plain == diagnostics.large_body(64)
    assert len(raw) < len(plain)


def test_large_body_layout() -> None:
    assert diagnostics.large_body(3).startswith(b'{"kb":3,"padding":"abcdef')
    assert len(diagnostics.large_body(3)) == 3 * 1024


@pytest.mark.parametrize("params", [{"kb": "51201"}, {"kb": "-1"}, {"gzip": "2"}, {"gzip": "y"}])
async def test_large_bounds(client: httpx.AsyncClient, params: dict[str, str]) -> None:
    body = assert_problem(await client.get("/orders/_test/large", params=params), 400)
    assert body["errors"][0]["field"] == next(iter(params))


# --- cookie ------------------------------------------------------------------------------


async def test_cookie_sets_two_headers(client: httpx.AsyncClient) -> None:
    response = await client.get("/orders/_test/cookie")
    assert response.status_code == 200
    assert response.headers.get_list("set-cookie") == [
        "session=abc; Path=/; HttpOnly; SameSite=Lax",
        "theme=dark; Path=/catalog; Max-Age=3600",
    ]


# --- redirect ----------------------------------------------------------------------------


async def test_redirect_relative(client: httpx.AsyncClient) -> None:
    response = await client.get("/orders/_test/redirect", params={"to": "/orders?limit=2"})
    assert response.status_code == 302
    assert response.headers["location"] == "/orders?limit=2"
    assert response.content == b""


async def test_redirect_absolute_uses_host_header(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/orders/_test/redirect",
        params={"to": "/orders", "absolute": "1"},
        headers={"Host": "localhost:8002"},
    )
    assert response.status_code == 302
    assert response.headers["location"] == "http://localhost:8002/orders"


async def test_redirect_encodes_non_ascii(client: httpx.AsyncClient) -> None:
    response = await client.get("/orders/_test/redirect", params={"to": "/orders?q=café"})
    assert response.headers["location"] == "/orders?q=caf%C3%A9"


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"to": ""},
        {"to": "orders"},
        {"to": "https://evil.example/"},
        {"to": "//evil.example/"},
        {"to": "/\\evil.example"},
        {"to": "/ok", "absolute": "2"},
    ],
)
async def test_redirect_rejects_invalid_targets(
    client: httpx.AsyncClient, params: dict[str, Any]
) -> None:
    assert_problem(await client.get("/orders/_test/redirect", params=params), 400)


# --- switch ------------------------------------------------------------------------------


async def test_test_endpoints_can_be_disabled() -> None:
    app = create_app(Settings(test_endpoints=False))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for path in ["/orders/_test/echo", "/orders/_test/stream", "/orders/_test/cookie"]:
            response = await client.get(path)
            assert response.status_code == 404, path
            assert response.headers["content-type"] == "application/problem+json"
        assert (await client.post("/orders/_test/status/200")).status_code == 404
        assert (await client.get("/healthz")).status_code == 200
