"""Application factory for the orders service.

``uvicorn orders_service.app:app`` serves the module-level ``app`` configured from the
environment; tests call :func:`create_app` with explicit settings or an injected client.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import logship.setup
from fastapi import FastAPI
from starlette.types import Scope

from orders_service.body_limit import BodySizeLimitMiddleware
from orders_service.catalog import CatalogClient, build_http_client
from orders_service.config import Settings
from orders_service.head import HeadAsGetMiddleware
from orders_service.openapi import install_openapi
from orders_service.problems import problem_exception_handlers
from orders_service.request_id import RequestIdMiddleware
from orders_service.routes import diagnostics, health, orders
from orders_service.store import OrderStore

__all__ = ["app", "create_app"]

MAX_BODY_BYTES = 1024 * 1024


def request_body_limit(scope: Scope) -> int:
    """1 MiB for the API; the echo endpoint accepts larger bodies for proxy tests."""
    if str(scope.get("path", "")).startswith(diagnostics.PREFIX + "/"):
        return diagnostics.MAX_ECHO_BODY_BYTES
    return MAX_BODY_BYTES


def create_app(
    settings: Settings | None = None,
    *,
    catalog_base_url: str | None = None,
    catalog_client: httpx.AsyncClient | None = None,
) -> FastAPI:
    """Build the application.

    :param settings: configuration; defaults to :meth:`Settings.from_env`.
    :param catalog_base_url: overrides ``settings.catalog_api_url``.
    :param catalog_client: a ready ``httpx.AsyncClient`` for catalog calls (its
        ``base_url`` must point at the catalog). It is used as is and never closed by the
        app. Without it, one client is created when the app starts and closed on shutdown.
    """
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            if catalog_client is not None:
                yield
                return
            async with build_http_client(settings, catalog_base_url) as http:
                app.state.catalog = CatalogClient(
                    http, max_concurrency=settings.catalog_max_concurrency
                )
                try:
                    yield
                finally:
                    app.state.catalog = None
        finally:
            # Deliver (or spool) every log event still buffered for CloudWatch before the
            # process exits; bounded, never raises, a no-op when nothing is shipped.
            await asyncio.to_thread(logship.setup.shutdown, settings.log_shutdown_timeout_s)

    app = FastAPI(
        title="Orders service",
        version="1.0.0",
        description="Sample upstream: creates orders priced from the catalog service.",
        lifespan=lifespan,
        # Like the catalog service: no trailing-slash redirects, "/orders/" is simply a 404.
        redirect_slashes=False,
        exception_handlers=problem_exception_handlers(),
    )
    app.state.settings = settings
    app.state.store = OrderStore(max_orders=settings.max_orders)
    app.state.catalog = (
        CatalogClient(catalog_client, max_concurrency=settings.catalog_max_concurrency)
        if catalog_client is not None
        else None
    )
    # add_middleware prepends, so RequestIdMiddleware (added last) is the outermost one and
    # even a 413 from the body limit carries the request id.
    app.add_middleware(HeadAsGetMiddleware, router=app.router)
    app.add_middleware(BodySizeLimitMiddleware, limit_for=request_body_limit)
    app.add_middleware(RequestIdMiddleware)

    app.include_router(health.router)
    if settings.test_endpoints:
        # Registered before /orders/{order_id} so they take precedence.
        app.router.routes.extend(diagnostics.any_method_routes)
        app.include_router(diagnostics.router)
    app.include_router(orders.router)
    install_openapi(app)
    return app


app = create_app()
