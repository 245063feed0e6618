from __future__ import annotations

import pytest
from bff.proxy import headers as hdr
from bff.settings import Route, Upstream

UP = Upstream("catalog", "http", "10.0.0.5", 8001, "", "/healthz")
ROUTE = Route("catalog", "/api/catalog", UP, "/catalog", frozenset({"GET"}))


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        pytest.param("abc-123", True, id="token"),
        pytest.param("a" * 128, True, id="max-length"),
        pytest.param("a" * 129, False, id="too-long"),
        pytest.param("", False, id="empty"),
        pytest.param("has space", False, id="space"),
        pytest.param("x\r\nInjected: 1", False, id="crlf"),
        pytest.param("<script>", False, id="markup"),
        pytest.param("a:b", False, id="colon-as-upstreams-refuse-it"),
        pytest.param(None, False, id="absent"),
    ],
)
def test_request_id(value: str | None, kept: bool) -> None:
    rid = hdr.request_id_from(value)
    assert (rid == value) is kept
    assert 1 <= len(rid) <= 128


def test_traceparent_continued_with_new_span() -> None:
    incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    trace_id, out = hdr.traceparent_from(incoming)
    assert trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert out.startswith("00-4bf92f3577b34da6a3ce929d0e0e4736-") and out.endswith("-01")
    assert out.split("-")[2] != "00f067aa0ba902b7"


@pytest.mark.parametrize(
    "incoming",
    [
        pytest.param(None, id="absent"),
        pytest.param("garbage", id="garbage"),
        pytest.param("00-00000000000000000000000000000000-00f067aa0ba902b7-01", id="zero-trace"),
        pytest.param("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", id="zero-span"),
        pytest.param("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", id="bad-version"),
    ],
)
def test_traceparent_started_when_invalid(incoming: str | None) -> None:
    trace_id, out = hdr.traceparent_from(incoming)
    assert len(trace_id) == 32 and out.startswith(f"00-{trace_id}-")


@pytest.mark.parametrize(
    ("remote", "xff", "trusted", "expected"),
    [
        pytest.param("1.2.3.4", None, 0, "1.2.3.4", id="direct"),
        pytest.param("1.2.3.4", "6.6.6.6", 0, "1.2.3.4", id="spoof-ignored"),
        pytest.param("10.0.0.1", "6.6.6.6, 8.8.8.8", 1, "8.8.8.8, 10.0.0.1", id="alb"),
        pytest.param(
            "10.0.0.1",
            "6.6.6.6, 8.8.8.8, 10.0.0.9",
            2,
            "8.8.8.8, 10.0.0.9, 10.0.0.1",
            id="two-proxies",
        ),
        pytest.param("10.0.0.1", None, 1, "10.0.0.1", id="trusted-but-absent"),
    ],
)
def test_forwarded_for(remote: str, xff: str | None, trusted: int, expected: str) -> None:
    environ = {"REMOTE_ADDR": remote}
    if xff is not None:
        environ["HTTP_X_FORWARDED_FOR"] = xff
    assert hdr.forwarded_for(environ, trusted) == expected


def test_forwarded_for_uses_proxyfix_originals() -> None:
    environ = {
        "REMOTE_ADDR": "8.8.8.8",
        "werkzeug.proxy_fix.orig": {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "9.9.9.9"},
    }
    assert hdr.forwarded_for(environ, 1) == "9.9.9.9, 10.0.0.1"


