"""The client-error ingest through the Flask test client: formats, limits of input, noise,
scrubbing, counters, and fuzzing of every endpoint."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from bff.client_errors.envelope import parse_envelope, split_envelope
from bff.client_errors.events import InvalidInput, truncate_ip
from bff.client_errors.fingerprint import fingerprint, normalize_message
from bff.client_errors.noise import noise_reason
from bff.client_errors.scrub import Scrubber, luhn_valid
from bff.client_errors.stack import Frame, parse_stack
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from logship.formatter import JsonFormatter
from logship.redact import SENSITIVE_QUERY_PARAMS

from bff import create_app

from .conftest import CLOSED_PORT_URL, make_settings

PLANTED_EMAIL = "planted.person@example.org"
PLANTED_CARD = "4111111111111111"
PLANTED_JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl"


class Records(logging.Handler):
    """Formats every record of the ingest loggers with logship's formatter, as shipped."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter("bff", "test"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def parsed(self, logger: str = "bff.client_errors") -> list[dict[str, Any]]:
        records = [json.loads(line) for line in self.lines]
        return [r for r in records if r["logger"] == logger]


@pytest.fixture
def records() -> Iterator[Records]:
    handler = Records()
    names = ("bff.client_errors", "bff.vitals", "bff.ratelimit")
    for name in names:
        logging.getLogger(name).addHandler(handler)
        logging.getLogger(name).setLevel(logging.INFO)
    yield handler
    for name in names:
        logging.getLogger(name).removeHandler(handler)
        logging.getLogger(name).setLevel(logging.NOTSET)


def ingest_app(**env: str) -> Flask:
    """An app with generous limits unless ``env`` says otherwise."""
    base = {
        "BFF_CLIENT_ERRORS_RATE": "100000/minute",
        "BFF_CLIENT_ERRORS_FINGERPRINT_RATE": "100000/minute",
        "BFF_VITALS_RATE": "100000/minute",
    }
    return create_app(make_settings(CLOSED_PORT_URL, **{**base, **env}))


@pytest.fixture
def ingest() -> FlaskClient:
    return ingest_app().test_client()


CHROME_STACK = (
    "TypeError: Cannot read properties of undefined (reading 'id')\n"
    "    at renderItem (https://shop.example/_next/static/chunks/app-3f2a1b.js:1:2045)\n"
    "    at Array.map (<anonymous>)\n"
    "    at https://shop.example/_next/static/chunks/app-3f2a1b.js:1:3100\n"
    "    at async Promise.all (index 0)"
)


def report(**overrides: Any) -> dict[str, Any]:
    """A valid v1 report."""
    doc: dict[str, Any] = {
        "v": 1,
        "incident": "K7Q2-M9XA",
        "kind": "error",
        "error": {"type": "TypeError", "message": "boom 42", "stack": CHROME_STACK},
        "url": "https://shop.example/products/42?ref=home",
        "route": "/products/[id]",
        "release": "build-abc123",
        "session": "tab-5f1c",
        "breadcrumbs": [{"t": 1_700_000_000_000, "type": "click", "data": {"target": "button"}}],
        "request_ids": ["a1b2c3"],
        "ts": 1_700_000_000_500,
    }
    doc.update(overrides)
    return doc


# -- our report format -----------------------------------------------------------------------


def test_report_becomes_one_record_with_the_contract_fields(
    ingest: FlaskClient, records: Records
) -> None:
    resp = ingest.post(
        "/api/client-errors",
        json=report(),
        headers={"User-Agent": "Mozilla/5.0 Test", "X-Request-ID": "ingest-1"},
    )
    assert resp.status_code == 202
    assert resp.get_json() == {"incident": "K7Q2-M9XA", "request_id": "ingest-1"}
    [record] = records.parsed()
    assert record["level"] == "WARNING"
    assert record["message"] == "client error: TypeError: boom 42"
    assert record["request_id"] == "ingest-1"
    data = record["data"]
    assert {
        "source",
        "kind",
        "incident",
        "fingerprint",
        "release",
        "type",
        "message",
        "url",
        "route",
        "session",
        "user_agent",
        "client_ip",
        "received_at",
        "frames",
        "breadcrumbs",
        "request_ids",
        "scrubbed",
    } <= set(data)
    assert data["source"] == "reporter" and data["kind"] == "error"
    assert len(data["fingerprint"]) == 16 and int(data["fingerprint"], 16) >= 0
    assert data["user_agent"] == "Mozilla/5.0 Test"
    assert data["client_ip"] == "127.0.0.0"
    assert data["session"] == "tab-5f1c"
    assert data["received_at"].endswith("Z")
    assert [f["status"] for f in data["frames"]] == [
        "no-map",
        "not-minified",
        "no-map",
        "not-minified",
    ]
    assert data["frames"][0]["function"] == "renderItem"


def test_text_plain_from_send_beacon_is_accepted(ingest: FlaskClient, records: Records) -> None:
    resp = ingest.post(
        "/api/client-errors",
        data=json.dumps(report()),
        headers={"Content-Type": "text/plain;charset=UTF-8"},
    )
    assert resp.status_code == 202
    assert len(records.parsed()) == 1


def test_server_kind_is_logged_as_source_server(ingest: FlaskClient, records: Records) -> None:
    resp = ingest.post("/api/client-errors", json=report(kind="server", digest="1234567890"))
    assert resp.status_code == 202
    [record] = records.parsed()
    assert record["data"]["source"] == "server" and record["data"]["digest"] == "1234567890"


