from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from testkit import free_port

from orders_service.app import create_app
from orders_service.config import Settings
from orders_service.store import OrderStore
from orders_support import FakeCatalog, assert_problem

pytestmark = pytest.mark.anyio

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def order_payload(*lines: tuple[int, int], **extra: Any) -> dict[str, Any]:
    return {
        "items": [{"item_id": item_id, "quantity": quantity} for item_id, quantity in lines],
        "customer_email": "ada@example.com",
        **extra,
    }


# --- health / meta -----------------------------------------------------------------------


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_openapi_is_enabled(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert {"/orders", "/orders/{order_id}", "/healthz"} <= set(schema["paths"])
    assert not any("_test" in path for path in schema["paths"])
    assert (
        "application/problem+json"
        in schema["paths"]["/orders"]["post"]["responses"]["409"]["content"]
    )


# --- create ------------------------------------------------------------------------------


async def test_create_order(client: httpx.AsyncClient) -> None:
    before = datetime.now(UTC)
    response = await client.post(
        "/orders", json=order_payload((1, 2), (2, 1), note="Leave at the door")
    )
    assert response.status_code == 201
    body = response.json()
    assert response.headers["location"] == f"/orders/{body['id']}"
    assert body["status"] == "confirmed"
    assert body["items"] == [
        {"item_id": 1, "quantity": 2, "unit_price": "12.50", "name": "Ethiopia Yirgacheffe"},
        {"item_id": 2, "quantity": 1, "unit_price": "29.90", "name": "Moka Pot"},
    ]
    assert body["total"] == "54.90"
    assert body["currency"] == "EUR"
    assert body["customer_email"] == "ada@example.com"
    assert body["note"] == "Leave at the door"
    created_at = datetime.fromisoformat(body["created_at"])
    assert before - timedelta(seconds=1) <= created_at <= datetime.now(UTC)

    fetched = await client.get(response.headers["location"])
    assert fetched.status_code == 200
    assert fetched.json() == body


async def test_order_ids_increase(client: httpx.AsyncClient) -> None:
    first = (await client.post("/orders", json=order_payload((1, 1)))).json()["id"]
    second = (await client.post("/orders", json=order_payload((1, 1)))).json()["id"]
    assert second == first + 1


async def test_duplicate_items_are_looked_up_once(
    client: httpx.AsyncClient, catalog: FakeCatalog
) -> None:
    response = await client.post("/orders", json=order_payload((1, 1), (1, 2), (2, 1)))
    assert response.status_code == 201
    assert response.json()["total"] == "67.40"
    assert sorted(request.url.path for request in catalog.requests) == [
        "/catalog/items/1",
        "/catalog/items/2",
    ]


async def test_forwards_request_id_and_trace_context(
    client: httpx.AsyncClient, catalog: FakeCatalog
) -> None:
    response = await client.post(
        "/orders",
        json=order_payload((1, 1)),
        headers={"X-Request-ID": "order-req-1", "traceparent": TRACEPARENT, "tracestate": "a=1"},
    )
    assert response.status_code == 201
    assert response.headers["x-request-id"] == "order-req-1"
    (request,) = catalog.requests
    assert request.headers["x-request-id"] == "order-req-1"
    assert request.headers["traceparent"] == TRACEPARENT
    assert request.headers["tracestate"] == "a=1"


async def test_forwards_generated_request_id_and_drops_invalid_traceparent(
    client: httpx.AsyncClient, catalog: FakeCatalog
) -> None:
    response = await client.post(
        "/orders",
        json=order_payload((1, 1)),
        headers={"traceparent": "garbage", "tracestate": "a=1", "X-Request-ID": "bad id!"},
    )
    generated = response.headers["x-request-id"]
    assert generated != "bad id!"
    (request,) = catalog.requests
    assert request.headers["x-request-id"] == generated
    assert "traceparent" not in request.headers
    assert "tracestate" not in request.headers


async def test_unknown_items(client: httpx.AsyncClient, assert_problem: Any) -> None:
    response = await client.post("/orders", json=order_payload((1, 1), (99, 1), (98, 2)))
    body = assert_problem(response, 422, instance="/orders")
    assert body["errors"] == [
        {"field": "items.1.item_id", "message": "Item 99 does not exist."},
        {"field": "items.2.item_id", "message": "Item 98 does not exist."},
    ]


async def test_insufficient_stock(client: httpx.AsyncClient, assert_problem: Any) -> None:
    response = await client.post("/orders", json=order_payload((2, 4)))
    body = assert_problem(response, 409)
    assert body["title"] == "Conflict"
    assert body["errors"][0]["field"] == "items.0.quantity"
    assert "Only 3" in body["errors"][0]["message"]


async def test_stock_is_checked_across_repeated_lines(
    client: httpx.AsyncClient, assert_problem: Any
) -> None:
    response = await client.post("/orders", json=order_payload((2, 2), (2, 2)))
    body = assert_problem(response, 409)
    assert [error["field"] for error in body["errors"]] == ["items.0.quantity", "items.1.quantity"]


async def test_out_of_stock_item(client: httpx.AsyncClient, assert_problem: Any) -> None:
    assert_problem(await client.post("/orders", json=order_payload((3, 1))), 409)


async def test_mixed_currencies(
    client: httpx.AsyncClient, catalog: FakeCatalog, assert_problem: Any
) -> None:
    catalog.add(7, "Imported Kettle", "40.00", stock=5, currency="USD")
    body = assert_problem(await client.post("/orders", json=order_payload((1, 1), (7, 1))), 422)
    assert body["errors"][0]["field"] == "items"


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({}, ["items", "customer_email"]),
        (order_payload(), ["items"]),
        (order_payload(*[(1, 1)] * 51), ["items"]),
        (order_payload((0, 1)), ["items.0.item_id"]),
        (order_payload((1, 0)), ["items.0.quantity"]),
        (order_payload((1, 1), (1, 101)), ["items.1.quantity"]),
        ({**order_payload((1, 1)), "customer_email": "not-an-email"}, ["customer_email"]),
        ({**order_payload((1, 1)), "customer_email": "a b@example.com"}, ["customer_email"]),
        (order_payload((1, 1), note="x" * 501), ["note"]),
        (order_payload((1, 1), coupon="FREE"), ["coupon"]),
        (
            {"items": [{"item_id": "1", "quantity": 1}], "customer_email": "a@b.co"},
            ["items.0.item_id"],
        ),
        (
            {"items": [{"item_id": 1, "quantity": 1.5}], "customer_email": "a@b.co"},
            ["items.0.quantity"],
        ),
        ({"items": [{"item_id": 1}], "customer_email": "a@b.co"}, ["items.0.quantity"]),
        ([1, 2], ["body"]),
    ],
)
async def test_validation_errors(
    client: httpx.AsyncClient, catalog: FakeCatalog, payload: Any, fields: list[str]
) -> None:
    response = await client.post("/orders", json=payload)
    body = assert_problem(response, 422, instance="/orders")
    assert body["title"] == "Unprocessable Content"
    assert [error["field"] for error in body["errors"]] == fields
    assert all(isinstance(error["message"], str) and error["message"] for error in body["errors"])
    assert catalog.requests == []


