"""Client for the catalog service (``GET /catalog/items/{id}``)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from decimal import Decimal

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from orders_service.config import Settings


class CatalogItem(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: int
    name: str
    price: Decimal
    currency: str
    stock: int


class CatalogError(Exception):
    """The catalog could not answer a look-up."""


class CatalogUnavailable(CatalogError):
    """Connection failure, timeout or 5xx response."""


class CatalogBadResponse(CatalogError):
    """The catalog answered with something this client does not understand."""


def build_http_client(settings: Settings, base_url: str | None = None) -> httpx.AsyncClient:
    """The shared client used for all catalog calls (created once, in the app lifespan)."""
    timeout = httpx.Timeout(
        settings.catalog_read_timeout_s, connect=settings.catalog_connect_timeout_s
    )
    return httpx.AsyncClient(
        base_url=base_url or settings.catalog_api_url,
        timeout=timeout,
        # Close idle connections before the catalog's keep-alive timeout (5 s) does.
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=2),
        # Never route service-to-service calls through HTTP(S)_PROXY from the environment.
        trust_env=False,
        headers={"Accept": "application/json"},
    )


class CatalogClient:
    def __init__(self, http: httpx.AsyncClient, *, max_concurrency: int = 8) -> None:
        self._http = http
        self._max_concurrency = max_concurrency

    async def _get(self, path: str, headers: Mapping[str, str]) -> httpx.Response:
        # GET is idempotent: retry once when a pooled connection turns out to be dead.
        for attempt in (1, 2):
            try:
                return await self._http.get(path, headers=dict(headers))
            except httpx.TimeoutException as exc:
                raise CatalogUnavailable(f"catalog request timed out: {exc!r}") from exc
            except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                if attempt == 2:
                    raise CatalogUnavailable(f"catalog unreachable: {exc!r}") from exc
            except httpx.HTTPError as exc:
                raise CatalogUnavailable(f"catalog request failed: {exc!r}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def get_item(self, item_id: int, headers: Mapping[str, str]) -> CatalogItem | None:
        """The item, ``None`` if the catalog says 404, otherwise a ``CatalogError``."""
        response = await self._get(f"/catalog/items/{item_id}", headers)
        if response.status_code == 404:
            return None
        if response.status_code >= 500:
            raise CatalogUnavailable(f"catalog answered {response.status_code}")
        if response.status_code != 200:
            raise CatalogBadResponse(f"catalog answered {response.status_code}")
        try:
            item = CatalogItem.model_validate_json(response.content)
        except ValidationError as exc:
            raise CatalogBadResponse("catalog returned an invalid item") from exc
        if item.id != item_id:
            raise CatalogBadResponse(f"catalog returned item {item.id} for {item_id}")
        return item

    async def get_items(
        self, item_ids: Iterable[int], headers: Mapping[str, str]
    ) -> dict[int, CatalogItem | None]:
        """Look up distinct ids concurrently (bounded); the first failure is raised."""
        unique_ids = list(dict.fromkeys(item_ids))
        semaphore = asyncio.Semaphore(self._max_concurrency)

        async def fetch(item_id: int) -> CatalogItem | None:
            async with semaphore:
                return await self.get_item(item_id, headers)

        results = await asyncio.gather(
            *(fetch(item_id) for item_id in unique_ids), return_exceptions=True
        )
        found: dict[int, CatalogItem | None] = {}
        for item_id, result in zip(unique_ids, results, strict=True):
            if isinstance(result, BaseException):
                raise result
            found[item_id] = result
        return found
