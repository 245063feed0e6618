"""Structured logging: one access record per request, with the request id bound by the
request-id middleware; the runner's uvicorn log config; the flush at lifespan shutdown."""

from __future__ import annotations

import importlib.util
import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from logship import context
from logship.formatter import JsonFormatter

from orders_service.app import create_app
from orders_service.config import Settings
from orders_support import FakeCatalog

SERVICE_DIR = Path(__file__).resolve().parent.parent
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"

Record = dict[str, Any]


class JsonCapture(logging.Handler):
    """Formats each record as the service would (ids read from the bound context)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter("orders", "test"))
        self.records: list[Record] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(json.loads(self.format(record)))

    def named(self, logger: str) -> list[Record]:
        return [record for record in self.records if record["logger"] == logger]


@pytest.fixture
def logs() -> Iterator[JsonCapture]:
    handler = JsonCapture()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.mark.anyio
async def test_one_access_record_per_request(
    client: httpx.AsyncClient, catalog: FakeCatalog, logs: JsonCapture
) -> None:
    bound: list[context.LogContext] = []

    def catalog_handler(request: httpx.Request) -> httpx.Response:
        bound.append(context.current())
        return httpx.Response(200, json=catalog.items[1])

    catalog.override = catalog_handler
    response = await client.post(
        "/orders?api_key=s3cret&x=1",
        json={"items": [{"item_id": 1, "quantity": 1}], "customer_email": "a@example.com"},
        headers={"X-Request-ID": "req-42", "traceparent": TRACEPARENT},
    )
    assert response.status_code == 201, response.text
    [record] = logs.named("orders.access")
    assert record["level"] == "INFO"
    assert record["message"] == "POST /orders 201"
    assert record["service"] == "orders"
    assert record["request_id"] == "req-42"
    assert record["trace_id"] == TRACE_ID
    data = record["data"]
    assert set(data) == {"method", "path", "query", "status", "duration_ms", "bytes_out"}
    assert data["method"] == "POST"
    assert data["path"] == "/orders"
    assert data["status"] == 201
    assert data["bytes_out"] == len(response.content)
    assert isinstance(data["duration_ms"], float) and data["duration_ms"] >= 0
    assert "s3cret" not in data["query"]
    assert "api_key=" in data["query"] and "x=1" in data["query"]
    # The catalog call is made with the ids bound and forwards them.
    assert bound == [context.LogContext(request_id="req-42", trace_id=TRACE_ID)]
    [outbound] = catalog.requests
    assert outbound.headers["x-request-id"] == "req-42"
    assert outbound.headers["traceparent"] == TRACEPARENT
    # Nothing stays bound once the request is done.
    assert context.current() == context.LogContext()


@pytest.mark.anyio
async def test_generated_request_id_is_logged(client: httpx.AsyncClient, logs: JsonCapture) -> None:
    response = await client.get(
        "/healthz", headers={"X-Request-ID": "not valid!", "traceparent": "garbage"}
    )
    [record] = logs.named("orders.access")
    assert record["request_id"] == response.headers["x-request-id"] != "not valid!"
    assert record["trace_id"] is None
    assert record["data"]["query"] == ""


@pytest.mark.anyio
async def test_errors_are_logged_once(client: httpx.AsyncClient, logs: JsonCapture) -> None:
    response = await client.get("/nope", headers={"X-Request-ID": "req-404"})
    assert response.status_code == 404
    [record] = logs.named("orders.access")
    assert record["message"] == "GET /nope 404"
    assert record["request_id"] == "req-404"
    assert logs.named("orders.error") == []


@pytest.mark.anyio
async def test_streaming_response_is_logged_after_the_last_chunk(
    client: httpx.AsyncClient, logs: JsonCapture
) -> None:
    response = await client.get(
        "/orders/_test/stream",
        params={"chunks": 3, "interval_ms": 50, "size": 4},
        headers={"X-Request-ID": "req-stream"},
    )
    [record] = logs.named("orders.access")
    assert record["request_id"] == "req-stream"
    assert record["data"]["bytes_out"] == len(response.content) > 0
    assert record["data"]["duration_ms"] >= 100  # two intervals between three chunks


@pytest.mark.anyio
async def test_head_request_counts_no_body(client: httpx.AsyncClient, logs: JsonCapture) -> None:
    response = await client.head("/healthz")
    assert response.content == b""
    [record] = logs.named("orders.access")
    assert record["message"] == "HEAD /healthz 200"
    assert record["data"]["bytes_out"] == 0


@pytest.fixture
async def failing_client(catalog_http: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(), catalog_client=catalog_http)

    async def boom() -> None:
        logging.getLogger("orders.routes").warning("about to fail")
        raise RuntimeError("boom")

    app.add_api_route("/boom", boom)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.mark.anyio
async def test_unhandled_exception_is_logged_with_traceback(
    failing_client: httpx.AsyncClient, logs: JsonCapture
) -> None:
    response = await failing_client.get(
        "/boom", headers={"X-Request-ID": "req-500", "traceparent": TRACEPARENT}
    )
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "req-500"
    [warning] = logs.named("orders.routes")
    assert warning["request_id"] == "req-500"
    [error] = logs.named("orders.error")
    assert error["level"] == "ERROR"
    assert error["message"] == "Unhandled exception: GET /boom"
    assert error["request_id"] == "req-500"
    assert error["trace_id"] == TRACE_ID
    assert error["exception"]["type"] == "RuntimeError"
    assert "boom" in error["exception"]["stack"]
    [record] = logs.named("orders.access")
    assert record["message"] == "GET /boom 500"
    assert record["request_id"] == "req-500"


@pytest.mark.anyio
async def test_lifespan_shutdown_flushes_the_log_shipper(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[float | None] = []
    monkeypatch.setattr("logship.setup.shutdown", calls.append)
    async with app.router.lifespan_context(app):
        assert calls == []
    assert calls == [10.0]


def test_log_shutdown_timeout_setting() -> None:
    assert Settings.from_env({}).log_shutdown_timeout_s == 10.0
    assert Settings.from_env({"LOG_SHUTDOWN_TIMEOUT": "2500ms"}).log_shutdown_timeout_s == 2.5
    with pytest.raises(ValueError, match="LOG_SHUTDOWN_TIMEOUT"):
        Settings.from_env({"LOG_SHUTDOWN_TIMEOUT": "soon"})


def load_runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location("orders_run_logging", SERVICE_DIR / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_runner_log_config() -> None:
    runner = load_runner()
    config = runner.log_config({"LOG_LEVEL": "INFO"})
    formatter = config["formatters"]["logship_json"]
    assert formatter["service"] == "orders"
    assert formatter["environment"] == "development"
    assert config["root"]["handlers"] == ["logship_stdout"]
    loggers = config["loggers"]
    assert loggers["uvicorn.access"]["propagate"] is False
    assert loggers["uvicorn.error"]["propagate"] is True
    assert loggers["httpx"]["level"] == "WARNING"


def test_runner_log_config_with_cloudwatch() -> None:
    runner = load_runner()
    config = runner.log_config(
        {
            "LOG_SERVICE": "orders-blue",
            "LOG_ENVIRONMENT": "staging",
            "LOG_CLOUDWATCH_GROUP": "/test/orders",
            "AWS_REGION": "eu-west-1",
        }
    )
    assert config["formatters"]["logship_json"]["service"] == "orders-blue"
    assert config["root"]["handlers"] == ["logship_stdout", "logship_cloudwatch"]
    handler = config["handlers"]["logship_cloudwatch"]
    assert handler["()"] == "logship.cloudwatch.LazyCloudWatchHandler"
    assert handler["log_group_name"] == "/test/orders"
    assert handler["environment"] == "staging"


def test_runner_rejects_bad_logging_settings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    runner = load_runner()
    monkeypatch.setenv("LOG_FLUSH_INTERVAL", "often")
    with pytest.raises(SystemExit) as exited:
        runner.main(["--port", "9"])
    assert exited.value.code == 2
    assert "LOG_FLUSH_INTERVAL" in capsys.readouterr().err