def test_unknown_keys_are_ignored(ingest: FlaskClient) -> None:
    assert ingest.post("/api/client-errors", json=report(extra={"x": 1})).status_code == 202


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        pytest.param({"incident": "abc"}, "/incident", id="incident-short-lower"),
        pytest.param({"incident": "A" * 33}, "/incident", id="incident-long"),
        pytest.param({"kind": "crash"}, "/kind", id="kind"),
        pytest.param({"error": "boom"}, "/error", id="error-not-object"),
        pytest.param({"error": {"message": "x"}}, "/error/type", id="type-missing"),
        pytest.param({"error": {"type": "E", "message": 3}}, "/error/message", id="message-num"),
        pytest.param(
            {"error": {"type": "E", "message": "x" * 8193}}, "/error/message", id="msg-long"
        ),
        pytest.param({"url": "javascript:alert(1)"}, "/url", id="url-scheme"),
        pytest.param({"url": None}, "/url", id="url-missing"),
        pytest.param({"release": "../../etc"}, "/release", id="release-path"),
        pytest.param({"session": "a b"}, "/session", id="session-space"),
        pytest.param({"breadcrumbs": [{}] * 31}, "/breadcrumbs", id="too-many-crumbs"),
        pytest.param(
            {"breadcrumbs": [{"t": 1, "type": "hover"}]}, "/breadcrumbs/0/type", id="crumb-type"
        ),
        pytest.param(
            {"breadcrumbs": [{"t": "x", "type": "click"}]}, "/breadcrumbs/0/t", id="crumb-t"
        ),
        pytest.param(
            {"breadcrumbs": [{"t": 1, "type": "click", "data": {"x": "y" * 3000}}]},
            "/breadcrumbs/0/data",
            id="crumb-data-big",
        ),
        pytest.param({"request_ids": ["ok"] * 11}, "/request_ids", id="too-many-ids"),
        pytest.param({"request_ids": ["bad id"]}, "/request_ids/0", id="bad-id"),
        pytest.param({"ts": True}, "/ts", id="ts-bool"),
    ],
)
def test_invalid_reports_are_422_with_a_pointer(
    ingest: FlaskClient, records: Records, change: dict[str, Any], pointer: str
) -> None:
    doc = report(**change)
    if change.get("url", "") is None:
        del doc["url"]
    resp = ingest.post("/api/client-errors", json=doc)
    assert resp.status_code == 422
    assert resp.headers["Content-Type"] == "application/problem+json"
    body = resp.get_json()
    assert body["type"] == "urn:bff:problem:invalid-report"
    assert pointer in [e["pointer"] for e in body["errors"]]
    assert pointer in body["detail"]  # the detail names the refused fields, in words
    assert records.parsed() == []


@pytest.mark.parametrize(
    ("body", "headers", "status", "slug"),
    [
        pytest.param(
            b"{not json", {"Content-Type": "application/json"}, 400, "bad-json", id="json"
        ),
        pytest.param(b"", {"Content-Type": "application/json"}, 400, "empty-body", id="empty"),
        pytest.param(
            b"[]", {"Content-Type": "application/json"}, 422, "invalid-report", id="array"
        ),
        pytest.param(
            b'{"v":2}', {"Content-Type": "application/json"}, 422, "unsupported-version", id="v2"
        ),
        pytest.param(
            b"{}", {"Content-Type": "application/xml"}, 415, "unsupported-media-type", id="xml"
        ),
        pytest.param(b"{}", {}, 415, "unsupported-media-type", id="no-type"),
        pytest.param(
            b"x" * (64 * 1024 + 1),
            {"Content-Type": "application/json"},
            413,
            "body-too-large",
            id="too-large",
        ),
    ],
)
def test_bad_bodies_are_problems(
    ingest: FlaskClient, body: bytes, headers: dict[str, str], status: int, slug: str
) -> None:
    resp = ingest.post("/api/client-errors", data=body, headers=headers)
    assert resp.status_code == status
    assert resp.get_json()["type"] == f"urn:bff:problem:{slug}"
    assert resp.headers["X-Request-ID"]


def test_wrong_method_is_405_problem(ingest: FlaskClient) -> None:
    resp = ingest.get("/api/client-errors")
    assert resp.status_code == 405
    assert resp.headers["Content-Type"] == "application/problem+json"


# -- noise -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "stack", "reason"),
    [
        pytest.param("ResizeObserver loop limit exceeded", "", "resize_observer", id="ro-limit"),
        pytest.param(
            "ResizeObserver loop completed with undelivered notifications.",
            "",
            "resize_observer",
            id="ro-undelivered",
        ),
        pytest.param("Script error.", "", "script_error", id="script-error"),
        pytest.param(
            "x is undefined",
            "x@chrome-extension://abcdef/content.js:1:2\n",
            "extension",
            id="chrome-ext",
        ),
        pytest.param(
            "x", "    at f (moz-extension://1234/inject.js:3:4)", "extension", id="moz-ext"
        ),
        pytest.param(
            "x", "f@safari-web-extension://ABC/script.js:1:1", "extension", id="safari-ext"
        ),
    ],
)
def test_noise_is_accepted_counted_and_not_logged(
    ingest: FlaskClient, records: Records, message: str, stack: str, reason: str
) -> None:
    doc = report(error={"type": "Error", "message": message, "stack": stack})
    assert ingest.post("/api/client-errors", json=doc).status_code == 202
    assert records.parsed() == []
    counters = ingest.get("/internal/client-errors").get_json()["counters"]
    assert counters["filtered"] == {reason: 1}
    assert counters["accepted"] == {}


@pytest.mark.parametrize(
    ("message", "stack"),
    [
        pytest.param("Script error.", CHROME_STACK, id="script-error-with-frames"),
        pytest.param("ResizeObserver is not defined", "", id="other-resize-observer"),
        pytest.param(
            "x",
            "    at ours (https://shop.example/a.js:1:1)\n    at chrome-extension://a/b.js:1:1",
            id="extension-below-our-frame",
        ),
    ],
)
def test_not_noise(message: str, stack: str) -> None:
    assert noise_reason(message, parse_stack(stack)) is None


