"""The storefront in a real browser: the production build over the real BFF and upstreams.

Debian's chromium through Playwright. Every page is also checked with axe-core (no serious or
critical violations), and a second web server + BFF pointed at stopped upstreams shows that an
outage becomes a readable page, never a 500.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .procs import Service, free_port, start_bff
from .web_site import WEB, Site, WebBuild, start_web

if TYPE_CHECKING:
    from playwright.sync_api import Page

AXE = WEB / "node_modules" / "axe-core" / "axe.min.js"
SEED_TOTAL = 42
PAGE_SIZE = 12
OUTAGE_HEADINGS = re.compile(
    r"We can't reach the (catalog|order service) right now"
    r"|The (catalog|order service) is (temporarily unavailable|taking too long to answer)"
)


def bff_json(site: Site, path: str) -> Any:
    with urllib.request.urlopen(f"{site.bff.url}{path}", timeout=10) as resp:
        return json.loads(resp.read())


def assert_accessible(page: Page, context: str) -> None:
    """axe-core on the current page: no serious or critical violations."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} -> {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, f"{context}: {bad}"


def goto(page: Page, url: str, status: int = 200) -> None:
    response = page.goto(url, wait_until="networkidle")
    assert response is not None and response.status == status, (url, response and response.status)


def place_order(page: Page, *, email: str, quantity: str = "1", note: str = "") -> None:
    page.get_by_label("Quantity").fill(quantity)
    page.get_by_label("Email").fill(email)
    if note:
        page.get_by_label("Note").fill(note)
    page.get_by_role("button", name="Place order").click()


def test_browse_paginate_and_search(site: Site, page: Page) -> None:
    goto(page, site.url + "/")
    assert page.locator(".summary").inner_text() == f"{SEED_TOTAL} items"
    first = bff_json(site, f"/api/catalog/items?page=1&page_size={PAGE_SIZE}")["items"]
    links = page.locator(".item__link")
    assert links.count() == PAGE_SIZE
    assert links.first.inner_text() == first[0]["name"]
    assert_accessible(page, "catalog page 1")

    page.get_by_role("link", name="Next page").click()
    page.wait_for_url(re.compile(r"\?page=2$"))
    pages = -(-SEED_TOTAL // PAGE_SIZE)
    expect_text(page, "nav[aria-label=Pages] [aria-current=page]", f"Page 2 of {pages}")
    second = bff_json(site, f"/api/catalog/items?page=2&page_size={PAGE_SIZE}")["items"]
    assert page.locator(".item__link").first.inner_text() == second[0]["name"]

    page.get_by_label("Search the catalog").fill("espresso")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"\?q=espresso$"))
    found = bff_json(site, "/api/catalog/items?q=espresso")["total"]
    expect_text(page, ".summary", f"{found} item{'s' if found != 1 else ''} matching “espresso”")
    assert_accessible(page, "search results")

    goto(page, site.url + "/?q=zzz-no-such-thing")
    assert page.get_by_role("heading", name="No items found").is_visible()
    assert_accessible(page, "empty results")

    goto(page, site.url + "/?page=99")
    assert page.get_by_role("heading", name="There is no page 99").is_visible()


def expect_text(page: Page, selector: str, text: str) -> None:
    page.wait_for_function(
        "([s, t]) => document.querySelector(s)?.textContent?.trim() === t",
        arg=[selector, text],
        timeout=10_000,
    )


