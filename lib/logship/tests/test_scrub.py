"""Personal data rules (logship.scrub): table tests, hostile inputs, and every record kind."""

from __future__ import annotations

import io
import json
import logging
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from logship.access import log_access
from logship.formatter import JsonFormatter
from logship.redact import redact_text
from logship.scrub import (
    TRIGGER,
    clean_text,
    luhn_valid,
    scrub_path,
    scrub_query,
    scrub_text,
)

R = "[REDACTED]"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
CARD = "4111 1111 1111 1111"
EMAIL = "bob.smith+x@mail.example.com"


@pytest.mark.parametrize(
    ("text", "expected", "counts"),
    [
        pytest.param(f"mail {EMAIL} now", "mail [email] now", {"email": 1}, id="email"),
        pytest.param("a@b.io and c@d.co", "[email] and [email]", {"email": 2}, id="two-emails"),
        pytest.param(f"card {CARD}!", "card [card]!", {"card": 1}, id="card-spaces"),
        pytest.param("4111-1111-1111-1111", "[card]", {"card": 1}, id="card-dashes"),
        pytest.param("amex 378282246310005", "amex [card]", {"card": 1}, id="card-15"),
        pytest.param("#8 4111 1111 1111 1111", "#8 [card]", {"card": 1}, id="card-after-number"),
        pytest.param(f"jwt {JWT} end", "jwt [jwt] end", {"jwt": 1}, id="jwt"),
        pytest.param("Bearer abcdef123456", f"Bearer {R}", {"bearer": 1}, id="bearer"),
        pytest.param("BEARER abcdef123456", f"BEARER {R}", {"bearer": 1}, id="bearer-upper"),
        pytest.param("/p?code=s3cr3t&page=2", f"/p?code={R}&page=2", {"url_query": 1}, id="q-code"),
        pytest.param("/p?session=abc", f"/p?session={R}", {"url_query": 1}, id="q-session"),
        pytest.param("/p?sessionid=abc", f"/p?sessionid={R}", {"url_query": 1}, id="q-sessionid"),
        pytest.param("/p?a=1&pwd=x", f"/p?a=1&pwd={R}", {"url_query": 1}, id="q-pwd"),
        pytest.param("/p?pw=x;pass=y", f"/p?pw={R};pass={R}", {"url_query": 2}, id="q-pw-pass"),
        pytest.param("/p?cc=1&ssn=2", f"/p?cc={R}&ssn={R}", {"url_query": 2}, id="q-cc-ssn"),
        pytest.param("/p?Card%5B0%5D=1", f"/p?Card%5B0%5D={R}", {"url_query": 1}, id="q-encoded"),
        pytest.param("/p#access_token=t", f"/p#access_token={R}", {"url_query": 1}, id="fragment"),
        pytest.param("/p?q=bob%40example.com", "/p?q=[email]", {"email": 1}, id="q-encoded-email"),
        pytest.param(
            "/p?q=4111+1111+1111+1111&n=2", "/p?q=[card]&n=2", {"card": 1}, id="q-plus-card"
        ),
        pytest.param(
            "/p?q=4111%201111%201111%201111", "/p?q=[card]", {"card": 1}, id="q-encoded-card"
        ),
        pytest.param(
            "/p?q=Bearer%20abcdefgh1", "/p?q=Bearer+[REDACTED]", {"bearer": 1}, id="q-bearer"
        ),
        pytest.param(
            "/p?email=bob@example.com",
            f"/p?email={R}",
            {"email": 1, "url_query": 1},
            id="q-email-key-and-shape",
        ),
        pytest.param("failed pw=hunter2", f"failed pw={R}", {"key_value": 1}, id="kv-pw"),
        pytest.param("session=abc123 ok", f"session={R} ok", {"key_value": 1}, id="kv-session"),
        pytest.param('pwd="a b"', f'pwd="{R}"', {"key_value": 1}, id="kv-quoted"),
        pytest.param("x (pwd=abc)", f"x (pwd={R}", {"key_value": 1}, id="kv-in-parens"),
        pytest.param(
            "Mozilla/5.0 (x; session=s1) Chrome/1",
            f"Mozilla/5.0 (x; session={R} Chrome/1",
            {"key_value": 1},
            id="kv-user-agent",
        ),  # fmt: skip
        pytest.param(
            "/api/catalog/items/4111111111111111",
            "/api/catalog/items/[card]",
            {"card": 1},
            id="path-card",
        ),  # fmt: skip
        pytest.param("/u/bob@example.com/x", "/u/[email]/x", {"email": 1}, id="path-email"),
    ],
)
def test_rules(text: str, expected: str, counts: dict[str, int]) -> None:
    seen: dict[str, int] = {}
    assert scrub_text(text, seen) == expected
    assert seen == counts
    assert scrub_text(expected) == expected  # idempotent
    assert clean_text(text) == clean_text(clean_text(text))


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("order 4111111111111112", id="luhn-fails"),
        pytest.param("4111 1111 1111 1112", id="luhn-fails-spaced"),
        pytest.param("id 123456789012", id="12-digits"),
        pytest.param("n 12345678901234567890", id="20-digits"),
        pytest.param("ts 1700000000000", id="epoch-ms"),
        pytest.param("2026-01-02T03:04:05.678Z", id="iso-datetime"),
        pytest.param("2026-01-02 2026-01-03 2026-01-04", id="iso-dates"),
        pytest.param("123e4567-e89b-12d3-a456-426614174000", id="uuid"),
        pytest.param("3f2c9a1e0b7d4c6f8a5e2d1c0b9a8f7e", id="request-id-hex"),
        pytest.param("req-20260102-000001.a_b", id="request-id-token"),
        pytest.param("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", id="traceparent"),
        pytest.param("at foo@https://shop.example/a.js:1:2", id="firefox-frame"),
        pytest.param("/p?page=2&sort=asc", id="harmless-query"),
        pytest.param("upstream failed code=502 key=catalog", id="code-in-text"),
        pytest.param("bearer of bad news", id="bearer-word"),
        pytest.param("GET /api/catalog/items/42 200", id="access-message"),
        pytest.param("ab==cd", id="base64-padding"),
        pytest.param("\u0664" * 16, id="non-ascii-digits"),
        pytest.param("", id="empty"),
    ],
)
def test_harmless_text_is_kept(text: str) -> None:
    seen: dict[str, int] = {}
    assert scrub_text(text, seen) == text
    assert seen == {}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param("email=bob@example.com&page=2", f"email={R}&page=2", id="email-key"),
        pytest.param("q=bob%40example.com", "q=[email]", id="encoded-email"),
        pytest.param("session=abc&pwd=x", f"session={R}&pwd={R}", id="session-pwd"),
        pytest.param("token=abc", f"token={R}", id="token"),
        pytest.param(f"t={JWT}", "t=[jwt]", id="jwt"),
        pytest.param("?card=1", f"?card={R}", id="leading-mark"),
        pytest.param("n=4111111111111111", "n=[card]", id="card"),
        pytest.param("x=%ZZ&y=%E0%A4%A", "x=%ZZ&y=%E0%A4%A", id="invalid-escapes"),
        pytest.param("date=2026-01-02&id=123e4567-e89b-12d3-a456-426614174000", None, id="kept"),
        pytest.param("a&b&=&==", None, id="odd-separators"),
    ],
)
def test_query(query: str, expected: str | None) -> None:
    assert scrub_query(query) == (query if expected is None else expected)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param("/api/catalog/items/4111111111111111", "/api/catalog/items/[card]", id="card"),
        pytest.param("/u/bob%40example.com/x", "/u/[email]/x", id="encoded-email"),
        pytest.param("/u/4111%201111%201111%201111", "/u/[card]", id="encoded-card"),
        pytest.param("/a%2Fb/%ZZ", "/a%2Fb/%ZZ", id="invalid-escape-kept"),
        pytest.param("/orders/123e4567-e89b-12d3-a456-426614174000", None, id="uuid-kept"),
        pytest.param("/reports/2026-01-02", None, id="date-kept"),
    ],
)
def test_path(path: str, expected: str | None) -> None:
    assert scrub_path(path) == (path if expected is None else expected)


