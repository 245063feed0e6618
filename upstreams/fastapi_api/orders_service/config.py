"""Service configuration: one pydantic-settings model, read from the environment once at start-up.

Each variable is a field whose alias is its name and whose description documents it
(``scripts/settings_doc.py`` prints the table in upstreams/README.md from it); the ``LOG_*``
variables are logship's model, a section of this one. Blank values count as unset. A bad value
raises :class:`~logship.config.ConfigError` with one line naming the variable; ``run.py`` checks
the model before uvicorn starts, so the process stops with that line and exit code 2.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated
from urllib.parse import urlsplit

from logship.config import LogSettings, ServiceSettings, read_environment
from pydantic import AfterValidator, Field

DEFAULT_CATALOG_API_URL = "http://127.0.0.1:8001"


def _base_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
        raise ValueError(f"CATALOG_API_URL must be an http(s) URL with a host, got {value!r}")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ValueError(f"CATALOG_API_URL has an invalid port, got {value!r}") from None
    return value.rstrip("/")


class Settings(ServiceSettings):
    """Everything the orders service reads; build it from the environment with
    :meth:`from_env` (built with keyword arguments it reads no environment)."""

    catalog_api_url: Annotated[str, AfterValidator(_base_url)] = Field(
        default=DEFAULT_CATALOG_API_URL,
        validation_alias="CATALOG_API_URL",
        description="base URL of the catalog service (`http(s)://host[:port][/base]`)",
    )
    test_endpoints: bool = Field(
        default=True,
        validation_alias="UPSTREAM_TEST_ENDPOINTS",
        description="the `/orders/_test/` endpoints the proxy tests use; `0` in production",
    )
    catalog_connect_timeout_s: float = 1.0
    catalog_read_timeout_s: float = 5.0
    # Concurrent catalog look-ups per order.
    catalog_max_concurrency: int = 8
    # The in-memory store forgets the oldest orders beyond this many.
    max_orders: int = 100_000
    # LOG_* (logship's model): the shutdown flush deadline is LOG_SHUTDOWN_TIMEOUT.
    log: LogSettings = LogSettings()

    @property
    def log_shutdown_timeout_s(self) -> float:
        """Deadline of the log flush at shutdown (``LOG_SHUTDOWN_TIMEOUT``)."""
        return self.log.shutdown_timeout

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Every variable from ``environ`` (default ``os.environ``); ``ConfigError`` names a
        bad one in one line."""
        return read_environment(cls, os.environ if environ is None else environ)