async def test_email_error_message(client: httpx.AsyncClient) -> None:
    payload = {**order_payload((1, 1)), "customer_email": "nope"}
    body = (await client.post("/orders", json=payload)).json()
    assert body["errors"] == [
        {"field": "customer_email", "message": "Must be a valid email address."}
    ]


@pytest.mark.parametrize("raw", [b'{"items": [', b"nope", b'{"a": NaN'])
async def test_malformed_json(client: httpx.AsyncClient, raw: bytes) -> None:
    response = await client.post(
        "/orders", content=raw, headers={"content-type": "application/json"}
    )
    body = assert_problem(response, 400, instance="/orders")
    assert body["detail"] == "The request body is not valid JSON."


async def test_empty_body(client: httpx.AsyncClient) -> None:
    response = await client.post("/orders", headers={"content-type": "application/json"})
    body = assert_problem(response, 422)
    assert body["errors"][0]["field"] == "body"


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
async def test_non_json_content_type(client: httpx.AsyncClient, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = await client.post("/orders", content=b'{"items": []}', headers=headers)
    assert_problem(response, 415)


async def test_body_too_large(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/orders",
        content=b" " * (1024 * 1024 + 1),
        headers={"content-type": "application/json", "X-Request-ID": "too-big"},
    )
    assert_problem(response, 413, instance="/orders")
    assert response.headers["x-request-id"] == "too-big"


async def test_chunked_body_too_large(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b" " * (64 * 1024)

    response = await client.post(
        "/orders", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert_problem(response, 413)


# --- catalog failures --------------------------------------------------------------------


def _raise(error: Exception) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    return handler


@pytest.mark.parametrize(
    "override",
    [
        lambda request: httpx.Response(500, json={}),
        lambda request: httpx.Response(503, text="maintenance"),
        _raise(httpx.ConnectError("connection refused")),
        _raise(httpx.ReadTimeout("timed out")),
        _raise(httpx.ConnectTimeout("timed out")),
    ],
)
async def test_catalog_unavailable(
    client: httpx.AsyncClient, catalog: FakeCatalog, override: Any
) -> None:
    catalog.override = override
    body = assert_problem(await client.post("/orders", json=order_payload((1, 1))), 503)
    assert body["detail"] == "The catalog service is unavailable."


async def test_catalog_connection_error_is_retried_once(
    client: httpx.AsyncClient, catalog: FakeCatalog
) -> None:
    calls = 0

    def flaky(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        catalog.override = None
        return catalog.handler(request)

    catalog.override = flaky
    response = await client.post("/orders", json=order_payload((1, 1)))
    assert response.status_code == 201
    assert calls == 2


@pytest.mark.parametrize(
    "override",
    [
        lambda request: httpx.Response(200, text="<html>"),
        lambda request: httpx.Response(200, json={"id": 1}),
        lambda request: httpx.Response(
            200, json={"id": 2, "name": "x", "price": "1.00", "currency": "EUR", "stock": 1}
        ),
        lambda request: httpx.Response(401, json={}),
    ],
)
async def test_catalog_bad_response(
    client: httpx.AsyncClient, catalog: FakeCatalog, override: Any
) -> None:
    catalog.override = override
    assert_problem(await client.post("/orders", json=order_payload((1, 1))), 502)


async def test_real_client_against_closed_port() -> None:
    """The lifespan-created client (no injection) maps connection errors to 503."""
    app = create_app(Settings(), catalog_base_url=f"http://127.0.0.1:{free_port()}")
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        catalog = app.state.catalog
        assert catalog is not None
        assert_problem(await client.post("/orders", json=order_payload((1, 1))), 503)
    assert app.state.catalog is None


# --- read --------------------------------------------------------------------------------


async def test_get_unknown_order(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/orders/12345"), 404, instance="/orders/12345")
    assert body["detail"] == "Order 12345 does not exist."


@pytest.mark.parametrize("path", ["/orders/abc", "/orders/0", "/orders/-1"])
async def test_get_order_invalid_id(client: httpx.AsyncClient, path: str) -> None:
    body = assert_problem(await client.get(path), 400)
    assert body["errors"][0]["field"] == "order_id"


async def test_list_orders(client: httpx.AsyncClient) -> None:
    empty = (await client.get("/orders")).json()
    assert empty == {"orders": [], "total": 0, "limit": 20, "offset": 0}
    created = [(await client.post("/orders", json=order_payload((1, 1)))).json() for _ in range(5)]

    page = (await client.get("/orders", params={"limit": 2, "offset": 1})).json()
    assert page["total"] == 5
    assert page["limit"] == 2
    assert page["offset"] == 1
    assert page["orders"] == created[1:3]

    tail = (await client.get("/orders", params={"limit": 100, "offset": 4})).json()
    assert tail["orders"] == created[4:]
    beyond = (await client.get("/orders", params={"offset": 50})).json()
    assert beyond["orders"] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"offset": -1}, "offset"),
    ],
)
async def test_list_orders_invalid_parameters(
    client: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    body = assert_problem(await client.get("/orders", params=params), 400, instance="/orders")
    assert [error["field"] for error in body["errors"]] == [field]


# --- generic errors ----------------------------------------------------------------------


async def test_method_not_allowed(client: httpx.AsyncClient) -> None:
    response = await client.delete("/orders")
    body = assert_problem(response, 405, instance="/orders")
    assert response.headers["allow"] == "GET, HEAD, POST"
    assert "DELETE" in body["detail"]
    put = await client.put("/orders/1")
    assert_problem(put, 405)
    assert put.headers["allow"] == "GET, HEAD"


async def test_head_is_served_like_get(client: httpx.AsyncClient) -> None:
    get = await client.get("/orders/_test/large", params={"kb": 1})
    head = await client.head("/orders/_test/large", params={"kb": 1})
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == get.headers["content-length"] == "1024"
    assert (await client.head("/healthz")).status_code == 200
    assert (await client.head("/orders/1")).status_code == 404
    missing = await client.head("/nope")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("path", ["/nope", "/orders/", "/orders/1/items", "/catalog/items"])
async def test_unknown_route(client: httpx.AsyncClient, path: str) -> None:
    body = assert_problem(await client.get(path), 404, instance=path)
    assert body["detail"] == "The requested resource was not found."


async def test_unexpected_error(
    client: httpx.AsyncClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: OrderStore, *, limit: int, offset: int) -> Any:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(OrderStore, "page", broken)
    response = await client.get("/orders", headers={"X-Request-ID": "req-500"})
    body = assert_problem(response, 500, instance="/orders")
    assert "secret" not in response.text
    assert body["detail"] == "An unexpected error occurred."
    assert response.headers["x-request-id"] == "req-500"