def test_product_detail_and_order_confirmation(site: Site, page: Page) -> None:
    goto(page, site.url + "/")
    item = bff_json(site, f"/api/catalog/items?page=1&page_size={PAGE_SIZE}")["items"][1]
    page.get_by_role("link", name=item["name"]).click()
    page.wait_for_url(f"**/products/{item['id']}")
    assert page.get_by_role("heading", level=1).inner_text() == item["name"]
    assert_accessible(page, "product page")

    place_order(page, email="ada@example.com", quantity="2", note="Leave at the door")
    page.wait_for_url(re.compile(r"/orders/\d+$"), timeout=15_000)
    order_id = int(page.url.rsplit("/", 1)[1])
    order = bff_json(site, f"/api/orders/{order_id}")
    heading = page.get_by_role("heading", level=1).inner_text()
    assert heading == f"Order {order_id} is confirmed"
    assert order["items"] == [
        {"item_id": item["id"], "quantity": 2, "unit_price": item["price"], "name": item["name"]}
    ]
    row = page.locator("tbody tr").first.inner_text()
    assert item["name"] in row and "2" in row
    assert page.get_by_test_id("order-total").inner_text().endswith(order["total"])
    assert page.get_by_text("Leave at the door").is_visible()
    assert_accessible(page, "order confirmation")

    # Server-rendered: the confirmation is in the HTML itself, not fetched by the browser.
    with urllib.request.urlopen(f"{site.url}/orders/{order_id}", timeout=10) as resp:
        assert f"Order {order_id} is confirmed" in resp.read().decode()


def test_validation_errors_are_shown_at_their_fields(site: Site, page: Page) -> None:
    goto(page, site.url + "/products/1")
    place_order(page, email="not-an-email")
    email = page.get_by_label("Email")
    page.wait_for_function(
        "el => el.getAttribute('aria-invalid') === 'true'", arg=email.element_handle()
    )
    error_id = email.get_attribute("aria-describedby")
    assert error_id
    message = page.locator(f"[id='{error_id}']").inner_text()
    assert message == "Enter an email address in the form name@example.com."
    assert page.evaluate("document.activeElement.name") == "email"
    assert page.get_by_label("Quantity").get_attribute("aria-invalid") == "false"
    assert_accessible(page, "form with a validation error")

    place_order(page, email="ada@example.com", quantity="0")
    quantity = page.get_by_label("Quantity")
    page.wait_for_function(
        "el => el.getAttribute('aria-invalid') === 'true'", arg=quantity.element_handle()
    )
    described = quantity.get_attribute("aria-describedby") or ""
    assert page.locator(f"[id='{described}']").inner_text() == "Enter a quantity of at least 1."
    assert email.get_attribute("aria-invalid") == "false"

    items = bff_json(site, "/api/catalog/items?page_size=100")["items"]
    scarce = min((i for i in items if 0 < i["stock"] < 100), key=lambda i: i["stock"])
    goto(page, f"{site.url}/products/{scarce['id']}")
    place_order(page, email="ada@example.com", quantity=str(scarce["stock"] + 1))
    quantity = page.get_by_label("Quantity")
    page.wait_for_function(
        "el => el.getAttribute('aria-invalid') === 'true'", arg=quantity.element_handle()
    )
    described = quantity.get_attribute("aria-describedby") or ""
    assert (
        f"Only {scarce['stock']} left in stock" in page.locator(f"[id='{described}']").inner_text()
    )
    assert "/orders/" not in page.url


def test_not_found_pages(site: Site, page: Page) -> None:
    goto(page, site.url + "/products/999999", status=404)
    assert page.get_by_role("heading", name="This product does not exist").is_visible()
    assert_accessible(page, "missing product")
    goto(page, site.url + "/products/not-a-number", status=404)
    goto(page, site.url + "/orders/999999", status=404)
    assert page.get_by_role("heading", name="We can't find that order").is_visible()
    goto(page, site.url + "/no/such/page", status=404)
    assert page.get_by_role("heading", name="Page not found").is_visible()
    assert_accessible(page, "not found")


