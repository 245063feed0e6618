"""The web slice end to end: the built site and `next dev`, each over the real BFF and upstreams."""

from __future__ import annotations

import html
import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from .procs import Service, free_port, start
from .web_site import NODE_ENV, WEB, WebBuild, start_web


def fetch(
    url: str, data: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(
        url, data=data, headers=headers or {}, method="POST" if data is not None else "GET"
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


@pytest.fixture(scope="module")
def web(log_dir: Path, web_build: WebBuild, bff: Service) -> Iterator[Service]:
    svc = start_web(log_dir, web_build, bff.url, "web")
    yield svc
    svc.stop()


def test_home_page_renders_catalog_data_from_the_bff(web: Service, bff: Service) -> None:
    _, _, raw = fetch(f"{bff.url}/api/catalog/items?page=1&page_size=20")
    first_item = json.loads(raw)["items"][0]["name"]
    status, headers, body = fetch(f"{web.url}/")
    assert status == 200
    assert html.escape(first_item) in body.decode()
    assert "text/html" in headers["content-type"]


def test_search_goes_through_the_bff(web: Service) -> None:
    status, _, body = fetch(f"{web.url}/?q=zzzz-no-such-thing")
    assert status == 200
    assert "No items found" in body.decode()


def test_same_origin_api_reaches_the_bff(web: Service) -> None:
    status, headers, body = fetch(
        f"{web.url}/api/catalog/items?page_size=2", headers={"X-Request-ID": "web-e2e-1"}
    )
    assert status == 200
    assert len(json.loads(body)["items"]) == 2
    assert headers["x-request-id"] == "web-e2e-1"
    assert "access-control-allow-origin" not in headers  # same origin: no CORS at all


def test_client_side_order_action_path(web: Service) -> None:
    payload = json.dumps(
        {"items": [{"item_id": 2, "quantity": 1}], "customer_email": "demo@example.com"}
    ).encode()
    status, headers, body = fetch(
        f"{web.url}/api/orders", payload, {"Content-Type": "application/json"}
    )
    assert status == 201, body
    assert headers["location"].startswith("/api/orders/")
    assert json.loads(body)["status"] == "confirmed"


def test_product_and_order_pages_are_server_rendered(web: Service, bff: Service) -> None:
    _, _, raw = fetch(f"{bff.url}/api/catalog/items/3")
    item = json.loads(raw)
    status, _, body = fetch(f"{web.url}/products/3")
    assert status == 200
    assert html.escape(item["name"]) in body.decode()
    payload = json.dumps({"items": [{"item_id": 3, "quantity": 1}], "customer_email": "a@b.co"})
    _, _, raw = fetch(
        f"{web.url}/api/orders", payload.encode(), {"Content-Type": "application/json"}
    )
    order_id = json.loads(raw)["id"]
    status, _, body = fetch(f"{web.url}/orders/{order_id}")
    assert status == 200
    assert f"Order {order_id} is confirmed" in body.decode()
    assert "no email is sent" in body.decode()  # nothing sends one, so nothing claims it


#: Each missing page and the words its 404 must carry in the server's HTML (no JavaScript run).
MISSING = [
    ("/products/999999", "This product does not exist"),
    ("/products/x", "This product does not exist"),
    ("/orders/999999", "find that order"),
    ("/nope", "Page not found"),
]


@pytest.mark.parametrize(("path", "words"), MISSING)
def test_missing_things_answer_404(web: Service, path: str, words: str) -> None:
    status, headers, body = fetch(f"{web.url}{path}")
    assert status == 404
    assert "text/html" in headers["content-type"]
    assert words in visible_html(body)


def visible_html(body: bytes) -> str:
    """The server's HTML without its scripts: what a reader sees before any JavaScript runs."""
    text = body.decode()
    return re.sub(r"<script\b.*?</script>", "", text, flags=re.DOTALL)


def test_favicon_is_served(web: Service) -> None:
    status, headers, body = fetch(f"{web.url}/favicon.ico")
    assert status == 200
    assert headers["content-type"] in ("image/x-icon", "image/vnd.microsoft.icon")
    assert body[:4] == b"\x00\x00\x01\x00" and 0 < len(body) < 16_384  # an ICO header, small


def test_bff_address_is_read_at_run_time(log_dir: Path, web_build: WebBuild) -> None:
    """The same build, pointed at a BFF that is down: a calm page and a 502 problem."""
    svc = start_web(log_dir, web_build, f"http://127.0.0.1:{free_port()}", "web-down")
    try:
        status, _, body = fetch(f"{svc.url}/")
        assert status == 200
        assert html.escape("We can't reach the catalog right now") in body.decode()
        status, headers, body = fetch(f"{svc.url}/api/catalog/items")
        assert status == 502
        assert headers["content-type"].startswith("application/problem+json")
        assert json.loads(body)["status"] == 502
    finally:
        svc.stop()


def test_next_dev_reaches_the_bff_without_cors(log_dir: Path, bff: Service) -> None:
    port = free_port()
    svc = start(
        "next-dev",
        [str(WEB / "node_modules" / ".bin" / "next"), "dev", "-p", str(port), "-H", "127.0.0.1"],
        port,
        log_dir,
        {**NODE_ENV, "BFF_URL": bff.url},
        health="/api/catalog/items?page_size=1",
        timeout=120,
        cwd=WEB,
    )
    try:
        status, _, body = fetch(f"{svc.url}/api/catalog/items?page_size=1")
        assert status == 200 and len(json.loads(body)["items"]) == 1
        status, _, body = fetch(f"{svc.url}/")
        assert status == 200 and "42 items" in body.decode()
        status, _, body = fetch(f"{svc.url}/products/1")
        assert status == 200 and "Place order" in body.decode()
        for path, words in MISSING:  # the 404 content is in the server HTML under next dev too
            status, _, body = fetch(f"{svc.url}{path}")
            assert status == 404 and words in visible_html(body), path
        status, _, body = fetch(f"{svc.url}/favicon.ico")
        assert status == 200 and body[:4] == b"\x00\x00\x01\x00"
    finally:
        svc.stop()
