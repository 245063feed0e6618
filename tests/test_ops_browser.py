"""The /ops page in chromium against the production build, its BFF and the log emulator."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from playwright.sync_api import Page, expect

from .procs import ROOT
from .test_ops_e2e import client_error_record
from .web_site import Site, start_web

AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="module")
def incident(site: Site) -> dict[str, str]:
    """One client error written into the site's log group, and some proxied traffic."""
    logs = boto3.client(
        "logs",
        endpoint_url=site.moto_url,
        region_name="eu-west-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    try:
        logs.create_log_group(logGroupName=site.log_group)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    stream = f"client-errors/browser-test/{uuid.uuid4().hex[:6]}"
    logs.create_log_stream(logGroupName=site.log_group, logStreamName=stream)
    tag = uuid.uuid4().hex[:8].upper()
    ids = {
        "code": f"BRW-{tag}",
        "fingerprint": uuid.uuid4().hex[:16],
        "message": f"ops browser check {tag}",
    }
    record = client_error_record(ids["code"], ids["fingerprint"], ids["message"])
    logs.put_log_events(
        logGroupName=site.log_group,
        logStreamName=stream,
        logEvents=[{"timestamp": int(time.time() * 1000), "message": json.dumps(record)}],
    )
    for _ in range(3):
        with urllib.request.urlopen(f"{site.bff.url}/api/catalog/items?page_size=1", timeout=10):
            pass
    return ids


def sign_in(page: Page, site: Site, token: str) -> None:
    page.goto(f"{site.url}/ops")
    page.get_by_label("Ops token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("networkidle")


def open_dashboard_until(page: Page, site: Site, text: str, timeout: float = 30.0) -> None:
    """Reload /ops until ``text`` shows (the BFF caches its CloudWatch reads briefly)."""
    deadline = time.monotonic() + timeout
    while True:
        page.goto(f"{site.url}/ops")
        if page.get_by_text(text).count() or time.monotonic() > deadline:
            break
        time.sleep(1.0)
    expect(page.get_by_text(text).first).to_be_visible()


def serious_violations(page: Page) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = page.evaluate("async () => await axe.run(document)")
    return [v for v in result["violations"] if v["impact"] in ("serious", "critical")]


def test_token_required(page: Page, site: Site, incident: dict[str, str]) -> None:
    response = page.goto(f"{site.url}/ops")
    assert response is not None and response.status == 200
    expect(page.get_by_role("heading", name="Operations sign-in")).to_be_visible()
    assert incident["message"] not in page.content()
    robots = page.locator('meta[name="robots"]').get_attribute("content") or ""
    assert "noindex" in robots
    assert serious_violations(page) == []
    sign_in(page, site, "w" * 40)
    expect(page.locator("p[role=alert]")).to_have_text("That token is not valid.")
    assert not page.context.cookies()
    # The ops API itself refuses the browser without the bearer token.
    api = page.request.get(f"{site.url}/api/ops/summary")
    assert api.status == 401


def test_dashboard_groups_chart_and_incident_lookup(
    page: Page, site: Site, incident: dict[str, str]
) -> None:
    sign_in(page, site, site.ops_token)
    cookie = next(c for c in page.context.cookies() if c["name"] == "ops_session")
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    assert cookie["value"] != site.ops_token
    expect(page.get_by_role("heading", name="Operations", exact=True)).to_be_visible()
    expect(page.get_by_role("row", name="catalog")).to_contain_text("healthy")

    open_dashboard_until(page, site, incident["message"])
    summary = page.get_by_text(incident["message"]).first
    summary.click()  # opens the <details> with the sample
    expect(
        page.get_by_text("ItemList (src/components/catalog/item-list.tsx:21:9)").first
    ).to_be_visible()

    chart = page.locator('svg[role="img"]')
    expect(chart).to_have_count(1)
    label = chart.get_attribute("aria-label") or ""
    assert label.startswith("Requests and errors per minute. Requests per minute from")
    assert chart.locator("title").count() == 1
    assert page.locator("table.visually-hidden").count() == 1

    assert serious_violations(page) == []

    page.get_by_label("Incident code").fill(incident["code"].lower())
    page.get_by_role("button", name="Look up").click()
    page.wait_for_url(f"**/ops/incidents/{incident['code']}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(incident["code"])
    expect(page.get_by_text(f"req-{incident['code'].lower()}")).to_be_visible()
    assert serious_violations(page) == []

    page.goto(f"{site.url}/ops/incidents/NOPE-{uuid.uuid4().hex[:6].upper()}")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()


def test_incident_link_needs_sign_in(page: Page, site: Site, incident: dict[str, str]) -> None:
    page.goto(f"{site.url}/ops/incidents/{incident['code']}")
    expect(page.get_by_role("heading", name="Operations sign-in")).to_be_visible()
    assert incident["message"] not in page.content()


def test_production_without_token_has_no_ops_page(site: Site, log_dir: Path) -> None:
    """The same build with no OPS_TOKEN: /ops does not exist (404), it is never left open."""
    web = start_web(log_dir, site.build, site.bff.url, "web-no-ops-token", {"OPS_TOKEN": ""})
    try:
        for path in ("/ops", "/ops/incidents/ABC-123"):
            with pytest.raises(urllib.error.HTTPError) as failed:
                urllib.request.urlopen(f"{web.url}{path}", timeout=30)
            assert failed.value.code == 404, path
            body = failed.value.read().decode()
            for text in ("Operations sign-in", "Upstreams", "ops_session"):
                assert text not in body, (path, text)
    finally:
        web.stop()
