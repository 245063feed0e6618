"""In-memory order storage.

This is a sample service: orders live in a process-local dict guarded by a lock, are lost
on restart and are not shared between worker processes. Only the newest ``max_orders``
orders are kept so long benchmark runs cannot exhaust memory.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from orders_service.schemas import Order


class OrderStore:
    def __init__(self, *, max_orders: int = 100_000) -> None:
        if max_orders < 1:
            raise ValueError("max_orders must be positive")
        self._lock = threading.Lock()
        self._orders: dict[int, Order] = {}
        self._next_id = 1
        self._max_orders = max_orders

    def add(self, build: Callable[[int], Order]) -> Order:
        """Allocate the next id, build the order with it and store it atomically."""
        with self._lock:
            order = build(self._next_id)
            self._orders[order.id] = order
            self._next_id += 1
            while len(self._orders) > self._max_orders:
                del self._orders[next(iter(self._orders))]
            return order

    def get(self, order_id: int) -> Order | None:
        with self._lock:
            return self._orders.get(order_id)

    def page(self, *, limit: int, offset: int) -> tuple[list[Order], int]:
        """Orders in creation order, plus the total count."""
        with self._lock:
            orders = list(self._orders.values())
        return orders[offset : offset + limit], len(orders)
