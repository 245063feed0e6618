"""Start the real catalog (Django, gunicorn) and orders (FastAPI, uvicorn) services with their
run.py scripts on free ports and exercise them over HTTP."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest
from testkit import Process


@pytest.fixture(scope="module")
def services(live_catalog: Process, live_orders: Process) -> tuple[Process, Process]:
    """Both services through their run.py, from testkit.sample_services, for this module."""
    return live_catalog, live_orders


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, timeout=10.0) as client:
        yield client


def test_create_order_end_to_end(services: tuple[Process, Process], http: httpx.Client) -> None:
    catalog, orders = services
    listing = http.get(f"{catalog.url}/catalog/items", params={"q": "grinder"}).json()
    in_stock = [item for item in listing["items"] if item["stock"] >= 2][:2]
    assert len(in_stock) == 2

    payload = {
        "items": [
            {"item_id": in_stock[0]["id"], "quantity": 2},
            {"item_id": in_stock[1]["id"], "quantity": 1},
        ],
        "customer_email": "grace@example.com",
        "note": "end-to-end",
    }
    response = http.post(
        f"{orders.url}/orders", json=payload, headers={"X-Request-ID": "e2e-order-1"}
    )
    assert response.status_code == 201, response.text
    assert response.headers["x-request-id"] == "e2e-order-1"
    order = response.json()
    assert order["status"] == "confirmed"
    assert [line["unit_price"] for line in order["items"]] == [
        in_stock[0]["price"],
        in_stock[1]["price"],
    ]
    assert [line["name"] for line in order["items"]] == [in_stock[0]["name"], in_stock[1]["name"]]
    expected_total = Decimal(in_stock[0]["price"]) * 2 + Decimal(in_stock[1]["price"])
    assert order["total"] == f"{expected_total:.2f}"
    assert order["currency"] == "EUR"

    fetched = http.get(f"{orders.url}{response.headers['location']}")
    assert fetched.status_code == 200
    assert fetched.json() == order
    listed = http.get(f"{orders.url}/orders").json()
    assert order in listed["orders"]


def test_unknown_and_out_of_stock_items(
    services: tuple[Process, Process], http: httpx.Client
) -> None:
    catalog, orders = services
    unknown = http.post(
        f"{orders.url}/orders",
        json={"items": [{"item_id": 999_999, "quantity": 1}], "customer_email": "a@b.co"},
    )
    assert unknown.status_code == 422
    assert unknown.headers["content-type"] == "application/problem+json"
    assert unknown.json()["errors"][0]["field"] == "items.0.item_id"

    sold_out = http.get(f"{catalog.url}/catalog/items", params={"q": "Sumatra Mandheling"}).json()[
        "items"
    ][0]
    assert sold_out["stock"] == 0
    conflict = http.post(
        f"{orders.url}/orders",
        json={"items": [{"item_id": sold_out["id"], "quantity": 1}], "customer_email": "a@b.co"},
    )
    assert conflict.status_code == 409


def test_orders_echo_preserves_raw_path(
    services: tuple[Process, Process], http: httpx.Client
) -> None:
    _, orders = services
    body = http.get(
        f"{orders.url}/orders/_test/echo/a%2Fb/%7Euser?x=%20y",
        headers=[("X-Dup", "one"), ("X-Dup", "two")],
    ).json()
    assert body["path"] == "/orders/_test/echo/a%2Fb/%7Euser"
    assert body["query"] == "x=%20y"
    assert body["headers"]["x-dup"] == "one, two"


def test_orders_stream_is_chunked_and_incremental(
    services: tuple[Process, Process], http: httpx.Client
) -> None:
    _, orders = services
    started = time.monotonic()
    arrivals: list[float] = []
    params = {"chunks": 3, "interval_ms": 300, "size": 8}
    with http.stream("GET", f"{orders.url}/orders/_test/stream", params=params) as response:
        assert response.headers["transfer-encoding"] == "chunked"
        assert "content-length" not in response.headers
        lines = []
        for line in response.iter_lines():
            arrivals.append(time.monotonic() - started)
            lines.append(json.loads(line))
    assert [line["index"] for line in lines] == [0, 1, 2]
    assert arrivals[0] < arrivals[-1] - 0.4


def test_orders_large_gzip_and_cookies(
    services: tuple[Process, Process], http: httpx.Client
) -> None:
    _, orders = services
    url = f"{orders.url}/orders/_test/large"
    with http.stream("GET", url, params={"kb": 256, "gzip": 1}) as response:
        raw = b"".join(response.iter_raw())
        assert int(response.headers["content-length"]) == len(raw)
    assert len(gzip.decompress(raw)) == 256 * 1024
    cookies = http.get(f"{orders.url}/orders/_test/cookie").headers.get_list("set-cookie")
    assert cookies == [
        "session=abc; Path=/; HttpOnly; SameSite=Lax",
        "theme=dark; Path=/catalog; Max-Age=3600",
    ]


def test_orders_head_requests(services: tuple[Process, Process], http: httpx.Client) -> None:
    _, orders = services
    head = http.head(f"{orders.url}/orders/_test/large", params={"kb": 4})
    assert head.status_code == 200
    assert head.headers["content-length"] == "4096"
    assert head.content == b""
    assert http.head(f"{orders.url}/healthz").status_code == 200
    assert http.get(f"{orders.url}/healthz").json() == {"status": "ok"}
    assert "Traceback" not in orders.output()


def test_catalog_down_gives_503(services: tuple[Process, Process], http: httpx.Client) -> None:
    """Runs last in this module: it stops the catalog."""
    catalog, orders = services
    assert catalog.stop() == 0, catalog.output()
    response = http.post(
        f"{orders.url}/orders",
        json={"items": [{"item_id": 1, "quantity": 1}], "customer_email": "a@b.co"},
    )
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert http.get(f"{orders.url}/healthz").status_code == 200