def test_luhn() -> None:
    assert luhn_valid("4111111111111111") and luhn_valid("5500005555555559")
    assert not luhn_valid("4111111111111121") and not luhn_valid("41111111111")
    assert not luhn_valid("\u0664" * 16)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("a" * 1_000_000 + "@", id="long-local-part"),
        pytest.param("eyJ-" * 250_000, id="jwt-starts"),
        pytest.param("1 " * 500_000, id="digit-groups"),
        pytest.param("4" * 1_000_000, id="digit-run"),
        pytest.param("?a=" * 300_000, id="query-starts"),
        pytest.param("x=" * 500_000, id="assignments"),
        pytest.param("a@b." * 250_000, id="at-dots"),
        pytest.param("%" * 1_000_000 + "?q=%", id="percents"),
    ],
)
def test_huge_hostile_strings_are_linear(text: str) -> None:
    """The whole string costs about four times its first quarter (a quadratic rule would
    cost sixteen): a ratio in the same process, so a loaded machine does not decide it."""

    def cost(value: str) -> float:
        started = time.process_time()
        clean_text(value)
        scrub_query(value)
        scrub_path(value)
        return time.process_time() - started

    quarter = min(cost(text[: len(text) // 4]) for _ in range(3))
    whole = cost(text)
    assert whole < 60.0
    assert whole < 4 * 2.5 * max(quarter, 0.01), (whole, quarter)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
def test_never_raises_and_untriggered_text_is_kept(text: str) -> None:
    out = clean_text(text)
    assert isinstance(out, str)
    scrub_query(text)
    scrub_path(text)
    if TRIGGER.search(text) is None:
        assert out == text
        assert redact_text(text) == text


# -- every record the formatter writes -------------------------------------------------------

SECRETS = ("bob@example.com", "4111111111111111", "4111 1111 1111 1111", JWT, "tok3nV4lue", "s3ss")


def _formatted(record: logging.LogRecord) -> str:
    return JsonFormatter("svc", "test").format(record)


def _record(msg: str, args: tuple[object, ...] = (), **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, msg, args, None)
    record.__dict__.update(extra)
    return record


PLANTED = f"bob@example.com 4111 1111 1111 1111 {JWT} Bearer tok3nV4lue session=s3ss"


@pytest.mark.parametrize(
    "record",
    [
        pytest.param(_record(PLANTED), id="message"),
        pytest.param(_record("user %s", (PLANTED,)), id="message-args"),
        pytest.param(_record("m", data={"id": PLANTED}), id="data-string"),
        pytest.param(_record("m", data={"ids": [PLANTED], "n": {"deep": PLANTED}}), id="nested"),
        pytest.param(_record("m", user_agent=PLANTED), id="extra-attribute"),
        pytest.param(
            _record("m", data={"url": "/p?email=bob%40example.com&session=s3ss"}), id="url"
        ),
        pytest.param(_record("m", data={"path": "/items/4111111111111111"}), id="fast-path-card"),
        pytest.param(_record("m", data={"who": "bob@example.com"}), id="fast-path-email"),
        pytest.param(_record("m", data={"t": JWT}), id="fast-path-jwt"),
        pytest.param(_record("m", data={"b": b"bob@example.com"}), id="bytes"),
    ],
)
def test_formatter_redacts_every_field(record: logging.LogRecord) -> None:
    line = _formatted(record)
    json.loads(line)
    for secret in SECRETS:
        assert secret not in line


def test_formatter_redacts_exception_text() -> None:
    try:
        raise ValueError(f"bad card {CARD} for bob@example.com")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = _formatted(record)
    doc = json.loads(line)
    assert doc["exception"]["message"] == "bad card [card] for [email]"
    assert "4111" not in line and "bob@" not in line


def test_formatter_keeps_ids_dates_and_plain_numbers() -> None:
    data = {
        "id": "123e4567-e89b-12d3-a456-426614174000",
        "at": "2026-01-02T03:04:05.678Z",
        "ms": 1700000000000,
        "order": "4111111111111112",
    }
    doc = json.loads(_formatted(_record("GET /x 200", data=data, request_id="req-1")))
    assert doc["data"] == data
    assert doc["request_id"] == "req-1"


def test_access_record_redacts_path_query_and_message() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("svc", "test"))
    log = logging.getLogger("test.scrub.access")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        log_access(
            log, "GET", "/api/catalog/items/4111111111111111",
            "email=bob%40example.com&session=s3ss&pwd=p&q=4111+1111+1111+1111&page=2",
            404, 1.5, 10, request_id="rid-1",
        )  # fmt: skip
    finally:
        log.removeHandler(handler)
    doc = json.loads(stream.getvalue())
    assert doc["message"] == "GET /api/catalog/items/[card] 404"
    assert doc["data"]["path"] == "/api/catalog/items/[card]"
    assert doc["data"]["query"] == f"email={R}&session={R}&pwd={R}&q=[card]&page=2"
    assert doc["request_id"] == "rid-1"
