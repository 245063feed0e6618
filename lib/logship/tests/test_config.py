"""LOG_* parsing: pure, clear failures."""

from __future__ import annotations

import logging

import pytest
from logship.config import (
    DEFAULT_SPOOL_DIR,
    ConfigError,
    LogSettings,
    parse_bytes,
    parse_env,
    parse_seconds,
)


def test_defaults() -> None:
    settings = parse_env({})
    assert settings == LogSettings()
    assert settings.cloudwatch_group is None
    assert settings.shutdown_timeout == 10.0
    assert settings.spool_dir == DEFAULT_SPOOL_DIR


def test_everything() -> None:
    env = {
        "LOG_LEVEL": "debug",
        "LOG_SERVICE": "bff",
        "LOG_ENVIRONMENT": "prod",
        "LOG_CLOUDWATCH_GROUP": "/app/bff",
        "LOG_CLOUDWATCH_STREAM": "{service}/{environment}/{hostname}-{pid}",
        "LOG_CLOUDWATCH_ENDPOINT": "http://127.0.0.1:4566",
        "LOG_CLOUDWATCH_CREATE_GROUP": "yes",
        "LOG_CLOUDWATCH_RETENTION_DAYS": "30",
        "LOG_SPOOL_DIR": "/var/spool/logs",
        "LOG_SPOOL_MAX_BYTES": "64M",
        "LOG_BUFFER_MAX_BYTES": "4MiB",
        "LOG_BUFFER_MAX_EVENTS": "5000",
        "LOG_FLUSH_INTERVAL": "500ms",
        "LOG_SHUTDOWN_TIMEOUT": "8",
        "LOG_STATS_INTERVAL": "0",
        "LOG_MAX_MESSAGE_BYTES": "128K",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }
    settings = parse_env(env)
    assert settings == LogSettings(
        level=logging.DEBUG,
        service="bff",
        environment="prod",
        cloudwatch_group="/app/bff",
        stream_template="{service}/{environment}/{hostname}-{pid}",
        endpoint_url="http://127.0.0.1:4566",
        create_group=True,
        retention_days=30,
        spool_dir="/var/spool/logs",
        spool_max_bytes=64 * 1024**2,
        buffer_max_bytes=4 * 1024**2,
        buffer_max_events=5000,
        flush_interval=0.5,
        shutdown_timeout=8.0,
        stats_interval=0.0,
        max_message_bytes=128 * 1024,
        region="eu-west-1",
    )
    assert settings.handler_kwargs("bff", "prod")["log_group_name"] == "/app/bff"


def test_aws_region_wins_over_default_region() -> None:
    assert (
        parse_env({"AWS_REGION": "us-west-2", "AWS_DEFAULT_REGION": "eu-west-1"}).region
        == "us-west-2"
    )


def test_empty_values_are_unset_and_spool_can_be_disabled() -> None:
    assert parse_env({"LOG_CLOUDWATCH_GROUP": "", "LOG_LEVEL": "  "}) == LogSettings()
    assert parse_env({"LOG_SPOOL_DIR": "off"}).spool_dir is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LOG_LEVEL", "verbose"),
        ("LOG_LEVEL", "1000"),
        ("LOG_CLOUDWATCH_GROUP", "bad group name"),
        ("LOG_CLOUDWATCH_STREAM", "{service}/{nope}"),
        ("LOG_CLOUDWATCH_STREAM", "{logger_name}"),
        ("LOG_CLOUDWATCH_ENDPOINT", "localhost:4566"),
        ("LOG_CLOUDWATCH_CREATE_GROUP", "maybe"),
        ("LOG_CLOUDWATCH_RETENTION_DAYS", "10"),
        ("LOG_CLOUDWATCH_RETENTION_DAYS", "-1"),
        ("LOG_SPOOL_MAX_BYTES", "lots"),
        ("LOG_SPOOL_MAX_BYTES", "1K"),
        ("LOG_BUFFER_MAX_BYTES", "-5"),
        ("LOG_BUFFER_MAX_EVENTS", "0"),
        ("LOG_BUFFER_MAX_EVENTS", "1.5"),
        ("LOG_FLUSH_INTERVAL", "0"),
        ("LOG_FLUSH_INTERVAL", "soon"),
        ("LOG_SHUTDOWN_TIMEOUT", "-1"),
        ("LOG_STATS_INTERVAL", "2d"),
        ("LOG_MAX_MESSAGE_BYTES", "2M"),
        ("LOG_MAX_MESSAGE_BYTES", "10"),
        ("AWS_REGION", "Not A Region"),
        ("LOG_STDOUT", "sometimes"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        parse_env({name: value})


@pytest.mark.parametrize(
    ("raw", "mode"), [("always", "always"), ("Unshipped", "unshipped"), ("", "always")]
)
def test_stdout_mode(raw: str, mode: str) -> None:
    assert parse_env({"LOG_STDOUT": raw}).stdout == mode


def test_buffer_must_hold_one_message() -> None:
    with pytest.raises(ConfigError, match="LOG_BUFFER_MAX_BYTES"):
        parse_env({"LOG_BUFFER_MAX_BYTES": "4K", "LOG_MAX_MESSAGE_BYTES": "8K"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1024", 1024),
        ("1k", 1024),
        ("2KiB", 2048),
        ("3 MB", 3 * 1024**2),
        ("1g", 1024**3),
        ("5b", 5),
    ],
)
def test_sizes(text: str, expected: int) -> None:
    assert parse_bytes("X", text) == expected


@pytest.mark.parametrize(
    ("text", "expected"), [("5", 5.0), ("2.5", 2.5), ("250ms", 0.25), ("2m", 120.0), ("1h", 3600.0)]
)
def test_durations(text: str, expected: float) -> None:
    assert parse_seconds("X", text) == expected
