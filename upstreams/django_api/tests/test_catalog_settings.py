"""The catalog's settings model, variable by variable, and the real processes failing fast."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from logship.config import ConfigError, env_variables

from catalog_project.config import DEV_SECRET_KEY, CatalogSettings

SERVICE_DIR = Path(__file__).resolve().parent.parent


def test_defaults() -> None:
    settings = CatalogSettings.from_env({})
    assert settings == CatalogSettings()
    assert settings.db_path == str(SERVICE_DIR / "db.sqlite3")
    assert settings.secret_key == DEV_SECRET_KEY
    assert settings.debug is False
    assert settings.allowed_hosts == ("127.0.0.1", "localhost")
    assert settings.test_endpoints is True
    assert (settings.log_service, settings.log_environment) == ("catalog", "development")


def test_values() -> None:
    settings = CatalogSettings.from_env(
        {
            "CATALOG_DB_PATH": "/data/catalog.sqlite3",
            "DJANGO_SECRET_KEY": "k" * 50,
            "DJANGO_DEBUG": "1",
            "DJANGO_ALLOWED_HOSTS": "catalog,catalog.internal",
            "UPSTREAM_TEST_ENDPOINTS": "0",
            "LOG_SERVICE": "catalog-blue",
            "LOG_ENVIRONMENT": "staging",
        }
    )
    assert settings.db_path == "/data/catalog.sqlite3" and settings.secret_key == "k" * 50
    assert settings.debug is True and settings.test_endpoints is False
    assert settings.allowed_hosts == ("catalog", "catalog.internal")
    assert (settings.log_service, settings.log_environment) == ("catalog-blue", "staging")


def test_blank_values_are_unset_and_the_key_is_never_printed() -> None:
    settings = CatalogSettings.from_env({"CATALOG_DB_PATH": "  ", "DJANGO_SECRET_KEY": "s3cr3t"})
    assert settings.db_path == str(SERVICE_DIR / "db.sqlite3")
    assert "s3cr3t" not in repr(settings)


@pytest.mark.parametrize(
    ("name", "raw", "line"),
    [
        ("DJANGO_DEBUG", "maybe", "DJANGO_DEBUG must be true or false, got 'maybe'"),
        ("UPSTREAM_TEST_ENDPOINTS", "2", "UPSTREAM_TEST_ENDPOINTS must be true or false, got '2'"),
        ("LOG_LEVEL", "loud", "LOG_LEVEL: expected one of DEBUG, INFO, WARNING, ERROR, "),
    ],
)
def test_bad_values_give_one_line(name: str, raw: str, line: str) -> None:
    with pytest.raises(ConfigError) as info:
        CatalogSettings.from_env({name: raw})
    assert str(info.value).startswith(line) and "\n" not in str(info.value)


def test_every_variable_is_described() -> None:
    names = [name for name, _ in env_variables(CatalogSettings)]
    assert names[:5] == [
        "CATALOG_DB_PATH",
        "DJANGO_SECRET_KEY",
        "DJANGO_DEBUG",
        "DJANGO_ALLOWED_HOSTS",
        "UPSTREAM_TEST_ENDPOINTS",
    ]
    assert "LOG_SERVICE" in names
    assert all(field.description for _, field in env_variables(CatalogSettings))


def _run(argv: list[str], name: str, raw: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", name: raw}
    return subprocess.run(  # noqa: S603 - fixed argv
        argv, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_gunicorn_stops_with_one_line() -> None:
    """The gunicorn master with this service's configuration file: exit 2, one line."""
    result = _run(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "catalog_project.wsgi:application",
            "--config",
            str(SERVICE_DIR / "gunicorn.conf.py"),
            "--chdir",
            str(SERVICE_DIR),
            "--bind",
            "127.0.0.1:0",
            "--no-control-socket",
        ],
        "DJANGO_DEBUG",
        "perhaps",
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "catalog: configuration error: DJANGO_DEBUG must be true or false, got 'perhaps'"
    ]
    assert result.stdout == ""


def test_runner_stops_with_one_line(tmp_path: Path) -> None:
    """``run.py`` as ``make dev`` and the image start it: nothing migrated, one line, exit 2."""
    database = tmp_path / "catalog.sqlite3"
    result = subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, str(SERVICE_DIR / "run.py"), "--port", "9"],
        env={
            **os.environ,
            "CATALOG_DB_PATH": str(database),
            "LOG_BUFFER_MAX_EVENTS": "0",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "catalog: configuration error: LOG_BUFFER_MAX_EVENTS: must be within 1..10000000, got '0'"
    ]
    assert result.stdout == "" and not database.exists()