# -- scrubbing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected", "rule"),
    [
        pytest.param(
            "mail bob.smith+x@mail.example.com now", "mail [email] now", "email", id="email"
        ),
        pytest.param("card 4111 1111 1111 1111!", "card [card]!", "card", id="card-spaces"),
        pytest.param("card 4111-1111-1111-1111", "card [card]", "card", id="card-dashes"),
        pytest.param("amex 378282246310005", "amex [card]", "card", id="card-15"),
        pytest.param(f"jwt {PLANTED_JWT} end", "jwt [jwt] end", "jwt", id="jwt"),
        pytest.param(
            "Authorization: Bearer abcdef123456",
            "Authorization: Bearer [REDACTED]",
            "bearer",
            id="bearer",
        ),
        pytest.param(
            "https://x/cb?code=s3cr3t&page=2",
            "https://x/cb?code=[REDACTED]&page=2",
            "url_query",
            id="query-code",
        ),
        pytest.param(
            "/p?access_token=abc", "/p?access_token=[REDACTED]", "url_query", id="query-token"
        ),
        pytest.param(
            "/p?session_id=abc#x", "/p?session_id=[REDACTED]#x", "url_query", id="query-session"
        ),
        pytest.param("/p?pwd=x&page=2", "/p?pwd=[REDACTED]&page=2", "url_query", id="query-pwd"),
        pytest.param("/p?q=bob%40example.com", "/p?q=[email]", "email", id="query-encoded-email"),
        pytest.param(
            "login failed pw=hunter2", "login failed pw=[REDACTED]", "key_value", id="text-pw"
        ),
        pytest.param("UA (session=s3ss)", "UA (session=[REDACTED]", "key_value", id="text-session"),
    ],
)
def test_scrub_rules(text: str, expected: str, rule: str) -> None:
    scrubber = Scrubber()
    assert scrubber.text(text) == expected
    assert scrubber.counts == {rule: 1}


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("order 4111111111111112", id="luhn-fails"),
        pytest.param("id 123456789012", id="12-digits"),
        pytest.param("n 12345678901234567890", id="20-digits"),
        pytest.param("ts 1700000000000", id="epoch-ms-not-luhn"),
        pytest.param("at foo@https://shop.example/a.js:1:2", id="firefox-frame"),
        pytest.param("/p?page=2&sort=asc", id="harmless-query"),
        pytest.param("bearer of bad news", id="bearer-word"),
        pytest.param("upstream failed code=502", id="code-in-text"),
        pytest.param("2026-01-02T03:04:05.678Z", id="iso-datetime"),
        pytest.param("123e4567-e89b-12d3-a456-426614174000", id="uuid"),
        pytest.param("v4-1727788225123-8617465892413", id="web-vitals-id"),
    ],
)
def test_scrub_leaves_harmless_text(text: str) -> None:
    scrubber = Scrubber()
    assert scrubber.text(text) == text
    assert scrubber.counts == {}


def test_luhn() -> None:
    assert luhn_valid("4111111111111111") and luhn_valid("5500005555555559")
    assert not luhn_valid("4111111111111121") and not luhn_valid("41111111111")


def test_sensitive_keys_are_scrubbed_but_our_session_is_kept(
    ingest: FlaskClient, records: Records
) -> None:
    crumbs = [
        {"t": 1, "type": "fetch", "data": {"session": "s1", "csrfToken": "c", "Cookie": "a=b"}},
        {"t": 2, "type": "navigation", "data": {"to": "/a", "user_password": "hunter2"}},
    ]
    resp = ingest.post("/api/client-errors", json=report(breadcrumbs=crumbs))
    assert resp.status_code == 202
    data = records.parsed()[0]["data"]
    assert data["session"] == "tab-5f1c"
    assert data["breadcrumbs"][0]["data"] == {
        "session": "[REDACTED]",
        "csrfToken": "[REDACTED]",
        "Cookie": "[REDACTED]",
    }
    assert data["breadcrumbs"][1]["data"]["user_password"] == "[REDACTED]"
    assert data["scrubbed"] == {"sensitive_key": 4}


def test_scrubbing_can_be_turned_off() -> None:
    client = ingest_app(BFF_CLIENT_ERRORS_SCRUB="false").test_client()
    doc = report(error={"type": "E", "message": PLANTED_EMAIL})
    assert client.post("/api/client-errors", json=doc).status_code == 202
    assert client.get("/internal/client-errors").get_json()["counters"]["scrubbed"] == {}


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("203.0.113.77", "203.0.113.0"),
        ("2001:db8:abcd:12:1:2:3:4", "2001:db8:abcd::"),
        ("::ffff:198.51.100.9", "198.51.100.0"),
        ("fe80::1%eth0", "fe80::"),
        ("not-an-ip", None),
        (None, None),
    ],
)
def test_client_ip_is_truncated(address: str | None, expected: str | None) -> None:
    assert truncate_ip(address) == expected


# -- the shipped record covers logship's redaction (its formatter does not walk it again) -----

LOGSHIP_SECRET = "s3cr3tValue9"


def _planted_report() -> dict[str, Any]:
    """A report with every kind of secret logship's formatter redacts, in every user field."""
    from logship.redact import DEFAULT_SENSITIVE_KEY_PARTS, DEFAULT_SENSITIVE_KEYS

    query = "&".join(f"{name}={LOGSHIP_SECRET}" for name in sorted(SENSITIVE_QUERY_PARAMS))
    text = (
        f"Authorization: Basic {LOGSHIP_SECRET} Cookie: sid={LOGSHIP_SECRET} "
        f"password={LOGSHIP_SECRET} api_key: {LOGSHIP_SECRET} Bearer {LOGSHIP_SECRET} "
        f"https://user:{LOGSHIP_SECRET}@db.example/x?{query}"
    )
    keys = {k: LOGSHIP_SECRET for k in (*DEFAULT_SENSITIVE_KEYS, *DEFAULT_SENSITIVE_KEY_PARTS)}
    keys.update({"X-Api-Key": LOGSHIP_SECRET, "Set-Cookie": f"a={LOGSHIP_SECRET}", "note": text})
    crumbs = [
        {"t": 1, "type": "fetch", "data": dict(list(keys.items())[:20])},
        {"t": 2, "type": "fetch", "data": dict(list(keys.items())[20:])},
        {"t": 3, "type": "navigation", "data": {"headers": {"authorization": LOGSHIP_SECRET}}},
    ]
    stack = (
        f"Error: x\n    at f (https://shop.example/_next/static/chunks/a.js?{query}:1:2)\n"
        f"    at g (https://u:{LOGSHIP_SECRET}@shop.example/b.js:3:4)"
    )
    return report(
        error={"type": "Error", "message": text, "stack": stack},
        url=f"https://shop.example/p?{query}",
        route=f"/p?token={LOGSHIP_SECRET}",
        session=f"password:{LOGSHIP_SECRET}",
        breadcrumbs=crumbs,
    )


