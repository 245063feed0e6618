"""Service configuration, read from the environment once at start-up.

Environment variables:

``CATALOG_API_URL``
    Base URL of the catalog service (default: ``http://127.0.0.1:8001``).
``UPSTREAM_TEST_ENDPOINTS``
    Set to ``0`` to remove the ``/orders/_test/`` endpoints (default: enabled).
``LOG_SHUTDOWN_TIMEOUT``
    Seconds allowed, at shutdown, to deliver or spool buffered log events (default: 10).
    Logging itself is configured by ``run.py`` (see ``logship`` for the ``LOG_*`` variables).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from logship.config import parse_seconds

DEFAULT_CATALOG_API_URL = "http://127.0.0.1:8001"

_TRUE_VALUES = frozenset({"1", "true", "yes", "on"})
_FALSE_VALUES = frozenset({"0", "false", "no", "off", ""})


def parse_bool(name: str, raw: str | None, default: bool) -> bool:
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE_VALUES:
        return True
    if value in _FALSE_VALUES:
        return False
    raise ValueError(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


@dataclass(frozen=True, slots=True)
class Settings:
    catalog_api_url: str = DEFAULT_CATALOG_API_URL
    test_endpoints: bool = True
    catalog_connect_timeout_s: float = 1.0
    catalog_read_timeout_s: float = 5.0
    # Concurrent catalog look-ups per order.
    catalog_max_concurrency: int = 8
    # The in-memory store forgets the oldest orders beyond this many.
    max_orders: int = 100_000
    # Deadline of the log flush at shutdown (LOG_SHUTDOWN_TIMEOUT, as logship reads it).
    log_shutdown_timeout_s: float = 10.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            catalog_api_url=env.get("CATALOG_API_URL", DEFAULT_CATALOG_API_URL).rstrip("/"),
            test_endpoints=parse_bool(
                "UPSTREAM_TEST_ENDPOINTS", env.get("UPSTREAM_TEST_ENDPOINTS"), True
            ),
            log_shutdown_timeout_s=_log_shutdown_timeout(env.get("LOG_SHUTDOWN_TIMEOUT")),
        )


def _log_shutdown_timeout(raw: str | None) -> float:
    if raw is None or not raw.strip():
        return 10.0
    return parse_seconds("LOG_SHUTDOWN_TIMEOUT", raw, allow_zero=True)
