"""Structured logging: one access record per request, with the request id bound by the
request-id middleware, and the logging configuration (settings, gunicorn, runner)."""

from __future__ import annotations

import json
import logging
import runpy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import path
from logship import context
from logship.formatter import JsonFormatter
from logship.gunicorn import post_worker_init as logship_post_worker_init
from logship.gunicorn import worker_exit as logship_worker_exit

from catalog_project import settings as project_settings

SERVICE_DIR = Path(__file__).resolve().parent.parent
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"

Record = dict[str, Any]


class JsonCapture(logging.Handler):
    """Formats each record as the service would (ids read from the bound context)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter("catalog", "test"))
        self.records: list[Record] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(json.loads(self.format(record)))

    def named(self, logger: str) -> list[Record]:
        return [record for record in self.records if record["logger"] == logger]


@pytest.fixture
def logs() -> Iterator[JsonCapture]:
    handler = JsonCapture()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


# A URLconf with a view that fails, used by the tests of unhandled exceptions below.
def boom(request: HttpRequest) -> HttpResponse:
    logging.getLogger("catalog.views").warning("about to fail")
    raise RuntimeError("boom")


urlpatterns = [path("boom", boom)]
handler500 = "catalog.problems.server_error"


def test_one_access_record_per_request(api: Client, seeded: None, logs: JsonCapture) -> None:
    response = api.get(
        "/catalog/items",
        {"page_size": "2", "access_token": "s3cret"},
        HTTP_X_REQUEST_ID="req-42",
        HTTP_TRACEPARENT=TRACEPARENT,
    )
    assert response.status_code == 200
    [record] = logs.named("catalog.access")
    assert record["level"] == "INFO"
    assert record["message"] == "GET /catalog/items 200"
    assert record["service"] == "catalog"
    assert record["request_id"] == "req-42"
    assert record["trace_id"] == TRACE_ID
    data = record["data"]
    assert set(data) == {"method", "path", "query", "status", "duration_ms", "bytes_out"}
    assert data["method"] == "GET"
    assert data["path"] == "/catalog/items"
    assert data["status"] == 200
    assert data["bytes_out"] == len(response.content)
    assert isinstance(data["duration_ms"], float) and data["duration_ms"] >= 0
    assert "page_size=2" in data["query"]
    assert "s3cret" not in data["query"]
    assert "access_token=" in data["query"]
    # Nothing stays bound once the request is done.
    assert context.current() == context.LogContext()


def test_generated_request_id_is_logged(api: Client, db: None, logs: JsonCapture) -> None:
    response = api.get("/healthz", HTTP_X_REQUEST_ID="not valid!", HTTP_TRACEPARENT="garbage")
    [record] = logs.named("catalog.access")
    assert record["request_id"] == response["X-Request-ID"] != "not valid!"
    assert record["trace_id"] is None
    assert record["data"]["query"] == ""


def test_client_errors_are_logged_once(api: Client, logs: JsonCapture) -> None:
    response = api.get("/nope?x=1", HTTP_X_REQUEST_ID="req-404")
    assert response.status_code == 404
    [record] = logs.named("catalog.access")
    assert record["message"] == "GET /nope 404"
    assert record["data"]["query"] == "x=1"
    # Django's "Not Found: ..." warning would only repeat the access record.
    assert logs.named("django.request") == []


def test_error_responses_are_logged_with_the_request_id(api: Client, logs: JsonCapture) -> None:
    response = api.get("/catalog/_test/status/503", HTTP_X_REQUEST_ID="req-503")
    assert response.status_code == 503
    [error] = logs.named("django.request")
    assert error["level"] == "ERROR"
    assert error["request_id"] == "req-503"
    [record] = logs.named("catalog.access")
    assert record["data"]["status"] == 503


def test_unhandled_exception_is_logged_with_traceback(settings: Any, logs: JsonCapture) -> None:
    settings.ROOT_URLCONF = __name__
    client = Client(raise_request_exception=False)
    response = client.get("/boom", HTTP_X_REQUEST_ID="req-500", HTTP_TRACEPARENT=TRACEPARENT)
    assert response.status_code == 500
    assert response["Content-Type"] == "application/problem+json"
    assert response["X-Request-ID"] == "req-500"
    [warning] = logs.named("catalog.views")
    assert warning["request_id"] == "req-500"
    [error] = logs.named("django.request")
    assert error["level"] == "ERROR"
    assert error["request_id"] == "req-500"
    assert error["trace_id"] == TRACE_ID
    assert error["exception"]["type"] == "RuntimeError"
    assert "boom" in error["exception"]["stack"]
    [record] = logs.named("catalog.access")
    assert record["message"] == "GET /boom 500"
    assert record["request_id"] == "req-500"


def test_streaming_response_is_logged_at_the_end(api: Client, logs: JsonCapture) -> None:
    response = api.get(
        "/catalog/_test/stream",
        {"chunks": "3", "interval_ms": "0", "size": "4"},
        HTTP_X_REQUEST_ID="req-stream",
    )
    assert logs.named("catalog.access") == []  # body not sent yet
    body = b"".join(response.streaming_content)
    [record] = logs.named("catalog.access")
    assert record["request_id"] == "req-stream"
    assert record["data"]["status"] == 200
    assert record["data"]["bytes_out"] == len(body) > 0


def test_head_request_counts_no_body(api: Client, db: None, logs: JsonCapture) -> None:
    response = api.head("/healthz")
    assert response.content == b""
    [record] = logs.named("catalog.access")
    assert record["message"] == "HEAD /healthz 200"
    assert record["data"]["bytes_out"] == 0


def test_logging_settings() -> None:
    config = settings.LOGGING
    assert config["disable_existing_loggers"] is False
    assert config["root"]["handlers"][0] == "logship_stdout"
    assert config["formatters"]["logship_json"]["service"] == project_settings.LOG_SERVICE
    assert config["loggers"]["django"]["level"] == logging.ERROR


def test_gunicorn_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_SERVICE", "catalog-blue")
    monkeypatch.delenv("LOG_ENVIRONMENT", raising=False)
    monkeypatch.delenv("LOG_CLOUDWATCH_GROUP", raising=False)
    conf = runpy.run_path(str(SERVICE_DIR / "gunicorn.conf.py"))
    assert conf["accesslog"] is None
    assert conf["post_worker_init"] is logship_post_worker_init
    assert conf["worker_exit"] is logship_worker_exit
    formatter = conf["logconfig_dict"]["formatters"]["logship_json"]
    assert formatter["service"] == "catalog-blue"
    assert formatter["environment"] == "development"
    assert conf["logconfig_dict"]["loggers"]["gunicorn.access"]["propagate"] is False


def test_runner_uses_the_gunicorn_config() -> None:
    runner = runpy.run_path(str(SERVICE_DIR / "run.py"))
    argv = runner["gunicorn_argv"](runner["parse_args"]([]))
    assert argv[argv.index("--config") + 1] == str(SERVICE_DIR / "gunicorn.conf.py")
    assert "--access-logfile" not in argv
