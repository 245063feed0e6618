"""Browser error reporting end to end: Chromium on the production build, the real BFF, moto.

Every test asserts on what arrived in the emulator's CloudWatch Logs ``client-errors/`` stream
(or on what the server answered), never on a mock.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from logship.testing import logs_client
from playwright.sync_api import Page, Request, Route

from .procs import ROOT
from .web_site import Site, start_web

WEB = ROOT / "web"
DIAGNOSTICS = WEB / "src" / "app" / "diagnostics"
STREAM_PREFIX = "client-errors/"
DIGITS_TO_LETTERS = str.maketrans("0123456789", "ghijklmnop")
Record = dict[str, Any]


def client_error_records(site: Site) -> list[Record]:
    """Every event in the log group's `client-errors/` streams, parsed."""
    client = logs_client(site.moto_url)
    records: list[Record] = []
    token: str | None = None
    for _ in range(100):
        kwargs: dict[str, Any] = {
            "logGroupName": site.log_group,
            "logStreamNamePrefix": STREAM_PREFIX,
            "startTime": 0,
        }
        if token:
            kwargs["nextToken"] = token
        try:
            page = client.filter_log_events(**kwargs)
        except client.exceptions.ResourceNotFoundException:
            return []
        records.extend(json.loads(event["message"]) for event in page.get("events", []))
        token = page.get("nextToken")
        if not token:
            break
    return records


def wait_for_record(
    site: Site, predicate: Callable[[Record], bool], timeout: float = 20.0
) -> Record:
    """The first `client-errors/` record matching ``predicate``; fails after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        for record in client_error_records(site):
            if predicate(record):
                return record
        if time.monotonic() > deadline:
            pytest.fail(
                f"no matching client-error record in {timeout} s; BFF log:\n"
                f"{site.bff.log()[-4000:]}"
            )
        time.sleep(0.25)


def source_line(path: Path, needle: str) -> int:
    """1-based line of ``needle`` in ``path``."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def original_frame(record: Record, file_part: str, exact: bool = True) -> Record:
    """The record's frame whose file is ``file_part`` (or contains it, when not ``exact``)."""
    frames = record["data"]["frames"]
    for frame in frames:
        file = frame.get("file") or ""
        if file == file_part or (not exact and file_part in file):
            return frame
    raise AssertionError(f"no frame in {file_part}: {json.dumps(frames, indent=1)}")


def message_has(text: str) -> Callable[[Record], bool]:
    return lambda record: text in (record.get("data", {}).get("message") or "")


def open_and_trigger(page: Page, url: str) -> Request:
    """Open a diagnostics page, click its trigger, and return the report request it causes."""
    page.goto(url)
    page.wait_for_load_state("networkidle")
    with page.expect_request(
        lambda r: r.url.endswith("/api/client-errors") and r.method == "POST", timeout=10_000
    ) as sent:
        page.click("#trigger")
    return sent.value


def test_uncaught_error_lands_with_original_file_and_line(site: Site, page: Page) -> None:
    request = open_and_trigger(page, f"{site.url}/diagnostics/uncaught-error")
    report = json.loads(request.post_data or "{}")
    assert report["kind"] == "error"
    assert report["release"] == site.build.release

    record = wait_for_record(site, message_has("diagnostics: uncaught error"))
    assert record["logger"] == "bff.client_errors"
    assert record["data"]["incident"] == report["incident"]
    assert record["data"]["source"] == "reporter"
    frame = original_frame(record, "src/app/diagnostics/uncaught-error/throw-uncaught.tsx")
    assert frame["status"] == "symbolicated"
    path = DIAGNOSTICS / "uncaught-error" / "throw-uncaught.tsx"
    assert frame["line"] == source_line(path, 'throw new Error("diagnostics: uncaught error")')
    assert record["data"]["route"] == "/diagnostics/uncaught-error"
    clicks = [b for b in record["data"]["breadcrumbs"] if b["type"] == "click"]
    assert clicks and "button#trigger" in clicks[-1]["data"]["target"]


def test_unhandled_rejection_lands_with_original_file_and_line(site: Site, page: Page) -> None:
    request = open_and_trigger(page, f"{site.url}/diagnostics/unhandled-rejection")
    assert json.loads(request.post_data or "{}")["kind"] == "unhandledrejection"

    record = wait_for_record(site, message_has("diagnostics: unhandled rejection"))
    assert record["data"]["kind"] == "unhandledrejection"
    frame = original_frame(record, "src/app/diagnostics/unhandled-rejection/reject-unhandled.tsx")
    path = DIAGNOSTICS / "unhandled-rejection" / "reject-unhandled.tsx"
    assert frame["line"] == source_line(path, 'throw new Error("diagnostics: unhandled rejection")')


