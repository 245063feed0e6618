"""``/orders`` endpoints."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from orders_service.catalog import (
    CatalogBadResponse,
    CatalogClient,
    CatalogItem,
    CatalogUnavailable,
)
from orders_service.problems import FieldError, ProblemError, problem_responses
from orders_service.request_id import get_request_id
from orders_service.schemas import Order, OrderCreate, OrderLine, OrderLineIn, OrderList
from orders_service.store import OrderStore

router = APIRouter(prefix="/orders", tags=["orders"])

_CENT = Decimal("0.01")
# W3C Trace Context: version-traceid-parentid-flags.
_TRACEPARENT_RE = re.compile(r"[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")
_MAX_TRACESTATE_LENGTH = 512


def get_store(request: Request) -> OrderStore:
    store: OrderStore = request.app.state.store
    return store


def get_catalog(request: Request) -> CatalogClient:
    catalog: CatalogClient | None = getattr(request.app.state, "catalog", None)
    if catalog is None:
        raise RuntimeError("catalog client not initialised (application lifespan not run?)")
    return catalog


StoreDep = Annotated[OrderStore, Depends(get_store)]
CatalogDep = Annotated[CatalogClient, Depends(get_catalog)]


def forwarded_headers(request: Request) -> dict[str, str]:
    """Headers propagated to the catalog: the request id and W3C trace context."""
    headers = {"X-Request-ID": get_request_id(request)}
    traceparent = request.headers.get("traceparent", "").strip()
    if _TRACEPARENT_RE.fullmatch(traceparent):
        headers["traceparent"] = traceparent
        tracestate = request.headers.get("tracestate", "").strip()
        if tracestate and len(tracestate) <= _MAX_TRACESTATE_LENGTH and tracestate.isprintable():
            headers["tracestate"] = tracestate
    return headers


def _format_money(amount: Decimal) -> str:
    return f"{amount.quantize(_CENT):.2f}"


def _resolve_lines(
    payload: OrderCreate, catalog_items: dict[int, CatalogItem | None]
) -> list[tuple[OrderLineIn, CatalogItem]]:
    """Pair each order line with its catalog item; 422 for unknown items, 409 for stock."""
    unknown = [
        FieldError(f"items.{index}.item_id", f"Item {line.item_id} does not exist.")
        for index, line in enumerate(payload.items)
        if catalog_items[line.item_id] is None
    ]
    if unknown:
        raise ProblemError(422, "The order refers to unknown items.", errors=unknown)

    currencies = {item.currency for item in catalog_items.values() if item is not None}
    if len(currencies) > 1:
        raise ProblemError(
            422,
            "All items of an order must be priced in the same currency.",
            errors=[FieldError("items", f"Mixed currencies: {', '.join(sorted(currencies))}.")],
        )

    requested = Counter[int]()
    for line in payload.items:
        requested[line.item_id] += line.quantity
    short = [
        FieldError(
            f"items.{index}.quantity",
            f"Only {item.stock} of item {item.id} in stock; {requested[item.id]} requested.",
        )
        for index, line in enumerate(payload.items)
        if (item := catalog_items[line.item_id]) is not None and requested[item.id] > item.stock
    ]
    if short:
        raise ProblemError(409, "Insufficient stock for some items.", errors=short)
    return [
        (line, item) for line in payload.items if (item := catalog_items[line.item_id]) is not None
    ]


@router.post(
    "",
    status_code=201,
    response_model=Order,
    summary="Create an order",
    responses=problem_responses(400, 409, 413, 415, 422, 502, 503),
)
async def create_order(
    payload: OrderCreate,
    request: Request,
    response: Response,
    store: StoreDep,
    catalog: CatalogDep,
) -> Order:
    """Price the items from the catalog, check stock and store a confirmed order.

    Stock is checked but not reserved: the catalog has no reservation API.
    """
    try:
        catalog_items = await catalog.get_items(
            (line.item_id for line in payload.items), forwarded_headers(request)
        )
    except CatalogUnavailable as exc:
        raise ProblemError(503, "The catalog service is unavailable.") from exc
    except CatalogBadResponse as exc:
        raise ProblemError(502, "The catalog service returned an invalid response.") from exc

    lines: list[OrderLine] = []
    total = Decimal(0)
    currency = ""
    for line, item in _resolve_lines(payload, catalog_items):
        total += item.price * line.quantity
        currency = item.currency
        lines.append(
            OrderLine(
                item_id=item.id,
                quantity=line.quantity,
                unit_price=_format_money(item.price),
                name=item.name,
            )
        )

    def build(order_id: int) -> Order:
        return Order(
            id=order_id,
            status="confirmed",
            items=lines,
            total=_format_money(total),
            currency=currency,
            customer_email=payload.customer_email,
            note=payload.note,
            created_at=datetime.now(UTC),
        )

    order = store.add(build)
    response.headers["Location"] = f"/orders/{order.id}"
    return order


@router.get("", response_model=OrderList, summary="List orders", responses=problem_responses(400))
async def list_orders(
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> OrderList:
    orders, total = store.page(limit=limit, offset=offset)
    return OrderList(orders=orders, total=total, limit=limit, offset=offset)


@router.get(
    "/{order_id}",
    response_model=Order,
    summary="Get an order",
    responses=problem_responses(400, 404),
)
async def get_order(order_id: Annotated[int, Path(ge=1)], store: StoreDep) -> Order:
    order = store.get(order_id)
    if order is None:
        raise ProblemError(404, f"Order {order_id} does not exist.")
    return order
