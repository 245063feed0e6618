"""The web tier's logs end to end: the production server's JSON records, shipped from its stdout
by the forwarder `make dev` uses, join the BFF's in the emulator under one request id."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .procs import Service, free_port, logs_client, start_bff
from .web_site import WebBuild, start_web

if TYPE_CHECKING:
    from playwright.sync_api import Page

HEX32 = re.compile(r"[0-9a-f]{32}")
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
RESERVED = {"timestamp", "level", "logger", "message", "service", "environment"} | {
    "request_id",
    "trace_id",
    "location",
}


@pytest.fixture(scope="module")
def bff_down(log_dir: Path, log_env: Callable[[str], dict[str, str]]) -> Iterator[Service]:
    """A BFF whose upstreams are down (nothing listens on their ports)."""
    env = {
        "BFF_UPSTREAM_CATALOG_URL": f"http://127.0.0.1:{free_port()}",
        "BFF_UPSTREAM_ORDERS_URL": f"http://127.0.0.1:{free_port()}",
        "BFF_ENV": "test",
        **log_env("bff"),
    }
    svc = start_bff(log_dir, env, name="bff-upstreams-down")
    yield svc
    svc.stop()


@pytest.fixture(scope="module")
def web(
    log_dir: Path,
    web_build: WebBuild,
    bff_down: Service,
    log_env: Callable[[str], dict[str, str]],
) -> Iterator[Service]:
    """The production web server, its stdout shipped to the emulator by the forwarder."""
    env = {**log_env("web"), "LOG_SERVICE": "web", "WEB_DIAGNOSTICS": "1"}
    svc = start_web(log_dir, web_build, bff_down.url, "web-logs", env, forward_logs=True)
    yield svc
    svc.stop()


def events(moto: Service, group: str) -> list[tuple[str, dict[str, Any]]]:
    """Every event of the group as (stream, record); each message must be one JSON object."""
    client = logs_client(moto)
    out: list[tuple[str, dict[str, Any]]] = []
    kwargs: dict[str, Any] = {"logGroupName": group}
    for _ in range(200):
        try:
            page = client.filter_log_events(**kwargs)
        except client.exceptions.ResourceNotFoundException:
            return out
        out.extend((e["logStreamName"], json.loads(e["message"])) for e in page["events"])
        if not page.get("nextToken"):
            break
        kwargs["nextToken"] = page["nextToken"]
    return out


def wait_for(
    moto: Service,
    group: str,
    predicate: Callable[[dict[str, Any]], bool],
    done: Callable[[list[tuple[str, dict[str, Any]]]], bool],
    timeout: float = 30.0,
) -> list[tuple[str, dict[str, Any]]]:
    """The matching events once ``done`` holds for them (or whatever matched at the deadline)."""
    deadline = time.monotonic() + timeout
    found: list[tuple[str, dict[str, Any]]] = []
    while time.monotonic() < deadline:
        found = [(stream, e) for stream, e in events(moto, group) if predicate(e)]
        if done(found):
            return found
        time.sleep(0.5)
    return found


def get(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], str]:
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return (
                resp.status,
                {k.lower(): v for k, v in resp.headers.items()},
                resp.read().decode(),
            )
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read().decode()


def has(service: str, logger: str) -> Callable[[list[tuple[str, dict[str, Any]]]], bool]:
    return lambda found: any(e["service"] == service and e["logger"] == logger for _, e in found)


def all_of(
    *checks: Callable[[list[tuple[str, dict[str, Any]]]], bool],
) -> Callable[[list[tuple[str, dict[str, Any]]]], bool]:
    return lambda found: all(check(found) for check in checks)


def test_a_failed_render_joins_web_and_bff_records_under_one_request_id(
    web: Service, moto: Service, log_group: str
) -> None:
    rid = f"page-{uuid.uuid4().hex[:12]}"
    parent = f"00-{TRACE}-00f067aa0ba902b7-01"
    status, headers, body = get(f"{web.url}/", {"X-Request-ID": rid, "traceparent": parent})
    assert status == 200
    assert "We can&#x27;t reach the catalog right now" in body
    assert headers["x-request-id"] == rid
    assert headers["server-timing"] == f'rid;desc="{rid}"'

    found = wait_for(
        moto,
        log_group,
        lambda e: e.get("request_id") == rid,
        all_of(has("web", "web.access"), has("web", "web.bff"), has("bff", "bff.access")),
    )
    by = {(e["service"], e["logger"]): (stream, e) for stream, e in found}
    assert ("web", "web.access") in by, found
    assert ("web", "web.bff") in by, found
    assert ("bff", "bff.access") in by, found
    assert {e["service"] for _, e in found} == {"web", "bff"}, "no upstream record: it is down"
    # One trace, continued from the client (the BFF's bff.proxy records carry no trace id).
    assert {e["trace_id"] for _, e in found if e["trace_id"]} == {TRACE}, found
    assert by[("bff", "bff.access")][1]["trace_id"] == TRACE

    stream, access = by[("web", "web.access")]
    assert stream.startswith("web/"), stream
    assert RESERVED <= set(access)
    assert access["message"] == "GET / 200"
    data = access["data"]
    assert data["route"] == "/" and data["status"] == 200 and data["method"] == "GET"
    assert data["duration_ms"] >= 0

    _, failed = by[("web", "web.bff")]
    assert failed["level"] == "WARNING"
    assert failed["data"]["status"] == 502 and failed["data"]["bff_request_id"] == rid
    _, bff = by[("bff", "bff.access")]
    assert bff["data"]["status"] == 502 and bff["data"]["route"] == "catalog"


def test_the_api_pass_through_sends_the_same_id_to_the_bff(
    web: Service, moto: Service, log_group: str
) -> None:
    rid = f"api-{uuid.uuid4().hex[:12]}"
    status, headers, body = get(
        f"{web.url}/api/catalog/items?q=bob%40example.com", {"X-Request-ID": rid}
    )
    assert status == 502 and headers["x-request-id"] == rid
    assert json.loads(body)["status"] == 502
    found = wait_for(
        moto,
        log_group,
        lambda e: e.get("request_id") == rid,
        all_of(has("web", "web.access"), has("bff", "bff.access")),
    )
    access = next(e for _, e in found if e["logger"] == "web.access")
    assert access["data"]["route"] == "/api/[...path]"
    assert access["data"]["query"] == "q=[REDACTED]", "no query value in clear"
    assert "example.com" not in json.dumps([e for _, e in found])
    assert len({e["trace_id"] for _, e in found if e["trace_id"]}) == 1


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param("r" * 200, id="too-long"),
        pytest.param("abc<script>alert(1)</script>", id="unsafe-characters"),
        pytest.param("4111111111111111", id="a-card-number"),
    ],
)
def test_a_bad_request_id_is_replaced_never_echoed_or_logged(
    web: Service, moto: Service, log_group: str, bad: str
) -> None:
    marker = uuid.uuid4().hex[:10]
    status, headers, _ = get(f"{web.url}/?q=x{marker}", {"X-Request-ID": bad})
    assert status == 200
    rid = headers["x-request-id"]
    assert HEX32.fullmatch(rid), rid
    found = wait_for(
        moto,
        log_group,
        lambda e: e.get("request_id") == rid,
        all_of(has("web", "web.access"), has("bff", "bff.access")),
    )
    assert has("bff", "bff.access")(found), "the BFF got the replacement id"
    assert bad not in web.log()
    assert bad not in json.dumps([e for _, e in events(moto, log_group)])


def test_a_traceparent_that_does_not_parse_starts_a_new_trace(
    web: Service, moto: Service, log_group: str
) -> None:
    rid = f"trace-{uuid.uuid4().hex[:12]}"
    get(f"{web.url}/", {"X-Request-ID": rid, "traceparent": "00-not-a-trace-01"})
    found = wait_for(
        moto,
        log_group,
        lambda e: e.get("request_id") == rid,
        all_of(has("web", "web.access"), has("bff", "bff.access")),
    )
    traces = {e["trace_id"] for _, e in found if e["trace_id"]}
    assert len(traces) == 1, found
    assert HEX32.fullmatch(traces.pop() or "")


def test_every_line_the_web_server_writes_is_one_json_record(web: Service) -> None:
    get(f"{web.url}/products/not-a-number", {})
    lines = [line for line in web.log().splitlines() if line.strip()]
    assert lines
    for line in lines:
        record = json.loads(line)
        assert RESERVED <= set(record), line
        assert record["service"] == "web"
    assert any(json.loads(line)["message"].startswith("▲ Next.js") for line in lines)


def test_the_error_page_and_the_browser_report_carry_the_render_request_id(
    web: Service, moto: Service, log_group: str, page: Page
) -> None:
    url = f"{web.url}/diagnostics/server-error"
    with page.expect_response(lambda r: r.url == url) as document:
        page.goto(url)
    rid = document.value.headers["x-request-id"]
    assert HEX32.fullmatch(rid)
    shown = page.locator("[data-request-id]").first
    shown.wait_for(timeout=20_000)
    assert shown.text_content() == rid
    incident = page.locator("[data-incident]").first.text_content()
    assert incident

    found = wait_for(
        moto, log_group, lambda e: e.get("request_id") == rid, has("web", "web.render")
    )
    render = next(e for _, e in found if e["logger"] == "web.render")
    assert render["level"] == "ERROR"
    assert render["data"]["incident"] == incident
    assert render["data"]["route"] == "/diagnostics/server-error"
    assert "diagnostics: server render error" in render["exception"]["stack"]
    assert "\n    at " in render["exception"]["stack"], "the stack is inside the record"

    reports = wait_for(
        moto,
        log_group,
        lambda e: (
            e.get("logger") == "bff.client_errors"
            and rid in ((e.get("data") or {}).get("request_ids") or [])
        ),
        lambda hits: bool(hits),
    )
    assert reports, "the browser's report names the render's request id"
    assert {e["data"]["incident"] for _, e in reports} == {incident}
