from __future__ import annotations

import pytest
from bff.proxy.paths import PathRejected, raw_request_path, rebase_path

PREFIX, TARGET = "/api/catalog", "/catalog"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("/api/catalog", "/catalog", id="prefix-only"),
        pytest.param("/api/catalog/", "/catalog/", id="prefix-slash"),
        pytest.param("/api/catalog/items", "/catalog/items", id="plain"),
        pytest.param("/api/catalog/items/", "/catalog/items/", id="trailing-slash"),
        pytest.param("/api/catalog/items/7", "/catalog/items/7", id="nested"),
        pytest.param("/api/catalog/a%20b", "/catalog/a%20b", id="space-kept-encoded"),
        pytest.param("/api/catalog/%61bc", "/catalog/abc", id="unreserved-decoded"),
        pytest.param("/api/catalog/caf%C3%A9", "/catalog/caf%C3%A9", id="utf8"),
        pytest.param("/api/catalog/%ff", "/catalog/%FF", id="non-utf8-byte"),
        pytest.param("/api/catalog/%252e%252e", "/catalog/%252e%252e", id="double-encoded-stays"),
        pytest.param("/api/catalog/a;b=c", "/catalog/a;b=c", id="matrix-param"),
        pytest.param("/api/catalog/...", "/catalog/...", id="three-dots-is-a-name"),
        pytest.param("/api/catalog/.well", "/catalog/.well", id="dot-prefix-name"),
        pytest.param("/api/catalog/a:b@c", "/catalog/a:b@c", id="pchar"),
    ],
)
def test_rebase_accepts(raw: str, expected: str) -> None:
    assert rebase_path(raw, PREFIX, TARGET) == expected


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("/api/catalog/..", id="dotdot"),
        pytest.param("/api/catalog/../admin", id="dotdot-escape"),
        pytest.param("/api/catalog/items/../../admin", id="dotdot-deep"),
        pytest.param("/api/catalog/.", id="dot"),
        pytest.param("/api/catalog/./items", id="dot-middle"),
        pytest.param("/api/catalog/%2e%2e/admin", id="encoded-dotdot"),
        pytest.param("/api/catalog/%2E%2E/admin", id="encoded-dotdot-upper"),
        pytest.param("/api/catalog/.%2e/admin", id="half-encoded-dotdot"),
        pytest.param("/api/catalog/%2e", id="encoded-dot"),
        pytest.param("/api/catalog/..%2fadmin", id="encoded-slash-traversal"),
        pytest.param("/api/catalog/a%2fb", id="encoded-slash"),
        pytest.param("/api/catalog/a%2Fb", id="encoded-slash-upper"),
        pytest.param("/api/catalog/a%5cb", id="encoded-backslash"),
        pytest.param("/api/catalog/..\\admin", id="backslash"),
        pytest.param("/api/catalog\\..\\admin", id="backslash-after-prefix"),
        pytest.param("/api/catalog//admin", id="double-slash"),
        pytest.param("/api/catalog//evil.example/x", id="double-slash-host"),
        pytest.param("/api/catalog/a//b", id="inner-double-slash"),
        pytest.param("/api/catalog/%00", id="nul"),
        pytest.param("/api/catalog/a%0d%0aX-Injected:1", id="crlf"),
        pytest.param("/api/catalog/%zz", id="bad-escape"),
        pytest.param("/api/catalog/%2", id="truncated-escape"),
        pytest.param("/api/catalogue", id="prefix-lookalike"),
        pytest.param("/api/catalog%2f..%2fadmin", id="encoded-slash-in-prefix"),
        pytest.param("/api/other", id="other-prefix"),
        pytest.param("/api/catalog/caf\u00e9", id="raw-non-ascii"),
    ],
)
def test_rebase_rejects(raw: str) -> None:
    with pytest.raises(PathRejected):
        rebase_path(raw, PREFIX, TARGET)


def test_rebase_never_leaves_prefix_with_empty_target() -> None:
    assert rebase_path("/api/x/a", "/api/x", "") == "/a"
    with pytest.raises(PathRejected):
        rebase_path("/api/x/../a", "/api/x", "")


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        pytest.param({"RAW_URI": "/a/b?x=1"}, "/a/b", id="raw-uri"),
        pytest.param({"REQUEST_URI": "/a/%2e%2e?x"}, "/a/%2e%2e", id="request-uri"),
        pytest.param({"RAW_URI": "http://evil.example/a/b?q"}, "/a/b", id="absolute-form"),
        pytest.param({"RAW_URI": "/a#frag"}, "/a", id="fragment"),
        pytest.param({"PATH_INFO": "/a b"}, "/a%20b", id="fallback-path-info"),
    ],
)
def test_raw_request_path(environ: dict[str, str], expected: str) -> None:
    assert raw_request_path(environ) == expected
