"""Configuration, the in-memory store and the runner's command line."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest
from logship.config import ConfigError

from orders_service.config import DEFAULT_CATALOG_API_URL, Settings
from orders_service.schemas import Order
from orders_service.store import OrderStore

SERVICE_DIR = Path(__file__).resolve().parent.parent


def make_order(order_id: int) -> Order:
    return Order(
        id=order_id,
        status="confirmed",
        items=[],
        total="0.00",
        currency="EUR",
        customer_email="a@b.co",
        note=None,
        created_at=datetime.now(UTC),
    )


def test_settings_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.catalog_api_url == DEFAULT_CATALOG_API_URL == "http://127.0.0.1:8001"
    assert settings.test_endpoints is True
    assert settings.catalog_connect_timeout_s == 1.0
    assert settings.catalog_read_timeout_s == 5.0


def test_settings_from_env() -> None:
    settings = Settings.from_env(
        {"CATALOG_API_URL": "http://127.0.0.1:9001/", "UPSTREAM_TEST_ENDPOINTS": "0"}
    )
    assert settings.catalog_api_url == "http://127.0.0.1:9001"
    assert settings.test_endpoints is False


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("On", True), ("false", False)])
def test_test_endpoints_flag(raw: str, expected: bool) -> None:
    assert Settings.from_env({"UPSTREAM_TEST_ENDPOINTS": raw}).test_endpoints is expected


def test_test_endpoints_flag_rejects_garbage() -> None:
    with pytest.raises(ConfigError, match="UPSTREAM_TEST_ENDPOINTS"):
        Settings.from_env({"UPSTREAM_TEST_ENDPOINTS": "maybe"})


def test_store_assigns_ids_and_pages() -> None:
    store = OrderStore()
    orders = [store.add(make_order) for _ in range(5)]
    assert [order.id for order in orders] == [1, 2, 3, 4, 5]
    assert store.get(3) == orders[2]
    assert store.get(99) is None
    page, total = store.page(limit=2, offset=3)
    assert page == orders[3:5]
    assert total == 5


def test_store_evicts_oldest_orders() -> None:
    store = OrderStore(max_orders=3)
    for _ in range(5):
        store.add(make_order)
    page, total = store.page(limit=10, offset=0)
    assert [order.id for order in page] == [3, 4, 5]
    assert total == 3
    assert store.get(1) is None


def test_store_rejects_invalid_capacity() -> None:
    with pytest.raises(ValueError):
        OrderStore(max_orders=0)


def load_runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location("orders_run", SERVICE_DIR / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_runner_uvicorn_options() -> None:
    runner = load_runner()
    assert runner.ASGI_APP == "orders_service.app:app"
    options = runner.uvicorn_options(runner.parse_args(["--port", "9124"]))
    assert options["app_dir"] == str(SERVICE_DIR)
    assert options["host"] == "127.0.0.1"
    assert options["port"] == 9124
    assert options["access_log"] is False
    assert options["timeout_graceful_shutdown"] == 10
    assert options["reload"] is False
    assert options["lifespan"] == "on"
    assert options["log_config"]["loggers"]["uvicorn.access"]["propagate"] is False
