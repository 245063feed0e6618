"""The orders service's settings model, variable by variable, and the real runner failing fast."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from logship.config import ConfigError, env_variables

from orders_service.config import DEFAULT_CATALOG_API_URL, Settings

SERVICE_DIR = Path(__file__).resolve().parent.parent


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.catalog_api_url == DEFAULT_CATALOG_API_URL
    assert settings.test_endpoints is True
    assert settings.log_shutdown_timeout_s == 10.0


@pytest.mark.parametrize(
    ("raw", "url"),
    [
        ("http://127.0.0.1:9001/", "http://127.0.0.1:9001"),
        (" https://catalog.internal/base// ", "https://catalog.internal/base"),
        ("", DEFAULT_CATALOG_API_URL),
    ],
)
def test_catalog_api_url(raw: str, url: str) -> None:
    assert Settings.from_env({"CATALOG_API_URL": raw}).catalog_api_url == url


@pytest.mark.parametrize(
    "raw", ["catalog:8001", "ftp://catalog", "http://", "http://h:99999", "http://h/?q=1"]
)
def test_bad_catalog_api_url(raw: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"CATALOG_API_URL": raw})
    assert str(info.value).startswith("CATALOG_API_URL ")


@pytest.mark.parametrize(
    ("raw", "expected"), [("0", False), ("off", False), ("no", False), ("yes", True), ("", True)]
)
def test_test_endpoints(raw: str, expected: bool) -> None:
    assert Settings.from_env({"UPSTREAM_TEST_ENDPOINTS": raw}).test_endpoints is expected


def test_log_variables_are_a_section_of_the_same_model() -> None:
    settings = Settings.from_env({"LOG_SHUTDOWN_TIMEOUT": "2s", "LOG_LEVEL": "debug"})
    assert settings.log_shutdown_timeout_s == 2.0 and settings.log.level == 10
    with pytest.raises(ConfigError, match="^LOG_STATS_INTERVAL: "):
        Settings.from_env({"LOG_STATS_INTERVAL": "2d"})


def test_every_variable_is_described() -> None:
    names = [name for name, _ in env_variables(Settings)]
    assert names[:2] == ["CATALOG_API_URL", "UPSTREAM_TEST_ENDPOINTS"]
    assert "LOG_SHUTDOWN_TIMEOUT" in names
    assert all(field.description for _, field in env_variables(Settings))


def test_built_in_code_it_reads_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UPSTREAM_TEST_ENDPOINTS", "0")
    assert Settings().test_endpoints is True
    assert Settings.from_env().test_endpoints is False


@pytest.mark.parametrize(
    ("name", "raw", "line"),
    [
        (
            "UPSTREAM_TEST_ENDPOINTS",
            "maybe",
            "orders: configuration error: UPSTREAM_TEST_ENDPOINTS must be true or false, "
            "got 'maybe'",
        ),
        (
            "CATALOG_API_URL",
            "catalog:8001",
            "orders: configuration error: CATALOG_API_URL must be an http(s) URL with a host, "
            "got 'catalog:8001'",
        ),
        (
            "LOG_FLUSH_INTERVAL",
            "0",
            "orders: configuration error: LOG_FLUSH_INTERVAL: must be > 0, got '0'",
        ),
    ],
)
def test_runner_stops_with_one_line(name: str, raw: str, line: str) -> None:
    """``run.py`` as ``make dev`` and the image start it: exit 2, one line on stderr."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", name: raw}
    result = subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, str(SERVICE_DIR / "run.py"), "--port", "9"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [line]
    assert result.stdout == ""
