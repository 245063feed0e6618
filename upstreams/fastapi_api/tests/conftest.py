from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from orders_service.app import create_app
from orders_service.config import Settings
from orders_support import CATALOG_BASE_URL, FakeCatalog, assert_problem

# The live servers (run.py under gunicorn and uvicorn), the CloudWatch emulator and log groups.
pytest_plugins = ["testkit.sample_services"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def catalog() -> FakeCatalog:
    fake = FakeCatalog()
    fake.add(1, "Ethiopia Yirgacheffe", "12.50", stock=10)
    fake.add(2, "Moka Pot", "29.90", stock=3)
    fake.add(3, "Paper Filters", "5.50", stock=0)
    return fake


@pytest.fixture
async def catalog_http(catalog: FakeCatalog) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(catalog.handler), base_url=CATALOG_BASE_URL
    ) as http:
        yield http


@pytest.fixture
def app(catalog_http: httpx.AsyncClient) -> FastAPI:
    return create_app(Settings(), catalog_client=catalog_http)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture(name="assert_problem")
def assert_problem_fixture() -> Callable[..., Any]:
    return assert_problem
