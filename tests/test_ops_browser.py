"""The /ops page in chromium against the production build, its BFF and the log emulator."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from .procs import ROOT, start_bff
from .test_ops_e2e import GENEROUS_LIMITS, post, report
from .web_site import Site, start_web

AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="module")
def ops_site(site: Site, log_dir: Path, redis_url: str) -> Iterator[Site]:
    """The same build over a BFF whose error-group index is a real redis-server."""
    env = {**site.env, **GENEROUS_LIMITS, "BFF_RATELIMIT_STORAGE_URI": redis_url}
    bff = start_bff(log_dir, env, name="bff-ops-site")
    web = start_web(
        log_dir,
        site.build,
        bff.url,
        "web-ops-site",
        {"WEB_DIAGNOSTICS": "1", "OPS_TOKEN": site.ops_token},
    )
    yield Site(web, bff, site.build, site.log_group, site.moto_url, site.ops_token, env)
    web.stop()
    bff.stop()
    assert not bff.crashes(), bff.crashes()


@pytest.fixture(scope="module")
def incident(ops_site: Site) -> dict[str, str]:
    """One report through the real ingest, listing two failed API calls made through the BFF,
    and some proxied traffic."""
    tag = uuid.uuid4().hex[:8].upper()
    failed = [f"brw-failed-{tag.lower()}-{i}" for i in range(2)]
    for request_id in failed:
        req = urllib.request.Request(
            f"{ops_site.bff.url}/api/catalog/items/99999999", headers={"X-Request-ID": request_id}
        )
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(req, timeout=10)
    for _ in range(3):
        with urllib.request.urlopen(
            f"{ops_site.bff.url}/api/catalog/items?page_size=1", timeout=10
        ):
            pass
    ids = {"code": f"BRW-{tag}", "message": f"ops browser check {tag}", "release": "brw-1"}
    doc = report(ids["code"], ids["message"], release=ids["release"], route="/products/[id]")
    doc["error"]["stack"] = (
        f"TypeError: {ids['message']}\n"
        "    at ItemList (http://127.0.0.1/_next/static/chunks/app-brw.js:1:4242)"
    )
    doc["request_ids"] = failed
    assert post(f"{ops_site.bff.url}/api/client-errors", doc, {"X-Request-ID": f"rep-{tag}"}) == 202
    return ids


def sign_in(page: Page, site: Site, token: str) -> None:
    page.goto(f"{site.url}/ops")
    page.get_by_label("Ops token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("networkidle")


def open_until(page: Page, url: str, text: str, timeout: float = 30.0) -> None:
    """Reload ``url`` until ``text`` shows (records take a moment to reach CloudWatch)."""
    deadline = time.monotonic() + timeout
    while True:
        page.goto(url)
        if page.get_by_text(text).count() or time.monotonic() > deadline:
            break
        time.sleep(1.0)
    expect(page.get_by_text(text).first).to_be_visible()


def serious_violations(page: Page) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = page.evaluate("async () => await axe.run(document)")
    return [v for v in result["violations"] if v["impact"] in ("serious", "critical")]


def test_token_required(page: Page, ops_site: Site, incident: dict[str, str]) -> None:
    response = page.goto(f"{ops_site.url}/ops")
    assert response is not None and response.status == 200
    expect(page.get_by_role("heading", name="Operations sign-in")).to_be_visible()
    assert incident["message"] not in page.content()
    robots = page.locator('meta[name="robots"]').get_attribute("content") or ""
    assert "noindex" in robots
    assert serious_violations(page) == []
    sign_in(page, ops_site, "w" * 40)
    expect(page.locator("p[role=alert]")).to_have_text("That token is not valid.")
    assert not page.context.cookies()
    # The ops API itself refuses the browser without the bearer token.
    api = page.request.get(f"{ops_site.url}/api/ops/summary")
    assert api.status == 401


def test_dashboard_groups_chart_and_group_page(
    page: Page, ops_site: Site, incident: dict[str, str]
) -> None:
    sign_in(page, ops_site, ops_site.ops_token)
    expect(page.get_by_role("heading", name="Operations", exact=True)).to_be_visible()
    cookie = next(c for c in page.context.cookies() if c["name"] == "ops_session")
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    assert cookie["value"] != ops_site.ops_token
    expect(page.get_by_role("row", name="catalog")).to_contain_text("healthy")

    page.goto(f"{ops_site.url}/ops")  # the index answers at once: no waiting for CloudWatch
    row = page.locator("tr", has_text=incident["message"])
    expect(row).to_have_count(1)
    expect(row).to_contain_text("/products/[id]")
    expect(row).to_contain_text(incident["release"])
    expect(row.locator("svg.ops-sparkline")).to_have_attribute(
        "aria-label", "Events per minute, last hour: 1 event"
    )

    chart = page.locator("figure.ops-chart svg")
    expect(chart).to_have_count(1)
    label = chart.get_attribute("aria-label") or ""
    assert label.startswith("Requests and errors per minute. Requests per minute from")
    assert chart.locator("title").count() == 1
    # The last time label ends inside the chart (it used to be cut to "15:2").
    overflow = chart.evaluate(
        """svg => {
            const labels = [...svg.querySelectorAll("text[text-anchor]")];
            const last = labels[labels.length - 1];
            const box = last.getBBox();
            return box.x + box.width - svg.viewBox.baseVal.width;
        }"""
    )
    assert overflow <= 0
    assert serious_violations(page) == []

    row.get_by_role("link").click()
    page.wait_for_url("**/ops/errors/*")
    expect(page.get_by_role("heading", level=1)).to_contain_text(incident["message"])
    expect(page.get_by_role("heading", name="Open")).to_be_visible()
    latest = page.locator("table.ops-latest tbody tr").first
    expect(latest).to_contain_text(incident["code"])
    expect(latest).to_contain_text(f"rep-{incident['code'][4:]}")
    expect(page.get_by_text("ItemList").first).to_be_visible()
    assert serious_violations(page) == []

    page.get_by_role("button", name="Mark resolved").click()
    expect(page.get_by_role("heading", name="Resolved")).to_be_visible()
    expect(page.get_by_text("at release brw-1")).to_be_visible()
    group_url = page.url
    page.goto(f"{ops_site.url}/ops")
    expect(page.locator("tr", has_text=incident["message"])).to_have_count(0)
    page.goto(f"{ops_site.url}/ops?status=resolved")
    expect(page.locator("tr", has_text=incident["message"])).to_have_count(1)
    page.goto(group_url)
    page.get_by_role("button", name="Reopen").click()
    expect(page.get_by_role("heading", name="Open")).to_be_visible()

    latest = page.locator("table.ops-latest tbody tr").first
    latest.get_by_role("link", name=incident["code"]).click()
    page.wait_for_url(f"**/ops/incidents/{incident['code']}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(incident["code"])


def test_incident_lookup_and_server_records(
    page: Page, ops_site: Site, incident: dict[str, str]
) -> None:
    sign_in(page, ops_site, ops_site.ops_token)
    expect(page.get_by_role("heading", name="Operations", exact=True)).to_be_visible()
    page.get_by_label("Incident code").fill(incident["code"].lower())
    page.get_by_role("button", name="Look up").click()
    page.wait_for_url(f"**/ops/incidents/{incident['code']}")
    url = page.url
    open_until(page, url, "GET /api/catalog/items/99999999", timeout=45)
    expect(page.get_by_role("heading", level=1)).to_contain_text(incident["code"])
    expect(page.get_by_text(f"rep-{incident['code'][4:]}").first).to_be_visible()
    # The Message column keeps whole words: it is never squeezed below its minimum width.
    widths = page.locator("table.ops-related tbody tr td:last-child").evaluate_all(
        "cells => cells.map(c => c.getBoundingClientRect().width)"
    )
    assert widths and min(widths) >= 300
    assert serious_violations(page) == []

    page.goto(f"{ops_site.url}/ops/incidents/NOPE-{uuid.uuid4().hex[:6].upper()}")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()


def test_incident_link_needs_sign_in(page: Page, ops_site: Site, incident: dict[str, str]) -> None:
    page.goto(f"{ops_site.url}/ops/incidents/{incident['code']}")
    expect(page.get_by_role("heading", name="Operations sign-in")).to_be_visible()
    assert incident["message"] not in page.content()


def test_production_without_token_has_no_ops_page(site: Site, log_dir: Path) -> None:
    """The same build with no OPS_TOKEN: /ops does not exist (404), it is never left open."""
    web = start_web(log_dir, site.build, site.bff.url, "web-no-ops-token", {"OPS_TOKEN": ""})
    try:
        for path in ("/ops", "/ops/incidents/ABC-123", "/ops/errors/0123456789abcdef"):
            with pytest.raises(urllib.error.HTTPError) as failed:
                urllib.request.urlopen(f"{web.url}{path}", timeout=30)
            assert failed.value.code == 404, path
            body = failed.value.read().decode()
            for text in ("Operations sign-in", "Upstreams", "ops_session"):
                assert text not in body, (path, text)
    finally:
        web.stop()