def test_error_boundary_shows_the_incident_that_lands(site: Site, page: Page) -> None:
    open_and_trigger(page, f"{site.url}/diagnostics/boundary-error")
    code = page.locator("[data-incident]").inner_text(timeout=10_000)
    assert re.fullmatch(r"[A-Z0-9-]{6,32}", code)
    assert page.get_by_role("button", name="Try again").is_visible()

    record = wait_for_record(site, lambda r: r.get("data", {}).get("incident") == code)
    assert record["data"]["kind"] == "boundary"
    assert "diagnostics: render error" in record["message"]
    frame = original_frame(record, "src/app/diagnostics/boundary-error/render-bomb.tsx")
    path = DIAGNOSTICS / "boundary-error" / "render-bomb.tsx"
    assert frame["line"] == source_line(path, 'throw new Error("diagnostics: render error")')


def test_server_render_error_lands_under_the_digest_the_page_shows(site: Site, page: Page) -> None:
    page.goto(f"{site.url}/diagnostics/server-error")
    code = page.locator("[data-incident]").inner_text(timeout=10_000)
    assert re.fullmatch(r"[A-Z0-9-]{6,32}", code)

    record = wait_for_record(
        site,
        lambda r: r.get("data", {}).get("incident") == code and r["data"]["kind"] == "server",
    )
    assert record["data"]["source"] == "server"
    assert "diagnostics: server render error" in record["message"]
    # Mapped by the Next.js server itself (an absolute path on the server), not by the BFF.
    frame = original_frame(record, "src/app/diagnostics/server-error/page.tsx", exact=False)
    path = DIAGNOSTICS / "server-error" / "page.tsx"
    assert frame["line"] == source_line(path, 'throw new Error("diagnostics: server render error")')


def test_reporter_backs_off_after_429_until_retry_after(site: Site, page: Page) -> None:
    posts: list[float] = []

    def answer_429(route: Route) -> None:
        posts.append(time.monotonic())
        route.fulfill(
            status=429,
            headers={"Retry-After": "3", "Content-Type": "application/problem+json"},
            body='{"status":429}',
        )

    page.route("**/api/client-errors", answer_429)
    page.goto(f"{site.url}/diagnostics")
    page.wait_for_load_state("networkidle")

    def throw(n: int) -> None:
        page.evaluate(f"setTimeout(() => {{ throw new Error('backoff {n}'); }})")

    throw(1)
    page.wait_for_timeout(1000)
    assert len(posts) == 1
    assert page.evaluate("sessionStorage.getItem('report-error:until')")
    throw(2)
    page.reload()  # the back-off is remembered for the tab
    page.wait_for_load_state("networkidle")
    throw(3)
    page.wait_for_timeout(1000)
    assert len(posts) == 1, "the reporter sent during Retry-After"

    page.wait_for_timeout(max(0, int((posts[0] + 3.2 - time.monotonic()) * 1000)))
    throw(4)
    page.wait_for_timeout(1000)
    assert len(posts) == 2


