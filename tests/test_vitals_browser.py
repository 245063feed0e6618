"""Core Web Vitals from a real visit: Chromium on the production build reports them to the BFF,
which logs one JSON metric record each (logger ``bff.vitals``), asserted on in CloudWatch."""

from __future__ import annotations

import json
import time
from typing import Any

from logship.testing import logs_client
from playwright.sync_api import Page

from .web_site import Site

Record = dict[str, Any]


def vitals_records(site: Site, since_ms: int) -> list[Record]:
    """Every ``bff.vitals`` record in the log group written after ``since_ms``."""
    client = logs_client(site.moto_url)
    records: list[Record] = []
    token: str | None = None
    for _ in range(200):
        kwargs: dict[str, Any] = {"logGroupName": site.log_group, "startTime": since_ms}
        if token:
            kwargs["nextToken"] = token
        page = client.filter_log_events(**kwargs)
        for event in page.get("events", []):
            record = json.loads(event["message"])
            if record.get("logger") == "bff.vitals":
                records.append(record)
        token = page.get("nextToken")
        if not token:
            break
    return records


def test_web_vitals_of_a_visit_land_as_json_metrics(site: Site, page: Page) -> None:
    since = int(time.time() * 1000) - 1000
    page.goto(f"{site.url}/")
    page.wait_for_load_state("networkidle")
    page.get_by_role("searchbox").first.click()  # an interaction, so INP has something to measure
    page.keyboard.type("a")
    # Leaving the page fires pagehide/visibilitychange: the batch goes out with sendBeacon.
    page.goto("about:blank")

    deadline = time.monotonic() + 30
    names: set[str] = set()
    records: list[Record] = []
    while time.monotonic() < deadline:
        records = [
            r for r in vitals_records(site, since) if r["data"].get("release") == site.build.release
        ]
        names = {r["data"]["name"] for r in records}
        if {"LCP", "FCP", "TTFB", "CLS"} <= names:
            break
        time.sleep(0.5)
    assert {"LCP", "FCP", "TTFB", "CLS"} <= names, (names, site.bff.log()[-3000:])
    for record in records:
        data = record["data"]
        assert record["message"] == f"web vital {data['name']}"
        assert isinstance(data["value"], int | float) and data["value"] >= 0
        assert data["rating"] in {"good", "needs-improvement", "poor"}
        assert data["route"] == "/"
        assert record["request_id"]
    lcp = next(r for r in records if r["data"]["name"] == "LCP")
    assert 0 < lcp["data"]["value"] < 30_000
