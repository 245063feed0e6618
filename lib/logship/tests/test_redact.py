"""Redaction: table tests, hostile inputs, purity."""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from logship.redact import (
    REDACTED,
    is_sensitive_key,
    redact_data,
    redact_header_value,
    redact_headers,
    redact_query,
    redact_text,
    redact_url,
)

R = REDACTED


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("Authorization", "Bearer abc.def.ghi", f"Bearer {R}"),
        ("authorization", "Basic dXNlcjpwYXNz", f"Basic {R}"),
        ("AUTHORIZATION", "rawtoken", R),
        ("Proxy-Authorization", "Digest username=x", f"Digest {R}"),
        ("Cookie", "sid=abc; theme=dark", f"sid={R}; theme={R}"),
        ("cookie", "justvalue", R),
        ("Set-Cookie", "sid=abc; Path=/; HttpOnly", f"sid={R}; Path=/; HttpOnly"),
        ("X-Api-Key", "k-123", R),
        ("x-API-key", "", R),
        ("Accept", "text/html", "text/html"),
        ("X-Request-ID", "abc", "abc"),
        ("Authorization", "", R),
        ("Authorization", "Bearer\x00\r\nInjected: 1", R),
    ],
)
def test_header_values(name: str, value: str, expected: str) -> None:
    assert redact_header_value(name, value) == expected


def test_headers_mapping_and_pairs_keep_shape() -> None:
    mapping = {"Authorization": "Bearer t", "Accept": "*/*"}
    assert redact_headers(mapping) == {"Authorization": f"Bearer {R}", "Accept": "*/*"}
    pairs = [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2; Secure"), ("Host", "x")]
    assert redact_headers(pairs) == [
        ("Set-Cookie", f"a={R}"),
        ("Set-Cookie", f"b={R}; Secure"),
        ("Host", "x"),
    ]
    assert mapping == {"Authorization": "Bearer t", "Accept": "*/*"}  # not mutated


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("a=1&token=abc", f"a=1&token={R}"),
        ("?token=abc", f"?token={R}"),
        ("TOKEN=abc", f"TOKEN={R}"),
        (
            "access_token=a&id_token=b&refresh_token=c",
            f"access_token={R}&id_token={R}&refresh_token={R}",
        ),
        ("api_key=1;apikey=2;key=3", f"api_key={R};apikey={R};key={R}"),
        ("api-key=1", f"api-key={R}"),
        ("password=p&secret=s&signature=x&sig=y", f"password={R}&secret={R}&signature={R}&sig={R}"),
        ("code=c&client_secret=s&auth=a", f"code={R}&client_secret={R}&auth={R}"),
        ("%74oken=abc", f"%74oken={R}"),
        ("to+ken=abc&tok%20en=x", "to+ken=abc&tok%20en=x"),
        ("token[]=a&token[0]=b", f"token[]={R}&token[0]={R}"),
        ("token=&x=1", f"token={R}&x=1"),
        ("token", "token"),
        ("tokens=1&mytoken=2&keyboard=3", "tokens=1&mytoken=2&keyboard=3"),
        ("token=a=b=c&x=%ZZ", f"token={R}&x=%ZZ"),
        ("a=1&&token=2&", f"a=1&&token={R}&"),
        ("", ""),
        ("%%%=1&%E0%A4%A=2", "%%%=1&%E0%A4%A=2"),
    ],
)
def test_query(query: str, expected: str) -> None:
    assert redact_query(query) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://api.example.com/v1?token=abc&x=1", f"https://api.example.com/v1?token={R}&x=1"),
        ("https://user:pw@host/p", f"https://user:{R}@host/p"),
        ("https://user@host/p", "https://user@host/p"),
        ("https://h/cb#access_token=abc&state=1", f"https://h/cb#access_token={R}&state=1"),
        ("https://h/p#section", "https://h/p#section"),
        ("/relative?code=123", f"/relative?code={R}"),
        ("http://[::1/broken?key=1", f"http://[::1/broken?key={R}"),
        ("no-query-at-all", "no-query-at-all"),
        ("", ""),
    ],
)
def test_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GET /x?token=abc&a=1 HTTP/1.1", f"GET /x?token={R}&a=1 HTTP/1.1"),
        ("login password=hunter2 user=bob", f"login password={R} user=bob"),
        ("db_password: s3cret", f"db_password: {R}"),
        ('{"client_secret": "abc"}', f'{{"client_secret": "{R}"}}'),
        ("{'Authorization': 'Bearer abcdefghijk', 'x': 1}", f"{{'Authorization': '{R}', 'x': 1}}"),
        ("sent bearer eyJhbGciOiJIUzI1NiJ9.x.y", f"sent bearer {R}"),
        ("Cookie: a=b; c=d\nnext line", f"Cookie: {R}\nnext line"),
        ("postgres://app:pw@db:5432/x", f"postgres://app:{R}@db:5432/x"),
        ("cache key=user:1 hit", "cache key=user:1 hit"),
        ("the bearer of news", "the bearer of news"),
        ("time 12:30 ok", "time 12:30 ok"),
        ("plain message", "plain message"),
        ("", ""),
    ],
)
def test_text(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    ("key", "sensitive"),
    [
        ("Authorization", True),
        ("set-cookie", True),
        ("X-Api-Key", True),
        ("db_password", True),
        ("csrf_token", True),
        ("clientSecret", True),
        ("user", False),
        ("keyboard", False),
        (42, False),
    ],
)
def test_sensitive_keys(key: object, sensitive: bool) -> None:
    assert is_sensitive_key(key) is sensitive