@pytest.fixture(scope="session")
def sentry_bundle(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Stock @sentry/browser as one browser script exposing `Sentry` (the npm package ships no CDN
    bundle), built by esbuild from the package's own ESM build."""
    entry = (
        WEB / "node_modules" / "@sentry" / "browser" / "build" / "npm" / "esm" / "prod" / "index.js"
    )
    out = tmp_path_factory.mktemp("sentry") / "sentry.js"
    esbuild = WEB / "node_modules" / ".bin" / "esbuild"
    subprocess.run(
        [str(esbuild), str(entry), "--bundle", "--minify", "--format=iife",
         "--global-name=Sentry", f"--outfile={out}", "--log-level=error"],
        check=True,
        cwd=WEB,
        timeout=120,
    )  # fmt: skip
    return out.read_text()


def test_stock_sentry_browser_through_the_tunnel_lands(
    site: Site, page: Page, sentry_bundle: str
) -> None:
    # Letters only: a run of 13-19 digits that passes the Luhn check is scrubbed as a card number.
    marker = f"sentry tunnel check {uuid.uuid4().hex.translate(DIGITS_TO_LETTERS)}"
    html = (
        "<!doctype html><html><head><script src='/sentry-test/sentry.js'></script></head>"
        "<body><script>"
        "Sentry.init({dsn: 'https://public@example.invalid/1', "
        "tunnel: '/api/client-errors/envelope', release: 'sentry-e2e'});"
        f"Sentry.captureException(new Error({json.dumps(marker)}));"
        "</script></body></html>"
    )
    page.route(f"{site.url}/sentry-test/", lambda r: r.fulfill(content_type="text/html", body=html))
    page.route(
        f"{site.url}/sentry-test/sentry.js",
        lambda r: r.fulfill(content_type="text/javascript", body=sentry_bundle),
    )
    with page.expect_response(lambda r: r.url.endswith("/api/client-errors/envelope")) as sent:
        page.goto(f"{site.url}/sentry-test/")
    assert sent.value.status == 202

    record = wait_for_record(site, message_has(marker))
    assert record["data"]["source"] == "sentry"
    assert record["data"]["type"] == "Error"


def test_csp_violation_report_lands(site: Site, page: Page) -> None:
    """The site's CSP blocks a foreign image and the browser's report lands.

    Headless Chromium never delivers Reporting API (`report-to`) reports in a test run (not
    within 75 s, not with --short-reporting-delay), and a browser that supports `report-to`
    ignores `report-uri`. So the page is served with `report-to` removed, as a browser without
    the Reporting API sees it, and the legacy `report-uri` report must land.
    """

    def without_report_to(route: Route) -> None:
        response = route.fetch()
        headers = dict(response.headers)
        csp = headers["content-security-policy"]
        assert "report-to csp-endpoint" in csp
        headers["content-security-policy"] = csp.replace("; report-to csp-endpoint", "")
        route.fulfill(response=response, headers=headers)

    page.route(f"{site.url}/diagnostics/csp-violation", without_report_to)
    page.goto(f"{site.url}/diagnostics/csp-violation")
    page.locator("#probe", has_text="blocked").wait_for(timeout=10_000)
    record = wait_for_record(
        site,
        lambda r: "csp-probe.invalid" in json.dumps(r.get("data", {}).get("csp") or {}),
    )
    assert record["data"]["source"] in ("csp", "reporting-api")
    assert record["data"]["csp"]["directive"].startswith("img-src")
    assert record["message"].startswith("csp violation: img-src")


def http_get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


def test_bundles_point_at_no_served_source_map(site: Site) -> None:
    static = site.build.root / ".next" / "static"
    status, _, body = http_get(f"{site.url}/diagnostics/uncaught-error")
    assert status == 200
    scripts = set(re.findall(r'src="(/_next/static/[^"]+\.js)"', body.decode()))
    scripts |= {f"/_next/static/{p.relative_to(static)}" for p in static.rglob("*.js")}
    referenced = 0
    for script in sorted(scripts):
        status, _, js = http_get(f"{site.url}{script}")
        assert status == 200, script
        for url in re.findall(rb"[#@] sourceMappingURL=(\S+)", js[-1000:]):
            referenced += 1
            target = urllib.parse.urljoin(f"{site.url}{script}", url.decode())
            assert http_get(target)[0] == 404, target
        assert http_get(f"{site.url}{script}.map")[0] == 404
    assert referenced > 0, "no bundle names a source map: the check above proved nothing"
    assert not list(static.rglob("*.map"))
    maps = site.build.sourcemaps / site.build.release / "_next" / "static"
    assert any(maps.rglob("*.js.map"))


def test_security_headers(site: Site) -> None:
    _, headers, _ = http_get(f"{site.url}/")
    csp = headers["content-security-policy"]
    for directive in (
        "default-src 'self'",
        "connect-src 'self'",
        "img-src 'self' data:",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "report-uri /api/client-errors/reports",
        "report-to csp-endpoint",
    ):
        assert directive in csp
    assert "unsafe-eval" not in csp
    assert headers["reporting-endpoints"] == 'csp-endpoint="/api/client-errors/reports"'
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["strict-transport-security"] == "max-age=63072000; includeSubDomains"
    assert "camera=()" in headers["permissions-policy"]


def test_diagnostics_answer_404_without_the_flag(log_dir: Path, site: Site) -> None:
    web = start_web(log_dir, site.build, site.bff.url, "web-no-diagnostics")
    try:
        for path in ("/diagnostics", "/diagnostics/server-error", "/diagnostics/uncaught-error"):
            assert http_get(f"{web.url}{path}")[0] == 404, path
    finally:
        web.stop()