class RawRecords(logging.Handler):
    """Keeps the records themselves."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_shipped_event_holds_no_secret_logship_would_redact(records: Records) -> None:
    from logship.formatter import _PrepState
    from logship.redact import RedactedData

    raw = RawRecords()
    logging.getLogger("bff.client_errors").addHandler(raw)
    try:
        client = ingest_app().test_client()
        resp = client.post(
            "/api/client-errors",
            json=_planted_report(),
            headers={"User-Agent": f"UA/1 (Authorization: Bearer {LOGSHIP_SECRET})"},
        )
    finally:
        logging.getLogger("bff.client_errors").removeHandler(raw)
    assert resp.status_code == 202
    [line] = [line for line in records.lines if '"bff.client_errors"' in line]
    assert LOGSHIP_SECRET not in line
    [record] = raw.records
    data = record.__dict__["data"]
    assert type(data) is RedactedData  # the formatter's walk was skipped
    # ... and that walk would have changed nothing: the ingest's output is already final.
    formatter = JsonFormatter("bff", "test")
    walked = formatter._prep(data.data, 16, _PrepState())
    assert walked == json.loads(json.dumps(data.data))


def test_ingest_key_rule_covers_logships() -> None:
    from bff.client_errors.scrub import RULES, is_logship_sensitive, is_sensitive_name
    from logship.redact import DEFAULT_SENSITIVE_KEY_PARTS, DEFAULT_SENSITIVE_KEYS

    for key in (*DEFAULT_SENSITIVE_KEYS, *DEFAULT_SENSITIVE_KEY_PARTS):
        for spelling in (key, key.upper(), key.replace("_", "-"), key.replace("_", " ")):
            assert is_sensitive_name(spelling), spelling
    # Names the ingest itself writes must not be redacted by the formatter.
    own = [*RULES, "function", "file", "line", "column", "status", "minified", "digest"]
    own += ["source", "kind", "incident", "fingerprint", "release", "type", "message", "url"]
    own += ["route", "session", "user_agent", "client_ip", "received_at", "frames"]
    own += ["breadcrumbs", "request_ids", "scrubbed", "client_ts", "csp"]
    assert not [name for name in own if is_logship_sensitive(name)]


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=80))
def test_strings_without_the_trigger_pass_both_rule_sets_unchanged(text: str) -> None:
    from bff.client_errors.scrub import _SHIP_TRIGGER
    from logship.redact import redact_text

    if _SHIP_TRIGGER.search(text) is None:
        assert redact_text(text) == text
        assert Scrubber().text(text) == text


def test_unparseable_urls_in_frames_are_accepted(ingest: FlaskClient) -> None:
    stack = "Error: x\n    at f (http://[bad/_next/static/chunks/a.js:1:2)"
    doc = report(error={"type": "Error", "message": "m", "stack": stack}, url="http://[bad/p")
    assert ingest.post("/api/client-errors", json=doc).status_code == 202


# -- stacks and fingerprints -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        pytest.param(
            "    at foo (https://a.example/x.js:10:20)",
            ("foo", "https://a.example/x.js", 10, 20),
            id="v8",
        ),
        pytest.param(
            "    at https://a.example/x.js:1:2",
            (None, "https://a.example/x.js", 1, 2),
            id="v8-anon",
        ),
        pytest.param(
            "    at async load (https://a.example/x.js:3:4)",
            ("load", "https://a.example/x.js", 3, 4),
            id="v8-async",
        ),
        pytest.param(
            "    at new Widget (https://a.example/x.js:5:6)",
            ("new Widget", "https://a.example/x.js", 5, 6),
            id="v8-new",
        ),
        pytest.param(
            "    at Object.<anonymous> (https://a.example/x.js:7:8)",
            ("Object.<anonymous>", "https://a.example/x.js", 7, 8),
            id="v8-object",
        ),
        pytest.param(
            "    at eval (eval at run (https://a.example/x.js:9:10), <anonymous>:1:1)",
            ("eval", "https://a.example/x.js", 9, 10),
            id="v8-eval",
        ),
        pytest.param(
            "    at Array.map (<anonymous>)", ("Array.map", None, None, None), id="v8-native"
        ),
        pytest.param(
            "foo@https://a.example/x.js:10:20",
            ("foo", "https://a.example/x.js", 10, 20),
            id="firefox",
        ),
        pytest.param(
            "foo/<@https://a.example/x.js:1:2",
            ("foo/<", "https://a.example/x.js", 1, 2),
            id="firefox-nested",
        ),
        pytest.param(
            "@https://a.example/x.js:1:2", (None, "https://a.example/x.js", 1, 2), id="firefox-anon"
        ),
        pytest.param(
            "global code@https://a.example/x.js:1:2",
            (None, "https://a.example/x.js", 1, 2),
            id="safari-global",
        ),
        pytest.param(
            "https://a.example/x.js:3:4", (None, "https://a.example/x.js", 3, 4), id="safari-bare"
        ),
        pytest.param("[native code]", (None, None, None, None), id="safari-native"),
    ],
)
def test_stack_lines(line: str, expected: tuple[Any, ...]) -> None:
    [frame] = parse_stack(line)
    assert (frame.function, frame.file, frame.line, frame.column) == expected


def test_stack_skips_message_lines_and_caps_frames() -> None:
    stack = (
        "Error: user bob@example.com failed\n  second line\n"
        + "    at f (https://a/x.js:1:1)\n" * 80
    )
    frames = parse_stack(stack)
    assert len(frames) == 50 and all(f.function == "f" for f in frames)


@pytest.mark.parametrize(
    ("message", "normal"),
    [
        ("Failed to load item 12345", "Failed to load item <n>"),
        ("id 550e8400-e29b-41d4-a716-446655440000 gone", "id <uuid> gone"),
        (
            "Cannot read properties of undefined (reading 'price')",
            "Cannot read properties of undefined (reading <str>)",
        ),
        ("bad hash 0xdeadbeef1", "bad hash <hex>"),
    ],
)
def test_normalize_message(message: str, normal: str) -> None:
    assert normalize_message(message) == normal


def _frames(*specs: tuple[str, str, int, int, str]) -> list[Frame]:
    return [Frame(fn, file, line, col, True, status) for fn, file, line, col, status in specs]


def test_fingerprint_is_stable_across_releases_and_line_shifts() -> None:
    a = fingerprint(
        "TypeError",
        "item 12 missing",
        _frames(
            ("render", "src/app/page.tsx", 10, 4, "symbolicated"),
            ("e", "https://s/_next/static/chunks/0a1b2c3d.js", 1, 500, "no-map"),
        ),
    )
    b = fingerprint(
        "TypeError",
        "item 977 missing",
        _frames(
            ("render", "src/app/page.tsx", 14, 9, "symbolicated"),
            ("q", "https://s/_next/static/chunks/9f8e7d6c.js", 1, 812, "no-map"),
        ),
    )
    c = fingerprint(
        "RangeError",
        "item 12 missing",
        _frames(("render", "src/app/page.tsx", 10, 4, "symbolicated")),
    )
    d = fingerprint(
        "TypeError",
        "item 12 missing",
        _frames(("other", "src/app/page.tsx", 10, 4, "symbolicated")),
    )
    assert a == b
    assert len({a, c, d}) == 3


# -- Sentry envelopes ------------------------------------------------------------------------

SENTRY_EVENT = {
    "event_id": "9ec79c33ec9942ab8353589fcb2e04dc",
    "release": "build-abc123",
    "platform": "javascript",
    "request": {"url": "https://shop.example/cart?email=bob@example.com"},
    "transaction": "/cart",
    "exception": {
        "values": [
            {
                "type": "ReferenceError",
                "value": "cartTotal is not defined",
                "mechanism": {"type": "onerror", "handled": False},
                "stacktrace": {
                    "frames": [
                        {
                            "filename": "https://shop.example/_next/static/chunks/main.js",
                            "function": "outer",
                            "lineno": 1,
                            "colno": 10,
                            "in_app": True,
                        },
                        {
                            "filename": "https://shop.example/_next/static/chunks/main.js",
                            "function": "inner",
                            "lineno": 1,
                            "colno": 99,
                            "in_app": True,
                        },
                    ]
                },
            }
        ]
    },
    "breadcrumbs": {
        "values": [{"timestamp": 1700000000.5, "category": "ui.click", "message": "button#buy"}]
    },
    "user": {"email": "bob@example.com"},
}


def envelope(*items: tuple[dict[str, Any], bytes], header: bytes | None = None) -> bytes:
    """An envelope with the given items (lengths set by the caller)."""
    out = [header if header is not None else b'{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc"}']
    for item_header, payload in items:
        out.append(json.dumps(item_header).encode())
        out.append(payload)
    return b"\n".join(out)


def test_envelope_framing_with_and_without_lengths() -> None:
    event = json.dumps(SENTRY_EVENT).encode()
    session = b'{"sid":"x","status":"ok"}'
    body = envelope(
        ({"type": "session"}, session),
        ({"type": "event", "length": len(event)}, event),
        ({"type": "client_report"}, b'{"discarded_events":[]}'),
    )
    header, items = split_envelope(body)
    assert header.event_id == SENTRY_EVENT["event_id"]
    assert [h.type for h, _ in items] == ["session", "event", "client_report"]
    parsed = parse_envelope(body)
    assert parsed.skipped == {"session": 1, "client_report": 1}
    [error] = parsed.errors
    assert error.type == "ReferenceError" and error.incident == "9EC79C33EC9942AB8353589FCB2E04DC"
    assert [f.function for f in error.frames] == ["inner", "outer"]  # innermost first
    assert error.breadcrumbs[0]["type"] == "click"


def test_envelope_payload_may_contain_newlines_when_length_is_given() -> None:
    event = json.dumps(SENTRY_EVENT, indent=2).encode()
    parsed = parse_envelope(envelope(({"type": "event", "length": len(event)}, event)))
    assert parsed.errors[0].message == "cartTotal is not defined"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"not json\n", id="header"),
        pytest.param(b"[]\n", id="header-array"),
        pytest.param(b'{}\n{"length":2}\n{}', id="no-type"),
        pytest.param(b'{}\n{"type":"event","length":999}\n{}', id="length-past-end"),
        pytest.param(b'{}\n{"type":"event","length":-1}\n{}', id="length-negative"),
        pytest.param(b'{}\n{"type":"event"}\n[1,2]', id="event-not-object"),
        pytest.param(b'{}\n{"type":"event"}\n{broken', id="event-bad-json"),
    ],
)
def test_bad_envelopes_are_400(body: bytes) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_envelope(body)
    assert info.value.status == 400


def _event_body(event: dict[str, Any]) -> bytes:
    payload = json.dumps(event).encode()
    return envelope(({"type": "session"}, b"{}"), ({"type": "event"}, payload))


@pytest.mark.parametrize(
    ("change", "pointer", "detail"),
    [
        pytest.param({"event_id": 7}, "/event_id", "must be a string", id="event-id"),
        pytest.param({"release": ["a"]}, "/release", "must be a string", id="release"),
        pytest.param({"transaction": 1}, "/transaction", "must be a string", id="transaction"),
        pytest.param({"request": "x"}, "/request", "must be an object", id="request"),
        pytest.param({"request": {"url": 5}}, "/request/url", "must be a string", id="url"),
        pytest.param({"exception": 3}, "/exception", "must be an object or an array", id="exc"),
        pytest.param(
            {"exception": {"values": [{"type": 1}]}},
            "/exception/values/0/type",
            "must be a string",
            id="exception-type",
        ),
        pytest.param(
            {"exception": [{"value": False}]},
            "/exception/0/value",
            "must be a string",
            id="exception-list-value",
        ),
        pytest.param(
            {"exception": {"values": [{"stacktrace": {"frames": [{}, {"lineno": "3"}]}}]}},
            "/exception/values/0/stacktrace/frames/1/lineno",
            "must be a whole number",
            id="frame-lineno",
        ),
        pytest.param(
            {"exception": {"values": [{"stacktrace": {"frames": [{"in_app": 1}]}}]}},
            "/exception/values/0/stacktrace/frames/0/in_app",
            "must be true or false",
            id="frame-in-app",
        ),
        pytest.param(
            {"exception": {"values": [{"mechanism": {"type": None}, "stacktrace": []}]}},
            "/exception/values/0/stacktrace",
            "must be an object",
            id="stacktrace",
        ),
        pytest.param({"message": 5}, "/message", "must be a string or an object", id="message"),
        pytest.param(
            {"exception": None, "message": {"formatted": 5}},
            "/message/formatted",
            "must be a string",
            id="message-formatted",
        ),
        pytest.param(
            {"breadcrumbs": [{"timestamp": True}]},
            "/breadcrumbs/0/timestamp",
            "must be a number or a string",
            id="crumb-timestamp",
        ),
        pytest.param(
            {"breadcrumbs": {"values": [{"timestamp": 1, "data": []}]}},
            "/breadcrumbs/values/0/data",
            "must be an object",
            id="crumb-data",
        ),
    ],
)
def test_malformed_events_are_400_naming_the_member(
    ingest: FlaskClient, records: Records, change: dict[str, Any], pointer: str, detail: str
) -> None:
    resp = ingest.post("/api/client-errors/envelope", data=_event_body({**SENTRY_EVENT, **change}))
    assert resp.status_code == 400
    problem = resp.get_json()
    assert problem["type"] == "urn:bff:problem:bad-envelope"
    assert problem["errors"] == [{"pointer": pointer, "detail": detail}]
    assert problem["detail"] == f"item 1 (event) does not match its schema: {pointer}: {detail}"
    assert records.parsed() == []


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        pytest.param(b'{"event_id":1}\n', "the envelope header", id="header-event-id"),
        pytest.param(b'{}\n{"type":"event","length":-1}\n{}', "item header 0", id="length"),
        pytest.param(b'{}\n{"type":"event","length":true}\n{}', "item header 0", id="bool"),
        pytest.param(b'{}\n{"type":"event","length":"2"}\n{}', "item header 0", id="string"),
        pytest.param(b'{}\n{"type":["event"]}\n{}', "item header 0", id="type"),
    ],
)
def test_malformed_headers_are_400_naming_the_member(body: bytes, detail: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_envelope(body)
    assert info.value.status == 400
    assert info.value.detail.startswith(f"{detail} does not match its schema: /")
    [error] = info.value.errors
    assert error["pointer"] in ("/event_id", "/length", "/type")


def test_events_are_read_as_before_where_the_sdk_sends_more_or_less() -> None:
    """What the ingest does not read is ignored; values it cannot use read as absent; lengths
    are cut, not refused (as before the models)."""
    frames = [
        {"filename": f"https://shop.example/f{i}.js", "function": "f" * 2000, "lineno": i,
         "colno": 0, "vars": {"x": 1}, "pre_context": ["a"]}
        for i in range(60)
    ]  # fmt: skip
    event = {
        "event_id": "not-hex",
        "level": "error",
        "environment": "production",
        "tags": {"a": "b"},
        "sdk": {"name": "sentry.javascript.browser", "version": "9.0.0"},
        "contexts": {"trace": {"trace_id": "0" * 32}},
        "release": "../etc",
        "request": {"url": "javascript:alert(1)", "headers": {"User-Agent": "x"}},
        "transaction": "t" * 300,
        "exception": {
            "values": [
                {"type": "Cause", "value": "first"},
                {
                    "type": "",
                    "value": "m" * 9000,
                    "stacktrace": {"frames": frames},
                    "mechanism": {"type": "onunhandledrejection", "handled": False},
                },
            ]
        },
        "breadcrumbs": [
            {"timestamp": "2026-01-01T00:00:00Z", "category": "console"},
            {"category": "console"},
            {"timestamp": 2, "category": "x" * 40, "data": {"big": "b" * 3000}},
            *({"timestamp": i, "category": "xhr", "message": "m" * 600} for i in range(40)),
        ],
    }
    [error] = parse_envelope(_event_body(event)).errors
    assert error.kind == "unhandledrejection" and error.type == "Error"
    assert len(error.message) == 8192 and error.release is None and error.url is None
    assert error.route == "t" * 256 and len(error.incident) == 10
    assert len(error.frames) == 50 and error.frames[0].line == 59 and error.frames[-1].line == 10
    assert error.frames[0].function == "f" * 1024 and error.frames[0].column is None
    assert len(error.breadcrumbs) == 30
    assert error.breadcrumbs[0] == {"t": 10000.0, "type": "fetch", "data": {"message": "m" * 512}}


def test_message_events() -> None:
    base = {"event_id": SENTRY_EVENT["event_id"]}
    cases = [
        ({"message": "plain"}, "plain"),
        ({"message": {"formatted": "formatted", "message": "raw"}}, "formatted"),
        ({"message": {"message": "raw", "params": [1]}}, "raw"),
        ({"logentry": "entry " * 200}, ("entry " * 200)[:512]),
        ({"logentry": {"message": "template %s", "params": ["x"]}}, ""),
        ({"exception": {"values": []}, "message": "no values"}, "no values"),
    ]
    for change, message in cases:
        [error] = parse_envelope(_event_body({**base, **change})).errors
        assert (error.type, error.message) == ("Message", message), change


def test_envelope_endpoint_logs_the_event(ingest: FlaskClient, records: Records) -> None:
    event = json.dumps(SENTRY_EVENT).encode()
    body = envelope(({"type": "event", "length": len(event)}, event), ({"type": "session"}, b"{}"))
    resp = ingest.post(
        "/api/client-errors/envelope",
        data=body,
        headers={"Content-Type": "text/plain;charset=UTF-8"},
    )
    assert resp.status_code == 202
    assert resp.get_json()["id"] == SENTRY_EVENT["event_id"]
    [record] = records.parsed()
    data = record["data"]
    assert data["source"] == "sentry" and data["type"] == "ReferenceError"
    assert data["url"] == "https://shop.example/cart?email=[REDACTED]"
    assert "bob@example.com" not in json.dumps(record)
    counters = ingest.get("/internal/client-errors").get_json()["counters"]
    assert counters["skipped_items"] == {"session": 1}


def test_invented_item_types_share_one_counter(ingest: FlaskClient) -> None:
    """Item types no SDK sends are counted as ``other``: a client inventing a new name per
    item cannot add counter keys without bound."""
    event = json.dumps(SENTRY_EVENT).encode()
    invented = [({"type": f"made_up_{i}"}, b"{}") for i in range(20)]
    body = envelope(({"type": "event", "length": len(event)}, event), *invented)
    resp = ingest.post(
        "/api/client-errors/envelope",
        data=body,
        headers={"Content-Type": "text/plain;charset=UTF-8"},
    )
    assert resp.status_code == 202
    counters = ingest.get("/internal/client-errors").get_json()["counters"]
    assert counters["skipped_items"] == {"other": 20}


def test_envelope_with_only_sessions_is_accepted_silently(
    ingest: FlaskClient, records: Records
) -> None:
    body = envelope(({"type": "session"}, b'{"sid":"1"}'))
    assert ingest.post("/api/client-errors/envelope", data=body).status_code == 202
    assert records.parsed() == []


# -- Reporting API and CSP -------------------------------------------------------------------

LEGACY_CSP = {
    "csp-report": {
        "document-uri": "https://shop.example/products/1?token=abc",
        "violated-directive": "script-src-elem",
        "effective-directive": "script-src-elem",
        "blocked-uri": "https://evil.example/x.js",
        "source-file": "https://shop.example/products/1",
        "line-number": 12,
        "disposition": "enforce",
    }
}
REPORTS = [
    {
        "type": "csp-violation",
        "age": 10,
        "url": "https://shop.example/",
        "user_agent": "UA",
        "body": {
            "documentURL": "https://shop.example/",
            "effectiveDirective": "img-src",
            "blockedURL": "https://tracker.example/p.gif",
            "disposition": "enforce",
            "lineNumber": 3,
        },
    },
    {
        "type": "deprecation",
        "url": "https://shop.example/",
        "body": {"id": "UnloadHandler", "message": "Unload handlers are deprecated"},
    },
]


def test_legacy_csp_report(ingest: FlaskClient, records: Records) -> None:
    resp = ingest.post(
        "/api/client-errors/reports",
        data=json.dumps(LEGACY_CSP),
        headers={"Content-Type": "application/csp-report"},
    )
    assert resp.status_code == 202 and resp.get_json()["accepted"] == 1
    [record] = records.parsed()
    assert record["message"] == "csp violation: script-src-elem https://evil.example/x.js"
    csp = record["data"]["csp"]
    assert csp["directive"] == "script-src-elem" and csp["line"] == 12
    assert csp["document"] == "https://shop.example/products/1?token=[REDACTED]"
    assert record["data"]["source"] == "csp"


def test_reporting_api_batch(ingest: FlaskClient, records: Records) -> None:
    resp = ingest.post(
        "/api/client-errors/reports",
        data=json.dumps(REPORTS),
        headers={"Content-Type": "application/reports+json"},
    )
    assert resp.status_code == 202 and resp.get_json()["accepted"] == 2
    first, second = records.parsed()
    assert first["message"] == "csp violation: img-src https://tracker.example/p.gif"
    assert second["data"]["source"] == "reporting-api" and second["data"]["kind"] == "deprecation"
    assert second["message"] == "client error: deprecation: Unload handlers are deprecated"


def test_csp_from_extension_is_noise(ingest: FlaskClient, records: Records) -> None:
    doc = {"csp-report": {**LEGACY_CSP["csp-report"], "blocked-uri": "chrome-extension://abc"}}
    resp = ingest.post(
        "/api/client-errors/reports",
        data=json.dumps(doc),
        headers={"Content-Type": "application/csp-report"},
    )
    assert resp.status_code == 202 and resp.get_json()["filtered"] == 1
    assert records.parsed() == []


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        pytest.param(b"{}", "application/csp-report", 422, id="csp-no-body"),
        pytest.param(b'{"a":1}', "application/reports+json", 422, id="reports-not-list"),
        pytest.param(b"[1]", "application/reports+json", 422, id="report-not-object"),
        pytest.param(b"[]", "text/html", 415, id="type"),
        pytest.param(b"{", "application/csp-report", 400, id="bad-json"),
        pytest.param(b'[{"type":"x"}]', "application/csp-report", 422, id="csp-as-array"),
        pytest.param(b'[{"type":""}]', "application/reports+json", 422, id="empty-type"),
        pytest.param(b'[{"type":1}]', "application/reports+json", 422, id="type-not-string"),
        pytest.param(
            b"[" + b'{"type":"x"},' * 32 + b'{"type":"x"}]',
            "application/reports+json",
            422,
            id="too-many",
        ),  # fmt: skip
    ],
)
def test_bad_browser_reports(
    ingest: FlaskClient, body: bytes, content_type: str, status: int
) -> None:
    resp = ingest.post(
        "/api/client-errors/reports", data=body, headers={"Content-Type": content_type}
    )
    assert resp.status_code == status
    assert resp.headers["Content-Type"] == "application/problem+json"


# -- counters --------------------------------------------------------------------------------


def test_counters_endpoint(ingest: FlaskClient) -> None:
    ingest.post("/api/client-errors", json=report())
    ingest.post("/api/client-errors", data=b"{", headers={"Content-Type": "application/json"})
    body = ingest.get("/internal/client-errors").get_json()
    counters = body["counters"]
    assert counters["accepted"] == {"reporter": 1}
    assert counters["invalid"] == {"400": 1}
    assert counters["symbolication"] == {"no-map": 2, "not-minified": 2}
    assert counters["ratelimit"]["storage"] == "memory"
    assert body["shipping"] is None  # no CloudWatch in unit tests


# -- fuzzing ---------------------------------------------------------------------------------

_PII = st.sampled_from(
    [PLANTED_EMAIL, PLANTED_CARD, "4111 1111 1111 1111", PLANTED_JWT, f"Bearer {PLANTED_JWT[:20]}"]
)
_text = st.one_of(
    st.text(max_size=60), _PII, st.builds(lambda a, b: f"{a} {b}", st.text(max_size=20), _PII)
)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=12,
)


def _mutated_report(draw: st.DrawFn) -> Any:
    doc = report()
    doc["error"] = {
        "type": draw(st.sampled_from(["TypeError", "Error"])),
        "message": draw(_text),
        "stack": draw(st.one_of(st.just(CHROME_STACK), _text)),
    }
    doc["url"] = (
        "https://shop.example/p?" + draw(st.sampled_from(["q=", "email=", "token="])) + draw(_PII)
    )
    doc["breadcrumbs"] = [
        {"t": 1, "type": "fetch", "data": draw(st.dictionaries(_text, _text, max_size=3))}
    ]
    for key in draw(st.lists(st.sampled_from(list(doc)), max_size=2)):
        doc[key] = draw(_json)
    return doc


mutated_reports = st.composite(_mutated_report)

ENDPOINTS = [
    ("/api/client-errors", "application/json"),
    ("/api/client-errors", "text/plain"),
    ("/api/client-errors/envelope", "text/plain"),
    ("/api/client-errors/reports", "application/reports+json"),
    ("/api/client-errors/reports", "application/csp-report"),
    ("/api/vitals", "application/json"),
]
PII_MARKERS = (PLANTED_EMAIL, PLANTED_CARD, "4111 1111 1111 1111", PLANTED_JWT[:30])


def _assert_clean(records: Records) -> None:
    for line in records.lines:
        for marker in PII_MARKERS:
            assert marker not in line, line


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.one_of(st.binary(max_size=300), _json.map(lambda v: json.dumps(v).encode())),
    endpoint=st.sampled_from(ENDPOINTS),
)
def test_fuzz_never_5xx(
    ingest: FlaskClient, records: Records, body: bytes, endpoint: tuple[str, str]
) -> None:
    path, content_type = endpoint
    resp = ingest.post(path, data=body, headers={"Content-Type": content_type})
    assert resp.status_code < 500
    _assert_clean(records)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(doc=mutated_reports())
def test_fuzz_reports_never_leak_planted_pii(
    ingest: FlaskClient, records: Records, doc: Any
) -> None:
    resp = ingest.post("/api/client-errors", json=doc)
    assert resp.status_code in (202, 400, 422)  # 400: Infinity is not JSON
    _assert_clean(records)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(message=_text, url=_text, crumb=st.dictionaries(_text, _text, max_size=3))
def test_fuzz_envelopes_never_leak_planted_pii(
    ingest: FlaskClient, records: Records, message: str, url: str, crumb: dict[str, str]
) -> None:
    event = {**SENTRY_EVENT, "request": {"url": "https://shop.example/?q=" + url}}
    event["exception"] = {"values": [{"type": "Error", "value": message}]}
    event["breadcrumbs"] = [{"timestamp": 1.0, "category": "fetch", "data": crumb}]
    payload = json.dumps(event).encode()
    body = envelope(({"type": "event", "length": len(payload)}, payload))
    resp = ingest.post("/api/client-errors/envelope", data=body)
    assert resp.status_code == 202
    _assert_clean(records)


# -- the event contract ------------------------------------------------------------------------


def test_every_source_logs_the_one_event_shape(ingest: FlaskClient, records: Records) -> None:
    from bff.schemas.events import ClientErrorEvent

    sent = [
        ingest.post("/api/client-errors", json=report()),
        ingest.post("/api/client-errors", json=report(kind="server", digest="123")),
        ingest.post(
            "/api/client-errors/envelope",
            data=envelope(({"type": "event"}, json.dumps(SENTRY_EVENT).encode())),
            headers={"Content-Type": "text/plain"},
        ),
        ingest.post(
            "/api/client-errors/reports",
            data=json.dumps(LEGACY_CSP),
            headers={"Content-Type": "application/csp-report"},
        ),
        ingest.post(
            "/api/client-errors/reports",
            data=json.dumps([{"type": "deprecation", "url": "https://shop.example/", "body": {}}]),
            headers={"Content-Type": "application/reports+json"},
        ),
    ]
    assert [resp.status_code for resp in sent] == [202] * len(sent)
    events = [ClientErrorEvent.model_validate(r["data"]) for r in records.parsed()]
    assert {e.source for e in events} == {"reporter", "server", "sentry", "csp", "reporting-api"}