def test_data_recursive_and_pure() -> None:
    data: dict[str, Any] = {
        "headers": {"Authorization": "Bearer t", "Cookie": "a=1", "Accept": "x"},
        "nested": [{"password": "p", "url": "https://h/?sig=1"}, ("token", "not-a-key")],
        "set": frozenset({"a"}),
        "n": None,
        7: "int key",
    }
    before = copy.deepcopy(data)
    out = redact_data(data)
    assert data == before
    assert out == {
        "headers": {"Authorization": f"Bearer {R}", "Cookie": f"a={R}", "Accept": "x"},
        "nested": [{"password": R, "url": f"https://h/?sig={R}"}, ("token", "not-a-key")],
        "set": frozenset({"a"}),
        "n": None,
        7: "int key",
    }


def test_data_configurable_keys() -> None:
    assert redact_data({"ssn": "1", "token": "t"}, keys={"ssn"}, parts=()) == {
        "ssn": R,
        "token": "t",
    }


def test_data_cycles_and_depth() -> None:
    loop: list[Any] = [1]
    loop.append(loop)
    assert redact_data(loop) == [1, "[CYCLE]"]
    deep: Any = "leaf"
    for _ in range(100):
        deep = [deep]
    out = redact_data(deep, max_depth=5)
    for _ in range(5):
        out = out[0]  # type: ignore[index]
    assert out == "[TRUNCATED]"


class _Hostile:
    def __str__(self) -> str:
        raise RuntimeError("no")


def test_hostile_key_is_not_sensitive_and_does_not_raise() -> None:
    assert redact_data({_Hostile(): "v"}) is not None


@pytest.mark.parametrize(
    "text",
    [
        "a" * 1_000_000,
        "token" * 200_000,
        "?" + "a" * 200 + "=" + "b" * 1_000_000,
        "password=" * 100_000,
        "x" + "&token=" * 100_000,
        "Authorization: " + "\"'" * 100_000,
        "https://" + "a:" * 100_000 + "@",
        "bearer " * 100_000,
    ],
)
def test_hostile_text_is_linear(text: str) -> None:
    start = time.process_time()
    redact_text(text)
    redact_url(text)
    redact_query(text)
    assert time.process_time() - start < 5.0


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_never_raises_and_is_idempotent(text: str) -> None:
    once = redact_text(text)
    assert redact_text(once) == once
    assert redact_url(redact_url(text)) == redact_url(text)
    assert redact_query(redact_query(text)) == redact_query(text)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["token", "ACCESS_TOKEN", "Api-Key", "sig"]),
    st.text(alphabet="abc123-_.~", min_size=1),
)
def test_secret_values_never_survive(name: str, secret: str) -> None:
    url = f"https://h/p?x=1&{name}={secret}&y=2"
    assert f"{name}={secret}&" not in redact_url(url)
    assert f"{name}={R}&" in redact_url(url)
