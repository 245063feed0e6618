"""Django LOGGING, uvicorn log_config, gunicorn logconfig_dict and the request middlewares."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import logging.config
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from logship import context
from logship.asgi import RequestContextMiddleware as AsgiMiddleware
from logship.asgi import uvicorn_log_config
from logship.cloudwatch import CloudWatchHandler, LazyCloudWatchHandler
from logship.django import RequestContextMiddleware as DjangoMiddleware
from logship.django import logging_config
from logship.gunicorn import logconfig_dict
from logship.setup import ConfigError, shutdown

from .conftest import REGION, fetch_messages

NAMES = (
    "django",
    "django.server",
    "django.request",
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "gunicorn.error",
    "gunicorn.access",
    "botocore",
    "boto3",
    "urllib3",
    "s3transfer",
    "app",
)


@pytest.fixture
def isolated_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved_root = (list(root.handlers), root.level)
    saved = {}
    for name in NAMES:
        logger = logging.getLogger(name)
        saved[name] = (list(logger.handlers), logger.level, logger.propagate, logger.disabled)
    try:
        yield
    finally:
        for handler in list(root.handlers):
            if handler not in saved_root[0]:
                root.removeHandler(handler)
                handler.close()
        for handler in saved_root[0]:
            if handler not in root.handlers:
                root.addHandler(handler)
        root.setLevel(saved_root[1])
        for name, (handlers, level, propagate, disabled) in saved.items():
            logger = logging.getLogger(name)
            logger.handlers[:] = handlers
            logger.setLevel(level)
            logger.propagate = propagate
            logger.disabled = disabled


def shipping_env(moto_url: str, group: str, tmp_path: Path) -> dict[str, str]:
    return {
        "LOG_CLOUDWATCH_GROUP": group,
        "LOG_CLOUDWATCH_ENDPOINT": moto_url,
        "LOG_SPOOL_DIR": str(tmp_path / "spool"),
        "LOG_FLUSH_INTERVAL": "200ms",
        "LOG_STATS_INTERVAL": "0",
        "AWS_REGION": REGION,
    }


def lazy_handler() -> LazyCloudWatchHandler:
    (handler,) = [h for h in logging.getLogger().handlers if isinstance(h, LazyCloudWatchHandler)]
    return handler


def sender_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("logship-sender")]


def test_django_logging_config_creates_the_handler_lazily(
    isolated_logging: None, moto_url: str, group: str, logs: Any, tmp_path: Path
) -> None:
    config = logging_config("catalog", "test", env=shipping_env(moto_url, group, tmp_path))
    json.dumps(config)  # plain data: safe in a settings module
    before = len(sender_threads())
    logging.config.dictConfig(config)  # what Django does with settings.LOGGING
    handler = lazy_handler()
    assert handler.inner is None and len(sender_threads()) == before  # nothing until first use
    logging.getLogger("django.request").error("Internal Server Error: /x?token=abc")
    logging.getLogger("app").info("hello from django")
    inner = handler.inner
    assert isinstance(inner, CloudWatchHandler)
    shutdown(10)
    messages = fetch_messages(logs, group)
    assert {m["message"] for m in messages} == {
        "Internal Server Error: /x?token=[REDACTED]",
        "hello from django",
    }
    assert {m["service"] for m in messages} == {"catalog"}


def test_django_logging_config_without_group_is_stdout_only(isolated_logging: None) -> None:
    config = logging_config("catalog", "test", env={}, django_level="WARNING")
    assert set(config["handlers"]) == {"logship_stdout"}
    assert config["loggers"]["django"] == {
        "handlers": [],
        "propagate": True,
        "level": logging.WARNING,
    }
    assert config["disable_existing_loggers"] is False
    with pytest.raises(ConfigError):
        logging_config(env={})


def test_uvicorn_log_config(
    isolated_logging: None,
    moto_url: str,
    group: str,
    logs: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = uvicorn_log_config("orders", "test", env=shipping_env(moto_url, group, tmp_path))
    logging.config.dictConfig(config)
    logging.getLogger("uvicorn.error").info("Started server process")
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/orders?access_token=zzz", "1.1", 200
    )
    shutdown(10)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["logger"] for line in lines] == ["uvicorn.error", "uvicorn.access"]
    messages = fetch_messages(logs, group)
    assert (
        messages[1]["message"]
        == '127.0.0.1:5000 - "GET /orders?access_token=[REDACTED] HTTP/1.1" 200'
    )


def test_uvicorn_log_config_works_with_uvicorn_config() -> None:
    import uvicorn

    async def app(scope: Any, receive: Any, send: Any) -> None:
        return None

    config = uvicorn.Config(app, log_config=uvicorn_log_config("orders", "test", env={}))
    assert config.log_config is not None


def test_gunicorn_logconfig_dict_routes_gunicorn_loggers_to_root(
    isolated_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    config = logconfig_dict(service="bff", environment="test", env={"LOG_LEVEL": "INFO"})
    assert config["loggers"]["gunicorn.error"] == {"handlers": [], "propagate": True}
    assert config["loggers"]["gunicorn.access"]["propagate"] is False
    assert set(config["handlers"]) == {"logship_stdout"}  # CloudWatch only after fork
    logging.config.dictConfig(config)
    logging.getLogger("gunicorn.error").info("Booting worker with pid: %s", 1)
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["logger"] == "gunicorn.error"


def test_django_middleware_binds_and_echoes_request_id() -> None:
    seen: list[context.LogContext] = []

    def view(request: Any) -> dict[str, str]:
        seen.append(context.current())
        return {}

    middleware = DjangoMiddleware(view)
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    class Request:
        META = {"HTTP_X_REQUEST_ID": "req-1", "HTTP_TRACEPARENT": traceparent}

    response = middleware(Request())
    assert seen == [context.LogContext("req-1", "4bf92f3577b34da6a3ce929d0e0e4736")]
    assert response == {"X-Request-ID": "req-1"}
    assert context.current() == context.LogContext()

    class Anonymous:
        META: dict[str, str] = {}

    response = middleware(Anonymous())
    assert len(response["X-Request-ID"]) == 32


def test_asgi_middleware_binds_and_echoes_request_id() -> None:
    seen: list[context.LogContext] = []
    sent: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(context.current())
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "headers": [(b"X-Request-ID", b"abc")]}
    asyncio.run(AsgiMiddleware(app)(scope, receive, send))
    assert seen == [context.LogContext("abc", None)]
    assert (b"x-request-id", b"abc") in sent[0]["headers"]


def test_lazy_handler_reports_construction_errors_once(
    isolated_logging: None, capfd: pytest.CaptureFixture[str]
) -> None:
    handler = LazyCloudWatchHandler(log_group_name="g", retention_days=2)  # invalid retention
    logger = logging.getLogger("app")
    logger.addHandler(handler)
    logger.propagate = False
    logger.error("one")
    logger.error("two")
    assert handler.inner is None
    err = capfd.readouterr().err
    assert err.count("CloudWatch handler not created") == 1
    handler.close()


def test_stdout_json_is_one_line_per_record(isolated_logging: None) -> None:
    out = io.StringIO()
    config = logging_config("svc", "test", env={})
    config["handlers"]["logship_stdout"]["stream"] = out
    logging.config.dictConfig(config)
    logging.getLogger("app").warning("a\nb")
    assert len(out.getvalue().splitlines()) == 1
