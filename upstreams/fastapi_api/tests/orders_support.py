"""Test doubles and assertions shared by the orders service tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

CATALOG_BASE_URL = "http://catalog.test"


@dataclass
class FakeCatalog:
    """Stands in for the catalog service behind an ``httpx.MockTransport``."""

    items: dict[int, dict[str, Any]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    # Called instead of the default behaviour when set (may raise httpx errors).
    override: Callable[[httpx.Request], httpx.Response] | None = None

    def add(self, item_id: int, name: str, price: str, stock: int, currency: str = "EUR") -> None:
        self.items[item_id] = {
            "id": item_id,
            "name": name,
            "slug": name.lower().replace(" ", "-"),
            "description": "",
            "price": price,
            "currency": currency,
            "stock": stock,
            "created_at": "2025-01-01T00:00:00.000Z",
        }

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.override is not None:
            return self.override(request)
        prefix = "/catalog/items/"
        if request.method != "GET" or not request.url.path.startswith(prefix):
            return httpx.Response(404, json={"status": 404})
        item = self.items.get(int(request.url.path.removeprefix(prefix)))
        if item is None:
            return httpx.Response(
                404,
                content=json.dumps({"status": 404, "title": "Not Found"}),
                headers={"content-type": "application/problem+json"},
            )
        return httpx.Response(200, json=item)


def assert_problem(response: httpx.Response, status: int, *, instance: str | None = None) -> Any:
    """Check the RFC 9457 shape of an error response and return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "about:blank"
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    if instance is not None:
        assert body["instance"] == instance
    return body