def test_upstream_request_headers_strip_hop_by_hop_and_spoofs() -> None:
    environ = {
        "REMOTE_ADDR": "1.2.3.4",
        "HTTP_HOST": "shop.example",
        "HTTP_CONNECTION": "keep-alive, X-Secret-Hop",
        "HTTP_X_SECRET_HOP": "1",
        "HTTP_KEEP_ALIVE": "300",
        "HTTP_TE": "trailers",
        "HTTP_UPGRADE": "websocket",
        "HTTP_PROXY_AUTHORIZATION": "Basic x",
        "HTTP_FORWARDED": "for=6.6.6.6",
        "HTTP_X_REAL_IP": "6.6.6.6",
        "HTTP_X_FORWARDED_HOST": "evil.example",
        "HTTP_EXPECT": "100-continue",
        "HTTP_ACCEPT": "application/json",
        "HTTP_AUTHORIZATION": "Bearer t",
        "CONTENT_TYPE": "application/json",
        "wsgi.url_scheme": "https",
    }
    out = hdr.upstream_request_headers(
        environ, ROUTE, request_id="rid", traceparent="tp", tracestate=None, trusted_proxies=0
    )
    for gone in (
        "connection",
        "x-secret-hop",
        "keep-alive",
        "te",
        "upgrade",
        "proxy-authorization",
        "forwarded",
        "x-real-ip",
        "expect",
    ):
        assert gone not in out
    assert out["host"] == "10.0.0.5:8001"
    assert out["x-forwarded-host"] == "shop.example"
    assert out["x-forwarded-proto"] == "https"
    assert out["x-forwarded-for"] == "1.2.3.4"
    assert out["x-forwarded-prefix"] == "/api/catalog"
    assert out["accept"] == "application/json"
    assert out["authorization"] == "Bearer t"
    assert out["content-type"] == "application/json"
    assert out["x-request-id"] == "rid" and out["traceparent"] == "tp"


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        pytest.param("/catalog/items/7", "/api/catalog/items/7", id="relative"),
        pytest.param("/catalog", "/api/catalog", id="prefix-itself"),
        pytest.param("/catalog?x=1", "/api/catalog?x=1", id="prefix-query"),
        pytest.param("http://10.0.0.5:8001/catalog/items/7", "/api/catalog/items/7", id="absolute"),
        pytest.param("/catalogue", "/catalogue", id="lookalike"),
        pytest.param("/admin/", "/admin/", id="outside-prefix"),
        pytest.param(
            "https://example.org/catalog/x", "https://example.org/catalog/x", id="external"
        ),
        pytest.param("//evil.example/catalog/x", "//evil.example/catalog/x", id="scheme-relative"),
        pytest.param("items/7", "items/7", id="path-relative"),
    ],
)
def test_rewrite_location(location: str, expected: str) -> None:
    assert hdr.rewrite_location(location, ROUTE, hdr.upstream_origins(ROUTE)) == expected


@pytest.mark.parametrize(
    ("cookie", "expected"),
    [
        pytest.param("a=1; Path=/catalog; HttpOnly", "a=1; Path=/api/catalog; HttpOnly", id="path"),
        pytest.param("a=1; path=/catalog/items", "a=1; Path=/api/catalog/items", id="sub-path"),
        pytest.param("a=1; Path=/other", "a=1; Path=/other", id="unrelated-path"),
        pytest.param("a=1; Path=/catalogue", "a=1; Path=/catalogue", id="lookalike"),
        pytest.param("a=1; Domain=10.0.0.5; Secure", "a=1; Secure", id="upstream-domain"),
        pytest.param("a=1; Domain=shop.example", "a=1; Domain=shop.example", id="site-domain"),
        pytest.param("a=1", "a=1", id="bare"),
    ],
)
def test_rewrite_set_cookie(cookie: str, expected: str) -> None:
    assert hdr.rewrite_set_cookie(cookie, ROUTE) == expected


def test_response_headers() -> None:
    raw = [
        ("Content-Type", "application/json"),
        ("Connection", "close, X-Hop"),
        ("X-Hop", "1"),
        ("Transfer-Encoding", "chunked"),
        ("Content-Length", "10"),
        ("Set-Cookie", "a=1; Path=/catalog"),
        ("Set-Cookie", "b=2; Path=/catalog"),
        ("Server", "upstream"),
        ("Date", "yesterday"),
        ("Bad Name", "x"),
        ("X-Ctl", "a\x01b"),
        ("X-Request-ID", "theirs"),
    ]
    out = hdr.response_headers(raw, ROUTE, "ours")
    names = [n.lower() for n, _ in out]
    assert names == ["content-type", "set-cookie", "set-cookie", "x-request-id"]
    assert out[-1] == ("X-Request-ID", "ours")