def test_keyboard_only_order(site: Site, page: Page) -> None:
    goto(page, site.url + "/products/2")
    page.keyboard.press("Tab")
    skip = page.evaluate(
        "[document.activeElement.textContent,"
        " getComputedStyle(document.activeElement).outlineStyle]"
    )
    assert skip == ["Skip to content", "solid"]  # first stop, with a visible focus ring
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"

    def tab_to(name: str) -> None:
        for _ in range(20):
            page.keyboard.press("Tab")
            if (
                page.evaluate("document.activeElement.name || document.activeElement.textContent")
                == name
            ):
                return
        raise AssertionError(f"{name} not reachable with Tab")

    tab_to("quantity")
    page.keyboard.press("Control+A")
    page.keyboard.type("3")
    tab_to("email")
    page.keyboard.type("keyboard@example.com")
    tab_to("Place order")
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/orders/\d+$"), timeout=15_000)
    order = bff_json(site, "/api/orders/" + page.url.rsplit("/", 1)[1])
    assert order["customer_email"] == "keyboard@example.com"
    assert order["items"][0]["quantity"] == 3


def test_no_layout_shift_while_the_catalog_loads_and_hydrates(site: Site, page: Page) -> None:
    page.add_init_script(
        "window.__cls = 0; new PerformanceObserver(l => { for (const e of l.getEntries())"
        " if (!e.hadRecentInput) window.__cls += e.value; })"
        ".observe({type: 'layout-shift', buffered: true});"
    )
    goto(page, site.url + "/?page=2")
    page.wait_for_timeout(300)
    assert page.evaluate("window.__cls") < 0.01
    fonts = page.evaluate("[...document.fonts].map(f => f.family)")
    assert fonts == []  # system font stack, no web fonts


@pytest.fixture(scope="module")
def outage(log_dir: Path, web_build: WebBuild, bff_env: dict[str, str]) -> Iterator[Service]:
    """A second web server and BFF whose upstreams are stopped (nothing listens)."""
    env = {
        **bff_env,
        "BFF_UPSTREAM_CATALOG_URL": f"http://127.0.0.1:{free_port()}",
        "BFF_UPSTREAM_ORDERS_URL": f"http://127.0.0.1:{free_port()}",
    }
    bff = start_bff(log_dir, env, name="bff-outage")
    web = start_web(log_dir, web_build, bff.url, "web-outage")
    yield web
    web.stop()
    bff.stop()


def test_upstream_down_shows_a_graceful_page(outage: Service, page: Page) -> None:
    for path in ("/", "/?q=mug&page=2", "/products/1", "/orders/1"):
        goto(page, outage.url + path)  # 200, never a 500
        alert = page.get_by_role("alert")
        assert OUTAGE_HEADINGS.search(alert.get_by_role("heading").inner_text()), path
        retry = alert.get_by_role("link", name="Try again")
        assert retry.get_attribute("href") == path
        request_id = page.get_by_test_id("request-id").inner_text()
        assert re.fullmatch(r"[A-Za-z0-9._-]{8,128}", request_id), request_id
        assert "ECONNREFUSED" not in page.content()
    assert_accessible(page, "outage page")


@pytest.fixture(scope="module")
def orders_outage(log_dir: Path, web_build: WebBuild, bff_env: dict[str, str]) -> Iterator[Service]:
    """A web server and BFF with the real catalog but a stopped orders service."""
    env = {**bff_env, "BFF_UPSTREAM_ORDERS_URL": f"http://127.0.0.1:{free_port()}"}
    bff = start_bff(log_dir, env, name="bff-orders-outage")
    web = start_web(log_dir, web_build, bff.url, "web-orders-outage")
    yield web
    web.stop()
    bff.stop()


def test_order_while_the_order_service_is_down(orders_outage: Service, page: Page) -> None:
    goto(page, orders_outage.url + "/products/1")
    place_order(page, email="ada@example.com")
    alert = page.locator(".form-error")
    alert.wait_for(timeout=15_000)
    assert OUTAGE_HEADINGS.search(alert.inner_text()), alert.inner_text()
    assert re.search(r"Reference: [A-Za-z0-9._-]{8,}", alert.inner_text())
    assert page.get_by_role("button", name="Place order").is_enabled()
    assert "/orders/" not in page.url
    assert_accessible(page, "order form during an outage")
