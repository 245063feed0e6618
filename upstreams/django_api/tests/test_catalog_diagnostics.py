"""The /catalog/_test/ endpoints, exercised through Django's test client."""

from __future__ import annotations

import base64
import gzip
import json
import time
from types import ModuleType
from typing import Any

import pytest
from django.test import Client
from django.urls import Resolver404, resolve

from catalog import diagnostics
from catalog.urls import build_urlpatterns

# --- echo --------------------------------------------------------------------------------


def test_echo_get(api: Client) -> None:
    response = api.get(
        "/catalog/_test/echo?b=2&a=1&a=3",
        HTTP_X_CUSTOM="hello",
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["service"] == "catalog"
    assert body["method"] == "GET"
    assert body["path"] == "/catalog/_test/echo"
    assert body["query"] == "b=2&a=1&a=3"
    assert body["headers"]["x-custom"] == "hello"
    assert body["headers"]["accept"] == "application/json"
    assert body["body"] == ""
    assert body["body_encoding"] == "utf-8"
    assert body["body_length"] == 0


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "PROPFIND", "OPTIONS"])
def test_echo_any_method_with_utf8_body(api: Client, method: str) -> None:
    text = '{"greeting": "grüß dich"}'
    response = api.generic(
        method, "/catalog/_test/echo/a/b", data=text.encode(), content_type="application/json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["method"] == method
    assert body["path"] == "/catalog/_test/echo/a/b"
    assert body["body"] == text
    assert body["body_encoding"] == "utf-8"
    assert body["body_length"] == len(text.encode())
    assert body["headers"]["content-type"] == "application/json"
    assert body["headers"]["content-length"] == str(len(text.encode()))


def test_echo_binary_body_is_base64(api: Client) -> None:
    payload = bytes(range(256))
    response = api.post(
        "/catalog/_test/echo", data=payload, content_type="application/octet-stream"
    )
    body = response.json()
    assert body["body_encoding"] == "base64"
    assert base64.b64decode(body["body"]) == payload
    assert body["body_length"] == 256


def test_echo_body_larger_than_django_upload_limit(api: Client) -> None:
    payload = b"a" * (3 * 1024 * 1024)
    response = api.post("/catalog/_test/echo", data=payload, content_type="text/plain")
    assert response.status_code == 200
    assert response.json()["body_length"] == len(payload)


def test_echo_rejects_huge_declared_body(api: Client, assert_problem: Any) -> None:
    response = api.post(
        "/catalog/_test/echo",
        data=b"x",
        content_type="text/plain",
        CONTENT_LENGTH=str(diagnostics.MAX_ECHO_BODY_BYTES + 1),
    )
    assert_problem(response, 413)


def test_echo_prefers_raw_uri(api: Client) -> None:
    # gunicorn passes the request target untouched in RAW_URI.
    response = api.get(
        "/catalog/_test/echo/a/b c", {"q": "1"}, RAW_URI="/catalog/_test/echo/a%2Fb%20c?q=1"
    )
    body = response.json()
    assert body["path"] == "/catalog/_test/echo/a%2Fb%20c"
    assert body["query"] == "q=1"


def test_echo_absolute_form_raw_uri(api: Client) -> None:
    response = api.get("/catalog/_test/echo/x", RAW_URI="http://example.com/catalog/_test/echo/x")
    assert response.json()["path"] == "/catalog/_test/echo/x"


def test_echo_without_raw_uri_reencodes_path(api: Client) -> None:
    assert api.get("/catalog/_test/echo/a b").json()["path"] == "/catalog/_test/echo/a%20b"


@pytest.mark.parametrize("suffix", ["", "/", "/deep/er/path.json"])
def test_echo_sub_paths(api: Client, suffix: str) -> None:
    response = api.get(f"/catalog/_test/echo{suffix}")
    assert response.status_code == 200
    assert response.json()["path"] == f"/catalog/_test/echo{suffix}"


# --- stream ------------------------------------------------------------------------------


def test_stream(api: Client) -> None:
    started = time.monotonic()
    response = api.get("/catalog/_test/stream", {"chunks": 4, "interval_ms": 30, "size": 10})
    assert response.status_code == 200
    assert response.streaming
    assert not response.has_header("Content-Length")
    assert response["Content-Type"] == "application/x-ndjson"
    chunks = list(response.streaming_content)
    elapsed = time.monotonic() - started
    assert len(chunks) == 4
    lines = [json.loads(chunk) for chunk in chunks]
    assert [line["index"] for line in lines] == [0, 1, 2, 3]
    assert all(line["padding"] == "x" * 10 for line in lines)
    assert all(chunk.endswith(b"\n") for chunk in chunks)
    assert elapsed >= 0.09  # three pauses of 30 ms


def test_stream_defaults(api: Client) -> None:
    response = api.get("/catalog/_test/stream", {"interval_ms": 0})
    lines = b"".join(response.streaming_content).splitlines()
    assert len(lines) == 5
    assert json.loads(lines[0]) == {"index": 0, "padding": "x" * 16}


def test_stream_zero_chunks(api: Client) -> None:
    response = api.get("/catalog/_test/stream", {"chunks": 0})
    assert b"".join(response.streaming_content) == b""


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
def test_stream_bounds(api: Client, assert_problem: Any, params: dict[str, str]) -> None:
    body = assert_problem(api.get("/catalog/_test/stream", params), 400)
    assert body["errors"][0]["field"] == next(iter(params))


def test_stream_head_has_no_body(api: Client) -> None:
    response = api.head("/catalog/_test/stream", {"interval_ms": 0})
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b""


# --- delay -------------------------------------------------------------------------------


def test_delay(api: Client) -> None:
    started = time.monotonic()
    response = api.get("/catalog/_test/delay", {"ms": 50})
    assert time.monotonic() - started >= 0.05
    assert response.status_code == 200
    assert response.json() == {"slept_ms": 50}


@pytest.mark.parametrize("value", ["60001", "-5", "soon"])
def test_delay_bounds(api: Client, assert_problem: Any, value: str) -> None:
    assert_problem(api.get("/catalog/_test/delay", {"ms": value}), 400)


# --- status ------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [200, 201, 202, 301, 400, 401, 404, 418, 429, 500, 502, 503, 599])
def test_status_with_body(api: Client, code: int) -> None:
    response = api.get(f"/catalog/_test/status/{code}")
    assert response.status_code == code
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": code}


@pytest.mark.parametrize("code", [204, 205, 304])
def test_status_without_body(api: Client, code: int) -> None:
    response = api.get(f"/catalog/_test/status/{code}")
    assert response.status_code == code
    assert response.content == b""
    assert not response.has_header("Content-Type")
    # 205 may state an empty body explicitly; 204/304 must not carry Content-Length.
    assert response.get("Content-Length") == ("0" if code == 205 else None)


def test_status_any_method(api: Client) -> None:
    response = api.post("/catalog/_test/status/201", data=b"ignored", content_type="text/plain")
    assert response.status_code == 201


@pytest.mark.parametrize("code", [100, 101, 199, 600, 999])
def test_status_out_of_range(api: Client, assert_problem: Any, code: int) -> None:
    assert_problem(api.get(f"/catalog/_test/status/{code}"), 400)


# --- large -------------------------------------------------------------------------------


@pytest.mark.parametrize("kb", [1, 100, 1024])
def test_large_exact_size(api: Client, kb: int) -> None:
    response = api.get("/catalog/_test/large", {"kb": kb})
    assert response.status_code == 200
    assert len(response.content) == kb * 1024
    assert response["Content-Length"] == str(kb * 1024)
    assert not response.has_header("Content-Encoding")
    body = response.json()
    assert body["kb"] == kb


def test_large_default_and_zero(api: Client) -> None:
    assert len(api.get("/catalog/_test/large").content) == 100 * 1024
    response = api.get("/catalog/_test/large", {"kb": 0})
    assert response.json() == {"kb": 0, "padding": ""}


def test_large_gzip(api: Client) -> None:
    response = api.get("/catalog/_test/large", {"kb": 64, "gzip": 1})
    assert response["Content-Encoding"] == "gzip"
    assert response["Content-Type"] == "application/json"
    assert response["Content-Length"] == str(len(response.content))
    plain = gzip.decompress(response.content)
    assert plain == diagnostics.large_body(64)
    assert len(plain) == 64 * 1024
    assert len(response.content) < len(plain)


@pytest.mark.parametrize("params", [{"kb": "51201"}, {"kb": "-1"}, {"gzip": "2"}, {"gzip": "y"}])
def test_large_bounds(api: Client, assert_problem: Any, params: dict[str, str]) -> None:
    assert_problem(api.get("/catalog/_test/large", params), 400)


# --- cookie ------------------------------------------------------------------------------


def test_cookie_sets_two_headers(api: Client) -> None:
    response = api.get("/catalog/_test/cookie")
    assert response.status_code == 200
    # Exactly what the WSGI handler sends as the two Set-Cookie header values.
    rendered = [morsel.output(header="").strip() for morsel in response.cookies.values()]
    assert rendered == [
        "session=abc; Path=/; HttpOnly; SameSite=Lax",
        "theme=dark; Path=/catalog; Max-Age=3600",
    ]
    assert response.cookies["session"].value == "abc"
    assert response.cookies["theme"].value == "dark"


# --- redirect ----------------------------------------------------------------------------


def test_redirect_relative(api: Client) -> None:
    response = api.get("/catalog/_test/redirect", {"to": "/catalog/items?page=2"})
    assert response.status_code == 302
    assert response["Location"] == "/catalog/items?page=2"
    assert response.content == b""


def test_redirect_default_is_relative(api: Client) -> None:
    response = api.get("/catalog/_test/redirect", {"to": "/catalog/items", "absolute": "0"})
    assert response["Location"] == "/catalog/items"


def test_redirect_absolute_uses_host_header(api: Client) -> None:
    response = api.get(
        "/catalog/_test/redirect",
        {"to": "/catalog/items", "absolute": "1"},
        HTTP_HOST="localhost:8001",
    )
    assert response.status_code == 302
    assert response["Location"] == "http://localhost:8001/catalog/items"


def test_redirect_encodes_non_ascii(api: Client) -> None:
    response = api.get("/catalog/_test/redirect", {"to": "/catalog/items?q=café"})
    assert response["Location"] == "/catalog/items?q=caf%C3%A9"


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"to": ""},
        {"to": "catalog/items"},
        {"to": "https://evil.example/"},
        {"to": "//evil.example/"},
        {"to": "/\\evil.example"},
        {"to": "/ok", "absolute": "2"},
    ],
)
def test_redirect_rejects_invalid_targets(
    api: Client, assert_problem: Any, params: dict[str, str]
) -> None:
    assert_problem(api.get("/catalog/_test/redirect", params), 400)


# --- switch ------------------------------------------------------------------------------


def _urlconf(*, include_test_endpoints: bool) -> ModuleType:
    module = ModuleType("catalog_urls_under_test")
    module.urlpatterns = build_urlpatterns(  # type: ignore[attr-defined]
        include_test_endpoints=include_test_endpoints
    )
    return module


def test_test_endpoints_can_be_disabled() -> None:
    enabled = _urlconf(include_test_endpoints=True)
    disabled = _urlconf(include_test_endpoints=False)
    assert resolve("/_test/echo", urlconf=enabled).func is diagnostics.echo
    assert resolve("/items", urlconf=disabled)
    for path in ["/_test/echo", "/_test/stream", "/_test/status/200", "/_test/cookie"]:
        with pytest.raises(Resolver404):
            resolve(path, urlconf=disabled)
