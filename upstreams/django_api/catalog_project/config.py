"""The catalog service's configuration: one pydantic-settings model, :class:`CatalogSettings`.

``settings.py`` (Django's settings) and ``gunicorn.conf.py`` both read the environment through
it; each variable is a field whose alias is its name and whose description documents it
(``scripts/settings_doc.py`` prints the table in upstreams/README.md from it). The ``LOG_*``
variables are logship's model, a section of this one. Blank values count as unset. A bad value
stops the process with one line naming the variable (:func:`settings_or_exit`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated

from logship.config import ConfigError, LogSettings, ServiceSettings, read_environment
from pydantic import BeforeValidator, Field

BASE_DIR = Path(__file__).resolve().parent.parent
DEV_SECRET_KEY = "dev-only-catalog-secret-key-do-not-use-in-production"  # noqa: S105


def _comma_list(value: object) -> object:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


class CatalogSettings(ServiceSettings):
    """Everything the catalog service reads from its environment."""

    db_path: str = Field(
        default=str(BASE_DIR / "db.sqlite3"),
        min_length=1,
        validation_alias="CATALOG_DB_PATH",
        description="SQLite database file (its parent directory is created)",
        json_schema_extra={"shown": "upstreams/django_api/db.sqlite3"},
    )
    secret_key: str = Field(
        default=DEV_SECRET_KEY,
        min_length=1,
        repr=False,
        validation_alias="DJANGO_SECRET_KEY",
        description="Django's secret key; the default only suits local development",
        json_schema_extra={"shown_text": "a development-only value"},
    )
    debug: bool = Field(
        default=False,
        validation_alias="DJANGO_DEBUG",
        description="Django's debug mode",
    )
    allowed_hosts: Annotated[tuple[str, ...], BeforeValidator(_comma_list)] = Field(
        default=("127.0.0.1", "localhost"),
        validation_alias="DJANGO_ALLOWED_HOSTS",
        description="comma-separated `Host` names; others get a 400 problem",
        json_schema_extra={"shown": "127.0.0.1,localhost"},
    )
    test_endpoints: bool = Field(
        default=True,
        validation_alias="UPSTREAM_TEST_ENDPOINTS",
        description="the `/catalog/_test/` endpoints the proxy tests use; `0` in production",
    )
    log: LogSettings = LogSettings()

    @property
    def log_service(self) -> str:
        """``service`` of every log record: ``LOG_SERVICE`` or ``catalog``."""
        return self.log.service or "catalog"

    @property
    def log_environment(self) -> str:
        """``environment`` of every log record: ``LOG_ENVIRONMENT`` or ``development``."""
        return self.log.environment or "development"

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        error: Callable[[str], Exception] = ConfigError,
    ) -> CatalogSettings:
        """Every variable from ``environ`` (default ``os.environ``); ``error`` names a bad one
        in one line."""
        return read_environment(cls, os.environ if environ is None else environ, error)


def settings_or_exit() -> CatalogSettings:
    """The settings from ``os.environ``; a bad value prints one line and exits with 2 (for the
    runner and gunicorn's master, before anything else is printed)."""
    try:
        return CatalogSettings.from_env()
    except ConfigError as exc:
        print(f"catalog: configuration error: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
